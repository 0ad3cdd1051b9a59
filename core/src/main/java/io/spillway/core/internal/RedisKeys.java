package io.spillway.core.internal;

import io.spillway.core.JobId;
import io.spillway.core.QueueName;
import java.nio.charset.StandardCharsets;

/**
 * Every Redis key Spillway uses, built in this one place. All keys of a queue share the hash tag
 * {@code {queue}} so that a queue lives in one Cluster slot and its Lua scripts may touch all of them.
 *
 * <pre>
 * spillway:queues                  set     names of every queue ever enqueued to (discovery; not tagged)
 * spillway:{q}:stream              stream  ready jobs; field "j" = JobCodec bytes; consumer group "spillway"
 * spillway:{q}:job:&lt;id&gt;            string  the job's status record (StatusRecord) and its dedupe marker
 * spillway:{q}:delayed             zset    score = run-at epoch ms, member = JobCodec bytes (delays, retries)
 * spillway:{q}:dead                zset    score = dead-at epoch ms, member = job id
 * spillway:{q}:dead:data           hash    job id → JobCodec bytes of the dead job
 * spillway:{q}:workers             zset    score = last-seen epoch ms, member = consumer name (a heartbeat every
 *                                          WORKER_HEARTBEAT_MS; members older than WORKER_SEEN_WINDOW_MS are trimmed)
 * spillway:{q}:paused              string  present while an operator has paused the queue: "&lt;epoch ms&gt;|&lt;reason&gt;"
 * spillway:probe                   string  written by the health probe to prove Redis takes writes
 * </pre>
 */
public final class RedisKeys {
    public static final String PREFIX = "spillway:";
    public static final String QUEUES = PREFIX + "queues";
    public static final String PROBE = PREFIX + "probe";
    /** The consumer group every worker of a queue joins. */
    public static final String GROUP = "spillway";
    /** The stream entry field that holds the encoded job. */
    public static final String FIELD_JOB = "j";
    /** How often a worker writes its last-seen time into {@code spillway:{q}:workers} (a write, so not every second). */
    public static final long WORKER_HEARTBEAT_MS = 15_000;
    /**
     * A worker last seen within this window counts as live (status, the {@code spillway.queue.workers} gauges: both
     * {@code ZCOUNT} from now minus it); every heartbeat trims the members older than it. Four heartbeats, so that a
     * late one or two (a GC pause, a slow Redis) do not make a live worker look gone.
     */
    public static final long WORKER_SEEN_WINDOW_MS = 60_000;

    private RedisKeys() {
    }

    private static String base(QueueName q) {
        return PREFIX + "{" + q.value() + "}:";
    }

    public static String stream(QueueName q) {
        return base(q) + "stream";
    }

    public static String job(QueueName q, JobId id) {
        return base(q) + "job:" + id.value();
    }

    /** {@code spillway:{q}:job:}: the prefix of the queue's status keys, for scripts that build them from job ids. */
    public static String jobPrefix(QueueName q) {
        return base(q) + "job:";
    }

    public static String delayed(QueueName q) {
        return base(q) + "delayed";
    }

    /**
     * {@code spillway:{q}:chain:}: the prefix of the keys that link a stream's enqueue calls of the queue (one key per
     * stream, {@link ScriptStream}), kept 60 s after its last call.
     */
    public static String chainPrefix(QueueName q) {
        return base(q) + "chain:";
    }

    public static String dead(QueueName q) {
        return base(q) + "dead";
    }

    public static String deadData(QueueName q) {
        return base(q) + "dead:data";
    }

    public static String workers(QueueName q) {
        return base(q) + "workers";
    }

    /**
     * The latest progress a handler reported for the job ({@code Job.progress}): written by the worker about once a
     * second while it changes, with the completed retention (plus the job timeout) as its TTL.
     */
    public static String progress(QueueName q, JobId id) {
        return base(q) + "progress:" + id.value();
    }

    /**
     * The latest checkpoint a handler saved for the job ({@code Job.checkpoint}), for its later runs to resume from:
     * written by the worker with a TTL of {@code Job.CHECKPOINT_TTL_DAYS} days, deleted once the job completes.
     */
    public static String checkpoint(QueueName q, JobId id) {
        return base(q) + "checkpoint:" + id.value();
    }

    /** Present while an operator has paused the queue ({@code Queues.pause}): workers take no new job from it. */
    public static String paused(QueueName q) {
        return base(q) + "paused";
    }

    /**
     * What the worker {@code consumer}'s last takeover (XAUTOCLAIM) of the queue claimed, kept one lease: found again
     * when the takeover's reply was lost.
     */
    public static String claimed(QueueName q, String consumer) {
        return base(q) + "claimed:" + consumer;
    }

    public static byte[] bytes(String key) {
        return key.getBytes(StandardCharsets.UTF_8);
    }
}
