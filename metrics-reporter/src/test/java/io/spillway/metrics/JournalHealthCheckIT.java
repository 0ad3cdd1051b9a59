package io.spillway.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.health.HealthCheck.Result;
import io.spillway.backend.JobProducer;
import io.spillway.core.JournalFullException;
import io.spillway.testing.FreePorts;
import java.net.URI;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The journal check against a real producer's registry: it fails before the producer starts refusing jobs. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class JournalHealthCheckIT {

    @Test
    void turnsUnhealthyBeforeAFullJournalRefusesJobs(@TempDir Path tmp) {
        MetricRegistry registry = new MetricRegistry();
        URI nowhere = URI.create("redis://127.0.0.1:" + FreePorts.next());
        JournalHealthCheck check = JournalHealthCheck.fromRegistry(registry).build();
        try (JobProducer p = JobProducer.builder().redis(nowhere).journalDir(tmp.resolve("j"))
                .journalMaxBytes(64 * 1024).maxPayloadBytes(2_000).metricRegistry(registry).build()) {
            byte[] payload = new byte[2_000];
            int accepted = 0;
            Result firstUnhealthy = null;
            while (true) {
                try {
                    p.enqueue("big", "t", payload);
                    accepted++;
                } catch (JournalFullException full) {
                    break;
                }
                if (firstUnhealthy == null && !check.execute().isHealthy()) {
                    firstUnhealthy = check.execute();
                }
            }
            // A few dozen jobs of 2 kB, far below the check's job limit (100,000), and the next enqueue was refused.
            assertThat(accepted).isLessThan(100);
            assertThat(firstUnhealthy).as("unhealthy before the first refused enqueue").isNotNull();
            assertThat(firstUnhealthy.getMessage()).contains("of its size cap", "JournalFullException");
            assertThat(check.execute().isHealthy()).isFalse();
        }
    }
}
