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
import java.util.List;
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

    /**
     * {@code --running}: the jobs a worker holds, with the worker, since when and the progress its handler reported;
     * a queue with none says so; bad input is exit 2.
     */
    @Test
    void runningListsTheJobsWorkersHoldWithTheirProgress() throws Exception {
        String q = queue();
        java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        try (JobProducer producer = JobProducer.builder().redis(redis.uri()).journalDir(tmp.resolve("journal-r")).build();
             io.spillway.worker.Worker worker = io.spillway.worker.Worker.builder().redis(redis.uri()).queue(q)
                     .stateDir(tmp.resolve("worker")).concurrency(2)
                     .handler("long", job -> {
                         job.progress("page 3 of 10");
                         release.await();
                     }).build()) {
            Cli idle = Cli.run("status", "--redis", uri(), "-q", q, "--running");
            assertThat(idle.exit()).as(idle.toString()).isZero();
            assertThat(idle.out()).isEqualTo("No job of queue " + q + " is held by a worker.\n");
            worker.start();
            String a = producer.enqueue(q, "long", new byte[0], EnqueueOptions.withJobId("running-a")).jobId();
            producer.enqueue(q, "long", new byte[0], EnqueueOptions.withJobId("running-b"));
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(20))
                    .until(() -> producer.status(q, a).progress().isPresent()
                            && producer.status(q, "running-b").progress().isPresent());
            Cli c = Cli.run("status", "--redis", uri(), "-q", q, "--running");
            assertThat(c.exit()).as(c.toString()).isZero();
            List<String> lines = c.out().lines().toList();
            assertThat(lines).hasSize(3);
            assertThat(lines.get(0)).startsWith("JOB ID     WORKER").contains("STATE   SINCE").endsWith("ATTEMPTS  PROGRESS");
            assertThat(lines.subList(1, 3)).allSatisfy(l -> assertThat(l).contains(worker.name())
                    .contains("ACTIVE").containsPattern(" 1 +page 3 of 10$"));
            assertThat(c.out()).contains("running-a").contains("running-b");

            Cli json = Cli.run("status", "--redis", uri(), "-q", q, "--running", "--json");
            assertThat(json.exit()).as(json.toString()).isZero();
            JsonNode rows = JSON.readTree(json.out());
            assertThat(rows).hasSize(2);
            JsonNode row = rows.get(0);
            assertThat(row.get("jobId").asText()).startsWith("running-");
            assertThat(row.get("worker").asText()).isEqualTo(worker.name());
            assertThat(row.get("state").asText()).isEqualTo("ACTIVE");
            assertThat(Instant.parse(row.get("since").asText())).isBefore(Instant.now().plusSeconds(1));
            assertThat(row.get("attempts").asInt()).isEqualTo(1);
            assertThat(row.get("deliveries").asLong()).isEqualTo(1);
            assertThat(row.get("progress").asText()).isEqualTo("page 3 of 10");
            release.countDown();
        }
        Cli none = Cli.run("status", "--redis", uri(), "--running");
        assertThat(none.exit()).as(none.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(none.oneLineError()).isEqualTo("spillway status: --running needs exactly one -q QUEUE, but none was given");
        Cli withIds = Cli.run("status", "--redis", uri(), "-q", q, "--running", "job-1");
        assertThat(withIds.exit()).as(withIds.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(withIds.oneLineError()).contains("--running does not go with job ids");
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
