package io.spillway.core.internal;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Capped exponential backoff with full jitter: attempt n waits a uniform random time in
 * {@code [0, min(cap, base * 2^n)]}. Full jitter spreads reconnecting clients so a restarted Redis is
 * not hit by all of them at once. Immutable and thread-safe.
 */
public record Backoff(Duration base, Duration cap) {
    public Backoff {
        if (base == null || base.isNegative() || base.isZero()) {
            throw new IllegalArgumentException("backoff base must be > 0, but was " + base);
        }
        if (cap == null || cap.compareTo(base) < 0) {
            throw new IllegalArgumentException("backoff cap must be >= base " + base + ", but was " + cap);
        }
    }

    /** The ceiling of attempt n (0-based) before jitter. */
    public long ceilingMillis(int attempt) {
        long b = base.toMillis();
        int shift = Math.min(attempt, 30);
        long c = b << shift;
        return c <= 0 || c > cap.toMillis() ? cap.toMillis() : c;
    }

    /** A jittered delay for attempt n (0-based). */
    public long delayMillis(int attempt) {
        long ceiling = ceilingMillis(attempt);
        return ThreadLocalRandom.current().nextLong(ceiling + 1);
    }
}
