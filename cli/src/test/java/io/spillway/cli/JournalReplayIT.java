package io.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.codahale.metrics.MetricRegistry;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spillway.backend.JobProducer;
import io.spillway.core.Durability;
import io.spillway.core.HealthState;
import io.spillway.core.JobId;
import io.spillway.core.QueueName;
import io.spillway.core.internal.ChronicleJournal;
import io.spillway.core.internal.JobCodec;
import io.spillway.core.internal.JobRecord;
import io.spillway.testing.RedisProcess;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** journal replay after the producer died and Redis restarted without the producer's last writes. */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class JournalReplayIT {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    @Test
    void afterARedisRestartItSendsTheDeadProducersLastWritesAgain() throws Exception {
        String q = "replay-after-restart";
        Path dir = tmp.resolve("journal");
        String cancelled;
        try (RedisProcess redis = RedisProcess.builder().start()) {
            String uri = redis.uri().toString();
            redis.kill();
            try (JobProducer p = JobProducer.builder().redis(redis.uri()).journalDir(dir).build()) {
                for (int i = 0; i < 3; i++) {
                    assertThat(p.enqueue(q, "t", ("spooled " + i).getBytes(StandardCharsets.UTF_8)).spooled()).isTrue();
                }
                redis.restart();
                await().atMost(Duration.ofSeconds(20)).until(() -> p.state() == HealthState.CONNECTED && p.journalBacklog() == 0);
                for (int i = 0; i < 4; i++) {
                    assertThat(p.enqueue(q, "t", ("direct " + i).getBytes(StandardCharsets.UTF_8)).spooled()).isFalse();
                }
                // An eighth, cancelled: Redis loses the cancellation with the rest, and the re-send must not bring it back.
                cancelled = p.enqueue(q, "t", "cancelled".getBytes(StandardCharsets.UTF_8)).jobId();
                assertThat(p.cancel(q, cancelled).state()).isEqualTo(io.spillway.core.JobState.CANCELLED);
            }
            // The producer is gone; Redis comes back without the 8 jobs it had acknowledged (no persistence kept them)
            // and without the cancellation.
            redis.kill();
            redis.restartEmpty();

            Cli replay = Cli.run("journal", "replay", dir.toString(), "--redis", uri, "--json");
            assertThat(replay.exit()).as(replay.toString()).isZero();
            assertThat(waiting(uri, q)).as(replay.toString()).isEqualTo(7);
            JsonNode r = JSON.readTree(replay.out());
            assertThat(r.get("redisRestarted").asBoolean()).isTrue();
            assertThat(r.get("recentWritesResent").asInt()).isEqualTo(5);
            assertThat(r.get("cancellationsMadeAgain").asInt()).isEqualTo(1);
            // The 3 it had replayed within the window are sent again too: all 8 had been lost, 7 are restored, and the
            // cancelled one is left cancelled (its cancellation, made again first, makes its re-send a duplicate).
            assertThat(r.get("resent").asLong()).isEqualTo(8);
            assertThat(r.get("restored").asLong()).isEqualTo(7);
            try (redis.clients.jedis.Jedis j = redis.jedis()) {
                assertThat(j.get("spillway:{" + q + "}:job:" + cancelled)).startsWith("K");
            }
            assertThat(r.get("replayed").asLong()).as("a re-send is not a replay").isZero();

            // The new run id is recorded: a second run (or a producer started on the journal) sends nothing again.
            JsonNode again = JSON.readTree(Cli.run("journal", "replay", dir.toString(), "--redis", uri, "--json").out());
            assertThat(again.get("redisRestarted").asBoolean()).isFalse();
            assertThat(again.get("replayed").asLong()).isZero();
            assertThat(waiting(uri, q)).isEqualTo(7);
        }
    }

    @Test
    void aWriteAheadJournalKeepsItsUnfinishedJobsThroughAReplayAndSendsThemAgainAfterAnEmptyRestart() throws Exception {
        String q = "replay-write-ahead";
        Path dir = tmp.resolve("journal-wa");
        try (RedisProcess redis = RedisProcess.builder().appendOnly(false).save("").start()) {
            String uri = redis.uri().toString();
            try (JobProducer p = JobProducer.builder().redis(redis.uri()).journalDir(dir).writeAhead(true).build()) {
                await().atMost(Duration.ofSeconds(10)).until(() -> p.state() == HealthState.CONNECTED);
                for (int i = 0; i < 5; i++) {
                    assertThat(p.enqueue(q, "t", ("job " + i).getBytes(StandardCharsets.UTF_8)).spooled()).isTrue();
                }
                await().atMost(Duration.ofSeconds(10)).until(() -> p.journalBacklog() == 0);
            }
            assertThat(dir.resolve("write-ahead")).exists();
            assertThat(waiting(uri, q)).isEqualTo(5);
            // Then 3,000 more that a producer spooled and could not send before it died: in the journal, not in Redis.
            try (ChronicleJournal j = ChronicleJournal.open(dir, ChronicleJournal.DEFAULT_MAX_BYTES, Durability.PROCESS_CRASH,
                    new MetricRegistry(), null, ChronicleJournal.HOLD_UNTIL_CONFIRMED)) {
                for (int i = 0; i < 3_000; i++) {
                    JobRecord r = new JobRecord(JobId.mint(), QueueName.of(q), "t", new byte[10], Map.of(), 0,
                            System.currentTimeMillis(), 0);
                    j.append(r, JobCodec.encode(r));
                }
            }
            // The tool replays them in batches of 1,000 with a resend window of 1 ms. In the default mode that window
            // would let go of every record replayed more than 1 ms before a later batch, the 5 unfinished ones with
            // them; the tool opens a write-ahead journal in that mode, so all 3,005 stay until they finish.
            Cli first = Cli.run("journal", "replay", dir.toString(), "--redis", uri, "--resend-window", "1", "--json");
            assertThat(first.exit()).as(first.toString()).isZero();
            assertThat(JSON.readTree(first.out()).get("replayed").asLong()).isEqualTo(3_000);
            assertThat(waiting(uri, q)).isEqualTo(3_005);
            Cli inspect = Cli.run("journal", "inspect", dir.toString());
            assertThat(inspect.out()).as(inspect.toString()).contains("kept until done   3005 job(s) sent to Redis and kept"
                    + " until a worker finishes them");
            assertThat(JSON.readTree(Cli.run("journal", "inspect", dir.toString(), "--json").out()).get("keptUntilFinished")
                    .asLong()).isEqualTo(3_005);

            redis.kill();
            redis.restartEmpty();
            Cli replay = Cli.run("journal", "replay", dir.toString(), "--redis", uri, "--json");
            assertThat(replay.exit()).as(replay.toString()).isZero();
            JsonNode r = JSON.readTree(replay.out());
            assertThat(r.get("redisRestarted").asBoolean()).isTrue();
            assertThat(r.get("restored").asLong()).as(replay.toString()).isEqualTo(3_005);
            assertThat(waiting(uri, q)).isEqualTo(3_005);
        }
    }

    /**
     * A producer that never reached Redis leaves its journal; the tool replays it; Redis then restarts empty. The
     * producer started next must send those jobs again: the tool records the run id before it replays. And where no
     * run id is recorded (a journal of an older version, a producer that died before it could record one), the tool
     * and the producer count their first connect as a restart and send what was replayed within the window again.
     */
    @Test
    void replayedJobsSurviveAnEmptyRestartEvenWhereNoRunIdWasRecorded() throws Exception {
        String q = "replay-then-restart";
        Path dir = tmp.resolve("journal-unrecorded");
        Duration window = Duration.ofSeconds(60); // none of it may age out while the test runs
        try (RedisProcess redis = RedisProcess.builder().start()) {
            String uri = redis.uri().toString();
            redis.kill();
            try (JobProducer p = JobProducer.builder().redis(redis.uri()).journalDir(dir)
                    .resendAfterRestart(window, 16 << 20).build()) {
                for (int i = 0; i < 200; i++) {
                    assertThat(p.enqueue(q, "t", ("spooled " + i).getBytes(StandardCharsets.UTF_8)).spooled()).isTrue();
                }
            }
            redis.restart();
            Cli replay = Cli.run("journal", "replay", dir.toString(), "--redis", uri, "--resend-window", "60000", "--json");
            assertThat(replay.exit()).as(replay.toString()).isZero();
            assertThat(waiting(uri, q)).isEqualTo(200);

            redis.kill();
            redis.restartEmpty();
            assertThat(producerSends(redis, dir, window, q)).as("after the tool's replay").isEqualTo(200);

            Path runId = dir.resolve("sent").resolve("redis-run-id");
            java.nio.file.Files.delete(runId);
            redis.kill();
            redis.restartEmpty();
            Cli again = Cli.run("journal", "replay", dir.toString(), "--redis", uri, "--resend-window", "60000", "--json");
            assertThat(again.exit()).as(again.toString()).isZero();
            JsonNode r = JSON.readTree(again.out());
            assertThat(r.get("runIdNotRecorded").asBoolean()).as(again.toString()).isTrue();
            assertThat(r.get("restored").asLong()).as(again.toString()).isEqualTo(200);
            assertThat(waiting(uri, q)).isEqualTo(200);

            java.nio.file.Files.delete(runId);
            redis.kill();
            redis.restartEmpty();
            assertThat(producerSends(redis, dir, window, q)).as("no run id recorded").isEqualTo(200);
        }
    }

    /** Starts a producer on {@code dir}, waits for its recovery, and tells how many jobs {@code q} then holds. */
    private static long producerSends(RedisProcess redis, Path dir, Duration window, String q) throws Exception {
        try (JobProducer p = JobProducer.builder().redis(redis.uri()).journalDir(dir).resendAfterRestart(window, 16 << 20)
                .build()) {
            await().atMost(Duration.ofSeconds(20)).until(() -> p.state() == HealthState.CONNECTED && p.journalBacklog() == 0);
            return waiting(redis.uri().toString(), q);
        }
    }

    private static long waiting(String uri, String q) throws Exception {
        Cli status = Cli.run("status", "--redis", uri, "-q", q, "--json");
        assertThat(status.exit()).as(status.toString()).isZero();
        return JSON.readTree(status.out()).get("queues").get(0).get("waiting").asLong();
    }
}
