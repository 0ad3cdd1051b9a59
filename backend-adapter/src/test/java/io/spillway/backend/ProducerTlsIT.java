package io.spillway.backend;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.spillway.core.HealthState;
import io.spillway.core.RedisConnection;
import io.spillway.testing.LogCapture;
import io.spillway.testing.RedisProcess;
import io.spillway.testing.TestCertificates;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

/**
 * The producer against a real TLS Redis: a private CA through a Redis SIGKILL, a required client certificate, and the
 * TLS misconfigurations (no client certificate, an untrusted certificate, a host name mismatch), each of which must be
 * one ERROR line while every job is spooled (nothing thrown, nothing lost) and replayed once the setting is right.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ProducerTlsIT {
    @TempDir
    Path dir;
    TestCertificates certs;

    @BeforeEach
    void certificates() {
        certs = TestCertificates.create(dir.resolve("certs"));
    }

    private JobProducer producer(RedisConnection c, String journal) {
        return JobProducer.builder().redis(c).journalDir(dir.resolve(journal))
                .reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(200)).build();
    }

    private RedisConnection.Builder trusting(URI uri) {
        return RedisConnection.builder(uri).trustedCertificates(certs.caCertificate());
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void aPrivateCaProducerSpoolsThroughARedisKillAndReplaysEveryJobOnce() {
        try (RedisProcess redis = RedisProcess.builder().tls(certs).start();
             JobProducer p = producer(trusting(redis.uri()).build(), "journal")) {
            List<String> accepted = new ArrayList<>();
            for (int i = 0; i < 100; i++) {
                Receipt r = p.enqueue("tls", "t", bytes("direct-" + i));
                assertThat(r.spooled()).as("over TLS straight to Redis").isFalse();
                accepted.add(r.jobId());
            }
            redis.kill();
            for (int i = 0; i < 500; i++) {
                Receipt r = p.enqueue("tls", "t", bytes("spooled-" + i));
                assertThat(r.spooled()).isTrue();
                accepted.add(r.jobId());
            }
            assertThat(p.journalBacklog()).isEqualTo(500);
            redis.restart();
            await().atMost(Duration.ofSeconds(30)).until(() -> p.state() == HealthState.CONNECTED && p.journalBacklog() == 0);
            accepted.add(p.enqueue("tls", "t", bytes("after")).jobId());
            try (Jedis j = redis.jedis()) {
                // Every job once, in order (the AOF kept what was fsynced before the kill: appendfsync everysec, and
                // the kill came long after the first hundred).
                assertThat(RedisJobs.ids(j, "tls")).containsExactlyElementsOf(accepted);
            }
        }
    }

    @Test
    void aRequiredClientCertificateWorksAndWithoutItJobsSpoolWithOneErrorLineUntilRedisIsFixed() {
        try (RedisProcess redis = RedisProcess.builder().tls(certs).tlsAuthClients(true).start()) {
            try (JobProducer with = producer(trusting(redis.uri())
                    .clientCertificate(certs.clientCertificate(), certs.clientKey()).build(), "with")) {
                // Connected (a first handshake slower than the timeouts on a loaded machine spools the first job: not
                // the case under test).
                org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10))
                        .until(() -> with.state() == HealthState.CONNECTED);
                assertThat(with.enqueue("mtls", "t", bytes("a")).spooled()).isFalse();
                assertThat(with.state()).isEqualTo(HealthState.CONNECTED);
            }
            List<String> spooled = misconfigured(redis, trusting(redis.uri()).build(), "no-client-cert",
                    "TLS: Redis refused the connection's client certificate, or requires one", "--tls-cert");
            // Fixed on the server side: the same producer connects and replays by itself.
            redis.configSet("tls-auth-clients", "no");
            assertReplayedOnce(redis, spooled);
        }
    }

    @Test
    void anUntrustedCertificateAndAHostNameMismatchSpoolWithOneErrorLine() {
        try (RedisProcess redis = RedisProcess.builder().tls(certs).start();
             RedisProcess wrong = RedisProcess.builder().tls(certs)
                     .tlsServerIdentity(certs.wrongHostCertificate(), certs.wrongHostKey()).start()) {
            misconfigured(redis, RedisConnection.builder(redis.uri()).trustedCertificates(certs.otherCaCertificate()).build(),
                    "untrusted", "TLS: Redis's certificate is not trusted", "trustedCertificates");
            misconfigured(wrong, trusting(wrong.uri()).build(), "wrong-host", "TLS: Redis's certificate is not for this host name",
                    "127.0.0.1");
        }
    }

    /** Spooled ids of the still-open producer of {@link #misconfigured}, closed by {@link #assertReplayedOnce}. */
    private JobProducer open;
    private String openQueue;

    /**
     * A producer that Redis's TLS refuses: every enqueue is accepted (spooled, nothing thrown), and the reconnect loop
     * says so at ERROR naming {@code cause}, without stack traces, and keeps trying. Leaves it open.
     */
    private List<String> misconfigured(RedisProcess redis, RedisConnection c, String name, String cause, String check) {
        List<String> spooled = new ArrayList<>();
        if (open != null) {
            open.close(); // its reconnect lines must not reach this capture
        }
        try (LogCapture logs = new LogCapture()) {
            JobProducer p = producer(c, name);
            open = p;
            openQueue = name;
            for (int i = 0; i < 50; i++) {
                Receipt r = p.enqueue(name, "t", bytes(name + "-" + i));
                assertThat(r.spooled()).as(name).isTrue();
                spooled.add(r.jobId());
            }
            assertThat(p.journalBacklog()).isEqualTo(50);
            await().atMost(Duration.ofSeconds(20)).until(() -> !logs.lines("Reconnect attempt 3 failed").isEmpty());
            // Every attempt reported says the cause at ERROR (not some at WARN as a dropped connection).
            List<String> attempts = logs.lines("Reconnect attempt");
            assertThat(attempts).as(name).isNotEmpty().allSatisfy(l -> assertThat(l)
                    .contains("ERROR", cause, check, "this client's TLS settings do not match Redis's", c.redacted()));
            assertThat(logs.lines("\tat ")).as("no stack trace").isEmpty();
            assertThat(logs.lines("Exception")).as("no exception names either").isEmpty();
            assertThat(p.state()).isNotEqualTo(HealthState.CONNECTED);
            try (Jedis j = redis.jedis()) {
                assertThat(RedisJobs.ids(j, name)).isEmpty();
            }
        }
        return spooled;
    }

    private void assertReplayedOnce(RedisProcess redis, List<String> spooled) {
        JobProducer p = open;
        await().atMost(Duration.ofSeconds(30)).until(() -> p.state() == HealthState.CONNECTED && p.journalBacklog() == 0);
        try (Jedis j = redis.jedis()) {
            assertThat(RedisJobs.ids(j, openQueue)).containsExactlyElementsOf(spooled);
        }
        p.close();
        open = null;
    }

    @org.junit.jupiter.api.AfterEach
    void closeOpen() {
        if (open != null) {
            open.close();
        }
    }
}
