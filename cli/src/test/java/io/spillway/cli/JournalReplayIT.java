package io.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spillway.backend.JobProducer;
import io.spillway.core.HealthState;
import io.spillway.testing.RedisProcess;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
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
            }
            // The producer is gone; Redis comes back without the 7 jobs it had acknowledged (no persistence kept them).
            redis.kill();
            redis.restartEmpty();

            Cli replay = Cli.run("journal", "replay", dir.toString(), "--redis", uri, "--json");
            assertThat(replay.exit()).as(replay.toString()).isZero();
            assertThat(waiting(uri, q)).as(replay.toString()).isEqualTo(7);
            JsonNode r = JSON.readTree(replay.out());
            assertThat(r.get("redisRestarted").asBoolean()).isTrue();
            assertThat(r.get("recentWritesResent").asInt()).isEqualTo(4);
            // The 3 it had replayed within the window are sent again too: all 7 had been lost, all 7 are restored.
            assertThat(r.get("resent").asLong()).isEqualTo(7);
            assertThat(r.get("restored").asLong()).isEqualTo(7);
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
            Cli inspect = Cli.run("journal", "inspect", dir.toString());
            assertThat(inspect.out()).as(inspect.toString()).contains("kept until done   5 job(s) sent to Redis and kept until a"
                    + " worker finishes them");
            assertThat(JSON.readTree(Cli.run("journal", "inspect", dir.toString(), "--json").out()).get("keptUntilFinished")
                    .asLong()).isEqualTo(5);
            // A replay by the tool, Redis unchanged: nothing to send, and the 5 unfinished jobs stay in the journal
            // well past the resend window (the tool opens the journal in the write-ahead mode too).
            Cli first = Cli.run("journal", "replay", dir.toString(), "--redis", uri, "--resend-window", "1", "--json");
            assertThat(first.exit()).as(first.toString()).isZero();
            Thread.sleep(50);
            assertThat(Cli.run("journal", "replay", dir.toString(), "--redis", uri, "--resend-window", "1").exit()).isZero();

            redis.kill();
            redis.restartEmpty();
            Cli replay = Cli.run("journal", "replay", dir.toString(), "--redis", uri, "--json");
            assertThat(replay.exit()).as(replay.toString()).isZero();
            JsonNode r = JSON.readTree(replay.out());
            assertThat(r.get("redisRestarted").asBoolean()).isTrue();
            assertThat(r.get("restored").asLong()).as(replay.toString()).isEqualTo(5);
            assertThat(waiting(uri, q)).isEqualTo(5);
        }
    }

    private static long waiting(String uri, String q) throws Exception {
        Cli status = Cli.run("status", "--redis", uri, "-q", q, "--json");
        assertThat(status.exit()).as(status.toString()).isZero();
        return JSON.readTree(status.out()).get("queues").get(0).get("waiting").asLong();
    }
}
