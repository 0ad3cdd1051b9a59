package io.spillway.worker;

import io.spillway.core.internal.Arguments;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * Settings of one job type's handler that differ from the worker's: its job timeout and its retry policy
 * ({@link Worker.Builder#handler(String, JobHandler, HandlerOptions)}). What is not set here is the worker's
 * ({@link Worker.Builder#jobTimeout}, {@link Worker.Builder#retryPolicy}). Immutable and thread-safe.
 *
 * <pre>{@code
 * Worker worker = Worker.builder()
 *         .redis(uri)
 *         .queue("reports")
 *         .jobTimeout(Duration.ofMinutes(1))                       // every type's, unless its own is set
 *         .handler("thumbnail", job -> { })
 *         .handler("yearly-export", job -> { }, HandlerOptions.builder()
 *                 .jobTimeout(Duration.ofHours(6))
 *                 .retryPolicy(RetryPolicy.of(3, Duration.ofMinutes(1), Duration.ofMinutes(30)))
 *                 .build())
 *         .build();
 * }</pre>
 */
public final class HandlerOptions {
    private static final Duration MAX_DURATION = Duration.ofDays(365);

    private final Duration jobTimeout;
    private final RetryPolicy retryPolicy;

    private HandlerOptions(Builder b) {
        this.jobTimeout = b.jobTimeout;
        this.retryPolicy = b.retryPolicy;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** This type's job timeout; empty: the worker's. */
    public Optional<Duration> jobTimeout() {
        return Optional.ofNullable(jobTimeout);
    }

    /** This type's retry policy; empty: the worker's. */
    public Optional<RetryPolicy> retryPolicy() {
        return Optional.ofNullable(retryPolicy);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof HandlerOptions h && Objects.equals(jobTimeout, h.jobTimeout)
                && Objects.equals(retryPolicy, h.retryPolicy);
    }

    @Override
    public int hashCode() {
        return Objects.hash(jobTimeout, retryPolicy);
    }

    @Override
    public String toString() {
        return "HandlerOptions[jobTimeout=" + (jobTimeout != null ? jobTimeout : "the worker's") + ", retryPolicy="
                + (retryPolicy != null ? retryPolicy : "the worker's") + "]";
    }

    /** Builds {@link HandlerOptions}; every setting is optional. Setters fail fast on bad values. Not thread-safe. */
    public static final class Builder {
        private Duration jobTimeout;
        private RetryPolicy retryPolicy;

        private Builder() {
        }

        /**
         * Longest run of one of this type's handler calls, 1 ms to 365 days, as {@link Worker.Builder#jobTimeout} is
         * for the worker's. Default: the worker's (1 h unless set).
         */
        public Builder jobTimeout(Duration timeout) {
            if (Arguments.notNull(timeout, "jobTimeout").compareTo(Duration.ofMillis(1)) < 0) {
                throw new IllegalArgumentException("jobTimeout must be >= " + Duration.ofMillis(1) + ", but was " + timeout);
            }
            if (timeout.compareTo(MAX_DURATION) > 0) {
                throw new IllegalArgumentException("jobTimeout must be <= " + MAX_DURATION + ", but was " + timeout);
            }
            this.jobTimeout = timeout;
            return this;
        }

        /** How this type's failed jobs are retried. Default: the worker's ({@link RetryPolicy#ofDefaults()} unless set). */
        public Builder retryPolicy(RetryPolicy policy) {
            this.retryPolicy = Arguments.notNull(policy, "retryPolicy");
            return this;
        }

        public HandlerOptions build() {
            return new HandlerOptions(this);
        }
    }
}
