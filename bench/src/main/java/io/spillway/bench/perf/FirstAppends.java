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
 * The first appends to a journal, on a fresh JVM: what the first spooled enqueues of an outage wait for. Opens four
 * journals one after the other and times their first five appends each. {@code -Dspillway.warmUpAppends=0} turns
 * the journal's warm-up off, to compare.
 *
 * <pre>java $FLAGS -cp "$(cat bench/target/classpath.txt):bench/target/classes" io.spillway.bench.perf.FirstAppends</pre>
 */
public final class FirstAppends {
    private FirstAppends() {
    }

    public static void main(String[] args) throws Exception {
        for (int rep = 0; rep < 4; rep++) {
            Path dir = Files.createTempDirectory("first-appends");
            try {
                long t0 = System.nanoTime();
                StringBuilder out = new StringBuilder();
                try (ChronicleJournal j = ChronicleJournal.open(dir, 1L << 30, Durability.PROCESS_CRASH, new MetricRegistry())) {
                    long opened = System.nanoTime();
                    for (int i = 0; i < 5; i++) {
                        JobRecord r = new JobRecord(JobId.mint(), QueueName.of("q" + rep), "t", new byte[200], Map.of(), 0, 0, 0);
                        byte[] encoded = JobCodec.encode(r);
                        long s = System.nanoTime();
                        j.append(r, encoded);
                        out.append(String.format(" %.3f", (System.nanoTime() - s) / 1e6));
                    }
                    System.out.printf("journal %d: open %.1f ms; first appends (ms):%s%n", rep, (opened - t0) / 1e6, out);
                }
            } finally {
                Env.deleteRecursively(dir);
            }
        }
        System.exit(0);
    }
}
