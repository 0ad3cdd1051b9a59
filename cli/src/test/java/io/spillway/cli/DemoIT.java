package io.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The demo end to end at a small size: Redis SIGKILLed twice and SIGSTOPped once, and nothing lost. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class DemoIT {

    @Test
    void smallDemoLosesNothing() throws Exception {
        long t0 = System.nanoTime();
        Cli c = Cli.run("demo", "--jobs", "600", "--rate", "100", "--hang-timeout", "1000", "--plain",
                "--drain-timeout", "30");
        long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t0);

        assertThat(c.exit()).as(c.toString()).isZero();
        assertThat(c.out()).contains("Fault 1/3: SIGKILL", "Fault 2/3: SIGSTOP", "Fault 3/3: SIGKILL",
                "Watchdog: redis-server back", "No accepted job was lost");
        assertThat(c.out()).containsPattern("lost\\s+0\\s");
        assertThat(c.out()).containsPattern("accepted\\s+600\\s");
        // No speed bound here (speed goals live in the benchmarks; @Timeout catches a hang), just the figure.
        System.out.printf("demo (600 jobs, 3 faults) took %d s%n", seconds);
    }

    @Test
    void jobsStillInRedisWhenTheDrainTimeoutEndsAreNotCalledLost() throws Exception {
        // 20 jobs of 1 s each on one worker thread, and 1 s to drain: most are still queued at the end.
        Cli c = Cli.run("demo", "--jobs", "20", "--rate", "100", "--workers", "1", "--job-time", "1000", "--faults", "none",
                "--drain-timeout", "1", "--plain");
        assertThat(c.exit()).as("not lost, but not shown handled either: not a pass; " + c).isEqualTo(1);
        assertThat(c.out()).doesNotContain("LOST", "That is a bug").contains("were not handled within --drain-timeout 1 s but are"
                + " not lost: still held (");
        assertThat(c.out()).containsPattern("lost\\s+0\\s").containsPattern("not yet handled\\s+1[0-9]\\s");
    }

    @Test
    void aFaultAfterTheLastEnqueueIsRepairedBeforeTheResultAndItsDowntimeShown() throws Exception {
        // The enqueues take 0.5 s; Redis is killed at 1 s, when every job may be handled already.
        Cli json = Cli.run("demo", "--jobs", "50", "--rate", "100", "--faults", "kill@1s", "--json", "--drain-timeout", "30");
        assertThat(json.exit()).as(json.toString()).isZero();
        JsonNode r = new ObjectMapper().readTree(json.out());
        assertThat(r.get("redisRestarts").asInt()).as(json.out()).isEqualTo(1);
        assertThat(r.get("redisDowntimeMs").asLong()).as(json.out()).isPositive();

        Cli text = Cli.run("demo", "--jobs", "50", "--rate", "100", "--faults", "kill@1s", "--plain", "--drain-timeout", "30");
        assertThat(text.exit()).as(text.toString()).isZero();
        assertThat(text.out()).contains("50 jobs at 100/s (~1.0 s, to the last fault)", "Watchdog: redis-server back")
                .containsPattern("Redis downtime\\s+([1-9][0-9]* ms|[0-9]+\\.[0-9] s)\\s+1 restart\\(s\\)");
    }

    @Test
    void aRedisWithoutPersistenceLosesNothingWithAWriteAheadProducer() throws Exception {
        // One slow worker thread: jobs queue up in Redis, and each kill empties it.
        Cli c = Cli.run("demo", "--no-persistence", "--write-ahead", "--jobs", "400", "--rate", "100", "--workers", "1",
                "--job-time", "15", "--faults", "kill@30%,kill@70%", "--plain", "--drain-timeout", "60");
        assertThat(c.exit()).as(c.toString()).isZero();
        assertThat(c.out()).contains("Redis without persistence (a kill empties it); producer in write-ahead mode",
                "No accepted job was lost");
        assertThat(c.out()).containsPattern("lost\\s+0\\s").containsPattern("processed\\s+400\\s");
    }

    @Test
    void jsonResultHasEveryFigure() throws Exception {
        Cli c = Cli.run("demo", "--jobs", "200", "--rate", "200", "--faults", "kill@50%", "--json", "--drain-timeout", "30");
        assertThat(c.exit()).as(c.toString()).isZero();
        JsonNode r = new ObjectMapper().readTree(c.out());
        assertThat(r.get("accepted").asLong()).isEqualTo(200);
        assertThat(r.get("lost").asLong()).isZero();
        assertThat(r.get("processed").asLong()).isEqualTo(200);
        assertThat(r.get("redisRestarts").asInt()).isEqualTo(1);
        for (String field : new String[] {"duplicates", "spooled", "replayed", "worstEnqueueMs", "redisDowntimeMs"}) {
            assertThat(r.has(field)).as(field).isTrue();
        }
    }
}
