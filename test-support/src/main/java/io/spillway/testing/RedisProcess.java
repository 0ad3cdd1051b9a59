package io.spillway.testing;

import io.spillway.watchdog.RedisBinary;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocketFactory;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.Protocol;
import redis.clients.jedis.exceptions.JedisConnectionException;
import redis.clients.jedis.exceptions.JedisDataException;

/**
 * A real {@code redis-server} child process on a loopback port, for tests that need Redis to crash,
 * hang, restart (with or without its data) and run out of memory.
 *
 * <p>Contract:
 * <ul>
 *   <li>The binary comes from {@link RedisBinary#locate()} unless {@link Builder#binary(Path)} is set.
 *       It runs in the foreground ({@code daemonize no}) as a child of this JVM, bound to 127.0.0.1,
 *       with {@code protected-mode no}, its {@code dir} (absolute) and {@code logfile} in the data
 *       directory, and a {@code redis.conf} written there on every start (with
 *       {@link Builder#keepRewrittenConfig(boolean)}: on the first start only).</li>
 *   <li>Defaults: a free port, a fresh temp data directory, {@code appendonly yes},
 *       {@code appendfsync everysec}, {@code save ""} (no RDB snapshots),
 *       {@code maxmemory-policy noeviction}, no {@code maxmemory}.</li>
 *   <li>{@link #start()} returns once PING answers and the server is not loading its AOF; startup
 *       failures throw {@link IllegalStateException} carrying the log tail. "Address already in
 *       use" (a port still held after a kill, or taken by someone else) is retried until the start
 *       timeout; on the very first start of a default (not chosen) port another port is tried.</li>
 *   <li>{@link #pid()} changes with every (re)start. {@link #configSet} is runtime-only, exactly like
 *       Redis: a restart goes back to the builder's settings (with {@code keepRewrittenConfig}, to what
 *       {@code CONFIG REWRITE} last saved).</li>
 *   <li>{@link #close()} resumes a hung server, kills it and deletes the data directory if this
 *       class created it. A JVM shutdown hook kills the server if {@code close()} was never
 *       called.</li>
 *   <li>With {@link Builder#tls(TestCertificates)} it serves TLS only: {@code port 0} and {@code tls-port} on the
 *       port, the certificates' server certificate and key, their CA as {@code tls-ca-cert-file}, and
 *       {@code tls-auth-clients} as set ({@code no} by default). {@link #uri()} is then {@code rediss://}, and its
 *       own connections ({@link #jedis()}, start, shutdown, configSet, clientKillAll) go over TLS, trusting the
 *       test CA, presenting the client certificate, checking no host name.</li>
 *   <li>Not thread-safe for concurrent lifecycle calls (start/kill/restart from two threads);
 *       {@link #port()}, {@link #uri()}, {@link #isAlive()} and {@link #jedis()} may be called from
 *       any thread.</li>
 * </ul>
 *
 * <pre>{@code
 * try (RedisProcess redis = RedisProcess.builder().maxMemory("1mb").build().start();
 *      Jedis jedis = redis.jedis()) {
 *     jedis.set("k", "v");
 *     redis.kill();      // SIGKILL, waits for death
 *     redis.restart();   // same port and data dir; the AOF brings "k" back if it was fsynced
 * }
 * }</pre>
 */
public final class RedisProcess implements AutoCloseable {

    /** Default for {@link Builder#startTimeout(Duration)}. */
    public static final Duration DEFAULT_START_TIMEOUT = Duration.ofSeconds(20);
    /** Connect and read timeout of the clients returned by {@link #jedis()}. */
    public static final Duration DEFAULT_CLIENT_TIMEOUT = Duration.ofSeconds(2);

    private static final String HOST = "127.0.0.1";
    private static final String CONFIG_FILE = "redis.conf";
    private static final String LOG_FILE = "redis.log";
    private static final String STDOUT_FILE = "redis.stdout";
    private static final Duration STOP_WAIT = Duration.ofSeconds(10);

    private final Path binary;
    private final Path dataDir;
    private final boolean ownsDataDir;
    private final boolean portChosen;
    private final Map<String, String> settings;
    private final Duration startTimeout;
    private final boolean keepRewrittenConfig;
    private final TestCertificates tls;
    private final boolean tlsAuthClients;
    private final Path tlsServerCertificate;
    private final Path tlsServerKey;
    private final SSLSocketFactory adminSocketFactory;

    private volatile int port;
    private volatile Process process;
    private volatile boolean hung;
    private boolean everStarted;
    private boolean closed;

    private RedisProcess(Builder b) throws IOException {
        this.binary = b.binary != null ? b.binary : RedisBinary.locate();
        this.portChosen = b.port != 0;
        this.port = portChosen ? b.port : FreePorts.next();
        this.ownsDataDir = b.dataDir == null;
        this.dataDir = (ownsDataDir ? Files.createTempDirectory("spillway-redis-data-") : b.dataDir)
                .toAbsolutePath();
        Files.createDirectories(dataDir);
        this.settings = new LinkedHashMap<>(b.settings);
        this.startTimeout = b.startTimeout;
        this.keepRewrittenConfig = b.keepRewrittenConfig;
        this.tls = b.tls;
        this.tlsAuthClients = b.tlsAuthClients;
        this.tlsServerCertificate = b.tlsServerCertificate != null ? b.tlsServerCertificate
                : tls != null ? tls.serverCertificate() : null;
        this.tlsServerKey = b.tlsServerKey != null ? b.tlsServerKey : tls != null ? tls.serverKey() : null;
        this.adminSocketFactory = tls != null ? tls.clientSocketFactory() : null;
    }

    /** Whether this server speaks TLS only ({@link Builder#tls(TestCertificates)}). */
    public boolean isTls() {
        return tls != null;
    }

    /** The redis-server executable this process runs. */
    public Path binary() {
        return binary;
    }

    /** Returns a builder with the defaults listed in the class comment. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Starts the server and waits until it answers PING and has finished loading.
     *
     * @return this, for chaining after {@code build()}
     * @throws IllegalStateException if it is already running, or does not become ready in time
     */
    public RedisProcess start() {
        if (closed) {
            throw new IllegalStateException("RedisProcess on port " + port + " is closed");
        }
        if (isAlive()) {
            throw new IllegalStateException("redis-server on port " + port + " is already running (pid "
                    + process.pid() + ")");
        }
        long deadline = System.nanoTime() + startTimeout.toNanos();
        while (true) {
            long logOffset = size(dataDir.resolve(LOG_FILE));
            Process p = launch();
            if (awaitReady(p, deadline)) {
                everStarted = true;
                return this;
            }
            ChildProcesses.unregister(p);
            String newLog = readFrom(dataDir.resolve(LOG_FILE), logOffset);
            boolean portBusy = newLog.contains("Address already in use");
            if (!portBusy || System.nanoTime() > deadline) {
                stopProcess(p);
                throw new IllegalStateException("redis-server on port " + port + " did not become ready within "
                        + startTimeout + " (exit " + (p.isAlive() ? "none" : p.exitValue()) + "). Log tail:\n"
                        + logTail());
            }
            if (!portChosen && !everStarted) {
                // Someone else took the port between FreePorts.next() and our bind: any free port will do.
                port = FreePorts.next();
            } else {
                // Our own previous server's socket may still be held for a moment after SIGKILL.
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50));
            }
        }
    }

    /** Kills the server with SIGKILL (no AOF flush, no goodbye) and waits until it is dead. */
    public void kill() {
        Process p = process;
        if (p != null) {
            stopProcess(p);
        }
        hung = false;
    }

    /** Freezes the server with SIGSTOP: it keeps its socket, so clients connect but get no answers. */
    public void hang() {
        ChildProcesses.signal(requireAlive().pid(), "STOP");
        hung = true;
    }

    /** Thaws a server frozen by {@link #hang()} with SIGCONT. */
    public void resume() {
        ChildProcesses.signal(requireAlive().pid(), "CONT");
        hung = false;
    }

    /** Returns whether the server is currently frozen by {@link #hang()}. */
    public boolean isHung() {
        return hung;
    }

    /**
     * Starts the server again on the same port and data directory, after {@link #kill()} or
     * {@link #shutdown()}; with AOF on it reloads what was fsynced before.
     *
     * @throws IllegalStateException if it is still running
     */
    public RedisProcess restart() {
        return start();
    }

    /** Deletes everything in the data directory, then starts: Redis comes back empty. */
    public RedisProcess restartEmpty() {
        if (isAlive()) {
            throw new IllegalStateException("redis-server on port " + port + " is still running: kill() first");
        }
        try (var entries = Files.list(dataDir)) {
            entries.forEach(ChildProcesses::deleteRecursively);
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot wipe " + dataDir, e);
        }
        return start();
    }

    /**
     * Stops the server cleanly with SHUTDOWN (which fsyncs the AOF), falling back to SIGTERM and then
     * SIGKILL if it does not exit within 10 seconds each. A hung server is resumed first.
     */
    public void shutdown() {
        Process p = process;
        if (p == null || !p.isAlive()) {
            return;
        }
        if (hung) {
            resume();
        }
        try (Jedis jedis = jedis()) {
            jedis.sendCommand(Protocol.Command.SHUTDOWN);
        } catch (JedisConnectionException expected) {
            // The server closes the connection instead of answering: that is success.
        } catch (JedisDataException refused) {
            // e.g. "Errors trying to SHUTDOWN": SIGTERM below still stops it.
        }
        if (!waitFor(p, STOP_WAIT)) {
            p.destroy();
            if (!waitFor(p, STOP_WAIT)) {
                p.destroyForcibly();
                waitFor(p, STOP_WAIT);
            }
        }
        ChildProcesses.unregister(p);
    }

    /**
     * Closes every client connection except the one used to send the command ({@code CLIENT KILL TYPE
     * normal|pubsub SKIPME yes}).
     *
     * @return how many connections were closed
     */
    public long clientKillAll() {
        try (Jedis jedis = jedis()) {
            long killed = 0;
            for (String type : List.of("normal", "pubsub")) {
                Object n = jedis.sendCommand(Protocol.Command.CLIENT, "KILL", "TYPE", type, "SKIPME", "yes");
                killed += (Long) n;
            }
            return killed;
        }
    }

    /** Runs {@code CONFIG SET name value}; runtime only, a restart forgets it (as in Redis). */
    public void configSet(String name, String value) {
        try (Jedis jedis = jedis()) {
            jedis.configSet(name, value);
        }
    }

    /** Returns a new client with {@link #DEFAULT_CLIENT_TIMEOUT}; the caller closes it. */
    public Jedis jedis() {
        return jedis(DEFAULT_CLIENT_TIMEOUT);
    }

    /**
     * Returns a new client whose connect, read and blocking-read timeouts are all {@code timeout}.
     * Jedis 7 connects and handshakes in its constructor, so against a dead or hung server this
     * method itself throws {@code JedisConnectionException}.
     */
    public Jedis jedis(Duration timeout) {
        int millis = Math.toIntExact(timeout.toMillis());
        DefaultJedisClientConfig.Builder cfg = DefaultJedisClientConfig.builder()
                .connectionTimeoutMillis(millis)
                .socketTimeoutMillis(millis)
                .blockingSocketTimeoutMillis(millis);
        if (tls != null) {
            // SSLParameters without an endpoint identification algorithm: no host name check (Jedis adds HTTPS
            // when given none), so the admin connection also works with the wrong-host server certificate.
            cfg.ssl(true).sslSocketFactory(adminSocketFactory).sslParameters(new SSLParameters());
        }
        return new Jedis(new HostAndPort(HOST, port), cfg.build());
    }

    /** Returns the port; fixed for the life of this object once started. */
    public int port() {
        return port;
    }

    /** Returns {@code redis://127.0.0.1:<port>}, or {@code rediss://127.0.0.1:<port>} with TLS. */
    public URI uri() {
        return URI.create((tls != null ? "rediss" : "redis") + "://" + HOST + ":" + port);
    }

    /** Returns the pid of the current (or last) server process. */
    public long pid() {
        Process p = process;
        if (p == null) {
            throw new IllegalStateException("redis-server on port " + port + " was never started");
        }
        return p.pid();
    }

    /** Returns whether the server process is alive (a hung one is alive). */
    public boolean isAlive() {
        Process p = process;
        return p != null && p.isAlive();
    }

    /** Returns the data directory (absolute): AOF, log file and redis.conf live here. */
    public Path dataDir() {
        return dataDir;
    }

    /** Returns the last 50 lines of the Redis log and of its stdout/stderr, for failure messages. */
    public String logTail() {
        return tail(dataDir.resolve(LOG_FILE), 50) + tail(dataDir.resolve(STDOUT_FILE), 50);
    }

    /** Resumes the server if hung, kills it, and deletes the data directory if this class created it. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        Process p = process;
        if (p != null && p.isAlive()) {
            if (hung) {
                try {
                    resume();
                } catch (RuntimeException e) {
                    // SIGKILL below works on a stopped process as well; resuming is only courtesy.
                }
            }
            stopProcess(p);
        }
        if (ownsDataDir) {
            ChildProcesses.deleteRecursively(dataDir);
        }
    }

    @Override
    public String toString() {
        Process p = process;
        return "RedisProcess[port=" + port + ", pid=" + (p == null ? "-" : p.pid()) + ", alive=" + isAlive()
                + ", hung=" + hung + ", dir=" + dataDir + "]";
    }

    private Process launch() {
        try {
            if (!keepRewrittenConfig || !everStarted) {
                // Before the first successful start the port may still change (see start()): write it again.
                Files.writeString(dataDir.resolve(CONFIG_FILE), config(), StandardCharsets.UTF_8);
            }
            Path out = dataDir.resolve(STDOUT_FILE);
            Process p = new ProcessBuilder(binary.toString(), dataDir.resolve(CONFIG_FILE).toString())
                    .directory(dataDir.toFile())
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(out.toFile()))
                    .start();
            ChildProcesses.register(p);
            process = p;
            hung = false;
            return p;
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot start " + binary, e);
        }
    }

    private String config() {
        StringBuilder conf = new StringBuilder();
        if (tls != null) {
            conf.append("port 0\n")
                    .append("tls-port ").append(port).append('\n')
                    .append("tls-cert-file ").append(quote(tlsServerCertificate.toAbsolutePath().toString())).append('\n')
                    .append("tls-key-file ").append(quote(tlsServerKey.toAbsolutePath().toString())).append('\n')
                    .append("tls-ca-cert-file ").append(quote(tls.caCertificate().toString())).append('\n')
                    .append("tls-auth-clients ").append(tlsAuthClients ? "yes" : "no").append('\n');
        } else {
            conf.append("port ").append(port).append('\n');
        }
        conf.append("bind ").append(HOST).append('\n')
                .append("daemonize no\n")
                .append("protected-mode no\n")
                .append("dir ").append(quote(dataDir.toString())).append('\n')
                .append("logfile ").append(quote(dataDir.resolve(LOG_FILE).toString())).append('\n');
        settings.forEach((name, value) -> conf.append(name).append(' ').append(value.isEmpty() ? "\"\"" : value)
                .append('\n'));
        return conf.toString();
    }

    private static String quote(String path) {
        return "\"" + path.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }

    private boolean awaitReady(Process p, long deadline) {
        Duration probeTimeout = Duration.ofMillis(500);
        while (System.nanoTime() < deadline) {
            if (!p.isAlive()) {
                return false;
            }
            try (Jedis jedis = jedis(probeTimeout)) {
                if ("PONG".equals(jedis.ping()) && jedis.info("persistence").contains("loading:0")) {
                    return true;
                }
            } catch (JedisConnectionException | JedisDataException notYet) {
                // Not listening yet, or LOADING: poll again.
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
        }
        return false;
    }

    private Process requireAlive() {
        Process p = process;
        if (p == null || !p.isAlive()) {
            throw new IllegalStateException("redis-server on port " + port + " is not running");
        }
        return p;
    }

    private static void stopProcess(Process p) {
        p.destroyForcibly();
        if (!waitFor(p, STOP_WAIT)) {
            throw new IllegalStateException("redis-server pid " + p.pid() + " survived SIGKILL for " + STOP_WAIT);
        }
        ChildProcesses.unregister(p);
    }

    private static boolean waitFor(Process p, Duration timeout) {
        try {
            return p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return !p.isAlive();
        }
    }

    private static long size(Path file) {
        try {
            return Files.exists(file) ? Files.size(file) : 0;
        } catch (IOException e) {
            return 0;
        }
    }

    private static String readFrom(Path file, long offset) {
        try {
            if (!Files.exists(file)) {
                return "";
            }
            byte[] all = Files.readAllBytes(file);
            int from = (int) Math.min(offset, all.length);
            return new String(all, from, all.length - from, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }

    private static String tail(Path file, int lines) {
        try {
            if (!Files.exists(file)) {
                return "";
            }
            List<String> all = Files.readAllLines(file, StandardCharsets.UTF_8);
            List<String> last = new ArrayList<>(all.subList(Math.max(0, all.size() - lines), all.size()));
            return last.isEmpty() ? "" : "--- " + file.getFileName() + " ---\n" + String.join("\n", last) + "\n";
        } catch (IOException | UncheckedIOException e) {
            return "--- " + file.getFileName() + " unreadable: " + e + " ---\n";
        }
    }

    /**
     * Settings for a {@link RedisProcess}; every method returns this builder. Values are written
     * verbatim after the name into redis.conf ({@code ""} for an empty value).
     */
    public static final class Builder {
        private Path binary;
        private int port;
        private Path dataDir;
        private Duration startTimeout = DEFAULT_START_TIMEOUT;
        private boolean keepRewrittenConfig;
        private final Map<String, String> settings = new LinkedHashMap<>();
        private TestCertificates tls;
        private boolean tlsAuthClients;
        private Path tlsServerCertificate;
        private Path tlsServerKey;

        private Builder() {
            settings.put("appendonly", "yes");
            settings.put("appendfsync", "everysec");
            settings.put("save", "");
            settings.put("maxmemory-policy", "noeviction");
        }

        /** Port to listen on; default: a free one from {@link FreePorts#next()}. */
        public Builder port(int port) {
            if (port < 1 || port > 65535) {
                throw new IllegalArgumentException("port must be in 1..65535, but was " + port);
            }
            this.port = port;
            return this;
        }

        /** Data directory (kept on close); default: a fresh temp directory (deleted on close). */
        public Builder dataDir(Path dataDir) {
            this.dataDir = Objects.requireNonNull(dataDir, "dataDir");
            return this;
        }

        /** The redis-server to run; default: {@link RedisBinary#locate()}. */
        public Builder binary(Path binary) {
            this.binary = Objects.requireNonNull(binary, "binary");
            return this;
        }

        /** {@code appendonly yes|no}; default yes. */
        public Builder appendOnly(boolean on) {
            return setting("appendonly", on ? "yes" : "no");
        }

        /** {@code appendfsync always|everysec|no}; default everysec. */
        public Builder appendFsync(String policy) {
            return setting("appendfsync", policy);
        }

        /** {@code save} points, e.g. {@code "900 1"}; default {@code ""} (no RDB snapshots). */
        public Builder save(String savePoints) {
            return setting("save", savePoints);
        }

        /** {@code maxmemory}, e.g. {@code "1mb"}; default unset (no limit). */
        public Builder maxMemory(String bytes) {
            return setting("maxmemory", bytes);
        }

        /** {@code maxmemory-policy}; default noeviction (Spillway's requirement). */
        public Builder maxMemoryPolicy(String policy) {
            return setting("maxmemory-policy", policy);
        }

        /** Any other redis.conf directive; the harness's own (port, bind, dir, ...) cannot be overridden. */
        public Builder setting(String name, String value) {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(value, "value");
            if (List.of("port", "tls-port", "bind", "dir", "logfile", "daemonize").contains(name.toLowerCase(java.util.Locale.ROOT))) {
                throw new IllegalArgumentException("setting " + name + " is managed by RedisProcess; use the builder method");
            }
            settings.put(name.toLowerCase(java.util.Locale.ROOT), value);
            return this;
        }

        /**
         * Serves TLS only, with {@code certs}' server certificate (for 127.0.0.1 and localhost) and its CA; see the
         * class comment. Default: plain TCP.
         */
        public Builder tls(TestCertificates certs) {
            this.tls = Objects.requireNonNull(certs, "certs");
            return this;
        }

        /** {@code tls-auth-clients yes|no} (Redis's own default is yes); default here no. Needs {@link #tls}. */
        public Builder tlsAuthClients(boolean required) {
            this.tlsAuthClients = required;
            return this;
        }

        /** Another server certificate and key than {@code certs.serverCertificate()}, e.g. the wrong-host one. */
        public Builder tlsServerIdentity(Path certificate, Path key) {
            this.tlsServerCertificate = Objects.requireNonNull(certificate, "certificate");
            this.tlsServerKey = Objects.requireNonNull(key, "key");
            return this;
        }

        /**
         * Whether a restart runs on {@code redis.conf} as the server left it: written at the first start only, so that
         * what {@code CONFIG REWRITE} saved there survives a restart, as in a real deployment (Sentinel sends one with
         * every {@code REPLICAOF}: a promoted replica restarts as a master, a demoted master as a replica). Default
         * false: every start writes the builder's settings again, and {@link RedisProcess#configSet} changes or
         * {@code REPLICAOF} commands are forgotten.
         */
        public Builder keepRewrittenConfig(boolean keep) {
            this.keepRewrittenConfig = keep;
            return this;
        }

        /** How long {@link RedisProcess#start()} waits for readiness; default {@link #DEFAULT_START_TIMEOUT}. */
        public Builder startTimeout(Duration timeout) {
            if (timeout.isNegative() || timeout.isZero()) {
                throw new IllegalArgumentException("startTimeout must be > 0, but was " + timeout);
            }
            this.startTimeout = timeout;
            return this;
        }

        /** Creates the (not yet started) process and its data directory. */
        public RedisProcess build() {
            if (tls == null && (tlsAuthClients || tlsServerCertificate != null)) {
                throw new IllegalArgumentException("tlsAuthClients and tlsServerIdentity need tls(certs)");
            }
            try {
                return new RedisProcess(this);
            } catch (IOException e) {
                throw new UncheckedIOException("Cannot create the Redis data directory", e);
            }
        }

        /** Shorthand for {@code build().start()}; closes the process if it fails to start. */
        public RedisProcess start() {
            RedisProcess redis = build();
            try {
                return redis.start();
            } catch (RuntimeException e) {
                redis.close();
                throw e;
            }
        }
    }
}
