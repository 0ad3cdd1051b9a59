package io.spillway.bench.perf;

import io.spillway.core.Durability;
import io.spillway.core.internal.SentLog;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What opening a new sent log costs (it prepares its ring: 8 segments of 4 MiB, each page written once), five times
 * on fresh directories. {@code -Dspillway.sentLogPrepare=false} for the cost without the preparation.
 *
 * <p>{@code java -cp <bench classpath> io.spillway.bench.perf.SentLogOpen}
 */
public final class SentLogOpen {
    private SentLogOpen() {
    }

    public static void main(String[] args) throws Exception {
        for (int i = 0; i < 5; i++) {
            Path dir = Files.createTempDirectory("sent-log-open");
            try {
                long t0 = System.nanoTime();
                try (SentLog log = SentLog.open(dir, Durability.PROCESS_CRASH)) {
                    System.out.printf("open %d: %.1f ms (prepare %s)%n", i, (System.nanoTime() - t0) / 1e6,
                            System.getProperty("spillway.sentLogPrepare", "true"));
                }
            } finally {
                Env.deleteRecursively(dir);
            }
        }
    }
}
