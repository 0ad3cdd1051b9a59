package io.spillway.bench.perf;

import com.codahale.metrics.MetricRegistry;
import io.spillway.core.Durability;
import io.spillway.core.JobId;
import io.spillway.core.QueueName;
import io.spillway.core.internal.ChronicleJournal;
import io.spillway.core.internal.JobCodec;
import io.spillway.core.internal.JobRecord;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * The journal's stalls at a steady spool rate: for {@code args[2]} repetitions, appends 200-byte jobs at
 * {@code args[0]} per second for {@code args[1]} seconds to a fresh journal and prints the mean append, p99, p99.9,
 * the calls of 100 µs or more and of 1 ms or more, the longest call, and where (in MB of the cycle file) each call
 * of 1 ms or more was. Shows the mapped cycle file's read-ahead stalls (docs/benchmarks.md, "Session 6").
 *
 * <p>{@code java <chronicle flags> -cp <bench classpath> io.spillway.bench.perf.SpoolStalls 30000 10 3}
 */
public final class SpoolStalls {
    /** Bytes the journal adds to a record: Chronicle's 4-byte header and Spillway's 9-byte frame header. */
    private static final int RECORD_OVERHEAD = 4 + 9;

    private SpoolStalls() {
    }

    public static void main(String[] args) throws Exception {
        int reps = Integer.parseInt(args[2]);
        for (int rep = 0; rep < reps; rep++) {
            run(Integer.parseInt(args[0]), Integer.parseInt(args[1]));
        }
    }

    private static void run(int rate, int seconds) throws Exception {
        Path dir = Files.createTempDirectory("spool-stalls");
        JobRecord job = new JobRecord(JobId.mint(), QueueName.of("bench-stalls"), "noop", new byte[200], Map.of(), 0,
                System.currentTimeMillis(), 0);
        byte[] encoded = JobCodec.encode(job);
        StringBuilder slow = new StringBuilder();
        try (ChronicleJournal j = ChronicleJournal.open(dir, 64L << 30, Durability.PROCESS_CRASH, new MetricRegistry())) {
            long n = (long) rate * seconds;
            long gap = 1_000_000_000L / rate;
            long over100us = 0;
            long over1ms = 0;
            long max = 0;
            long sum = 0;
            long[] lat = new long[(int) n];
            long t0 = System.nanoTime();
            for (int i = 0; i < n; i++) {
                long due = t0 + i * gap;
                while (System.nanoTime() < due) {
                    Thread.onSpinWait();
                }
                long t = System.nanoTime();
                j.append(job, encoded);
                long d = System.nanoTime() - t;
                lat[i] = d;
                sum += d;
                max = Math.max(max, d);
                if (d >= 100_000) {
                    over100us++;
                }
                if (d >= 1_000_000) {
                    over1ms++;
                    slow.append(String.format(" %.1f ms at %.1f MB;", d / 1e6, i * (encoded.length + RECORD_OVERHEAD) / 1e6));
                }
            }
            long[] sorted = Samples.sortedCopy(lat, lat.length);
            System.out.printf("%,d appends/s for %d s: mean %.0f ns, p99 %.2f us, p99.9 %.2f us, calls >= 100 us %d,"
                            + " >= 1 ms %d, max %.2f ms; the calls of 1 ms or more:%s%n",
                    rate, seconds, sum / (double) n, Samples.percentile(sorted, 99) / 1e3, Samples.percentile(sorted, 99.9) / 1e3,
                    over100us, over1ms, max / 1e6, slow.length() == 0 ? " none" : slow);
        } finally {
            Env.deleteRecursively(dir);
        }
    }
}
