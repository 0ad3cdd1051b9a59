package io.spillway.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.spillway.core.RedisConnection;
import io.spillway.core.RedisUnavailableException;
import io.spillway.testing.RedisProcess;
import io.spillway.testing.TestCertificates;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The gateway against a real TLS Redis: a private CA, client certificates, and every TLS mismatch told apart from an
 * outage (a misconfiguration problem that names the cause), including the ones that do not show as TLS errors.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class RedisGatewayTlsIT {
    @TempDir
    Path dir;
    TestCertificates certs;

    @BeforeEach
    void certificates() {
        certs = TestCertificates.create(dir.resolve("certs"));
    }

    private static RedisGateway.Probe probe(RedisConnection c) {
        try (RedisGateway g = new RedisGateway(c, "t", 2, Duration.ofMillis(1), null)) {
            return g.probe();
        }
    }

    private static void assertTlsProblem(RedisConnection c, String... contains) {
        RedisGateway.Probe p = probe(c);
        assertThat(p.healthy()).as(c + ": " + p.problem()).isFalse();
        assertThat(p.problem()).as(c.toString()).startsWith(Failures.TLS).contains(contains);
        assertThat(Failures.isMisconfiguration(p.problem())).isTrue();
    }

    private RedisConnection.Builder trusting(URI uri) {
        return RedisConnection.builder(uri).trustedCertificates(certs.caCertificate());
    }

    @Test
    void aPrivateCaWorksAndCommandsRunOverTls() {
        try (RedisProcess redis = RedisProcess.builder().tls(certs).start();
             RedisGateway g = new RedisGateway(trusting(redis.uri()).build(), "t", 2, Duration.ofMillis(1), null)) {
            RedisGateway.Probe ok = g.probe();
            assertThat(ok.healthy()).as(String.valueOf(ok.problem())).isTrue();
            g.close("start closed");
            g.execute(c -> c.set("k", "v"));
            String got = g.execute(c -> c.get("k"));
            assertThat(got).isEqualTo("v");
            // localhost is the certificate's other name.
            assertThat(probe(trusting(URI.create("rediss://localhost:" + redis.port())).build()).healthy()).isTrue();
        }
    }

    @Test
    void anUntrustedCertificateAndAHostNameMismatchAreMisconfigurations() {
        try (RedisProcess redis = RedisProcess.builder().tls(certs).start();
             RedisProcess wrong = RedisProcess.builder().tls(certs)
                     .tlsServerIdentity(certs.wrongHostCertificate(), certs.wrongHostKey()).start()) {
            assertTlsProblem(RedisConnection.of(redis.uri()), "not trusted", "trustedCertificates");
            assertTlsProblem(RedisConnection.builder(redis.uri()).trustedCertificates(certs.otherCaCertificate()).build(),
                    "not trusted");
            assertTlsProblem(trusting(wrong.uri()).build(), "not for this host name", "127.0.0.1");
            // A verifier that accepts every name turns the check off.
            assertThat(probe(trusting(wrong.uri()).hostnameVerifier((h, s) -> true).build()).healthy()).isTrue();
            // And a call fails as unavailable (the producer spools), not retried on a second handshake.
            try (RedisGateway g = new RedisGateway(RedisConnection.of(redis.uri()), "t", 2, Duration.ofMillis(1), null)) {
                g.close("start closed");
                assertThatThrownBy(() -> g.execute(c -> c.ping())).isInstanceOf(RedisUnavailableException.class)
                        .hasMessageContaining("not trusted");
                assertThat(g.isOpen()).isTrue();
            }
        }
    }

    @Test
    void aRequiredClientCertificateIsToldAndTheProbeRecoversWhenRedisStopsRequiringIt() {
        try (RedisProcess redis = RedisProcess.builder().tls(certs).tlsAuthClients(true).start()) {
            RedisConnection without = trusting(redis.uri()).build();
            assertTlsProblem(without, "client certificate");
            assertThat(probe(trusting(redis.uri()).clientCertificate(certs.clientCertificate(), certs.clientKey()).build())
                    .healthy()).isTrue();
            redis.configSet("tls-auth-clients", "no");
            assertThat(probe(without).healthy()).as("fixed on the server side").isTrue();
        }
    }

    @Test
    void noCommonProtocolAndAMissingClientCertificateOverTls12AreMisconfigurations() {
        javax.net.ssl.SSLParameters tls12 = new javax.net.ssl.SSLParameters();
        tls12.setProtocols(new String[] {"TLSv1.2"});
        try (RedisProcess only13 = RedisProcess.builder().tls(certs).setting("tls-protocols", "TLSv1.3").start();
             RedisProcess auth = RedisProcess.builder().tls(certs).tlsAuthClients(true).start()) {
            RedisGateway.Probe p = probe(trusting(only13.uri()).sslParameters(tls12).build());
            System.out.println("TLS 1.2 client, TLS 1.3 server: " + p.problem());
            assertThat(p.problem()).startsWith(Failures.TLS).contains("share no protocol version", "protocol_version");
            assertThat(Failures.isMisconfiguration(p.problem())).isTrue();
            RedisGateway.Probe noCert = probe(trusting(auth.uri()).sslParameters(tls12).build());
            System.out.println("TLS 1.2 client without a client certificate: " + noCert.problem());
            assertThat(noCert.problem()).startsWith(Failures.TLS).contains("client certificate", "--tls-cert");
            assertThat(Failures.isMisconfiguration(noCert.problem())).isTrue();
        }
    }

    @Test
    void tlsAgainstAPlainPortAndPlainAgainstATlsPortAreTold() {
        try (RedisProcess tls = RedisProcess.builder().tls(certs).start();
             RedisProcess plain = RedisProcess.builder().start()) {
            assertTlsProblem(trusting(URI.create("rediss://127.0.0.1:" + plain.port())).build(), "answers without TLS",
                    "redis://");
            assertTlsProblem(RedisConnection.of(URI.create("redis://127.0.0.1:" + tls.port())), "speaks TLS only",
                    "rediss://");
            // A Redis that is down is still an outage, not a misconfiguration.
            tls.kill();
            RedisGateway.Probe down = probe(trusting(tls.uri()).build());
            assertThat(down.problem()).isEqualTo("connection refused");
            assertThat(Failures.isMisconfiguration(down.problem())).isFalse();
        }
    }
}
