package io.spillway.worker;

import static io.spillway.core.internal.RedisKeys.bytes;

import io.spillway.core.JobId;
import io.spillway.core.JobStatus;
import io.spillway.core.QueueName;
import io.spillway.core.RedisConnection;
import io.spillway.core.internal.Arguments;
import io.spillway.core.internal.JobCodec;
import io.spillway.core.internal.JobRecord;
import io.spillway.core.internal.RedisGateway;
import io.spillway.core.internal.RedisKeys;
import io.spillway.core.internal.StatusRecord;
import io.spillway.worker.internal.WorkerScripts;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The dead letters of queues: list them, put them back into their queue, or delete them. An operator
 * API (the CLI's {@code dlq} uses it); it talks to Redis directly, without the worker's circuit
 * breaker, and throws {@link io.spillway.core.RedisUnavailableException} when Redis is away.
 *
 * <pre>{@code
 * try (DeadLetters dlq = DeadLetters.connect(URI.create("redis://127.0.0.1:6379"))) {
 *     for (DeadLetter d : dlq.list("images", 100)) {
 *         System.out.println(d.id() + " " + d.reason());
 *     }
 *     dlq.retry("images", "order-42");   // back into the queue, attempts reset
 *     dlq.purgeAll("images");
 * }
 * }</pre>
 * Thread-safe. Retry and purge are atomic per job (Lua scripts) and safe against each other.
 */
public final class DeadLetters implements AutoCloseable {
    private final RedisGateway gateway;

    private DeadLetters(RedisConnection connection) {
        this.gateway = new RedisGateway(Arguments.notNull(connection, "redis"), "dlq", 2, Duration.ofMillis(1), null);
    }

    public static DeadLetters connect(URI redis) {
        return new DeadLetters(RedisConnection.of(redis));
    }

    public static DeadLetters connect(RedisConnection redis) {
        return new DeadLetters(redis);
    }

    /** How many dead letters the queue holds. */
    public long count(String queue) {
        QueueName q = QueueName.of(queue);
        return gateway.executeDirect(c -> c.zcard(RedisKeys.dead(q)));
    }

    /** The oldest {@code limit} dead letters of the queue (oldest first). */
    public List<DeadLetter> list(String queue, int limit) {
        if (limit < 1) {
            throw new IllegalArgumentException("limit must be >= 1, but was " + limit);
        }
        QueueName q = QueueName.of(queue);
        return gateway.executeDirect(c -> {
            List<redis.clients.jedis.resps.Tuple> ids = c.zrangeWithScores(RedisKeys.dead(q), 0, limit - 1);
            List<DeadLetter> out = new ArrayList<>(ids.size());
            for (redis.clients.jedis.resps.Tuple t : ids) {
                out.add(read(c, q, t.getElement(), (long) t.getScore()));
            }
            return out;
        });
    }

    /** One dead letter by job id, if the queue has it. */
    public Optional<DeadLetter> get(String queue, String jobId) {
        QueueName q = QueueName.of(queue);
        return gateway.executeDirect(c -> {
            Double deadAt = c.zscore(RedisKeys.dead(q), jobId);
            return deadAt == null ? Optional.<DeadLetter>empty() : Optional.of(read(c, q, jobId, deadAt.longValue()));
        });
    }

    private static DeadLetter read(redis.clients.jedis.UnifiedJedis c, QueueName q, String id, long deadAt) {
        byte[] data = c.hget(bytes(RedisKeys.deadData(q)), bytes(id));
        boolean validId = JobId.VALID.matcher(id).matches();
        JobStatus status = validId ? StatusRecord.decode(JobId.of(id), q, c.get(RedisKeys.job(q, JobId.of(id)))) : null;
        return toDeadLetter(q, id, data, status, deadAt);
    }

    private static DeadLetter toDeadLetter(QueueName q, String id, byte[] data, JobStatus status, long deadAt) {
        String reason = status != null ? status.lastError().orElse("") : "";
        int attempts = status != null ? status.attempts() : 0;
        try {
            JobRecord r = JobCodec.decode(data == null ? new byte[0] : data);
            return new DeadLetter(id, q.value(), r.type(), r.payload(), Map.copyOf(r.headers()),
                    Math.max(attempts, r.attempt()), reason, Optional.of(Instant.ofEpochMilli(r.enqueuedAt())),
                    Instant.ofEpochMilli(deadAt));
        } catch (IllegalArgumentException e) {
            return new DeadLetter(id, q.value(), "?", data == null ? new byte[0] : data, Map.of(), attempts, reason,
                    Optional.empty(), Instant.ofEpochMilli(deadAt));
        }
    }

    /**
     * Puts one dead letter back at the end of its queue with its attempts reset to 0 and its run-at set to now (its
     * enqueued-at stays), so {@code spillway status} counts its wait from the retry, not from when it was first
     * accepted.
     *
     * @return false if it is not (or no longer) a dead letter, or its record cannot be decoded. An id that cannot
     *     be a job id ({@link JobId#VALID}) is no dead letter: false, as from {@link #purge} and {@link #get}
     * @throws IllegalArgumentException if {@code queue} is not a valid queue name
     */
    public boolean retry(String queue, String jobId) {
        QueueName q = QueueName.of(queue);
        if (!canBeJobId(jobId)) {
            return false;
        }
        JobId id = JobId.of(jobId);
        byte[] data = gateway.executeDirect(c -> c.hget(bytes(RedisKeys.deadData(q)), bytes(id.value())));
        if (data == null) {
            return false;
        }
        JobRecord r;
        try {
            r = JobCodec.decode(data);
        } catch (IllegalArgumentException e) {
            return false;
        }
        long now = System.currentTimeMillis();
        Object res = gateway.evalDirect(WorkerScripts.DEAD_RETRY,
                List.of(bytes(RedisKeys.stream(q)), bytes(RedisKeys.dead(q)), bytes(RedisKeys.deadData(q)), bytes(RedisKeys.job(q, id))),
                List.of(bytes(id.value()), JobCodec.encode(r.withAttempt(0, now)), bytes(Long.toString(now))));
        return Long.valueOf(1).equals(res);
    }

    /**
     * Puts every dead letter of the queue back; returns how many. Letters whose record cannot be
     * decoded stay (an operator looks at them, then purges them).
     */
    public int retryAll(String queue) {
        QueueName q = QueueName.of(queue);
        List<String> ids = gateway.executeDirect(c -> c.zrange(RedisKeys.dead(q), 0, -1));
        int n = 0;
        for (String id : ids) {
            if (retry(queue, id)) {
                n++;
            }
        }
        return n;
    }

    /**
     * How long a purged job's id is remembered (status {@link io.spillway.core.JobState#PURGED}): longer than the hour
     * over which a producer re-sends its recent writes after a Redis restart, so a purged job cannot come back
     * that way. An enqueue of the same id within it is a duplicate: to run a dead job again, retry it instead.
     */
    public static final Duration PURGED_RETENTION = Duration.ofHours(2);

    /**
     * Deletes one dead letter; its status record becomes a {@link io.spillway.core.JobState#PURGED} tombstone for
     * {@link #PURGED_RETENTION}.
     *
     * @return false if it was not a dead letter. An id that cannot be a job id ({@link JobId#VALID}) is none (as for
     *     {@link #retry}), unless something other than Spillway put it in the dead set: then it is deleted, with no
     *     tombstone (no job has that id), so that {@link #purgeAll} empties the set
     * @throws IllegalArgumentException if {@code queue} is not a valid queue name
     */
    public boolean purge(String queue, String jobId) {
        QueueName q = QueueName.of(queue);
        Arguments.notNull(jobId, "jobId");
        boolean valid = canBeJobId(jobId);
        // Without a job id there is no status record to turn into a tombstone: KEYS[3] is then a key of the queue the
        // script does not write (ARGV[3] = 0), never some other job's record.
        byte[] statusKey = bytes(valid ? RedisKeys.job(q, JobId.of(jobId)) : RedisKeys.deadData(q));
        Object res = gateway.evalDirect(WorkerScripts.DEAD_PURGE,
                List.of(bytes(RedisKeys.dead(q)), bytes(RedisKeys.deadData(q)), statusKey),
                List.of(jobId.getBytes(StandardCharsets.UTF_8), bytes(Long.toString(System.currentTimeMillis())),
                        bytes(Long.toString(valid ? PURGED_RETENTION.toSeconds() : 0))));
        return Long.valueOf(1).equals(res);
    }

    private static boolean canBeJobId(String id) {
        return JobId.VALID.matcher(Arguments.notNull(id, "jobId")).matches();
    }

    /** Deletes every dead letter of the queue; returns how many. */
    public int purgeAll(String queue) {
        QueueName q = QueueName.of(queue);
        int n = 0;
        while (true) {
            List<String> ids = gateway.executeDirect(c -> c.zrange(RedisKeys.dead(q), 0, 499));
            if (ids.isEmpty()) {
                return n;
            }
            for (String id : ids) {
                if (purge(queue, id)) {
                    n++;
                }
            }
        }
    }

    @Override
    public void close() {
        gateway.close();
    }
}
