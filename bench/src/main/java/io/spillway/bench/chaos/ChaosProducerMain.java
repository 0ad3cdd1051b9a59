package io.spillway.bench.chaos;

import com.codahale.metrics.MetricRegistry;
import io.spillway.backend.JobProducer;
import io.spillway.backend.Receipt;
import io.spillway.core.MetricNames;
import io.spillway.core.RedisConnection;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * One producer process of the chaos harness (the harness starts it, SIGKILLs it, SIGTERMs it and starts
 * it again on the same journal directory and record file).
 *
 * <ol>
 *   <li>Counts the ids already in its record file (earlier incarnations): that many of the slot's
 *       {@code --total} jobs are done.</li>
 *   <li>Opens a {@link JobProducer} on {@code --journal} and prints {@code READY}.</li>
 *   <li>Enqueues the rest one call at a time, paced so that the slot's n-th job is due at
 *       {@code --start-ms + n / --rate} seconds (a restarted or stalled producer catches up), to the queues of
 *       {@code --queues} in turn (default {@value #QUEUE}; a block of an {@code enqueueAll} goes to one). Right after
 *       each receipt it appends {@code <jobId> <acceptedAtMillis> <S|D>} (spooled or direct) to the
 *       record file in one write.</li>
 *   <li>With {@code --cancel-every N} (N &gt; 0), after every N-th single enqueue it cancels a job
 *       ({@link JobProducer#cancel}): in turn the one just accepted (usually still waiting: cancelled) and the one
 *       accepted {@value #CANCEL_LAG} single enqueues before (usually running or done), and records it in {@code --cancels}:
 *       first {@code <jobId> ?} (the call may be cut short by a SIGKILL), then, once the call has returned,
 *       {@code <jobId> <state code> <returnedAtMillis>} (K cancelled, N cancel requested, or the state that made it too
 *       late). A cancel that throws leaves the {@code ?}.</li>
 *   <li>Every second, and at exit, writes a {@link ProducerSummary} to {@code --summary}.</li>
 *   <li>When all are enqueued it keeps running (the journal replays in the background) until it is
 *       stopped. On SIGTERM the enqueue loop stops first, then the producer closes: no receipt is
 *       returned without its line being written.</li>
 * </ol>
 */
public final class ChaosProducerMain {
    static final String READY = "READY";
    static final String QUEUE = "chaos";
    static final String TYPE = "chaos";
    /** Enqueue calls slower than this are printed (the default socket timeout is 200 ms). */
    static final long SLOW_ENQUEUE_NANOS = TimeUnit.MILLISECONDS.toNanos(300);
    /** How many single enqueues back the job a cancel is for was accepted: usually still waiting, sometimes running. */
    static final int CANCEL_LAG = 20;

    private static volatile boolean stopping;

    private ChaosProducerMain() {
    }

    public static void main(String[] argv) throws Exception {
        Args a = Args.parse(argv, Set.of(), Set.of("redis", "journal", "record", "summary", "slot", "incarnation",
                "total", "rate", "start-ms", "socket-timeout-ms", "write-ahead", "queues", "cancel-every", "cancels"));
        URI redis = URI.create(a.require("redis"));
        Path journal = Path.of(a.require("journal"));
        Path recordPath = Path.of(a.require("record"));
        Path summaryPath = Path.of(a.require("summary"));
        int slot = a.getInt("slot", 0);
        int incarnation = a.getInt("incarnation", 1);
        long total = a.getLong("total", 1000);
        double rate = a.getDouble("rate", 100);
        long startMs = a.getLong("start-ms", System.currentTimeMillis());
        long socketTimeoutMs = a.getLong("socket-timeout-ms", RedisConnection.DEFAULT_SOCKET_TIMEOUT_MS);
        String[] queues = a.get("queues", QUEUE).split(",");
        int cancelEvery = a.getInt("cancel-every", 0);
        RecordFile cancels = cancelEvery > 0 ? RecordFile.openAppend(Path.of(a.require("cancels"))) : null;
        // The last single enqueues (queue, id), for the cancels.
        String[][] recent = new String[CANCEL_LAG + 1][];
        long singles = 0;

        long already = RecordFile.countValidLines(recordPath);
        RecordFile record = RecordFile.openAppend(recordPath);
        MetricRegistry registry = new MetricRegistry();
        JobProducer producer = JobProducer.builder()
                .redis(RedisConnection.builder(redis).socketTimeout(Duration.ofMillis(socketTimeoutMs)).build())
                .journalDir(journal)
                .metricRegistry(registry)
                .writeAhead(a.get("write-ahead", "off").equals("on"))
                .build();
        LatencyHistogram latency = new LatencyHistogram();
        long[] produced = {already};
        AtomicLong accepted = new AtomicLong();
        AtomicLong rejected = new AtomicLong();
        Runnable writeSummary = () -> {
            long[] buckets;
            long max;
            synchronized (latency) {
                buckets = latency.counts();
                max = latency.max();
            }
            long backlog = producer.journalBacklog();
            String state = producer.state().name();
            long p;
            synchronized (produced) {
                p = produced[0];
            }
            new ProducerSummary(slot, incarnation, ProcessHandle.current().pid(), accepted.get(), rejected.get(),
                    registry.meter(MetricNames.SPOOLED).getCount(), registry.meter(MetricNames.REPLAYED).getCount(),
                    registry.meter(MetricNames.REPLAY_DUPLICATES).getCount(),
                    registry.meter(MetricNames.RESTORED).getCount(), backlog, state, p,
                    p >= total && backlog == 0 && "CONNECTED".equals(state), max, buckets, System.currentTimeMillis())
                    .writeTo(summaryPath);
        };

        Thread main = Thread.currentThread();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            // No interrupt: the enqueue loop sees the flag within one enqueue call or 100 ms of pacing.
            stopping = true;
            try {
                main.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            try {
                writeSummary.run();
            } catch (RuntimeException e) {
                System.err.println("summary not written before close: " + e);
            }
            producer.close();
            writeSummary.run();
            record.close();
        }, "chaos-producer-stop"));

        Thread reporter = new Thread(() -> {
            while (!stopping) {
                try {
                    writeSummary.run();
                } catch (RuntimeException e) {
                    System.out.println("summary write failed: " + e);
                }
                LockSupport.parkNanos(TimeUnit.SECONDS.toNanos(1));
            }
        }, "chaos-producer-summary");
        reporter.setDaemon(true);
        reporter.start();
        System.out.println(READY + " slot " + slot + " incarnation " + incarnation + " pid "
                + ProcessHandle.current().pid() + " resuming at " + already + "/" + total);

        final int BATCH = 50;
        byte[] pad = new byte[48];
        Arrays.fill(pad, (byte) 'x');
        String padding = new String(pad, StandardCharsets.US_ASCII);
        long n = already;
        while (n < total && !stopping) {
            long dueMs = startMs + (long) (n * 1000.0 / rate);
            long waitMs = dueMs - System.currentTimeMillis();
            if (waitMs > 0) {
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(Math.min(waitMs, 100)));
                continue;
            }
            if ((n / BATCH) % 4 == 3 && n % BATCH == 0 && n + BATCH <= total) {
                // Every fourth block of jobs goes in one enqueueAll (streamed script calls), at the due time of
                // its last job: the batched path meets the same faults as the single one.
                long lastDue = startMs + (long) ((n + BATCH - 1) * 1000.0 / rate);
                while (System.currentTimeMillis() < lastDue && !stopping) {
                    LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(Math.min(lastDue - System.currentTimeMillis(), 100)));
                }
                if (stopping) {
                    break;
                }
                List<byte[]> payloads = new ArrayList<>(BATCH);
                for (int k = 0; k < BATCH; k++) {
                    payloads.add(("p" + slot + "-" + (n + k) + "-" + padding).getBytes(StandardCharsets.US_ASCII));
                }
                long t0 = System.nanoTime();
                List<Receipt> rs;
                try {
                    rs = producer.enqueueAll(queues[(int) ((n / BATCH) % queues.length)], TYPE, payloads);
                } catch (RuntimeException e) {
                    if (rejected(rejected, BATCH, "enqueueAll rejected (jobs not accepted): ", e)) {
                        break;
                    }
                    continue;
                }
                long took = System.nanoTime() - t0;
                for (Receipt r : rs) {
                    record.append(recordLine(r));
                }
                if (took > SLOW_ENQUEUE_NANOS) {
                    // Not in the latency histogram, which is of single enqueues.
                    System.out.println("slow enqueueAll " + took / 1_000_000 + " ms, " + BATCH + " jobs, state " + producer.state());
                }
                accepted.addAndGet(BATCH);
                n += BATCH;
                synchronized (produced) {
                    produced[0] = n;
                }
                continue;
            }
            byte[] payload = ("p" + slot + "-" + n + "-" + padding).getBytes(StandardCharsets.US_ASCII);
            long t0 = System.nanoTime();
            Receipt r;
            try {
                r = producer.enqueue(queues[(int) (n % queues.length)], TYPE, payload);
            } catch (RuntimeException e) {
                if (rejected(rejected, 1, "enqueue rejected (job not accepted): ", e)) {
                    break;
                }
                continue;
            }
            long took = System.nanoTime() - t0;
            record.append(recordLine(r));
            synchronized (latency) {
                latency.record(took);
            }
            if (took > SLOW_ENQUEUE_NANOS) {
                // Evidence for the bounded-latency guarantee: which call, when, and which way it went.
                System.out.println("slow enqueue " + took / 1_000_000 + " ms, returned at " + r.acceptedAt() + " "
                        + (r.spooled() ? "spooled" : "direct") + " job " + r.jobId() + " state " + producer.state());
            }
            accepted.incrementAndGet();
            n++;
            synchronized (produced) {
                produced[0] = n;
            }
            recent[(int) (singles % recent.length)] = new String[] {queues[(int) ((n - 1) % queues.length)], r.jobId()};
            singles++;
            if (cancels != null && singles % cancelEvery == 0 && singles > CANCEL_LAG) {
                int lag = (singles / cancelEvery) % 2 == 0 ? 0 : CANCEL_LAG;
                String[] target = recent[(int) ((singles - 1 - lag) % recent.length)];
                cancels.append(target[1] + " ?");
                try {
                    char code = producer.cancel(target[0], target[1]).state().code();
                    cancels.append(target[1] + " " + code + " " + System.currentTimeMillis());
                } catch (RuntimeException e) {
                    System.out.println("cancel of " + target[1] + " failed (it may or may not be cancelled): " + e);
                }
            }
        }
        if (n >= total) {
            System.out.println("ENQUEUED " + n);
        }
        while (!stopping) {
            // Nothing left to enqueue: the journal replays in the background until the harness stops us.
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(200));
        }
    }

    /**
     * An enqueue (or enqueueAll) threw: counts its jobs as not accepted, says why, pauses a little. Returns true
     * when the producer is closing (or the harness stopping us): enqueuing must stop.
     */
    private static boolean rejected(AtomicLong rejected, int jobs, String what, RuntimeException e) {
        rejected.addAndGet(jobs);
        System.out.println(what + e);
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
        return stopping || e instanceof IllegalStateException;
    }

    /** The record file's line for an accepted job: id, accepted-at millis, and S (spooled) or D (direct). */
    private static String recordLine(Receipt r) {
        return r.jobId() + " " + r.acceptedAt().toEpochMilli() + (r.spooled() ? " S" : " D");
    }
}
