package io.spillway.metrics;

import com.codahale.metrics.Gauge;
import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.health.HealthCheck;
import io.spillway.core.MetricNames;
import java.time.Duration;
import java.util.Objects;
import java.util.function.LongSupplier;

/**
 * Healthy while the local journal (jobs spooled because Redis could not take them) stays small and
 * young: backlog at most {@link Builder#maxBacklog(long) maxBacklog} jobs (default
 * {@value #DEFAULT_MAX_BACKLOG}) and its oldest job spooled at most
 * {@link Builder#maxOldestAge(Duration) maxOldestAge} ago (default 5 minutes,
 * {@link #DEFAULT_MAX_OLDEST_AGE}). Spooling is how Spillway survives an outage, so a short one stays
 * healthy; a journal that keeps growing means Redis has been away too long or replay cannot keep up,
 * and the disk cap ({@code JournalFullException}) is getting closer.
 *
 * <p>Reads two long sources or the journal gauges of a registry ({@value MetricNames#JOURNAL_BACKLOG},
 * {@value MetricNames#JOURNAL_OLDEST_AGE}); without those gauges the check is healthy ("no journal").
 * Immutable and thread-safe.
 *
 * <pre>{@code
 * healthChecks.register("journal", JournalHealthCheck.fromRegistry(registry)
 *         .maxOldestAge(Duration.ofMinutes(2)).build());
 * }</pre>
 */
public final class JournalHealthCheck extends HealthCheck {
    public static final long DEFAULT_MAX_BACKLOG = 100_000;
    public static final Duration DEFAULT_MAX_OLDEST_AGE = Duration.ofMinutes(5);

    private final LongSupplier backlog;
    private final LongSupplier oldestAgeMillis;
    private final long maxBacklog;
    private final Duration maxOldestAge;

    private JournalHealthCheck(Builder b) {
        this.backlog = b.backlog;
        this.oldestAgeMillis = b.oldestAgeMillis;
        this.maxBacklog = b.maxBacklog;
        this.maxOldestAge = b.maxOldestAge;
    }

    /** From two sources: the jobs not yet replayed, and the age in ms of the oldest (0 when empty); -1 = no journal. */
    public static Builder builder(LongSupplier backlog, LongSupplier oldestAgeMillis) {
        return new Builder(Objects.requireNonNull(backlog, "backlog must not be null"),
                Objects.requireNonNull(oldestAgeMillis, "oldestAgeMillis must not be null"));
    }

    /** From the journal gauges of {@code registry}, looked up at each check. */
    public static Builder fromRegistry(MetricRegistry registry) {
        Objects.requireNonNull(registry, "registry must not be null");
        return builder(() -> gauge(registry, MetricNames.JOURNAL_BACKLOG),
                () -> gauge(registry, MetricNames.JOURNAL_OLDEST_AGE));
    }

    static long gauge(MetricRegistry registry, String name) {
        Gauge<?> g = registry.getGauges().get(name);
        Object v = g == null ? null : g.getValue();
        return v instanceof Number n ? n.longValue() : -1;
    }

    @Override
    protected Result check() {
        long jobs = backlog.getAsLong();
        long age = oldestAgeMillis.getAsLong();
        if (jobs < 0) {
            return Result.healthy("no journal in this process");
        }
        ResultBuilder r = Result.builder().withDetail("backlog", jobs).withDetail("oldestAgeMs", Math.max(0, age))
                .withDetail("maxBacklog", maxBacklog).withDetail("maxOldestAgeMs", maxOldestAge.toMillis());
        if (jobs > maxBacklog) {
            return r.unhealthy().withMessage("journal holds " + jobs + " jobs not yet replayed (limit " + maxBacklog + ")").build();
        }
        if (age > maxOldestAge.toMillis()) {
            return r.unhealthy().withMessage("oldest spooled job waits for replay since " + age / 1000 + " s (limit "
                    + maxOldestAge.toSeconds() + " s)").build();
        }
        return r.healthy().withMessage(jobs == 0 ? "journal empty" : "journal holds " + jobs + " jobs, replay pending").build();
    }

    /** Thresholds; setters fail fast. */
    public static final class Builder {
        private final LongSupplier backlog;
        private final LongSupplier oldestAgeMillis;
        private long maxBacklog = DEFAULT_MAX_BACKLOG;
        private Duration maxOldestAge = DEFAULT_MAX_OLDEST_AGE;

        private Builder(LongSupplier backlog, LongSupplier oldestAgeMillis) {
            this.backlog = backlog;
            this.oldestAgeMillis = oldestAgeMillis;
        }

        public Builder maxBacklog(long jobs) {
            if (jobs < 0) {
                throw new IllegalArgumentException("journal maxBacklog must be >= 0, but was " + jobs);
            }
            this.maxBacklog = jobs;
            return this;
        }

        public Builder maxOldestAge(Duration age) {
            if (age == null || age.isNegative()) {
                throw new IllegalArgumentException("journal maxOldestAge must be >= 0, but was " + age);
            }
            this.maxOldestAge = age;
            return this;
        }

        public JournalHealthCheck build() {
            return new JournalHealthCheck(this);
        }
    }
}
