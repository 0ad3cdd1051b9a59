package io.spillway.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.spillway.core.RedisConnection;
import io.spillway.testing.TestCertificates;
import java.io.StringWriter;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.util.List;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocketFactory;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.JedisClientConfig;

/** RedisConnection's TLS options: defaults, validation at build, and what reaches the Jedis config. */
class TlsSettingsTest {
    private static final URI TLS = URI.create("rediss://redis.internal:6380");
    private static final URI PLAIN = URI.create("redis://redis.internal:6379");

    @TempDir
    Path dir;
    TestCertificates certs;

    @BeforeEach
    void certificates() {
        certs = TestCertificates.create(dir.resolve("certs"));
    }

    @Test
    void plainRedissUsesTheJvmTrustStoreAndChecksTheHostName() {
        RedisConnection c = RedisConnection.of(TLS);
        assertThat(c.sslSocketFactory()).isNull();
        assertThat(c.hostnameVerifier()).isNull();
        assertThat(c.sslParameters().getEndpointIdentificationAlgorithm()).isEqualTo("HTTPS");
        JedisClientConfig cfg = Tls.configure(DefaultJedisClientConfig.builder(), c).build();
        assertThat(cfg.isSsl()).isTrue();
        assertThat(cfg.getSslParameters().getEndpointIdentificationAlgorithm()).isEqualTo("HTTPS");
        assertThat(cfg.getSslSocketFactory()).isNull();
        RedisConnection plain = RedisConnection.of(PLAIN);
        assertThat(plain.sslParameters()).isNull();
        assertThat(Tls.configure(DefaultJedisClientConfig.builder(), plain).build().isSsl()).isFalse();
    }

    @Test
    void tlsOptionsOnAPlainUriAreRefused() {
        SSLSocketFactory f = (SSLSocketFactory) SSLSocketFactory.getDefault();
        assertThatThrownBy(() -> RedisConnection.builder(PLAIN).trustedCertificates(certs.caCertificate()).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("trustedCertificates is a TLS setting").hasMessageContaining("redis://redis.internal:6379")
                .hasMessageContaining("rediss://");
        assertThatThrownBy(() -> RedisConnection.builder(PLAIN).sslSocketFactory(f).build()).hasMessageContaining("sslSocketFactory");
        assertThatThrownBy(() -> RedisConnection.builder(PLAIN).sslParameters(new SSLParameters()).build())
                .hasMessageContaining("sslParameters");
        assertThatThrownBy(() -> RedisConnection.builder(PLAIN).hostnameVerifier((h, s) -> true).build())
                .hasMessageContaining("hostnameVerifier");
        assertThatThrownBy(() -> RedisConnection.builder(PLAIN).clientCertificate(certs.clientCertificate(), certs.clientKey())
                .build()).hasMessageContaining("clientCertificate");
        assertThatThrownBy(() -> RedisConnection.builder(TLS).sslSocketFactory(f).trustedCertificates(certs.caCertificate())
                .build()).hasMessageContaining("cannot be combined");
    }

    @Test
    void badFilesFailAtBuildNamingTheSettingAndTheFile() throws Exception {
        Path missing = dir.resolve("nope.pem");
        assertThatThrownBy(() -> RedisConnection.builder(TLS).trustedCertificates(missing).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("trustedCertificates file does not exist").hasMessageContaining(missing.toString());
        assertThatThrownBy(() -> RedisConnection.builder(TLS).trustedCertificates(dir).build())
                .hasMessageContaining("not a regular file");
        Path text = Files.writeString(dir.resolve("notes.txt"), "hello\n");
        assertThatThrownBy(() -> RedisConnection.builder(TLS).trustedCertificates(text).build())
                .hasMessageContaining("holds no PEM certificate").hasMessageContaining(text.toString());
        assertThatThrownBy(() -> RedisConnection.builder(TLS).trustedCertificates(certs.clientKey()).build())
                .hasMessageContaining("holds no PEM certificate").hasMessageContaining("it holds a private key");
        Path garbled = Files.writeString(dir.resolve("garbled.pem"), "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
        assertThatThrownBy(() -> RedisConnection.builder(TLS).trustedCertificates(garbled).build())
                .hasMessageContaining("is not a valid PEM certificate file");
        assertThatThrownBy(() -> RedisConnection.builder(TLS).clientCertificate(certs.clientCertificate(), certs.clientCertificate())
                .build()).hasMessageContaining("clientKey file").hasMessageContaining("holds no PEM private key")
                .hasMessageContaining("it holds a certificate");
        assertThatThrownBy(() -> RedisConnection.builder(TLS).clientCertificate(certs.clientCertificate(), certs.serverKey())
                .build()).hasMessageContaining("does not belong to the certificate");
        Path encrypted = Files.writeString(dir.resolve("enc.key"), "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n");
        assertThatThrownBy(() -> RedisConnection.builder(TLS).clientCertificate(certs.clientCertificate(), encrypted).build())
                .hasMessageContaining("is encrypted");
    }

    @Test
    void certificateFilesBecomeASocketFactoryAndParametersAreKept() {
        RedisConnection c = RedisConnection.builder(TLS).trustedCertificates(certs.caCertificate())
                .clientCertificate(certs.clientCertificate(), certs.clientKey()).build();
        assertThat(c.sslSocketFactory()).isNotNull();
        assertThat(c.trustedCertificates()).isEqualTo(certs.caCertificate());
        assertThat(c.clientCertificate()).isEqualTo(certs.clientCertificate());
        assertThat(Tls.configure(DefaultJedisClientConfig.builder(), c).build().getSslSocketFactory()).isSameAs(c.sslSocketFactory());

        SSLParameters mine = new SSLParameters();
        mine.setProtocols(new String[] {"TLSv1.3"});
        RedisConnection p = RedisConnection.builder(TLS).sslParameters(mine).build();
        assertThat(p.sslParameters().getProtocols()).containsExactly("TLSv1.3");
        assertThat(p.sslParameters().getEndpointIdentificationAlgorithm()).as("host name still checked").isEqualTo("HTTPS");
        SSLParameters off = new SSLParameters();
        off.setEndpointIdentificationAlgorithm(""); // what snippets online use to turn the check off
        assertThat(RedisConnection.builder(TLS).sslParameters(off).build().sslParameters().getEndpointIdentificationAlgorithm())
                .as("empty is unset: checked all the same").isEqualTo("HTTPS");
        RedisConnection v = RedisConnection.builder(TLS).hostnameVerifier((h, s) -> true).build();
        assertThat(v.sslParameters().getEndpointIdentificationAlgorithm()).as("the verifier decides alone").isNull();
        assertThat(Tls.configure(DefaultJedisClientConfig.builder(), v).build().getHostnameVerifier()).isNotNull();
    }

    @Test
    void aPkcs1RsaKeyIsRead() throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
        g.initialize(2048);
        KeyPair keys = g.generateKeyPair();
        StringWriter pem = new StringWriter();
        try (JcaPEMWriter w = new JcaPEMWriter(pem)) {
            w.writeObject(keys.getPrivate());
        }
        assertThat(pem.toString()).startsWith("-----BEGIN RSA PRIVATE KEY-----");
        Path file = Files.writeString(dir.resolve("rsa.key"), pem.toString());
        assertThat(Tls.privateKey(file).getEncoded()).isEqualTo(keys.getPrivate().getEncoded());
    }

    @Test
    void tlsFailuresAreMisconfigurationsWithWhatToCheck() {
        for (String problem : List.of(
                Failures.describe(new redis.clients.jedis.exceptions.JedisConnectionException(new javax.net.ssl.SSLHandshakeException(
                        "PKIX path building failed: unable to find valid certification path to requested target"))),
                Failures.describe(new redis.clients.jedis.exceptions.JedisConnectionException(
                        new javax.net.ssl.SSLHandshakeException("Received fatal alert: certificate_required"))),
                Failures.describe(new redis.clients.jedis.exceptions.JedisConnectionException(
                        "The connection to 'h' failed ssl/tls hostname verification.")))) {
            assertThat(problem).startsWith(Failures.TLS);
            assertThat(Failures.isMisconfiguration(problem)).as(problem).isTrue();
            assertThat(Failures.whatToCheck(problem)).contains("TLS settings do not match");
        }
        assertThat(Failures.isRetryable(new redis.clients.jedis.exceptions.JedisConnectionException(
                new javax.net.ssl.SSLHandshakeException("PKIX path building failed")))).isFalse();
        assertThat(Failures.isMisconfiguration("connection refused")).isFalse();
    }
}
