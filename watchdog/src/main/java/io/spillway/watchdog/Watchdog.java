package io.spillway.watchdog;

import com.codahale.metrics.Gauge;
import com.codahale.metrics.MetricRegistry;
import io.spillway.watchdog.internal.Arguments;
import io.spillway.watchdog.internal.Child;
import io.spillway.watchdog.internal.CommandChild;
import io.spillway.watchdog.internal.RedisChild;
import io.spillway.watchdog.internal.Supervisor;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.WeakHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Supervises one child process and keeps it running: a {@code redis-server} (by default the one
 * {@link RedisBinary#locate()} finds: the system property {@code spillway.redis.server}, else {@code SPILLWAY_REDIS_SERVER},
 * else {@code redis-server} on PATH, else
 * the binary shipped in the embedded-redis jar; with settings that keep jobs) or any other command.
 *
 * <p>Contract:
 * <ul>
 *   <li>When the child exits, it is started again after a backoff (exponential, with jitter; see
 *       {@link WatchdogConfig}). A Redis child is also PINGed: one that has not answered for the hang
 *       timeout (SIGSTOP, a wedged disk) is killed with SIGKILL and started again. Any reply is an answer
 *       (LOADING, NOAUTH): a Redis loading a large AOF is waited for, however long. With AOF on it comes
 *       back with its data.</li>
 *   <li>A Redis child is up once it answers PING (the watchdog logs in with the {@code requirepass} it
 *       wrote) and INFO shows that the server answering is the process it started. A data directory with an
 *       RDB file and no AOF is loaded from the RDB and its AOF written before the child is up.</li>
 *   <li>It gives up only on a child that has never been up and cannot be: a program that cannot be run, a
 *       redis-server older than 7.0 over a data directory that Redis 7 wrote (its AOF in
 *       {@code appendonlydir/} with a manifest: the old one would start empty), a Redis that refuses its
 *       configuration (a directive or value it does not take, a bind address not of this machine), a port another
 *       process holds; or when its own loop fails. Then {@link #failure()} says why, a
 *       {@link WatchdogEvent.Failed} is published and the watchdog stops. Otherwise it never gives up.</li>
 *   <li>Too many restarts within the crash-loop window are reported with one ERROR line (and a
 *       {@link WatchdogEvent.CrashLoop}); the watchdog keeps trying.</li>
 *   <li>Restarts and downtime are counted in the given {@link MetricRegistry} under
 *       {@value #METRIC_RESTARTS}{@code .<name>} (counter), {@value #METRIC_DOWNTIME}{@code .<name>}
 *       (counter, milliseconds) and {@value #METRIC_UP}{@code .<name>} (gauge, 1 or 0); the names are those
 *       of {@code io.spillway.core.MetricNames.WATCHDOG_*}. Each event is logged in plain words
 *       (logger {@code io.spillway.watchdog.Watchdog}).</li>
 *   <li>{@link #close()} stops the child and everything it started: SIGTERM (Redis then fsyncs its AOF),
 *       SIGKILL after the stop timeout. A JVM shutdown hook does the same if {@code close()} was never
 *       called. A JVM killed with SIGKILL cannot stop its children; the next watchdog of the same Redis
 *       data directory kills the server left behind before starting its own, once it has checked that the
 *       pid in {@code watchdog.pid} is that directory's redis-server (pids are reused).</li>
 * </ul>
 * Thread-safe. Supervision runs on one daemon thread per watchdog; event listeners run on it.
 *
 * <pre>{@code
 * try (Watchdog redis = Watchdog.builder()
 *         .redis(RedisServerConfig.custom().port(6390).dataDir(Path.of("redis-data")).build())
 *         .metrics(registry)
 *         .build()
 *         .start()) {
 *     redis.awaitUp(Duration.ofSeconds(10));
 *     // ... redis://127.0.0.1:6390 is kept running until close()
 * }
 *
 * Watchdog gpu = Watchdog.builder().command(List.of("python3", "gpu_service.py")).build().start();
 * }</pre>
 */
public final class Watchdog implements AutoCloseable {
    /** Counter: restarts of the child; the same name as {@code MetricNames.WATCHDOG_RESTARTS}. */
    public static final String METRIC_RESTARTS = "spillway.watchdog.restarts";
    /** Counter: milliseconds the child was down (from exit or last answer until it answered again). */
    public static final String METRIC_DOWNTIME = "spillway.watchdog.downtime.ms";
    /** Gauge: 1 while the child is up (and, for Redis, answering), else 0. */
    public static final String METRIC_UP = "spillway.watchdog.up";

    private final Supervisor supervisor;
    private final RedisServerConfig redis;
    private final String name;
    private final MetricRegistry registry;
    private final CountDownLatch stopped = new CountDownLatch(1);
    private final Thread shutdownHook;
    private final Gauge<Integer> upGauge;
    private volatile boolean started;
    private volatile boolean closed;

    private Watchdog(Builder b, Child child) {
        this.redis = b.redis;
        this.name = b.name;
        this.registry = b.registry;
        this.supervisor = new Supervisor(b.name, child, b.config,
                down -> registry.counter(METRIC_DOWNTIME + "." + name).inc(down.toMillis()),
                () -> registry.counter(METRIC_RESTARTS + "." + name).inc());
        registry.counter(METRIC_RESTARTS + "." + name);
        registry.counter(METRIC_DOWNTIME + "." + name);
        registry.remove(METRIC_UP + "." + name);
        this.upGauge = () -> supervisor.isUp() ? 1 : 0;
        registry.register(METRIC_UP + "." + name, upGauge);
        supervisor.onEvent(e -> {
            if (e instanceof WatchdogEvent.Stopped) {
                stopped.countDown();
            }
        });
        this.shutdownHook = new Thread(this::close, "spillway-watchdog-shutdown-" + name);
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The names of the watchdogs not closed yet, per registry: their metrics are named after them. */
    private static final Map<MetricRegistry, Set<String>> LIVE = new WeakHashMap<>();

    /**
     * Refuses a second live watchdog of one name on one registry: its gauge would replace the first one's, and
     * {@code WatchdogHealthCheck} would report healthy while the first child is down (two Redis watchdogs left
     * unnamed, say). Released at close.
     */
    private static void claimName(MetricRegistry registry, String name) {
        synchronized (LIVE) {
            if (!LIVE.computeIfAbsent(registry, r -> new HashSet<>()).add(name)) {
                throw new IllegalStateException("a watchdog named '" + name + "' already reports to this metric registry:"
                        + " give each watchdog its own name (Watchdog.builder().name(\"redis-6380\"))");
            }
        }
    }

    private static void releaseName(MetricRegistry registry, String name) {
        synchronized (LIVE) {
            Set<String> names = LIVE.get(registry);
            if (names != null) {
                names.remove(name);
            }
        }
    }

    /**
     * Starts supervising: launches the child on the watchdog's thread and returns at once. Use
     * {@link #awaitUp(Duration)} to wait for the first start.
     *
     * @return this
     * @throws IllegalStateException if already started or closed
     */
    public synchronized Watchdog start() {
        if (started || closed) {
            throw new IllegalStateException("Watchdog for " + supervisor.name() + " was already "
                    + (closed ? "closed" : "started"));
        }
        started = true;
        Runtime.getRuntime().addShutdownHook(shutdownHook);
        supervisor.start();
        return this;
    }

    /** Subscribes to the child's events; register before {@link #start()} to see the first one. */
    public Watchdog onEvent(Consumer<WatchdogEvent> listener) {
        supervisor.onEvent(Arguments.notNull(listener, "listener"));
        return this;
    }

    /** Waits until the child is up (Redis: answering PING). Returns false on timeout. */
    public boolean awaitUp(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!supervisor.isUp()) {
            if (closed || System.nanoTime() > deadline) {
                return false;
            }
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return true;
    }

    /** Blocks until the watchdog has stopped (after {@link #close()}, e.g. from the shutdown hook). */
    public void awaitStopped() throws InterruptedException {
        stopped.await();
    }

    /** Like {@link #awaitStopped()} with a timeout; true if it stopped. */
    public boolean awaitStopped(Duration timeout) throws InterruptedException {
        return stopped.await(timeout.toNanos(), TimeUnit.NANOSECONDS);
    }

    /** Whether the child is up now (Redis: it answered its last PING or is within the hang timeout). */
    public boolean isUp() {
        return supervisor.isUp();
    }

    /** The pid of the current (or last) child, empty before the first launch. */
    public OptionalLong pid() {
        long pid = supervisor.pid();
        return pid < 0 ? OptionalLong.empty() : OptionalLong.of(pid);
    }

    /**
     * Why the watchdog gave up by itself (its child was never up and cannot be: the program does not run, the
     * redis-server is too old for its data or refuses its configuration, or another process holds its port; or its
     * own loop failed), or empty while it supervises or after
     * {@link #close()}. Once this is present the watchdog has stopped, as {@link #awaitStopped()} tells.
     */
    public Optional<WatchdogEvent.Failed> failure() {
        return Optional.ofNullable(supervisor.failure());
    }

    /** Restarts so far (failed starts included). */
    public int restarts() {
        return supervisor.restarts();
    }

    /** Total time the child was down between restarts. */
    public Duration downtime() {
        return supervisor.downtime();
    }

    /** The child's name in logs, e.g. {@code "redis-server on port 6379"}. */
    public String childName() {
        return supervisor.name();
    }

    /** The metric-name suffix. */
    public String name() {
        return name;
    }

    public MetricRegistry metrics() {
        return registry;
    }

    /** The Redis settings, or null when this watchdog runs a command. */
    public RedisServerConfig redis() {
        return redis;
    }

    /**
     * Stops supervising and stops the child (SIGTERM, SIGKILL after the stop timeout). Idempotent. A watchdog that was
     * never started releases its Redis data directory (another may then be built on it) and removes its
     * {@value #METRIC_UP} gauge.
     */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        supervisor.close();
        releaseName(registry, name);
        if (started) {
            try {
                Runtime.getRuntime().removeShutdownHook(shutdownHook);
            } catch (IllegalStateException shuttingDown) {
                // We are the hook, or the JVM is already exiting: nothing to remove.
            }
        } else {
            // Never started: nothing to report as down. Only our own gauge: another watchdog of the same name may
            // have registered its gauge since.
            String up = METRIC_UP + "." + name;
            registry.removeMatching((n, m) -> n.equals(up) && m == upGauge);
        }
        stopped.countDown();
    }

    /**
     * Builds a {@link Watchdog} for either {@link #redis(RedisServerConfig)} or {@link #command(List)}.
     * Defaults: {@link WatchdogConfig#ofDefaults()}, a new {@link MetricRegistry}, name {@code redis} or
     * the command's file name.
     */
    public static final class Builder {
        private RedisServerConfig redis;
        private List<String> command;
        private Path output;
        private Path workDir;
        private WatchdogConfig config = WatchdogConfig.ofDefaults();
        private MetricRegistry registry;
        private String name;

        private Builder() {
        }

        /** Supervise a redis-server with these settings. */
        public Builder redis(RedisServerConfig redis) {
            this.redis = Arguments.notNull(redis, "redis");
            return this;
        }

        /** Supervise a command (program and arguments); restarted on exit, no probe. */
        public Builder command(List<String> command) {
            Arguments.notNull(command, "command");
            if (command.isEmpty() || command.get(0).isBlank()) {
                throw new IllegalArgumentException("command must name a program, but was " + command);
            }
            this.command = List.copyOf(command);
            return this;
        }

        /** Where a command's stdout and stderr go (appended); default: this process's own. */
        public Builder output(Path file) {
            this.output = Arguments.notNull(file, "output");
            return this;
        }

        /** A command's working directory; default: this process's. */
        public Builder workDir(Path dir) {
            this.workDir = Arguments.notNull(dir, "workDir");
            return this;
        }

        public Builder config(WatchdogConfig config) {
            this.config = Arguments.notNull(config, "config");
            return this;
        }

        public Builder metrics(MetricRegistry registry) {
            this.registry = Arguments.notNull(registry, "registry");
            return this;
        }

        /** The suffix of this watchdog's metric names; letters, digits, '.', '_' and '-'. */
        public Builder name(String name) {
            if (name == null || !name.matches("[A-Za-z0-9._-]{1,64}")) {
                throw new IllegalArgumentException("name must be 1-64 of [A-Za-z0-9._-], but was '" + name + "'");
            }
            this.name = name;
            return this;
        }

        /**
         * @throws IllegalStateException if neither or both of redis and command are set, the redis binary
         *         cannot be found, or another watchdog holds the Redis data directory
         */
        public Watchdog build() {
            if ((redis == null) == (command == null)) {
                throw new IllegalStateException("set exactly one of redis(...) or command(...)");
            }
            if (registry == null) {
                registry = new MetricRegistry();
            }
            if (name == null) {
                name = redis != null ? "redis" : Path.of(command.get(0)).getFileName().toString()
                        .replaceAll("[^A-Za-z0-9._-]", "_");
            }
            claimName(registry, name);
            try {
                return new Watchdog(this, child());
            } catch (RuntimeException | Error e) {
                releaseName(registry, name);
                throw e;
            }
        }

        private Child child() {
            Child child;
            if (redis != null) {
                Path binary = redis.binary() != null ? redis.binary() : RedisBinary.locate();
                if (!java.nio.file.Files.isExecutable(binary)) {
                    throw new IllegalStateException("redis-server binary " + binary + " is not an executable file");
                }
                child = new RedisChild(redis, binary, config.probeTimeout());
            } else {
                String line = String.join(" ", command);
                child = new CommandChild("'" + (line.length() > 60 ? line.substring(0, 57) + "..." : line) + "'",
                        command, output, workDir);
            }
            return child;
        }
    }
}
