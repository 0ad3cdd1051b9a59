package io.spillway.core.internal;

import io.spillway.core.RedisConnection;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.InvalidKeySpecException;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.List;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManagerFactory;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;

/**
 * TLS for Redis connections: reads PEM files into an {@link SSLSocketFactory} (at {@link RedisConnection} build
 * time, so a bad file fails there) and puts a connection's TLS settings on a Jedis client config (every client
 * Spillway makes: the gateway's pool, its probes, the CLI).
 *
 * <p>Invariant: a file problem is an {@link IllegalArgumentException} naming the setting, the file and what is
 * wrong with it; keys are never printed.
 */
public final class Tls {
    private Tls() {
    }

    /** Puts {@code c}'s TLS settings (none for {@code redis://}) on {@code cfg}. */
    public static DefaultJedisClientConfig.Builder configure(DefaultJedisClientConfig.Builder cfg, RedisConnection c) {
        if (!c.ssl()) {
            return cfg;
        }
        cfg.ssl(true).sslParameters(c.sslParameters());
        if (c.sslSocketFactory() != null) {
            cfg.sslSocketFactory(c.sslSocketFactory());
        }
        if (c.hostnameVerifier() != null) {
            cfg.hostnameVerifier(c.hostnameVerifier());
        }
        return cfg;
    }

    /**
     * What a failed connection attempt hides about TLS, as a {@link Failures#TLS} problem, or null. Some TLS
     * mismatches do not show as TLS errors: a TLS client on a plain port waits for a handshake reply that never comes
     * (a timeout, like a hung Redis); a plain client on a TLS port is reset; a TLS 1.3 client without the certificate
     * that Redis requires finishes its handshake and is then cut off ("Broken pipe"). So after such a failure one
     * more connection finds out: a TLS client sends a plain {@code PING} (a RESP reply means a plain port) or
     * handshakes and waits for Redis's alert; a plain client tries a handshake (a certificate shown means a TLS port;
     * it trusts any, sends nothing after it, and only to tell). Costs one more connection (up to a connect plus a
     * socket timeout; up to three quick ones for a TLS 1.2 reset, see below), and only after a connection failure
     * that was not refused and not already a TLS error; for a plain client not after a timeout either (a hung Redis
     * costs a plain client's probe nothing more, a TLS client's one more socket timeout).
     *
     * <p>For Sentinel: when no sentinel answered ({@link Sentinels.Unanswered}) the last sentinel's failure, TLS error or
     * mismatch, is told naming that sentinel ({@code TLS: sentinel host:port: …}); a failure of the master's connection
     * needs the master's address, {@link #diagnose(RedisConnection, HostAndPort, Throwable)} (here: null).
     */
    public static String diagnose(RedisConnection c, Throwable failure) {
        if (failure instanceof Sentinels.Unanswered u) {
            return diagnoseSentinel(c, u);
        }
        // For Sentinel, the master's address is not in the failure: see diagnose(c, at, failure).
        return c.sentinel() ? null : diagnose(c, c.host(), c.port(), "Redis", failure);
    }

    /**
     * {@link #diagnose(RedisConnection, Throwable)} of a connection to {@code master}, the master the sentinels of
     * {@code c} named; for a {@link Sentinels.Unanswered} failure, that of the sentinel.
     */
    public static String diagnose(RedisConnection c, HostAndPort master, Throwable failure) {
        if (failure instanceof Sentinels.Unanswered u) {
            return diagnoseSentinel(c, u);
        }
        return diagnose(c, master.getHost(), master.getPort(), "Redis", failure);
    }

    /**
     * No sentinel answered: the last one's failure as a {@link Failures#TLS} problem naming that sentinel, whether it is
     * a TLS error (an untrusted certificate …) or a mismatch that {@link #diagnose} finds out; or null.
     */
    private static String diagnoseSentinel(RedisConnection c, Sentinels.Unanswered u) {
        Throwable cause = u.getCause();
        String problem = Failures.describeTls(cause);
        if (problem == null) {
            problem = diagnose(c, u.sentinel().getHost(), u.sentinel().getPort(), "the sentinel", cause);
        }
        return problem == null ? null : Failures.onSentinel(u.sentinel(), problem);
    }

    private static String where(String host, int port) {
        return (host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host) + ":" + port;
    }

    private static String diagnose(RedisConnection c, String host, int port, String who, Throwable failure) {
        if (!(failure instanceof redis.clients.jedis.exceptions.JedisConnectionException) || Failures.isRefused(failure)
                || Failures.isTlsFailure(failure)) {
            return null;
        }
        int connectMs = (int) c.connectTimeout().toMillis();
        int readMs = (int) c.socketTimeout().toMillis();
        String where = who.equals("Redis") ? "Redis at " + where(host, port) : who;
        String tlsScheme = c.sentinel() ? "rediss-sentinel://" : c.cluster() ? "rediss-cluster://" : "rediss://";
        String plainScheme = c.sentinel() ? "redis-sentinel://" : c.cluster() ? "redis-cluster://" : "redis://";
        String tlsPort = who.equals("Redis") ? "Redis's tls-port" : "the sentinels' tls-port";
        if (!c.ssl()) {
            // A TLS port resets a plain client at once: a plain client's timeout is a hung Redis, not TLS.
            return !Failures.isTimeout(failure) && speaksTls(host, port, connectMs, readMs)
                    ? Failures.TLS + where + " speaks TLS only (a TLS port) and this client does not; use " + tlsScheme
                    : null;
        }
        if (Failures.isTimeout(failure)) {
            // A plain port, or a hung Redis (then a handshake would only time out again).
            return speaksPlainRedis(host, port, connectMs, readMs)
                    ? Failures.TLS + where + " answers without TLS (a plain port) and this client speaks TLS;"
                            + " use " + plainScheme + " or " + tlsPort
                    : null;
        }
        // A TLS 1.2 server that refuses our (missing) certificate closes while our last handshake records are still
        // unread, so the kernel resets the connection and its alert is lost: the handshake ends in "Connection reset"
        // or "Broken pipe". A reset in the middle of every one of three handshakes, on a port that accepts
        // connections, is that; one try that gets further decides.
        String reset = null;
        for (int i = 0; i < 3; i++) {
            java.net.Socket raw = new java.net.Socket();
            try {
                try {
                    raw.connect(new java.net.InetSocketAddress(host, port), connectMs);
                    raw.setSoTimeout(readMs);
                } catch (java.io.IOException | RuntimeException e) {
                    return null; // gone or unreachable: an outage, not TLS
                }
                SSLSocketFactory factory = c.sslSocketFactory() != null ? c.sslSocketFactory()
                        : (SSLSocketFactory) SSLSocketFactory.getDefault();
                javax.net.ssl.SSLSocket s = (javax.net.ssl.SSLSocket) factory.createSocket(raw, host, port, true);
                s.setSSLParameters(c.sslParameters());
                try {
                    s.startHandshake();
                } catch (javax.net.ssl.SSLException e) {
                    return Failures.describeTls(e);
                } catch (java.net.SocketException e) {
                    reset = e.getMessage();
                    continue;
                }
                try {
                    // Redis sends nothing unasked: what arrives now is its verdict on our certificate (TLS 1.3).
                    s.getInputStream().read();
                } catch (javax.net.ssl.SSLException e) {
                    return Failures.describeTls(e);
                }
                return null; // a timeout: Redis took us
            } catch (java.io.IOException | RuntimeException e) {
                return null;
            } finally {
                try {
                    raw.close();
                } catch (java.io.IOException ignored) {
                    // closing a socket we are done with
                }
            }
        }
        return Failures.TLS + (who.equals("Redis") ? "Redis" : who) + " closed the connection in the middle of every TLS handshake (" + reset + "), as"
                + " Redis does over TLS 1.2 when it requires a client certificate that it does not get or does not trust;"
                + " give a client certificate that Redis's tls-ca-cert-file trusts (clientCertificate, --tls-cert and --tls-key)";
    }

    private static boolean speaksPlainRedis(String host, int port, int connectMs, int readMs) {
        try (java.net.Socket s = new java.net.Socket()) {
            s.connect(new java.net.InetSocketAddress(host, port), connectMs);
            s.setSoTimeout(readMs);
            s.getOutputStream().write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
            s.getOutputStream().flush();
            int first = s.getInputStream().read();
            return first == '+' || first == '-';
        } catch (java.io.IOException | RuntimeException e) {
            return false;
        }
    }

    private static boolean speaksTls(String host, int port, int connectMs, int readMs) {
        boolean[] shown = new boolean[1];
        javax.net.ssl.X509TrustManager tell = new javax.net.ssl.X509TrustManager() {
            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType) {
                throw new UnsupportedOperationException("client side only");
            }

            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType) {
                shown[0] = true;
            }

            @Override
            public X509Certificate[] getAcceptedIssuers() {
                return new X509Certificate[0];
            }
        };
        try (java.net.Socket raw = new java.net.Socket()) {
            raw.connect(new java.net.InetSocketAddress(host, port), connectMs);
            raw.setSoTimeout(readMs);
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(null, new javax.net.ssl.TrustManager[] {tell}, null);
            try (javax.net.ssl.SSLSocket s = (javax.net.ssl.SSLSocket) ctx.getSocketFactory().createSocket(raw, host, port, false)) {
                s.startHandshake();
            }
        } catch (java.io.IOException | GeneralSecurityException | RuntimeException e) {
            // A failure after the server showed its certificate (a client certificate required) still tells.
        }
        return shown[0];
    }

    /**
     * A socket factory that trusts the certificates in {@code trusted} (or, if null, the JVM's trust store) and,
     * if {@code certificate} is set, presents it with {@code key}.
     */
    public static SSLSocketFactory socketFactory(Path trusted, Path certificate, Path key) {
        try {
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            if (trusted == null) {
                tmf.init((KeyStore) null);
            } else {
                KeyStore store = KeyStore.getInstance("PKCS12");
                store.load(null, null);
                int i = 0;
                for (X509Certificate cert : certificates("trustedCertificates", trusted)) {
                    store.setCertificateEntry("ca-" + i++, cert);
                }
                tmf.init(store);
            }
            KeyManagerFactory kmf = null;
            if (certificate != null) {
                List<X509Certificate> chain = certificates("clientCertificate", certificate);
                PrivateKey privateKey = privateKey(key);
                if (!matches(privateKey, chain.get(0))) {
                    throw new IllegalArgumentException("clientCertificate key " + key + " does not belong to the certificate "
                            + certificate + " (the first certificate in the file must be the client's own)");
                }
                KeyStore store = KeyStore.getInstance("PKCS12");
                store.load(null, null);
                char[] none = new char[0];
                store.setKeyEntry("client", privateKey, none, chain.toArray(new Certificate[0]));
                kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
                kmf.init(store, none);
            }
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(kmf == null ? null : kmf.getKeyManagers(), tmf.getTrustManagers(), null);
            return ctx.getSocketFactory();
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalArgumentException("cannot set up TLS from " + (trusted != null ? trusted : "")
                    + (certificate != null ? " " + certificate : "") + ": " + e.getMessage(), e);
        }
    }

    /** The X.509 certificates of a PEM file; at least one, else an {@link IllegalArgumentException}. */
    static List<X509Certificate> certificates(String setting, Path file) {
        String text = read(setting, file);
        if (!text.contains("-----BEGIN CERTIFICATE-----")) {
            throw new IllegalArgumentException(setting + " file " + file + " holds no PEM certificate"
                    + " (no '-----BEGIN CERTIFICATE-----' line)" + (text.contains("PRIVATE KEY") ? "; it holds a private key" : ""));
        }
        try {
            Collection<? extends Certificate> certs = CertificateFactory.getInstance("X.509")
                    .generateCertificates(new ByteArrayInputStream(text.getBytes(StandardCharsets.US_ASCII)));
            List<X509Certificate> out = new ArrayList<>();
            for (Certificate c : certs) {
                out.add((X509Certificate) c);
            }
            if (out.isEmpty()) {
                throw new CertificateException("no certificate found");
            }
            return out;
        } catch (CertificateException e) {
            throw new IllegalArgumentException(setting + " file " + file + " is not a valid PEM certificate file: "
                    + e.getMessage(), e);
        }
    }

    /** An unencrypted PKCS#8 ({@code BEGIN PRIVATE KEY}) or PKCS#1 RSA ({@code BEGIN RSA PRIVATE KEY}) key. */
    static PrivateKey privateKey(Path file) {
        String text = read("clientKey", file);
        String convert = "; convert it with 'openssl pkcs8 -topk8 -nocrypt -in " + file + " -out client-pkcs8.key'";
        if (text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") || text.contains("Proc-Type: 4,ENCRYPTED")) {
            throw new IllegalArgumentException("clientKey file " + file + " is encrypted; Spillway reads unencrypted keys"
                    + " only (or pass your own sslSocketFactory)" + convert);
        }
        byte[] der;
        boolean pkcs1 = false;
        if (text.contains("-----BEGIN PRIVATE KEY-----")) {
            der = pemBody(text, "PRIVATE KEY", file);
        } else if (text.contains("-----BEGIN RSA PRIVATE KEY-----")) {
            der = pkcs1ToPkcs8(pemBody(text, "RSA PRIVATE KEY", file));
            pkcs1 = true;
        } else {
            throw new IllegalArgumentException("clientKey file " + file + " holds no PEM private key ('-----BEGIN PRIVATE KEY-----'"
                    + " or '-----BEGIN RSA PRIVATE KEY-----')" + (text.contains("BEGIN CERTIFICATE") ? "; it holds a certificate" : "")
                    + (text.contains("BEGIN EC PRIVATE KEY") ? convert : ""));
        }
        for (String algorithm : pkcs1 ? List.of("RSA") : List.of("RSA", "EC", "Ed25519", "Ed448", "RSASSA-PSS", "DSA")) {
            try {
                return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(der));
            } catch (InvalidKeySpecException | java.security.NoSuchAlgorithmException | ClassCastException e) {
                // Try the next algorithm.
            }
        }
        throw new IllegalArgumentException("clientKey file " + file + " holds a private key of a kind this JVM cannot read");
    }

    private static boolean matches(PrivateKey key, X509Certificate cert) {
        String algorithm = switch (key.getAlgorithm()) {
            case "RSA" -> "SHA256withRSA";
            case "EC" -> "SHA256withECDSA";
            case "Ed25519", "EdDSA" -> "Ed25519";
            case "Ed448" -> "Ed448";
            default -> null;
        };
        if (algorithm == null) {
            return true; // cannot check here; the handshake will tell
        }
        try {
            byte[] data = "spillway".getBytes(StandardCharsets.US_ASCII);
            Signature s = Signature.getInstance(algorithm);
            s.initSign(key);
            s.update(data);
            byte[] sig = s.sign();
            Signature v = Signature.getInstance(algorithm);
            v.initVerify(cert.getPublicKey());
            v.update(data);
            return v.verify(sig);
        } catch (GeneralSecurityException | RuntimeException e) {
            return false;
        }
    }

    private static String read(String setting, Path file) {
        if (!Files.exists(file)) {
            throw new IllegalArgumentException(setting + " file does not exist: " + file.toAbsolutePath());
        }
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException(setting + " is not a regular file: " + file.toAbsolutePath());
        }
        if (!Files.isReadable(file)) {
            throw new IllegalArgumentException(setting + " file is not readable (permission denied): " + file.toAbsolutePath());
        }
        try {
            return Files.readString(file, StandardCharsets.ISO_8859_1);
        } catch (IOException e) {
            throw new IllegalArgumentException(setting + " file cannot be read: " + file.toAbsolutePath() + " ("
                    + Failures.describeFile(e) + ")", e);
        }
    }

    private static byte[] pemBody(String text, String type, Path file) {
        String begin = "-----BEGIN " + type + "-----";
        String end = "-----END " + type + "-----";
        int from = text.indexOf(begin);
        int to = text.indexOf(end, from);
        if (from < 0 || to < 0) {
            throw new IllegalArgumentException("clientKey file " + file + " has no '" + end + "' line");
        }
        try {
            return Base64.getMimeDecoder().decode(text.substring(from + begin.length(), to).trim());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("clientKey file " + file + " is not valid PEM (bad base64)", e);
        }
    }

    /** Wraps a PKCS#1 RSAPrivateKey in a PKCS#8 PrivateKeyInfo (version 0, rsaEncryption, NULL). */
    private static byte[] pkcs1ToPkcs8(byte[] pkcs1) {
        byte[] algorithm = {0x30, 0x0d, 0x06, 0x09, 0x2a, (byte) 0x86, 0x48, (byte) 0x86, (byte) 0xf7, 0x0d, 0x01, 0x01, 0x01,
            0x05, 0x00};
        byte[] version = {0x02, 0x01, 0x00};
        byte[] octets = der(0x04, pkcs1);
        byte[] body = new byte[version.length + algorithm.length + octets.length];
        System.arraycopy(version, 0, body, 0, version.length);
        System.arraycopy(algorithm, 0, body, version.length, algorithm.length);
        System.arraycopy(octets, 0, body, version.length + algorithm.length, octets.length);
        return der(0x30, body);
    }

    private static byte[] der(int tag, byte[] content) {
        int n = content.length;
        byte[] len = n < 0x80 ? new byte[] {(byte) n}
                : n < 0x100 ? new byte[] {(byte) 0x81, (byte) n}
                : n < 0x10000 ? new byte[] {(byte) 0x82, (byte) (n >> 8), (byte) n}
                : new byte[] {(byte) 0x83, (byte) (n >> 16), (byte) (n >> 8), (byte) n};
        byte[] out = new byte[1 + len.length + n];
        out[0] = (byte) tag;
        System.arraycopy(len, 0, out, 1, len.length);
        System.arraycopy(content, 0, out, 1 + len.length, n);
        return out;
    }
}
