package io.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spillway.backend.JobProducer;
import io.spillway.core.MetricNames;
import io.spillway.core.QueueName;
import io.spillway.core.internal.JobCodec;
import io.spillway.core.internal.RedisKeys;
import io.spillway.testing.FreePorts;
import io.spillway.testing.RedisProcess;
import io.spillway.watchdog.Watchdog;
import io.spillway.worker.RetryPolicy;
import io.spillway.worker.Worker;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.params.XAddParams;

/** Every command against a real redis-server, plus bad input and an unreachable Redis. */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class CliIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final AtomicInteger QUEUES = new AtomicInteger();
    private static RedisProcess redis;
    private static String dead;

    @TempDir
    Path tmp;

    @BeforeAll
    static void startRedis() {
        redis = RedisProcess.builder().start();
        dead = "redis://127.0.0.1:" + FreePorts.next();
    }

    @AfterAll
    static void stopRedis() {
        redis.close();
    }

    private static String queue() {
        return "cli-it-" + QUEUES.incrementAndGet() + "-" + System.nanoTime();
    }

    private static String uri() {
        return redis.uri().toString();
    }

    @Test
    void helpListsEveryCommandAndEveryCommandHasHelp() {
        Cli top = Cli.run("--help");
        assertThat(top.exit()).isZero();
        assertThat(top.out()).contains("demo", "status", "journal", "dlq", "cancel", "pause", "resume", "doctor",
                "watchdog");
        for (String[] cmd : List.of(new String[] {"demo"}, new String[] {"status"}, new String[] {"journal", "inspect"},
                new String[] {"journal", "replay"}, new String[] {"dlq", "list"}, new String[] {"dlq", "show"},
                new String[] {"dlq", "retry"}, new String[] {"dlq", "purge"}, new String[] {"cancel"}, new String[] {"pause"},
                new String[] {"resume"}, new String[] {"doctor"}, new String[] {"watchdog"})) {
            String[] args = java.util.stream.Stream.concat(java.util.Arrays.stream(cmd), java.util.stream.Stream.of("--help"))
                    .toArray(String[]::new);
            Cli c = Cli.run(args);
            assertThat(c.exit()).as(String.join(" ", args)).isZero();
            assertThat(c.out()).as(String.join(" ", args)).contains("Usage: spillway " + String.join(" ", cmd));
        }
    }

    @Test
    void badInputExitsTwoWithOneLine() {
        Cli unknown = Cli.run("status", "--bogus");
        assertThat(unknown.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(unknown.oneLineError()).startsWith("spillway status: Unknown option: '--bogus'");

        Cli badUri = Cli.run("doctor", "--redis", "http://localhost:6379");
        assertThat(badUri.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(badUri.oneLineError()).contains("redis://");

        Cli badQueue = Cli.run("status", "--redis", uri(), "-q", "no spaces allowed");
        assertThat(badQueue.exit()).isEqualTo(ExitCodes.USAGE);
        badQueue.oneLineError();

        Cli noDir = Cli.run("journal", "inspect", tmp.resolve("nope").toString());
        assertThat(noDir.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(noDir.oneLineError()).contains("no journal directory");

        Cli faults = Cli.run("demo", "--faults", "explode@3s");
        assertThat(faults.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(faults.oneLineError()).contains("explode@3s");

        Cli purge = Cli.run("dlq", "purge", "--redis", uri(), "-q", queue(), "--all");
        assertThat(purge.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(purge.oneLineError()).contains("--yes");

        Cli noSub = Cli.run("dlq");
        assertThat(noSub.exit()).isEqualTo(ExitCodes.USAGE);
        noSub.oneLineError();
    }

    @Test
    void unreachableRedisExitsThreeWithOneLine() {
        for (String[] args : List.of(
                new String[] {"status", "--redis", dead},
                new String[] {"doctor", "--redis", dead},
                new String[] {"dlq", "list", "--redis", dead, "-q", "x"},
                new String[] {"dlq", "retry", "--redis", dead, "-q", "x", "--all"},
                new String[] {"pause", "--redis", dead, "x"},
                new String[] {"resume", "--redis", dead, "x"})) {
            Cli c = Cli.run(args);
            assertThat(c.exit()).as(String.join(" ", args)).isEqualTo(ExitCodes.UNREACHABLE);
            assertThat(c.oneLineError()).contains("cannot reach Redis at " + dead, "connection refused");
        }
    }

    @Test
    void missingAndWrongCredentialsAreTheSameOneLineAndExitTwo() {
        try (RedisProcess locked = RedisProcess.builder().start()) {
            locked.configSet("requirepass", "secret");
            String host = "127.0.0.1:" + locked.port();
            Path spool = spoolJobs(queue(), 1);
            for (String uri : List.of("redis://" + host, "redis://:wrong@" + host)) {
                String reply = uri.contains("wrong") ? "WRONGPASS invalid username-password pair" : "NOAUTH Authentication required";
                for (String[] args : List.of(
                        new String[] {"status", "--redis", uri},
                        new String[] {"doctor", "--redis", uri},
                        new String[] {"dlq", "list", "--redis", uri, "-q", "x"},
                        new String[] {"journal", "replay", spool.toString(), "--redis", uri},
                        new String[] {"report", "--redis", uri, "--no-http", "--console", "60"})) {
                    Cli c = Cli.run(args);
                    assertThat(c.exit()).as(String.join(" ", args) + "\n" + c).isEqualTo(ExitCodes.USAGE);
                    assertThat(c.oneLineError()).contains("Redis at redis://" + host + " refused the credentials: " + reply,
                            "; give user:password in the URI").doesNotContain("wrong", "cannot reach");
                }
            }
            Cli ok = Cli.run("status", "--redis", "redis://:secret@" + host);
            assertThat(ok.exit()).as(ok.toString()).isZero();
        }
    }

    @Test
    void everyCommandPrintsItsVersion() {
        for (String[] args : List.of(new String[] {"--version"}, new String[] {"status", "-V"}, new String[] {"journal", "inspect", "-V"},
                new String[] {"dlq", "list", "--version"}, new String[] {"demo", "-V"})) {
            Cli c = Cli.run(args);
            assertThat(c.exit()).as(c.toString()).isZero();
            assertThat(c.out()).as(String.join(" ", args)).startsWith("spillway ");
        }
    }

    @Test
    void aQueueRedisHasNeverSeenIsCalledUnknownNotShownEmpty() throws Exception {
        String typo = queue();
        Cli status = Cli.run("status", "--redis", uri(), "-q", typo);
        assertThat(status.exit()).as(status.toString()).isZero();
        assertThat(status.out()).contains("Queue " + typo + " is unknown to Redis: no job was ever enqueued to it");
        assertThat(JSON.readTree(Cli.run("status", "--redis", uri(), "-q", typo, "--json").out()).get("unknownQueues").get(0).asText())
                .isEqualTo(typo);

        Cli dlq = Cli.run("dlq", "list", "--redis", uri(), "-q", typo);
        assertThat(dlq.exit()).as(dlq.toString()).isZero();
        assertThat(dlq.out()).contains("Queue " + typo + " is unknown to Redis").doesNotContain("No dead letters");
        assertThat(JSON.readTree(Cli.run("dlq", "list", "--redis", uri(), "-q", typo, "--json").out()).get("queueKnown").asBoolean())
                .isFalse();

        String q = queue();
        try (JobProducer producer = JobProducer.builder().redis(redis.uri()).journalDir(tmp.resolve("jk")).build()) {
            producer.enqueue(q, "t", new byte[] {1});
        }
        assertThat(Cli.run("status", "--redis", uri(), "-q", q).out()).doesNotContain("unknown");
        assertThat(Cli.run("dlq", "list", "--redis", uri(), "-q", q).out()).contains("No dead letters in queue " + q);
    }

    @Test
    void doctorPassesAKeepingRedisAndFailsAnEvictingOne() throws Exception {
        try (RedisProcess evicting = RedisProcess.builder().maxMemoryPolicy("allkeys-lru").appendOnly(false).start()) {
            Cli good = Cli.run("doctor", "--redis", uri());
            assertThat(good.exit()).as(good.toString()).isZero();
            assertThat(good.out()).contains("noeviction", "AOF on");

            Cli bad = Cli.run("doctor", "--redis", evicting.uri().toString());
            assertThat(bad.exit()).as(bad.toString()).isEqualTo(ExitCodes.FAILED);
            assertThat(bad.out()).contains("LOSES JOBS", "allkeys-lru", "fix: CONFIG SET maxmemory-policy noeviction",
                    "fix: CONFIG SET appendonly yes");

            JsonNode json = JSON.readTree(Cli.run("doctor", "--redis", evicting.uri().toString(), "--json").out());
            assertThat(json.get("losesJobs").asBoolean()).isTrue();
            assertThat(json.get("findings").findValuesAsText("check")).contains("eviction", "persistence", "memory", "version", "latency");
        }
    }

    @Test
    void doctorWarnsOfWhatAnAclKeepsItFromReadingInsteadOfCallingItOk() throws Exception {
        try (redis.clients.jedis.Jedis j = redis.jedis()) {
            j.aclSetUser("doctor-noconfig", "on", ">pw", "+@all", "-config");
            j.aclSetUser("doctor-noinfo", "on", ">pw", "+@all", "-config", "-info");
        }
        String at = "@127.0.0.1:" + redis.port();
        Cli noConfig = Cli.run("doctor", "--redis", "redis://doctor-noconfig:pw" + at);
        assertThat(noConfig.exit()).as(noConfig.toString()).isEqualTo(ExitCodes.OK); // a warning, as documented
        assertThat(noConfig.out()).contains("noeviction", "warn       persistence      AOF on; could not check appendfsync:"
                + " CONFIG not allowed (NOPERM); check it by hand", "some settings could not be read")
                .doesNotContain("appendfsync ?", "All good");

        Cli noInfo = Cli.run("doctor", "--redis", "redis://doctor-noinfo:pw" + at);
        assertThat(noInfo.exit()).as(noInfo.toString()).isEqualTo(ExitCodes.OK);
        assertThat(noInfo.err()).isEmpty();
        assertThat(noInfo.out()).contains("version unknown: INFO denied (NOPERM)",
                "could not check maxmemory-policy: INFO denied (NOPERM), CONFIG not allowed (NOPERM); check it by hand",
                "warn       not checked      memory headroom, version, role and AOF write errors: INFO denied (NOPERM)");
        JsonNode json = JSON.readTree(Cli.run("doctor", "--redis", "redis://doctor-noinfo:pw" + at, "--json").out());
        assertThat(json.get("unreadable").get("INFO").asText()).isEqualTo("INFO denied (NOPERM)");
    }

    @Test
    void statusShowsWaitingJobsAndAJournalBacklog() throws Exception {
        String q = queue();
        try (JobProducer producer = JobProducer.builder().redis(redis.uri()).journalDir(tmp.resolve("j1")).build()) {
            for (int i = 0; i < 7; i++) {
                producer.enqueue(q, "t", ("p" + i).getBytes(StandardCharsets.UTF_8));
            }
        }
        Path spool = spoolJobs(q, 3);

        Cli text = Cli.run("status", "--redis", uri(), "-q", q, "--journal", spool.toString());
        assertThat(text.exit()).as(text.toString()).isZero();
        assertThat(text.out()).contains("QUEUE", q, "3 job(s) not yet replayed");

        JsonNode json = JSON.readTree(Cli.run("status", "--redis", uri(), "-q", q, "--json").out());
        JsonNode row = json.get("queues").get(0);
        assertThat(row.get("queue").asText()).isEqualTo(q);
        assertThat(row.get("waiting").asLong()).isEqualTo(7);
        assertThat(row.get("inFlight").asLong()).isZero();
        assertThat(row.get("oldestWaitingAgeMs").asLong()).isGreaterThanOrEqualTo(0);

        Cli all = Cli.run("status", "--redis", uri());
        assertThat(all.out()).contains(q);
    }

    /**
     * A job that waited an hour in a producer's journal before its replay has waited an hour, not the moments since it
     * reached Redis (found in a user trial): the age comes from its record's enqueued-at, or its run-at when later.
     */
    @Test
    void statusCountsTheOldestWaitingJobFromWhenItWasAccepted() throws Exception {
        long hour = 3_600_000;
        long now = System.currentTimeMillis();
        String spooledAnHour = queue();
        String dueTenMinutes = queue();
        String garbled = queue();
        String retriedDead = queue();
        try (redis.clients.jedis.Jedis j = redis.jedis()) {
            // As a replay writes them now: the producer accepted the job an hour ago.
            xadd(j, spooledAnHour, JobCodec.encode(job(spooledAnHour, now - hour, 0)));
            // Accepted an hour ago with a run-at 10 minutes ago (a delayed job or a retry): waiting for 10 minutes.
            xadd(j, dueTenMinutes, JobCodec.encode(job(dueTenMinutes, now - hour, now - 600_000)));
            // A record that cannot be decoded: counted from the entry's arrival in Redis.
            xadd(j, garbled, new byte[] {42, 0, 7});
            // A dead letter first accepted an hour ago, put back by dlq retry: waiting since the retry.
            QueueName dead = QueueName.of(retriedDead);
            j.sadd(RedisKeys.QUEUES, retriedDead);
            j.zadd(RedisKeys.dead(dead), now - hour / 2, "old-1");
            j.hset(RedisKeys.bytes(RedisKeys.deadData(dead)), RedisKeys.bytes("old-1"),
                    JobCodec.encode(job(retriedDead, now - hour, 0)));
        }
        assertThat(Cli.run("dlq", "retry", "--redis", uri(), "-q", retriedDead, "old-1").exit()).isZero();

        JsonNode json = JSON.readTree(Cli.run("status", "--redis", uri(), "-q", spooledAnHour, "-q", dueTenMinutes,
                "-q", garbled, "-q", retriedDead, "--json").out());
        java.util.Map<String, Long> age = new java.util.HashMap<>();
        json.get("queues").forEach(row -> age.put(row.get("queue").asText(), row.get("oldestWaitingAgeMs").asLong()));
        assertThat(age.get(spooledAnHour)).isBetween(hour, hour + 60_000);
        assertThat(age.get(dueTenMinutes)).isBetween(600_000L, 660_000L);
        assertThat(age.get(garbled)).isBetween(0L, 60_000L);
        assertThat(age.get(retriedDead)).isBetween(0L, 60_000L);

        Cli text = Cli.run("status", "--redis", uri(), "-q", spooledAnHour, "-q", dueTenMinutes);
        assertThat(text.out()).containsPattern(java.util.regex.Pattern.quote(spooledAnHour) + " .* 60 min ")
                .containsPattern(java.util.regex.Pattern.quote(dueTenMinutes) + " .* 10 min ");
    }

    private static io.spillway.core.internal.JobRecord job(String queue, long enqueuedAt, long runAt) {
        return new io.spillway.core.internal.JobRecord(io.spillway.core.JobId.of("job-" + enqueuedAt), QueueName.of(queue),
                "t", new byte[] {1}, java.util.Map.of(), 0, enqueuedAt, runAt);
    }

    private static void xadd(redis.clients.jedis.Jedis j, String queue, byte[] record) {
        j.sadd(RedisKeys.QUEUES, queue);
        j.xadd(RedisKeys.bytes(RedisKeys.stream(QueueName.of(queue))), XAddParams.xAddParams(),
                java.util.Map.of(RedisKeys.bytes(RedisKeys.FIELD_JOB), record));
    }

    @Test
    void journalInspectThenReplayIsIdempotent() throws Exception {
        String q = queue();
        Path spool = spoolJobs(q, 5);

        JsonNode inspect = JSON.readTree(Cli.run("journal", "inspect", spool.toString(), "--json", "--list", "2").out());
        assertThat(inspect.get("backlog").asLong()).isEqualTo(5);
        assertThat(inspect.get("backlogByQueue").get(q).asLong()).isEqualTo(5);
        assertThat(inspect.get("list")).hasSize(2);
        Cli text = Cli.run("journal", "inspect", spool.toString());
        assertThat(text.out()).contains("not yet replayed  5 job(s)", "corrupt records   0");

        Cli unreachable = Cli.run("journal", "replay", spool.toString(), "--redis", dead);
        assertThat(unreachable.exit()).isEqualTo(ExitCodes.UNREACHABLE);
        assertThat(unreachable.oneLineError()).contains("cannot reach Redis");

        Cli replay = Cli.run("journal", "replay", spool.toString(), "--redis", uri());
        assertThat(replay.exit()).as(replay.toString()).isZero();
        assertThat(replay.out()).contains("5 new, 0 already in Redis; 0 left");
        assertThat(JSON.readTree(Cli.run("status", "--redis", uri(), "-q", q, "--json").out())
                .get("queues").get(0).get("waiting").asLong()).isEqualTo(5);

        Cli again = Cli.run("journal", "replay", spool.toString(), "--redis", uri(), "--json");
        assertThat(JSON.readTree(again.out()).get("replayed").asLong()).isZero();
    }

    @Test
    void dlqListShowRetryPurge() throws Exception {
        String q = queue();
        AtomicInteger runs = new AtomicInteger();
        try (JobProducer producer = JobProducer.builder().redis(redis.uri()).journalDir(tmp.resolve("jd")).build();
             Worker worker = Worker.builder().redis(redis.uri()).queue(q).stateDir(tmp.resolve("w"))
                     .retryPolicy(RetryPolicy.noRetry())
                     .handler("boom", job -> {
                         runs.incrementAndGet();
                         // A line break and a terminal escape, as a message carrying payload text can have.
                         throw new IllegalStateException("no GPU today\n2026-12-02 ERROR FAKE \u001b[31mred");
                     }).build()) {
            worker.start();
            String a = producer.enqueue(q, "boom", "hello".getBytes(StandardCharsets.UTF_8)).jobId();
            String b = producer.enqueue(q, "boom", "world".getBytes(StandardCharsets.UTF_8)).jobId();
            await().atMost(Duration.ofSeconds(20)).until(() ->
                    JSON.readTree(Cli.run("dlq", "list", "--redis", uri(), "-q", q, "--json").out()).get("total").asLong() == 2);

            Cli list = Cli.run("dlq", "list", "--redis", uri(), "-q", q);
            assertThat(list.out()).contains(a, b, "no GPU today\\n2026", "2 of 2 dead letter(s)")
                    .as("one line per dead letter, no terminal escape").doesNotContain("\n2026").doesNotContain("\u001b");

            Cli show = Cli.run("dlq", "show", "--redis", uri(), "-q", q, a, "--payload");
            assertThat(show.exit()).isZero();
            assertThat(show.out()).contains("type        boom", "payload     5 bytes: hello",
                    "reason      java.lang.IllegalStateException: no GPU today\\n2026-12-02 ERROR FAKE \\u001b[31mred")
                    .doesNotContain("\u001b");
            assertThat(JSON.readTree(Cli.run("dlq", "show", "--redis", uri(), "-q", q, a, "--json").out())
                    .get("deadLetter").get("reason").asText()).as("--json: as it is").contains("today\n2026");
            Cli missing = Cli.run("dlq", "show", "--redis", uri(), "-q", q, "nope");
            assertThat(missing.exit()).isEqualTo(ExitCodes.FAILED);
            assertThat(missing.oneLineError()).contains("no dead letter nope");

            int before = runs.get();
            Cli retry = Cli.run("dlq", "retry", "--redis", uri(), "-q", q, a);
            assertThat(retry.exit()).as(retry.toString()).isZero();
            await().atMost(Duration.ofSeconds(20)).until(() -> runs.get() > before);
            await().atMost(Duration.ofSeconds(20)).until(() ->
                    JSON.readTree(Cli.run("dlq", "list", "--redis", uri(), "-q", q, "--json").out()).get("total").asLong() == 2);

            Cli purge = Cli.run("dlq", "purge", "--redis", uri(), "-q", q, "--all", "--yes");
            assertThat(purge.out()).contains("Purged 2");
            assertThat(Cli.run("dlq", "list", "--redis", uri(), "-q", q).out()).contains("No dead letters");
        }
    }

    @Test
    void dlqRetrySaysWhyALetterItCannotDecodeStays() {
        String q = queue();
        // A dead letter whose stored record is not a job record (damaged, or from another version).
        try (redis.clients.jedis.Jedis j = redis.jedis()) {
            QueueName name = QueueName.of(q);
            j.sadd(RedisKeys.QUEUES, q); // as its first enqueue did: still known once the letter is purged
            j.zadd(RedisKeys.dead(name), System.currentTimeMillis(), "garbled-1");
            j.hset(RedisKeys.bytes(RedisKeys.deadData(name)), RedisKeys.bytes("garbled-1"), new byte[] {42, 0, 7});
        }
        Cli show = Cli.run("dlq", "show", "--redis", uri(), "-q", q, "garbled-1");
        assertThat(show.exit()).as(show.toString()).isZero();
        assertThat(show.out()).contains("type        ?");

        Cli one = Cli.run("dlq", "retry", "--redis", uri(), "-q", q, "garbled-1");
        assertThat(one.exit()).as(one.toString()).isEqualTo(ExitCodes.FAILED);
        assertThat(one.out()).isEmpty();
        assertThat(one.oneLineError()).startsWith("spillway dlq retry: cannot retry garbled-1: its record (3 bytes) cannot be"
                + " decoded").contains("spillway dlq purge -q " + q + " garbled-1");

        Cli retry = Cli.run("dlq", "retry", "--redis", uri(), "-q", q, "garbled-1", "nope");
        assertThat(retry.exit()).as(retry.toString()).isEqualTo(ExitCodes.FAILED);
        assertThat(retry.out()).isEmpty();
        assertThat(retry.oneLineError()).startsWith("spillway dlq retry: 2 of 2 id(s) not retried in queue " + q + ": garbled-1"
                + " (its record (3 bytes) cannot be decoded (damaged, or written by another version)), nope (not found); see the raw")
                .contains("spillway dlq purge -q " + q + " garbled-1");

        Cli all = Cli.run("dlq", "retry", "--redis", uri(), "-q", q, "--all");
        assertThat(all.exit()).as(all.toString()).isEqualTo(ExitCodes.FAILED);
        assertThat(all.out()).contains("Retried 0 dead letter(s)");
        assertThat(all.oneLineError()).contains("1 dead letter(s) stay: their records cannot be decoded");

        assertThat(Cli.run("dlq", "purge", "--redis", uri(), "-q", q, "garbled-1").out()).contains("purged");
        assertThat(Cli.run("dlq", "retry", "--redis", uri(), "-q", q, "--all").exit()).isZero();
    }

    @Test
    void dlqRetryAndPurgeSayWhatWasNotDoneOnStderrAndTakeJson() throws Exception {
        String q = queue();
        try (redis.clients.jedis.Jedis j = redis.jedis()) {
            j.sadd(RedisKeys.QUEUES, q);
        }
        Cli retry = Cli.run("dlq", "retry", "--redis", uri(), "-q", q, "nope");
        assertThat(retry.exit()).as(retry.toString()).isEqualTo(ExitCodes.FAILED);
        assertThat(retry.out()).isEmpty();
        assertThat(retry.oneLineError()).isEqualTo("spillway dlq retry: no dead letter nope in queue " + q);
        Cli purge = Cli.run("dlq", "purge", "--redis", uri(), "-q", q, "nope");
        assertThat(purge.exit()).as(purge.toString()).isEqualTo(ExitCodes.FAILED);
        assertThat(purge.oneLineError()).isEqualTo("spillway dlq purge: no dead letter nope in queue " + q);

        Cli json = Cli.run("dlq", "retry", "--redis", uri(), "-q", q, "nope", "--json");
        assertThat(json.exit()).as(json.toString()).isEqualTo(ExitCodes.FAILED);
        JsonNode row = JSON.readTree(json.out()).get(0);
        assertThat(row.get("jobId").asText()).isEqualTo("nope");
        assertThat(row.get("done").asBoolean()).isFalse();
        assertThat(row.get("problem").asText()).isEqualTo("not found");
        Cli all = Cli.run("dlq", "purge", "--redis", uri(), "-q", q, "--all", "--yes", "--json");
        assertThat(all.exit()).as(all.toString()).isZero();
        assertThat(JSON.readTree(all.out()).get("purged").asLong()).isZero();
    }

    /** A typo must not read as "0 retried": a queue Redis has never seen is an error, and nothing changes. */
    @Test
    void dlqRetryAndPurgeOfAQueueRedisHasNeverSeenFail() {
        String typo = queue();
        for (String[] args : List.of(new String[] {"dlq", "retry", "--redis", uri(), "-q", typo, "--all"},
                new String[] {"dlq", "retry", "--redis", uri(), "-q", typo, "job-1"},
                new String[] {"dlq", "purge", "--redis", uri(), "-q", typo, "--all", "--yes"})) {
            Cli c = Cli.run(args);
            assertThat(c.exit()).as(c.toString()).isEqualTo(ExitCodes.FAILED);
            assertThat(c.out()).isEmpty();
            assertThat(c.oneLineError()).contains("Queue " + typo + " is unknown to Redis: no job was ever enqueued to it");
        }
    }

    @Test
    void aDatabaseTheServerDoesNotHaveIsBadInput() {
        Cli c = Cli.run("status", "--redis", uri() + "/99");
        assertThat(c.exit()).as(c.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(c.oneLineError()).contains("has no database 99", "DB index is out of range", "below its 'databases' setting");
    }

    @Test
    void statusWithAJournalNamesAQueueOnlyTheJournalHoldsAsNotInRedisYet() {
        String q = queue();
        Path dir = spoolJobs(q, 3);
        Cli c = Cli.run("status", "--redis", uri(), "--journal", dir.toString(), "-q", q);
        assertThat(c.exit()).as(c.toString()).isZero();
        assertThat(c.out()).contains("Queue " + q + " is not in Redis yet: 3 job(s) of it wait in journal "
                + dir.toAbsolutePath()).doesNotContain("unknown to Redis");
        String typo = queue();
        assertThat(Cli.run("status", "--redis", uri(), "--journal", dir.toString(), "-q", typo).out())
                .contains("Queue " + typo + " is unknown to Redis");
    }

    @Test
    void doctorHelpWrapsItsProseWherePicocliDoes() {
        String help = Cli.run("doctor", "--help").out();
        assertThat(help).doesNotContain("renamed or\n");
        assertThat(help.replaceAll("\\s+", " ")).contains("denied by an ACL, renamed or disabled, as on managed Redis)");
    }

    /** Writes {@code n} jobs into a journal by enqueuing while Redis is unreachable, and closes the producer. */
    private Path spoolJobs(String q, int n) {
        Path dir = tmp.resolve("spool-" + q);
        try (JobProducer producer = JobProducer.builder().redis(URI.create(dead)).journalDir(dir).build()) {
            for (int i = 0; i < n; i++) {
                assertThat(producer.enqueue(q, "t", ("s" + i).getBytes(StandardCharsets.UTF_8)).spooled()).isTrue();
            }
        }
        return dir;
    }

    @Test
    void watchdogMetricNamesMatchCore() {
        assertThat(Watchdog.METRIC_RESTARTS).isEqualTo(MetricNames.WATCHDOG_RESTARTS);
        assertThat(Watchdog.METRIC_DOWNTIME).isEqualTo(MetricNames.WATCHDOG_DOWNTIME);
        assertThat(Watchdog.METRIC_UP).isEqualTo(MetricNames.WATCHDOG_UP);
    }
}
