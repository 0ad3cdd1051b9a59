package io.spillway.core;

import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * Where Redis is and how long to wait for it. Immutable; build with {@link #builder(URI)} or take the
 * defaults with {@link #of(URI)}.
 *
 * <p>URIs: {@code redis://host:port}, {@code rediss://host:port} (TLS), {@code redis://user:password@host:port},
 * {@code redis://:password@host:port}, and an optional database number as the path ({@code /2}).
 *
 * A URI with a query or a fragment ({@code ?timeout=5}) is refused: settings are made with the builder, not the URI.
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

    private RedisConnection(Builder b) {
        this.uri = b.uri;
        this.host = b.uri.getHost();
        this.port = b.uri.getPort() == -1 ? DEFAULT_PORT : b.uri.getPort();
        // Split before decoding (a %3A in the password is a colon of the password), then decode %xx only: a '+'
        // is a plus (URLDecoder alone would make it a space, and base64 passwords are full of them).
        String userInfo = b.uri.getRawUserInfo();
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
        this.user = u;
        this.password = p;
        this.database = b.database;
        this.ssl = "rediss".equals(b.uri.getScheme());
        this.connectTimeout = b.connectTimeout;
        this.socketTimeout = b.socketTimeout;
        this.clientName = b.clientName;
    }

    private static String decode(String s) {
        return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
    }

    /** {@code uri} for an error message: its user information (which may hold a password) masked. */
    static String withoutPassword(URI uri) {
        // By the text, not by the parsed parts: a URI that did not parse as meant (a '#' or '/' in the password) has
        // its password somewhere before the last '@'.
        String s = uri.toString();
        int start = s.indexOf("//");
        int at = s.lastIndexOf('@');
        return start >= 0 && at > start ? s.substring(0, start + 2) + "***" + s.substring(at) : s;
    }

    /** A connection with every default. */
    public static RedisConnection of(URI uri) {
        return builder(uri).build();
    }

    public static Builder builder(URI uri) {
        return new Builder(uri);
    }

    public URI uri() {
        return uri;
    }

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

    /** The URI without its password, for logs. */
    public String redacted() {
        return (ssl ? "rediss" : "redis") + "://" + (user != null ? user + "@" : "") + host + ":" + port
                + (database != 0 ? "/" + database : "");
    }

    @Override
    public String toString() {
        return redacted();
    }

    /** Builds a {@link RedisConnection}. Setters fail fast on bad values. */
    public static final class Builder {
        private final URI uri;
        private final int database;
        private Duration connectTimeout = Duration.ofMillis(DEFAULT_CONNECT_TIMEOUT_MS);
        private Duration socketTimeout = Duration.ofMillis(DEFAULT_SOCKET_TIMEOUT_MS);
        private String clientName = "spillway";

        private Builder(URI uri) {
            if (uri == null) {
                throw new IllegalArgumentException("redis URI must not be null");
            }
            String scheme = uri.getScheme();
            if (!"redis".equals(scheme) && !"rediss".equals(scheme)) {
                throw new IllegalArgumentException("redis URI must start with redis:// or rediss://, but was '"
                        + withoutPassword(uri) + "'");
            }
            if (uri.getHost() == null || uri.getHost().isBlank()) {
                String authority = uri.getRawAuthority();
                throw new IllegalArgumentException("redis URI must name a host, but was '" + withoutPassword(uri) + "'"
                        + (authority != null && authority.contains("_")
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

        public Builder connectTimeout(Duration timeout) {
            this.connectTimeout = timeout("connectTimeout", timeout);
            return this;
        }

        public Builder socketTimeout(Duration timeout) {
            this.socketTimeout = timeout("socketTimeout", timeout);
            return this;
        }

        public Builder clientName(String name) {
            if (name == null || name.isBlank() || name.contains(" ")) {
                throw new IllegalArgumentException("clientName must be non-blank without spaces, but was '" + name + "'");
            }
            this.clientName = name;
            return this;
        }

        public RedisConnection build() {
            return new RedisConnection(this);
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
}
