package io.spillway.core;

import com.github.f4b6a3.ulid.UlidFactory;
import java.util.regex.Pattern;

/**
 * A job's id: the idempotency key of enqueue. Either minted by Spillway ({@link #mint()}: a monotonic
 * ULID, 26 characters, time-ordered and unique across processes) or chosen by the caller (for example
 * an order number), 1 to 200 characters among letters, digits and {@code . _ - : @ / + =}.
 *
 * @param value the id
 */
public record JobId(String value) {
    /** The length of a minted id (a ULID). */
    public static final int MINTED_LENGTH = 26;
    /** The characters a job id may hold. */
    public static final Pattern VALID = Pattern.compile("[A-Za-z0-9._:@/+=-]{1,200}");

    public JobId {
        if (value == null) {
            throw new IllegalArgumentException("jobId must not be null");
        }
        if (!QueueName.valid(value, 200, true)) {
            throw new IllegalArgumentException("jobId must match " + VALID.pattern() + ", but was '" + value + "'");
        }
    }

    /** One generator for the process, so that the ids it mints are in order, not only unique. */
    private static final UlidFactory MONOTONIC = UlidFactory.newMonotonicInstance();

    /** A new, time-ordered, unique id. Thread-safe. */
    public static JobId mint() {
        return mint(System.currentTimeMillis());
    }

    /**
     * A new, unique id whose time part is {@code epochMillis} (for a caller that has already read the clock).
     * Ids minted by one process stay in order even if the times passed go backwards by up to 10 s; beyond that the
     * new time is taken as given. Thread-safe.
     *
     * @param epochMillis the id's time, in epoch milliseconds, 0 to 2<sup>48</sup> - 1
     * @throws IllegalArgumentException if {@code epochMillis} is outside that range
     */
    public static JobId mint(long epochMillis) {
        if (epochMillis < 0 || epochMillis >= (1L << 48)) {
            throw new IllegalArgumentException("epochMillis must be 0 to 2^48 - 1, but was " + epochMillis);
        }
        return new JobId(MONOTONIC.create(epochMillis).toString());
    }

    public static JobId of(String value) {
        return new JobId(value);
    }

    // equals and hashCode written out: a record's generated ones are bootstrapped (java.lang.runtime.ObjectMethods)
    // at their first call, which took 5-15 ms; for a queue name that first call could be the first spool of an
    // outage, the moment a caller must not wait.
    @Override
    public boolean equals(Object o) {
        return o == this || (o instanceof JobId other && value.equals(other.value));
    }

    @Override
    public int hashCode() {
        return value.hashCode();
    }

    @Override
    public String toString() {
        return value;
    }
}
