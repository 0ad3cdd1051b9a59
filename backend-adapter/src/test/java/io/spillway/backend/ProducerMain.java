package io.spillway.backend;

import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;

/**
 * A producer process for crash tests. Args: redis URI, journal dir, queue, job count, receipts file, then any of
 * {@code hold} (stay up once done, until killed), {@code cancel-every=N} (cancel every Nth job right after its
 * enqueue, writing the id to {@code <receipts file>.cancelled} once the answer is CANCELLED) and {@code write-ahead}
 * (the producer's write-ahead mode; DONE then also waits until it is connected, its recovery's re-send done) and
 * {@code pause-at=N:MS} (sleep MS milliseconds after the Nth enqueue) and {@code payload=N} (each job's payload is
 * {@code "job i"} padded to N bytes) and {@code rate=N} (at most N enqueues a second).
 * Writes each accepted job id to the receipts file (flushed per line) right after enqueue returns: the
 * independent record of what was accepted. Prints READY, SPOOLED (first spooled receipt) and DONE.
 */
public final class ProducerMain {
    private ProducerMain() {
    }

    public static void main(String[] args) throws IOException, InterruptedException {
        URI redis = URI.create(args[0]);
        Path journal = Path.of(args[1]);
        String queue = args[2];
        int count = Integer.parseInt(args[3]);
        boolean hold = false;
        int cancelEvery = 0;
        boolean writeAhead = false;
        int pauseAt = -1;
        long pauseMillis = 0;
        int payload = 0;
        int rate = 0;
        for (int i = 5; i < args.length; i++) {
            if (args[i].equals("hold")) {
                hold = true;
            } else if (args[i].equals("write-ahead")) {
                writeAhead = true;
            } else if (args[i].startsWith("pause-at=")) {
                String[] at = args[i].substring("pause-at=".length()).split(":");
                pauseAt = Integer.parseInt(at[0]);
                pauseMillis = Long.parseLong(at[1]);
            } else if (args[i].startsWith("rate=")) {
                rate = Integer.parseInt(args[i].substring("rate=".length()));
            } else if (args[i].startsWith("payload=")) {
                payload = Integer.parseInt(args[i].substring("payload=".length()));
            } else if (args[i].startsWith("cancel-every=")) {
                cancelEvery = Integer.parseInt(args[i].substring("cancel-every=".length()));
            } else {
                throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        try (PrintStream receipts = new PrintStream(new FileOutputStream(args[4], true), true, StandardCharsets.UTF_8);
             PrintStream cancelled = new PrintStream(new FileOutputStream(args[4] + ".cancelled", true), true,
                     StandardCharsets.UTF_8);
             JobProducer p = JobProducer.builder().redis(redis).journalDir(journal)
                     .reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(300)).writeAhead(writeAhead).build()) {
            System.out.println("READY");
            boolean announced = false;
            long started = System.nanoTime();
            for (int i = 0; i < count; i++) {
                if (rate > 0) {
                    long due = started + i * 1_000_000_000L / rate;
                    while (System.nanoTime() < due) {
                        java.util.concurrent.locks.LockSupport.parkNanos(due - System.nanoTime());
                    }
                }
                byte[] body = ("job " + i).getBytes(StandardCharsets.UTF_8);
                if (payload > body.length) {
                    byte[] padded = java.util.Arrays.copyOf(body, payload);
                    java.util.Arrays.fill(padded, body.length, payload, (byte) 'x');
                    body = padded;
                }
                Receipt r = p.enqueue(queue, "t", body);
                receipts.println(r.jobId());
                if (i + 1 == pauseAt) {
                    Thread.sleep(pauseMillis);
                }
                if (cancelEvery > 0 && i % cancelEvery == 0
                        && p.cancel(r).state() == io.spillway.core.JobState.CANCELLED) {
                    cancelled.println(r.jobId());
                }
                if (r.spooled() && !announced) {
                    System.out.println("SPOOLED");
                    announced = true;
                }
            }
            System.out.println("ENQUEUED");
            while (p.journalBacklog() > 0 || (writeAhead && p.state() != io.spillway.core.HealthState.CONNECTED)) {
                Thread.sleep(20);
            }
            System.out.println("DONE");
            if (hold) {
                Thread.sleep(Long.MAX_VALUE); // stays up until killed
            }
        }
    }
}
