package io.spillway.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManagerFactory;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * Certificates for TLS tests, made in-process with BouncyCastle (no {@code openssl} command, which a fresh CI
 * machine lacks) and written as PEM files into one directory:
 *
 * <ul>
 *   <li>{@code ca.pem}: a private test CA that signed everything below;</li>
 *   <li>{@code server.pem} + {@code server.key}: a server certificate for {@code 127.0.0.1}, {@code ::1} and
 *       {@code localhost} (subject alternative names), what a TLS {@link RedisProcess} presents by default;</li>
 *   <li>{@code wrong-host.pem} + {@code wrong-host.key}: signed by the same CA but for {@code elsewhere.invalid}
 *       only: a client that checks host names refuses it on 127.0.0.1;</li>
 *   <li>{@code client.pem} + {@code client.key}: a client certificate, for {@code tls-auth-clients yes};</li>
 *   <li>{@code other-ca.pem}: an unrelated CA that signed nothing here: a client trusting only it refuses
 *       the server.</li>
 * </ul>
 *
 * Keys are EC P-256, PKCS#8 PEM ({@code BEGIN PRIVATE KEY}) without a password; certificates are valid from an
 * hour ago for 30 days. Immutable once made; thread-safe.
 *
 * <pre>{@code
 * TestCertificates certs = TestCertificates.create(tempDir);
 * try (RedisProcess redis = RedisProcess.builder().tls(certs).start()) { ... redis.uri() is rediss://... }
 * }</pre>
 */
public final class TestCertificates {
    private static final AtomicLong SERIAL = new AtomicLong(System.currentTimeMillis());
    private static final String SIGNATURE = "SHA256withECDSA";

    private final Path dir;
    private final X509Certificate ca;
    private final X509Certificate client;
    private final PrivateKey clientKey;

    private TestCertificates(Path dir, X509Certificate ca, X509Certificate client, PrivateKey clientKey) {
        this.dir = dir;
        this.ca = ca;
        this.client = client;
        this.clientKey = clientKey;
    }

    /** Makes a CA, server, wrong-host and client certificates and an unrelated CA, and writes them into {@code dir}. */
    public static TestCertificates create(Path dir) {
        try {
            Files.createDirectories(dir);
            Path abs = dir.toAbsolutePath();
            KeyPair caKeys = keyPair();
            X509Certificate ca = caCertificate("Spillway Test CA", caKeys);
            write(abs.resolve("ca.pem"), pem("CERTIFICATE", ca.getEncoded()));

            KeyPair serverKeys = keyPair();
            X509Certificate server = leaf("127.0.0.1", serverKeys, ca, caKeys.getPrivate(), KeyPurposeId.id_kp_serverAuth,
                    new GeneralName(GeneralName.iPAddress, "127.0.0.1"), new GeneralName(GeneralName.iPAddress, "::1"),
                    new GeneralName(GeneralName.dNSName, "localhost"));
            write(abs.resolve("server.pem"), pem("CERTIFICATE", server.getEncoded()));
            write(abs.resolve("server.key"), pem("PRIVATE KEY", serverKeys.getPrivate().getEncoded()));

            KeyPair wrongKeys = keyPair();
            X509Certificate wrong = leaf("elsewhere.invalid", wrongKeys, ca, caKeys.getPrivate(),
                    KeyPurposeId.id_kp_serverAuth, new GeneralName(GeneralName.dNSName, "elsewhere.invalid"));
            write(abs.resolve("wrong-host.pem"), pem("CERTIFICATE", wrong.getEncoded()));
            write(abs.resolve("wrong-host.key"), pem("PRIVATE KEY", wrongKeys.getPrivate().getEncoded()));

            KeyPair clientKeys = keyPair();
            X509Certificate client = leaf("spillway-test-client", clientKeys, ca, caKeys.getPrivate(),
                    KeyPurposeId.id_kp_clientAuth);
            write(abs.resolve("client.pem"), pem("CERTIFICATE", client.getEncoded()));
            write(abs.resolve("client.key"), pem("PRIVATE KEY", clientKeys.getPrivate().getEncoded()));

            X509Certificate otherCa = caCertificate("Unrelated Test CA", keyPair());
            write(abs.resolve("other-ca.pem"), pem("CERTIFICATE", otherCa.getEncoded()));
            return new TestCertificates(abs, ca, client, clientKeys.getPrivate());
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot write test certificates into " + dir, e);
        } catch (GeneralSecurityException | OperatorCreationException e) {
            throw new IllegalStateException("Cannot make test certificates: " + e, e);
        }
    }

    public Path dir() {
        return dir;
    }

    /** The test CA (PEM): trust it to trust {@link #serverCertificate()}. */
    public Path caCertificate() {
        return dir.resolve("ca.pem");
    }

    /** An unrelated CA (PEM) that signed nothing here. */
    public Path otherCaCertificate() {
        return dir.resolve("other-ca.pem");
    }

    /** The server certificate for 127.0.0.1, ::1 and localhost (PEM). */
    public Path serverCertificate() {
        return dir.resolve("server.pem");
    }

    public Path serverKey() {
        return dir.resolve("server.key");
    }

    /** A server certificate from the test CA for {@code elsewhere.invalid} only (PEM). */
    public Path wrongHostCertificate() {
        return dir.resolve("wrong-host.pem");
    }

    public Path wrongHostKey() {
        return dir.resolve("wrong-host.key");
    }

    /** The client certificate (PEM), signed by the test CA. */
    public Path clientCertificate() {
        return dir.resolve("client.pem");
    }

    public Path clientKey() {
        return dir.resolve("client.key");
    }

    /**
     * A socket factory that trusts the test CA and presents the client certificate: what {@link RedisProcess}'s
     * own admin connection uses. Checks no host name (the caller decides).
     */
    public SSLSocketFactory clientSocketFactory() {
        try {
            KeyStore trust = KeyStore.getInstance("PKCS12");
            trust.load(null, null);
            trust.setCertificateEntry("ca", ca);
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(trust);
            KeyStore keys = KeyStore.getInstance("PKCS12");
            keys.load(null, null);
            char[] none = new char[0];
            keys.setKeyEntry("client", clientKey, none, new Certificate[] {client, ca});
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(keys, none);
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
            return ctx.getSocketFactory();
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException("Cannot build the test client's TLS context: " + e, e);
        }
    }

    @Override
    public String toString() {
        return "TestCertificates[" + dir + "]";
    }

    private static KeyPair keyPair() throws GeneralSecurityException {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"), new SecureRandom());
        return g.generateKeyPair();
    }

    private static X509Certificate caCertificate(String name, KeyPair keys)
            throws GeneralSecurityException, OperatorCreationException, IOException {
        X500Name subject = new X500Name("CN=" + name);
        X509v3CertificateBuilder b = builder(subject, subject, keys);
        b.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
        b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
        return sign(b, keys.getPrivate());
    }

    private static X509Certificate leaf(String cn, KeyPair keys, X509Certificate issuer, PrivateKey issuerKey,
                                        KeyPurposeId purpose, GeneralName... altNames)
            throws GeneralSecurityException, OperatorCreationException, IOException {
        X500Name issuerName = new X500Name(issuer.getSubjectX500Principal().getName());
        X509v3CertificateBuilder b = builder(issuerName, new X500Name("CN=" + cn), keys);
        b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
        b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyAgreement));
        b.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(purpose));
        if (altNames.length > 0) {
            b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(altNames));
        }
        return sign(b, issuerKey);
    }

    private static X509v3CertificateBuilder builder(X500Name issuer, X500Name subject, KeyPair keys) {
        Instant now = Instant.now();
        return new JcaX509v3CertificateBuilder(issuer, BigInteger.valueOf(SERIAL.incrementAndGet()),
                Date.from(now.minus(Duration.ofHours(1))), Date.from(now.plus(Duration.ofDays(30))), subject,
                keys.getPublic());
    }

    private static X509Certificate sign(X509v3CertificateBuilder b, PrivateKey key)
            throws GeneralSecurityException, OperatorCreationException {
        return new JcaX509CertificateConverter().getCertificate(b.build(new JcaContentSignerBuilder(SIGNATURE).build(key)));
    }

    private static String pem(String type, byte[] der) {
        List<String> lines = new ArrayList<>();
        lines.add("-----BEGIN " + type + "-----");
        String b64 = Base64.getEncoder().encodeToString(der);
        for (int i = 0; i < b64.length(); i += 64) {
            lines.add(b64.substring(i, Math.min(b64.length(), i + 64)));
        }
        lines.add("-----END " + type + "-----");
        return String.join("\n", lines) + "\n";
    }

    private static void write(Path file, String text) throws IOException {
        Files.writeString(file, text, StandardCharsets.US_ASCII);
    }
}
