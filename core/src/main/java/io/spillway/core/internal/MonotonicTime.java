package io.spillway.core.internal;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import net.openhft.chronicle.core.time.TimeProvider;

/**
 * The journal's clock: the wall clock, never going back. Chronicle Queue picks the cycle file of an append from its
 * clock; a wall clock that went back past an hour already written (an NTP step, a VM restored from a snapshot, a
 * {@code date} command) made it try to write into that earlier, closed file, and every spool failed
 * ({@code WriteAfterEOFException}) until the clock caught up, hours later maybe. This clock stays at the latest time
 * it gave (and at open, at the start of the newest cycle on disk, so a restarted producer does the same) until the
 * wall clock passes it again: the journal keeps appending to its newest cycle file. A jump forward is taken as it
 * comes (a new cycle file).
 */
final class MonotonicTime implements TimeProvider {
    private static final VarHandle FLOOR;

    static {
        try {
            FLOOR = MethodHandles.lookup().findVarHandle(MonotonicTime.class, "floor", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final TimeProvider wall;
    @SuppressWarnings("unused") // through FLOOR
    private volatile long floor = Long.MIN_VALUE;

    MonotonicTime(TimeProvider wall) {
        this.wall = wall;
    }

    /** Never earlier than {@code millis} from now on. */
    void raiseTo(long millis) {
        long f;
        while (millis > (f = floor) && !FLOOR.compareAndSet(this, f, millis)) {
            // another thread moved it: check again
        }
    }

    /** How far the wall clock is behind this clock (0 when it is not). */
    long behindMillis() {
        return Math.max(0, floor - wall.currentTimeMillis());
    }

    @Override
    public long currentTimeMillis() {
        long now = wall.currentTimeMillis();
        long f = floor;
        if (now > f) {
            raiseTo(now);
            return now;
        }
        return f;
    }

    @Override
    public long currentTimeMicros() {
        return currentTimeMillis() * 1_000;
    }

    @Override
    public long currentTimeNanos() {
        return currentTimeMillis() * 1_000_000;
    }
}
