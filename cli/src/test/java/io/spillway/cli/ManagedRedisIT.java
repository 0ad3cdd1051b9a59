package io.spillway.cli;

import io.spillway.testing.LogCapture;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.spillway.backend.JobProducer;
import io.spillway.backend.Receipt;
import io.spillway.core.HealthState;
import io.spillway.core.JobId;
import io.spillway.core.JobState;
import io.spillway.core.MetricNames;
import io.spillway.core.QueueName;
import io.spillway.core.internal.RedisKeys;
import io.spillway.testing.RedisProcess;
import io.spillway.worker.DeadLetter;
import io.spillway.worker.DeadLetters;
import io.spillway.worker.RetryPolicy;
import io.spillway.worker.Worker;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

/**
 * Spillway on a Redis set up like a managed one: {@code rename-command CONFIG ""} and ACL users with exactly the
 * rules docs/operations.md documents (read from that page, so the page and this test cannot drift apart).
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ManagedRedisIT {
    private static final Path OPERATIONS = Path.of("..", "docs", "operations.md");

    @TempDir
    Path tmp;

    /** The rules of a role as docs/operations.md gives them, after {@code reset on >PASSWORD}. */
    static List<String> documentedRules(String role) throws Exception {
        String prefix = "ACL SETUSER spillway-" + role + " reset on >";
        List<String> lines = Files.readAllLines(OPERATIONS).stream().filter(l -> l.startsWith(prefix)).toList();
        assertThat(lines).as("the %s rules in %s", role, OPERATIONS).hasSize(1);
        List<String> words = Arrays.asList(lines.get(0).trim().split(" +"));
        return List.copyOf(words.subList(6, words.size()));
    }

    /** A Redis as a managed service runs it: CONFIG renamed away, no AOF (snapshots are the provider's business). */
    private static RedisProcess managedRedis() {
        return RedisProcess.builder().appendOnly(false).setting("rename-command", "CONFIG \"\"").start();
    }

    static void setUser(RedisProcess r, String user, List<String> rules) {
        List<String> args = new ArrayList<>(List.of("reset", "on", ">pw"));
        args.addAll(rules);
        try (Jedis admin = r.jedis()) {
            admin.aclSetUser(user, args.toArray(String[]::new));
        }
    }

    static String uri(RedisProcess r, String user) {
        return "redis://" + user + ":pw@127.0.0.1:" + r.port();
    }

    private static List<String> union(List<String> a, List<String> b) {
        List<String> out = new ArrayList<>(a);
        b.stream().filter(x -> !out.contains(x)).forEach(out::add);
        return out;
    }

    private static List<byte[]> payloads(int n) {
        List<byte[]> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(("batch-" + i).getBytes(StandardCharsets.UTF_8));
        }
        return out;
    }

    @Test
    void producerWorkerDeadLettersAndToolsWorkWithTheDocumentedAclAndConfigRenamed() throws Exception {
        try (RedisProcess r = managedRedis(); LogCapture logs = new LogCapture()) {
            setUser(r, "app", union(documentedRules("producer"), documentedRules("worker")));
            setUser(r, "tools", documentedRules("tools"));
            try (Jedis admin = r.jedis()) {
                assertThatThrownBy(() -> admin.configGet("save")).hasMessageContaining("unknown command");
            }
            URI app = URI.create(uri(r, "app"));
            String q = "managed-" + System.nanoTime();
            Map<String, AtomicInteger> runs = new ConcurrentHashMap<>();
            AtomicBoolean failBad = new AtomicBoolean(true);
            List<Receipt> receipts = new ArrayList<>();
            try (JobProducer producer = JobProducer.builder().redis(app).journalDir(tmp.resolve("journal")).build()) {
                await().atMost(10, TimeUnit.SECONDS).until(() -> producer.state() == HealthState.CONNECTED);
                for (int i = 0; i < 20; i++) {
                    receipts.add(producer.enqueue(q, "ok", ("one-" + i).getBytes(StandardCharsets.UTF_8)));
                }
                receipts.addAll(producer.enqueueAll(q, "ok", payloads(30)));
                Receipt bad = producer.enqueue(q, "bad", "x".getBytes(StandardCharsets.UTF_8));
                receipts.add(bad);
                assertThat(receipts).allSatisfy(rc -> assertThat(rc.spooled()).as(rc.toString()).isFalse());
                // Two jobs cancelled, by the producer and by the tool, under the producer's rules; the worker drops
                // them under its own (drop.lua).
                Receipt cancelled = producer.enqueue(q, "ok", "x".getBytes(StandardCharsets.UTF_8));
                Receipt cancelledByTool = producer.enqueue(q, "ok", "x".getBytes(StandardCharsets.UTF_8));
                assertThat(producer.cancel(cancelled).state()).isEqualTo(JobState.CANCELLED);
                Cli cancel = Cli.run("cancel", "--redis", app.toString(), q, cancelledByTool.jobId());
                assertThat(cancel.exit()).as(cancel.toString()).isZero();

                Worker worker = Worker.builder().redis(app).queue(q).stateDir(tmp.resolve("worker"))
                        .fetchBlock(Duration.ofMillis(100)).retryPolicy(RetryPolicy.noRetry())
                        .handler("ok", job -> runs.computeIfAbsent(job.id(), k -> new AtomicInteger()).incrementAndGet())
                        .handler("bad", job -> {
                            if (failBad.get()) {
                                throw new IllegalStateException("fails until the dead letter is retried");
                            }
                            runs.computeIfAbsent(job.id(), k -> new AtomicInteger()).incrementAndGet();
                        })
                        .build();
                worker.start();
                try (DeadLetters letters = DeadLetters.connect(app)) {
                    await().atMost(30, TimeUnit.SECONDS).until(() -> runs.size() == 50 && letters.count(q) == 1);
                    try (Jedis admin = r.jedis()) {
                        await().atMost(10, TimeUnit.SECONDS).until(() -> admin.xlen(RedisKeys.stream(QueueName.of(q))) == 0);
                        for (Receipt c : List.of(cancelled, cancelledByTool)) {
                            assertThat(admin.ttl(RedisKeys.job(QueueName.of(q), JobId.of(c.jobId())))).as("dropped").isPositive();
                        }
                    }
                    List<DeadLetter> dead = letters.list(q, 10);
                    assertThat(dead).extracting(DeadLetter::id).containsExactly(bad.jobId());

                    // Paused and resumed by the tool under the worker's rules (SET NX, GET, DEL); status reads the
                    // pause under the tools' rules.
                    Cli pause = Cli.run("pause", "--redis", app.toString(), q, "--reason", "managed");
                    assertThat(pause.exit()).as(pause.toString()).isZero();
                    Cli status = Cli.run("status", "-q", q, "--redis", uri(r, "tools"));
                    assertThat(status.exit()).as(status.toString()).isZero();
                    assertThat(status.out()).contains(q, "Queue " + q + " is paused since ", "(managed)");
                    Cli resume = Cli.run("resume", "--redis", app.toString(), q);
                    assertThat(resume.exit()).as(resume.toString()).isZero();
                    assertThat(resume.out()).isEqualTo(q + "  resumed\n");
                    Cli list = Cli.run("dlq", "list", "-q", q, "--redis", uri(r, "tools"));
                    assertThat(list.exit()).as(list.toString()).isZero();
                    assertThat(list.out()).contains(bad.jobId());
                    // A job's status (its record and progress: two GETs) and the running list (XPENDING, XRANGE) under
                    // the tools' rules.
                    Cli job = Cli.run("status", "-q", q, bad.jobId(), "--redis", uri(r, "tools"));
                    assertThat(job.exit()).as(job.toString()).isZero();
                    assertThat(job.out()).contains(bad.jobId(), "DEAD");
                    Cli running = Cli.run("status", "-q", q, "--running", "--redis", uri(r, "tools"));
                    assertThat(running.exit()).as(running.toString()).isZero();

                    failBad.set(false);
                    assertThat(letters.retry(q, bad.jobId())).isTrue();
                    await().atMost(30, TimeUnit.SECONDS).until(() -> runs.containsKey(bad.jobId()) && letters.count(q) == 0);
                } finally {
                    worker.close();
                }
            }
            assertThat(runs).hasSize(51).allSatisfy((id, n) -> assertThat(n.get()).as(id).isEqualTo(1));

            Cli doctor = Cli.run("doctor", "--redis", uri(r, "tools"), "--pings", "2");
            assertThat(doctor.err()).isEmpty();
            assertThat(doctor.out()).contains("AOF off (could not check save: CONFIG not allowed (renamed or disabled); check it by hand)")
                    .doesNotContain("Exception");

            List<String> unchecked = logs.lines("could not be checked");
            assertThat(unchecked).as("one WARN, said once for the producer and the worker of this JVM").hasSize(1);
            assertThat(unchecked.get(0)).contains(" WARN ", "Redis persistence could not be checked (CONFIG not allowed"
                    + " (renamed or disabled))", "make sure this Redis keeps its data across a restart");
            assertThat(logs.lines(" ERROR ")).isEmpty();
            assertThat(logs.lines("NOPERM")).isEmpty();
        }
    }

    /**
     * With the AOF on, a producer and a worker under exactly the documented rules (no optional {@code +config|get}) make
     * no call the ACL refuses: {@code ACL LOG} stays empty (the health probe read {@code CONFIG GET save} at every probe,
     * a refusal logged each time, though with the AOF on it tells nothing).
     */
    @Test
    void theDocumentedRulesLeaveNothingInTheAclLogWhenTheAofIsOn() throws Exception {
        try (RedisProcess r = RedisProcess.builder().start(); LogCapture logs = new LogCapture()) {
            setUser(r, "producer", documentedRules("producer"));
            setUser(r, "worker", documentedRules("worker"));
            String q = "acl-log-" + System.nanoTime();
            Map<String, AtomicInteger> runs = new ConcurrentHashMap<>();
            try (JobProducer producer = JobProducer.builder().redis(URI.create(uri(r, "producer")))
                    .journalDir(tmp.resolve("journal")).build()) {
                await().atMost(10, TimeUnit.SECONDS).until(() -> producer.state() == HealthState.CONNECTED);
                List<Receipt> receipts = producer.enqueueAll(q, "ok", payloads(10));
                Worker worker = Worker.builder().redis(URI.create(uri(r, "worker"))).queue(q).stateDir(tmp.resolve("worker"))
                        .fetchBlock(Duration.ofMillis(100))
                        .handler("ok", job -> {
                            job.progress("done"); // written by the worker (SET … EX), read by the producer (MGET)
                            // A checkpoint: read (GET), saved (SET … EX), deleted at completion (DEL).
                            if (job.lastCheckpoint().isEmpty() && job.checkpoint("half")) {
                                runs.computeIfAbsent(job.id(), k -> new AtomicInteger()).incrementAndGet();
                            }
                        })
                        .build();
                worker.start();
                try {
                    await().atMost(30, TimeUnit.SECONDS).until(() -> runs.size() == 10);
                    await().atMost(10, TimeUnit.SECONDS).until(() -> receipts.stream()
                            .allMatch(rc -> producer.status(rc).progress().equals(java.util.Optional.of("done"))));
                    try (Jedis admin = r.jedis()) {
                        await().atMost(10, TimeUnit.SECONDS).until(() -> admin.keys("spillway:{" + q + "}:checkpoint:*").isEmpty());
                    }
                } finally {
                    worker.close();
                }
            }
            try (Jedis admin = r.jedis()) {
                assertThat(admin.aclLog()).extracting(e -> e.getUsername() + " " + e.getReason() + " " + e.getObject())
                        .as("refusals in ACL LOG").isEmpty();
            }
            assertThat(logs.lines("could not be checked")).isEmpty();
        }
    }

    /**
     * A producer user without {@code +mset}: the enqueue script writes the batch's status records with MSET after its
     * jobs, and Redis does not undo the XADDs when the MSET is refused. The probe proves MSET too, so such a producer is
     * never healthy: its jobs spool and nothing is replayed until the rule is granted, then each job reaches Redis once.
     * Before, each reconnect attempt's replay added the batch to the stream again (10 jobs: 10 more entries a try).
     */
    @Test
    void aProducerWhoseUserLacksMsetNeverAddsABatchTwice() throws Exception {
        try (RedisProcess r = managedRedis(); LogCapture logs = new LogCapture()) {
            List<String> lacking = new ArrayList<>(documentedRules("producer"));
            assertThat(lacking.remove("+mset")).isTrue();
            setUser(r, "app", lacking);
            String q = "no-mset-" + System.nanoTime();
            try (JobProducer producer = JobProducer.builder().redis(URI.create(uri(r, "app"))).journalDir(tmp.resolve("journal"))
                    .reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(200)).build()) {
                var attempts = producer.metrics().counter(MetricNames.RECONNECT_ATTEMPTS + ".producer");
                await().atMost(10, TimeUnit.SECONDS).until(() -> attempts.getCount() >= 3);
                List<Receipt> receipts = producer.enqueueAll(q, "ok", payloads(10));
                assertThat(receipts).allSatisfy(rc -> assertThat(rc.spooled()).isTrue());
                long before = attempts.getCount();
                await().atMost(20, TimeUnit.SECONDS).until(() -> attempts.getCount() >= before + 10);
                assertThat(producer.state()).isNotEqualTo(HealthState.CONNECTED);
                assertThat(logs.lines(" ERROR ")).isNotEmpty().allSatisfy(l -> assertThat(l).contains("NOPERM"));
                try (Jedis admin = r.jedis()) {
                    assertThat(admin.exists(redis.clients.jedis.util.SafeEncoder.encode("spillway:{" + q + "}:stream")))
                            .as("nothing written while refused").isFalse();
                    admin.aclSetUser("app", "+mset");
                    await().atMost(20, TimeUnit.SECONDS).until(() -> producer.state() == HealthState.CONNECTED
                            && producer.journalBacklog() == 0);
                    assertThat(admin.xlen("spillway:{" + q + "}:stream")).as("each job once").isEqualTo(10);
                }
            }
        }
    }

    /**
     * A worker user without {@code +zadd} (a retry's ZADD to the delayed set is refused) and outcomes kept through a
     * freeze of Redis: 50 completed jobs and 1 failed, sent together at the recovery. The refused retry fails its own
     * call only: the 50 acks are recorded, the recovery goes on, and the failed job stays leased (redelivered after its
     * lease). Before, the refused retry came first and failed the whole batch, and the recovery, for good.
     */
    @Test
    void aRefusedRetryAmongKeptOutcomesCostsNeitherTheAcksNorTheRecovery() throws Exception {
        try (RedisProcess r = managedRedis(); LogCapture logs = new LogCapture()) {
            List<String> rules = new ArrayList<>(documentedRules("worker"));
            assertThat(rules.remove("+zadd")).isTrue();
            setUser(r, "worker", rules);
            setUser(r, "producer", documentedRules("producer"));
            String q = "refused-retry-" + System.nanoTime();
            java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
            AtomicInteger started = new AtomicInteger();
            try (JobProducer producer = JobProducer.builder().redis(URI.create(uri(r, "producer")))
                    .journalDir(tmp.resolve("journal")).build();
                 Worker worker = Worker.builder()
                         .redis(io.spillway.core.RedisConnection.builder(URI.create(uri(r, "worker")))
                                 .socketTimeout(Duration.ofMillis(500)).build())
                         .queue(q).stateDir(tmp.resolve("worker")).concurrency(60).prefetch(0)
                         .leaseDuration(Duration.ofSeconds(60)).fetchBlock(Duration.ofMillis(100))
                         .handler("ok", job -> {
                             started.incrementAndGet();
                             release.await();
                             if (job.payloadAsString().equals("fails")) {
                                 throw new IllegalStateException("fails");
                             }
                         }).build()) {
                await().atMost(10, TimeUnit.SECONDS).until(() -> producer.state() == HealthState.CONNECTED);
                List<byte[]> payloads = new ArrayList<>(payloads(50));
                payloads.add("fails".getBytes(StandardCharsets.UTF_8));
                List<Receipt> receipts = producer.enqueueAll(q, "ok", payloads);
                worker.start();
                await().atMost(20, TimeUnit.SECONDS).until(() -> started.get() == 51);
                r.hang();
                try {
                    release.countDown();
                    await().atMost(20, TimeUnit.SECONDS).until(() -> worker.acksPendingLocally() == 51);
                } finally {
                    r.resume();
                }
                await().atMost(30, TimeUnit.SECONDS).until(() -> worker.health() == HealthState.CONNECTED
                        && worker.acksPendingLocally() == 0);
                await().atMost(10, TimeUnit.SECONDS).until(() -> receipts.subList(0, 50).stream()
                        .allMatch(rc -> producer.status(rc).state() == io.spillway.core.JobState.COMPLETED));
                assertThat(producer.status(receipts.get(50)).state()).as("still leased: redelivered after its lease")
                        .isEqualTo(io.spillway.core.JobState.ACTIVE);
                assertThat(logs.lines(" ERROR ")).anySatisfy(l -> assertThat(l).contains("NOPERM", "ZADD", "some of 51 job outcomes"));
            }
        }
    }

    @Test
    void aMissingPermissionSpoolsSaysSoAtErrorAndEveryJobReachesRedisOnceItIsGranted() throws Exception {
        try (RedisProcess r = managedRedis(); LogCapture logs = new LogCapture()) {
            List<String> lacking = new ArrayList<>(union(documentedRules("producer"), documentedRules("worker")));
            assertThat(lacking.remove("+xadd")).isTrue(); // called inside enqueue.lua: the refusal Redis reports least clearly
            assertThat(lacking.remove("+xreadgroup")).isTrue();
            setUser(r, "app", lacking);
            List<String> tools = new ArrayList<>(documentedRules("tools"));
            assertThat(tools.remove("+sismember")).isTrue();
            setUser(r, "tools", tools);
            URI app = URI.create(uri(r, "app"));
            String q = "refused-" + System.nanoTime();
            Map<String, AtomicInteger> runs = new ConcurrentHashMap<>();
            List<Receipt> receipts = new ArrayList<>();
            try (JobProducer producer = JobProducer.builder().redis(app).journalDir(tmp.resolve("journal"))
                    .reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(200)).build()) {
                await().atMost(10, TimeUnit.SECONDS).until(() -> producer.state() == HealthState.CONNECTED);
                for (int i = 0; i < 10; i++) {
                    receipts.add(producer.enqueue(q, "ok", ("one-" + i).getBytes(StandardCharsets.UTF_8)));
                }
                receipts.addAll(producer.enqueueAll(q, "ok", payloads(40)));
                assertThat(receipts).allSatisfy(rc -> assertThat(rc.spooled()).as(rc.toString()).isTrue());

                // The reconnect loop finds Redis answering but does not call it healthy: the replay is refused.
                var attempts = producer.metrics().counter(MetricNames.RECONNECT_ATTEMPTS + ".producer");
                long before = attempts.getCount();
                await().atMost(20, TimeUnit.SECONDS).until(() -> attempts.getCount() >= before + 12);
                assertThat(producer.state()).isNotEqualTo(HealthState.CONNECTED);
                assertThat(producer.journalBacklog()).isEqualTo(50);
                List<String> errors = logs.lines(" ERROR ");
                assertThat(errors).isNotEmpty().allSatisfy(l -> assertThat(l).contains("NOPERM", "docs/operations.md"));
                assertThat(errors.get(0)).contains("Redis refused a command to producer",
                        "NOPERM this user may not run XADD (on spillway:{" + q + "}:stream, in script enqueue)", "user 'app'",
                        "jobs are spooled to the journal meanwhile");
                assertThat(errors).as("paced: once, then every tenth attempt").hasSizeLessThanOrEqualTo(3);

                Worker worker = Worker.builder().redis(app).queue(q).stateDir(tmp.resolve("worker"))
                        .fetchBlock(Duration.ofMillis(100))
                        .handler("ok", job -> runs.computeIfAbsent(job.id(), k -> new AtomicInteger()).incrementAndGet())
                        .build();
                worker.start();
                try {
                    await().atMost(20, TimeUnit.SECONDS).until(() -> !logs.lines("Redis refused the fetch").isEmpty());
                    assertThat(logs.lines("Redis refused the fetch").get(0)).contains(" ERROR ",
                            "NOPERM this user has no permissions to run the 'xreadgroup' command", "user 'app'",
                            "docs/operations.md");

                    Cli status = Cli.run("status", "-q", q, "--redis", uri(r, "tools"));
                    assertThat(status.exit()).as(status.toString()).isEqualTo(ExitCodes.USAGE);
                    assertThat(status.oneLineError()).contains("refused a command to user 'tools'", "NOPERM", "sismember",
                            "docs/operations.md");

                    try (Jedis admin = r.jedis()) {
                        admin.aclSetUser("app", "+xadd", "+xreadgroup");
                    }
                    await().atMost(30, TimeUnit.SECONDS).until(() -> runs.size() == 50);
                    // Every job reached Redis once, by the replay: none had been written before the refusal.
                    assertThat(logs.lines("Replayed ")).singleElement().asString()
                            .contains("Replayed 50 jobs from journal", "(0 already in Redis, skipped as duplicates)");
                    assertThat(producer.state()).isEqualTo(HealthState.CONNECTED);
                    assertThat(producer.journalBacklog()).isZero();
                    assertThat(producer.enqueue(q, "ok", "after".getBytes(StandardCharsets.UTF_8)).spooled()).isFalse();
                    await().atMost(30, TimeUnit.SECONDS).until(() -> runs.size() == 51);
                } finally {
                    worker.close();
                }
            }
            assertThat(runs.keySet()).containsAll(receipts.stream().map(Receipt::jobId).toList());
            assertThat(runs).allSatisfy((id, n) -> assertThat(n.get()).as(id).isEqualTo(1));
            assertThat(logs.lines("\tat ")).as("no stack traces").isEmpty();
        }
    }

    /** Each command names the rules it needs when the ACL refuses it: replay the producer's, dlq purge the worker's. */
    @Test
    void aRefusedCommandNamesTheRulesItNeedsAndExitsTwo() throws Exception {
        try (RedisProcess r = managedRedis()) {
            setUser(r, "tools", documentedRules("tools"));
            String q = "rules-" + System.nanoTime();
            Path journal = tmp.resolve("journal");
            try (JobProducer producer = JobProducer.builder()
                    .redis(URI.create("redis://127.0.0.1:" + io.spillway.testing.FreePorts.next())).journalDir(journal).build()) {
                assertThat(producer.enqueue(q, "t", new byte[] {1}).spooled()).isTrue();
            }
            Cli replay = Cli.run("journal", "replay", journal.toString(), "--redis", uri(r, "tools"));
            assertThat(replay.exit()).as(replay.toString()).isEqualTo(ExitCodes.USAGE);
            assertThat(replay.oneLineError()).startsWith("spillway journal replay: Redis at ")
                    .contains("refused a command to user 'tools': NOPERM", "'mset'", // the probe's first write
                            "grant it the ACL rules for a producer (spillway-producer) in docs/operations.md (Managed Redis)");

            try (Jedis admin = r.jedis()) {
                admin.sadd(RedisKeys.QUEUES, q);
                admin.zadd(RedisKeys.dead(QueueName.of(q)), System.currentTimeMillis(), "dead-1");
            }
            Cli purge = Cli.run("dlq", "purge", "-q", q, "dead-1", "--redis", uri(r, "tools"));
            assertThat(purge.exit()).as(purge.toString()).isEqualTo(ExitCodes.USAGE);
            assertThat(purge.oneLineError()).contains("NOPERM", "grant it the ACL rules for a worker (spillway-worker)");

            Cli status = Cli.run("status", "-q", q, "--redis", uri(r, "tools"));
            assertThat(status.exit()).as(status.toString()).isZero();
        }
    }
}
