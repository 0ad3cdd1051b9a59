package io.spillway.worker;

import io.spillway.core.RedisConnection;
import java.io.FileOutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;

/**
 * A worker process for crash tests. Every handler call that ends appends the job id as one line to the
 * record file (one unbuffered write: it survives a SIGKILL of this JVM) — the tests count jobs from that
 * file, never from the worker's counters. Jobs whose id starts with "slow" first print
 * {@code handling <id>} and sleep; jobs whose id starts with "ckpt" resume from their last checkpoint and save one
 * every 50 ms, printing {@code checkpoint <id> <step> saved=<true|false>}.
 *
 * <p>Args: redisUri queue recordFile stateDir concurrency prefetch leaseMs slowMs [everyJobMs [shutdownTimeoutMs]]
 *
 * <p>Runs as docs/worker.md tells a plain {@code main} to: a shutdown hook closes the worker (on SIGTERM) and main
 * waits in {@link Worker#awaitClosed()}.
 */
public final class WorkerMain {
    public static void main(String[] args) throws Exception {
        URI redis = URI.create(args[0]);
        String queue = args[1];
        Path record = Path.of(args[2]);
        Path stateDir = Path.of(args[3]);
        int concurrency = Integer.parseInt(args[4]);
        int prefetch = Integer.parseInt(args[5]);
        long leaseMs = Long.parseLong(args[6]);
        long slowMs = Long.parseLong(args[7]);
        long everyJobMs = args.length > 8 ? Long.parseLong(args[8]) : 0;
        Duration shutdownTimeout = args.length > 9 ? Duration.ofMillis(Long.parseLong(args[9])) : Worker.DEFAULT_SHUTDOWN_TIMEOUT;
        FileOutputStream out = new FileOutputStream(record.toFile(), true);
        Worker worker = Worker.builder()
                .redis(RedisConnection.builder(redis).socketTimeout(Duration.ofMillis(500)).build())
                .queue(queue)
                .concurrency(concurrency)
                .prefetch(prefetch)
                .leaseDuration(Duration.ofMillis(leaseMs))
                .fetchBlock(Duration.ofMillis(100))
                .stateDir(stateDir)
                .shutdownTimeout(shutdownTimeout)
                .handler("work", job -> {
                    if (job.id().startsWith("ckpt")) {
                        // A long job that resumes from its last checkpoint: one step every 50 ms, each one saved.
                        int from = job.lastCheckpoint().map(Integer::parseInt).orElse(0);
                        System.out.println("resumed " + job.id() + " from " + from);
                        for (int step = from + 1; step <= 100_000; step++) {
                            Thread.sleep(50);
                            boolean saved = job.checkpoint(Integer.toString(step));
                            System.out.println("checkpoint " + job.id() + " " + step + " saved=" + saved);
                        }
                    }
                    if (job.id().startsWith("slow")) {
                        System.out.println("handling " + job.id());
                        Thread.sleep(slowMs);
                    }
                    if (everyJobMs > 0) {
                        Thread.sleep(everyJobMs);
                    }
                    byte[] line = (job.id() + "\n").getBytes(StandardCharsets.UTF_8);
                    synchronized (out) {
                        out.write(line);
                    }
                })
                .build();
        worker.start();
        Runtime.getRuntime().addShutdownHook(new Thread(worker::close, "spillway-worker-shutdown"));
        System.out.println("worker started " + worker.name());
        worker.awaitClosed();
    }
}
