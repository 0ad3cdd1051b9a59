package io.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@code spillway schedule}: a recurring job's next ticks, as RecurringJobs computes them; no Redis. */
@Tag("first-pass-only") // no Redis: once is enough
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ScheduleCommandTest {
    @Test
    void aCronExpressionsNextTicksInItsZone() {
        Cli c = Cli.run("schedule", "0 3 * * *", "--zone", "Europe/Paris", "--from", "2026-12-04T00:00:00Z", "--count", "2");
        assertThat(c.exit()).as(c.toString()).isZero();
        assertThat(c.out()).isEqualTo("""
                cron '0 3 * * *' (Europe/Paris), the next 2 after 2026-12-04T00:00:00Z:
                  2026-12-04T02:00:00Z  (2026-12-04T03:00 Europe/Paris)
                  2026-12-05T02:00:00Z  (2026-12-05T03:00 Europe/Paris)
                """);
    }

    @Test
    void anIntervalsTicksInJson() throws Exception {
        Cli c = Cli.run("schedule", "--every", "PT5M", "--from", "2026-12-04T10:07:00Z", "--count", "3", "--json");
        assertThat(c.exit()).as(c.toString()).isZero();
        JsonNode doc = new ObjectMapper().readTree(c.out());
        assertThat(doc.get("schedule").asText()).isEqualTo("every PT5M");
        assertThat(doc.get("ticks")).extracting(JsonNode::asText)
                .containsExactly("2026-12-04T10:10:00Z", "2026-12-04T10:15:00Z", "2026-12-04T10:20:00Z");
    }

    @Test
    void anExpressionThatNeverMatchesSaysSo() {
        Cli c = Cli.run("schedule", "0 0 30 2 *", "--from", "2026-12-04T00:00:00Z");
        assertThat(c.exit()).as(c.toString()).isZero();
        assertThat(c.out()).isEqualTo("cron '0 0 30 2 *' (UTC): no tick after 2026-12-04T00:00:00Z (the expression never matches)\n");
    }

    @Test
    void badInputIsExitTwoWithOneLine() {
        assertThat(Cli.run("schedule").oneLineError()).isEqualTo("spillway schedule: give either a cron expression or --every DURATION");
        assertThat(Cli.run("schedule", "* * * * *", "--every", "PT1M").exit()).isEqualTo(ExitCodes.USAGE);
        Cli badCron = Cli.run("schedule", "0 3 * *");
        assertThat(badCron.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(badCron.oneLineError()).startsWith("spillway schedule: cron expression '0 3 * *' is not a five-field Unix cron expression");
        Cli badZone = Cli.run("schedule", "0 3 * * *", "--zone", "Europe/Pariss");
        assertThat(badZone.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(badZone.oneLineError()).contains("Europe/Pariss");
        Cli badEvery = Cli.run("schedule", "--every", "5 minutes");
        assertThat(badEvery.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(badEvery.oneLineError()).contains("'5 minutes'");
        assertThat(Cli.run("schedule", "--every", "PT0.001S").oneLineError()).contains("interval must be at least");
        assertThat(Cli.run("schedule", "--every", "PT1M", "--zone", "UTC").oneLineError()).contains("--zone goes with a cron expression");
        assertThat(Cli.run("schedule", "--every", "PT1M", "--count", "0").oneLineError()).contains("--count must be 1 to 1000");
        assertThat(Cli.run("schedule", "--every", "PT1M", "--from", "yesterday").oneLineError()).contains("'yesterday'");
    }

    @Test
    void anInstantThatParsesButIsOutOfRangeIsExitTwoNotAnUnexpectedError() {
        // Instant.parse takes it; the tick arithmetic (epoch milliseconds, a zone's local time) cannot.
        String far = "+1000000000-01-01T00:00:00Z";
        for (String[] args : new String[][] {
                {"schedule", "--every", "PT5M", "--from", far},
                {"schedule", "0 3 * * *", "--zone", "Europe/Paris", "--from", far},
                {"schedule", "--every", "PT5M", "--from", "-1000000000-01-01T00:00:00Z"},
                // Within the milliseconds, but the next multiple of 5 minutes is not.
                {"schedule", "--every", "PT5M", "--from", "+292278994-08-17T07:12:55Z"}}) {
            Cli c = Cli.run(args);
            assertThat(c.exit()).as(c.toString()).isEqualTo(ExitCodes.USAGE);
            assertThat(c.oneLineError()).as(c.toString()).startsWith("spillway schedule: --from " + args[args.length - 1]
                    + " is out of range").doesNotContain("unexpected error");
        }
    }
}
