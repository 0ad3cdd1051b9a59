package io.spillway.core.internal;

import java.time.Instant;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * Epoch milliseconds derived from a {@link System#nanoTime()} reading the caller already has, so that a spooled
 * enqueue reads the clock twice (start and end, for its latency timer) instead of four times: on this project's
 * test VMs a clock read costs 30–50 ns, a sixth of a spooled enqueue each, and the spool's p99.9 grows with the
 * length of the call (docs/benchmarks.md, "the spool tail is this machine's").
 *
 * <p>The wall clock is read (with {@link Instant#now()}'s sub-millisecond precision) at most every
 * {@value #RECALIBRATE_MILLIS} ms, and in between the monotonic clock's elapsed time is added to it. The result
 * differs from {@link System#currentTimeMillis()} by the two clocks' drift over that interval (NTP slews at most
 * 0.5 ms a second, chrony up to 83 ms a second while it corrects a large offset) plus a millisecond of rounding; a
 * step of the wall clock (NTP, an operator) shows within {@value #RECALIBRATE_MILLIS} ms.
 *
 * <p><b>Never going back</b> (within {@value #HOLD_BACK_MILLIS} ms): a time it returns is never earlier than one it
 * returned before, so that the jobs one thread enqueues one after another carry times in that order, which is how a
 * successor producer orders its predecessor's writes (docs/guarantees.md, "Ordered"). Each recalibration could
 * otherwise step back: by the drift above, or by however long the thread was preempted between its two clock reads
 * (2 ms seen on this project's 2-core test VM under load, enough for a successor to put two writes the wrong way round).
 * After a step back of the wall clock of up to {@value #HOLD_BACK_MILLIS} ms the time stays at the last one returned
 * until the wall clock catches up, as {@link io.spillway.core.JobId#mint(long) minted ids} do over the same span; a
 * larger step back is followed. Thread-safe, lock-free.
 */
public final class WallClock {
    /** How old the base reading may be before the wall clock is read again. */
    public static final long RECALIBRATE_MILLIS = 100;
    /** The largest step back that is held rather than followed (the span over which minted ids stay in order). */
    public static final long HOLD_BACK_MILLIS = 10_000;
    private static final long RECALIBRATE_NANOS = RECALIBRATE_MILLIS * 1_000_000L;
    /** Two clock reads further apart than this were cut by a preemption: read again (at most {@link #TRIES} times). */
    private static final long BRACKET_NANOS = 20_000;
    private static final int TRIES = 3;

    private static final WallClock SYSTEM = new WallClock(System::nanoTime, () -> {
        Instant now = Instant.now();
        return now.getEpochSecond() * 1_000_000_000L + now.getNano();
    });

    /** A wall-clock reading and the monotonic reading of the same moment. */
    private static final class Base {
        final long nanoTime;
        final long epochNanos;

        Base(long nanoTime, long epochNanos) {
            this.nanoTime = nanoTime;
            this.epochNanos = epochNanos;
        }
    }

    private final LongSupplier nanoTime;
    private final LongSupplier epochNanos;
    private volatile Base base;
    /** The latest time returned. */
    private final AtomicLong latest = new AtomicLong(Long.MIN_VALUE);

    /** A clock over the given sources (tests); the process has one over the system's, behind the static methods. */
    WallClock(LongSupplier nanoTime, LongSupplier epochNanos) {
        this.nanoTime = nanoTime;
        this.epochNanos = epochNanos;
        this.base = read();
    }

    /**
     * The wall-clock time, in epoch milliseconds, of the moment {@code System.nanoTime()} returned {@code nanoTick}, or
     * the latest time returned before if that is later by up to {@value #HOLD_BACK_MILLIS} ms (an earlier tick, a
     * recalibration that stepped back).
     */
    public static long millis(long nanoTick) {
        return SYSTEM.at(nanoTick);
    }

    /** {@link #millis(long)} of now: one clock read instead of {@link System#currentTimeMillis()}'s. */
    public static long millis() {
        return SYSTEM.at(System.nanoTime());
    }

    /** {@link #millis(long)} on this clock's sources. */
    long at(long nanoTick) {
        Base b = base;
        long elapsed = nanoTick - b.nanoTime;
        if (elapsed > RECALIBRATE_NANOS || elapsed < -RECALIBRATE_NANOS) {
            b = read();
            base = b;
            elapsed = nanoTick - b.nanoTime; // large only for a reading taken long ago: still the best estimate
        }
        long m = Math.floorDiv(b.epochNanos + elapsed, 1_000_000L);
        for (;;) {
            long last = latest.get();
            if (m <= last && last - m <= HOLD_BACK_MILLIS) {
                return last; // the same millisecond, or a step back held
            }
            if (latest.compareAndSet(last, m)) {
                return m; // later, or a step back too large to hold (followed)
            }
        }
    }

    /**
     * A wall-clock reading with the monotonic time of its middle: the two monotonic reads around it closest together
     * of up to {@link #TRIES}, so that a thread preempted between them does not shift the base by the time it waited.
     */
    private Base read() {
        Base best = null;
        long bestGap = Long.MAX_VALUE;
        for (int i = 0; i < TRIES && bestGap > BRACKET_NANOS; i++) {
            long before = nanoTime.getAsLong();
            long epoch = epochNanos.getAsLong();
            long gap = nanoTime.getAsLong() - before;
            if (gap < bestGap) {
                bestGap = gap;
                best = new Base(before + gap / 2, epoch);
            }
        }
        return best;
    }
}
