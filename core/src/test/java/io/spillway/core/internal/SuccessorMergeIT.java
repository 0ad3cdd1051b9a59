package io.spillway.core.internal;

import static org.assertj.core.api.Assertions.assertThat;

import com.codahale.metrics.MetricRegistry;
import io.spillway.core.Durability;
import io.spillway.core.JobId;
import io.spillway.core.MetricNames;
import io.spillway.core.QueueName;
import io.spillway.core.RedisConnection;
import io.spillway.testing.RedisProcess;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import redis.clients.jedis.Jedis;

/**
 * A successor's merge ({@code Replayer.resendPredecessors}) when its predecessor's direct writes interleave with the
 * journal's records, in accept time: order per queue, the backlog counted as replayed (not as restored), and another
 * queue's writes do not cut the journal's script calls (one call per record before; found by a review: 40,000 calls
 * and 4-6 s for 20,000 records and 20,000 writes of another queue).
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
@org.junit.jupiter.api.Tag("first-pass-only") // client-side logic: the same whatever the Redis version
class SuccessorMergeIT {
    private static final long GB = 1L << 30;

    @TempDir
    Path dir;

    /**
     * n backlog records of queue a (never replayed) and n predecessor direct writes of queue {@code writeQueue}, accepted
     * alternately (record i at base + 2i, write i at base + 2i + 1). A successor's recovery after a Redis restart.
     */
    @ParameterizedTest
    @ValueSource(strings = {"b:20000", "b:0", "a:2000", "b:-1:20000"})
    void interleaved(String spec) {
        String writeQueue = spec.split(":")[0];
        int n = Integer.parseInt(spec.split(":")[1]);
        int records = spec.split(":").length > 2 ? Integer.parseInt(spec.split(":")[2]) : 20_000;
        boolean atEnd = n < 0;
        n = Math.max(n, 0);
        MetricRegistry reg = new MetricRegistry();
        try (RedisProcess redis = RedisProcess.builder().start();
             ChronicleJournal journal = ChronicleJournal.open(dir, GB, Durability.PROCESS_CRASH, reg, null, 5_000);
             RedisGateway g = new RedisGateway(RedisConnection.of(redis.uri()), "test", 4, Duration.ofSeconds(1),
                     new MetricRegistry());
             Jedis j = redis.jedis()) {
            g.loadScripts(LuaScript.ENQUEUE);
            long base = System.currentTimeMillis() - 3_000 - 2L * records;
            List<String> a = new ArrayList<>();
            List<String> w = new ArrayList<>();
            List<RecentWrites.Entry> writes = new ArrayList<>();
            List<String> expectedA = new ArrayList<>();
            for (int i = 0; i < records; i++) {
                JobRecord r = new JobRecord(JobId.of("a-" + String.format("%07d", i)), QueueName.of("a"), "t", new byte[] {1},
                        Map.of(), 0, base + 2L * i, 0);
                journal.append(r, JobCodec.encode(r));
                a.add(r.id().value());
                expectedA.add(r.id().value());
                if (i < n) {
                    JobRecord x = new JobRecord(JobId.of("w-" + String.format("%07d", i)), QueueName.of(writeQueue), "t",
                            new byte[] {2}, Map.of(), 0, base + 2L * i + 1, 0);
                    writes.add(new RecentWrites.Entry(base + 2L * i + 1, x, JobCodec.encode(x)));
                    w.add(x.id().value());
                    if (writeQueue.equals("a")) {
                        expectedA.add(x.id().value());
                    }
                }
            }
            if (atEnd) {
                JobRecord x = new JobRecord(JobId.of("w-end"), QueueName.of(writeQueue), "t", new byte[] {2}, Map.of(), 0,
                        base + 2L * records + 1, 0);
                writes.add(new RecentWrites.Entry(base + 2L * records + 1, x, JobCodec.encode(x)));
                w.add(x.id().value());
            }
            RecentWrites recent = new RecentWrites(5_000, 1L << 30);
            recent.restore(writes);
            Replayer r = new Replayer(journal, g, 0, 1_000, reg);
            long t0 = System.nanoTime();
            r.recover(true, recent, 5_000);
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            String stats = j.info("commandstats");
            long calls = Long.parseLong(stats.replaceAll("(?s).*cmdstat_evalsha:calls=(\\d+).*", "$1"));
            System.out.printf("SuccessorMergeIT %s: recover took %d ms, %d script calls; replayed %d restored %d resent %d%n", spec, ms,
                    calls, reg.meter(MetricNames.REPLAYED).getCount(), reg.meter(MetricNames.RESTORED).getCount(),
                    reg.meter(MetricNames.RESENT).getCount());
            assertThat(ids(j, "a")).containsExactlyElementsOf(expectedA);
            if (writeQueue.equals("b")) {
                assertThat(ids(j, "b")).containsExactlyElementsOf(w);
            }
            assertThat(reg.meter(MetricNames.REPLAYED).getCount()).as("the backlog was never replayed").isEqualTo(records);
            if (writeQueue.equals("b")) {
                // The journal's records in full calls (<= 250 jobs) and the writes in a few: not one call per record.
                assertThat(calls).as("script calls").isLessThan(records / 250 + w.size() / 250 + 20);
            }
        }
    }

    /** A queue's job ids in stream order. */
    @SuppressWarnings("unchecked")
    static List<String> ids(Jedis j, String queue) {
        List<String> out = new ArrayList<>();
        byte[] key = RedisKeys.bytes(RedisKeys.stream(QueueName.of(queue)));
        String start = "-";
        while (true) {
            List<Object> entries = (List<Object>) j.sendCommand(redis.clients.jedis.Protocol.Command.XRANGE, key,
                    ascii(start), ascii("+"), ascii("COUNT"), ascii("10000"));
            if (entries.isEmpty()) {
                return out;
            }
            for (Object e : entries) {
                List<?> entry = (List<?>) e;
                start = "(" + new String((byte[]) entry.get(0), java.nio.charset.StandardCharsets.US_ASCII);
                List<?> fields = (List<?>) entry.get(1);
                out.add(JobCodec.decode((byte[]) fields.get(1)).id().value());
            }
        }
    }

    private static byte[] ascii(String s) {
        return s.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    }
}
