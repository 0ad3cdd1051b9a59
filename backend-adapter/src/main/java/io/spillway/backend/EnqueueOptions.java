package io.spillway.backend;

import io.spillway.core.JobId;
import java.time.Duration;
import java.time.Instant;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Per-call options of {@link JobProducer#enqueue(String, String, byte[], EnqueueOptions)}. Immutable.
 *
 * <pre>{@code
 * producer.enqueue("emails", "welcome", bytes, EnqueueOptions.builder()
 *         .jobId("welcome-" + userId)          // idempotency key: a second enqueue is a no-op
 *         .header("trace-id", traceId)
 *         .delay(Duration.ofMinutes(10))
 *         .build());
 * }</pre>
 */
public final class EnqueueOptions {
    /** Options that change nothing: a minted id, no headers, run at once. */
    public static final EnqueueOptions NONE = builder().build();
    /** Most headers per job. */
    public static final int MAX_HEADERS = 64;

    private final JobId jobId;
    private final Map<String, String> headers;
    private final Instant runAt;
    private final Duration delay;

    private EnqueueOptions(Builder b) {
        this.jobId = b.jobId;
        this.headers = Collections.unmodifiableMap(new LinkedHashMap<>(b.headers));
        this.runAt = b.runAt;
        this.delay = b.delay;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Shorthand for options with only a caller-chosen job id. */
    public static EnqueueOptions withJobId(String jobId) {
        return builder().jobId(jobId).build();
    }

    public Optional<String> jobId() {
        return Optional.ofNullable(jobId).map(JobId::value);
    }

    JobId jobIdOrNull() {
        return jobId;
    }

    public Map<String, String> headers() {
        return headers;
    }

    /** The run-at time in epoch millis, or 0 for at once, given the current time. */
    long runAtMillis(long nowMillis) {
        if (runAt != null) {
            return runAt.toEpochMilli();
        }
        if (delay != null) {
            return nowMillis + delay.toMillis();
        }
        return 0;
    }

    /** Builds {@link EnqueueOptions}; setters fail fast with the bad value in the message. */
    public static final class Builder {
        private JobId jobId;
        private final Map<String, String> headers = new LinkedHashMap<>();
        private Instant runAt;
        private Duration delay;

        private Builder() {
        }

        /** A caller-chosen id: the idempotency key (see {@link JobId} for the allowed characters). */
        public Builder jobId(String id) {
            this.jobId = JobId.of(id);
            return this;
        }

        public Builder header(String name, String value) {
            if (name == null || name.isBlank()) {
                throw new IllegalArgumentException("header name must not be blank, but was '" + name + "'");
            }
            if (value == null) {
                throw new IllegalArgumentException("header '" + name + "' value must not be null");
            }
            if (headers.size() >= MAX_HEADERS && !headers.containsKey(name)) {
                throw new IllegalArgumentException("at most " + MAX_HEADERS + " headers per job");
            }
            headers.put(name, value);
            return this;
        }

        public Builder headers(Map<String, String> all) {
            all.forEach(this::header);
            return this;
        }

        /** Run no earlier than this long after enqueue. */
        public Builder delay(Duration d) {
            if (d == null || d.isNegative()) {
                throw new IllegalArgumentException("delay must be >= 0, but was " + d);
            }
            this.delay = d;
            this.runAt = null;
            return this;
        }

        /** Run no earlier than this instant. */
        public Builder runAt(Instant at) {
            if (at == null) {
                throw new IllegalArgumentException("runAt must not be null");
            }
            this.runAt = at;
            this.delay = null;
            return this;
        }

        public EnqueueOptions build() {
            return new EnqueueOptions(this);
        }
    }
}
