package io.spillway.core.internal;

import com.codahale.metrics.Clock;
import com.codahale.metrics.Histogram;
import com.codahale.metrics.LockFreeExponentiallyDecayingReservoir;
import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.Timer;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * A Dropwizard {@link Timer} for the enqueue path: {@link #update(long, long)} takes the caller's end-of-call
 * {@link System#nanoTime()} reading, which its {@link TickMeter} and the reservoir's clock use instead of reading
 * the clock twice more. The reservoir is Dropwizard's forward-decaying sample without a lock
 * ({@link LockFreeExponentiallyDecayingReservoir}, the same sample as the default reservoir); every way of timing a
 * call goes through {@link #update(long, long)}.
 */
public final class TickTimer extends Timer {
    private final TickMeter meter;
    private final Histogram histogram;
    private final LastTick reservoirClock;

    public TickTimer() {
        this(new TickMeter(), new LastTick());
    }

    private TickTimer(TickMeter meter, LastTick reservoirClock) {
        this(meter, reservoirClock, new Histogram(LockFreeExponentiallyDecayingReservoir.builder().clock(reservoirClock).build()));
    }

    private TickTimer(TickMeter meter, LastTick reservoirClock, Histogram histogram) {
        super(meter, histogram, Clock.defaultClock());
        this.meter = meter;
        this.histogram = histogram;
        this.reservoirClock = reservoirClock;
    }

    /** The timer registered under {@code name}, made a {@code TickTimer} if there was none. */
    public static Timer in(MetricRegistry registry, String name) {
        return registry.timer(name, TickTimer::new);
    }

    /** Records a call of {@code nanos} that ended at {@code nowNanos} (a {@link System#nanoTime()} reading). */
    public static void update(Timer timer, long nanos, long nowNanos) {
        if (timer instanceof TickTimer t) {
            t.update(nanos, nowNanos);
        } else {
            timer.update(nanos, TimeUnit.NANOSECONDS);
        }
    }

    /** Records a call of {@code nanos} that ended at {@code nowNanos}, a {@link System#nanoTime()} reading. */
    public void update(long nanos, long nowNanos) {
        if (nanos < 0) {
            return;
        }
        reservoirClock.set(nowNanos);
        histogram.update(nanos);
        meter.mark(1, nowNanos);
    }

    @Override
    public void update(long duration, TimeUnit unit) {
        update(unit.toNanos(duration), System.nanoTime());
    }

    @Override
    public void update(Duration duration) {
        update(duration.toNanos(), System.nanoTime());
    }

    @Override
    public <T> T time(Callable<T> event) throws Exception {
        long start = System.nanoTime();
        try {
            return event.call();
        } finally {
            long end = System.nanoTime();
            update(end - start, end);
        }
    }

    @Override
    public <T> T timeSupplier(Supplier<T> event) {
        long start = System.nanoTime();
        try {
            return event.get();
        } finally {
            long end = System.nanoTime();
            update(end - start, end);
        }
    }

    @Override
    public void time(Runnable event) {
        long start = System.nanoTime();
        try {
            event.run();
        } finally {
            long end = System.nanoTime();
            update(end - start, end);
        }
    }

    /**
     * The reservoir's clock: the tick of the last update, which that update's caller read. Between updates
     * (when nothing is timed) it stands still; the reservoir only uses it to weigh new samples and to rescale
     * them once an hour, so a snapshot read then holds the same samples either way.
     */
    private static final class LastTick extends Clock {
        private final AtomicLong tick = new AtomicLong(System.nanoTime());

        void set(long nanos) {
            tick.setOpaque(nanos);
        }

        @Override
        public long getTick() {
            return tick.getOpaque();
        }
    }
}
