package io.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spillway.backend.EnqueueOptions;
import io.spillway.backend.JobProducer;
import io.spillway.core.JobId;
import io.spillway.core.JobState;
import io.spillway.core.QueueName;
import io.spillway.core.internal.RedisKeys;
import io.spillway.core.internal.StatusRecord;
import java.nio.file.Path;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

/** {@code spillway status -q QUEUE JOB_ID...} against a real redis-server: states, JSON, an unknown id, bad input. */
// First pass only (.ci/run's Redis 7.0 pass leaves out the tag first-pass-only): a GET and its decoding, the same whatever
// the Redis version.
@org.junit.jupiter.api.Tag("first-pass-only")
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class JobStatusCommandIT extends SharedRedisCliTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    private static String queue() {
        return uniqueQueue("job-status-it");
    }

    /** A queued job through a producer, and a retrying one whose record a worker would have written. */
    private void jobs(String q, long retriedAt) {
        try (JobProducer producer = JobProducer.builder().redis(redis.uri()).journalDir(tmp.resolve("journal-" + q)).build()) {
            assertThat(producer.enqueue(q, "t", new byte[] {1}, EnqueueOptions.withJobId("queued-1")).spooled()).isFalse();
        }
        try (Jedis j = redis.jedis()) {
            j.set(RedisKeys.job(QueueName.of(q), JobId.of("retry-1")),
                    StatusRecord.encode(JobState.RETRYING, 2, retriedAt, "IllegalStateException: thumbnail service down"));
            // What a worker writes for a handler's job.progress(...)
            j.set(RedisKeys.progress(QueueName.of(q), JobId.of("retry-1")), "page 3 of 10");
        }
    }

    @Test
    void showsEachJobsStateAttemptsProgressAndLastError() throws Exception {
        String q = queue();
        long at = System.currentTimeMillis();
        jobs(q, at);
        Cli c = Cli.run("status", "--redis", uri(), "-q", q, "queued-1", "retry-1");
        assertThat(c.exit()).as(c.toString()).isZero();
        assertThat(c.err()).isEmpty();
        assertThat(c.out().lines().toList()).hasSize(3);
        assertThat(c.out()).startsWith("JOB ID    STATE     ATTEMPTS  UPDATED")
                .contains("queued-1  QUEUED    0")
                .contains("retry-1   RETRYING  2         " + Instant.ofEpochMilli(at).truncatedTo(java.time.temporal.ChronoUnit.SECONDS)
                        + "  page 3 of 10  IllegalStateException: thumbnail service down");
        assertThat(c.out().lines().toList().get(0)).contains("UPDATED").contains("  PROGRESS      LAST ERROR");

        Cli json = Cli.run("status", "--redis", uri(), "-q", q, "retry-1", "--json");
        assertThat(json.exit()).as(json.toString()).isZero();
        JsonNode row = JSON.readTree(json.out()).get(0);
        assertThat(row.get("queue").asText()).isEqualTo(q);
        assertThat(row.get("jobId").asText()).isEqualTo("retry-1");
        assertThat(row.get("state").asText()).isEqualTo("RETRYING");
        assertThat(row.get("attempts").asInt()).isEqualTo(2);
        assertThat(row.get("updatedAt").asText()).isEqualTo(Instant.ofEpochMilli(at).toString());
        assertThat(row.get("lastError").asText()).isEqualTo("IllegalStateException: thumbnail service down");
        assertThat(row.get("progress").asText()).isEqualTo("page 3 of 10");
    }

    @Test
    void anIdRedisDoesNotKnowExitsOneWithOneLine() {
        String q = queue();
        jobs(q, System.currentTimeMillis());
        Cli c = Cli.run("status", "--redis", uri(), "-q", q, "queued-1", "nope-1");
        assertThat(c.exit()).as(c.toString()).isEqualTo(ExitCodes.FAILED);
        assertThat(c.out()).containsPattern("nope-1 +UNKNOWN +0 +- +- +-\\n");
        assertThat(c.oneLineError()).startsWith("spillway status: 1 of 2 job id(s) unknown to Redis in queue " + q + " (nope-1)");
    }

    @Test
    void jobIdsNeedExactlyOneQueueAndNoJournal() {
        Cli none = Cli.run("status", "--redis", uri(), "job-1");
        assertThat(none.exit()).as(none.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(none.oneLineError()).isEqualTo("spillway status: job ids need exactly one -q QUEUE, but none was given");
        Cli two = Cli.run("status", "--redis", uri(), "-q", "a", "-q", "b", "job-1");
        assertThat(two.exit()).as(two.toString()).isEqualTo(ExitCodes.USAGE);
        Cli journal = Cli.run("status", "--redis", uri(), "-q", "a", "--journal", tmp.toString(), "job-1");
        assertThat(journal.exit()).as(journal.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(journal.oneLineError()).contains("--journal does not go with job ids");
        Cli bad = Cli.run("status", "--redis", uri(), "-q", "a", "bad id");
        assertThat(bad.exit()).as(bad.toString()).isEqualTo(ExitCodes.USAGE);
    }
}
