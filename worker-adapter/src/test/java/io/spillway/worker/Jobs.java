package io.spillway.worker;

import static io.spillway.core.internal.RedisKeys.bytes;

import io.spillway.core.JobId;
import io.spillway.core.QueueName;
import io.spillway.core.RedisConnection;
import io.spillway.core.internal.JobCodec;
import io.spillway.core.internal.JobRecord;
import io.spillway.core.internal.LuaScript;
import io.spillway.core.internal.RedisGateway;
import io.spillway.core.internal.RedisKeys;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Test producer: puts jobs into Redis with core's enqueue script, through a gateway. */
final class Jobs implements AutoCloseable {
    static final long DEDUPE_SECONDS = 3600;
    private final RedisGateway gateway;

    Jobs(URI redis) {
        this.gateway = new RedisGateway(RedisConnection.builder(redis).socketTimeout(Duration.ofSeconds(2)).build(),
                "test-producer", 2, Duration.ofMillis(1), null);
    }

    /** Whether {@code handled} holds the ids {@code prefix + 0} to {@code prefix + (n - 1)}. */
    static boolean allHandled(Map<String, ?> handled, String prefix, int n) {
        for (int i = 0; i < n; i++) {
            if (!handled.containsKey(prefix + i)) {
                return false;
            }
        }
        return true;
    }

    static JobRecord job(String queue, String id, String type, String payload) {
        return new JobRecord(JobId.of(id), QueueName.of(queue), type, payload.getBytes(StandardCharsets.UTF_8), Map.of(),
                0, System.currentTimeMillis(), 0);
    }

    void enqueue(String queue, String type, List<String> ids) {
        for (int from = 0; from < ids.size(); from += 500) {
            List<JobRecord> batch = new ArrayList<>();
            for (String id : ids.subList(from, Math.min(ids.size(), from + 500))) {
                batch.add(job(queue, id, type, "payload-" + id));
            }
            enqueue(batch);
        }
    }

    void enqueue(String queue, String type, String... ids) {
        enqueue(queue, type, List.of(ids));
    }

    /** Enqueues records of one queue; returns the script's per-job codes (1 stream, 2 delayed, 0 duplicate). */
    List<Object> enqueue(List<JobRecord> jobs) {
        QueueName q = jobs.get(0).queue();
        List<byte[]> keys = new ArrayList<>();
        List<byte[]> args = new ArrayList<>();
        keys.add(bytes(RedisKeys.stream(q)));
        keys.add(bytes(RedisKeys.delayed(q)));
        args.add(bytes(Long.toString(System.currentTimeMillis())));
        args.add(bytes(Long.toString(DEDUPE_SECONDS)));
        for (JobRecord r : jobs) {
            keys.add(bytes(RedisKeys.job(q, r.id())));
            args.add(bytes(Long.toString(r.runAt())));
            args.add(JobCodec.encode(r));
        }
        @SuppressWarnings("unchecked")
        List<Object> res = (List<Object>) gateway.evalDirect(LuaScript.ENQUEUE, keys, args);
        return res;
    }

    /**
     * Whether everything Redis has accepted so far is written to its AOF file (its AOF buffer is empty).
     * Once written, a SIGKILL of redis-server cannot lose it (the kernel keeps the page cache); with
     * {@code appendfsync everysec} Redis may hold writes back for up to 2 s while a slow fsync runs, so a
     * fixed sleep is not enough on a busy machine.
     */
    static boolean aofWritten(io.spillway.testing.RedisProcess redis) {
        try (redis.clients.jedis.Jedis j = redis.jedis()) {
            return j.info("persistence").lines().anyMatch(l -> l.trim().equals("aof_buffer_length:0"));
        }
    }

    @Override
    public void close() {
        gateway.close();
    }
}
