package io.spillway.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.spillway.backend.JobProducer;
import com.codahale.metrics.MetricRegistry;
import io.spillway.backend.Receipt;
import io.spillway.core.HealthState;
import io.spillway.core.MetricNames;
import io.spillway.core.QueueName;
import io.spillway.core.internal.RedisKeys;
import io.spillway.testing.LogCapture;
import io.spillway.testing.RedisClusterGroup;
import io.spillway.testing.RedisProcess;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.RedisClusterClient;

/**
 * Producer and worker on a Redis Cluster with {@code cluster-require-full-coverage no} (3 masters, no replicas, AOF
 * everysec), one of whose masters is SIGKILLed, kept down for a few seconds and restarted from its AOF. With full
 * coverage off the live masters keep {@code cluster_state:ok} and serve their slots meanwhile. The producer still has
 * one circuit for the whole cluster: every queue spools, and replays in order once the master is back. The worker goes
 * on with the queues of the live masters and pauses only those of the dead one. Each job is counted from records the
 * code under test does not keep: the receipts' ids, the stream entries on the cluster, the ids the handlers saw.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class ClusterPartialCoverageIT {
    @TempDir
    Path dir;

    private static final byte[] PAYLOAD = new byte[100];

    private static RedisClusterGroup partialCoverageCluster() {
        RedisClusterGroup cluster = RedisClusterGroup.builder().masters(3).requireFullCoverage(false).start();
        try (Jedis j = cluster.nodes().get(0).jedis()) {
            System.out.println("ClusterPartialCoverageIT: " + j.info("server").lines()
                    .filter(l -> l.startsWith("redis_version")).findFirst().orElse("redis_version:?"));
        }
        for (RedisProcess node : cluster.nodes()) {
            try (Jedis j = node.jedis()) {
                assertThat(j.configGet("cluster-require-full-coverage")).containsEntry("cluster-require-full-coverage", "no");
                assertThat(j.configGet("appendonly")).containsEntry("appendonly", "yes");
            }
        }
        return cluster;
    }

    private static JobProducer producer(RedisClusterGroup cluster, Path journal) {
        return JobProducer.builder().redis(cluster.uri()).journalDir(journal)
                .reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(200)).build();
    }

    private static String stream(String queue) {
        return RedisKeys.stream(QueueName.of(queue));
    }

    /**
     * Waits until the live masters have flagged {@code dead} as failed and checks that they still call the cluster ok
     * and serve their slots: what full coverage off means.
     */
    private static void assertLiveMastersServe(RedisClusterGroup cluster, RedisProcess dead, List<String> liveQueues) {
        cluster.awaitFlaggedFailed(dead, Duration.ofSeconds(30));
        for (RedisProcess node : cluster.nodes()) {
            if (node != dead) {
                try (Jedis j = node.jedis()) {
                    assertThat(j.clusterInfo()).as("master %d with full coverage off", node.port()).contains("cluster_state:ok");
                }
            }
        }
        try (RedisClusterClient admin = cluster.client()) {
            for (String q : liveQueues) {
                assertThat(admin.exists(stream(q))).as("queue %s's master serves its slot", q).isTrue();
            }
        }
    }

    @Test
    void whileAMasterIsDownEveryQueueSpoolsAndReplaysInOrderOnceItReturns() throws Exception {
        Map<String, AtomicInteger> handled = new ConcurrentHashMap<>();
        try (RedisClusterGroup cluster = partialCoverageCluster();
             LogCapture logs = new LogCapture();
             JobProducer producer = producer(cluster, dir.resolve("journal"))) {
            await().atMost(10, TimeUnit.SECONDS).until(() -> producer.state() == HealthState.CONNECTED);
            List<String> queues = ClusterIT.queuesAcrossMasters(cluster, 3);
            RedisProcess victim = cluster.masterFor(stream(queues.get(0)));
            assertThat(queues.subList(1, 3)).allSatisfy(q -> assertThat(cluster.masterFor(stream(q))).isNotSameAs(victim));
            Map<String, List<String>> accepted = new LinkedHashMap<>();
            Map<String, AtomicInteger> spooledWhileDown = new LinkedHashMap<>();
            Map<String, AtomicInteger> directWhileDown = new LinkedHashMap<>();
            for (String q : queues) {
                accepted.put(q, new ArrayList<>());
                spooledWhileDown.put(q, new AtomicInteger());
                directWhileDown.put(q, new AtomicInteger());
            }
            AtomicBoolean down = new AtomicBoolean();
            AtomicBoolean stop = new AtomicBoolean();
            AtomicReference<Throwable> thrown = new AtomicReference<>();
            // One thread enqueues, round robin, about 4,000 jobs a second: its order per queue is the producer order.
            Thread load = new Thread(() -> {
                try {
                    for (int i = 0; !stop.get(); i++) {
                        String q = queues.get(i % queues.size());
                        boolean downBefore = down.get();
                        Receipt r = producer.enqueue(q, "t", PAYLOAD);
                        accepted.get(q).add(r.jobId());
                        if (downBefore && down.get()) {
                            (r.spooled() ? spooledWhileDown : directWhileDown).get(q).incrementAndGet();
                        }
                        LockSupport.parkNanos(200_000);
                    }
                } catch (Throwable e) {
                    thrown.set(e);
                }
            });
            load.start();
            Thread.sleep(500);
            victim.kill();
            await().atMost(10, TimeUnit.SECONDS).until(() -> producer.state() != HealthState.CONNECTED);
            down.set(true);
            long downAt = System.nanoTime();
            assertLiveMastersServe(cluster, victim, queues.subList(1, 3));
            Thread.sleep(Math.max(0, 3_000 - TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - downAt)));
            assertThat(producer.state()).as("the producer waits for every master").isNotEqualTo(HealthState.CONNECTED);
            down.set(false);
            victim.restart();
            cluster.awaitHealthy(Duration.ofSeconds(30));
            await().atMost(30, TimeUnit.SECONDS).until(() -> producer.state() == HealthState.CONNECTED);
            Thread.sleep(300);
            stop.set(true);
            load.join();
            await().atMost(30, TimeUnit.SECONDS).until(() -> producer.journalBacklog() == 0);

            assertThat(thrown.get()).as("no enqueue threw").isNull();
            for (String q : queues) {
                assertThat(directWhileDown.get(q).get()).as("queue %s: jobs sent to Redis while a master was down", q).isZero();
                assertThat(spooledWhileDown.get(q).get()).as("queue %s: jobs spooled while a master was down", q).isPositive();
            }
            ClusterIT.assertAllInRedisInOrder(cluster, accepted);
            assertThat(logs.lines("Replayed")).as("the journal was replayed").isNotEmpty();
            List<String> all = accepted.values().stream().flatMap(List::stream).toList();
            assertThat(all).hasSizeGreaterThan(1000);
            System.out.printf("ClusterPartialCoverageIT: %d jobs accepted, spooled while the master was down: %s%n",
                    all.size(), spooledWhileDown);

            try (Worker w = Worker.builder().redis(cluster.uri()).stateDir(dir.resolve("worker")).fetchBlock(Duration.ofMillis(200))
                    .queues(queues.toArray(String[]::new))
                    .handler("t", job -> handled.computeIfAbsent(job.id(), k -> new AtomicInteger()).incrementAndGet())
                    .build()) {
                w.start();
                await().atMost(60, TimeUnit.SECONDS).until(() -> handled.keySet().containsAll(all));
            }
            assertThat(handled.keySet()).as("the handler saw every accepted job and no other").containsExactlyInAnyOrderElementsOf(all);
            assertThat(handled.values()).allSatisfy(n -> assertThat(n.get()).isEqualTo(1));
        }
    }

    /**
     * The question for a user who turns full coverage off: jobs already in Redis on the live masters keep running while
     * a master is dead, and only its queue waits. Handlers are held until the master is killed, so at that moment the
     * worker holds two jobs of each queue (concurrency 2 plus a fixed prefetch of 4: one read of two per queue) and
     * the rest wait in Redis.
     */
    @Test
    void aWorkerGoesOnWithTheQueuesOfTheLiveMastersWhileOneIsDown() throws Exception {
        Map<String, AtomicInteger> handled = new ConcurrentHashMap<>();
        CountDownLatch gate = new CountDownLatch(1);
        try (RedisClusterGroup cluster = partialCoverageCluster();
             LogCapture logs = new LogCapture();
             JobProducer producer = producer(cluster, dir.resolve("journal"))) {
            await().atMost(10, TimeUnit.SECONDS).until(() -> producer.state() == HealthState.CONNECTED);
            List<String> queues = ClusterIT.queuesAcrossMasters(cluster, 3);
            String deadQueue = queues.get(0);
            RedisProcess victim = cluster.masterFor(stream(deadQueue));
            List<String> liveQueues = queues.subList(1, 3);
            Map<String, List<String>> before = enqueue200Each(producer, queues);
            List<String> beforeOnLive = liveQueues.stream().flatMap(q -> before.get(q).stream()).toList();
            List<String> all = new ArrayList<>(before.values().stream().flatMap(List::stream).toList());
            try (Worker w = Worker.builder().redis(cluster.uri()).stateDir(dir.resolve("worker")).fetchBlock(Duration.ofMillis(200))
                    .queues(queues.toArray(String[]::new)).concurrency(2).prefetch(4)
                    .handler("t", job -> {
                        gate.await(60, TimeUnit.SECONDS);
                        handled.computeIfAbsent(job.id(), k -> new AtomicInteger()).incrementAndGet();
                    })
                    .build()) {
                w.start();
                await().atMost(30, TimeUnit.SECONDS).until(() -> w.inFlight() == 6);
                victim.kill();
                long killedAt = System.nanoTime();
                gate.countDown();

                await().atMost(60, TimeUnit.SECONDS).until(() -> handled.keySet().containsAll(beforeOnLive));
                long liveDoneMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedAt);
                long deadQueueRan = before.get(deadQueue).stream().filter(handled::containsKey).count();
                assertThat(deadQueueRan).as("the dead master's jobs in hand at the kill ran meanwhile").isEqualTo(2);
                assertThat(victim.isAlive()).isFalse();
                assertThat(w.health()).as("the worker is still connected to the live masters").isEqualTo(HealthState.CONNECTED);
                assertLiveMastersServe(cluster, victim, liveQueues);
                assertThat(logs.lines("paused")).as("the worker said the dead master's queue paused")
                        .anySatisfy(l -> assertThat(l).contains("WARN", deadQueue));
                // New jobs spool meanwhile, on every queue: one circuit for the producer.
                for (String q : queues) {
                    List<Receipt> rs = producer.enqueueAll(q, "t", Collections.nCopies(20, PAYLOAD));
                    assertThat(rs).as("queue %s while a master is down", q).allMatch(Receipt::spooled);
                    rs.forEach(r -> all.add(r.jobId()));
                }
                Thread.sleep(Math.max(0, 3_000 - TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedAt)));
                System.out.printf("ClusterPartialCoverageIT: the live masters' 400 jobs ran within %d ms of the kill; "
                        + "the dead master's queue: %d of 200 handled while it was down%n", liveDoneMs,
                        before.get(deadQueue).stream().filter(handled::containsKey).count());
                assertThat(before.get(deadQueue).stream().filter(handled::containsKey).count())
                        .as("no job of the dead master's queue fetched while it was down").isEqualTo(2);

                victim.restart();
                cluster.awaitHealthy(Duration.ofSeconds(30));
                await().atMost(30, TimeUnit.SECONDS).until(() -> producer.state() == HealthState.CONNECTED
                        && producer.journalBacklog() == 0);
                await().atMost(60, TimeUnit.SECONDS).until(() -> handled.keySet().containsAll(all));
                assertThat(logs.lines("resumed after")).as("the worker resumed the queue on its own")
                        .anySatisfy(l -> assertThat(l).contains(deadQueue));
                assertThat(logs.lines("Redis connection lost")).as("the worker's other queues never waited")
                        .noneMatch(l -> l.contains("(worker,"));
                assertThat(logs.lines("job outcomes kept locally")).as("the outcomes of the dead master's jobs waited locally")
                        .isNotEmpty();
            }
            assertThat(handled.keySet()).as("the handler saw every accepted job and no other").containsExactlyInAnyOrderElementsOf(all);
            assertThat(beforeOnLive).as("the live masters' jobs ran once each")
                    .allSatisfy(id -> assertThat(handled.get(id).get()).isEqualTo(1));
            long twice = handled.values().stream().filter(n -> n.get() > 1).count();
            System.out.printf("ClusterPartialCoverageIT: %d jobs handled, %d of them more than once%n", handled.size(), twice);
        }
    }

    /**
     * {@code count} queues on each master: the first names {@code pq-<n>} whose hash slots fall in its ranges, the same in
     * every run (the masters split the slots in even ranges), each queue in a slot of its own.
     */
    /** 200 jobs on each of {@code queues}, all straight into Redis: their ids by queue, in order. */
    private static Map<String, List<String>> enqueue200Each(JobProducer producer, List<String> queues) {
        Map<String, List<String>> out = new LinkedHashMap<>();
        for (String q : queues) {
            List<Receipt> rs = producer.enqueueAll(q, "t", Collections.nCopies(200, PAYLOAD));
            assertThat(rs).noneMatch(Receipt::spooled);
            out.put(q, rs.stream().map(Receipt::jobId).toList());
        }
        return out;
    }

    private static Map<RedisProcess, List<String>> queuesPerMaster(RedisClusterGroup cluster, int count) {
        Map<RedisProcess, List<String>> out = new LinkedHashMap<>();
        for (RedisProcess m : cluster.masters()) {
            out.put(m, new ArrayList<>());
        }
        for (int i = 0; out.values().stream().anyMatch(l -> l.size() < count); i++) {
            String q = "pq-" + i;
            List<String> of = out.get(cluster.masterFor(stream(q)));
            if (of.size() < count) {
                of.add(q);
            }
        }
        return out;
    }

    /** The master that serves slot 0 (the key "{3560}" hashes to slot 0). */
    private static RedisProcess masterOfSlotZero(RedisClusterGroup cluster) {
        assertThat(redis.clients.jedis.util.JedisClusterCRC16.getSlot("{3560}")).isZero();
        return cluster.masterFor("{3560}");
    }

    /**
     * A worker that starts while a master is down (SIGKILLed, flagged failed by the others, which keep
     * {@code cluster_state:ok}) runs the jobs waiting on the live masters at once, and the dead master's once it is
     * back. Before, its first probe waited for every master, so nothing ran until the dead one returned. Two queues on
     * each master, 200 jobs each enqueued before the kill (and 20 each spooled while it is down); each job counted from
     * the producer's receipts and the ids the handler saw. A second worker whose only queues are the dead master's waits
     * for it, as before: not connected, its circuit open.
     */
    @Test
    void aWorkerThatStartsWhileAMasterIsDownRunsTheLiveMastersJobsAtOnce() throws Exception {
        Map<String, AtomicInteger> handled = new ConcurrentHashMap<>();
        MetricRegistry metrics = new MetricRegistry();
        MetricRegistry deadOnlyMetrics = new MetricRegistry();
        try (RedisClusterGroup cluster = partialCoverageCluster();
             LogCapture logs = new LogCapture();
             JobProducer producer = producer(cluster, dir.resolve("journal"))) {
            await().atMost(10, TimeUnit.SECONDS).until(() -> producer.state() == HealthState.CONNECTED);
            Map<RedisProcess, List<String>> perMaster = queuesPerMaster(cluster, 2);
            // The master of slot 0: the one the worker's heartbeat asks for the slot map.
            RedisProcess victim = masterOfSlotZero(cluster);
            List<String> deadQueues = perMaster.get(victim);
            List<String> liveQueues = perMaster.entrySet().stream().filter(e -> e.getKey() != victim)
                    .flatMap(e -> e.getValue().stream()).toList();
            List<String> queues = perMaster.values().stream().flatMap(List::stream).toList();
            Map<String, List<String>> before = enqueue200Each(producer, queues);
            List<String> beforeOnLive = liveQueues.stream().flatMap(q -> before.get(q).stream()).toList();
            List<String> beforeOnDead = deadQueues.stream().flatMap(q -> before.get(q).stream()).toList();
            List<String> all = new ArrayList<>(before.values().stream().flatMap(List::stream).toList());

            victim.kill();
            long killedAt = System.nanoTime();
            assertLiveMastersServe(cluster, victim, liveQueues);
            await().atMost(10, TimeUnit.SECONDS).until(() -> producer.state() != HealthState.CONNECTED);
            for (String q : queues) {
                List<Receipt> rs = producer.enqueueAll(q, "t", Collections.nCopies(20, PAYLOAD));
                assertThat(rs).as("queue %s while a master is down", q).allMatch(Receipt::spooled);
                rs.forEach(r -> all.add(r.jobId()));
            }

            List<HealthState> statesAfterConnected = new CopyOnWriteArrayList<>();
            AtomicBoolean watching = new AtomicBoolean(true);
            try (Worker w = Worker.builder().redis(cluster.uri()).stateDir(dir.resolve("worker")).fetchBlock(Duration.ofMillis(200))
                    .queues(queues.toArray(String[]::new)).concurrency(4).metricRegistry(metrics)
                    .handler("t", job -> handled.computeIfAbsent(job.id(), k -> new AtomicInteger()).incrementAndGet())
                    .build();
                 Worker deadOnly = Worker.builder().redis(cluster.uri()).stateDir(dir.resolve("dead-only"))
                    .fetchBlock(Duration.ofMillis(200)).queues(deadQueues.toArray(String[]::new)).metricRegistry(deadOnlyMetrics)
                    .handler("t", job -> handled.computeIfAbsent(job.id(), k -> new AtomicInteger()).incrementAndGet())
                    .build()) {
                long startedAt = System.nanoTime();
                w.start();
                deadOnly.start();
                await().atMost(10, TimeUnit.SECONDS).until(() -> handled.keySet().containsAll(beforeOnLive));
                long liveDoneMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startedAt);
                assertThat(victim.isAlive()).as("the master is still down").isFalse();
                assertThat(w.health()).as("the worker is connected to the live masters").isEqualTo(HealthState.CONNECTED);
                Thread watch = new Thread(() -> {
                    while (watching.get()) {
                        HealthState s = w.health();
                        if (s != HealthState.CONNECTED) {
                            statesAfterConnected.add(s);
                        }
                        LockSupport.parkNanos(5_000_000);
                    }
                });
                watch.start();
                assertThat(metrics.getGauges().get(MetricNames.QUEUES_PAUSED).getValue())
                        .as("the dead master's queues are paused").isEqualTo(deadQueues.size());
                for (String q : deadQueues) {
                    assertThat(logs.lines("paused")).as("the worker said queue %s paused", q)
                            .anySatisfy(l -> assertThat(l).contains("WARN", "[" + q + "]",
                                    "the Redis Cluster master of their slot cannot serve them"));
                }
                for (String q : liveQueues) {
                    assertThat(logs.lines("paused")).as("queue %s is not paused", q).noneMatch(l -> l.contains("[" + q + "]"));
                }
                Thread.sleep(Math.max(0, 4_000 - TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedAt)));
                assertThat(beforeOnDead).as("no job of the dead master's queues ran while it was down")
                        .noneMatch(handled::containsKey);
                assertThat(w.health()).isEqualTo(HealthState.CONNECTED);
                assertThat(deadOnly.health()).as("a worker whose every queue is on the dead master waits for it")
                        .isEqualTo(HealthState.DISCONNECTED);
                assertThat(deadOnlyMetrics.getGauges().get(MetricNames.CIRCUIT_STATE + ".worker").getValue())
                        .as("its circuit is open").isEqualTo(1);
                assertThat(logs.lines("Reconnect attempt")).as("it says which master it waits for")
                        .anySatisfy(l -> assertThat(l).contains("master 127.0.0.1:" + victim.port() + ": connection refused (worker)"));
                System.out.printf("ClusterPartialCoverageIT: a worker started while a master was down ran the live masters'"
                        + " %d jobs within %d ms of its start%n", beforeOnLive.size(), liveDoneMs);

                long restartAt = System.nanoTime();
                victim.restart();
                cluster.awaitHealthy(Duration.ofSeconds(30));
                await().atMost(30, TimeUnit.SECONDS).until(() -> producer.state() == HealthState.CONNECTED
                        && producer.journalBacklog() == 0);
                await().atMost(60, TimeUnit.SECONDS).until(() -> handled.keySet().containsAll(all));
                long deadDoneMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - restartAt);
                await().atMost(10, TimeUnit.SECONDS).until(() -> deadOnly.health() == HealthState.CONNECTED);
                await().atMost(10, TimeUnit.SECONDS)
                        .until(() -> metrics.getGauges().get(MetricNames.QUEUES_PAUSED).getValue().equals(0));
                for (String q : deadQueues) {
                    assertThat(logs.lines("resumed after")).as("the worker resumed queue %s on its own", q)
                            .anySatisfy(l -> assertThat(l).contains("[" + q + "]"));
                }
                watching.set(false);
                watch.join();
                assertThat(statesAfterConnected).as("the worker stayed connected through the master's return").isEmpty();
                assertThat(logs.lines("Redis connection lost")).as("no outage of the whole worker")
                        .noneMatch(l -> l.contains("(worker,"));
                assertThat(w.health()).isEqualTo(HealthState.CONNECTED);
                System.out.printf("ClusterPartialCoverageIT: the dead master's %d jobs (and the %d spooled meanwhile) all ran"
                        + " within %d ms of its restart%n", beforeOnDead.size(), 20 * queues.size(), deadDoneMs);
            } finally {
                watching.set(false);
            }
            assertThat(handled.keySet()).as("the handler saw every accepted job and no other").containsExactlyInAnyOrderElementsOf(all);
            assertThat(handled.values()).as("every job ran once").allSatisfy(n -> assertThat(n.get()).isEqualTo(1));
        }
    }

    /**
     * The same start on a cluster without persistence, with a write-ahead producer: the master comes back empty (its
     * nodes.conf kept, so with its slots), its new run id makes the producer send again every job not completed, and
     * the worker, which resumes the master's queue on its own, runs them. The live masters' jobs, completed while the
     * master was down and sent again too, are duplicates: they do not run again.
     */
    @Test
    void aWorkerThatStartsWhileAMasterIsDownRunsWhatAWriteAheadProducerSendsAgainWhenItReturnsEmpty() throws Exception {
        Map<String, AtomicInteger> handled = new ConcurrentHashMap<>();
        try (RedisClusterGroup cluster = RedisClusterGroup.builder().masters(3).requireFullCoverage(false).appendOnly(false)
                .setting("save", "").start();
             LogCapture logs = new LogCapture();
             JobProducer producer = JobProducer.builder().redis(cluster.uri()).journalDir(dir.resolve("journal"))
                     .reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(200)).writeAhead(true).build()) {
            await().atMost(10, TimeUnit.SECONDS).until(() -> producer.state() == HealthState.CONNECTED);
            List<String> queues = ClusterIT.queuesAcrossMasters(cluster, 3);
            String deadQueue = queues.get(0);
            RedisProcess victim = cluster.masterFor(stream(deadQueue));
            Map<String, List<String>> accepted = new LinkedHashMap<>();
            for (String q : queues) {
                accepted.put(q, producer.enqueueAll(q, "t", Collections.nCopies(200, PAYLOAD)).stream().map(Receipt::jobId).toList());
            }
            await().atMost(15, TimeUnit.SECONDS).until(() -> producer.journalBacklog() == 0);
            ClusterIT.assertAllInRedisInOrder(cluster, accepted);
            List<String> onLive = queues.subList(1, 3).stream().flatMap(q -> accepted.get(q).stream()).toList();
            List<String> all = accepted.values().stream().flatMap(List::stream).toList();

            victim.kill();
            assertLiveMastersServe(cluster, victim, queues.subList(1, 3));
            try (Worker w = Worker.builder().redis(cluster.uri()).stateDir(dir.resolve("worker")).fetchBlock(Duration.ofMillis(200))
                    .queues(queues.toArray(String[]::new)).concurrency(4)
                    .handler("t", job -> handled.computeIfAbsent(job.id(), k -> new AtomicInteger()).incrementAndGet())
                    .build()) {
                w.start();
                await().atMost(10, TimeUnit.SECONDS).until(() -> handled.keySet().containsAll(onLive));
                assertThat(w.health()).isEqualTo(HealthState.CONNECTED);
                assertThat(accepted.get(deadQueue)).as("nothing of the dead master's queue ran").noneMatch(handled::containsKey);

                victim.restart(); // nothing on disk but nodes.conf: it comes back empty, with its slots
                cluster.awaitHealthy(Duration.ofSeconds(30));
                await().atMost(60, TimeUnit.SECONDS).until(() -> handled.keySet().containsAll(all));
                assertThat(logs.lines("resumed after")).as("the worker resumed the queue on its own")
                        .anySatisfy(l -> assertThat(l).contains("[" + deadQueue + "]"));
                assertThat(logs.lines("Redis connection lost")).as("no outage of the whole worker")
                        .noneMatch(l -> l.contains("(worker,"));
            }
            assertThat(handled.keySet()).as("the handler saw every accepted job and no other").containsExactlyInAnyOrderElementsOf(all);
            assertThat(handled.values()).as("every job ran once").allSatisfy(n -> assertThat(n.get()).isEqualTo(1));
        }
    }
}
