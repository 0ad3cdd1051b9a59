package io.spillway.worker;

import io.spillway.core.QueueName;
import io.spillway.core.RedisConnection;
import io.spillway.core.internal.Arguments;
import io.spillway.core.internal.PauseFlag;
import io.spillway.core.internal.RedisGateway;
import io.spillway.core.internal.RedisKeys;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * Pauses and resumes queues: an operator API (the CLI's {@code pause} and {@code resume} use it). While a queue is
 * paused, workers take no new job from it, neither fetched nor taken over from a dead worker; they notice within about
 * a second (each worker reads the flag with its queue figures, every second) and so does a worker started meanwhile,
 * before its first fetch. Jobs already fetched run and settle, delayed jobs and retries still fall due into the queue,
 * producers enqueue as usual: the jobs wait. The pause is a key in Redis ({@code spillway:{q}:paused}), so it holds for
 * every worker and survives their restarts; Redis must keep it as it keeps the jobs. Pausing also names the queue in
 * {@code spillway:queues}, the set {@code spillway status} lists queues from, so a paused queue shows there even before
 * its first job (and stays listed after a resume, as a queue does once a job was enqueued to it).
 *
 * <pre>{@code
 * try (Queues queues = Queues.connect(URI.create("redis://127.0.0.1:6379"))) {
 *     queues.pause("images", "thumbnail service down, INC-1234");
 *     ...
 *     queues.resume("images");
 * }
 * }</pre>
 * Talks to Redis directly, without a circuit breaker: throws {@link io.spillway.core.RedisUnavailableException} when
 * Redis is away (a call that timed out may still have reached Redis: repeat it, pause and resume are idempotent).
 * Thread-safe.
 */
public final class Queues implements AutoCloseable {
    /** Longest reason kept with a pause. */
    public static final int MAX_REASON_CHARS = 500;

    /**
     * A paused queue.
     *
     * @param queue the queue
     * @param since when it was paused
     * @param reason what the operator said, possibly empty
     */
    public record Pause(String queue, Instant since, String reason) {
    }

    private final RedisGateway gateway;

    private Queues(RedisConnection connection) {
        this.gateway = new RedisGateway(Arguments.notNull(connection, "redis"), "queues", 2,
                Duration.ofMillis(1), null);
    }

    public static Queues connect(URI redis) {
        return new Queues(RedisConnection.of(redis));
    }

    public static Queues connect(RedisConnection redis) {
        return new Queues(redis);
    }

    /**
     * Pauses the queue; pausing a paused queue again keeps its first time and reason.
     *
     * @param reason shown by {@code spillway status} and in the workers' log line; null or empty for none; at most
     *     {@value #MAX_REASON_CHARS} characters
     * @return true if it was running, false if it was paused already
     * @throws IllegalArgumentException for an invalid queue name, or a reason too long or with a control character (a line break)
     */
    public boolean pause(String queue, String reason) {
        QueueName q = QueueName.of(queue);
        String r = reason == null ? "" : reason.strip();
        if (r.length() > MAX_REASON_CHARS) {
            throw new IllegalArgumentException("reason must be at most " + MAX_REASON_CHARS + " characters, but was "
                    + r.length());
        }
        if (r.chars().anyMatch(Character::isISOControl)) {
            // Shown in workers' log lines and the tools' output: one line, as `spillway pause --reason` requires.
            throw new IllegalArgumentException("reason must be one line of text without control characters, but was '"
                    + io.spillway.core.internal.Failures.oneLine(r) + "'");
        }
        String value = PauseFlag.value(System.currentTimeMillis(), r);
        // Named in spillway:queues first, as an enqueue names its queue: `spillway status` lists the queues of that
        // set, and an operator who paused a queue must see it paused there, before its first job too. First, so that
        // no pause is ever in Redis without its name (a refused or failed SADD pauses nothing).
        gateway.executeDirect(c -> c.sadd(RedisKeys.QUEUES, q.value()));
        return "OK".equals(gateway.executeDirect(c -> c.set(RedisKeys.paused(q), value,
                redis.clients.jedis.params.SetParams.setParams().nx())));
    }

    /** {@link #pause(String, String)} without a reason. */
    public boolean pause(String queue) {
        return pause(queue, null);
    }

    /**
     * Resumes the queue: workers take jobs from it again within about a second.
     *
     * @return true if it was paused
     * @throws IllegalArgumentException for an invalid queue name
     */
    public boolean resume(String queue) {
        QueueName q = QueueName.of(queue);
        return gateway.executeDirect(c -> c.del(RedisKeys.paused(q))) == 1L;
    }

    /** The queue's pause, if it is paused. */
    public Optional<Pause> paused(String queue) {
        QueueName q = QueueName.of(queue);
        String v = gateway.executeDirect(c -> c.get(RedisKeys.paused(q)));
        return Optional.ofNullable(v).map(value -> parse(q.value(), value));
    }

    /** Whether the queue is paused. */
    public boolean isPaused(String queue) {
        return paused(queue).isPresent();
    }

    /** A pause's value ({@link PauseFlag}); one that holds no time is dated {@link Instant#EPOCH}. */
    static Pause parse(String queue, String value) {
        return new Pause(queue, PauseFlag.since(value).orElse(Instant.EPOCH), PauseFlag.reason(value));
    }

    @Override
    public void close() {
        gateway.close();
    }
}
