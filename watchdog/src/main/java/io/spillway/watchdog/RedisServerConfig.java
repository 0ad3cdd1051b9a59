package io.spillway.watchdog;

import io.spillway.watchdog.internal.Arguments;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Which {@code redis-server} a {@link Watchdog} runs, and with what settings. The defaults keep jobs:
 * AOF on with {@code appendfsync everysec}, no RDB snapshots, {@code maxmemory-policy noeviction}, its
 * own data directory. Immutable; build with {@link #custom()}.
 *
 * <p>Defaults: binary {@link RedisBinary#locate()} (the redis-server 6.2 shipped in the embedded-redis
 * jar when none is installed); port {@value #DEFAULT_PORT}; bind {@value #DEFAULT_BIND}; data directory
 * {@code ./spillway-redis-<port>} (made absolute at build time); {@code appendonly yes},
 * {@code appendfsync everysec}, {@code save ""}, {@code maxmemory-policy noeviction}, {@code replica-lazy-flush yes}
 * (a replica's full resync drops its old data in the background, so it keeps answering the watchdog's PINGs), no
 * {@code maxmemory}.
 * Any other directive can be added with {@link Builder#setting(String, String)} (a directive Redis reads several
 * lines of, such as {@code rename-command}, once per line); the ones that would
 * lose jobs ({@code appendonly no}, an evicting policy) are allowed, since an operator may mean them,
 * and {@code spillway doctor} reports them.
 *
 * <p>The watchdog writes {@code redis.conf}, {@code redis.log}, {@code redis.stdout} and
 * {@code watchdog.pid} into the data directory.
 *
 * <pre>{@code
 * RedisServerConfig redis = RedisServerConfig.custom()
 *         .port(6390)
 *         .dataDir(Path.of("/var/lib/spillway/redis"))
 *         .maxMemory("2gb")
 *         .build();
 * }</pre>
 */
public final class RedisServerConfig {
    public static final int DEFAULT_PORT = 6379;
    public static final String DEFAULT_BIND = "127.0.0.1";
    public static final String DEFAULT_APPENDFSYNC = "everysec";
    public static final String DEFAULT_MAXMEMORY_POLICY = "noeviction";

    /** Directives the builder owns; {@link Builder#setting} refuses them. */
    private static final Set<String> OWNED = Set.of("port", "bind", "dir", "logfile", "daemonize");
    /**
     * Directives Redis reads several lines of, each line adding to the others: {@link Builder#setting} keeps every
     * line of these. (One {@code client-output-buffer-limit} per client class; {@code save ""} then {@code save 900 1}
     * is one save point, as in a redis.conf.)
     */
    private static final Set<String> REPEATABLE = Set.of("rename-command", "client-output-buffer-limit", "user", "save",
            "include", "loadmodule");

    private final Path binary;
    private final int port;
    private final String bind;
    private final Path dataDir;
    private final boolean defaultDataDir;
    /** Every line of {@link #settings()}, in order: a repeatable directive once per line. */
    private final List<Map.Entry<String, String>> lines;
    private final Map<String, String> settings;

    private RedisServerConfig(Builder b) {
        this.binary = b.binary;
        this.port = b.port;
        this.bind = b.bind;
        this.dataDir = (b.dataDir != null ? b.dataDir : Path.of("spillway-redis-" + b.port)).toAbsolutePath().normalize();
        this.defaultDataDir = b.dataDir == null;
        this.lines = List.copyOf(b.settings);
        Map<String, String> last = new LinkedHashMap<>();
        lines.forEach(l -> last.put(l.getKey(), l.getValue()));
        this.settings = Collections.unmodifiableMap(last);
    }

    public static Builder custom() {
        return new Builder();
    }

    /** The redis-server binary, or null for {@link RedisBinary#locate()} at start. */
    public Path binary() {
        return binary;
    }

    public int port() {
        return port;
    }

    public String bind() {
        return bind;
    }

    /** The data directory, absolute. */
    public Path dataDir() {
        return dataDir;
    }

    /**
     * Whether no data directory was given, so {@link #dataDir()} is {@code ./spillway-redis-<port>} under the
     * directory the JVM was started from (a watchdog started elsewhere would not find the data).
     */
    public boolean defaultDataDir() {
        return defaultDataDir;
    }

    /**
     * Every redis.conf directive besides port, bind, dir, logfile and daemonize, in order, with its value; for a
     * directive written on several lines ({@code rename-command}, {@code save}, …) the last line's value ({@link
     * #configText()} has them all).
     */
    public Map<String, String> settings() {
        return settings;
    }

    /**
     * The host clients should use: the first bind address, or loopback when it binds every interface of its family
     * ({@code 0.0.0.0} or {@code *}: {@code 127.0.0.1}; {@code ::} or {@code ::*}: {@code ::1}, since Redis listens on
     * {@code ::} for IPv6 only). The {@code -} of a Redis 7 optional address ({@code -::1}) is not part of the host.
     */
    public String clientHost() {
        String first = bind.split("\\s+")[0];
        if (first.startsWith("-")) {
            first = first.substring(1);
        }
        return switch (first) {
            case "0.0.0.0", "*" -> "127.0.0.1";
            case "::", "::*" -> "::1";
            default -> first;
        };
    }

    /** {@code redis://<clientHost>:<port>}, an IPv6 host in brackets ({@code redis://[::1]:6379}). */
    public java.net.URI uri() {
        String host = clientHost();
        return java.net.URI.create("redis://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + port);
    }

    /** The text of the redis.conf the watchdog writes. */
    public String configText() {
        StringBuilder conf = new StringBuilder();
        conf.append("# Written by the spillway watchdog on every start; edit the watchdog's options instead.\n")
                .append("port ").append(port).append('\n')
                .append("bind ").append(bind).append('\n')
                .append("daemonize no\n")
                .append("dir ").append(quote(dataDir.toString())).append('\n')
                .append("logfile ").append(quote(dataDir.resolve("redis.log").toString())).append('\n');
        // A password is one argument whatever it holds (a space, a quote); other settings may take several (save 900 1).
        for (Map.Entry<String, String> line : lines) {
            String k = line.getKey();
            String v = line.getValue();
            conf.append(k).append(' ')
                    .append(v.isEmpty() ? "\"\"" : SECRETS.contains(k) && !quoted(v) ? quote(v) : v).append('\n');
        }
        return conf.toString();
    }

    /** Settings whose value is a secret: one quoted argument in redis.conf, never shown by {@link #toString()}. */
    private static final java.util.Set<String> SECRETS = java.util.Set.of("requirepass", "masterauth");

    /** Whether a value is quoted already (the watchdog's own reading of it strips the quotes). */
    private static boolean quoted(String v) {
        String t = v.trim();
        return t.length() >= 2 && (t.startsWith("\"") && t.endsWith("\"") || t.startsWith("'") && t.endsWith("'"));
    }

    private static String quote(String path) {
        return "\"" + path.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }

    @Override
    public String toString() {
        String shown = lines.stream()
                .map(l -> l.getKey() + "=" + (SECRETS.contains(l.getKey()) ? "***" : l.getValue()))
                .collect(Collectors.joining(", ", "{", "}"));
        return "RedisServerConfig[port=" + port + ", bind=" + bind + ", dataDir=" + dataDir + ", binary="
                + (binary == null ? "embedded/auto" : binary) + ", settings=" + shown + "]";
    }

    /** Builds a {@link RedisServerConfig}. Setters fail fast with the bad value in the message. */
    public static final class Builder {
        private Path binary;
        private int port = DEFAULT_PORT;
        private String bind = DEFAULT_BIND;
        private Path dataDir;
        private final List<Map.Entry<String, String>> settings = new ArrayList<>();

        private Builder() {
            put("appendonly", "yes");
            put("appendfsync", DEFAULT_APPENDFSYNC);
            put("save", "");
            put("maxmemory-policy", DEFAULT_MAXMEMORY_POLICY);
            // A replica given a full resync drops its old data first; in the foreground that answers nobody for as long as
            // it takes (about 1.7 s for 3 million keys), which the watchdog must take for a hang past its hang timeout,
            // and the restart reloads the same data and drops it again: a kill loop. In the background Redis keeps
            // answering (and holds the old and the new data at once for a moment).
            put("replica-lazy-flush", "yes");
        }

        /** A redis-server binary to run instead of {@link RedisBinary#locate()}. */
        public Builder binary(Path binary) {
            this.binary = Arguments.notNull(binary, "binary");
            return this;
        }

        public Builder port(int port) {
            if (port < 1 || port > 65535) {
                throw new IllegalArgumentException("port must be in 1..65535, but was " + port);
            }
            this.port = port;
            return this;
        }

        /** The addresses to listen on, space-separated as in redis.conf. */
        public Builder bind(String bind) {
            if (bind == null || bind.isBlank()) {
                throw new IllegalArgumentException("bind must not be blank, but was '" + bind + "'");
            }
            this.bind = bind.trim();
            return this;
        }

        public Builder dataDir(Path dataDir) {
            this.dataDir = Arguments.notNull(dataDir, "dataDir");
            return this;
        }

        /** {@code appendfsync}: always, everysec or no. */
        public Builder appendFsync(String policy) {
            if (!Set.of("always", "everysec", "no").contains(policy)) {
                throw new IllegalArgumentException("appendfsync must be always, everysec or no, but was '" + policy + "'");
            }
            return setting("appendfsync", policy);
        }

        /** {@code maxmemory}, e.g. "512mb"; "0" means no limit. */
        public Builder maxMemory(String bytes) {
            if (bytes == null || !bytes.matches("(?i)\\d+\\s*(b|k|kb|m|mb|g|gb)?")) {
                throw new IllegalArgumentException("maxmemory must be a size such as 512mb, but was '" + bytes + "'");
            }
            return setting("maxmemory", bytes.replace(" ", ""));
        }

        /**
         * Any other redis.conf directive; an empty value is written as {@code ""}. A directive set again replaces its
         * earlier value (in its first place), a default included, except one that Redis reads several lines of:
         * {@code rename-command}, {@code client-output-buffer-limit}, {@code user}, {@code save}, {@code include} and
         * {@code loadmodule} get one line per call, after the earlier ones (after the default {@code save ""} too,
         * which Redis reads as "no save points" before the ones that follow).
         */
        public Builder setting(String name, String value) {
            if (name == null || !name.matches("[a-z][a-z0-9-]*")) {
                throw new IllegalArgumentException("setting name must be a redis.conf directive, but was '" + name + "'");
            }
            if (OWNED.contains(name)) {
                throw new IllegalArgumentException("setting '" + name + "' is set by its own builder method (or fixed)");
            }
            Arguments.notNull(value, "value of " + name);
            if (value.contains("\n") || value.contains("\r")) {
                // The value is not shown: it may be a password.
                throw new IllegalArgumentException("value of " + name + " must be one line, but has a line break");
            }
            put(name, value);
            return this;
        }

        private void put(String name, String value) {
            Map.Entry<String, String> line = Map.entry(name, value);
            if (!REPEATABLE.contains(name)) {
                for (int i = 0; i < settings.size(); i++) {
                    if (settings.get(i).getKey().equals(name)) {
                        settings.set(i, line);
                        return;
                    }
                }
            }
            settings.add(line);
        }

        public RedisServerConfig build() {
            return new RedisServerConfig(this);
        }
    }
}
