package io.spillway.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.codahale.metrics.Clock;
import com.codahale.metrics.Meter;
import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.Snapshot;
import com.codahale.metrics.Timer;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** {@link TickMeter} and {@link TickTimer} read like Dropwizard's own meter and timer. */
class TickMetricsTest {
    /** A clock the test moves. */
    static final class ManualClock extends Clock {
        long tick = 1_000_000_000L;

        @Override
        public long getTick() {
            return tick;
        }

        void advance(long nanos) {
            tick += nanos;
        }
    }

    @Test
    void meterMatchesDropwizardsForTheSameMarksAtTheSameTimes() {
        ManualClock clock = new ManualClock();
        Meter reference = new Meter(clock);
        TickMeter meter = new TickMeter(clock);
        // 2 minutes of uneven load, in 100 ms steps, some marks with the caller's tick and some without
        for (int step = 0; step < 1200; step++) {
            int n = step % 7 == 0 ? 0 : step % 13;
            for (int i = 0; i < n; i++) {
                reference.mark();
                if (i % 2 == 0) {
                    meter.mark(1, clock.getTick());
                } else {
                    meter.mark();
                }
            }
            reference.mark(3);
            meter.mark(3);
            clock.advance(TimeUnit.MILLISECONDS.toNanos(100));
        }
        assertThat(meter.getCount()).isEqualTo(reference.getCount());
        assertThat(meter.getOneMinuteRate()).isCloseTo(reference.getOneMinuteRate(), within(1e-9));
        assertThat(meter.getFiveMinuteRate()).isCloseTo(reference.getFiveMinuteRate(), within(1e-9));
        assertThat(meter.getFifteenMinuteRate()).isCloseTo(reference.getFifteenMinuteRate(), within(1e-9));
        assertThat(meter.getMeanRate()).isCloseTo(reference.getMeanRate(), within(1e-9));
        // Idle for 10 minutes: both decay the same way, ticked by the reads
        clock.advance(TimeUnit.MINUTES.toNanos(10));
        assertThat(meter.getOneMinuteRate()).isCloseTo(reference.getOneMinuteRate(), within(1e-9));
        assertThat(meter.getFifteenMinuteRate()).isCloseTo(reference.getFifteenMinuteRate(), within(1e-9));
        assertThat(meter.getFifteenMinuteRate()).isGreaterThan(0.0);
    }

    @Test
    void aStaleCallerTickNeitherTicksNorLosesMarks() {
        ManualClock clock = new ManualClock();
        TickMeter meter = new TickMeter(clock);
        long before = clock.getTick();
        clock.advance(TimeUnit.SECONDS.toNanos(6));
        meter.mark(5, clock.getTick());
        meter.mark(2, before); // read before another thread's mark ticked
        assertThat(meter.getCount()).isEqualTo(7);
        clock.advance(TimeUnit.SECONDS.toNanos(5));
        assertThat(meter.getOneMinuteRate()).isGreaterThan(0.0);
    }

    @Test
    void registryHelpersReuseWhatIsRegisteredAndFallBackOnPlainMetrics() {
        MetricRegistry registry = new MetricRegistry();
        Meter first = TickMeter.in(registry, "a");
        assertThat(first).isInstanceOf(TickMeter.class);
        assertThat(TickMeter.in(registry, "a")).isSameAs(first);
        Meter plain = registry.meter("b");
        assertThat(TickMeter.in(registry, "b")).isSameAs(plain);
        TickMeter.mark(plain, 4, System.nanoTime());
        assertThat(plain.getCount()).isEqualTo(4);

        Timer timer = TickTimer.in(registry, "t");
        assertThat(timer).isInstanceOf(TickTimer.class);
        assertThat(TickTimer.in(registry, "t")).isSameAs(timer);
        Timer plainTimer = registry.timer("u");
        TickTimer.update(plainTimer, 1_000, System.nanoTime());
        assertThat(plainTimer.getCount()).isEqualTo(1);
    }

    @Test
    void timerCountsAndSamplesEveryWayOfTiming() throws Exception {
        TickTimer timer = new TickTimer();
        for (int i = 1; i <= 1000; i++) {
            timer.update(i * 1_000L, System.nanoTime());
        }
        timer.update(500, TimeUnit.MICROSECONDS);
        timer.update(Duration.ofMillis(2));
        timer.time(() -> { });
        assertThat(timer.time(() -> 42)).isEqualTo(42);
        assertThat(timer.timeSupplier(() -> "x")).isEqualTo("x");
        try (Timer.Context ignored = timer.time()) {
            Thread.onSpinWait();
        }
        timer.update(-1, System.nanoTime()); // ignored, as Dropwizard ignores negative durations
        assertThat(timer.getCount()).isEqualTo(1006);
        assertThat(timer.getMeanRate()).isGreaterThan(0.0);
        Snapshot s = timer.getSnapshot();
        assertThat(s.size()).isEqualTo(1006);
        // The timed lambdas and the Context take real time (2.6 ms once on a loaded CI machine, as the
        // first call loads classes), so the max is at least the 2 ms update, not exactly it.
        assertThat(s.getValues()).contains(2_000_000L, 500_000L, 1_000L, 1_000_000L);
        assertThat(s.getMax()).isGreaterThanOrEqualTo(2_000_000L);
        assertThat(s.getMedian()).isBetween(400_000.0, 600_000.0);
    }
}
