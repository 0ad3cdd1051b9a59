package io.spillway.bench.perf;

import io.spillway.backend.JobProducer;
import io.spillway.core.HealthState;
import io.spillway.core.QueueName;
import io.spillway.core.internal.JobCodec;
import io.spillway.core.internal.RedisKeys;
import io.spillway.testing.RedisProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.StreamEntryID;

/**
 * What the producer's write-ahead mode costs, side by side with the default mode, in one run on one Redis (AOF
 * everysec; the mode is for a Redis without persistence, but the cost is the producer's and Redis's work, which
 * persistence barely changes here). Alternating rounds, {@code reps} of each:
 * <ul>
 *   <li><b>single enqueue, one thread, as fast as it goes</b> ({@code n} jobs of 200 bytes): the caller's rate, and the
 *       rate at which the jobs are in Redis (until the journal backlog is 0; the default mode's jobs are in Redis when
 *       enqueue returns);</li>
 *   <li><b>enqueue → in Redis</b> at a steady 2,000 jobs/s for 5 s: the time from enqueue's return to the job's stream
 *       entry (the entry id's millisecond, Redis's clock, minus the caller's clock at return: the same machine),
 *       p50 / p99 / max, in whole milliseconds.</li>
 * </ul>
 * {@code java <chronicle flags> -cp <bench classpath> io.spillway.bench.perf.WriteAheadBench [n] [reps]}; the Redis is
 * {@code SPILLWAY_REDIS_SERVER} if set (e.g. {@code bench/target/redis-7.0/redis-server}), else the embedded one.
 */
public final class WriteAheadBench {
    private WriteAheadBench() {
    }

    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 200_000;
        int reps = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        byte[] payload = new byte[200];
        Path scratch = Files.createTempDirectory("write-ahead-bench");
        Map<String, List<Double>> figures = new java.util.TreeMap<>();
        try (RedisProcess redis = RedisProcess.builder().appendOnly(true).appendFsync("everysec").start();
             Jedis admin = redis.jedis(java.time.Duration.ofSeconds(30))) {
            System.out.println("redis " + admin.info("server").lines().filter(l -> l.startsWith("redis_version"))
                    .findFirst().orElse("?") + ", " + n + " jobs per round, " + reps + " rounds");
            for (int rep = 0; rep < reps; rep++) {
                for (boolean wa : rep % 2 == 0 ? new boolean[] {false, true} : new boolean[] {true, false}) {
                    String mode = wa ? "write-ahead" : "default";
                    admin.flushAll();
                    Path journal = scratch.resolve(mode + "-" + rep);
                    try (JobProducer p = JobProducer.builder().redis(redis.uri()).journalDir(journal).writeAhead(wa).build()) {
                        awaitConnected(p);
                        String q = "wa-bench-" + rep;
                        long t0 = System.nanoTime();
                        for (int i = 0; i < n; i++) {
                            p.enqueue(q, "t", payload);
                        }
                        long t1 = System.nanoTime();
                        while (p.journalBacklog() > 0) {
                            LockSupport.parkNanos(100_000);
                        }
                        long t2 = System.nanoTime();
                        double callers = n / ((t1 - t0) / 1e9);
                        double inRedis = n / ((t2 - t0) / 1e9);
                        add(figures, mode + " enqueue calls/s", callers);
                        add(figures, mode + " in Redis, jobs/s", inRedis);
                        long xlen = admin.xlen(RedisKeys.stream(QueueName.of(q)));
                        if (xlen != n) {
                            throw new IllegalStateException(mode + ": " + xlen + " jobs in Redis, expected " + n);
                        }

                        String lq = "wa-bench-latency-" + rep;
                        Map<String, Long> returnedAt = new HashMap<>();
                        long start = System.nanoTime();
                        for (int i = 0; i < 10_000; i++) {
                            long due = start + i * 500_000L; // 2,000 per second
                            while (System.nanoTime() < due) {
                                LockSupport.parkNanos(due - System.nanoTime());
                            }
                            String id = p.enqueue(lq, "t", payload).jobId();
                            returnedAt.put(id, System.currentTimeMillis());
                        }
                        while (p.journalBacklog() > 0) {
                            LockSupport.parkNanos(100_000);
                        }
                        long[] lat = latencies(admin, lq, returnedAt);
                        add(figures, mode + " enqueue->in Redis p50 ms", lat[lat.length / 2]);
                        add(figures, mode + " enqueue->in Redis p99 ms", lat[(int) (lat.length * 0.99)]);
                        add(figures, mode + " enqueue->in Redis max ms", lat[lat.length - 1]);
                        System.out.printf("round %d %-11s enqueue %,9.0f calls/s, in Redis %,9.0f jobs/s; enqueue->in Redis"
                                        + " p50 %d ms, p99 %d ms, max %d ms%n", rep, mode, callers, inRedis, lat[lat.length / 2],
                                lat[(int) (lat.length * 0.99)], lat[lat.length - 1]);
                    }
                }
            }
        } finally {
            Env.deleteRecursively(scratch);
        }
        System.out.println();
        System.out.println("| figure | median of " + reps + " [min–max] |");
        System.out.println("|---|---|");
        figures.forEach((k, v) -> {
            double[] s = v.stream().mapToDouble(Double::doubleValue).sorted().toArray();
            System.out.printf("| %s | %,.0f [%,.0f–%,.0f] |%n", k, s[s.length / 2], s[0], s[s.length - 1]);
        });
    }

    private static void add(Map<String, List<Double>> figures, String name, double v) {
        figures.computeIfAbsent(name, k -> new ArrayList<>()).add(v);
    }

    private static void awaitConnected(JobProducer p) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (p.state() != HealthState.CONNECTED) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("producer not connected");
            }
            LockSupport.parkNanos(1_000_000);
        }
    }

    /** Per job: its stream entry's millisecond minus the caller's clock when enqueue returned; sorted. */
    private static long[] latencies(Jedis admin, String queue, Map<String, Long> returnedAt) {
        byte[] key = RedisKeys.bytes(RedisKeys.stream(QueueName.of(queue)));
        List<Long> out = new ArrayList<>();
        byte[] from = "-".getBytes();
        while (true) {
            // The binary XRANGE's raw reply: [[id, [field, value, ...]], ...].
            List<Object> batch = admin.xrange(key, from, "+".getBytes(), 5_000);
            String last = null;
            for (Object o : batch) {
                List<?> entry = (List<?>) o;
                String id = new String((byte[]) entry.get(0), java.nio.charset.StandardCharsets.US_ASCII);
                List<?> fields = (List<?>) entry.get(1);
                byte[] job = (byte[]) fields.get(1);
                Long at = returnedAt.get(JobCodec.decode(job).id().value());
                if (at != null) {
                    out.add(Math.max(0, new StreamEntryID(id).getTime() - at));
                }
                last = id;
            }
            if (last == null) {
                break;
            }
            from = ("(" + last).getBytes();
        }
        if (out.size() != returnedAt.size()) {
            throw new IllegalStateException(out.size() + " of " + returnedAt.size() + " jobs found in Redis");
        }
        return out.stream().mapToLong(Long::longValue).sorted().toArray();
    }
}
