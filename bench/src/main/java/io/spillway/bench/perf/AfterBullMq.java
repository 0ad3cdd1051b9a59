package io.spillway.bench.perf;

import io.spillway.backend.JobProducer;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;
import redis.clients.jedis.Jedis;

/**
 * A check, not part of the report: does a BullMQ run leave Redis slower for the system measured after it? On one
 * running redis-server ({@code args[0]}: its port), {@code args[1]} rounds of {@code enqueueAll} of 300,000 jobs (500 per
 * call, a fresh producer each round); every other round first runs a BullMQ {@code addBulk} of 300,000 jobs
 * ({@code bench/node/bullmq-bench.js}). Redis is flushed and its AOF rewritten (untimed) before each measurement, as in
 * the enqueue section. Run from the repository root, after {@code bench/run-benchmarks.sh} built the classpath:
 * <pre>
 * bench/target/redis-7.0/redis-server --port 6399 --appendonly yes --save "" --dir /tmp/ab \
 *     --auto-aof-rewrite-percentage 0 --daemonize yes
 * java $FLAGS -Xmx2g -Xms2g -cp "$(cat bench/target/classpath.txt):bench/target/classes" \
 *     io.spillway.bench.perf.AfterBullMq 6399 8
 * </pre>
 */
public final class AfterBullMq {
    private static final int JOBS = 300_000;

    private AfterBullMq() {
    }

    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        int rounds = Integer.parseInt(args[1]);
        byte[] payload = new byte[200];
        List<byte[]> payloads = Collections.nCopies(500, payload);
        for (int round = 0; round < rounds; round++) {
            boolean afterBull = round % 2 == 1;
            flushAndRewrite(port);
            if (afterBull) {
                Process p = new ProcessBuilder("node", "bench/node/bullmq-bench.js", Integer.toString(port), "addBulk",
                        Integer.toString(JOBS), "500").redirectErrorStream(true).start();
                String out = new String(p.getInputStream().readAllBytes());
                p.waitFor();
                System.out.println("bullmq addBulk: " + out.trim());
                flushAndRewrite(port);
            }
            Path dir = Files.createTempDirectory("after-bullmq");
            try (JobProducer producer = JobProducer.builder().redis(URI.create("redis://127.0.0.1:" + port))
                    .journalDir(dir).build()) {
                String queue = "after-bullmq-" + round;
                producer.enqueue(queue, "noop", payload); // registers the queue outside the timing
                long t0 = System.nanoTime();
                for (int i = 0; i < JOBS; i += payloads.size()) {
                    producer.enqueueAll(queue, "noop", payloads);
                }
                double seconds = (System.nanoTime() - t0) / 1e9;
                System.out.printf("round %d %s: enqueueAll %,.0f jobs/s%n", round, afterBull ? "after BullMQ" : "no BullMQ   ",
                        JOBS / seconds);
            } finally {
                Env.deleteRecursively(dir);
            }
        }
    }

    private static void flushAndRewrite(int port) throws InterruptedException {
        try (Jedis j = new Jedis("127.0.0.1", port)) {
            j.flushAll();
            awaitNoRewrite(j);
            j.bgrewriteaof();
            awaitNoRewrite(j);
        }
    }

    private static void awaitNoRewrite(Jedis j) throws InterruptedException {
        String info;
        do {
            Thread.sleep(20);
            info = j.info("persistence");
        } while (info.contains("aof_rewrite_in_progress:1") || info.contains("aof_rewrite_scheduled:1"));
    }
}
