package io.spillway.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.spillway.backend.JobProducer;
import io.spillway.core.HealthState;
import io.spillway.core.QueueName;
import io.spillway.core.RedisConnection;
import io.spillway.core.internal.RedisKeys;
import io.spillway.testing.RedisProcess;
import io.spillway.testing.SentinelGroup;
import io.spillway.testing.TestCertificates;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

/**
 * A worker over {@code rediss-sentinel://} (master, replica and sentinels TLS only, client certificates required)
 * handles jobs, before and after a master SIGKILL and failover, and leaves nothing pending on the new master: a short
 * {@link WorkerSentinelIT}.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
@org.junit.jupiter.api.Tag("first-pass-only") // TLS is the client's; a worker across a Redis 7 failover: WorkerSentinelIT
class WorkerSentinelTlsIT {
    @TempDir
    Path dir;

    final Map<String, AtomicInteger> handled = new ConcurrentHashMap<>();

    @Test
    void aWorkerHandlesJobsOverTlsThroughSentinelAcrossAFailover() {
        String queue = "sentinel-tls-" + System.nanoTime();
        TestCertificates certs = TestCertificates.create(dir.resolve("certs"));
        try (SentinelGroup redis = SentinelGroup.builder().tls(certs).start()) {
            RedisConnection c = RedisConnection.builder(redis.uri()).socketTimeout(Duration.ofMillis(300))
                    .trustedCertificates(certs.caCertificate())
                    .clientCertificate(certs.clientCertificate(), certs.clientKey()).build();
            try (JobProducer p = JobProducer.builder().redis(c).journalDir(dir.resolve("journal"))
                    .reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(300)).build();
                 Worker w = Worker.builder().redis(c).queue(queue).stateDir(dir.resolve("state"))
                         .concurrency(4).leaseDuration(Duration.ofSeconds(3)).fetchBlock(Duration.ofMillis(100))
                         .handler("t", job -> {
                             LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
                             handled.computeIfAbsent(new String(job.payload(), StandardCharsets.UTF_8),
                                     k -> new AtomicInteger()).incrementAndGet();
                         })
                         .build()) {
                w.start();
                await().atMost(Duration.ofSeconds(20)).until(() -> w.health() == HealthState.CONNECTED
                        && p.state() == HealthState.CONNECTED);
                for (int i = 0; i < 200; i++) {
                    p.enqueue(queue, "t", ("a" + i).getBytes(StandardCharsets.UTF_8));
                }
                await().atMost(Duration.ofSeconds(20)).until(() -> Jobs.allHandled(handled, "a", 200));
                RedisProcess old = redis.killMaster();
                for (int i = 0; i < 200; i++) {
                    p.enqueue(queue, "t", ("b" + i).getBytes(StandardCharsets.UTF_8));
                }
                RedisProcess now = redis.awaitFailover(old, Duration.ofSeconds(30));
                await().atMost(Duration.ofSeconds(60)).until(() -> Jobs.allHandled(handled, "b", 200));
                await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
                    assertThat(w.acksPendingLocally()).isZero();
                    try (Jedis j = now.jedis()) {
                        assertThat(j.xpending(RedisKeys.stream(QueueName.of(queue)), RedisKeys.GROUP).getTotal())
                                .as("pending on the new master").isZero();
                    }
                });
                assertThat(w.health()).isEqualTo(HealthState.CONNECTED);
            }
        }
    }
}
