package io.spillway.backend;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.spillway.core.HealthState;
import io.spillway.core.MetricNames;
import io.spillway.testing.ChaosProxy;
import io.spillway.testing.RedisProcess;
import io.spillway.testing.SentinelGroup;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

/**
 * The producer's guarantees through a Sentinel failover: a master SIGKILLed under load, its replica promoted. Every
 * accepted job must be on the new master exactly once, in producer order per queue, counted from the new master's
 * streams (read directly), against the ids the producer's receipts gave.
 *
 * <p>{@code -Dspillway.it.resendOff=true} runs both tests with the producer's re-send switched off
 * ({@code resendAfterRestart(Duration.ZERO, 0)}), to see what the re-send is for.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class SentinelFailoverIT {
    private static final boolean RESEND_OFF = Boolean.getBoolean("spillway.it.resendOff");
    private static final String[] QUEUES = {"alpha", "beta"};

    @TempDir
    Path dir;

    private JobProducer producer(SentinelGroup redis) {
        JobProducer.Builder b = JobProducer.builder().redis(redis.uri()).journalDir(dir.resolve("journal"))
                .reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(300));
        if (RESEND_OFF) {
            b.resendAfterRestart(Duration.ZERO, 0);
        }
        return b.build();
    }

    @Test
    void thousandsOfJobsEnqueuedThroughAMasterKillAreOnTheNewMasterOnceInOrder() throws Exception {
        int total = 12_000;
        Map<String, List<String>> accepted = accepted();
        try (SentinelGroup redis = SentinelGroup.builder().start();
             JobProducer p = producer(redis)) {
            await().atMost(Duration.ofSeconds(20)).until(() -> p.state() == HealthState.CONNECTED);
            AtomicBoolean failedOver = new AtomicBoolean();
            Thread chaos = killMasterAfterAQuarter(redis, p, total, failedOver);
            long spooled = 0;
            for (int i = 0; i < total; i++) {
                String q = QUEUES[i % 2];
                Receipt r = p.enqueue(q, "t", ("job " + i).getBytes());
                accepted.get(q).add(r.jobId());
                spooled += r.spooled() ? 1 : 0;
                if (i % 100 == 0) {
                    // About 4,000 jobs/s: the failover (about 3 s) lands in the middle of the load.
                    LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(25));
                }
            }
            chaos.join();
            assertThat(failedOver).isTrue();
            assertThat(spooled).as("jobs spooled while no master answered").isGreaterThan(0);
            awaitDrained(p);
            assertThat(p.metrics().meter(MetricNames.RESENT).getCount())
                    .as("recent writes re-sent after the failover (new run id)").isGreaterThan(RESEND_OFF ? -1 : 0);
            assertOnNewMasterOnceInOrder(redis, accepted);
        }
    }

    /**
     * The replication-lag case: the replica is stopped (SIGSTOP) while the master acknowledges at least a second and
     * 3,000 jobs (12 MB) of writes it never gets, then the master is SIGKILLed and the replica, resumed, promoted. Those
     * writes exist only in the producer's memory: the re-send after the new run id must bring every one back.
     */
    @Test
    void writesTheOldMasterNeverReplicatedAreSentAgainToTheNewMaster() throws Exception {
        replicationLag(false, Duration.ZERO);
    }

    /**
     * The same with a write-ahead producer and no resend window: the journal alone keeps what the old master never
     * replicated (no worker runs, so nothing is confirmed), and the new master's run id sends it again.
     */
    @Test
    void aWriteAheadProducerRestoresWhatTheOldMasterNeverReplicatedWithoutTheResendWindow() throws Exception {
        replicationLag(true, Duration.ZERO);
    }

    /**
     * A replica behind by longer than the resend window (5 s): stopped for 8 s while the master acknowledges about
     * 3 MB/s, its link dropped by the master after 1 MB waited for it, so that what follows never reaches it. The writes
     * of the stop's first seconds are older than the window when the master dies: only the producer's replica watch
     * (INFO replication each second) kept them, as no replica had confirmed them. A review lost 1,448-2,152 of 6,000
     * jobs this way (a manual failover, then the new master killed before its replica had resynced).
     */
    @Test
    @org.junit.jupiter.api.Tag("first-pass-only") // 25 s; the Redis side (replication, INFO) is that of the test above
    void writesNoReplicaHadForLongerThanTheResendWindowAreSentAgainAfterTheFailover() throws Exception {
        replicationLag(false, Duration.ofSeconds(8));
    }

    /**
     * close() waits until a replica has confirmed the producer's last direct writes (nobody re-sends them once it is
     * gone), at most 3 s, and says so at WARN when none does: here the replica is stopped.
     */
    @Test
    @org.junit.jupiter.api.Tag("first-pass-only") // 8 s; the Redis side is that of the replication tests
    void closeWaitsForAReplicaToConfirmTheLastWritesAndSaysWhenNoneDoes() throws Exception {
        try (SentinelGroup redis = SentinelGroup.builder().start();
             io.spillway.testing.LogCapture logs = new io.spillway.testing.LogCapture()) {
            JobProducer first = JobProducer.builder().redis(redis.uri()).journalDir(dir.resolve("first")).build();
            await().atMost(Duration.ofSeconds(20)).until(() -> first.state() == HealthState.CONNECTED);
            for (int i = 0; i < 100; i++) {
                assertThat(first.enqueue(QUEUES[0], "t", new byte[100]).spooled()).isFalse();
            }
            long t0 = System.nanoTime();
            first.close();
            long confirmedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            assertThat(logs.lines("Producer closed before Redis was known to keep")).as("the replica confirmed").isEmpty();

            JobProducer second = JobProducer.builder().redis(redis.uri()).journalDir(dir.resolve("second")).build();
            await().atMost(Duration.ofSeconds(20)).until(() -> second.state() == HealthState.CONNECTED);
            RedisProcess replica = redis.replica();
            replica.hang();
            try {
                for (int i = 0; i < 100; i++) {
                    assertThat(second.enqueue(QUEUES[0], "t", new byte[100]).spooled()).isFalse();
                }
                t0 = System.nanoTime();
                second.close();
            } finally {
                replica.resume();
            }
            long unconfirmedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            System.out.printf("close: %d ms with the replica confirming, %d ms with it stopped%n", confirmedMs, unconfirmedMs);
            assertThat(confirmedMs).as("a replica acknowledges every second").isLessThan(3_000);
            assertThat(unconfirmedMs).isGreaterThanOrEqualTo(3_000);
            assertThat(logs.lines("Producer closed before Redis was known to keep")).singleElement().asString()
                    .contains(" WARN ", "no replica had confirmed them", dir.resolve("second").toString());
        }
    }

    /**
     * Every sentinel down while the master serves: nothing fails, so nothing else would say that a failover now would
     * go unnoticed. The heartbeat says it once, after 3 s, and again when a sentinel answers.
     */
    @Test
    @org.junit.jupiter.api.Tag("first-pass-only") // client-side: the same whatever the Redis version
    void sentinelsThatAllStopAnsweringAreSaidOnceAndTheirReturnToo() throws Exception {
        try (SentinelGroup redis = SentinelGroup.builder().start();
             io.spillway.testing.LogCapture logs = new io.spillway.testing.LogCapture();
             JobProducer p = producer(redis)) {
            await().atMost(Duration.ofSeconds(20)).until(() -> p.state() == HealthState.CONNECTED);
            for (int i = 0; i < redis.sentinelPorts().size(); i++) {
                redis.killSentinel(i);
            }
            await().atMost(Duration.ofSeconds(15)).until(() -> !logs.lines("No sentinel of master").isEmpty());
            assertThat(logs.lines("No sentinel of master")).hasSize(1).allSatisfy(l -> assertThat(l).contains(" WARN ",
                    "'" + redis.masterName() + "'", "a failover would not be followed until a sentinel answers again"));
            assertThat(p.enqueue(QUEUES[0], "t", new byte[1]).spooled()).as("the master still serves").isFalse();
            redis.restartSentinel(0);
            await().atMost(Duration.ofSeconds(15)).until(() -> !logs.lines("answer again").isEmpty());
            assertThat(logs.lines("No sentinel of master")).as("said once").hasSize(1);
            assertThat(p.state()).isEqualTo(HealthState.CONNECTED);
        }
    }

    /**
     * @param longStop {@link Duration#ZERO}: the replica is stopped for about a second and 3,000 jobs; else for this
     *     long, at about 750 jobs/s, with a 64 MiB resend buffer (the default 16 MiB would overflow)
     */
    private void replicationLag(boolean writeAhead, Duration longStop) throws Exception {
        Map<String, List<String>> accepted = accepted();
        boolean longer = !longStop.isZero();
        // Big payloads, so that a second of writes is more than the loopback socket buffers hold: what is still in
        // the master's output buffer for the replica dies with it.
        byte[] payload = new byte[4096];
        Arrays.fill(payload, (byte) 'x');
        try (SentinelGroup redis = SentinelGroup.builder().start();
             JobProducer p = writeAhead ? JobProducer.builder().redis(redis.uri()).journalDir(dir.resolve("journal"))
                     .reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(300)).writeAhead(true)
                     .resendAfterRestart(Duration.ZERO, 0).build()
                     : longer ? JobProducer.builder().redis(redis.uri()).journalDir(dir.resolve("journal"))
                     .reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(300))
                     .resendAfterRestart(JobProducer.Builder.DEFAULT_RESEND_WINDOW, 64L << 20).build()
                     : producer(redis)) {
            await().atMost(Duration.ofSeconds(20)).until(() -> p.state() == HealthState.CONNECTED);
            AtomicBoolean stop = new AtomicBoolean();
            int perPause = longer ? 8 : 50; // then 10 ms: at most 800 or 5,000 jobs/s
            Thread load = new Thread(() -> {
                int i = 0;
                while (!stop.get()) {
                    String q = QUEUES[i % 2];
                    Receipt r = p.enqueue(q, "t", payload);
                    synchronized (accepted) {
                        accepted.get(q).add(r.jobId());
                    }
                    if (++i % perPause == 0) {
                        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
                    }
                }
            }, "load");
            load.start();
            await().atMost(Duration.ofSeconds(30)).until(() -> p.metrics().meter(MetricNames.ACCEPTED).getCount() >= 1_000);
            RedisProcess replica = redis.replica();
            if (longer) {
                try (Jedis master = redis.master().jedis()) {
                    master.configSet("client-output-buffer-limit", "replica 1mb 512kb 1");
                }
            }
            replica.hang();
            long before = p.metrics().meter(MetricNames.ACCEPTED).getCount();
            if (longer) {
                LockSupport.parkNanos(longStop.toNanos());
            } else {
                // More than the loopback socket buffers between master and replica hold (they reach the replica even
                // after the master dies): 981 jobs of 4 KiB in one second on a busy machine all arrived, and nothing
                // was lost.
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1000));
                await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20))
                        .until(() -> p.metrics().meter(MetricNames.ACCEPTED).getCount() - before >= 3_000);
            }
            long unreplicated = p.metrics().meter(MetricNames.ACCEPTED).getCount() - before;
            RedisProcess old = redis.killMaster();
            replica.resume();
            RedisProcess now = redis.awaitFailover(old, Duration.ofSeconds(30));
            assertThat(now).isSameAs(replica);
            await().atMost(Duration.ofSeconds(30)).until(() -> p.state() == HealthState.CONNECTED);
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(300));
            stop.set(true);
            load.join();
            awaitDrained(p);
            long restored = p.metrics().meter(MetricNames.RESTORED).getCount();
            System.out.printf("accepted while the replica was stopped: %d; restored by the re-send: %d; resent: %d%n",
                    unreplicated, restored, p.metrics().meter(MetricNames.RESENT).getCount());
            assertThat(unreplicated).as("jobs acknowledged while the replica was stopped").isGreaterThan(500);
            if (!RESEND_OFF || writeAhead) {
                assertThat(restored).as("jobs the new master lacked, restored by the re-send (else the case under"
                        + " test did not happen)").isGreaterThan(0);
            }
            if (longer) {
                assertThat(p.metrics().getGauges().get(MetricNames.RESEND_OVERFLOWED).getValue())
                        .as("nothing pushed out of the resend buffer").isEqualTo(0L);
            }
            assertOnNewMasterOnceInOrder(redis, accepted);
        }
    }

    /**
     * A manual failover ({@code SENTINEL FAILOVER}): the old master is demoted while it still answers (writes to it
     * get READONLY, then it resyncs from the new master and drops what it alone had), and Jedis's sentinel listener
     * may move the pool to the new master while calls go well. Every accepted job must still be on the new master
     * once, in order: the producer must not write to the new master before its recovery has re-sent recent writes.
     */
    @Test
    void aManualFailoverThatDemotesTheLiveMasterLosesNothingAndKeepsOrder() throws Exception {
        int total = 12_000;
        Map<String, List<String>> accepted = accepted();
        try (SentinelGroup redis = SentinelGroup.builder().start();
             JobProducer p = producer(redis)) {
            await().atMost(Duration.ofSeconds(20)).until(() -> p.state() == HealthState.CONNECTED);
            AtomicBoolean failedOver = new AtomicBoolean();
            RedisProcess[] old = new RedisProcess[1];
            Thread chaos = new Thread(() -> {
                await().atMost(Duration.ofSeconds(60)).until(() ->
                        p.metrics().meter(MetricNames.ACCEPTED).getCount() >= total / 4 && p.state() == HealthState.CONNECTED);
                old[0] = redis.failover();
                redis.awaitFailover(old[0], Duration.ofSeconds(30));
                failedOver.set(true);
            }, "chaos");
            chaos.start();
            for (int i = 0; i < total; i++) {
                String q = QUEUES[i % 2];
                accepted.get(q).add(p.enqueue(q, "t", ("job " + i).getBytes()).jobId());
                if (i % 100 == 0) {
                    LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(25));
                }
            }
            chaos.join();
            assertThat(failedOver).isTrue();
            awaitDrained(p);
            System.out.printf("manual failover: resent %d, restored %d%n", p.metrics().meter(MetricNames.RESENT).getCount(),
                    p.metrics().meter(MetricNames.RESTORED).getCount());
            assertThat(old[0].isAlive()).as("the old master was demoted, not killed").isTrue();
            assertOnNewMasterOnceInOrder(redis, accepted);
        }
    }

    /**
     * The manual failover with eight threads enqueueing, each to its own queue: when the heartbeat learns of the new
     * master, calls are on their way to the old one. Each that the old master acknowledges must be among the writes the
     * recovery re-sends, and none may reach the new master ahead of the re-send. Before the reconnect loop waited for
     * calls in flight, a call acknowledged after the recovery had taken the recent writes was lost when the old master
     * resynced (once in CI with one thread; most runs with eight on a busy machine).
     */
    // First pass only (.ci/run's Redis 7.0 pass leaves out the tag, to keep CI under 30 minutes): it waits out the old
    // master's demotion (about 10 s); the Redis 7.0 pass runs the one-caller manual failover above.
    @org.junit.jupiter.api.Tag("first-pass-only")
    @Test
    void aManualFailoverWithManyCallersInFlightLosesNothingAndKeepsOrder() throws Exception {
        int threads = 8;
        Map<String, List<String>> accepted = new HashMap<>();
        for (int t = 0; t < threads; t++) {
            accepted.put("q" + t, java.util.Collections.synchronizedList(new ArrayList<>()));
        }
        try (SentinelGroup redis = SentinelGroup.builder().start();
             JobProducer p = producer(redis)) {
            await().atMost(Duration.ofSeconds(20)).until(() -> p.state() == HealthState.CONNECTED);
            AtomicBoolean stop = new AtomicBoolean();
            List<Thread> load = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                String q = "q" + t;
                Thread th = new Thread(() -> {
                    int i = 0;
                    while (!stop.get()) {
                        accepted.get(q).add(p.enqueue(q, "t", ("job " + i).getBytes()).jobId());
                        if (++i % 20 == 0) {
                            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
                        }
                    }
                }, "load-" + t);
                th.start();
                load.add(th);
            }
            await().atMost(Duration.ofSeconds(30)).until(() -> p.metrics().meter(MetricNames.ACCEPTED).getCount() >= 2_000);
            RedisProcess old = redis.failover();
            redis.awaitFailover(old, Duration.ofSeconds(30));
            // Until the sentinels have demoted the old master: what it alone took is gone from then on. (Demoting it
            // kills its client connections, a poll's among them.)
            await().atMost(Duration.ofSeconds(40)).pollInterval(Duration.ofMillis(100)).ignoreExceptions().until(() -> {
                try (Jedis j = old.jedis()) {
                    return j.info("replication").contains("role:slave");
                }
            });
            await().atMost(Duration.ofSeconds(30)).until(() -> p.state() == HealthState.CONNECTED);
            stop.set(true);
            for (Thread th : load) {
                th.join();
            }
            awaitDrained(p);
            System.out.printf("manual failover, %d callers: accepted %d, resent %d, restored %d%n", threads,
                    p.metrics().meter(MetricNames.ACCEPTED).getCount(), p.metrics().meter(MetricNames.RESENT).getCount(),
                    p.metrics().meter(MetricNames.RESTORED).getCount());
            assertOnNewMasterOnceInOrder(redis, accepted);
        }
    }

    /**
     * Every connection the producer holds to the sentinels dies silently (a firewall dropped them: no reset; Jedis's
     * Sentinel client, which Spillway used until session 19, waited on its {@code +switch-master} subscriptions for
     * ever) before a manual failover. The old master goes on taking writes until the sentinels demote it, 8-10 s later, then
     * resyncs from the new master and drops them: the producer must notice the new master on its own, within its
     * re-send window (5 s), or every job it wrote to the old master earlier than that is lost.
     */
    // First pass only (.ci/run's Redis 7.0 pass leaves out the tag, to keep CI under 30 minutes): what it checks is the
    // producer's own polling of the sentinels, the same whatever the Redis version; it waits out a demotion (16 s).
    @org.junit.jupiter.api.Tag("first-pass-only")
    @Test
    void aProducerWhoseSentinelSubscriptionsDiedSilentlyStillFollowsAFailover() throws Exception {
        Map<String, List<String>> accepted = accepted();
        try (SentinelGroup redis = SentinelGroup.builder().sentinels(3).start();
             ChaosProxy s1 = ChaosProxy.to(redis.sentinelPorts().get(0));
             ChaosProxy s2 = ChaosProxy.to(redis.sentinelPorts().get(1));
             ChaosProxy s3 = ChaosProxy.to(redis.sentinelPorts().get(2));
             JobProducer p = JobProducer.builder()
                     .redis(java.net.URI.create("redis-sentinel://127.0.0.1:" + s1.port() + ",127.0.0.1:" + s2.port()
                             + ",127.0.0.1:" + s3.port() + "#" + redis.masterName()))
                     .journalDir(dir.resolve("journal")).reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(300))
                     .build()) {
            await().atMost(Duration.ofSeconds(20)).until(() -> p.state() == HealthState.CONNECTED);
            // The heartbeat keeps one connection open to a sentinel.
            await().atMost(Duration.ofSeconds(20)).until(() -> s1.openConnections() + s2.openConnections()
                    + s3.openConnections() >= 1);
            AtomicBoolean stop = new AtomicBoolean();
            Thread load = new Thread(() -> {
                int i = 0;
                while (!stop.get()) {
                    String q = QUEUES[i % 2];
                    Receipt r = p.enqueue(q, "t", ("job " + i).getBytes());
                    synchronized (accepted) {
                        accepted.get(q).add(r.jobId());
                    }
                    if (++i % 20 == 0) {
                        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
                    }
                }
            }, "load");
            load.start();
            await().atMost(Duration.ofSeconds(30)).until(() -> p.metrics().meter(MetricNames.ACCEPTED).getCount() >= 1_000);
            assertThat(s1.stallOpenConnections() + s2.stallOpenConnections() + s3.stallOpenConnections())
                    .as("the heartbeat's kept connection stalled").isGreaterThanOrEqualTo(1);
            RedisProcess old = redis.failover();
            long failoverAt = System.nanoTime();
            redis.awaitFailover(old, Duration.ofSeconds(30));
            // Until the sentinels have demoted the old master (the moment its writes are doomed) and a while after.
            await().atMost(Duration.ofSeconds(40)).pollInterval(Duration.ofMillis(100)).ignoreExceptions().until(() -> {
                try (Jedis j = old.jedis()) {
                    return j.info("replication").contains("role:slave");
                }
            });
            long demotedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - failoverAt);
            await().atMost(Duration.ofSeconds(30)).until(() -> p.state() == HealthState.CONNECTED);
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1_000));
            stop.set(true);
            load.join();
            awaitDrained(p);
            System.out.printf("silent sentinel connections: old master demoted %d ms after the failover; resent %d, restored %d%n",
                    demotedMs, p.metrics().meter(MetricNames.RESENT).getCount(),
                    p.metrics().meter(MetricNames.RESTORED).getCount());
            assertThat(demotedMs).as("the old master was demoted later than the re-send window reaches back (else this"
                    + " test shows nothing)").isGreaterThan(5_000);
            assertOnNewMasterOnceInOrder(redis, accepted);
        }
    }

    /** Sentinels that do not answer yet are an outage like any other: jobs are spooled, then replayed once they do. */
    @Test
    void aProducerStartedBeforeTheSentinelsAnswerSpoolsAndReplaysOnceTheyDo() throws Exception {
        int port = io.spillway.testing.FreePorts.next();
        Map<String, List<String>> accepted = accepted();
        try (JobProducer p = JobProducer.builder().redis(java.net.URI.create("redis-sentinel://127.0.0.1:" + port + "#spillway"))
                .journalDir(dir.resolve("journal")).reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(300)).build()) {
            for (int i = 0; i < 200; i++) {
                String q = QUEUES[i % 2];
                Receipt r = p.enqueue(q, "t", ("job " + i).getBytes());
                assertThat(r.spooled()).isTrue();
                accepted.get(q).add(r.jobId());
            }
            try (SentinelGroup redis = SentinelGroup.builder().firstSentinelPort(port).start()) {
                awaitDrained(p);
                accepted.get(QUEUES[0]).add(p.enqueue(QUEUES[0], "t", "after".getBytes()).jobId());
                assertOnNewMasterOnceInOrder(redis, accepted);
            }
        }
    }

    private static Map<String, List<String>> accepted() {
        Map<String, List<String>> accepted = new HashMap<>();
        for (String q : QUEUES) {
            accepted.put(q, new ArrayList<>());
        }
        return accepted;
    }

    /**
     * Started: once a quarter of {@code total} jobs were accepted and the producer is connected (so the kill hits it in
     * the middle of direct writes), SIGKILLs the master and waits for the failover, then sets {@code failedOver}.
     */
    static Thread killMasterAfterAQuarter(SentinelGroup redis, JobProducer p, int total, AtomicBoolean failedOver) {
        Thread chaos = new Thread(() -> {
            await().atMost(Duration.ofSeconds(60)).until(() ->
                    p.metrics().meter(MetricNames.ACCEPTED).getCount() >= total / 4 && p.state() == HealthState.CONNECTED);
            RedisProcess old = redis.killMaster();
            redis.awaitFailover(old, Duration.ofSeconds(30));
            failedOver.set(true);
        }, "chaos");
        chaos.start();
        return chaos;
    }

    static void awaitDrained(JobProducer p) {
        await().atMost(Duration.ofSeconds(60)).until(() -> p.state() == HealthState.CONNECTED && p.journalBacklog() == 0);
    }

    /** Every accepted job of each queue of {@code accepted} is on the current master once, in the order accepted. */
    static void assertOnNewMasterOnceInOrder(SentinelGroup redis, Map<String, List<String>> accepted) {
        try (Jedis j = redis.master().jedis(Duration.ofSeconds(10))) {
            for (String q : accepted.keySet()) {
                List<String> inRedis = RedisJobs.ids(j, q);
                Map<String, Integer> copies = new HashMap<>();
                inRedis.forEach(id -> copies.merge(id, 1, Integer::sum));
                List<String> lost = accepted.get(q).stream().filter(id -> !copies.containsKey(id)).toList();
                assertThat(lost).as("accepted jobs of " + q + " missing on the new master (of "
                        + accepted.get(q).size() + ")").isEmpty();
                assertThat(copies.values()).as("copies per job in " + q).allMatch(n -> n == 1);
                // A producer killed between a write and its receipt leaves jobs nobody counted as accepted: not compared.
                java.util.Set<String> counted = new java.util.HashSet<>(accepted.get(q));
                assertThat(inRedis.stream().filter(counted::contains).toList()).as("order in " + q)
                        .containsExactlyElementsOf(accepted.get(q));
            }
        }
    }
}
