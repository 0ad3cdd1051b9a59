package io.spillway.bench.perf;

import com.codahale.metrics.MetricRegistry;
import io.spillway.backend.JobProducer;
import io.spillway.backend.NewJob;
import io.spillway.backend.Receipt;
import io.spillway.core.Durability;
import io.spillway.core.HealthState;
import io.spillway.core.JobId;
import io.spillway.core.QueueName;
import io.spillway.core.internal.ChronicleJournal;
import io.spillway.core.internal.EnqueueScript;
import io.spillway.core.internal.JobCodec;
import io.spillway.core.internal.JobRecord;
import io.spillway.core.internal.LuaScript;
import io.spillway.core.internal.RedisGateway;
import io.spillway.core.internal.RedisKeys;
import io.spillway.testing.RedisClusterGroup;
import io.spillway.testing.RedisProcess;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import redis.clients.jedis.AbstractPipeline;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.RedisClusterClient;
import redis.clients.jedis.UnifiedJedis;
import redis.clients.jedis.params.XAddParams;

/**
 * What Redis Cluster costs Spillway, side by side in each repetition, on one 3-master cluster
 * ({@link RedisClusterGroup}: no replicas, AOF everysec) and, for scale, one standalone redis-server of the same binary
 * and settings, in the same JVM and run. Jobs of 200 bytes go to {@value #QUEUES} queues, two on each master:
 * <ol>
 *   <li><b>single</b>: {@code JobProducer.enqueue} from 1 and 8 threads, each thread taking the queues in turn, against
 *       raw Jedis doing the same {@code EVALSHA} of {@code enqueue.lua} (same keys, same arguments, a minted id per
 *       job) through a {@link RedisClusterClient};</li>
 *   <li><b>batch</b>: {@code enqueueAll} of {@value #BATCH} jobs ({@value #PER_QUEUE} on each queue, in runs of one
 *       queue), against raw Jedis sending the producer's script calls for such a batch (one per
 *       {@value #CALL_JOBS} jobs of one queue) in one {@code ClusterPipeline}, and a bare pipelined {@code XADD} of the
 *       same records, one pipeline per batch;</li>
 *   <li><b>replay</b>: a journal of {@code replayJobs} jobs written while no Redis is there (as {@code SpoolBench}
 *       does: {@link ChronicleJournal#append}, what a spooling producer writes), then a producer opened on it with the
 *       cluster healthy, timed from {@code build()} until the journal is empty and the producer CONNECTED. Two journal
 *       layouts: <i>runs</i> (each queue's jobs in runs of 1,000, as batches spool) and <i>interleaved</i> (each job on
 *       the next queue, as single enqueues from threads spread over queues spool: the replayer cuts a script call
 *       wherever the queue changes, so one job per call; a quarter as many jobs, to keep the run short);</li>
 *   <li>the same single (1 thread), batch and replay figures on the standalone redis-server.</li>
 * </ol>
 * Redis is emptied ({@code FLUSHALL} on every master) before each timed run. Ratios are taken within each repetition;
 * every figure is printed as the median of the repetitions with min–max. A producer's receipt that says
 * {@code spooled} (a call over the 200 ms socket timeout) is counted and printed: it would flatter the figure.
 *
 * <pre>
 * java [chronicle.jvm.flags of the root pom] -cp "bench/target/classes:$(cat bench/target/chaos.classpath)" \
 *     io.spillway.bench.perf.ClusterBench [--reps N] [--replay-jobs N]
 * </pre>
 * The redis-server is {@code SPILLWAY_REDIS_SERVER} if set (e.g. {@code bench/target/redis-7.0/redis-server}), else
 * the embedded one.
 */
public final class ClusterBench {
    static final int QUEUES = 6;
    static final int BATCH = 1_200;
    static final int PER_QUEUE = BATCH / QUEUES;
    /** The producer's jobs per script call in {@code enqueueAll} (JobProducer.BATCH_CALL_JOBS). */
    static final int CALL_JOBS = 100;
    /** Jobs of one queue in a row in the "runs" replay journal: one read batch of the replayer. */
    static final int REPLAY_RUN = 1_000;
    private static final Duration ADMIN_TIMEOUT = Duration.ofSeconds(30);
    private static final byte[] J = RedisKeys.bytes(RedisKeys.FIELD_JOB);
    private static final byte[] ZERO = "0".getBytes(StandardCharsets.US_ASCII);

    private final RedisClusterGroup cluster;
    private final RedisProcess standalone;
    private final Env env;
    private final Results results;
    private final List<QueueName> queues;
    private final List<String> names;
    /** The record the raw clients send: what JobCodec makes of a job of the same size as the producer's. */
    private final byte[] encoded;

    private ClusterBench(RedisClusterGroup cluster, RedisProcess standalone, Env env, Results results) {
        this.cluster = cluster;
        this.standalone = standalone;
        this.env = env;
        this.results = results;
        this.queues = spreadQueues();
        this.names = queues.stream().map(QueueName::value).toList();
        this.encoded = JobCodec.encode(new JobRecord(JobId.mint(), queues.get(0), "noop", env.payload, Map.of(), 0,
                System.currentTimeMillis(), 0));
    }

    public static void main(String[] args) throws Exception {
        int reps = 3;
        int replayJobs = 200_000;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--reps" -> reps = Integer.parseInt(args[++i]);
                case "--replay-jobs" -> replayJobs = Integer.parseInt(args[++i]);
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        long t0 = System.nanoTime();
        String loadStart = loadAverage();
        Path scratch = Files.createTempDirectory("cluster-bench");
        Results results = new Results();
        try (RedisClusterGroup cluster = RedisClusterGroup.builder().masters(3).start();
             RedisProcess standalone = RedisProcess.builder().start()) {
            Env env = new Env(standalone, false, reps, scratch);
            ClusterBench bench = new ClusterBench(cluster, standalone, env, results);
            try (Jedis j = cluster.masters().get(0).jedis(ADMIN_TIMEOUT)) {
                String version = j.info("server").lines().filter(l -> l.startsWith("redis_version:")).findFirst().orElse("?");
                Env.log("%s (%s); cluster %s, 3 masters, no replicas; standalone on port %d; AOF everysec everywhere",
                        version, standalone.binary(), cluster.uriString(), standalone.port());
            }
            Env.log("queues %s on masters %s; %d repetitions; replay journal %,d jobs; load average %s", bench.names,
                    bench.mastersOfQueues(), reps, replayJobs, loadStart);
            bench.warmUp(replayJobs / 10);
            for (int rep = 0; rep < reps; rep++) {
                Env.log("=== repetition %d (load average %s)", rep + 1, loadAverage());
                bench.repetition(rep, replayJobs);
            }
        } finally {
            Env.deleteRecursively(scratch);
        }
        Env.log("done in %.0f s; load average %s -> %s", (System.nanoTime() - t0) / 1e9, loadStart, loadAverage());
        print(results);
        System.exit(0); // Chronicle's and Jedis's background threads
    }

    private void warmUp(int replayJobs) throws Exception {
        Env.log("warm-up (not recorded)");
        for (Target t : Target.values()) {
            for (String system : new String[] {"spillway", "jedis-lua"}) {
                single(t, system, 1, 3_000);
                if (t == Target.CLUSTER) {
                    single(t, system, 8, 8_000);
                }
            }
            for (String system : new String[] {"spillway", "jedis-lua", "jedis-xadd"}) {
                batched(t, system, 24_000);
            }
            replay(t, "runs", replayJobs);
            replay(t, "interleaved", replayJobs / 4);
        }
    }

    private void repetition(int rep, int replayJobs) throws Exception {
        // Cluster first or standalone first, and the systems' order, rotate from one repetition to the next.
        List<Target> targets = rep % 2 == 0 ? List.of(Target.CLUSTER, Target.STANDALONE) : List.of(Target.STANDALONE, Target.CLUSTER);
        for (Target t : targets) {
            String p = t.id + ".";
            for (int threads : t == Target.CLUSTER ? new int[] {1, 8} : new int[] {1}) {
                int n = threads == 1 ? 20_000 : 60_000;
                for (String system : EnqueueBench.rotate(new String[] {"spillway", "jedis-lua"}, rep)) {
                    double r = single(t, system, threads, n);
                    results.add(p + "single." + threads + "." + system, r);
                    Env.log("%-10s single, %d thread%s, %-10s %,9.0f jobs/s", t.id, threads, threads == 1 ? " " : "s", system, r);
                }
                results.add(p + "single." + threads + ".ratio", last(p + "single." + threads + ".spillway")
                        / last(p + "single." + threads + ".jedis-lua"));
            }
            for (String system : EnqueueBench.rotate(new String[] {"spillway", "jedis-lua", "jedis-xadd"}, rep)) {
                double r = batched(t, system, 180_000);
                results.add(p + "batch." + system, r);
                Env.log("%-10s batch of %,d, %-10s %,9.0f jobs/s", t.id, BATCH, system, r);
            }
            results.add(p + "batch.ratio.lua", last(p + "batch.spillway") / last(p + "batch.jedis-lua"));
            results.add(p + "batch.ratio.xadd", last(p + "batch.spillway") / last(p + "batch.jedis-xadd"));
            results.add(p + "batch.ratio.lua-xadd", last(p + "batch.jedis-lua") / last(p + "batch.jedis-xadd"));
            for (String layout : List.of("runs", "interleaved")) {
                // One job per script call is slow: a quarter of the jobs keeps the run short.
                int n = layout.equals("runs") ? replayJobs : replayJobs / 4;
                double r = replay(t, layout, n);
                results.add(p + "replay." + layout, r);
                Env.log("%-10s replay, %-11s %,d jobs: %,9.0f jobs/s", t.id, layout, n, r);
            }
        }
        for (String id : List.of("single.1.spillway", "single.1.jedis-lua", "batch.spillway", "batch.jedis-lua",
                "batch.jedis-xadd", "replay.runs", "replay.interleaved")) {
            results.add("cluster-vs-standalone." + id, last("cluster." + id) / last("standalone." + id));
        }
    }

    private double last(String id) {
        List<Double> v = results.get(id).values();
        return v.get(v.size() - 1);
    }

    enum Target {
        CLUSTER("cluster"), STANDALONE("standalone");

        final String id;

        Target(String id) {
            this.id = id;
        }
    }

    private URI uri(Target t) {
        return t == Target.CLUSTER ? cluster.uri() : standalone.uri();
    }

    /** One job per call, from {@code threads} threads; each thread takes the queues in turn. */
    private double single(Target t, String system, int threads, int n) throws Exception {
        flush(t);
        if (system.equals("spillway")) {
            Path dir = env.freshDir("journal");
            try (JobProducer p = JobProducer.builder().redis(uri(t)).journalDir(dir).build()) {
                awaitConnected(p);
                for (String q : names) {
                    p.enqueue(q, "noop", env.payload); // registers the queue (one SADD) outside the timing
                }
                AtomicLong spooled = new AtomicLong();
                double r = Load.opsPerSecond(threads, n, (th, ops) -> {
                    long s = 0;
                    for (int i = 0; i < ops; i++) {
                        s += p.enqueue(names.get((th + i) % QUEUES), "noop", env.payload).spooled() ? 1 : 0;
                    }
                    spooled.addAndGet(s);
                });
                checkSpooled(t.id + " single " + threads, spooled.get(), p);
                return r;
            } finally {
                Env.deleteRecursively(dir);
            }
        }
        try (UnifiedJedis c = client(t, threads)) {
            loadScript(t);
            byte[] sha = LuaScript.ENQUEUE.shaBytes();
            List<byte[]> streams = queues.stream().map(q -> RedisKeys.bytes(RedisKeys.stream(q))).toList();
            List<byte[]> delayed = queues.stream().map(q -> RedisKeys.bytes(RedisKeys.delayed(q))).toList();
            List<String> prefixes = queues.stream().map(RedisKeys::jobPrefix).toList();
            return Load.opsPerSecond(threads, n, (th, ops) -> {
                for (int i = 0; i < ops; i++) {
                    int q = (th + i) % QUEUES;
                    byte[] now = Long.toString(System.currentTimeMillis()).getBytes(StandardCharsets.US_ASCII);
                    // As EnqueueBench's anchor: a minted id per job (the same key length), dedupe 0 (the producer's
                    // default), run-at 0.
                    List<byte[]> keys = List.of(streams.get(q), delayed.get(q), RedisKeys.bytes(prefixes.get(q) + JobId.mint().value()));
                    c.evalsha(sha, keys, List.of(now, ZERO, ZERO, encoded));
                }
            });
        }
    }

    /** Batches of {@value #BATCH} jobs, {@value #PER_QUEUE} on each queue, from one thread. */
    private double batched(Target t, String system, int n) throws Exception {
        flush(t);
        switch (system) {
            case "spillway": {
                List<NewJob> batch = new ArrayList<>(BATCH);
                for (String q : names) {
                    for (int k = 0; k < PER_QUEUE; k++) {
                        batch.add(new NewJob(q, "noop", env.payload));
                    }
                }
                Path dir = env.freshDir("journal");
                try (JobProducer p = JobProducer.builder().redis(uri(t)).journalDir(dir).build()) {
                    awaitConnected(p);
                    for (String q : names) {
                        p.enqueue(q, "noop", env.payload);
                    }
                    long[] spooled = {0};
                    double r = Load.opsPerSecond(1, n, (th, ops) -> {
                        for (int i = 0; i < ops; i += BATCH) {
                            for (Receipt receipt : p.enqueueAll(batch)) {
                                spooled[0] += receipt.spooled() ? 1 : 0;
                            }
                        }
                    });
                    checkSpooled(t.id + " batch", spooled[0], p);
                    return r;
                } finally {
                    Env.deleteRecursively(dir);
                }
            }
            case "jedis-lua": {
                try (UnifiedJedis c = client(t, 1)) {
                    loadScript(t);
                    return Load.opsPerSecond(1, n, (th, ops) -> {
                        for (int i = 0; i < ops; i += BATCH) {
                            long now = System.currentTimeMillis();
                            try (AbstractPipeline p = c.pipelined()) {
                                for (QueueName q : queues) {
                                    for (int from = 0; from < PER_QUEUE; from += CALL_JOBS) {
                                        int size = Math.min(CALL_JOBS, PER_QUEUE - from);
                                        List<JobRecord> recs = new ArrayList<>(size);
                                        for (int k = 0; k < size; k++) {
                                            recs.add(new JobRecord(JobId.mint(), q, "noop", env.payload, Map.of(), 0, 0, 0));
                                        }
                                        RedisGateway.ScriptCall call = EnqueueScript.call(q, recs,
                                                Collections.nCopies(size, encoded), now, 0);
                                        p.evalsha(LuaScript.ENQUEUE.shaBytes(), call.keys(), call.args());
                                    }
                                }
                                p.sync();
                            }
                        }
                    });
                }
            }
            case "jedis-xadd": {
                try (UnifiedJedis c = client(t, 1)) {
                    List<byte[]> streams = queues.stream().map(q -> RedisKeys.bytes(RedisKeys.stream(q))).toList();
                    return Load.opsPerSecond(1, n, (th, ops) -> {
                        for (int i = 0; i < ops; i += BATCH) {
                            try (AbstractPipeline p = c.pipelined()) {
                                for (byte[] stream : streams) {
                                    for (int k = 0; k < PER_QUEUE; k++) {
                                        p.xadd(stream, XAddParams.xAddParams(), Map.of(J, encoded));
                                    }
                                }
                                p.sync();
                            }
                        }
                    });
                }
            }
            default:
                throw new IllegalArgumentException(system);
        }
    }

    /**
     * A producer opened on a journal of {@code n} jobs with Redis healthy: jobs/s from {@code build()} until the
     * journal is empty and the producer CONNECTED; every job checked in its stream.
     */
    private double replay(Target t, String layout, int n) throws Exception {
        flush(t);
        Path dir = env.freshDir("replay");
        try {
            try (ChronicleJournal j = ChronicleJournal.open(dir, SpoolBench.BIG_JOURNAL, Durability.PROCESS_CRASH, new MetricRegistry())) {
                long now = System.currentTimeMillis();
                for (int i = 0; i < n; i++) {
                    QueueName q = queues.get(layout.equals("runs") ? (i / REPLAY_RUN) % QUEUES : i % QUEUES);
                    JobRecord r = new JobRecord(JobId.mint(), q, "noop", env.payload, Map.of(), 0, now, 0);
                    j.append(r, JobCodec.encode(r));
                }
            }
            long t0 = System.nanoTime();
            long deadline = t0 + TimeUnit.MINUTES.toNanos(3);
            double s;
            try (JobProducer p = JobProducer.builder().redis(uri(t)).journalDir(dir).journalMaxBytes(SpoolBench.BIG_JOURNAL).build()) {
                while (p.journalBacklog() > 0 || p.state() != HealthState.CONNECTED) {
                    if (System.nanoTime() > deadline) {
                        throw new IllegalStateException(t + " replay: " + p.journalBacklog() + " jobs left, " + p.state());
                    }
                    LockSupport.parkNanos(100_000);
                }
                s = (System.nanoTime() - t0) / 1e9;
            }
            long inRedis = streamLengths(t);
            if (inRedis != n) {
                results.note(t.id + ".replay." + layout, inRedis + " jobs in Redis after the replay of " + n);
                Env.log("!! %s replay %s: %,d jobs in Redis, expected %,d", t.id, layout, inRedis, n);
            }
            return n / s;
        } finally {
            Env.deleteRecursively(dir);
        }
    }

    private void checkSpooled(String what, long spooled, JobProducer p) {
        if (spooled > 0) {
            results.note(what, spooled + " jobs spooled");
            Env.log("!! %s: %,d jobs spooled (a call over the socket timeout); journal backlog %,d", what, spooled,
                    p.journalBacklog());
        }
    }

    /** A client of {@code poolSize} connections (per node), 5 s timeouts: a plain user's setup, as Env.client. */
    private UnifiedJedis client(Target t, int poolSize) {
        if (t == Target.STANDALONE) {
            return env.client(poolSize);
        }
        var pool = new org.apache.commons.pool2.impl.GenericObjectPoolConfig<redis.clients.jedis.Connection>();
        pool.setMaxTotal(poolSize);
        pool.setMaxIdle(poolSize);
        Set<HostAndPort> seeds = new LinkedHashSet<>();
        for (RedisProcess m : cluster.nodes()) {
            seeds.add(new HostAndPort("127.0.0.1", m.port()));
        }
        return RedisClusterClient.builder()
                .nodes(seeds)
                .clientConfig(DefaultJedisClientConfig.builder().socketTimeoutMillis(5_000).build())
                .poolConfig(pool)
                .build();
    }

    private List<RedisProcess> nodes(Target t) {
        return t == Target.CLUSTER ? cluster.masters() : List.of(standalone);
    }

    private void loadScript(Target t) {
        for (RedisProcess m : nodes(t)) {
            try (Jedis j = m.jedis(ADMIN_TIMEOUT)) {
                j.scriptLoad(LuaScript.ENQUEUE.source());
            }
        }
    }

    /** Empties every master, so that no run pays for the memory of the one before. */
    private void flush(Target t) {
        for (RedisProcess m : nodes(t)) {
            try (Jedis j = m.jedis(ADMIN_TIMEOUT)) {
                j.flushAll();
            }
        }
    }

    /** The jobs in the queues' streams, summed over the masters. */
    private long streamLengths(Target t) {
        long sum = 0;
        for (QueueName q : queues) {
            String key = RedisKeys.stream(q);
            RedisProcess m = t == Target.CLUSTER ? cluster.masterFor(key) : standalone;
            try (Jedis j = m.jedis(ADMIN_TIMEOUT)) {
                sum += j.xlen(key);
            }
        }
        return sum;
    }

    /** {@value #QUEUES} queue names whose keys fall on the masters evenly (two each with three masters). */
    private List<QueueName> spreadQueues() {
        List<RedisProcess> masters = cluster.masters();
        int perMaster = QUEUES / masters.size();
        Map<Integer, Integer> taken = new java.util.HashMap<>();
        List<QueueName> out = new ArrayList<>();
        for (int i = 0; out.size() < QUEUES; i++) {
            QueueName q = QueueName.of("cluster-bench-" + i);
            int port = cluster.masterFor(RedisKeys.stream(q)).port();
            if (taken.merge(port, 1, Integer::sum) <= perMaster) {
                out.add(q);
            }
        }
        return out;
    }

    private List<Integer> mastersOfQueues() {
        return queues.stream().map(q -> cluster.masterFor(RedisKeys.stream(q)).port()).toList();
    }

    private static void awaitConnected(JobProducer p) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (p.state() != HealthState.CONNECTED) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("producer not connected: " + p.state());
            }
            LockSupport.parkNanos(1_000_000);
        }
    }

    private static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).trim();
        } catch (java.io.IOException e) {
            return "?";
        }
    }

    private static void print(Results results) {
        System.out.println();
        System.out.println("| figure | median [min–max] | each repetition |");
        System.out.println("|---|---|---|");
        results.all().forEach((id, s) -> {
            boolean ratio = id.contains("ratio") || id.startsWith("cluster-vs-standalone");
            String fmt = ratio ? "%.2f" : "%,.0f";
            StringBuilder each = new StringBuilder();
            for (double v : s.values()) {
                each.append(each.length() == 0 ? "" : ", ").append(String.format(fmt, v));
            }
            System.out.printf("| %s | " + fmt + " [" + fmt + "–" + fmt + "] | %s |%n", id, s.median(), s.min(), s.max(), each);
        });
        results.notes().forEach((id, text) -> System.out.println("note " + id + ": " + text));
    }
}
