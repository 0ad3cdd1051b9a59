package io.spillway.bench.perf;

import io.spillway.backend.JobProducer;
import io.spillway.core.JobId;
import io.spillway.core.QueueName;
import io.spillway.core.internal.JobCodec;
import io.spillway.core.internal.JobRecord;
import io.spillway.core.internal.LuaScript;
import io.spillway.core.internal.RedisKeys;
import io.spillway.testing.RedisProcess;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.RedisClient;

/**
 * A profiling target, not part of the report: one job per call from {@code args[0]} threads, JobProducer.enqueue
 * and raw Jedis EVALSHA of the same enqueue.lua (with minted ids, as Spillway's), alternating, {@code args[1]}
 * seconds each, {@code args[2]} rounds, against one redis-server. For each it prints jobs/s and the CPU per job
 * of the JVM and of redis-server, so that the client's share of a gap on the 2 cores shows.
 * {@code -Dbatch=500} compares enqueueAll of 500 jobs with one script call of 500 minted jobs instead.
 * {@code -DfreshProducer=true} gives each Spillway run a new producer on a new journal, as EnqueueBench does
 * ({@code -DsameDir=true}: each on the journal directory its predecessor closed).
 * {@code -DcompareSentLog=true} runs a producer without the sent log in place of raw Jedis, so that the two producers
 * alternate: both long-lived, or both new for each run with {@code -DfreshProducer=true}.
 * {@code -DnoSentLog=true} turns the producer's sent log off; {@code -Donly=spillway} (or jedis-lua) runs one side only,
 * for a JFR profile.
 */
public final class ProfileSingle {
    private ProfileSingle() {
    }

    /** A producer builder, without the sent log (and the resend of recent writes) with {@code -DnoSentLog=true}. */
    private static JobProducer.Builder builder() {
        return builder(Boolean.getBoolean("noSentLog"));
    }

    private static JobProducer.Builder builder(boolean noSentLog) {
        return noSentLog ? JobProducer.builder().resendAfterRestart(java.time.Duration.ZERO, 0) : JobProducer.builder();
    }

    /** Clock ticks (1/100 s) between two reads of {@code /proc/<pid>/stat} in field {@code i} of those. */
    private static long ticks(String[] before, String[] after, int i) {
        return Long.parseLong(after[i]) - Long.parseLong(before[i]);
    }

    public static void main(String[] args) throws Exception {
        int threads = Integer.parseInt(args[0]);
        long seconds = Long.parseLong(args[1]);
        int rounds = Integer.parseInt(args[2]);
        byte[] payload = new byte[200];
        Path dir = Files.createTempDirectory("profile-journal");
        Path sameDir = dir.resolveSibling(dir.getFileName() + "-again"); // -DsameDir=true
        Path noSentLogDir = dir.resolveSibling(dir.getFileName() + "-nosentlog"); // -DcompareSentLog=true
        com.sun.management.OperatingSystemMXBean os = (com.sun.management.OperatingSystemMXBean)
                java.lang.management.ManagementFactory.getOperatingSystemMXBean();
        try (RedisProcess redis = RedisProcess.builder().start();
             JobProducer p = builder().redis(redis.uri()).journalDir(dir).build()) {
            var pool = new org.apache.commons.pool2.impl.GenericObjectPoolConfig<redis.clients.jedis.Connection>();
            pool.setMaxTotal(threads);
            pool.setMaxIdle(threads);
            RedisClient c = RedisClient.builder().hostAndPort("127.0.0.1", redis.port())
                    .clientConfig(DefaultJedisClientConfig.builder().socketTimeoutMillis(5_000).build())
                    .poolConfig(pool).build();
            long redisPid;
            try (var j = redis.jedis()) {
                redisPid = Long.parseLong(j.info("server").lines().filter(l -> l.startsWith("process_id:"))
                        .findFirst().orElseThrow().substring(11).trim());
            }
            byte[] sha = c.scriptLoad(LuaScript.ENQUEUE.source()).getBytes(StandardCharsets.US_ASCII);
            QueueName q = QueueName.of("profile-raw");
            byte[] stream = RedisKeys.bytes(RedisKeys.stream(q));
            byte[] delayed = RedisKeys.bytes(RedisKeys.delayed(q));
            String jobPrefix = RedisKeys.jobPrefix(q);
            byte[] zero = "0".getBytes(StandardCharsets.US_ASCII);
            // -DcompareSentLog=true without -DfreshProducer: a second producer, without the sent log, for the whole run.
            JobProducer[] noSentLogProducer = {Boolean.getBoolean("compareSentLog") && !Boolean.getBoolean("freshProducer")
                    ? builder(true).redis(redis.uri()).journalDir(noSentLogDir).build()
                    : null};
            // The producer the runs use: p, or with -DfreshProducer=true a new one per run, as EnqueueBench.
            java.util.concurrent.atomic.AtomicReference<JobProducer> current = new java.util.concurrent.atomic.AtomicReference<>(p);
            Load.Body spillway;
            Load.Body raw;
            int batch = Integer.getInteger("batch", 0);
            if (batch == 0) {
                spillway = (t, ops) -> {
                    JobProducer producer = current.get();
                    for (int i = 0; i < ops; i++) {
                        producer.enqueue("profile", "noop", payload);
                    }
                };
                raw = (t, ops) -> {
                    for (int i = 0; i < ops; i++) {
                        byte[] now = Long.toString(System.currentTimeMillis()).getBytes(StandardCharsets.US_ASCII);
                        JobId id = JobId.mint();
                        byte[] encoded = JobCodec.encode(new JobRecord(id, q, "noop", payload, Map.of(), 0,
                                System.currentTimeMillis(), 0));
                        c.evalsha(sha, List.of(stream, delayed, RedisKeys.bytes(jobPrefix + id.value())),
                                List.of(now, zero, zero, encoded));
                    }
                };
            } else {
                // -Dbatch=N: enqueueAll of N jobs against one script call of N minted jobs per round trip (the raw Jedis
                // batch anchor of EnqueueBench), both from every thread.
                java.util.List<byte[]> payloads = java.util.Collections.nCopies(batch, payload);
                spillway = (t, ops) -> {
                    JobProducer producer = current.get();
                    for (int i = 0; i < ops; i += batch) {
                        producer.enqueueAll("profile", "noop", payloads);
                    }
                };
                raw = (t, ops) -> {
                    for (int i = 0; i < ops; i += batch) {
                        java.util.List<JobRecord> recs = new java.util.ArrayList<>(batch);
                        java.util.List<byte[]> enc = new java.util.ArrayList<>(batch);
                        for (int k = 0; k < batch; k++) {
                            JobRecord r = new JobRecord(JobId.mint(), q, "noop", payload, Map.of(), 0, System.currentTimeMillis(), 0);
                            recs.add(r);
                            enc.add(JobCodec.encode(r));
                        }
                        io.spillway.core.internal.RedisGateway.ScriptCall call = io.spillway.core.internal.EnqueueScript.call(q,
                                recs, enc, System.currentTimeMillis(), 0);
                        c.evalsha(sha, call.keys(), call.args());
                    }
                };
            }
            // Size each run from a short probe so that it lasts about `seconds`.
            double rate = Load.opsPerSecond(threads, batch > 0 ? 100_000 : 20_000, raw);
            int n = (int) (rate * seconds);
            for (int round = 0; round < rounds; round++) {
                // -DcompareSentLog=true: a producer without the sent log in place of raw Jedis.
                String other = Boolean.getBoolean("compareSentLog") ? "no-sentlog" : "jedis-lua";
                for (String system : round % 2 == 0 ? new String[] {"spillway", other} : new String[] {other, "spillway"}) {
                    if (!System.getProperty("only", system).equals(system)) {
                        continue;
                    }
                    try (var j = redis.jedis()) {
                        j.flushAll();
                    }
                    p.enqueue("profile", "noop", payload); // the queue's SADD again, after the flush
                    Path freshDir = null;
                    boolean producerRun = !system.equals("jedis-lua");
                    if (system.equals("no-sentlog") && !Boolean.getBoolean("freshProducer")) {
                        current.set(noSentLogProducer[0]); // one for the whole run, like p
                    } else if (Boolean.getBoolean("freshProducer") && producerRun) {
                        // Built, and its queue registered, before the timing starts.
                        freshDir = Boolean.getBoolean("sameDir") ? sameDir : Files.createTempDirectory("profile-fresh");
                        current.set((system.equals("no-sentlog") ? builder(true) : builder()).redis(redis.uri())
                                .journalDir(freshDir).build());
                        current.get().enqueue("profile", "noop", payload);
                    }
                    long cpu0 = os.getProcessCpuTime();
                    String[] self0 = ProfileReplay.procStat(ProcessHandle.current().pid());
                    double rcpu0 = ProfileReplay.redisCpuSeconds(redisPid);
                    double r = Load.opsPerSecond(threads, n, producerRun ? spillway : raw);
                    String[] self1 = ProfileReplay.procStat(ProcessHandle.current().pid());
                    System.out.printf("round %d %-10s %,8.0f jobs/s; CPU per job: java %5.2f us (user %5.2f, system"
                                    + " %5.2f), redis %5.2f us%n",
                            round, system, r, (os.getProcessCpuTime() - cpu0) / 1e3 / n,
                            ticks(self0, self1, 11) * 1e4 / n, ticks(self0, self1, 12) * 1e4 / n,
                            (ProfileReplay.redisCpuSeconds(redisPid) - rcpu0) * 1e6 / n);
                    if (freshDir == null) {
                        current.set(p);
                    } else {
                        current.getAndSet(p).close();
                        if (!Boolean.getBoolean("sameDir")) {
                            Env.deleteRecursively(freshDir);
                        }
                    }
                }
            }
            c.close();
            if (noSentLogProducer[0] != null) {
                noSentLogProducer[0].close();
            }
        } finally {
            Env.deleteRecursively(dir);
            Env.deleteRecursively(sameDir);
            Env.deleteRecursively(noSentLogDir);
        }
        System.exit(0);
    }
}
