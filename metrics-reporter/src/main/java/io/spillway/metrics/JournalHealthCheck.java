package io.spillway.metrics;

import com.codahale.metrics.Gauge;
import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.health.HealthCheck;
import io.spillway.core.MetricNames;
import io.spillway.core.internal.Arguments;
import java.time.Duration;
import java.util.function.LongSupplier;

/**
 * Healthy while the local journal (jobs spooled because Redis could not take them) stays small and
 * young, and well below its size cap: backlog at most {@link Builder#maxBacklog(long) maxBacklog} jobs
 * (default {@value #DEFAULT_MAX_BACKLOG}), its oldest job spooled at most
 * {@link Builder#maxOldestAge(Duration) maxOldestAge} ago (default 5 minutes, {@link #DEFAULT_MAX_OLDEST_AGE}),
 * and its backlog bytes below {@link Builder#maxFill(double) maxFill} of the journal's size cap (default
 * {@value #DEFAULT_MAX_FILL}, i.e. 90 %), and its disk with more than {@link Builder#minDiskHeadroom(double)
 * minDiskHeadroom} times the space the journal leaves free (default {@value #DEFAULT_MIN_DISK_HEADROOM}: below that
 * floor, {@code journalMinFreeDisk}, jobs that must spool are refused). Spooling is how Spillway survives an outage, so a short one stays
 * healthy; a journal that keeps growing means Redis has been away too long or replay cannot keep up. The
 * fill threshold matters because the job count says little about bytes: at the cap (1 GiB by default,
 * about 1,000 jobs of 1 MiB) every enqueue that must spool throws {@code JournalFullException}, and the
 * job is not accepted.
 *
 * <p>Reads long sources or the journal gauges of a registry ({@value MetricNames#JOURNAL_BACKLOG},
 * {@value MetricNames#JOURNAL_OLDEST_AGE}, {@value MetricNames#JOURNAL_BACKLOG_BYTES},
 * {@value MetricNames#JOURNAL_MAX_BYTES}, {@value MetricNames#JOURNAL_UNCONFIRMED_BYTES}, which a write-ahead
 * producer's jobs kept until they complete add to the bytes, {@value MetricNames#JOURNAL_DISK_FREE} and
 * {@value MetricNames#JOURNAL_DISK_MIN_FREE}); without the first the check is healthy ("no journal"), without the byte
 * gauges (or with a cap of 0 or less) the fill is not checked, without the disk gauges the disk is not. Immutable and
 * thread-safe.
 *
 * <pre>{@code
 * healthChecks.register("journal", JournalHealthCheck.fromRegistry(registry)
 *         .maxOldestAge(Duration.ofMinutes(2)).maxFill(0.8).build());
 * }</pre>
 */
public final class JournalHealthCheck extends HealthCheck {
    public static final long DEFAULT_MAX_BACKLOG = 100_000;
    public static final Duration DEFAULT_MAX_OLDEST_AGE = Duration.ofMinutes(5);
    /** The share of the journal's size cap the backlog bytes may reach before the check fails. */
    public static final double DEFAULT_MAX_FILL = 0.9;
    /** How many times the journal's free-space floor the disk must have for the check to pass. */
    public static final double DEFAULT_MIN_DISK_HEADROOM = 2.0;

    private final LongSupplier backlog;
    private final LongSupplier oldestAgeMillis;
    private final LongSupplier backlogBytes;
    private final LongSupplier maxBytes;
    private final long maxBacklog;
    private final Duration maxOldestAge;
    private final double maxFill;
    private final LongSupplier diskFree;
    private final LongSupplier diskMinFree;
    private final double minDiskHeadroom;

    private JournalHealthCheck(Builder b) {
        this.backlog = b.backlog;
        this.oldestAgeMillis = b.oldestAgeMillis;
        this.backlogBytes = b.backlogBytes;
        this.maxBytes = b.maxBytes;
        this.maxBacklog = b.maxBacklog;
        this.maxOldestAge = b.maxOldestAge;
        this.maxFill = b.maxFill;
        this.diskFree = b.diskFree;
        this.diskMinFree = b.diskMinFree;
        this.minDiskHeadroom = b.minDiskHeadroom;
    }

    /** From two sources: the jobs not yet replayed, and the age in ms of the oldest (0 when empty); -1 = no journal. */
    public static Builder builder(LongSupplier backlog, LongSupplier oldestAgeMillis) {
        return new Builder(Arguments.notNull(backlog, "backlog"),
                Arguments.notNull(oldestAgeMillis, "oldestAgeMillis"));
    }

    /** From the journal gauges of {@code registry}, looked up at each check. */
    public static Builder fromRegistry(MetricRegistry registry) {
        Arguments.notNull(registry, "registry");
        return builder(() -> gauge(registry, MetricNames.JOURNAL_BACKLOG),
                () -> gauge(registry, MetricNames.JOURNAL_OLDEST_AGE))
                .bytes(() -> heldBytes(registry), () -> gauge(registry, MetricNames.JOURNAL_MAX_BYTES))
                .disk(() -> gauge(registry, MetricNames.JOURNAL_DISK_FREE), () -> gauge(registry, MetricNames.JOURNAL_DISK_MIN_FREE));
    }

    /**
     * The bytes that count against the journal's cap: the backlog, plus (a write-ahead producer) the jobs sent and
     * kept until they complete.
     */
    private static long heldBytes(MetricRegistry registry) {
        long backlog = gauge(registry, MetricNames.JOURNAL_BACKLOG_BYTES);
        long unconfirmed = gauge(registry, MetricNames.JOURNAL_UNCONFIRMED_BYTES);
        return backlog < 0 ? backlog : backlog + Math.max(0, unconfirmed);
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
        long bytes = backlogBytes.getAsLong();
        long cap = maxBytes.getAsLong();
        if (bytes >= 0 && cap > 0) {
            r.withDetail("backlogBytes", bytes).withDetail("maxBytes", cap).withDetail("maxFill", maxFill);
            // First: past the cap jobs are refused, which is worse than a long or old backlog.
            if (bytes >= maxFill * cap) {
                return r.unhealthy().withMessage("journal backlog is " + percent((double) bytes / cap) + " of its size cap ("
                        + bytes + " of " + cap + " bytes; limit " + percent(maxFill) + "): at the cap, enqueues that must"
                        + " spool throw JournalFullException").build();
            }
        }
        long free = diskFree.getAsLong();
        long floor = diskMinFree.getAsLong();
        if (free >= 0 && floor > 0) {
            r.withDetail("diskFreeBytes", free).withDetail("diskMinFreeBytes", floor);
            if (free < minDiskHeadroom * floor) {
                return r.unhealthy().withMessage("the journal's disk has " + mb(free) + " free; below " + mb(floor)
                        + " (journalMinFreeDisk) enqueues that must spool throw JournalFullException").build();
            }
        }
        if (jobs > maxBacklog) {
            return r.unhealthy().withMessage("journal holds " + jobs + " jobs not yet replayed (limit " + maxBacklog + ")").build();
        }
        if (age > maxOldestAge.toMillis()) {
            return r.unhealthy().withMessage("oldest spooled job waits for replay since " + age / 1000 + " s (limit "
                    + maxOldestAge.toSeconds() + " s)").build();
        }
        return r.healthy().withMessage(jobs == 0 ? "journal empty" : "journal holds " + jobs + " jobs, replay pending").build();
    }

    private static String mb(long bytes) {
        return String.format(java.util.Locale.ROOT, "%.1f MB", bytes / 1_048_576.0);
    }

    private static String percent(double share) {
        return String.format(java.util.Locale.ROOT, "%.0f %%", Math.floor(share * 100));
    }

    /** Thresholds; setters fail fast. */
    public static final class Builder {
        private final LongSupplier backlog;
        private final LongSupplier oldestAgeMillis;
        private LongSupplier backlogBytes = () -> -1;
        private LongSupplier maxBytes = () -> -1;
        private long maxBacklog = DEFAULT_MAX_BACKLOG;
        private Duration maxOldestAge = DEFAULT_MAX_OLDEST_AGE;
        private double maxFill = DEFAULT_MAX_FILL;
        private LongSupplier diskFree = () -> -1;
        private LongSupplier diskMinFree = () -> -1;
        private double minDiskHeadroom = DEFAULT_MIN_DISK_HEADROOM;

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

        /**
         * The sources of the fill check: the bytes of the records not yet replayed, and the journal's size cap
         * ({@code journalMaxBytes}); -1 (or a cap of 0 or less) = unknown, not checked. Set by
         * {@link #fromRegistry}; without it the fill is not checked.
         */
        public Builder bytes(LongSupplier backlogBytes, LongSupplier maxBytes) {
            this.backlogBytes = Arguments.notNull(backlogBytes, "backlogBytes");
            this.maxBytes = Arguments.notNull(maxBytes, "maxBytes");
            return this;
        }

        /** The share of the size cap the backlog bytes may reach, in (0, 1] (default {@value #DEFAULT_MAX_FILL}). */
        public Builder maxFill(double share) {
            if (!(share > 0 && share <= 1)) {
                throw new IllegalArgumentException("journal maxFill must be in (0, 1], but was " + share);
            }
            this.maxFill = share;
            return this;
        }

        /**
         * The sources of the disk check: the usable space on the journal's file system, and the space the journal
         * leaves free ({@code journalMinFreeDisk}); -1 (or a floor of 0 or less) = unknown, not checked. Set by
         * {@link #fromRegistry}.
         */
        public Builder disk(LongSupplier freeBytes, LongSupplier minFreeBytes) {
            this.diskFree = Arguments.notNull(freeBytes, "freeBytes");
            this.diskMinFree = Arguments.notNull(minFreeBytes, "minFreeBytes");
            return this;
        }

        /**
         * How many times the journal's free-space floor the disk must have, at least 1 (default
         * {@value #DEFAULT_MIN_DISK_HEADROOM}): the check fails before jobs are refused, not when they are.
         */
        public Builder minDiskHeadroom(double times) {
            if (!(times >= 1) || Double.isInfinite(times)) {
                throw new IllegalArgumentException("journal minDiskHeadroom must be >= 1, but was " + times);
            }
            this.minDiskHeadroom = times;
            return this;
        }

        public JournalHealthCheck build() {
            return new JournalHealthCheck(this);
        }
    }
}
