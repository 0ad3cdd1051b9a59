package io.spillway.bench.perf;

import com.fasterxml.jackson.databind.JsonNode;
import io.spillway.backend.JobProducer;
import io.spillway.core.QueueName;
import io.spillway.core.internal.RedisKeys;
import io.spillway.worker.Worker;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.redisson.api.RBlockingQueue;
import org.redisson.api.RedissonClient;
import org.redisson.client.codec.ByteArrayCodec;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.JedisMonitor;
import redis.clients.jedis.Pipeline;

/**
 * Issue 3 figures: end-to-end jobs/s (enqueue → no-op handler → ack) for {@code n} jobs with 1 and 4
 * worker threads, the producer enqueueing in batches of 500 while the workers run. Side by side: Spillway
 * (defaults, and prefetch 200), a raw Jedis LPUSH (pipelined) / BRPOP loop (no ack: the unsafe
 * baseline), Redisson RBlockingQueue addAll/take, BullMQ (concurrency 1/4/50). And the commands per job
 * each sends, counted with MONITOR on a separate smaller run.
 * Results: {@code e2e.<threads>.<system>} jobs/s; {@code rtt.<system>.*} commands per job.
 */
final class EndToEndBench {
    static final String[] SYSTEMS = {"spillway", "spillway-prefetch200", "jedis-brpop", "redisson", "bullmq"};
    /**
     * The systems run, in this order: all of {@link #SYSTEMS}, or those named by {@code -De2e.systems=a,b} (for a
     * side-by-side of two builds of one system without the others' minutes).
     */
    static final String[] RUN = System.getProperty("e2e.systems") == null ? SYSTEMS
            : System.getProperty("e2e.systems").split(",");
    private final Env env;
    private final Results results;
    private final BullMq bull;
    private final RedissonClient redisson;
    private int run;
    /** The harness's own polling connection, left out of the command counts. */
    private volatile String excludeAddr = "none";

    EndToEndBench(Env env, Results results, BullMq bull, RedissonClient redisson) {
        this.env = env;
        this.results = results;
        this.bull = bull;
        this.redisson = redisson;
    }

    void runAll() throws Exception {
        int n = env.scale(100_000, 20_000);
        for (int rep = 0; rep < env.reps; rep++) {
            for (int threads : new int[] {1, 4}) {
                for (String system : EnqueueBench.rotate(RUN, rep)) {
                    if (system.equals("bullmq") && !bull.available()) {
                        continue;
                    }
                    env.flush();
                    long cpu0 = env.redisCpuMicros();
                    double r = run(system, threads, n);
                    double cpuPerJob = (env.redisCpuMicros() - cpu0) / (double) n;
                    results.add("e2e." + threads + "." + system, r);
                    Env.log("e2e %d threads %-22s %,10.0f jobs/s, redis-server CPU %.1f us per job", threads, system, r,
                            cpuPerJob);
                }
            }
            if (bull.available() && java.util.Arrays.asList(RUN).contains("bullmq")) {
                env.flush();
                double r = bull.run("e2e", Integer.toString(n), "50").path("jobsPerSec").asDouble(Double.NaN);
                results.add("e2e.50.bullmq", r);
                Env.log("e2e 50 concurrency bullmq %,10.0f jobs/s", r);
            }
        }
        env.flush();
    }

    double run(String system, int threads, int n) throws Exception {
        String queue = "bench-e2e-" + (run++);
        switch (system) {
            case "spillway":
            case "spillway-prefetch200":
                return spillway(queue, threads, n, system.endsWith("200") ? 200 : -1);
            case "jedis-brpop":
                return brpop(queue, threads, n);
            case "redisson":
                return redisson(queue, threads, n);
            case "bullmq": {
                JsonNode r = bull.run("e2e", Integer.toString(n), Integer.toString(threads));
                return r.path("jobsPerSec").asDouble(Double.NaN);
            }
            default:
                throw new IllegalArgumentException(system);
        }
    }

    private double spillway(String queue, int threads, int n, int prefetch) throws Exception {
        Path journal = env.freshDir("e2e-journal");
        Path state = env.freshDir("e2e-worker");
        AtomicLong handled = new AtomicLong();
        Worker.Builder wb = Worker.builder().redis(env.uri()).queue(queue).concurrency(threads).stateDir(state)
                .handler("noop", job -> handled.incrementAndGet());
        if (prefetch > 0) {
            wb.prefetch(prefetch);
        }
        List<byte[]> batch = Collections.nCopies(500, env.payload);
        try (JobProducer p = JobProducer.builder().redis(env.uri()).journalDir(journal).build();
             Worker w = wb.build();
             Jedis probe = env.jedis()) {
            excludeAddr = addr(probe.clientInfo());
            w.start();
            p.enqueue(queue, "noop", env.payload); // warms the path and registers the queue
            waitFor(() -> handled.get() == 1, 30);
            handled.set(0);
            String stream = RedisKeys.stream(QueueName.of(queue));
            waitFor(() -> probe.xlen(stream) == 0, 30);
            long t0 = System.nanoTime();
            for (int i = 0; i < n; i += 500) {
                p.enqueueAll(queue, "noop", batch.subList(0, Math.min(500, n - i)));
            }
            // Done = every job handled and acked (ack.lua XDELs the entry, so the stream is empty).
            waitFor(() -> handled.get() >= n && probe.xlen(stream) == 0, 600);
            return n / ((System.nanoTime() - t0) / 1e9);
        } finally {
            Env.deleteRecursively(journal);
            Env.deleteRecursively(state);
        }
    }

    private double brpop(String queue, int threads, int n) throws Exception {
        AtomicLong consumed = new AtomicLong();
        List<Thread> consumers = new ArrayList<>();
        long t0 = System.nanoTime();
        for (int t = 0; t < threads; t++) {
            Thread th = new Thread(() -> {
                try (Jedis j = env.jedis()) {
                    while (consumed.get() < n) {
                        List<String> r = j.brpop(1, queue);
                        if (r != null) {
                            consumed.incrementAndGet();
                        }
                    }
                }
            }, "brpop-" + t);
            th.start();
            consumers.add(th);
        }
        try (Jedis j = env.jedis()) {
            String body = new String(env.payload, java.nio.charset.StandardCharsets.ISO_8859_1);
            for (int i = 0; i < n; i += 500) {
                try (Pipeline p = j.pipelined()) {
                    for (int k = 0; k < Math.min(500, n - i); k++) {
                        p.lpush(queue, body);
                    }
                    p.sync();
                }
            }
        }
        waitFor(() -> consumed.get() >= n, 600);
        double r = n / ((System.nanoTime() - t0) / 1e9);
        for (Thread th : consumers) {
            th.join();
        }
        return r;
    }

    private double redisson(String queue, int threads, int n) throws Exception {
        RBlockingQueue<byte[]> q = redisson.getBlockingQueue(queue, ByteArrayCodec.INSTANCE);
        AtomicLong consumed = new AtomicLong();
        List<Thread> consumers = new ArrayList<>();
        long t0 = System.nanoTime();
        for (int t = 0; t < threads; t++) {
            Thread th = new Thread(() -> {
                try {
                    while (consumed.get() < n) {
                        if (q.poll(1, TimeUnit.SECONDS) != null) {
                            consumed.incrementAndGet();
                        }
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }, "redisson-" + t);
            th.start();
            consumers.add(th);
        }
        List<byte[]> batch = Collections.nCopies(500, env.payload);
        for (int i = 0; i < n; i += 500) {
            q.addAll(batch.subList(0, Math.min(500, n - i)));
        }
        waitFor(() -> consumed.get() >= n, 600);
        double r = n / ((System.nanoTime() - t0) / 1e9);
        for (Thread th : consumers) {
            th.join();
        }
        return r;
    }

    /**
     * Commands Redis received per job (MONITOR), for a smaller run of each system: client commands (a
     * pipeline of k commands counts k; each is one command Redis parses, not one network round trip) and
     * the commands scripts ran inside Redis.
     */
    void countCommands() throws Exception {
        int n = env.scale(20_000, 5_000);
        for (String system : new String[] {"spillway-enqueue", "spillway-enqueueAll", "spillway", "spillway-prefetch200", "jedis-brpop",
            "redisson", "bullmq"}) {
            if (system.equals("bullmq") && !bull.available()) {
                continue;
            }
            for (int threads : system.startsWith("spillway-enq") ? new int[] {1} : new int[] {1, 4}) {
                env.flush();
                Map<String, Long> fromClients = new TreeMap<>();
                Map<String, Long> lua = new TreeMap<>();
                Jedis mon = env.jedis();
                Thread monitor = new Thread(() -> {
                    try {
                        mon.monitor(new JedisMonitor() {
                            @Override
                            public void onCommand(String line) {
                                int close = line.indexOf(']');
                                int q1 = line.indexOf('"', close);
                                int q2 = q1 < 0 ? -1 : line.indexOf('"', q1 + 1);
                                if (close < 0 || q2 < 0) {
                                    return;
                                }
                                String cmd = line.substring(q1 + 1, q2).toUpperCase();
                                String who = line.substring(0, close);
                                if (who.endsWith(" " + excludeAddr)) {
                                    return;
                                }
                                boolean fromLua = who.contains("lua");
                                if (fromLua) {
                                    lua.merge(cmd, 1L, Long::sum);
                                } else {
                                    fromClients.merge(cmd, 1L, Long::sum);
                                }
                            }
                        });
                    } catch (RuntimeException e) {
                        // closed from outside: the count is over
                    }
                }, "monitor");
                monitor.setDaemon(true);
                monitor.start();
                Thread.sleep(200);
                if (system.startsWith("spillway-enq")) {
                    enqueueOnly(system.endsWith("All"), n);
                } else {
                    run(system, threads, n);
                }
                Thread.sleep(300);
                mon.disconnect();
                monitor.join(2_000);
                synchronized (fromClients) {
                    // Background housekeeping (heartbeats, metrics sampling, PING, INFO) is included: it is what Redis saw.
                    long c = fromClients.values().stream().mapToLong(Long::longValue).sum();
                    long l = lua.values().stream().mapToLong(Long::longValue).sum();
                    String key = "rtt." + system + "." + threads;
                    results.add(key + ".client", (double) c / n);
                    results.add(key + ".lua", (double) l / n);
                    results.note(key + ".detail", "client: " + perJob(fromClients, n) + "; inside scripts: " + perJob(lua, n));
                    Env.log("commands/job %s %d threads: client %.3f, in scripts %.3f  %s", system, threads, (double) c / n,
                            (double) l / n, perJob(fromClients, n));
                }
            }
        }
        env.flush();
    }

    /** Only the producer's side: n single enqueues, or n jobs through enqueueAll(500). */
    private void enqueueOnly(boolean batched, int n) {
        Path journal = env.freshDir("rtt-journal");
        try (JobProducer p = JobProducer.builder().redis(env.uri()).journalDir(journal).build()) {
            if (batched) {
                List<byte[]> batch = Collections.nCopies(500, env.payload);
                for (int i = 0; i < n; i += 500) {
                    p.enqueueAll("bench-rtt", "noop", batch);
                }
            } else {
                for (int i = 0; i < n; i++) {
                    p.enqueue("bench-rtt", "noop", env.payload);
                }
            }
        } finally {
            Env.deleteRecursively(journal);
        }
    }

    private static String addr(String clientInfo) {
        for (String f : clientInfo.trim().split(" ")) {
            if (f.startsWith("addr=")) {
                return f.substring(5);
            }
        }
        return "none";
    }

    private static String perJob(Map<String, Long> counts, int n) {
        StringBuilder b = new StringBuilder();
        counts.entrySet().stream().sorted((a, c) -> Long.compare(c.getValue(), a.getValue())).limit(8).forEach(e -> {
            if (b.length() > 0) {
                b.append(", ");
            }
            b.append(e.getKey()).append(' ').append(String.format("%.3f", (double) e.getValue() / n));
        });
        return b.toString();
    }

    interface Check {
        boolean ok() throws Exception;
    }

    static void waitFor(Check c, int seconds) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (!c.ok()) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("timed out after " + seconds + " s");
            }
            Thread.sleep(2);
        }
    }
}
