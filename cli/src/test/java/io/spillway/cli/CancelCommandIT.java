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
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

/** {@code spillway cancel} against a real redis-server: cancelled, too late, JSON, bad input, Redis down. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CancelCommandIT extends SharedRedisCliTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    private static String queue() {
        return uniqueQueue("cancel-it");
    }

    /** Enqueues one job per id (caller-chosen ids), through a producer, into Redis. */
    private void enqueue(String q, String... ids) {
        try (JobProducer producer = JobProducer.builder().redis(redis.uri()).journalDir(tmp.resolve("journal-" + q)).build()) {
            for (String id : ids) {
                assertThat(producer.enqueue(q, "t", new byte[] {1}, EnqueueOptions.withJobId(id)).spooled()).isFalse();
            }
        }
    }

    /** The job's status record in Redis, or null. */
    private static String record(String q, String id) {
        try (Jedis j = redis.jedis()) {
            return j.get(RedisKeys.job(QueueName.of(q), JobId.of(id)));
        }
    }

    private static JobState state(String q, String id) {
        return StatusRecord.decode(JobId.of(id), QueueName.of(q), record(q, id)).state();
    }

    private static void writeRecord(String q, String id, String value) {
        try (Jedis j = redis.jedis()) {
            j.set(RedisKeys.job(QueueName.of(q), JobId.of(id)), value);
        }
    }

    @Test
    void cancelsQueuedAndDelayedJobsAndAnIdRedisDoesNotKnow() {
        String q = queue();
        enqueue(q, "order-42");
        try (JobProducer producer = JobProducer.builder().redis(redis.uri()).journalDir(tmp.resolve("delayed")).build()) {
            producer.enqueue(q, "t", new byte[] {1}, EnqueueOptions.builder().jobId("order-43").delay(Duration.ofHours(1)).build());
        }
        assertThat(state(q, "order-42")).isEqualTo(JobState.QUEUED);
        assertThat(state(q, "order-43")).isEqualTo(JobState.DELAYED);

        Cli c = Cli.run("cancel", "--redis", uri(), q, "order-42", "order-43", "order-99");
        assertThat(c.exit()).as(c.toString()).isZero();
        assertThat(c.err()).isEmpty();
        assertThat(c.out()).contains("order-42  CANCELLED\n", "order-43  CANCELLED\n",
                "order-99  CANCELLED (not in Redis yet: cancelled for 24 h");
        assertThat(state(q, "order-42")).isEqualTo(JobState.CANCELLED);
        assertThat(state(q, "order-43")).isEqualTo(JobState.CANCELLED);
        assertThat(state(q, "order-99")).isEqualTo(JobState.CANCELLED);
        try (Jedis j = redis.jedis()) {
            // The unknown id's tombstone expires after a day; the queued job's stays until a worker drops it.
            assertThat(j.ttl(RedisKeys.job(QueueName.of(q), JobId.of("order-99")))).isBetween(86_000L, 86_400L);
            assertThat(j.ttl(RedisKeys.job(QueueName.of(q), JobId.of("order-42")))).isEqualTo(-1L);
        }

        Cli again = Cli.run("cancel", "--redis", uri(), q, "order-42", "order-99");
        assertThat(again.exit()).as(again.toString()).isZero();
        assertThat(again.out()).isEqualTo("order-42  CANCELLED\norder-99  CANCELLED\n");
    }

    @Test
    void aJobThatEndedIsNotChangedAndOneAWorkerHoldsIsAskedToStopBothExitOne() {
        String q = queue();
        enqueue(q, "queued-1");
        String completed = "C|1|" + System.currentTimeMillis() + "|";
        long at = System.currentTimeMillis();
        String active = "A|2|" + at + "|java.lang.IllegalStateException: boom";
        writeRecord(q, "done-1", completed);
        writeRecord(q, "running-1", active);

        Cli c = Cli.run("cancel", "--redis", uri(), q, "queued-1", "done-1", "running-1");
        assertThat(c.exit()).as(c.toString()).isEqualTo(ExitCodes.FAILED);
        assertThat(c.out()).contains("queued-1   CANCELLED\n", "done-1     COMPLETED (ended: not cancelled)\n",
                "running-1  CANCEL_REQUESTED (a worker holds it: asked to stop;");
        assertThat(c.oneLineError()).isEqualTo("spillway cancel: 2 of 3 job(s) not cancelled: a worker holds them (asked to"
                + " stop) or they ended already (done-1 COMPLETED, running-1 CANCEL_REQUESTED)");
        assertThat(record(q, "done-1")).isEqualTo(completed);
        assertThat(record(q, "running-1")).as("attempts and error kept").startsWith("N|2|")
                .endsWith("|java.lang.IllegalStateException: boom");
        assertThat(state(q, "queued-1")).isEqualTo(JobState.CANCELLED);
    }

    @Test
    void jsonIsOneObjectPerId() throws Exception {
        String q = queue();
        enqueue(q, "a-1");
        writeRecord(q, "b-2", "X|3|" + System.currentTimeMillis() + "|IllegalStateException: boom");

        Cli c = Cli.run("cancel", "--redis", uri(), q, "a-1", "b-2", "--json");
        assertThat(c.exit()).as(c.toString()).isEqualTo(ExitCodes.FAILED);
        JsonNode rows = JSON.readTree(c.out());
        assertThat(rows.isArray()).isTrue();
        assertThat(rows).hasSize(2);
        assertThat(rows.get(0).get("queue").asText()).isEqualTo(q);
        assertThat(rows.get(0).get("jobId").asText()).isEqualTo("a-1");
        assertThat(rows.get(0).get("state").asText()).isEqualTo("CANCELLED");
        assertThat(rows.get(0).get("cancelled").asBoolean()).isTrue();
        assertThat(rows.get(1).get("jobId").asText()).isEqualTo("b-2");
        assertThat(rows.get(1).get("state").asText()).isEqualTo("DEAD");
        assertThat(rows.get(1).get("cancelled").asBoolean()).isFalse();
        assertThat(c.oneLineError()).contains("1 of 2 job(s) not cancelled", "b-2 DEAD");
    }

    @Test
    void anInvalidIdOrQueueExitsTwoAndCancelsNothing() {
        String q = queue();
        enqueue(q, "good-1");
        Cli badId = Cli.run("cancel", "--redis", uri(), q, "good-1", "new-2", "no spaces");
        assertThat(badId.exit()).as(badId.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(badId.oneLineError()).isEqualTo("spillway cancel: jobId must match " + JobId.VALID.pattern()
                + ", but was 'no spaces'");
        assertThat(badId.out()).isEmpty();
        assertThat(state(q, "good-1")).isEqualTo(JobState.QUEUED);
        assertThat(record(q, "new-2")).isNull();

        Cli badQueue = Cli.run("cancel", "--redis", uri(), "no/slash", "good-1");
        assertThat(badQueue.exit()).as(badQueue.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(badQueue.oneLineError()).contains("queue must match", "'no/slash'");

        Cli noId = Cli.run("cancel", "--redis", uri(), q);
        assertThat(noId.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(noId.oneLineError()).contains("JOB_ID", "spillway cancel --help");
        assertThat(state(q, "good-1")).isEqualTo(JobState.QUEUED);
    }

    @Test
    void redisDownExitsThreeAndCancelsNothing() {
        String q = queue();
        enqueue(q, "later-1");
        redis.shutdown(); // fsyncs the AOF: the job is there after the restart
        try {
            Cli c = Cli.run("cancel", "--redis", uri(), "--timeout", "500", q, "later-1");
            assertThat(c.exit()).as(c.toString()).isEqualTo(ExitCodes.UNREACHABLE);
            assertThat(c.oneLineError()).contains("spillway cancel: cannot reach Redis at " + uri(), "connection refused");
            assertThat(c.out()).isEmpty();
        } finally {
            redis.restart();
        }
        assertThat(state(q, "later-1")).isEqualTo(JobState.QUEUED);
    }

    /** A queue Redis has never seen may hold jobs still spooled in a journal: cancelled, with a warning on stderr. */
    @Test
    void aQueueRedisHasNeverSeenIsCancelledWithAWarning() {
        String typo = queue();
        Cli c = Cli.run("cancel", "--redis", uri(), typo, "job-1");
        assertThat(c.exit()).as(c.toString()).isZero();
        assertThat(c.out()).startsWith("job-1  CANCELLED");
        assertThat(c.oneLineError()).startsWith("spillway cancel: warning: queue " + typo + " is unknown to Redis");
        assertThat(state(typo, "job-1")).isEqualTo(JobState.CANCELLED);

        String q = queue();
        enqueue(q, "known-1");
        Cli known = Cli.run("cancel", "--redis", uri(), q, "known-1");
        assertThat(known.exit()).as(known.toString()).isZero();
        assertThat(known.err()).isEmpty();
    }

    /** The tools user's read-only rules do not let it run the cancel script: bad input, as for the other commands. */
    @Test
    void aUserWithoutTheProducerRulesExitsTwoWithOneLine() {
        String q = queue();
        enqueue(q, "kept-1");
        try (Jedis j = redis.jedis()) {
            j.aclSetUser("cancel-readonly", "reset", "on", ">pw", "~spillway:*", "+ping", "+get", "+exists");
        }
        Cli c = Cli.run("cancel", "--redis", "redis://cancel-readonly:pw@127.0.0.1:" + redis.port(), q, "kept-1");
        assertThat(c.exit()).as(c.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(c.oneLineError()).contains("refused a command to user 'cancel-readonly': NOPERM", "evalsha",
                "grant it the ACL rules for a producer (spillway-producer)");
        assertThat(state(q, "kept-1")).isEqualTo(JobState.QUEUED);
    }

    @Test
    void helpDescribesTheCommandAndTheTopLevelListsIt() {
        Cli help = Cli.run("cancel", "--help");
        assertThat(help.exit()).isZero();
        assertThat(help.out()).contains("Usage: spillway cancel", "QUEUE", "JOB_ID", "--redis", "--json", "not started");
        assertThat(Cli.run("--help").out()).contains("cancel");
    }
}
