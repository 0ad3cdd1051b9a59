package io.spillway.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.spillway.backend.JobProducer;
import io.spillway.backend.Receipt;
import io.spillway.core.HealthState;
import io.spillway.testing.LogCapture;
import io.spillway.testing.RedisProcess;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

/**
 * Redis full ({@code maxmemory}, {@code noeviction}) because the workers fell behind: producers spool, and the
 * workers must go on draining the queue, since that is what frees the memory. A worker that stops at the first OOM
 * reply leaves the whole system stuck until someone raises {@code maxmemory}.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class WorkerOomIT {
    @TempDir
    Path dir;

    @Test
    void aWorkerDrainsAFullRedisAndTheSpooledJobsFollowOnceThereIsRoom() throws Exception {
        String q = "oom-" + System.nanoTime();
        try (RedisProcess redis = RedisProcess.builder().appendOnly(false).start(); Jedis admin = redis.jedis();
             LogCapture logs = new LogCapture();
             JobProducer producer = JobProducer.builder().redis(redis.uri()).journalDir(dir.resolve("journal"))
                     .reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(200)).build()) {
            await().atMost(10, TimeUnit.SECONDS).until(() -> producer.state() == HealthState.CONNECTED);
            List<String> accepted = new ArrayList<>();
            byte[] payload = new byte[1024];
            for (int i = 0; i < 3000; i++) {
                Receipt r = producer.enqueue(q, "t", payload);
                assertThat(r.spooled()).isFalse();
                accepted.add(r.jobId());
            }
            long used = Long.parseLong(admin.info("memory").lines().filter(l -> l.startsWith("used_memory:"))
                    .findFirst().orElseThrow().substring("used_memory:".length()).trim());
            admin.configSet("maxmemory", Long.toString(used - (256 << 10)));
            assertThatThrownBy(() -> admin.set("probe", "x")).hasMessageContaining("OOM");
            for (int i = 0; i < 200; i++) {
                Receipt r = producer.enqueue(q, "t", payload);
                assertThat(r.spooled()).as("Redis is full: spooled").isTrue();
                accepted.add(r.jobId());
            }

            Map<String, AtomicInteger> handled = JobsThroughAFault.drain(redis.uri(), q, dir.resolve("worker"),
                    accepted.size());
            assertThat(handled.keySet()).containsExactlyInAnyOrderElementsOf(accepted);
            assertThat(producer.journalBacklog()).isZero();
            assertThat(logs.lines("Redis memory is full")).isNotEmpty().allSatisfy(l -> assertThat(l).contains(" WARN ",
                    "policy noeviction", "producers spool to their journals until there is room", "worker goes on settling jobs"));
            assertThat(logs.lines("\tat ")).as("no stack traces").isEmpty();
        }
    }

    /**
     * A full Redis is when the workers draining it must still be counted (`spillway status`, the workers gauge, a "no
     * worker" alert): the heartbeat goes through a script that also runs then (room.lua). A plain ZADD was refused with
     * OOM, unread, and the live worker dropped out of the count after 60 s.
     */
    @Test
    @org.junit.jupiter.api.Tag("first-pass-only") // one heartbeat interval (15 s); the same script path on 7.0 as 6.2
    void theHeartbeatGoesOnWhileRedisIsFull() {
        String q = "oom-beat-" + System.nanoTime();
        try (RedisProcess redis = RedisProcess.builder().appendOnly(false).start(); Jedis admin = redis.jedis();
             Worker worker = Worker.builder().redis(redis.uri()).queue(q).handler("t", job -> { })
                     .stateDir(dir.resolve("beat")).build()) {
            worker.start();
            String key = io.spillway.core.internal.RedisKeys.workers(io.spillway.core.QueueName.of(q));
            await().atMost(10, TimeUnit.SECONDS).until(() -> admin.zscore(key, worker.name()) != null);
            double first = admin.zscore(key, worker.name());
            admin.configSet("maxmemory", "1");
            assertThatThrownBy(() -> admin.zadd("probe", 1, "x")).hasMessageContaining("OOM");
            await().atMost(25, TimeUnit.SECONDS).until(() -> admin.zscore(key, worker.name()) > first);
        }
    }
}
