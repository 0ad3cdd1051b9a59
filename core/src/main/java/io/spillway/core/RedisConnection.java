package io.spillway.core;

import io.spillway.core.internal.Tls;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import javax.net.ssl.HostnameVerifier;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocketFactory;
import java.util.ArrayList;
import java.util.List;

/**
 * Where Redis is and how long to wait for it. Immutable; build with {@link #builder(URI)} or take the
 * defaults with {@link #of(URI)}.
 *
 * <p>URIs: {@code redis://host:port}, {@code rediss://host:port} (TLS), {@code redis://user:password@host:port},
 * {@code redis://:password@host:port}, and an optional database number as the path ({@code /2}).
 *
 * A URI with a query or a fragment ({@code ?timeout=5}) is refused: settings are made with the builder, not the URI.
 *
 * <p>TLS ({@code rediss://}). Defaults: the JVM's trust store ({@code javax.net.ssl.trustStore}, else the JDK's
 * {@code cacerts}), the host name of the URI checked against the server certificate (endpoint identification
 * {@code HTTPS}: an IP address must be among its IP subject alternative names), no client certificate. The builder
 * changes these with JDK types only:
 * <ul>
 *   <li>{@link Builder#trustedCertificates(Path)}: trust the CA certificate(s) of a PEM file (a private CA),
 *       <em>instead of</em> the JVM's trust store;</li>
 *   <li>{@link Builder#clientCertificate(Path, Path)}: present a client certificate (PEM) and its unencrypted key
 *       (PKCS#8 or PKCS#1 RSA PEM), for a Redis with {@code tls-auth-clients yes} (Redis's default);</li>
 *   <li>{@link Builder#sslSocketFactory(SSLSocketFactory)}: full control (key stores, providers, encrypted keys);
 *       it cannot be combined with the two above;</li>
 *   <li>{@link Builder#sslParameters(SSLParameters)}: protocols, cipher suites, SNI …; used as given, except that
 *       an endpoint identification algorithm left unset becomes {@code HTTPS} unless a host name verifier is set;</li>
 *   <li>{@link Builder#hostnameVerifier(HostnameVerifier)}: checks the host name in place of endpoint
 *       identification (a verifier that accepts every name turns the check off).</li>
 * </ul>
 * The files are read, checked and turned into a socket factory by {@link Builder#build()}: a missing or
 * unreadable file, one without a certificate, or a key that does not belong to the certificate fails there. A
 * TLS option on a {@code redis://} or {@code redis-sentinel://} URI is an {@link IllegalArgumentException} (it would
 * be silently ignored).
 * A TLS failure while connecting (untrusted certificate, host name mismatch, client certificate required or
 * refused, TLS against a plain port or the reverse) is logged as one ERROR line naming the cause; producers
 * spool and keep probing, as for refused credentials (see docs/operations.md).
 *
 * <pre>{@code
 * RedisConnection redis = RedisConnection.builder(URI.create("rediss://redis.internal:6380"))
 *         .trustedCertificates(Path.of("/etc/spillway/redis-ca.pem"))
 *         .clientCertificate(Path.of("/etc/spillway/client.pem"), Path.of("/etc/spillway/client.key"))
 *         .build();
 * }</pre>
 *
 * <p>Redis Sentinel: {@code redis-sentinel://[[user:]password@]host1[:26379][,host2[:port]...][/db]#masterName} (the
 * Lettuce form), or {@link #sentinelBuilder(String, String...)}. The hosts are the sentinels (port
 * {@value #DEFAULT_SENTINEL_PORT} by default), the fragment names the master they watch; the URI's credentials and
 * database are the master's. The sentinels' own credentials, which often differ, are set with
 * {@link Builder#sentinelCredentials(String, String)} (default: none). Every connection then goes to the master
 * the sentinels name at that moment, and follows it through a failover. A sentinel with an IPv6 address is written in
 * brackets, {@code redis-sentinel://[::1]:26379,[fe80::1%25eth0]:26380#mymaster}; {@link URI} cannot hold more than
 * one of those, so give such a URI as text ({@link #builder(String)}, {@link #of(String)}).
 *
 * <p>Sentinel with TLS: {@code rediss-sentinel://…#masterName} (also Lettuce's form), or
 * {@link #sentinelBuilder(String, String...)} with {@link Builder#tls(boolean) tls(true)}. TLS then covers every
 * connection, to the sentinels and to the master and replicas they name, with one set of the TLS options above (the
 * usual deployment: one CA, {@code tls-port} on servers and sentinels alike). The host name checked against a
 * master's certificate is the address the sentinels give for it: an IP address, unless the sentinels announce host
 * names ({@code sentinel resolve-hostnames yes} and {@code sentinel announce-hostnames yes}).
 *
 * <pre>{@code
 * RedisConnection redis = RedisConnection.builder("rediss-sentinel://s1:26379,s2:26379,s3:26379#mymaster")
 *         .trustedCertificates(Path.of("/etc/spillway/redis-ca.pem"))
 *         .sentinelCredentials(null, sentinelPassword)
 *         .build();
 * }</pre>
 *
 * <p>Redis Cluster: {@code redis-cluster://[[user:]password@]host1[:6379][,host2[:port]...]} (TLS:
 * {@code rediss-cluster://}), or {@link #clusterBuilder(String...)}. The hosts are some of the cluster's nodes (any
 * of them: the others and the slot map are learned from the first that answers); credentials and TLS options are
 * those of every node; a cluster has database 0 only. All keys of a queue share one hash tag, so each queue lives
 * in one slot (docs/redis-keys.md).
 *
 * <p>The timeouts are short on purpose: a hung Redis must not hold a caller for long. Defaults:
 * connect {@value #DEFAULT_CONNECT_TIMEOUT_MS} ms, socket (one command) {@value #DEFAULT_SOCKET_TIMEOUT_MS} ms;
 * each must be a whole number of milliseconds from 1 ms to {@value #MAX_TIMEOUT_MS} ms (an hour).
 *
 * <pre>{@code
 * RedisConnection redis = RedisConnection.builder(URI.create("redis://10.0.0.5:6379"))
 *         .socketTimeout(Duration.ofMillis(300))
 *         .build();
 * }</pre>
 */
public final class RedisConnection {
    public static final int DEFAULT_CONNECT_TIMEOUT_MS = 500;
    public static final int DEFAULT_SOCKET_TIMEOUT_MS = 200;
    public static final int DEFAULT_PORT = 6379;
    /** The port of a sentinel address that names none. */
    public static final int DEFAULT_SENTINEL_PORT = 26379;
    private static final String SENTINEL_SCHEME = "redis-sentinel";
    private static final String TLS_SENTINEL_SCHEME = "rediss-sentinel";
    private static final String CLUSTER_SCHEME = "redis-cluster";
    private static final String TLS_CLUSTER_SCHEME = "rediss-cluster";
    /** The longest connect or socket timeout accepted: an hour. */
    public static final int MAX_TIMEOUT_MS = 3_600_000;

    private final URI uri;
    private final String host;
    private final int port;
    private final String user;
    private final String password;
    private final int database;
    private final boolean ssl;
    private final Duration connectTimeout;
    private final Duration socketTimeout;
    private final String clientName;
    private final SSLSocketFactory sslSocketFactory;
    private final SSLParameters sslParameters;
    private final HostnameVerifier hostnameVerifier;
    private final Path trustedCertificates;
    private final Path clientCertificate;
    private final String masterName;
    private final List<InetSocketAddress> sentinels;
    private final List<InetSocketAddress> clusterNodes;
    private final String sentinelUser;
    private final String sentinelPassword;

    private RedisConnection(Builder b, boolean ssl, URI uri, SSLSocketFactory sslSocketFactory, SSLParameters sslParameters) {
        this.uri = uri;
        this.masterName = b.sentinel == null ? null : b.sentinel.masterName;
        this.sentinels = b.sentinel == null || b.sentinel.masterName == null ? List.of() : b.sentinel.sentinels;
        this.clusterNodes = b.sentinel == null || b.sentinel.masterName != null ? List.of() : b.sentinel.sentinels;
        this.sentinelUser = b.sentinelUser;
        this.sentinelPassword = b.sentinelPassword;
        this.host = b.sentinel == null ? b.uri.getHost() : b.sentinel.sentinels.get(0).getHostString();
        this.port = b.sentinel == null ? (b.uri.getPort() == -1 ? DEFAULT_PORT : b.uri.getPort())
                : b.sentinel.sentinels.get(0).getPort();
        // Split before decoding (a %3A in the password is a colon of the password), then decode %xx only: a '+'
        // is a plus (URLDecoder alone would make it a space, and base64 passwords are full of them).
        String userInfo = b.sentinel == null ? b.uri.getRawUserInfo() : b.sentinel.rawUserInfo;
        String u = null;
        String p = null;
        if (userInfo != null && !userInfo.isEmpty()) {
            int colon = userInfo.indexOf(':');
            if (colon < 0) {
                p = decode(userInfo);
            } else {
                u = colon == 0 ? null : decode(userInfo.substring(0, colon));
                p = decode(userInfo.substring(colon + 1));
            }
        }
        if (b.credentialsSet) {
            u = b.user;
            p = b.password;
        }
        this.user = u;
        this.password = p;
        this.database = b.database;
        this.ssl = ssl;
        this.connectTimeout = b.connectTimeout;
        this.socketTimeout = b.socketTimeout;
        this.clientName = b.clientName;
        this.sslSocketFactory = sslSocketFactory;
        this.sslParameters = sslParameters;
        this.hostnameVerifier = b.hostnameVerifier;
        this.trustedCertificates = b.trustedCertificates;
        this.clientCertificate = b.clientCertificate;
    }

    private static String decode(String s) {
        return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
    }

    /** {@code uri} for an error message: its user information (which may hold a password) masked. */
    static String withoutPassword(URI uri) {
        return withoutPassword(uri.toString());
    }

    /** {@link #withoutPassword(URI)} of a URI's text, which may not even be a valid URI. */
    static String withoutPassword(String s) {
        // By the text, not by the parsed parts: a URI that did not parse as meant (a '#' or '/' in the password) has
        // its password somewhere before the last '@'.
        // Without "//" (redis:u:pw@host) the credentials start after the scheme's colon.
        int slashes = s.indexOf("//");
        int colon = s.indexOf(':');
        int start = slashes >= 0 ? slashes + 2 : colon >= 0 ? colon + 1 : 0;
        int at = s.lastIndexOf('@');
        String out = at > start ? s.substring(0, start) + "***" + s.substring(at) : s;
        // And a password given as a query parameter (redis-py's ?password=…, Lettuce's ?sentinelPassword=…), never read
        // by Spillway but shown back in its error.
        return out.replaceAll("(?i)([?&][a-z_]*pass(word)?=)[^&#]*", "$1***");
    }

    /** A connection with every default. */
    public static RedisConnection of(URI uri) {
        return builder(uri).build();
    }

    public static Builder builder(URI uri) {
        if (uri == null) {
            throw new IllegalArgumentException("redis URI must not be null");
        }
        return new Builder(uri, uri.toString());
    }

    /** {@link #of(URI)} from the URI's text; see {@link #builder(String)}. */
    public static RedisConnection of(String uri) {
        return builder(uri).build();
    }

    /**
     * {@link #builder(URI)} from the URI's text. The same for every URI that {@link URI} can hold, and the way to give
     * several sentinels of which one or more have an IPv6 address: {@link URI} refuses
     * {@code redis-sentinel://[::1]:26379,[::2]:26379#m} (an authority that is neither one host nor free of brackets).
     *
     * @throws IllegalArgumentException for text that is not a URI, with the password masked
     */
    public static Builder builder(String uri) {
        if (uri == null) {
            throw new IllegalArgumentException("redis URI must not be null");
        }
        if (isMultiHostScheme(schemeOf(uri))) {
            return new Builder(null, uri);
        }
        try {
            return new Builder(new URI(uri), uri);
        } catch (java.net.URISyntaxException e) {
            throw new IllegalArgumentException("redis URI is not a valid URI: '" + withoutPassword(uri) + "' (" + e.getReason()
                    + " at index " + e.getIndex() + ")");
        }
    }

    private static String schemeOf(String uri) {
        int colon = uri.indexOf(':');
        return colon < 0 ? "" : uri.substring(0, colon);
    }

    private static boolean isSentinelScheme(String scheme) {
        return SENTINEL_SCHEME.equals(scheme) || TLS_SENTINEL_SCHEME.equals(scheme);
    }

    private static boolean isClusterScheme(String scheme) {
        return CLUSTER_SCHEME.equals(scheme) || TLS_CLUSTER_SCHEME.equals(scheme);
    }

    /** A scheme whose authority lists several hosts: Sentinel or Cluster. */
    private static boolean isMultiHostScheme(String scheme) {
        return isSentinelScheme(scheme) || isClusterScheme(scheme);
    }

    /**
     * A builder for a Redis Cluster: one or more of its nodes, {@code host[:port]} (port {@value #DEFAULT_PORT} if
     * none; an IPv6 address in brackets), from which the rest of the cluster and its slot map are learned. The same as
     * {@code builder("redis-cluster://host1:port1,host2:port2")}; {@link Builder#tls(boolean)} turns on TLS
     * ({@code rediss-cluster://}).
     *
     * @throws IllegalArgumentException for no address, or an address that is not {@code host[:port]}, naming it
     */
    public static Builder clusterBuilder(String... nodeAddresses) {
        if (nodeAddresses == null || nodeAddresses.length == 0) {
            throw new IllegalArgumentException("at least one cluster node address is needed, but none was given");
        }
        return new Builder(null, CLUSTER_SCHEME + "://" + addressList("cluster node", nodeAddresses));
    }

    private static String addressList(String what, String... addresses) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < addresses.length; i++) {
            String a = addresses[i];
            if (a == null || a.isBlank() || a.contains(",") || a.contains("/") || a.contains("#") || a.contains("@")
                    || a.contains("?")) {
                throw new IllegalArgumentException(what + " address must be host[:port], but was '" + a + "'");
            }
            String address = a.trim();
            int zone = address.indexOf('%');
            if (address.startsWith("[") && zone > 0 && !address.startsWith("25", zone + 1)) {
                address = address.substring(0, zone) + "%25" + address.substring(zone + 1); // the URI form of a zone
            }
            s.append(i == 0 ? "" : ",").append(address);
        }
        return s.toString();
    }

    /**
     * A builder for a Redis watched by Sentinel: {@code masterName} as the sentinels know it, and one or more
     * sentinel addresses {@code host[:port]} (port {@value #DEFAULT_SENTINEL_PORT} if none; an IPv6 address in
     * brackets, {@code [::1]:26379}, with a zone as {@code [fe80::1%eth0]} or, as in a URI, {@code [fe80::1%25eth0]}).
     * The same as {@code builder("redis-sentinel://host1:port1,host2:port2#masterName")}; {@link Builder#tls(boolean)}
     * turns on TLS ({@code rediss-sentinel://}).
     *
     * @throws IllegalArgumentException for a blank master name, no address, or an address that is not
     *     {@code host[:port]}, naming it
     */
    public static Builder sentinelBuilder(String masterName, String... sentinelAddresses) {
        if (masterName == null || masterName.isBlank()) {
            throw new IllegalArgumentException("sentinel master name must not be blank, but was '" + masterName + "'");
        }
        if (sentinelAddresses == null || sentinelAddresses.length == 0) {
            throw new IllegalArgumentException("at least one sentinel address is needed, but none was given");
        }
        StringBuilder s = new StringBuilder(SENTINEL_SCHEME).append("://").append(addressList("sentinel", sentinelAddresses));
        s.append('#').append(URLEncoderLite.encode(masterName));
        return new Builder(null, s.toString());
    }

    /** Percent-encodes what a URI fragment cannot hold as is. */
    private static final class URLEncoderLite {
        static String encode(String s) {
            StringBuilder out = new StringBuilder();
            for (byte c : s.getBytes(StandardCharsets.UTF_8)) {
                int ch = c & 0xff;
                if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || "-._~".indexOf(ch) >= 0) {
                    out.append((char) ch);
                } else {
                    out.append('%').append(String.format("%02X", ch));
                }
            }
            return out.toString();
        }
    }

    /** True for a Redis found through Sentinel ({@code redis-sentinel://}, {@code rediss-sentinel://}). */
    public boolean sentinel() {
        return masterName != null;
    }

    /** The name of the master the sentinels watch, or null for a standalone Redis. */
    public String masterName() {
        return masterName;
    }

    /** The sentinels' addresses (unresolved), in the order given; empty for a standalone Redis. */
    public List<InetSocketAddress> sentinels() {
        return sentinels;
    }

    /** True for a Redis Cluster ({@code redis-cluster://}, {@code rediss-cluster://}). */
    public boolean cluster() {
        return !clusterNodes.isEmpty();
    }

    /** The cluster nodes given (unresolved), in the order given: the seeds the slot map is learned from; else empty. */
    public List<InetSocketAddress> clusterNodes() {
        return clusterNodes;
    }

    /** The ACL user for the sentinels, or null. */
    public String sentinelUser() {
        return sentinelUser;
    }

    /** The password for the sentinels, or null. Never logged. */
    public String sentinelPassword() {
        return sentinelPassword;
    }

    /**
     * The URI as given (its scheme as {@link Builder#tls(boolean)} made it). A Sentinel URI given as text that
     * {@link URI} cannot hold (several IPv6 sentinels) has the brackets percent-encoded here,
     * {@code redis-sentinel://%5B::1%5D:26379,%5B::2%5D:26379#m}, which {@link #builder(URI)} reads back as the same.
     */
    public URI uri() {
        return uri;
    }

    /**
     * The Redis host; for a Sentinel connection the first sentinel's (the master is found through the sentinels), for
     * a Cluster the first node's.
     */
    public String host() {
        return host;
    }

    public int port() {
        return port;
    }

    /** The ACL user, or null for the default user. */
    public String user() {
        return user;
    }

    /** The password, or null. Never logged. */
    public String password() {
        return password;
    }

    public int database() {
        return database;
    }

    /** True for TLS ({@code rediss://}, {@code rediss-sentinel://}, or {@link Builder#tls(boolean) tls(true)}). */
    public boolean ssl() {
        return ssl;
    }

    public Duration connectTimeout() {
        return connectTimeout;
    }

    public Duration socketTimeout() {
        return socketTimeout;
    }

    public String clientName() {
        return clientName;
    }

    /**
     * The socket factory TLS connections use: the one given to the builder, or one built from
     * {@link Builder#trustedCertificates} / {@link Builder#clientCertificate}; null for the JVM's default (and for
     * {@code redis://}).
     */
    public SSLSocketFactory sslSocketFactory() {
        return sslSocketFactory;
    }

    /**
     * A copy of the SSL parameters TLS connections use (see the class comment for the endpoint identification
     * rule); null for {@code redis://}.
     */
    public SSLParameters sslParameters() {
        return sslParameters == null ? null : copy(sslParameters);
    }

    /** The host name verifier, or null (then endpoint identification checks the host name). */
    public HostnameVerifier hostnameVerifier() {
        return hostnameVerifier;
    }

    /** The PEM file of trusted CA certificates, or null (the JVM's trust store, or the socket factory's). */
    public Path trustedCertificates() {
        return trustedCertificates;
    }

    /** The client certificate's PEM file, or null. */
    public Path clientCertificate() {
        return clientCertificate;
    }

    private static SSLParameters copy(SSLParameters p) {
        SSLParameters c = new SSLParameters(p.getCipherSuites(), p.getProtocols());
        c.setEndpointIdentificationAlgorithm(p.getEndpointIdentificationAlgorithm());
        c.setAlgorithmConstraints(p.getAlgorithmConstraints());
        if (p.getServerNames() != null) {
            c.setServerNames(p.getServerNames());
        }
        if (p.getSNIMatchers() != null) {
            c.setSNIMatchers(p.getSNIMatchers());
        }
        c.setUseCipherSuitesOrder(p.getUseCipherSuitesOrder());
        c.setEnableRetransmissions(p.getEnableRetransmissions());
        c.setMaximumPacketSize(p.getMaximumPacketSize());
        c.setApplicationProtocols(p.getApplicationProtocols());
        return c;
    }

    /** The URI without its password, for logs. */
    public String redacted() {
        if (cluster()) {
            StringBuilder s = new StringBuilder(ssl ? TLS_CLUSTER_SCHEME : CLUSTER_SCHEME).append("://")
                    .append(user != null ? user + "@" : "");
            for (int i = 0; i < clusterNodes.size(); i++) {
                s.append(i == 0 ? "" : ",").append(shown(clusterNodes.get(i)));
            }
            return s.toString();
        }
        if (sentinel()) {
            StringBuilder s = new StringBuilder(ssl ? TLS_SENTINEL_SCHEME : SENTINEL_SCHEME).append("://")
                    .append(user != null ? user + "@" : "");
            for (int i = 0; i < sentinels.size(); i++) {
                s.append(i == 0 ? "" : ",").append(shown(sentinels.get(i)));
            }
            return s.append(database != 0 ? "/" + database : "").append('#').append(masterName).toString();
        }
        return (ssl ? "rediss" : "redis") + "://" + (user != null ? user + "@" : "") + host + ":" + port
                + (database != 0 ? "/" + database : "");
    }

    @Override
    public String toString() {
        return redacted();
    }

    /** {@code host:port}, an IPv6 address in brackets with its zone as in a URI ({@code [fe80::1%25eth0]:26379}). */
    private static String shown(InetSocketAddress a) {
        String h = a.getHostString();
        return (h.contains(":") ? "[" + h.replace("%", "%25") + "]" : h) + ":" + a.getPort();
    }

    /** Builds a {@link RedisConnection}. Setters fail fast on bad values. */
    public static final class Builder {
        private final URI uri;
        private int database;
        /** Null: as the scheme says. */
        private Boolean tls;
        private final SentinelUri sentinel;
        private boolean credentialsSet;
        private String user;
        private String password;
        private String sentinelUser;
        private String sentinelPassword;
        private Duration connectTimeout = Duration.ofMillis(DEFAULT_CONNECT_TIMEOUT_MS);
        private Duration socketTimeout = Duration.ofMillis(DEFAULT_SOCKET_TIMEOUT_MS);
        private String clientName = "spillway";
        private SSLSocketFactory sslSocketFactory;
        private SSLParameters sslParameters;
        private HostnameVerifier hostnameVerifier;
        private Path trustedCertificates;
        private Path clientCertificate;
        private Path clientKey;

        /**
         * {@code uri} is null for a Sentinel or Cluster URI given as text (which {@link URI} may not be able to hold).
         */
        private Builder(URI uri, String text) {
            String scheme = uri != null ? uri.getScheme() : schemeOf(text);
            if (isMultiHostScheme(scheme)) {
                this.sentinel = SentinelUri.parse(text, isClusterScheme(scheme));
                this.uri = uri != null ? uri : SentinelUri.asUri(text);
                this.database = sentinel.database;
                return;
            }
            this.sentinel = null;
            if (!"redis".equals(scheme) && !"rediss".equals(scheme)) {
                throw new IllegalArgumentException("redis URI must start with redis://, rediss://, redis-sentinel://,"
                        + " rediss-sentinel://, redis-cluster:// or rediss-cluster://, but was '"
                        + withoutPassword(uri) + "'");
            }
            if (uri.getHost() == null || uri.getHost().isBlank()) {
                String authority = uri.getRawAuthority();
                String hostPort = authority == null ? "" : authority.substring(authority.lastIndexOf('@') + 1);
                int colon = hostPort.lastIndexOf(':');
                // An '@' after the authority: a password with a '/' or '#' in it cut the authority short ("u:pass"),
                // which must not be shown as a port.
                boolean cutPassword = authority != null && !authority.contains("@") && uri.toString().indexOf('@') >= 0;
                if (!cutPassword && colon > 0 && colon > hostPort.lastIndexOf(']')
                        && !hostPort.substring(colon + 1).matches("\\d*")) {
                    // java.net.URI finds no host when the port is not a number: say what is wrong.
                    throw new IllegalArgumentException("redis URI port must be a number 1-65535, but was '"
                            + hostPort.substring(colon + 1) + "' in '" + withoutPassword(uri) + "'");
                }
                throw new IllegalArgumentException("redis URI must name a host, but was '" + withoutPassword(uri) + "'"
                        + (authority != null && authority.indexOf('@') != authority.lastIndexOf('@')
                                ? " (an '@' in the user or password must be written %40)"
                                : authority != null && authority.contains("_")
                                ? " (an underscore is not allowed in a URI host name; use the host's IP address or another name)"
                                : ""));
            }
            if (uri.getPort() != -1 && (uri.getPort() < 1 || uri.getPort() > 65_535)) {
                throw new IllegalArgumentException("redis URI port must be 1-65535, but was " + uri.getPort());
            }
            if (uri.getRawQuery() != null || uri.getRawFragment() != null) {
                throw new IllegalArgumentException("redis URI must not have a query or fragment (settings such as timeouts"
                        + " are made with RedisConnection.builder(uri)), but was '" + withoutPassword(uri) + "'");
            }
            String path = uri.getPath();
            int db = 0;
            if (path != null && path.length() > 1) {
                try {
                    db = Integer.parseInt(path.substring(1));
                } catch (NumberFormatException e) {
                    db = -1;
                }
                if (db < 0) {
                    throw new IllegalArgumentException("redis URI database must be a number >= 0, but was '"
                            + path.substring(1) + "'");
                }
            }
            this.uri = uri;
            this.database = db;
        }

        /**
         * TLS on or off, in place of what the URI's scheme says ({@code rediss://} and {@code rediss-sentinel://} are
         * TLS): {@code RedisConnection.sentinelBuilder("mymaster", "s1:26379").tls(true)} is
         * {@code rediss-sentinel://s1:26379#mymaster}. For Sentinel it covers the sentinels and the master alike.
         */
        public Builder tls(boolean on) {
            this.tls = on;
            return this;
        }

        public Builder connectTimeout(Duration timeout) {
            this.connectTimeout = timeout("connectTimeout", timeout);
            return this;
        }

        public Builder socketTimeout(Duration timeout) {
            this.socketTimeout = timeout("socketTimeout", timeout);
            return this;
        }

        /** The name each connection gives itself with {@code CLIENT SETNAME}, seen in {@code CLIENT LIST} (default: {@code spillway}). */
        public Builder clientName(String name) {
            if (name == null || name.isBlank() || name.contains(" ")) {
                throw new IllegalArgumentException("clientName must be non-blank without spaces, but was '" + name + "'");
            }
            this.clientName = name;
            return this;
        }

        /**
         * Trusts the CA certificate(s) in a PEM file ({@code -----BEGIN CERTIFICATE-----} blocks; a bundle may
         * hold several) instead of the JVM's trust store: for a Redis whose certificate a private CA signed.
         * Read and checked by {@link #build()}. Needs {@code rediss://}; not with {@link #sslSocketFactory}.
         */
        public Builder trustedCertificates(Path pem) {
            this.trustedCertificates = requireFile("trustedCertificates", pem);
            return this;
        }

        /**
         * Presents a client certificate, for a Redis with {@code tls-auth-clients yes} (Redis's default) or
         * {@code optional}: {@code certificatePem} holds the client certificate first (then any intermediates),
         * {@code keyPem} its unencrypted private key ({@code BEGIN PRIVATE KEY} or {@code BEGIN RSA PRIVATE KEY}).
         * Read and checked (the key must belong to the certificate) by {@link #build()}. Needs {@code rediss://};
         * not with {@link #sslSocketFactory}.
         */
        public Builder clientCertificate(Path certificatePem, Path keyPem) {
            this.clientCertificate = requireFile("clientCertificate", certificatePem);
            this.clientKey = requireFile("clientKey", keyPem);
            return this;
        }

        /**
         * The socket factory for TLS connections, for full control (your own key and trust managers, e.g. from a
         * PKCS#12 key store). Default: the JVM's ({@code SSLSocketFactory.getDefault()}). Needs {@code rediss://};
         * not with {@link #trustedCertificates} or {@link #clientCertificate}.
         */
        public Builder sslSocketFactory(SSLSocketFactory factory) {
            if (factory == null) {
                throw new IllegalArgumentException("sslSocketFactory must not be null");
            }
            this.sslSocketFactory = factory;
            return this;
        }

        /**
         * SSL parameters for TLS connections (protocols, cipher suites, SNI …), copied. An unset endpoint
         * identification algorithm becomes {@code HTTPS} (the host name is checked) unless a
         * {@link #hostnameVerifier} is set. Default: the JVM's defaults with endpoint identification {@code HTTPS}.
         * Needs {@code rediss://}.
         */
        public Builder sslParameters(SSLParameters parameters) {
            if (parameters == null) {
                throw new IllegalArgumentException("sslParameters must not be null");
            }
            this.sslParameters = copy(parameters);
            return this;
        }

        /**
         * The master's credentials, replacing any in the URI: {@code user} null for the default user, {@code password}
         * null for none. For a Sentinel connection these are the master's (and its replicas'), not the sentinels'.
         */
        public Builder credentials(String user, String password) {
            if (user != null && user.isBlank()) {
                throw new IllegalArgumentException("user must be null or non-blank, but was '" + user + "'");
            }
            this.credentialsSet = true;
            this.user = user;
            this.password = password;
            return this;
        }

        /** The database number, replacing the URI's ({@code /db}); default 0. */
        public Builder database(int database) {
            if (database < 0) {
                throw new IllegalArgumentException("database must be >= 0, but was " + database);
            }
            if (database != 0 && sentinel != null && sentinel.masterName == null) {
                throw new IllegalArgumentException("a Redis Cluster has database 0 only, but database was " + database);
            }
            this.database = database;
            return this;
        }

        /**
         * Credentials for the sentinels themselves (Sentinel's {@code requirepass} / ACL user), which often differ
         * from the master's: {@code user} null for the default user. Default: none. Only for a Sentinel connection.
         */
        public Builder sentinelCredentials(String user, String password) {
            if (sentinel == null || sentinel.masterName == null) {
                throw new IllegalArgumentException("sentinelCredentials need a redis-sentinel:// connection, but the URI was '"
                        + withoutPassword(uri) + "'");
            }
            if (user != null && user.isBlank()) {
                throw new IllegalArgumentException("sentinel user must be null or non-blank, but was '" + user + "'");
            }
            this.sentinelUser = user;
            this.sentinelPassword = password;
            return this;
        }

        /**
         * Checks the server's host name after the handshake, in place of endpoint identification (which is then
         * not added). Default: none (endpoint identification {@code HTTPS}). Needs {@code rediss://}.
         */
        public Builder hostnameVerifier(HostnameVerifier verifier) {
            if (verifier == null) {
                throw new IllegalArgumentException("hostnameVerifier must not be null");
            }
            this.hostnameVerifier = verifier;
            return this;
        }

        /**
         * @throws IllegalArgumentException for a TLS option on a {@code redis://} URI, a socket factory together with
         *     certificate files, or a certificate or key file that is missing, unreadable or not what it should be
         */
        public RedisConnection build() {
            String scheme = uri.getScheme();
            boolean schemeTls = "rediss".equals(scheme) || TLS_SENTINEL_SCHEME.equals(scheme) || TLS_CLUSTER_SCHEME.equals(scheme);
            boolean cluster = sentinel != null && sentinel.masterName == null;
            boolean tls = this.tls != null ? this.tls : schemeTls;
            URI built = uri;
            if (tls != schemeTls) {
                String to = cluster ? (tls ? TLS_CLUSTER_SCHEME : CLUSTER_SCHEME)
                        : sentinel != null ? (tls ? TLS_SENTINEL_SCHEME : SENTINEL_SCHEME) : (tls ? "rediss" : "redis");
                built = URI.create(to + uri.toString().substring(scheme.length()));
            }
            String tlsOption = sslSocketFactory != null ? "sslSocketFactory"
                    : sslParameters != null ? "sslParameters"
                    : hostnameVerifier != null ? "hostnameVerifier"
                    : trustedCertificates != null ? "trustedCertificates"
                    : clientCertificate != null ? "clientCertificate" : null;
            if (!tls) {
                if (tlsOption != null) {
                    throw new IllegalArgumentException(tlsOption + " is a TLS setting, but the redis URI is not TLS: '"
                            + withoutPassword(built) + "' (use " + (cluster ? "rediss-cluster://" : sentinel != null ? "rediss-sentinel://" : "rediss://") + " for TLS)");
                }
                return new RedisConnection(this, false, built, null, null);
            }
            if (sslSocketFactory != null && (trustedCertificates != null || clientCertificate != null)) {
                throw new IllegalArgumentException("sslSocketFactory cannot be combined with "
                        + (trustedCertificates != null ? "trustedCertificates" : "clientCertificate")
                        + ": the socket factory carries its own trust and keys");
            }
            SSLSocketFactory factory = sslSocketFactory;
            if (trustedCertificates != null || clientCertificate != null) {
                factory = Tls.socketFactory(trustedCertificates, clientCertificate, clientKey);
            }
            SSLParameters parameters = sslParameters != null ? copy(sslParameters) : new SSLParameters();
            String algorithm = parameters.getEndpointIdentificationAlgorithm();
            // Empty as unset: "" is what snippets that turn the check off use; here it must be asked for explicitly,
            // with a hostnameVerifier.
            if ((algorithm == null || algorithm.isEmpty()) && hostnameVerifier == null) {
                parameters.setEndpointIdentificationAlgorithm("HTTPS");
            }
            return new RedisConnection(this, true, built, factory, parameters);
        }

        private static Path requireFile(String name, Path file) {
            if (file == null) {
                throw new IllegalArgumentException(name + " must not be null");
            }
            return file;
        }

        /**
         * Jedis takes whole milliseconds, and takes 0 as "wait forever": a timeout under a millisecond would have
         * become no timeout at all, and one past {@code Integer.MAX_VALUE} ms a negative one.
         */
        private static Duration timeout(String name, Duration d) {
            if (d == null || d.compareTo(Duration.ofMillis(1)) < 0 || d.compareTo(Duration.ofMillis(MAX_TIMEOUT_MS)) > 0) {
                throw new IllegalArgumentException(name + " must be 1 ms to 1 hour, but was " + d);
            }
            if (d.toNanos() % 1_000_000L != 0) {
                throw new IllegalArgumentException(name + " must be a whole number of milliseconds, but was " + d);
            }
            return d;
        }
    }

    /**
     * A parsed {@code redis[s]-sentinel://[[user:]password@]host1[:port][,host2[:port]...][/db]#masterName}, or
     * {@code redis[s]-cluster://[[user:]password@]host1[:port][,host2[:port]...]} (no database, no fragment; then
     * {@code sentinels} are the cluster nodes given and {@code masterName} is null).
     * {@link URI} takes such an authority as "registry based" and cannot split it into hosts (and refuses it outright
     * once it holds more than one bracketed IPv6 address), so it is read here, from the text.
     */
    private record SentinelUri(String rawUserInfo, List<InetSocketAddress> sentinels, int database, String masterName) {
        static SentinelUri parse(String text, boolean cluster) {
            String node = cluster ? "cluster node" : "sentinel";
            String shown = withoutPassword(text);
            String scheme = schemeOf(text);
            int slashes = scheme.length() + 1;
            String rest = text.startsWith("//", slashes) ? text.substring(slashes + 2) : "";
            int hash = rest.indexOf('#');
            String fragment = hash < 0 ? null : rest.substring(hash + 1);
            String beforeFragment = hash < 0 ? rest : rest.substring(0, hash);
            if (beforeFragment.indexOf('?') >= 0) {
                throw new IllegalArgumentException(scheme + " URI must not have a query (settings are made with"
                        + " RedisConnection.builder(uri)), but was '" + shown + "'");
            }
            if (cluster && fragment != null) {
                throw new IllegalArgumentException(scheme + " URI must not have a fragment (a cluster has no master name),"
                        + " but was '" + shown + "'");
            }
            if (!cluster && (fragment == null || fragment.isBlank())) {
                throw new IllegalArgumentException(scheme + " URI must name the master after '#'"
                        + " (" + scheme + "://host:26379#mymaster), but was '" + shown + "'");
            }
            String master = cluster ? null : decode(fragment, scheme + " URI master name", "'" + fragment + "'");
            if (master != null && (master.isBlank() || master.chars().anyMatch(c -> c <= ' '))) {
                throw new IllegalArgumentException(scheme + " URI master name must be non-blank without spaces,"
                        + " but was '" + master + "'");
            }
            int slash = beforeFragment.indexOf('/');
            String authority = slash < 0 ? beforeFragment : beforeFragment.substring(0, slash);
            String path = slash < 0 ? "" : beforeFragment.substring(slash);
            if (authority.isBlank()) {
                throw new IllegalArgumentException(scheme + " URI must name at least one " + node + " host, but was '"
                        + shown + "'");
            }
            String userInfo = null;
            int at = authority.lastIndexOf('@');
            if (at >= 0) {
                userInfo = authority.substring(0, at);
                authority = authority.substring(at + 1);
                decode(userInfo, scheme + " URI user information", "'" + shown + "' (write a % in a password as %25)");
            }
            // The form URI can hold (asUri): brackets percent-encoded.
            authority = authority.replace("%5B", "[").replace("%5b", "[").replace("%5D", "]").replace("%5d", "]");
            List<InetSocketAddress> hosts = new ArrayList<>();
            for (String part : authority.split(",", -1)) {
                hosts.add(address(scheme, part, shown, node, cluster ? DEFAULT_PORT : DEFAULT_SENTINEL_PORT));
            }
            int db = 0;
            if (!path.isEmpty() && !path.equals("/")) {
                try {
                    db = Integer.parseInt(path.substring(1));
                } catch (NumberFormatException e) {
                    db = -1;
                }
                if (db < 0) {
                    throw new IllegalArgumentException(scheme + " URI database must be a number >= 0, but was '"
                            + path.substring(1) + "'");
                }
            }
            if (cluster && db != 0) {
                throw new IllegalArgumentException(scheme + " URI must not name a database (a Redis Cluster has database 0"
                        + " only), but was '" + shown + "'");
            }
            return new SentinelUri(userInfo, List.copyOf(hosts), db, master);
        }

        /**
         * {@code text} as a {@link URI}: as it is if {@link URI} takes it, else with the brackets of its IPv6 addresses
         * percent-encoded ({@code %5B::1%5D:26379}), a registry-based authority that {@link #parse} reads back.
         */
        static URI asUri(String text) {
            try {
                return new URI(text);
            } catch (java.net.URISyntaxException e) {
                int from = text.indexOf("//") + 2;
                int to = from;
                while (to < text.length() && "/?#".indexOf(text.charAt(to)) < 0) {
                    to++;
                }
                String encoded = text.substring(0, from) + text.substring(from, to).replace("[", "%5B").replace("]", "%5D")
                        + text.substring(to);
                try {
                    return new URI(encoded);
                } catch (java.net.URISyntaxException again) {
                    throw new IllegalArgumentException(schemeOf(text) + " URI is not a valid URI: '" + withoutPassword(text)
                            + "' (" + again.getReason() + ")");
                }
            }
        }

        private static String decode(String s, String what, String shown) {
            try {
                return RedisConnection.decode(s);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(what + " has a bad %-escape (a % must start %XX, two hex digits): " + shown);
            }
        }

        /** {@code host}, {@code host:port}, {@code [v6]}, {@code [v6%25zone]} or either of these with {@code :port}. */
        private static InetSocketAddress address(String scheme, String part, String shown, String node, int defaultPort) {
            String h = part;
            String p = null;
            if (part.startsWith("[")) {
                int close = part.indexOf(']');
                if (close < 0 || (close + 1 < part.length() && part.charAt(close + 1) != ':')) {
                    throw new IllegalArgumentException(scheme + " URI has a bad " + node + " address '" + part + "' in '"
                            + shown + "' (an IPv6 address is written [::1] or [::1]:26379)");
                }
                h = ipv6(scheme, part.substring(1, close), part, shown, node);
                p = close + 1 < part.length() ? part.substring(close + 2) : null;
            } else {
                int colon = part.indexOf(':');
                if (colon >= 0 && part.indexOf(':', colon + 1) >= 0) {
                    throw new IllegalArgumentException(scheme + " URI has a bad " + node + " address '" + part + "' in '" + shown
                            + "': an IPv6 address must be in brackets ([" + part + "] or [address]:port)");
                }
                if (colon >= 0) {
                    h = part.substring(0, colon);
                    p = part.substring(colon + 1);
                }
                if (h.isBlank()) {
                    throw new IllegalArgumentException(scheme + " URI must name a host in each " + node + " address, but one was '"
                            + part + "' in '" + shown + "'");
                }
                if (!h.chars().allMatch(c -> (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                        || c == '-' || c == '.' || c == '_')) {
                    throw new IllegalArgumentException(scheme + " URI has a bad " + node + " host '" + h + "' in '" + shown
                            + "' (letters, digits, '-', '.' and '_', or an IPv6 address in brackets)");
                }
            }
            int port = defaultPort;
            if (p != null) {
                try {
                    port = Integer.parseInt(p);
                } catch (NumberFormatException e) {
                    port = -1;
                }
                if (port < 1 || port > 65_535) {
                    throw new IllegalArgumentException(scheme + " URI port must be 1-65535, but was '" + p + "' (in '"
                            + part + "')");
                }
            }
            return InetSocketAddress.createUnresolved(h, port);
        }

        /**
         * The host of a bracketed address: an IPv6 literal, with a zone ({@code %25eth0} as in a URI) read as
         * {@code %eth0}. Checked as a literal only: {@link InetAddress#getByName} reads text that starts with a hex digit
         * or ':' and holds a ':' as an address and never asks DNS; the zone is not looked up (the interface may exist
         * only where the connection is made).
         */
        private static String ipv6(String scheme, String inBrackets, String part, String shown, String node) {
            String addr = inBrackets;
            String zone = null;
            int pct = inBrackets.indexOf('%');
            if (pct >= 0) {
                addr = inBrackets.substring(0, pct);
                zone = inBrackets.startsWith("25", pct + 1) ? inBrackets.substring(pct + 3) : null;
                if (zone == null || zone.isEmpty() || !zone.chars().allMatch(c -> (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                        || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_')) {
                    throw new IllegalArgumentException(scheme + " URI has a bad IPv6 zone in " + node + " address '" + part
                            + "' in '" + shown + "' (write a zone as %25 and its name: [fe80::1%25eth0])");
                }
            }
            boolean literal = !addr.isEmpty() && addr.indexOf(':') >= 0
                    && addr.chars().allMatch(c -> (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
                            || c == ':' || c == '.');
            if (literal) {
                try {
                    InetAddress.getByName(addr);
                } catch (java.net.UnknownHostException | IllegalArgumentException e) {
                    literal = false;
                }
            }
            if (!literal) {
                throw new IllegalArgumentException(scheme + " URI has a bad IPv6 address '" + inBrackets + "' in " + node + " address '"
                        + part + "' in '" + shown + "'");
            }
            return zone == null ? addr : addr + "%" + zone;
        }
    }
}
