package io.spillway.backend;

import io.spillway.core.QueueName;
import io.spillway.core.internal.JobCodec;
import io.spillway.core.internal.JobRecord;
import io.spillway.core.internal.RedisKeys;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.Protocol;

/** Reads what Redis holds for a queue, independently of the producer: the stream's jobs in order. */
final class RedisJobs {
    private RedisJobs() {
    }

    /** Every job in the queue's stream, in stream order. */
    static List<JobRecord> stream(Jedis jedis, String queue) {
        List<JobRecord> out = new ArrayList<>();
        byte[] key = RedisKeys.bytes(RedisKeys.stream(QueueName.of(queue)));
        String start = "-";
        while (true) {
            @SuppressWarnings("unchecked")
            List<Object> entries = (List<Object>) jedis.sendCommand(Protocol.Command.XRANGE, key,
                    start.getBytes(StandardCharsets.US_ASCII), "+".getBytes(StandardCharsets.US_ASCII),
                    "COUNT".getBytes(StandardCharsets.US_ASCII), "5000".getBytes(StandardCharsets.US_ASCII));
            if (entries.isEmpty()) {
                return out;
            }
            String last = null;
            for (Object e : entries) {
                List<?> entry = (List<?>) e;
                last = new String((byte[]) entry.get(0), StandardCharsets.US_ASCII);
                List<?> fields = (List<?>) entry.get(1);
                for (int i = 0; i < fields.size(); i += 2) {
                    if (new String((byte[]) fields.get(i), StandardCharsets.US_ASCII).equals(RedisKeys.FIELD_JOB)) {
                        out.add(JobCodec.decode((byte[]) fields.get(i + 1)));
                    }
                }
            }
            start = "(" + last;
        }
    }

    static List<String> ids(Jedis jedis, String queue) {
        return stream(jedis, queue).stream().map(r -> r.id().value()).toList();
    }
}
