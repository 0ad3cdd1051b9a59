package io.spillway.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.spillway.core.HealthState;
import io.spillway.core.QueueName;
import io.spillway.core.RedisConnection;
import io.spillway.core.internal.RedisKeys;
import io.spillway.testing.ChaosProxy;
import io.spillway.testing.LogCapture;
import io.spillway.testing.RedisProcess;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.StreamEntryID;
import redis.clients.jedis.exceptions.JedisDataException;
import redis.clients.jedis.params.XClaimParams;
import redis.clients.jedis.params.XPendingParams;
import redis.clients.jedis.params.XReadGroupParams;
import redis.clients.jedis.resps.StreamEntry;

/**
 * One connection drops with a reply on it, quickly, while Redis and the worker's other connections go on (a proxy or
 * load balancer that resets one connection, {@code CLIENT KILL} of one client): the failure a quick retry on a fresh
 * connection covers. For a fetch or a takeover the retry's reply stood in for the lost one, so the entries the first send
 * had leased to the worker stayed leased to it unseen, and ran only once their lease ended (20 s here). They must
 * run at once, each once.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
@org.junit.jupiter.api.Tag("first-pass-only") // client-side logic: the same whatever the Redis version
class LostReplyOnOneConnectionIT {
    static final Duration LEASE = Duration.ofSeconds(20);

    @TempDir
    Path stateDir;
    RedisProcess redis;
    Jobs jobs;
    Worker worker;
    final String queue = "lost-reply";
    final String stream = RedisKeys.stream(QueueName.of(queue));
    final Map<String, AtomicInteger> handled = new ConcurrentHashMap<>();

    @BeforeEach
    void startRedis() {
        redis = RedisProcess.builder().start();
        jobs = new Jobs(redis.uri());
    }

    @AfterEach
    void stop() {
        if (worker != null) {
            worker.close();
        }
        jobs.close();
        redis.close();
    }

    /** A worker through {@code proxy} whose fetch blocks 2 s (a reply held for a while is not yet a timeout). */
    private void start(ChaosProxy proxy) {
        worker = Worker.builder()
                .redis(RedisConnection.builder(proxy.uri()).socketTimeout(Duration.ofSeconds(5)).build())
                .queue(queue)
                .handler("render", job -> handled.computeIfAbsent(job.id(), k -> new AtomicInteger()).incrementAndGet())
                .concurrency(4)
                .leaseDuration(LEASE)
                .fetchBlock(Duration.ofSeconds(2))
                .stateDir(stateDir)
                .build();
        worker.start();
        await().atMost(Duration.ofSeconds(10)).until(() -> worker.health() == HealthState.CONNECTED);
    }

    private long pending() {
        try (Jedis j = redis.jedis()) {
            return j.xpending(stream, RedisKeys.GROUP).getTotal();
        }
    }

    @Test
    void aFetchWhoseConnectionDropsWithItsReplyRunsWhatItLeasedAtOnce() {
        try (ChaosProxy proxy = ChaosProxy.to(redis.port()); LogCapture logs = new LogCapture()) {
            start(proxy);
            // The fetch waiting now (BLOCK 2 s) is the one held: its reply, with the jobs Redis leases to it, stays here.
            proxy.holdRepliesTo("XREADGROUP");
            await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(5)).until(() -> proxy.heldConnections() == 1);
            List<String> ids = IntStream.range(0, 3).mapToObj(i -> "f" + i).toList();
            jobs.enqueue(queue, "render", ids);
            await().atMost(Duration.ofSeconds(1)).pollInterval(Duration.ofMillis(5)).until(() -> pending() == ids.size());
            long droppedAt = System.nanoTime();
            assertThat(proxy.dropHeldConnections()).isEqualTo(1);

            await().atMost(Duration.ofSeconds(20)).until(() -> ids.stream().allMatch(handled::containsKey));
            long ranAfterMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - droppedAt);
            System.out.println("jobs of the lost fetch ran " + ranAfterMs + " ms after its connection dropped");
            assertThat(ranAfterMs).as("run at once, not after their lease").isLessThan(LEASE.toMillis() / 2);
            assertThat(logs.lines("leased to it by a fetch whose reply was lost")).isNotEmpty();
            await().atMost(Duration.ofSeconds(10)).until(() -> pending() == 0);
            assertThat(ids).allMatch(id -> handled.get(id).get() == 1, "each once");
            worker.close(); // before the proxy closes
        }
    }

    /**
     * The same fetch, then the take-back's own {@code XCLAIM} loses its reply the same way: it ran (the entries' idle
     * time is reset), so a second send with the same minimum idle time claimed nothing, and the jobs waited out their
     * lease. The entries still leased to the worker are claimed again without that condition and run at once.
     */
    @Test
    void aTakeBackWhoseConnectionDropsTooStillRunsTheJobsAtOnce() throws InterruptedException {
        try (ChaosProxy proxy = ChaosProxy.to(redis.port()); LogCapture logs = new LogCapture()) {
            start(proxy);
            proxy.holdRepliesTo("XREADGROUP");
            await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(5)).until(() -> proxy.heldConnections() == 1);
            List<String> ids = IntStream.range(0, 3).mapToObj(i -> "c" + i).toList();
            jobs.enqueue(queue, "render", ids);
            await().atMost(Duration.ofSeconds(1)).pollInterval(Duration.ofMillis(5)).until(() -> pending() == ids.size());
            // Idle long enough that the time the take-back's reply is held below is far less: its XCLAIM asks for
            // entries idle about 1 s, and a second send finds them idle only since the first.
            Thread.sleep(1_000);
            proxy.holdRepliesTo("XCLAIM");
            assertThat(proxy.dropHeldConnections()).isEqualTo(1);
            await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(2)).until(() -> proxy.heldConnections() == 1);
            long droppedAt = System.nanoTime();
            assertThat(proxy.dropHeldConnections()).isEqualTo(1);

            await().atMost(Duration.ofSeconds(20)).until(() -> ids.stream().allMatch(handled::containsKey));
            long ranAfterMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - droppedAt);
            System.out.println("jobs of the lost take-back ran " + ranAfterMs + " ms after its connection dropped");
            assertThat(ranAfterMs).as("run at once, not after their lease").isLessThan(LEASE.toMillis() / 2);
            await().atMost(Duration.ofSeconds(10)).until(() -> pending() == 0);
            assertThat(ids).allMatch(id -> handled.get(id).get() == 1, "each once");
            worker.close(); // before the proxy closes
        }
    }

    @Test
    void aTakeoverWhoseConnectionDropsWithItsReplyRunsWhatItClaimedAtOnce() {
        List<String> ids = IntStream.range(0, 3).mapToObj(i -> "t" + i).toList();
        jobs.enqueue(queue, "render", ids);
        StreamEntryID[] leased;
        try (Jedis j = redis.jedis()) {
            try {
                j.xgroupCreate(stream, RedisKeys.GROUP, new StreamEntryID(0, 0), true);
            } catch (JedisDataException exists) {
                // BUSYGROUP
            }
            // A worker that leased them and died.
            leased = j.xreadGroup(RedisKeys.GROUP, "dead-worker", XReadGroupParams.xReadGroupParams().count(ids.size()),
                    Map.of(stream, StreamEntryID.XREADGROUP_UNDELIVERED_ENTRY))
                    .get(0).getValue().stream().map(StreamEntry::getID).toArray(StreamEntryID[]::new);
        }
        try (ChaosProxy proxy = ChaosProxy.to(redis.port()); LogCapture logs = new LogCapture()) {
            start(proxy);
            // A newer job first, so that only the takeover's note can tell the worker the dead worker's jobs are its own.
            jobs.enqueue(queue, "render", "fresh");
            await().atMost(Duration.ofSeconds(10)).until(() -> handled.containsKey("fresh"));
            proxy.holdRepliesTo(io.spillway.worker.internal.WorkerScripts.TAKEOVER.sha());
            try (Jedis j = redis.jedis()) {
                // Their lease ran out: the next takeover claims them.
                j.xclaimJustId(stream, RedisKeys.GROUP, "dead-worker", 0, XClaimParams.xClaimParams().idle(120_000), leased);
            }
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(5)).until(() -> proxy.heldConnections() == 1);
            try (Jedis j = redis.jedis()) {
                assertThat(j.xpending(stream, RedisKeys.GROUP, XPendingParams.xPendingParams().count(10)))
                        .as("claimed by the worker in Redis").hasSize(ids.size())
                        .allMatch(p -> !p.getConsumerName().equals("dead-worker"));
            }
            long droppedAt = System.nanoTime();
            assertThat(proxy.dropHeldConnections()).isEqualTo(1);

            await().atMost(Duration.ofSeconds(20)).until(() -> ids.stream().allMatch(handled::containsKey));
            long ranAfterMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - droppedAt);
            System.out.println("jobs of the lost takeover ran " + ranAfterMs + " ms after its connection dropped");
            assertThat(ranAfterMs).as("run at once, not after another lease").isLessThan(LEASE.toMillis() / 2);
            assertThat(logs.lines("that a takeover whose reply was lost had claimed")).isNotEmpty();
            await().atMost(Duration.ofSeconds(10)).until(() -> pending() == 0);
            assertThat(ids).allMatch(id -> handled.get(id).get() == 1, "each once");
            worker.close(); // before the proxy closes
        }
    }
}
