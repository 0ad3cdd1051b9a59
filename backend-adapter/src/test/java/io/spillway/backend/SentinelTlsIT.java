package io.spillway.backend;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.spillway.core.HealthState;
import io.spillway.core.MetricNames;
import io.spillway.core.RedisConnection;
import io.spillway.testing.LogCapture;
import io.spillway.testing.SentinelGroup;
import io.spillway.testing.TestCertificates;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

/**
 * The producer over {@code rediss-sentinel://}: master, replica and sentinels speak TLS only and require client
 * certificates. Through a master SIGKILL and failover every accepted job is on the new master exactly once, in order
 * (a smaller {@link SentinelFailoverIT}); and a TLS problem with the sentinels (untrusted, no client certificate, plain
 * client on TLS sentinels, TLS client on plain ones) is one ERROR line naming the sentinel, while jobs are spooled.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class SentinelTlsIT {
    @TempDir
    Path dir;
    TestCertificates certs;

    @BeforeEach
    void certificates() {
        certs = TestCertificates.create(dir.resolve("certs"));
    }

    private RedisConnection.Builder withCertificates(SentinelGroup redis) {
        return RedisConnection.builder(redis.uri()).trustedCertificates(certs.caCertificate())
                .clientCertificate(certs.clientCertificate(), certs.clientKey());
    }

    private JobProducer producer(RedisConnection c, String journal) {
        return JobProducer.builder().redis(c).journalDir(dir.resolve(journal))
                .reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(300)).build();
    }

    // First pass only (.ci/run's Redis 7.0 pass leaves out the tag, to keep CI under 30 minutes): TLS is the client's,
    // and SentinelFailoverIT runs a producer through a Redis 7 failover.
    @org.junit.jupiter.api.Tag("first-pass-only")
    @Test
    void jobsEnqueuedOverTlsThroughAMasterKillAreOnTheNewMasterOnceInOrder() throws Exception {
        int total = 6_000;
        String q = "tls-failover";
        List<String> accepted = new ArrayList<>();
        try (SentinelGroup redis = SentinelGroup.builder().tls(certs).start();
             JobProducer p = producer(withCertificates(redis).build(), "journal")) {
            assertThat(redis.uri().getScheme()).isEqualTo("rediss-sentinel");
            await().atMost(Duration.ofSeconds(20)).until(() -> p.state() == HealthState.CONNECTED);
            AtomicBoolean failedOver = new AtomicBoolean();
            Thread chaos = SentinelFailoverIT.killMasterAfterAQuarter(redis, p, total, failedOver);
            long spooled = 0;
            for (int i = 0; i < total; i++) {
                Receipt r = p.enqueue(q, "t", ("job " + i).getBytes(StandardCharsets.UTF_8));
                accepted.add(r.jobId());
                spooled += r.spooled() ? 1 : 0;
                if (i % 50 == 0) {
                    // About 2,000 jobs/s: the failover (about 3 s) lands in the middle of the load.
                    LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(25));
                }
            }
            chaos.join();
            assertThat(failedOver).isTrue();
            assertThat(spooled).as("jobs spooled while no master answered").isGreaterThan(0);
            SentinelFailoverIT.awaitDrained(p);
            SentinelFailoverIT.assertOnNewMasterOnceInOrder(redis, Map.of(q, accepted));
            System.out.printf("over TLS through a failover: %d accepted, %d spooled, %d re-sent%n", accepted.size(), spooled,
                    p.metrics().meter(MetricNames.RESENT).getCount());
        }
    }

    // First pass only (.ci/run's Redis 7.0 pass leaves out the tag, to keep CI under 30 minutes): the wording of a TLS
    // misconfiguration is the client's, the same whatever the Redis version.
    @org.junit.jupiter.api.Tag("first-pass-only")
    @Test
    void tlsProblemsWithTheSentinelsAreOneErrorLineNamingTheSentinelWhileJobsSpool() {
        try (SentinelGroup redis = SentinelGroup.builder().tls(certs).start()) {
            String sentinel = "TLS: sentinel 127.0.0.1:" + redis.sentinelPorts().get(0) + ": ";
            misconfigured(redis, RedisConnection.builder(redis.uri()).trustedCertificates(certs.otherCaCertificate())
                    .clientCertificate(certs.clientCertificate(), certs.clientKey()).build(), "untrusted",
                    sentinel + "the sentinel's certificate is not trusted", "trustedCertificates");
            misconfigured(redis, RedisConnection.builder(redis.uri()).trustedCertificates(certs.caCertificate()).build(),
                    "no-client-cert", sentinel, "client certificate");
            misconfigured(redis, RedisConnection.builder(redis.uri()).tls(false).build(), "plain",
                    sentinel + "the sentinel speaks TLS only", "use rediss-sentinel://");
        }
    }

    // First pass only (.ci/run's Redis 7.0 pass leaves out the tag, to keep CI under 30 minutes): the wording of a TLS
    // misconfiguration is the client's, the same whatever the Redis version.
    @org.junit.jupiter.api.Tag("first-pass-only")
    @Test
    void aTlsClientAgainstPlainSentinelsIsToldToUseRedisSentinel() {
        try (SentinelGroup redis = SentinelGroup.builder().start()) {
            misconfigured(redis, RedisConnection.builder(redis.uri()).tls(true).trustedCertificates(certs.caCertificate()).build(),
                    "tls-on-plain", "TLS: sentinel 127.0.0.1:" + redis.sentinelPorts().get(0) + ": ", "use redis-sentinel://");
        }
    }

    /**
     * A producer whose TLS the sentinels refuse: every enqueue is spooled (nothing thrown), and each reconnect attempt
     * says so at ERROR naming {@code cause}, without stack traces.
     */
    private void misconfigured(SentinelGroup redis, RedisConnection c, String name, String cause, String check) {
        try (LogCapture logs = new LogCapture(); JobProducer p = producer(c, name)) {
            for (int i = 0; i < 20; i++) {
                assertThat(p.enqueue(name, "t", new byte[] {1}).spooled()).as(name).isTrue();
            }
            await().atMost(Duration.ofSeconds(20)).until(() -> !logs.lines("Reconnect attempt 3 failed").isEmpty());
            List<String> attempts = logs.lines("Reconnect attempt");
            System.out.println(attempts.get(0));
            assertThat(attempts).as(name).isNotEmpty().allSatisfy(l -> assertThat(l)
                    .contains("ERROR", cause, check, "this client's TLS settings do not match", c.redacted()));
            assertThat(logs.lines("\tat ")).as("no stack trace").isEmpty();
            assertThat(p.state()).isNotEqualTo(HealthState.CONNECTED);
            assertThat(p.journalBacklog()).isEqualTo(20);
        }
        try (Jedis j = redis.master().jedis()) {
            assertThat(RedisJobs.ids(j, name)).isEmpty();
        }
    }
}
