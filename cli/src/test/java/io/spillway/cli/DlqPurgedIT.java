package io.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spillway.backend.JobProducer;
import io.spillway.testing.RedisProcess;
import io.spillway.worker.RetryPolicy;
import io.spillway.worker.Worker;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** A purged dead letter: its status record keeps why the job died, and a second purge says it was purged already. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class DlqPurgedIT {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    @Test
    void aPurgedLetterKeepsItsAttemptsAndErrorAndAPurgeAgainSaysItWasPurged() throws Exception {
        String q = "purged-" + System.nanoTime();
        try (RedisProcess redis = RedisProcess.builder().start();
             JobProducer producer = JobProducer.builder().redis(redis.uri()).journalDir(tmp.resolve("j")).build();
             Worker worker = Worker.builder().redis(redis.uri()).queue(q).stateDir(tmp.resolve("w"))
                     .retryPolicy(RetryPolicy.noRetry())
                     .handler("boom", job -> {
                         throw new IllegalStateException("no GPU today");
                     }).build()) {
            String uri = redis.uri().toString();
            worker.start();
            String id = producer.enqueue(q, "boom", new byte[] {1}).jobId();
            await().atMost(Duration.ofSeconds(20)).until(() ->
                    JSON.readTree(Cli.run("dlq", "list", "--redis", uri, "-q", q, "--json").out()).get("total").asLong() == 1);

            Cli purge = Cli.run("dlq", "purge", "--redis", uri, "-q", q, id);
            assertThat(purge.exit()).as(purge.toString()).isZero();
            assertThat(purge.out()).contains("purged  " + id);

            JsonNode row = JSON.readTree(Cli.run("status", "--redis", uri, "-q", q, id, "--json").out()).get(0);
            assertThat(row.get("state").asText()).isEqualTo("PURGED");
            assertThat(row.get("attempts").asInt()).as("why the job died outlives its dead letter").isEqualTo(1);
            assertThat(row.get("lastError").asText()).contains("no GPU today");

            Cli again = Cli.run("dlq", "purge", "--redis", uri, "-q", q, id);
            assertThat(again.exit()).as(again.toString()).isEqualTo(ExitCodes.FAILED);
            assertThat(again.oneLineError()).startsWith("spillway dlq purge: cannot purge " + id + ": its dead letter in queue "
                    + q + " was already purged at ").endsWith(" (its status record says PURGED for 2 h after the purge)");
            Cli retry = Cli.run("dlq", "retry", "--redis", uri, "-q", q, id, "--json");
            assertThat(retry.exit()).as(retry.toString()).isEqualTo(ExitCodes.FAILED);
            assertThat(JSON.readTree(retry.out()).get(0).get("problem").asText()).startsWith("already purged at ");

            Cli nope = Cli.run("dlq", "purge", "--redis", uri, "-q", q, "never-was");
            assertThat(nope.oneLineError()).isEqualTo("spillway dlq purge: no dead letter never-was in queue " + q);
        }
    }
}
