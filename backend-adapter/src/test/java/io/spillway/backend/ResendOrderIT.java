package io.spillway.backend;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.spillway.core.HealthState;
import io.spillway.core.QueueName;
import io.spillway.core.internal.RedisKeys;
import io.spillway.testing.RedisProcess;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import redis.clients.jedis.Jedis;

/**
 * Guarantee 6 through re-sends after Redis lost writes, for a producer that alternates between writing straight to
 * Redis and spooling: two queues, single enqueues and {@code enqueueAll} batches across both, restarts that keep the
 * data and restarts that lose it, and Redis killed again in the middle of a re-send. Every queue's jobs must be in
 * Redis once each, in the order they were accepted. Written by a review of the re-send's merge (WriteOrder).
 * Client-side logic: the same whatever the Redis version.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
@org.junit.jupiter.api.Tag("first-pass-only")
class ResendOrderIT {
    @TempDir
    Path dir;
    RedisProcess redis;
    final Map<String, List<String>> expected = new LinkedHashMap<>();
    /** Each job id's phase (the payload up to its first space), for a readable summary of a wrong order. */
    final Map<String, String> phase = new java.util.HashMap<>();

    @BeforeEach
    void startRedis() {
        redis = RedisProcess.builder().start();
    }

    @AfterEach
    void stopRedis() {
        redis.close();
    }

    private JobProducer producer(URI uri) {
        return JobProducer.builder().redis(uri).journalDir(dir.resolve("journal"))
                .resendAfterRestart(Duration.ofSeconds(120), 256L << 20)
                .reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(200)).build();
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private void one(JobProducer p, String q, String what, Boolean spooled) {
        Receipt r = p.enqueue(q, "t", bytes(what));
        if (spooled != null) {
            assertThat(r.spooled()).as(what).isEqualTo(spooled);
        }
        expected.computeIfAbsent(q, k -> new ArrayList<>()).add(r.jobId());
        phase.put(r.jobId(), what.split(" ")[0]);
    }

    /** Run-length summary of a queue's ids by phase: "d0 x300, s0 x1000, ...". */
    private String summary(List<String> ids) {
        StringBuilder b = new StringBuilder();
        String last = null;
        int n = 0;
        for (String id : ids) {
            String ph = phase.getOrDefault(id, "?");
            if (!ph.equals(last)) {
                if (last != null) {
                    b.append(last).append(" x").append(n).append(", ");
                }
                last = ph;
                n = 0;
            }
            n++;
        }
        return b.append(last).append(" x").append(n).toString();
    }

    private void batch(JobProducer p, String what, int n, Boolean spooled) {
        List<NewJob> jobs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            jobs.add(new NewJob(i % 3 == 0 ? "b" : "a", "t", bytes(what + " " + i)));
        }
        List<Receipt> rs = p.enqueueAll(jobs);
        for (Receipt r : rs) {
            if (spooled != null) {
                assertThat(r.spooled()).as(what).isEqualTo(spooled);
            }
            expected.computeIfAbsent(r.queue(), k -> new ArrayList<>()).add(r.jobId());
        }
    }

    /** Direct and spooled, two queues, singles and batches; phase tag for messages. */
    private void mixed(JobProducer p, String phase, int n, Boolean spooled) {
        for (int i = 0; i < n; i++) {
            one(p, i % 2 == 0 ? "a" : "b", phase + " " + i, spooled);
            if (i % 7 == 0) {
                batch(p, phase + " batch " + i, 5, spooled);
            }
        }
    }

    private void awaitDrained(JobProducer p) {
        await().atMost(Duration.ofSeconds(30)).until(() -> p.state() == HealthState.CONNECTED && p.journalBacklog() == 0);
    }

    private void assertAllInOrder() {
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
            try (Jedis j = redis.jedis()) {
                for (Map.Entry<String, List<String>> e : expected.entrySet()) {
                    assertThat(j.exists(RedisKeys.stream(QueueName.of(e.getKey())))).isTrue();
                    assertThat(RedisJobs.ids(j, e.getKey()).size()).as(e.getKey()).isGreaterThanOrEqualTo(e.getValue().size());
                }
            }
        });
        try (Jedis j = redis.jedis()) {
            for (Map.Entry<String, List<String>> e : expected.entrySet()) {
                List<String> actual = RedisJobs.ids(j, e.getKey());
                assertThat(actual).as("queue " + e.getKey() + ": expected " + summary(e.getValue()) + " but was "
                        + summary(actual)).containsExactlyElementsOf(e.getValue());
            }
        }
    }

    /** Flaps between direct and spooling several times with restarts (persisted) in between, then Redis comes back empty. */
    @Test
    void flapsWithRestartsThenEmpty() {
        try (JobProducer p = producer(redis.uri())) {
            for (int round = 0; round < 3; round++) {
                mixed(p, "direct" + round, 30, false);
                redis.kill();
                mixed(p, "spooled" + round, 30, true);
                redis.restart();
                awaitDrained(p);
            }
            mixed(p, "last", 30, false);
            redis.kill();
            redis.restartEmpty();
            awaitDrained(p);
            assertAllInOrder();
        }
    }

    /** Two empty restarts in a row: the second after the first re-send finished. */
    @Test
    void twoEmptyRestartsInARow() {
        try (JobProducer p = producer(redis.uri())) {
            mixed(p, "d0", 30, false);
            redis.kill();
            mixed(p, "s0", 30, true);
            redis.restart();
            awaitDrained(p);
            mixed(p, "d1", 30, false);
            redis.kill();
            redis.restartEmpty();
            awaitDrained(p);
            assertAllInOrder();
            mixed(p, "d2", 30, false);
            redis.kill();
            mixed(p, "s2", 30, true);
            redis.restartEmpty();
            awaitDrained(p);
            mixed(p, "d3", 10, false);
            redis.kill();
            redis.restartEmpty();
            awaitDrained(p);
            assertAllInOrder();
        }
    }

    /**
     * Redis killed again during the re-send, when queue a's stream holds {@code killAt} entries, then back empty again.
     */
    @ParameterizedTest
    @ValueSource(ints = {20, 400, 1500, 1900})
    void killedAgainDuringTheReSend(int killAt) throws Exception {
        try (JobProducer p = producer(redis.uri())) {
            for (int i = 0; i < 300; i++) {
                one(p, "a", "d0 " + i, false);
                one(p, "b", "d0 " + i, false);
            }
            redis.kill();
            for (int i = 0; i < 1500; i++) {
                one(p, "a", "s0 " + i, true);
                one(p, "b", "s0 " + i, true);
            }
            redis.restart();
            awaitDrained(p);
            for (int i = 0; i < 300; i++) {
                one(p, "a", "d1 " + i, false);
                one(p, "b", "d1 " + i, false);
            }
            redis.kill();
            redis.restartEmpty();
            Thread killer = killWhenStreamHolds(RedisKeys.stream(QueueName.of("a")), killAt);
            killer.join(30_000);
            redis.restartEmpty();
            awaitDrained(p);
            assertAllInOrder();
        }
    }


    private Thread killWhenStreamHolds(String stream, long entries) {
        Thread killer = new Thread(() -> {
            try (Jedis j = redis.jedis()) {
                while (!j.exists(stream) || j.xlen(stream) < entries) {
                    java.util.concurrent.locks.LockSupport.parkNanos(100_000);
                }
            } catch (RuntimeException e) {
                // killed below anyway
            }
            redis.kill();
        });
        killer.start();
        return killer;
    }
}
