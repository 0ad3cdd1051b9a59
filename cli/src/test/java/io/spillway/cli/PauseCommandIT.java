package io.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spillway.core.QueueName;
import io.spillway.core.internal.RedisKeys;
import io.spillway.worker.Queues;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import redis.clients.jedis.Jedis;

/**
 * {@code spillway pause} and {@code resume} against a real redis-server: the key, {@code status} text and JSON, paused
 * twice, resumed twice, JSON, bad input, Redis down.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class PauseCommandIT extends SharedRedisCliTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** A queue Redis knows (in {@code spillway:queues}, as after its first enqueue). */
    private static String queue() {
        String q = uniqueQueue("pause-it");
        try (Jedis j = redis.jedis()) {
            j.sadd(RedisKeys.QUEUES, q);
        }
        return q;
    }

    /** The value of the queue's pause key, or null. */
    private static String flag(String q) {
        try (Jedis j = redis.jedis()) {
            return j.get(RedisKeys.paused(QueueName.of(q)));
        }
    }

    private static JsonNode statusRow(String q) throws Exception {
        Cli c = Cli.run("status", "--redis", uri(), "-q", q, "--json");
        assertThat(c.exit()).as(c.toString()).isZero();
        return JSON.readTree(c.out()).get("queues").get(0);
    }

    @Test
    void pauseShowsInStatusPausingAgainKeepsTheReasonAndResumeClearsIt() throws Exception {
        String q = queue();
        long before = System.currentTimeMillis();
        Cli pause = Cli.run("pause", "--redis", uri(), q, "--reason", "thumbnail service down");
        assertThat(pause.exit()).as(pause.toString()).isZero();
        assertThat(pause.err()).isEmpty();
        assertThat(pause.out()).isEqualTo(q + "  paused\n");
        String value = flag(q);
        assertThat(value).matches("\\d+\\|thumbnail service down");
        Instant since = Instant.ofEpochMilli(Long.parseLong(value.substring(0, value.indexOf('|'))));
        assertThat(since.toEpochMilli()).isBetween(before, System.currentTimeMillis());
        String shown = since.truncatedTo(ChronoUnit.SECONDS).toString();

        Cli status = Cli.run("status", "--redis", uri(), "-q", q);
        assertThat(status.exit()).as(status.toString()).isZero();
        assertThat(status.out()).contains("WORKERS  PAUSED\n").containsPattern(q + " .* 0 +yes\n")
                .contains("Queue " + q + " is paused since " + shown + " (thumbnail service down): workers take no new job"
                        + " from it until 'spillway resume " + q + "'.");
        JsonNode paused = statusRow(q).get("paused");
        assertThat(paused.get("since").asText()).isEqualTo(since.toString());
        assertThat(paused.get("reason").asText()).isEqualTo("thumbnail service down");

        Cli again = Cli.run("pause", "--redis", uri(), q, "--reason", "another reason");
        assertThat(again.exit()).as(again.toString()).isZero();
        assertThat(again.out()).isEqualTo(q + "  already paused since " + shown + " (thumbnail service down)\n");
        assertThat(flag(q)).as("first time and reason kept").isEqualTo(value);

        Cli resume = Cli.run("resume", "--redis", uri(), q);
        assertThat(resume.exit()).as(resume.toString()).isZero();
        assertThat(resume.err()).isEmpty();
        assertThat(resume.out()).isEqualTo(q + "  resumed\n");
        assertThat(flag(q)).isNull();
        Cli after = Cli.run("status", "--redis", uri(), "-q", q);
        assertThat(after.out()).contains(q).doesNotContain("PAUSED", "paused");
        assertThat(statusRow(q).get("paused").isNull()).isTrue();

        Cli resumeAgain = Cli.run("resume", "--redis", uri(), q);
        assertThat(resumeAgain.exit()).as(resumeAgain.toString()).isZero();
        assertThat(resumeAgain.out()).isEqualTo(q + "  was not paused\n");
    }

    @Test
    void severalQueuesOneLineEachAndStatusMarksOnlyThePausedOnes() {
        String images = queue();
        String longerName = queue() + "-long";
        try (Jedis j = redis.jedis()) {
            j.sadd(RedisKeys.QUEUES, longerName);
        }
        try (Queues queues = Queues.connect(redis.uri())) {
            queues.pause(images); // no reason
        }
        Cli pause = Cli.run("pause", "--redis", uri(), images, longerName);
        assertThat(pause.exit()).as(pause.toString()).isZero();
        String pad = " ".repeat(longerName.length() - images.length());
        assertThat(pause.out()).startsWith(images + pad + "  already paused since ")
                .doesNotContain("(").endsWith("Z\n" + longerName + "  paused\n");

        String other = queue();
        Cli status = Cli.run("status", "--redis", uri(), "-q", images, "-q", other);
        assertThat(status.out()).containsPattern(images + " .* yes\n").containsPattern(other + " .* -\n")
                .containsPattern("Queue " + images + " is paused since \\S+Z: workers take no new job")
                .doesNotContain("Queue " + other + " is paused");

        Cli resume = Cli.run("resume", "--redis", uri(), longerName, images, other);
        assertThat(resume.exit()).as(resume.toString()).isZero();
        assertThat(resume.out()).isEqualTo(longerName + "  resumed\n" + images + pad + "  resumed\n"
                + other + " ".repeat(longerName.length() - other.length()) + "  was not paused\n");
    }

    @Test
    void jsonIsOneObjectPerQueueWithTheStateAfterTheCall() throws Exception {
        String fresh = queue();
        String paused = queue();
        try (Queues queues = Queues.connect(redis.uri())) {
            queues.pause(paused, "INC-1234");
        }
        Cli pause = Cli.run("pause", "--redis", uri(), fresh, paused, "--json");
        assertThat(pause.exit()).as(pause.toString()).isZero();
        JsonNode rows = JSON.readTree(pause.out());
        assertThat(rows.isArray()).isTrue();
        assertThat(rows).hasSize(2);
        assertThat(rows.get(0).get("queue").asText()).isEqualTo(fresh);
        assertThat(rows.get(0).get("paused").asBoolean()).isTrue();
        assertThat(rows.get(0).get("changed").asBoolean()).isTrue();
        assertThat(Instant.parse(rows.get(0).get("since").asText())).isCloseTo(Instant.now(),
                org.assertj.core.api.Assertions.within(1, ChronoUnit.MINUTES));
        assertThat(rows.get(0).get("reason").isNull()).as("no reason given").isTrue();
        assertThat(rows.get(1).get("queue").asText()).isEqualTo(paused);
        assertThat(rows.get(1).get("paused").asBoolean()).isTrue();
        assertThat(rows.get(1).get("changed").asBoolean()).isFalse();
        assertThat(rows.get(1).get("reason").asText()).isEqualTo("INC-1234");

        Cli resume = Cli.run("resume", "--redis", uri(), paused, "--json");
        assertThat(resume.exit()).as(resume.toString()).isZero();
        JsonNode r = JSON.readTree(resume.out()).get(0);
        assertThat(r.get("queue").asText()).isEqualTo(paused);
        assertThat(r.get("paused").asBoolean()).isFalse();
        assertThat(r.get("changed").asBoolean()).isTrue();
        assertThat(r.get("since").isNull()).isTrue();
        assertThat(r.get("reason").isNull()).isTrue();
    }

    @Test
    void badInputExitsTwoAndChangesNothing() {
        String q = queue();
        Cli badQueue = Cli.run("pause", "--redis", uri(), q, "no/slash");
        assertThat(badQueue.exit()).as(badQueue.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(badQueue.oneLineError()).startsWith("spillway pause: queue must match").contains("'no/slash'");
        assertThat(badQueue.out()).isEmpty();
        assertThat(flag(q)).as("the valid queue before it is not paused").isNull();

        Cli tooLong = Cli.run("pause", "--redis", uri(), q, "--reason", "x".repeat(Queues.MAX_REASON_CHARS + 1));
        assertThat(tooLong.exit()).as(tooLong.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(tooLong.oneLineError()).isEqualTo("spillway pause: --reason must be at most 500 characters, but was 501");
        Cli twoLines = Cli.run("pause", "--redis", uri(), q, "--reason", "one\ntwo");
        assertThat(twoLines.exit()).as(twoLines.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(twoLines.oneLineError()).contains("--reason must be one line");
        Cli noQueue = Cli.run("pause", "--redis", uri(), "--reason", "why");
        assertThat(noQueue.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(noQueue.oneLineError()).contains("QUEUE", "spillway pause --help");
        assertThat(flag(q)).isNull();

        try (Queues queues = Queues.connect(redis.uri())) {
            queues.pause(q, "kept");
        }
        Cli badResume = Cli.run("resume", "--redis", uri(), q, "no spaces");
        assertThat(badResume.exit()).as(badResume.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(badResume.oneLineError()).startsWith("spillway resume: queue must match").contains("'no spaces'");
        assertThat(flag(q)).as("still paused").endsWith("|kept");
    }

    @Test
    void redisDownExitsThreeAndChangesNothing() {
        String q = queue();
        String held = queue();
        try (Queues queues = Queues.connect(redis.uri())) {
            queues.pause(held, "held");
        }
        redis.shutdown(); // fsyncs the AOF: the pause is there after the restart
        try {
            for (String[] args : new String[][] {{"pause", q}, {"resume", held}}) {
                Cli c = Cli.run(args[0], "--redis", uri(), "--timeout", "500", args[1]);
                assertThat(c.exit()).as(c.toString()).isEqualTo(ExitCodes.UNREACHABLE);
                assertThat(c.oneLineError()).contains("spillway " + args[0] + ": cannot reach Redis at " + uri(),
                        "connection refused");
                assertThat(c.out()).isEmpty();
            }
        } finally {
            redis.restart();
        }
        assertThat(flag(q)).isNull();
        assertThat(flag(held)).endsWith("|held");
    }

    @Test
    void helpSaysWhatAPauseDoesAndTheTopLevelListsBoth() {
        Cli pause = Cli.run("pause", "--help");
        assertThat(pause.exit()).isZero();
        assertThat(pause.out().replaceAll("\\s+", " ")).contains("Usage: spillway pause", "QUEUE", "--reason", "--redis",
                "--json", "within about a second", "running finish", "delayed jobs and retries still fall due",
                "producers still enqueue");
        Cli resume = Cli.run("resume", "--help");
        assertThat(resume.exit()).isZero();
        assertThat(resume.out()).contains("Usage: spillway resume", "QUEUE", "--json");
        assertThat(Cli.run("--help").out()).contains("pause", "resume");
    }

    /** Pausing before the first deploy is legitimate: paused, with a warning that the name is unknown to Redis. */
    @Test
    void aQueueRedisHasNeverSeenIsPausedWithAWarningAndShowsInStatusWithQ() throws Exception {
        String typo = "pause-it-unknown-" + System.nanoTime();
        Cli pause = Cli.run("pause", "--redis", uri(), typo);
        assertThat(pause.exit()).as(pause.toString()).isZero();
        assertThat(pause.out()).isEqualTo(typo + "  paused\n");
        assertThat(pause.oneLineError()).startsWith("spillway pause: warning: queue " + typo + " is unknown to Redis")
                .contains("status' lists it from now on");
        assertThat(flag(typo)).isNotNull();
        assertThat(statusRow(typo).get("paused").isNull()).isFalse();

        Cli resume = Cli.run("resume", "--redis", uri(), typo);
        assertThat(resume.exit()).as(resume.toString()).isZero();
        assertThat(resume.err()).isEmpty();
    }

    /**
     * An operator who paused a queue must see it paused in the default listing, not only with {@code -q}: also a queue
     * with no job yet (paused before the first deploy, by the tool or through {@code Queues}), which the producers have
     * not named in {@code spillway:queues}.
     */
    @Test
    void aPausedQueueWithNoJobsShowsInTheDefaultListing() throws Exception {
        String byTool = "pause-it-empty-" + System.nanoTime();
        String byApi = "pause-it-empty-api-" + System.nanoTime();
        Cli pause = Cli.run("pause", "--redis", uri(), byTool, "--reason", "before the first deploy");
        assertThat(pause.exit()).as(pause.toString()).isZero();
        try (Queues queues = Queues.connect(redis.uri())) {
            queues.pause(byApi, "INC-7");
        }

        Cli status = Cli.run("status", "--redis", uri());
        assertThat(status.exit()).as(status.toString()).isZero();
        assertThat(status.out()).contains("PAUSED", "Queue " + byTool + " is paused since ", "(before the first deploy)",
                "Queue " + byApi + " is paused since ", "(INC-7)");
        Cli json = Cli.run("status", "--redis", uri(), "--json");
        assertThat(json.exit()).as(json.toString()).isZero();
        JsonNode rows = JSON.readTree(json.out()).get("queues");
        for (String q : new String[] {byTool, byApi}) {
            JsonNode row = null;
            for (JsonNode r : rows) {
                if (r.get("queue").asText().equals(q)) {
                    row = r;
                }
            }
            assertThat(row).as("%s in the default listing: %s", q, json.out()).isNotNull();
            assertThat(row.get("waiting").asLong()).isZero();
            assertThat(row.get("paused").get("reason").asText()).isNotEmpty();
        }

        Cli resume = Cli.run("resume", "--redis", uri(), byTool, byApi);
        assertThat(resume.exit()).as(resume.toString()).isZero();
        Cli after = Cli.run("status", "--redis", uri());
        assertThat(after.out()).contains(byTool, byApi).doesNotContain("Queue " + byTool + " is paused",
                "Queue " + byApi + " is paused");
    }

    /** Pause and resume need the worker's rules: the hint names them. */
    @Test
    void aUserWithoutTheWorkerRulesIsToldToGrantThem() {
        String q = queue();
        try (Jedis j = redis.jedis()) {
            j.aclSetUser("pause-readonly", "reset", "on", ">pw", "~spillway:*", "+ping", "+get", "+exists", "+sismember");
        }
        Cli c = Cli.run("pause", "--redis", "redis://pause-readonly:pw@127.0.0.1:" + redis.port(), q);
        assertThat(c.exit()).as(c.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(c.oneLineError()).contains("refused a command to user 'pause-readonly': NOPERM",
                "grant it the ACL rules for a worker (spillway-worker)");
        assertThat(flag(q)).isNull();
    }
}
