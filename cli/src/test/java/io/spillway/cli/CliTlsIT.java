package io.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.spillway.backend.JobProducer;
import io.spillway.core.RedisConnection;
import io.spillway.testing.RedisProcess;
import io.spillway.testing.TestCertificates;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The tool against a real TLS Redis: --tls-ca-cert, --tls-cert/--tls-key, and each TLS mismatch as one line, exit 2. */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class CliTlsIT {
    @TempDir
    Path tmp;

    @Test
    void statusOverTlsWithAPrivateCaAndAClientCertificate() throws Exception {
        TestCertificates certs = TestCertificates.create(tmp.resolve("certs"));
        String ca = certs.caCertificate().toString();
        try (RedisProcess redis = RedisProcess.builder().tls(certs).tlsAuthClients(true).start()) {
            String uri = redis.uri().toString();
            String q = "cli-tls-" + System.nanoTime();
            try (JobProducer producer = JobProducer.builder().redis(RedisConnection.builder(redis.uri())
                    .trustedCertificates(certs.caCertificate())
                    .clientCertificate(certs.clientCertificate(), certs.clientKey()).build())
                    .journalDir(tmp.resolve("journal")).build()) {
                for (int i = 0; i < 4; i++) {
                    assertThat(producer.enqueue(q, "t", ("p" + i).getBytes(StandardCharsets.UTF_8)).spooled()).isFalse();
                }
            }
            Cli ok = Cli.run("status", "--redis", uri, "-q", q, "--json", "--tls-ca-cert", ca,
                    "--tls-cert", certs.clientCertificate().toString(), "--tls-key", certs.clientKey().toString());
            assertThat(ok.exit()).as(ok.toString()).isZero();
            assertThat(new ObjectMapper().readTree(ok.out()).get("queues").get(0).get("waiting").asLong()).isEqualTo(4);

            for (String[] args : List.of(
                    new String[] {"status", "--redis", uri, "--tls-ca-cert", ca},
                    new String[] {"doctor", "--redis", uri, "--tls-ca-cert", ca},
                    new String[] {"dlq", "list", "--redis", uri, "-q", "x", "--tls-ca-cert", ca},
                    new String[] {"report", "--redis", uri, "--no-http", "--console", "60", "--tls-ca-cert", ca})) {
                Cli c = Cli.run(args);
                System.out.println(c.err().strip());
                assertThat(c.exit()).as(String.join(" ", args) + "\n" + c).isEqualTo(ExitCodes.USAGE);
                assertThat(c.oneLineError()).contains("cannot connect to Redis at " + uri, "TLS: ", "client certificate",
                        "--tls-cert");
            }
            Cli untrusted = Cli.run("status", "--redis", uri);
            System.out.println(untrusted.err().strip());
            assertThat(untrusted.exit()).as(untrusted.toString()).isEqualTo(ExitCodes.USAGE);
            assertThat(untrusted.oneLineError()).contains("TLS: Redis's certificate is not trusted", "--tls-ca-cert");
        }
    }

    @Test
    void tlsMismatchesAndBadTlsOptionsAreBadInput() {
        TestCertificates certs = TestCertificates.create(tmp.resolve("certs"));
        String ca = certs.caCertificate().toString();
        try (RedisProcess tls = RedisProcess.builder().tls(certs).start();
             RedisProcess plain = RedisProcess.builder().start()) {
            Cli tlsOnPlain = Cli.run("status", "--redis", "rediss://127.0.0.1:" + plain.port(), "--tls-ca-cert", ca,
                    "--timeout", "500");
            System.out.println(tlsOnPlain.err().strip());
            assertThat(tlsOnPlain.exit()).as(tlsOnPlain.toString()).isEqualTo(ExitCodes.USAGE);
            assertThat(tlsOnPlain.oneLineError()).contains("answers without TLS", "use redis://");
            Cli plainOnTls = Cli.run("status", "--redis", "redis://127.0.0.1:" + tls.port());
            System.out.println(plainOnTls.err().strip());
            assertThat(plainOnTls.exit()).as(plainOnTls.toString()).isEqualTo(ExitCodes.USAGE);
            assertThat(plainOnTls.oneLineError()).contains("speaks TLS only", "use rediss://");

            Cli caOnPlainUri = Cli.run("status", "--redis", "redis://127.0.0.1:" + plain.port(), "--tls-ca-cert", ca);
            assertThat(caOnPlainUri.exit()).isEqualTo(ExitCodes.USAGE);
            assertThat(caOnPlainUri.oneLineError()).contains("trustedCertificates is a TLS setting", "rediss://");
            Cli certWithoutKey = Cli.run("status", "--redis", tls.uri().toString(), "--tls-cert", ca);
            assertThat(certWithoutKey.exit()).isEqualTo(ExitCodes.USAGE);
            assertThat(certWithoutKey.oneLineError()).contains("--tls-cert needs --tls-key");
            Cli missing = Cli.run("status", "--redis", tls.uri().toString(), "--tls-ca-cert", tmp.resolve("nope.pem").toString());
            assertThat(missing.exit()).isEqualTo(ExitCodes.USAGE);
            assertThat(missing.oneLineError()).contains("trustedCertificates file does not exist", "nope.pem");
        }
    }
}
