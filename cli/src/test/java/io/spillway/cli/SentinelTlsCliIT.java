package io.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.spillway.backend.JobProducer;
import io.spillway.core.RedisConnection;
import io.spillway.testing.SentinelGroup;
import io.spillway.testing.TestCertificates;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The tool through Sentinel over TLS ({@code rediss-sentinel://} with --tls-ca-cert, --tls-cert and --tls-key), TLS
 * problems with the sentinels as one line naming the sentinel (exit 2), and IPv6 sentinel addresses end to end.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
@org.junit.jupiter.api.Tag("first-pass-only") // the tool's TLS options and messages: the same whatever the Redis version
class SentinelTlsCliIT {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    private static void enqueue(RedisConnection c, Path journal, String q, int n) {
        try (JobProducer p = JobProducer.builder().redis(c).journalDir(journal).build()) {
            for (int i = 0; i < n; i++) {
                assertThat(p.enqueue(q, "t", new byte[] {1}).spooled()).isFalse();
            }
        }
    }

    @Test
    void statusOverRedissSentinelWithTheTlsFilesAndEachTlsProblemAsOneLine() throws Exception {
        TestCertificates certs = TestCertificates.create(tmp.resolve("certs"));
        String ca = certs.caCertificate().toString();
        String cert = certs.clientCertificate().toString();
        String key = certs.clientKey().toString();
        try (SentinelGroup redis = SentinelGroup.builder().tls(certs).start()) {
            String uri = redis.uri().toString();
            String q = "sentinel-tls-cli";
            enqueue(RedisConnection.builder(uri).trustedCertificates(certs.caCertificate())
                    .clientCertificate(certs.clientCertificate(), certs.clientKey()).build(), tmp.resolve("j"), q, 3);

            Cli ok = Cli.run("status", "--redis", uri, "-q", q, "--json", "--tls-ca-cert", ca, "--tls-cert", cert, "--tls-key", key);
            assertThat(ok.exit()).as(ok.toString()).isZero();
            assertThat(JSON.readTree(ok.out()).get("queues").get(0).get("waiting").asLong()).isEqualTo(3);
            assertThat(JSON.readTree(ok.out()).get("redis").asText()).isEqualTo(uri);

            String sentinel = "TLS: sentinel 127.0.0.1:" + redis.sentinelPorts().get(0) + ": ";
            String plainUri = uri.replace("rediss-sentinel://", "redis-sentinel://");
            for (Object[] c : List.of(
                    new Object[] {new String[] {"status", "--redis", uri}, List.of(sentinel + "the sentinel's certificate is not trusted",
                            "--tls-ca-cert")},
                    new Object[] {new String[] {"status", "--redis", uri, "--tls-ca-cert", ca}, List.of(sentinel, "client certificate",
                            "--tls-cert")},
                    new Object[] {new String[] {"status", "--redis", plainUri}, List.of(sentinel + "the sentinel speaks TLS only",
                            "use rediss-sentinel://")},
                    new Object[] {new String[] {"status", "--redis", plainUri, "--tls-ca-cert", ca},
                            List.of("trustedCertificates is a TLS setting", "rediss-sentinel://")})) {
                String[] args = (String[]) c[0];
                @SuppressWarnings("unchecked")
                List<String> expected = (List<String>) c[1];
                Cli failed = Cli.run(args);
                System.out.println(failed.err().strip());
                assertThat(failed.exit()).as(String.join(" ", args) + "\n" + failed).isEqualTo(ExitCodes.USAGE);
                assertThat(failed.oneLineError()).contains(expected);
            }
        }
    }

    /** Three TLS sentinels named by their IPv6 address, [::1]:port (which java.net.URI cannot hold as one URI). */
    @Test
    void ipv6SentinelAddressesWorkEndToEnd() throws Exception {
        Assumptions.assumeTrue(ipv6Loopback(), "no IPv6 loopback (::1) on this machine");
        TestCertificates certs = TestCertificates.create(tmp.resolve("certs"));
        try (SentinelGroup redis = SentinelGroup.builder().tls(certs).ipv6Sentinels(true).sentinels(3).start()) {
            String uri = redis.uriString();
            assertThat(uri).startsWith("rediss-sentinel://[::1]:");
            String q = "sentinel-ipv6";
            RedisConnection c = RedisConnection.builder(uri).trustedCertificates(certs.caCertificate())
                    .clientCertificate(certs.clientCertificate(), certs.clientKey()).build();
            assertThat(c.toString()).isEqualTo(uri);
            enqueue(c, tmp.resolve("j"), q, 2);
            Cli ok = Cli.run("status", "--redis", uri, "-q", q, "--json", "--tls-ca-cert", certs.caCertificate().toString(),
                    "--tls-cert", certs.clientCertificate().toString(), "--tls-key", certs.clientKey().toString());
            // With the host name checked: the sentinels' certificate lists ::1 among its addresses.
            assertThat(ok.exit()).as(ok.toString()).isZero();
            assertThat(JSON.readTree(ok.out()).get("queues").get(0).get("waiting").asLong()).isEqualTo(2);
            Cli untrusted = Cli.run("status", "--redis", uri);
            assertThat(untrusted.exit()).as(untrusted.toString()).isEqualTo(ExitCodes.USAGE);
            assertThat(untrusted.oneLineError()).contains("TLS: sentinel [::1]:" + redis.sentinelPorts().get(2) + ": ");
        }
    }

    static boolean ipv6Loopback() {
        try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getByName("::1"))) {
            return true;
        } catch (java.io.IOException e) {
            return false;
        }
    }
}
