package io.spillway.worker;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/**
 * How failed jobs are retried: up to {@code maxAttempts} handler runs in all, with exponential backoff
 * and jitter between them. Run n (1-based) that fails waits a random time in {@code [c/2, c]}, where
 * {@code c = min(maxBackoff, initialBackoff * multiplier^(n-1))}; the jitter spreads a burst of
 * failures so the retries do not arrive together. When the last attempt fails the job is dead-lettered; a handler
 * that throws a {@link NonRetryableException} has its job dead-lettered at once.
 *
 * <p>Defaults ({@link #ofDefaults()}): {@value #DEFAULT_MAX_ATTEMPTS} attempts, backoff from
 * {@link #DEFAULT_INITIAL_BACKOFF} (1 s) doubling up to {@link #DEFAULT_MAX_BACKOFF} (5 min).
 * Immutable and thread-safe.
 *
 * <pre>{@code
 * RetryPolicy policy = RetryPolicy.of(10, Duration.ofSeconds(2), Duration.ofMinutes(10));
 * }</pre>
 *
 * @param maxAttempts handler runs in all, at least 1 (1 means no retry)
 * @param initialBackoff the wait after the first failure (before jitter), > 0
 * @param maxBackoff the cap of the wait, at least {@code initialBackoff}, at most 365 days
 * @param multiplier growth per failure, at least 1
 */
public record RetryPolicy(int maxAttempts, Duration initialBackoff, Duration maxBackoff, double multiplier) {
    public static final int DEFAULT_MAX_ATTEMPTS = 5;
    public static final Duration DEFAULT_INITIAL_BACKOFF = Duration.ofSeconds(1);
    public static final Duration DEFAULT_MAX_BACKOFF = Duration.ofMinutes(5);
    public static final double DEFAULT_MULTIPLIER = 2.0;
    private static final Duration MAX_BACKOFF = Duration.ofDays(365);

    public RetryPolicy {
        if (maxAttempts < 1) {
            throw new IllegalArgumentException("retry maxAttempts must be >= 1, but was " + maxAttempts);
        }
        if (initialBackoff == null || initialBackoff.isNegative() || initialBackoff.isZero()) {
            throw new IllegalArgumentException("retry initialBackoff must be > 0, but was " + initialBackoff);
        }
        if (maxBackoff == null || maxBackoff.compareTo(initialBackoff) < 0) {
            throw new IllegalArgumentException("retry maxBackoff must be >= initialBackoff " + initialBackoff + ", but was " + maxBackoff);
        }
        if (maxBackoff.compareTo(MAX_BACKOFF) > 0) {
            // Far longer waits overflow as milliseconds when a retry's run-at is computed.
            throw new IllegalArgumentException("retry maxBackoff must be <= " + MAX_BACKOFF + ", but was " + maxBackoff);
        }
        if (!(multiplier >= 1.0) || Double.isInfinite(multiplier)) {
            throw new IllegalArgumentException("retry multiplier must be >= 1, but was " + multiplier);
        }
    }

    public static RetryPolicy ofDefaults() {
        return new RetryPolicy(DEFAULT_MAX_ATTEMPTS, DEFAULT_INITIAL_BACKOFF, DEFAULT_MAX_BACKOFF, DEFAULT_MULTIPLIER);
    }

    /** A policy with the default multiplier (2). */
    public static RetryPolicy of(int maxAttempts, Duration initialBackoff, Duration maxBackoff) {
        return new RetryPolicy(maxAttempts, initialBackoff, maxBackoff, DEFAULT_MULTIPLIER);
    }

    /** One run only: the first failure dead-letters the job. */
    public static RetryPolicy noRetry() {
        return new RetryPolicy(1, DEFAULT_INITIAL_BACKOFF, DEFAULT_INITIAL_BACKOFF, DEFAULT_MULTIPLIER);
    }

    /** Whether a job whose run number {@code attempt} (1-based) just failed may run again. */
    public boolean canRetry(int attempt) {
        return attempt < maxAttempts;
    }

    /** The ceiling of the wait after failed run {@code attempt} (1-based), before jitter. */
    public Duration ceiling(int attempt) {
        double ms = initialBackoff.toMillis() * Math.pow(multiplier, Math.max(0, attempt - 1));
        return ms >= maxBackoff.toMillis() ? maxBackoff : Duration.ofMillis((long) ms);
    }

    /** A jittered wait after failed run {@code attempt} (1-based): uniform in {@code [ceiling/2, ceiling]}. */
    public Duration backoff(int attempt) {
        long c = ceiling(attempt).toMillis();
        return Duration.ofMillis(c / 2 + ThreadLocalRandom.current().nextLong(c - c / 2 + 1));
    }
}
