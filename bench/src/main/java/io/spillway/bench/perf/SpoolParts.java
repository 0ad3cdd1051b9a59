package io.spillway.bench.perf;

import com.codahale.metrics.LockFreeExponentiallyDecayingReservoir;
import com.codahale.metrics.Meter;
import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.Timer;
import io.spillway.backend.JobProducer;
import io.spillway.core.Durability;
import io.spillway.core.JobId;
import io.spillway.core.QueueName;
import io.spillway.core.internal.ChronicleJournal;
import io.spillway.core.internal.JobCodec;
import io.spillway.core.internal.JobRecord;
import io.spillway.core.internal.WallClock;
import io.spillway.testing.FreePorts;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A profiling target, not part of the report: the mean cost of a spooled {@code enqueue} (Redis down) and of
 * each of its parts, one after the other in one JVM, {@code args[0]} rounds of {@code args[1]} calls each.
 * The spool's p99.9 depends on its mean: the VM stops a running thread about a thousand times a second, so the
 * shorter a call, the smaller the share of calls such a stop lands in ({@link MachineTail}).
 * {@code -Dpercentiles=true} also times each call (p50/p99/p99.9); {@code -Dtail=true} adds the share of the time
 * spent in calls of 1 µs, 5 µs, 20 µs, 100 µs and 1 ms or more.
 */
public final class SpoolParts {
    private SpoolParts() {
    }

    interface Part {
        Object run(int i);
    }

    static Object sink;

    static double nanosPerCall(Part p, int n) {
        long t0 = System.nanoTime();
        Object last = null;
        for (int i = 0; i < n; i++) {
            last = p.run(i);
        }
        sink = last;
        return (System.nanoTime() - t0) / (double) n;
    }

    /** p50 / p99 / p99.9 of {@code n} calls timed one by one, in ns. */
    static String percentiles(Part p, int n) {
        long[] lat = new long[n];
        Object last = null;
        for (int i = 0; i < n; i++) {
            long t = System.nanoTime();
            last = p.run(i);
            lat[i] = System.nanoTime() - t;
        }
        sink = last;
        long[] s = Samples.sortedCopy(lat, n);
        // Where the mean goes: the share of the total time spent in calls of each length.
        long total = 0;
        long[] bounds = {1_000, 5_000, 20_000, 100_000, 1_000_000};
        long[] in = new long[bounds.length];
        int[] count = new int[bounds.length];
        for (long v : lat) {
            total += v;
            for (int b = bounds.length - 1; b >= 0; b--) {
                if (v >= bounds[b]) {
                    in[b] += v;
                    count[b]++;
                    break;
                }
            }
        }
        StringBuilder tail = new StringBuilder();
        for (int b = 0; b < bounds.length; b++) {
            tail.append(String.format(" >=%dus: %d calls %.0f%%", bounds[b] / 1000, count[b], 100.0 * in[b] / total));
        }
        return String.format("%.0f/%.0f/%.0f%s", Samples.percentile(s, 50), Samples.percentile(s, 99),
                Samples.percentile(s, 99.9), Boolean.getBoolean("tail") ? tail : "");
    }

    public static void main(String[] args) throws Exception {
        int rounds = Integer.parseInt(args[0]);
        int n = Integer.parseInt(args[1]);
        byte[] payload = new byte[200];
        Path dir = Files.createTempDirectory("spool-parts");
        Path journalDir = Files.createTempDirectory("spool-parts-journal");
        URI dead = URI.create("redis://127.0.0.1:" + FreePorts.next());
        MetricRegistry registry = new MetricRegistry();
        Meter meter = registry.meter("m");
        Timer timer = new Timer(LockFreeExponentiallyDecayingReservoir.builder().build());
        QueueName q = QueueName.of("bench-spool");
        JobRecord job = new JobRecord(JobId.mint(), q, "noop", payload, Map.of(), 0, System.currentTimeMillis(), 0);
        byte[] encoded = JobCodec.encode(job);
        try (JobProducer p = JobProducer.builder().redis(dead).journalDir(dir).journalMaxBytes(SpoolBench.BIG_JOURNAL).build();
             ChronicleJournal journal = ChronicleJournal.open(journalDir, SpoolBench.BIG_JOURNAL, Durability.PROCESS_CRASH,
                     new MetricRegistry())) {
            Map<String, Part> parts = new java.util.LinkedHashMap<>();
            parts.put("enqueue (spooled)", i -> p.enqueue("bench-spool", "noop", payload));
            parts.put("JobId.mint", i -> JobId.mint());
            parts.put("JobId.mint(millis)", i -> JobId.mint(1_764_000_000_000L));
            parts.put("WallClock.millis(tick)", i -> WallClock.millis(System.nanoTime()));
            parts.put("System.currentTimeMillis", i -> System.currentTimeMillis());
            parts.put("QueueName.of", i -> QueueName.of("bench-spool"));
            parts.put("new JobRecord (mint, clock)", i -> new JobRecord(JobId.mint(), q, "noop", payload, Map.of(), 0,
                    System.currentTimeMillis(), 0));
            parts.put("JobCodec.encode", i -> JobCodec.encode(job));
            parts.put("journal append", i -> {
                journal.append(job, encoded);
                return null;
            });
            parts.put("Meter.mark", i -> {
                meter.mark();
                return null;
            });
            parts.put("Timer.update", i -> {
                timer.update(i, TimeUnit.NANOSECONDS);
                return null;
            });
            parts.put("Instant.now", i -> Instant.now());
            parts.put("System.nanoTime", i -> System.nanoTime());
            for (int r = 0; r < rounds; r++) {
                StringBuilder line = new StringBuilder("round " + r + ":");
                for (var e : parts.entrySet()) {
                    line.append(String.format(" %s %.0f ns", e.getKey(), nanosPerCall(e.getValue(), n)));
                    line.append(Boolean.getBoolean("percentiles") ? " (" + percentiles(e.getValue(), n) + ");" : ";");
                }
                System.out.println(line);
            }
        } finally {
            Env.deleteRecursively(dir);
            Env.deleteRecursively(journalDir);
        }
        System.exit(0);
    }
}
