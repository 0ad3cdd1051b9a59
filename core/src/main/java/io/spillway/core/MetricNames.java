package io.spillway.core;

/**
 * Every metric name Spillway registers, in one place. Names are prefixed {@code spillway.}; per-queue
 * metrics end in {@code .<queue>} (see {@link #perQueue(String, String)}). The catalogue with types,
 * units and meaning is {@code docs/metrics.md}.
 */
public final class MetricNames {
    private MetricNames() {
    }

    // Producer (backend-adapter)
    /** Meter: jobs accepted by enqueue (in Redis or spooled). */
    public static final String ACCEPTED = "spillway.producer.accepted";
    /** Meter: jobs written straight to Redis. */
    public static final String ENQUEUED = "spillway.producer.enqueued";
    /** Meter: jobs appended to the local journal. */
    public static final String SPOOLED = "spillway.producer.spooled";
    /** Meter: jobs refused (journal full, bad input): not accepted. */
    public static final String REJECTED = "spillway.producer.rejected";
    /** Meter: enqueues whose job id Redis already held (idempotent no-op). */
    public static final String DUPLICATES = "spillway.producer.duplicates";
    /** Timer: enqueue call latency, whatever path it took. */
    public static final String ENQUEUE_LATENCY = "spillway.producer.enqueue.latency";

    // Journal and replay (core)
    /** Gauge: jobs in the journal not yet replayed. */
    public static final String JOURNAL_BACKLOG = "spillway.journal.backlog.jobs";
    /** Gauge: bytes of the journal records not yet replayed. */
    public static final String JOURNAL_BACKLOG_BYTES = "spillway.journal.backlog.bytes";
    /**
     * Gauge: the journal's size cap in bytes: past it enqueue throws {@code JournalFullException} (compare with
     * {@link #JOURNAL_BACKLOG_BYTES}).
     */
    public static final String JOURNAL_MAX_BYTES = "spillway.journal.max.bytes";
    /** Gauge: age in milliseconds of the oldest job not yet replayed (0 when empty). */
    public static final String JOURNAL_OLDEST_AGE = "spillway.journal.oldest.age.ms";
    /**
     * Gauge: jobs sent to Redis from the journal of a write-ahead producer and kept until their completion is
     * confirmed (0 in the default mode).
     */
    public static final String JOURNAL_UNCONFIRMED = "spillway.journal.unconfirmed.jobs";
    /** Gauge: the size of those records; they count against the journal's cap ({@link #JOURNAL_MAX_BYTES}). */
    public static final String JOURNAL_UNCONFIRMED_BYTES = "spillway.journal.unconfirmed.bytes";
    /** Gauge: the usable space on the journal's file system, in bytes, read when the gauge is read. */
    public static final String JOURNAL_DISK_FREE = "spillway.journal.disk.free.bytes";
    /**
     * Gauge: the space the journal leaves free ({@code journalMinFreeDisk}): a job that must spool and would leave less
     * is refused ({@code JournalFullException}).
     */
    public static final String JOURNAL_DISK_MIN_FREE = "spillway.journal.disk.min.free.bytes";
    /**
     * Meter: records of a write-ahead journal copied to its end because their job was not finished an hour later while
     * jobs after it were (a delayed or very long job), so that the old cycle file could be deleted.
     */
    public static final String JOURNAL_CARRIED = "spillway.journal.carried";
    /** Counter: corrupt or torn journal records found and skipped. */
    public static final String JOURNAL_CORRUPT = "spillway.journal.corrupt";
    /** Meter: jobs replayed from the journal into Redis (new in Redis). */
    public static final String REPLAYED = "spillway.replay.replayed";
    /** Meter: replayed jobs Redis already held (their first send had in fact succeeded). */
    public static final String REPLAY_DUPLICATES = "spillway.replay.duplicates";

    /** Meter: recently written jobs sent again after a Redis restart that Redis had indeed lost. */
    public static final String RESTORED = "spillway.replay.restored";
    /**
     * Meter: jobs sent again after a Redis restart (recent direct writes, and journal records replayed within the
     * resend window), whether Redis had lost them ({@link #RESTORED}) or still held them.
     */
    public static final String RESENT = "spillway.replay.resent";
    /**
     * Gauge: recent direct writes pushed out of the resend buffer by its byte cap before their resend window
     * ended, or before a replica confirmed them (Redis losing them in a crash or a failover would not have them sent
     * again); 0 unless writes outran the buffer.
     */
    public static final String RESEND_OVERFLOWED = "spillway.replay.resend.overflowed";

    // Connection (core)
    /** Gauge: 0 connected, 1 disconnected, 2 recovering, 3 closed. Suffixed with the component (producer, worker). */
    public static final String CONNECTION_STATE = "spillway.redis.state";
    /** Gauge: circuit breaker state, 0 closed, 1 open, 2 half-open. */
    public static final String CIRCUIT_STATE = "spillway.redis.circuit";
    /** Counter: reconnect attempts made by the reconnect loop. */
    public static final String RECONNECT_ATTEMPTS = "spillway.redis.reconnect.attempts";
    /** Counter: times the connection was lost. */
    public static final String CONNECTION_LOST = "spillway.redis.connection.lost";

    // Recurring jobs (backend-adapter RecurringJobs), in their producer's registry
    /** Meter: ticks of recurring jobs enqueued (duplicates included: a tick another instance had enqueued already). */
    public static final String RECURRING_ENQUEUED = "spillway.recurring.enqueued";
    /** Meter: ticks of recurring jobs skipped, found later than their catch-up time (no process ran them then). */
    public static final String RECURRING_MISSED = "spillway.recurring.missed";

    // Worker (worker-adapter)
    public static final String FETCHED = "spillway.worker.fetched";
    public static final String COMPLETED = "spillway.worker.completed";
    public static final String FAILED = "spillway.worker.failed";
    public static final String RETRIED = "spillway.worker.retried";
    public static final String DEAD_LETTERED = "spillway.worker.dead";
    public static final String HANDLER_DURATION = "spillway.worker.handler.duration";
    public static final String IN_FLIGHT = "spillway.worker.inflight";
    public static final String LEASE_RENEWALS = "spillway.worker.lease.renewals";
    /** Counter: leases this worker found taken over by another worker while their jobs ran here (each runs twice). */
    public static final String LEASES_LOST = "spillway.worker.lease.lost";
    public static final String REDELIVERIES = "spillway.worker.redeliveries";
    public static final String SKIPPED_COMPLETED = "spillway.worker.skipped.completed";
    /** Meter: cancelled jobs this worker fetched and dropped without running them. */
    public static final String SKIPPED_CANCELLED = "spillway.worker.skipped.cancelled";
    public static final String ACKS_PENDING = "spillway.worker.acks.pending";
    /**
     * Gauge: this worker's queues paused because their Redis Cluster master is unavailable (the others go on); per
     * queue ({@code .<queue>}), 1 while that queue is so paused, else 0.
     */
    public static final String QUEUES_PAUSED = "spillway.worker.queues.paused";
    /**
     * Gauge: this worker's queues an operator has paused ({@code Queues.pause}, {@code spillway pause}); per queue
     * ({@code .<queue>}), 1 while that queue is paused, else 0.
     */
    public static final String QUEUES_HELD = "spillway.worker.queues.held";
    public static final String QUEUE_DEPTH = "spillway.queue.waiting";
    public static final String QUEUE_DELAYED = "spillway.queue.delayed";
    public static final String QUEUE_DEAD = "spillway.queue.dead";
    public static final String QUEUE_IN_FLIGHT = "spillway.queue.inflight";
    /** Gauge: workers (consumers) seen on a queue's workers set. Per queue. */
    public static final String QUEUE_WORKERS = "spillway.queue.workers";
    /** Gauge: age in milliseconds of the queue figures last read from Redis (grows while Redis is away). */
    public static final String QUEUE_STATS_AGE = "spillway.queue.stats.age.ms";
    /** Gauge: journal directories the standalone reporter could not inspect because a live producer holds them. */
    public static final String REPORT_JOURNALS_LOCKED = "spillway.report.journals.locked";

    // Watchdog
    public static final String WATCHDOG_RESTARTS = "spillway.watchdog.restarts";
    public static final String WATCHDOG_DOWNTIME = "spillway.watchdog.downtime.ms";
    public static final String WATCHDOG_UP = "spillway.watchdog.up";

    /** {@code name + "." + queue}: the per-queue variant of a metric. */
    public static String perQueue(String name, String queue) {
        return name + "." + queue;
    }
}
