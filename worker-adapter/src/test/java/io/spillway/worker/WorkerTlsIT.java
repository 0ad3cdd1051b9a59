package io.spillway.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.spillway.backend.JobProducer;
import io.spillway.core.HealthState;
import io.spillway.core.RedisConnection;
import io.spillway.testing.LogCapture;
import io.spillway.testing.RedisProcess;
import io.spillway.testing.TestCertificates;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** A worker over TLS with a client certificate, through a Redis SIGKILL; and one without it, until Redis is fixed. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class WorkerTlsIT {
    @TempDir
    Path dir;

    /** The independent record: handler calls by job payload. */
    final Map<String, AtomicInteger> handled = new ConcurrentHashMap<>();

    private Worker.Builder worker(RedisConnection c, String queue, String state) {
        return Worker.builder().redis(c).queue(queue).stateDir(dir.resolve(state))
                .leaseDuration(Duration.ofSeconds(2)).fetchBlock(Duration.ofMillis(100))
                .schedulerInterval(Duration.ofMillis(50))
                .handler("t", job -> handled.computeIfAbsent(new String(job.payload(), StandardCharsets.UTF_8),
                        k -> new AtomicInteger()).incrementAndGet());
    }

    @Test
    void aWorkerHandlesJobsOverTlsWithAClientCertificateAcrossARedisKill() {
        TestCertificates certs = TestCertificates.create(dir.resolve("certs"));
        try (RedisProcess redis = RedisProcess.builder().tls(certs).tlsAuthClients(true).start()) {
            RedisConnection c = RedisConnection.builder(redis.uri()).socketTimeout(Duration.ofMillis(500))
                    .trustedCertificates(certs.caCertificate())
                    .clientCertificate(certs.clientCertificate(), certs.clientKey()).build();
            try (JobProducer p = JobProducer.builder().redis(c).journalDir(dir.resolve("journal"))
                    .reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(200)).build();
                 Worker w = worker(c, "wtls", "w").build()) {
                w.start();
                for (int i = 0; i < 50; i++) {
                    assertThat(p.enqueue("wtls", "t", ("a" + i).getBytes(StandardCharsets.UTF_8)).spooled()).isFalse();
                }
                await().atMost(Duration.ofSeconds(20)).until(() -> Jobs.allHandled(handled, "a", 50));
                redis.kill();
                for (int i = 0; i < 50; i++) {
                    assertThat(p.enqueue("wtls", "t", ("b" + i).getBytes(StandardCharsets.UTF_8)).spooled()).isTrue();
                }
                redis.restart();
                await().atMost(Duration.ofSeconds(30)).until(() -> Jobs.allHandled(handled, "b", 50));
                assertThat(w.health()).isEqualTo(HealthState.CONNECTED);
            }
        }
    }

    @Test
    void aWorkerWithoutTheRequiredClientCertificateSaysSoAndStartsOnceRedisIsFixed() {
        TestCertificates certs = TestCertificates.create(dir.resolve("certs"));
        try (RedisProcess redis = RedisProcess.builder().tls(certs).tlsAuthClients(true).start()) {
            RedisConnection good = RedisConnection.builder(redis.uri()).trustedCertificates(certs.caCertificate())
                    .clientCertificate(certs.clientCertificate(), certs.clientKey()).build();
            RedisConnection noCert = RedisConnection.builder(redis.uri()).trustedCertificates(certs.caCertificate()).build();
            try (JobProducer p = JobProducer.builder().redis(good).journalDir(dir.resolve("journal")).build()) {
                for (int i = 0; i < 20; i++) {
                    assertThat(p.enqueue("wnocert", "t", ("c" + i).getBytes(StandardCharsets.UTF_8)).spooled()).isFalse();
                }
            }
            try (LogCapture logs = new LogCapture(); Worker w = worker(noCert, "wnocert", "w").build()) {
                w.start();
                await().atMost(Duration.ofSeconds(20)).until(() -> !logs.lines("Reconnect attempt 3 failed").isEmpty());
                assertThat(logs.lines("Reconnect attempt")).isNotEmpty().allSatisfy(l -> assertThat(l)
                        .contains("ERROR", "TLS: Redis refused the connection's client certificate, or requires one",
                                "this client's TLS settings do not match Redis's"));
                assertThat(logs.lines("\tat ")).as("no stack trace").isEmpty();
                assertThat(handled).isEmpty();
                redis.configSet("tls-auth-clients", "no");
                await().atMost(Duration.ofSeconds(30)).until(() -> Jobs.allHandled(handled, "c", 20));
            }
        }
    }
}
