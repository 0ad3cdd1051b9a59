package io.spillway.bench.perf;

import com.fasterxml.jackson.databind.JsonNode;
import io.spillway.backend.JobProducer;
import io.spillway.core.JobId;
import io.spillway.core.QueueName;
import io.spillway.core.internal.EnqueueScript;
import io.spillway.core.internal.JobCodec;
import io.spillway.core.internal.JobRecord;
import io.spillway.core.internal.LuaScript;
import io.spillway.core.internal.RedisGateway;
import io.spillway.core.internal.RedisKeys;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.redisson.api.RBlockingQueue;
import org.redisson.api.RedissonClient;
import org.redisson.client.codec.ByteArrayCodec;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.Pipeline;
import redis.clients.jedis.RedisClient;
import redis.clients.jedis.params.SetParams;
import redis.clients.jedis.params.XAddParams;

/**
 * Issue 2/6 enqueue figures, side by side in each repetition:
 * <ol>
 *   <li>one job per call from 1 and 8 threads: JobProducer.enqueue; raw Jedis EVALSHA of the very same
 *       enqueue.lua (same keys, same record size); raw Jedis SET NX EX + XADD (two round trips); raw
 *       XADD (no dedupe: the floor); Redisson RBlockingQueue.offer; BullMQ Queue.add;</li>
 *   <li>batches of {@value #BATCH}: JobProducer.enqueueAll; the same from a write-ahead producer (journal first, then
 *       the replay thread's pipelined script calls: timed until the journal has sent every job to Redis); raw Jedis
 *       one EVALSHA of enqueue.lua per batch
 *       (the same Redis work as enqueueAll); a bare pipeline of XADDs of the same records; Redisson
 *       addAll; BullMQ addBulk.</li>
 * </ol>
 * Results: {@code enqueue.single.<threads>.<system>} and {@code enqueue.batch.<system>} in jobs/s; the ratios of
 * alternating pairs in {@code enqueue.pair.*.ratio} (see {@link #pairs}).
 */
final class EnqueueBench {
    static final int BATCH = 500;
    static final String[] SINGLE = {"spillway", "jedis-lua", "jedis-setnx-xadd", "jedis-xadd", "redisson", "bullmq"};
    static final String[] BATCHED = {"spillway", "spillway-write-ahead", "jedis-lua", "jedis-xadd", "redisson", "bullmq"};

    private final Env env;
    private final Results results;
    private final BullMq bull;
    private final RedissonClient redisson;
    private final byte[] encoded;
    private final byte[] dedupeSeconds = "0".getBytes(StandardCharsets.US_ASCII); // JobProducer's default: no TTL
    private int run;

    EnqueueBench(Env env, Results results, BullMq bull, RedissonClient redisson) {
        this.env = env;
        this.results = results;
        this.bull = bull;
        this.redisson = redisson;
        // The record the raw clients send: what JobCodec makes of a job of the same size as Spillway's.
        this.encoded = JobCodec.encode(new JobRecord(JobId.mint(), QueueName.of("bench-raw"), "noop", env.payload,
                Map.of(), 0, System.currentTimeMillis(), 0));
    }

    void runAll() throws Exception {
        env.autoAofRewrite(false);
        try {
            measureAll();
        } finally {
            env.autoAofRewrite(true);
        }
    }

    private void measureAll() throws Exception {
        int n1 = env.scale(30_000, 5_000);
        int n8 = env.scale(80_000, 16_000);
        int nBatch = env.scale(300_000, 50_000);
        // Warm-up, not recorded: without it the first system of the first repetition runs on a cold JVM.
        for (String system : new String[] {"spillway", "jedis-lua"}) {
            env.flushAndCompactAof();
            single(system, 1, n1 / 3);
            single(system, 8, n8 / 3);
            env.flushAndCompactAof();
            batched(system, nBatch / 3);
        }
        env.flushAndCompactAof();
        batched("spillway-write-ahead", nBatch / 3); // its replay path, warmed like the others' paths
        for (int rep = 0; rep < env.reps; rep++) {
            for (int threads : new int[] {1, 8}) {
                int n = threads == 1 ? n1 : n8;
                for (String system : rotate(SINGLE, rep)) {
                    if (system.equals("bullmq") && !bull.available()) {
                        continue;
                    }
                    env.flushAndCompactAof();
                    double r = single(system, threads, n);
                    results.add("enqueue.single." + threads + "." + system, r);
                    Env.log("enqueue single %d threads %-18s %,10.0f jobs/s", threads, system, r);
                }
            }
            for (String system : rotate(BATCHED, rep)) {
                if (system.equals("bullmq") && !bull.available()) {
                    continue;
                }
                env.flushAndCompactAof();
                long rewrites0 = env.aofRewrites();
                double r = batched(system, nBatch);
                long rewrites1 = env.aofRewrites();
                results.add("enqueue.batch." + system, r);
                Env.log("enqueue batch %-18s %,10.0f jobs/s (%s AOF rewrites of Redis during it)", system, r,
                        rewrites0 < 0 ? "?" : Long.toString(rewrites1 - rewrites0));
            }
            pairs(rep, nBatch);
        }
        env.flushAndCompactAof();
    }

    /** Alternating pairs per repetition, for each ratio target. */
    static final int PAIRS = 8;
    static final int BATCH_PAIRS = 3;

    /**
     * The ratio targets measured in alternating pairs: Spillway, then its anchor right after it (or the other way
     * round, every other pair), each side on a freshly flushed and rewritten AOF as in the runs above (else the
     * second side would run on a Redis holding the first side's jobs), and the pair's own ratio recorded. The
     * machine's drift (other builds on the 2 cores; one system's three repetitions above spread by up to 2x) then
     * moves both sides of a ratio alike, where the medians of runs seconds or minutes apart each move
     * on their own. Results: {@code enqueue.pair.<1|8>.ratio} (JobProducer.enqueue / raw Jedis, same enqueue.lua)
     * and {@code enqueue.pair.batch.ratio} (enqueueAll of 500 / bare pipelined XADD of 500, {@code nBatch} jobs each,
     * as in the runs above: Redis's cost per job grows with what it holds, the status records most).
     */
    private void pairs(int rep, int nBatch) throws Exception {
        for (int threads : new int[] {1, 8}) {
            int t = threads;
            int slice = threads == 1 ? env.scale(4_000, 1_000) : env.scale(16_000, 4_000);
            for (int k = 0; k < PAIRS; k++) {
                pair("enqueue.pair." + t + ".ratio", t + " threads", "jedis-lua", (k + rep) % 2 == 0,
                        system -> single(system, t, slice));
            }
        }
        for (int k = 0; k < BATCH_PAIRS; k++) {
            pair("enqueue.pair.batch.ratio", "batch    ", "jedis-xadd", (k + rep) % 2 == 0, system -> batched(system, nBatch));
        }
    }

    /** One measurement of a system, in jobs/s. */
    private interface Measure {
        double of(String system) throws Exception;
    }

    /** One pair: Spillway and {@code anchor}, each on a freshly flushed, rewritten AOF; records Spillway / anchor. */
    private void pair(String id, String label, String anchor, boolean spillwayFirst, Measure measure) throws Exception {
        env.flushAndCompactAof();
        double first = measure.of(spillwayFirst ? "spillway" : anchor);
        env.flushAndCompactAof();
        double second = measure.of(spillwayFirst ? anchor : "spillway");
        double sp = spillwayFirst ? first : second;
        double other = spillwayFirst ? second : first;
        results.add(id, sp / other);
        Env.log("enqueue pair %s  spillway %,8.0f  %s %,8.0f jobs/s  ratio %.2f (%s first)", label, sp, anchor, other,
                sp / other, spillwayFirst ? "spillway" : anchor);
    }

    static String[] rotate(String[] a, int by) {
        List<String> l = new ArrayList<>(List.of(a));
        Collections.rotate(l, -by);
        return l.toArray(String[]::new);
    }

    private double single(String system, int threads, int n) throws Exception {
        String queue = "bench-single-" + (run++);
        switch (system) {
            case "spillway": {
                Path dir = env.freshDir("journal");
                try (JobProducer p = JobProducer.builder().redis(env.uri()).journalDir(dir).build()) {
                    p.enqueue(queue, "noop", env.payload); // registers the queue (one SADD) outside the timing
                    return Load.opsPerSecond(threads, n, (t, ops) -> {
                        for (int i = 0; i < ops; i++) {
                            p.enqueue(queue, "noop", env.payload);
                        }
                    });
                } finally {
                    Env.deleteRecursively(dir);
                }
            }
            case "jedis-lua": {
                try (RedisClient c = env.client(threads)) {
                    byte[] sha = c.scriptLoad(LuaScript.ENQUEUE.source()).getBytes(StandardCharsets.US_ASCII);
                    QueueName q = QueueName.of(queue);
                    byte[] stream = RedisKeys.bytes(RedisKeys.stream(q));
                    byte[] delayed = RedisKeys.bytes(RedisKeys.delayed(q));
                    String jobPrefix = RedisKeys.jobPrefix(q);
                    return Load.opsPerSecond(threads, n, (t, ops) -> {
                        for (int i = 0; i < ops; i++) {
                            byte[] now = Long.toString(System.currentTimeMillis()).getBytes(StandardCharsets.US_ASCII);
                            // Minted ids, as enqueue's (26-character ULIDs: the same key length, the same Redis work
                            // per key), as the batch anchor's since session 5; until session 6 this one used "t-i".
                            List<byte[]> keys = List.of(stream, delayed, RedisKeys.bytes(jobPrefix + JobId.mint().value()));
                            List<byte[]> args = List.of(now, dedupeSeconds, ZERO, encoded);
                            c.evalsha(sha, keys, args);
                        }
                    });
                }
            }
            case "jedis-setnx-xadd": {
                try (RedisClient c = env.client(threads)) {
                    QueueName q = QueueName.of(queue);
                    byte[] stream = RedisKeys.bytes(RedisKeys.stream(q));
                    String jobPrefix = RedisKeys.jobPrefix(q);
                    return Load.opsPerSecond(threads, n, (t, ops) -> {
                        for (int i = 0; i < ops; i++) {
                            String status = "Q|0|" + System.currentTimeMillis() + "|";
                            if ("OK".equals(c.set(jobPrefix + JobId.mint().value(), status, SetParams.setParams().nx().ex(604_800)))) {
                                c.xadd(stream, XAddParams.xAddParams(), Map.of(J, encoded));
                            }
                        }
                    });
                }
            }
            case "jedis-xadd": {
                try (RedisClient c = env.client(threads)) {
                    byte[] stream = RedisKeys.bytes(RedisKeys.stream(QueueName.of(queue)));
                    return Load.opsPerSecond(threads, n, (t, ops) -> {
                        for (int i = 0; i < ops; i++) {
                            c.xadd(stream, XAddParams.xAddParams(), Map.of(J, encoded));
                        }
                    });
                }
            }
            case "redisson": {
                RBlockingQueue<byte[]> q = redisson.getBlockingQueue(queue, ByteArrayCodec.INSTANCE);
                return Load.opsPerSecond(threads, n, (t, ops) -> {
                    for (int i = 0; i < ops; i++) {
                        q.offer(encoded);
                    }
                });
            }
            case "bullmq": {
                JsonNode r = bull.run("add", Integer.toString(n), Integer.toString(threads));
                return r.path("jobsPerSec").asDouble(Double.NaN);
            }
            default:
                throw new IllegalArgumentException(system);
        }
    }

    private double batched(String system, int n) throws Exception {
        String queue = "bench-batch-" + (run++);
        List<byte[]> payloads = Collections.nCopies(BATCH, env.payload);
        switch (system) {
            case "spillway": {
                Path dir = env.freshDir("journal");
                try (JobProducer p = JobProducer.builder().redis(env.uri()).journalDir(dir).build()) {
                    p.enqueue(queue, "noop", env.payload);
                    return Load.opsPerSecond(1, n, (t, ops) -> {
                        for (int i = 0; i < ops; i += BATCH) {
                            p.enqueueAll(queue, "noop", payloads);
                        }
                    });
                } finally {
                    Env.deleteRecursively(dir);
                }
            }
            case "spillway-write-ahead": {
                Path dir = env.freshDir("journal");
                try (JobProducer p = JobProducer.builder().redis(env.uri()).journalDir(dir).writeAhead(true).build()) {
                    p.enqueue(queue, "noop", env.payload);
                    while (p.journalBacklog() > 0) {
                        Thread.sleep(1);
                    }
                    // Until every job is in Redis: the caller's enqueueAll returns at the journal append.
                    long t0 = System.nanoTime();
                    for (int i = 0; i < n; i += BATCH) {
                        p.enqueueAll(queue, "noop", payloads);
                    }
                    while (p.journalBacklog() > 0) {
                        java.util.concurrent.locks.LockSupport.parkNanos(50_000);
                    }
                    return n / ((System.nanoTime() - t0) / 1e9);
                } finally {
                    Env.deleteRecursively(dir);
                }
            }
            case "jedis-lua": {
                try (Jedis j = env.jedis()) {
                    j.scriptLoad(LuaScript.ENQUEUE.source());
                    QueueName q = QueueName.of(queue);
                    return Load.opsPerSecond(1, n, (t, ops) -> {
                        for (int i = 0; i < ops; i += BATCH) {
                            List<JobRecord> recs = new ArrayList<>(BATCH);
                            List<byte[]> enc = new ArrayList<>(BATCH);
                            for (int k = 0; k < BATCH; k++) {
                                // Minted ids, as enqueueAll's: the status-record keys have the same length (26-character
                                // ULIDs; Redis's work per key grows with it). Until session 5 this anchor used ids of
                                // about 8 characters.
                                recs.add(new JobRecord(JobId.mint(), q, "noop", env.payload, Map.of(), 0, 0, 0));
                                enc.add(encoded);
                            }
                            // Dedupe 0: JobProducer's default, the same Redis work as enqueueAll.
                            RedisGateway.ScriptCall call = EnqueueScript.call(q, recs, enc, System.currentTimeMillis(), 0);
                            j.evalsha(LuaScript.ENQUEUE.shaBytes(), call.keys(), call.args());
                        }
                    });
                }
            }
            case "jedis-xadd": {
                try (Jedis j = env.jedis()) {
                    byte[] stream = RedisKeys.bytes(RedisKeys.stream(QueueName.of(queue)));
                    return Load.opsPerSecond(1, n, (t, ops) -> {
                        for (int i = 0; i < ops; i += BATCH) {
                            try (Pipeline p = j.pipelined()) {
                                for (int k = 0; k < BATCH; k++) {
                                    p.xadd(stream, XAddParams.xAddParams(), Map.of(J, encoded));
                                }
                                p.sync();
                            }
                        }
                    });
                }
            }
            case "redisson": {
                RBlockingQueue<byte[]> q = redisson.getBlockingQueue(queue, ByteArrayCodec.INSTANCE);
                List<byte[]> recs = Collections.nCopies(BATCH, encoded);
                return Load.opsPerSecond(1, n, (t, ops) -> {
                    for (int i = 0; i < ops; i += BATCH) {
                        q.addAll(recs);
                    }
                });
            }
            case "bullmq": {
                JsonNode r = bull.run("addBulk", Integer.toString(n), Integer.toString(BATCH));
                return r.path("jobsPerSec").asDouble(Double.NaN);
            }
            default:
                throw new IllegalArgumentException(system);
        }
    }

    private static final byte[] J = RedisKeys.bytes(RedisKeys.FIELD_JOB);
    private static final byte[] ZERO = "0".getBytes(StandardCharsets.US_ASCII);
}
