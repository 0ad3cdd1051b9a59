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
    /** Longest header name, and longest header value, in UTF-8 bytes (the job record's limit for one string). */
    public static final int MAX_HEADER_BYTES = 65_535;
    /** Latest run-at time: the end of year 9999 UTC. */
    public static final Instant MAX_RUN_AT = Instant.parse("9999-12-31T23:59:59.999Z");
    /** Longest delay: as long as from the epoch to {@link #MAX_RUN_AT} (about 8,000 years). */
    public static final Duration MAX_DELAY = Duration.ofMillis(MAX_RUN_AT.toEpochMilli());
    private static final long MAX_RUN_AT_MILLIS = MAX_RUN_AT.toEpochMilli();

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

    /** Whether a delay or a run-at is set. */
    boolean delayed() {
        return runAt != null || delay != null;
    }

    /** The run-at time in epoch millis, or 0 for at once, given the current time. */
    long runAtMillis(long nowMillis) {
        if (runAt != null) {
            return runAt.toEpochMilli();
        }
        if (delay != null) {
            // A delay reaching past MAX_RUN_AT (MAX_DELAY does, from any day after 1970) runs at MAX_RUN_AT.
            return Math.min(nowMillis + delay.toMillis(), MAX_RUN_AT_MILLIS);
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

        /**
         * A caller-chosen id: the idempotency key within the job's queue (the same id in another queue is another job;
         * see {@link JobId} for the allowed characters).
         */
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
            if (utf8Length(name) > MAX_HEADER_BYTES) {
                throw new IllegalArgumentException("header name must be at most " + MAX_HEADER_BYTES + " bytes (UTF-8), but was "
                        + utf8Length(name) + " bytes, starting '" + name.substring(0, 40) + "'");
            }
            if (utf8Length(value) > MAX_HEADER_BYTES) {
                throw new IllegalArgumentException("header '" + name + "' value must be at most " + MAX_HEADER_BYTES
                        + " bytes (UTF-8), but was " + utf8Length(value) + " bytes");
            }
            if (headers.size() >= MAX_HEADERS && !headers.containsKey(name)) {
                throw new IllegalArgumentException("at most " + MAX_HEADERS + " headers per job");
            }
            headers.put(name, value);
            return this;
        }

        public Builder headers(Map<String, String> all) {
            if (all == null) {
                throw new IllegalArgumentException("headers must not be null");
            }
            all.forEach(this::header);
            return this;
        }

        /**
         * Run no earlier than this long after enqueue: 0 to {@link #MAX_DELAY}; a delay that would reach past
         * {@link #MAX_RUN_AT} runs at {@link #MAX_RUN_AT}. Either a delay or a {@link #runAt(Instant) run-at}, not both.
         */
        public Builder delay(Duration d) {
            if (d == null || d.isNegative() || d.compareTo(MAX_DELAY) > 0) {
                throw new IllegalArgumentException("delay must be >= 0 and at most " + MAX_DELAY.toDays() + " days, but was " + d);
            }
            if (runAt != null) {
                throw new IllegalArgumentException("delay (" + d + ") and runAt (" + runAt + ") are exclusive: set one");
            }
            this.delay = d;
            return this;
        }

        /**
         * Run no earlier than this instant (one in the past: at once); at most {@link #MAX_RUN_AT}. Either a
         * run-at or a {@link #delay(Duration) delay}, not both.
         */
        public Builder runAt(Instant at) {
            if (at == null || at.isAfter(MAX_RUN_AT) || at.isBefore(Instant.EPOCH)) {
                throw new IllegalArgumentException("runAt must be between " + Instant.EPOCH + " and " + MAX_RUN_AT
                        + ", but was " + at);
            }
            if (delay != null) {
                throw new IllegalArgumentException("runAt (" + at + ") and delay (" + delay + ") are exclusive: set one");
            }
            this.runAt = at;
            return this;
        }

        public EnqueueOptions build() {
            return new EnqueueOptions(this);
        }

        /** Bytes of {@code s} in UTF-8, counted without encoding it. */
        private static int utf8Length(String s) {
            int n = 0;
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                if (c < 0x80) {
                    n += 1;
                } else if (c < 0x800) {
                    n += 2;
                } else if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                    n += 4;
                    i++;
                } else {
                    n += 3;
                }
            }
            return n;
        }
    }
}
