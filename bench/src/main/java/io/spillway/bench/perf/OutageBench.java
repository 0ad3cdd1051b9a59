package io.spillway.bench.perf;

import com.fasterxml.jackson.databind.JsonNode;
import io.spillway.backend.JobProducer;
import io.spillway.backend.Receipt;
import io.spillway.core.HealthState;
import io.spillway.core.QueueName;
import io.spillway.core.internal.RedisKeys;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.locks.LockSupport;
import org.redisson.api.RBlockingQueue;
import org.redisson.api.RedissonClient;
import org.redisson.client.codec.ByteArrayCodec;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.RedisClient;
import redis.clients.jedis.params.XAddParams;

/**
 * Issue 6: Redis SIGKILLed for {@value #DOWN_MS} ms while four callers enqueue one job at a time, paced
 * to {@value #RATE}/s each, all at once in the same window: Spillway (JobProducer.enqueue), raw Jedis
 * (XADD through a pooled RedisClient), Redisson (RBlockingQueue.offer, default config), BullMQ
 * (Queue.add). Then Redis restarts from its AOF (everysec) and each system's jobs in Redis are counted
 * against the calls that returned success: the difference is what that system lost.
 * Results {@code outage.<system>.*}; {@link #timelines} = {seconds since window start, latency ms, ok}.
 */
final class OutageBench {
    static final int RATE = 500;
    static final long BEFORE_MS = 2_000;
    static final long DOWN_MS = 5_000;
    static final long AFTER_MS = 5_000;
    static final String[] SYSTEMS = {"spillway", "jedis", "redisson", "bullmq"};

    private final Env env;
    private final Results results;
    private final BullMq bull;
    private final RedissonClient redisson;
    final Map<String, List<double[]>> timelines = new LinkedHashMap<>();

    OutageBench(Env env, Results results, BullMq bull, RedissonClient redisson) {
        this.env = env;
        this.results = results;
        this.bull = bull;
        this.redisson = redisson;
    }

    private static final class Track {
        final List<double[]> points = new ArrayList<>();
        final Map<String, Integer> errors = new TreeMap<>();
        long ok;
        long failed;
    }

    interface Call {
        boolean enqueue() throws Exception;
    }

    void run() throws Exception {
        env.flush();
        Path journal = env.freshDir("outage");
        String tag = Long.toString(System.nanoTime());
        QueueName spQ = QueueName.of("outage-spillway-" + tag);
        String jedisStream = "outage-jedis-" + tag;
        String redissonList = "outage-redisson-" + tag;
        long windowStart = System.currentTimeMillis() + 1_500;
        long windowEnd = windowStart + BEFORE_MS + DOWN_MS + AFTER_MS;
        Map<String, Track> tracks = new LinkedHashMap<>();
        JsonNode[] bullResult = new JsonNode[1];
        try (JobProducer producer = JobProducer.builder().redis(env.uri()).journalDir(journal).build();
             RedisClient jedis = env.client(4)) {
            RBlockingQueue<byte[]> rq = redisson.getBlockingQueue(redissonList, ByteArrayCodec.INSTANCE);
            producer.enqueue(spQ.value(), "noop", env.payload);
            jedis.xadd(RedisKeys.bytes(jedisStream), XAddParams.xAddParams(), Map.of(new byte[] {'j'}, env.payload));
            rq.offer(env.payload);
            Map<String, Call> calls = new LinkedHashMap<>();
            calls.put("spillway", () -> {
                Receipt r = producer.enqueue(spQ.value(), "noop", env.payload);
                return r != null;
            });
            calls.put("jedis", () -> jedis.xadd(RedisKeys.bytes(jedisStream), XAddParams.xAddParams(),
                    Map.of(new byte[] {'j'}, env.payload)) != null);
            calls.put("redisson", () -> rq.offer(env.payload));
            List<Thread> threads = new ArrayList<>();
            for (var e : calls.entrySet()) {
                Track t = new Track();
                tracks.put(e.getKey(), t);
                Thread th = new Thread(() -> pace(e.getValue(), t, windowStart, windowEnd), "outage-" + e.getKey());
                th.start();
                threads.add(th);
            }
            Thread bullThread = null;
            if (bull.available()) {
                bullThread = new Thread(() -> {
                    try {
                        bullResult[0] = bull.run("outage", Long.toString(windowEnd), Integer.toString(RATE));
                    } catch (RuntimeException ex) {
                        results.note("outage.bullmq.error", ex.toString());
                    }
                }, "outage-bullmq");
                bullThread.start();
            }
            sleepUntil(windowStart + BEFORE_MS);
            long killedAt = System.currentTimeMillis();
            env.redis.kill();
            sleepUntil(killedAt + DOWN_MS);
            long restartAt = System.currentTimeMillis();
            env.redis.restart();
            long upAt = System.currentTimeMillis();
            Env.log("outage: Redis killed at +%d ms, restarted at +%d ms, answering at +%d ms", killedAt - windowStart,
                    restartAt - windowStart, upAt - windowStart);
            results.add("outage.window.killedAtS", (killedAt - windowStart) / 1e3);
            results.add("outage.window.upAtS", (upAt - windowStart) / 1e3);
            for (Thread th : threads) {
                th.join();
            }
            if (bullThread != null) {
                bullThread.join();
            }
            // Let Spillway replay what it spooled before counting.
            long deadline = System.currentTimeMillis() + 60_000;
            while ((producer.state() != HealthState.CONNECTED || producer.journalBacklog() > 0) && System.currentTimeMillis() < deadline) {
                Thread.sleep(5);
            }
            Thread.sleep(1_500); // a restart detected by the heartbeat triggers the resend of recent writes
            while ((producer.state() != HealthState.CONNECTED || producer.journalBacklog() > 0) && System.currentTimeMillis() < deadline) {
                Thread.sleep(5);
            }
            try (Jedis j = env.jedis()) {
                long inSp = j.xlen(RedisKeys.stream(spQ)) - 0;
                long inJedis = j.xlen(jedisStream);
                long inRedisson = j.llen(redissonList);
                // The warm-up job of each is in both counts (accepted and in Redis).
                record("spillway", tracks.get("spillway"), inSp - 1, windowStart);
                record("jedis", tracks.get("jedis"), inJedis - 1, windowStart);
                record("redisson", tracks.get("redisson"), inRedisson - 1, windowStart);
            }
            if (bullResult[0] != null && !bullResult[0].has("error")) {
                JsonNode b = bullResult[0];
                Track t = new Track();
                t.ok = b.path("ok").asLong();
                t.failed = b.path("failed").asLong();
                b.path("errors").fields().forEachRemaining(e -> t.errors.put(e.getKey(), e.getValue().asInt()));
                for (JsonNode pt : b.path("timeline")) {
                    t.points.add(new double[] {(pt.get(0).asLong() - windowStart) / 1e3, pt.get(1).asDouble() / 1e3, pt.get(2).asDouble()});
                }
                record("bullmq", t, b.path("inRedis").asLong(), windowStart);
            } else if (bullResult[0] != null) {
                results.note("outage.bullmq.error", bullResult[0].path("error").asText());
            }
        } finally {
            if (!env.redis.isAlive()) {
                env.redis.restart();
            }
            Env.deleteRecursively(journal);
        }
        env.flush();
    }

    private void record(String system, Track t, long inRedis, long windowStart) {
        t.points.removeIf(p -> p[0] < 0);
        double[] lat = t.points.stream().mapToDouble(p -> p[1]).sorted().toArray();
        double maxMs = lat.length == 0 ? Double.NaN : lat[lat.length - 1];
        double p50 = lat.length == 0 ? Double.NaN : lat[(int) Math.min(lat.length - 1, Math.ceil(0.5 * lat.length) - 1)];
        double p99 = lat.length == 0 ? Double.NaN : lat[(int) Math.min(lat.length - 1, Math.ceil(0.99 * lat.length) - 1)];
        // Calls that returned success, and of those, how many are not in Redis at the end.
        long accepted = t.ok;
        long lost = Math.max(0, accepted - inRedis);
        results.add("outage." + system + ".calls", t.ok + t.failed);
        results.add("outage." + system + ".ok", t.ok);
        results.add("outage." + system + ".failed", t.failed);
        results.add("outage." + system + ".inRedis", inRedis);
        results.add("outage." + system + ".lost", lost);
        results.add("outage." + system + ".p50ms", p50);
        results.add("outage." + system + ".p99ms", p99);
        results.add("outage." + system + ".maxMs", maxMs);
        results.note("outage." + system + ".errors", t.errors.isEmpty() ? "none" : t.errors.toString());
        timelines.put("outage." + system, t.points);
        Env.log("outage %-9s calls %d ok %d threw %d, in Redis %d, lost %d; latency p50 %.2f p99 %.1f max %.0f ms; errors %s", system,
                t.ok + t.failed, t.ok, t.failed, inRedis, lost, p50, p99, maxMs, t.errors);
    }

    private static void pace(Call call, Track t, long start, long end) {
        sleepUntil(start);
        long gapNs = 1_000_000_000L / RATE;
        long next = System.nanoTime();
        while (System.currentTimeMillis() < end) {
            long s = System.nanoTime();
            long wall = System.currentTimeMillis();
            boolean ok;
            try {
                ok = call.enqueue();
                if (!ok) {
                    t.errors.merge("returned false", 1, Integer::sum);
                }
            } catch (Exception e) {
                ok = false;
                String m = e.getClass().getSimpleName() + ": " + String.valueOf(e.getMessage());
                t.errors.merge(m.length() > 90 ? m.substring(0, 90) : m, 1, Integer::sum);
            }
            double lat = (System.nanoTime() - s) / 1e6;
            if (ok) {
                t.ok++;
            } else {
                t.failed++;
            }
            t.points.add(new double[] {(wall - start) / 1e3, lat, ok ? 1 : 0});
            next += gapNs;
            long wait = next - System.nanoTime();
            if (wait > 0) {
                LockSupport.parkNanos(wait);
            } else {
                next = System.nanoTime();
            }
        }
    }

    private static void sleepUntil(long epochMs) {
        long d;
        while ((d = epochMs - System.currentTimeMillis()) > 0) {
            LockSupport.parkNanos(d * 1_000_000L);
        }
    }
}
