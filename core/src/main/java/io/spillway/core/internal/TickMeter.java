package io.spillway.core.internal;

import com.codahale.metrics.Clock;
import com.codahale.metrics.EWMA;
import com.codahale.metrics.Meter;
import com.codahale.metrics.MetricRegistry;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * A Dropwizard {@link Meter} (the same count, mean rate and 1/5/15-minute moving averages, read the same way by
 * reporters) for the enqueue path, where {@link #mark(long, long)} takes the caller's own {@link System#nanoTime()}
 * reading instead of reading the clock again, and adds to two counters instead of four.
 *
 * <p>Why: a spooled enqueue took 0.7 µs at p50, and Dropwizard's three meter marks and timer update were about
 * 0.23 µs of it (a clock read and four atomic adds per mark). On a VM that stops a running thread about a thousand
 * times a second, the share of calls such a stop lands in grows with the call's length, and so the spool's p99.9
 * (docs/benchmarks.md, session 7).
 *
 * <p>Like Dropwizard's meter, the moving averages are brought up to date every 5 seconds, by whichever mark or
 * read comes first after that; what was marked since the last update counts towards the first interval.
 */
public final class TickMeter extends Meter {
    private static final long TICK_INTERVAL = TimeUnit.SECONDS.toNanos(5);

    private final Clock clock;
    private final long startTime;
    private final AtomicLong lastTick;
    private final LongAdder count = new LongAdder();
    private final LongAdder uncounted = new LongAdder();
    private final EWMA m1 = EWMA.oneMinuteEWMA();
    private final EWMA m5 = EWMA.fiveMinuteEWMA();
    private final EWMA m15 = EWMA.fifteenMinuteEWMA();

    public TickMeter() {
        this(Clock.defaultClock());
    }

    /** @param clock the clock of {@link #mark()} and of the reads; {@link #mark(long, long)} callers use its ticks */
    public TickMeter(Clock clock) {
        super(clock);
        this.clock = clock;
        this.startTime = clock.getTick();
        this.lastTick = new AtomicLong(startTime);
    }

    /**
     * The meter registered under {@code name}, made a {@code TickMeter} if there was none; a plain meter someone
     * else registered under that name first is returned as it is (then {@link #mark(Meter, long, long)} falls back
     * to its own {@code mark}).
     */
    public static Meter in(MetricRegistry registry, String name) {
        return registry.meter(name, TickMeter::new);
    }

    /** Marks {@code n} events on {@code meter} at {@code nowNanos} (a {@link System#nanoTime()} reading). */
    public static void mark(Meter meter, long n, long nowNanos) {
        if (meter instanceof TickMeter t) {
            t.mark(n, nowNanos);
        } else {
            meter.mark(n);
        }
    }

    /** Marks {@code n} events at {@code nowTick}, a reading of this meter's clock the caller made. */
    public void mark(long n, long nowTick) {
        tickIfNecessary(nowTick);
        count.add(n);
        uncounted.add(n);
    }

    @Override
    public void mark() {
        mark(1, clock.getTick());
    }

    @Override
    public void mark(long n) {
        mark(n, clock.getTick());
    }

    private void tickIfNecessary(long now) {
        long old = lastTick.get();
        long age = now - old;
        if (age > TICK_INTERVAL) {
            long newTick = now - age % TICK_INTERVAL;
            if (lastTick.compareAndSet(old, newTick)) {
                long marked = uncounted.sumThenReset();
                m1.update(marked);
                m5.update(marked);
                m15.update(marked);
                for (long i = age / TICK_INTERVAL; i > 0; i--) {
                    m1.tick();
                    m5.tick();
                    m15.tick();
                }
            }
        }
    }

    @Override
    public long getCount() {
        return count.sum();
    }

    @Override
    public double getMeanRate() {
        long n = getCount();
        if (n == 0) {
            return 0.0;
        }
        double elapsed = clock.getTick() - startTime;
        return n / elapsed * TimeUnit.SECONDS.toNanos(1);
    }

    @Override
    public double getOneMinuteRate() {
        tickIfNecessary(clock.getTick());
        return m1.getRate(TimeUnit.SECONDS);
    }

    @Override
    public double getFiveMinuteRate() {
        tickIfNecessary(clock.getTick());
        return m5.getRate(TimeUnit.SECONDS);
    }

    @Override
    public double getFifteenMinuteRate() {
        tickIfNecessary(clock.getTick());
        return m15.getRate(TimeUnit.SECONDS);
    }
}
