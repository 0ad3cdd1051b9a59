package io.spillway.core.internal;

import java.time.Instant;

/**
 * Epoch milliseconds derived from a {@link System#nanoTime()} reading the caller already has, so that a spooled
 * enqueue reads the clock twice (start and end, for its latency timer) instead of four times: on this project's
 * test VMs a clock read costs 30–50 ns, a sixth of a spooled enqueue each, and the spool's p99.9 grows with the
 * length of the call (docs/benchmarks.md, "the spool tail is this machine's").
 *
 * <p>The wall clock is read (with {@link Instant#now()}'s sub-millisecond precision) at most every
 * {@value #RECALIBRATE_MILLIS} ms, and in between the monotonic clock's elapsed time is added to it. The result
 * differs from {@link System#currentTimeMillis()} by the two clocks' drift over that interval (NTP slews at most
 * 0.5 ms a second, so 0.05 ms) plus a millisecond of rounding; a step of the wall clock (NTP, an operator) shows
 * within {@value #RECALIBRATE_MILLIS} ms. Thread-safe, lock-free.
 */
public final class WallClock {
    /** How old the base reading may be before the wall clock is read again. */
    public static final long RECALIBRATE_MILLIS = 100;
    private static final long RECALIBRATE_NANOS = RECALIBRATE_MILLIS * 1_000_000L;

    /** A wall-clock reading and the monotonic reading taken just after it. */
    private static final class Base {
        final long nanoTime;
        final long epochNanos;

        Base(long nanoTime, long epochNanos) {
            this.nanoTime = nanoTime;
            this.epochNanos = epochNanos;
        }
    }

    private static volatile Base base = read();

    private WallClock() {
    }

    /** The wall-clock time, in epoch milliseconds, of the moment {@code System.nanoTime()} returned {@code nanoTick}. */
    public static long millis(long nanoTick) {
        Base b = base;
        long elapsed = nanoTick - b.nanoTime;
        if (elapsed > RECALIBRATE_NANOS || elapsed < -RECALIBRATE_NANOS) {
            b = read();
            base = b;
            elapsed = nanoTick - b.nanoTime; // large only for a reading taken long ago: still the best estimate
        }
        return Math.floorDiv(b.epochNanos + elapsed, 1_000_000L);
    }

    /** {@link #millis(long)} of now: one clock read instead of {@link System#currentTimeMillis()}'s. */
    public static long millis() {
        return millis(System.nanoTime());
    }

    private static Base read() {
        Instant now = Instant.now();
        long nanos = System.nanoTime();
        return new Base(nanos, now.getEpochSecond() * 1_000_000_000L + now.getNano());
    }
}
