package io.spillway.metrics;

import com.codahale.metrics.Gauge;
import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.health.HealthCheckRegistry;
import io.spillway.core.MetricNames;
import io.spillway.core.RedisConnection;
import io.spillway.core.internal.Arguments;
import io.spillway.metrics.internal.JournalInspector;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One exporter per Redis rather than per application: reads queue state from a Redis ({@link QueueStats})
 * and the backlog of producer journal directories it is given, puts them in a registry of its own and
 * exports them through {@link SpillwayReporting}. The engine of {@code spillway report}.
 *
 * <p>What it registers: the per-queue gauges of {@link QueueStats}; for the journal directories, the
 * sums {@value MetricNames#JOURNAL_BACKLOG}, {@value MetricNames#JOURNAL_BACKLOG_BYTES}, the largest
 * {@value MetricNames#JOURNAL_OLDEST_AGE} (as of when it is read, from the oldest enqueue time the last read
 * found: it grows between reads), the per-queue {@code spillway.journal.backlog.jobs.<queue>},
 * {@value MetricNames#REPORT_JOURNALS_LOCKED} (directories held by a live producer, which exports them
 * itself: the sums leave them out, so that their jobs are not counted twice) and, when
 * {@link Builder#journalMaxBytes(long)} is given, {@value MetricNames#JOURNAL_MAX_BYTES}.
 * Health checks: {@code redis} ({@link RedisHealthCheck}) and, with journal directories, {@code journal}:
 * unhealthy while a directory is missing or cannot be read (its backlog is unknown, not zero; the message
 * names it and says why), else {@link JournalHealthCheck} with its defaults over every directory read, those a
 * live producer holds included (read read-only; the message says how many jobs wait in them, which their producer
 * replays itself), its fill comparing the fullest directory's backlog bytes with {@code journalMaxBytes} (a journal
 * does not record its producer's cap, so without it the fill is not checked).
 *
 * <p>Redis need not be up: the reporter starts and serves at once whatever it can reach. While Redis
 * cannot be reached (at start or later) the {@code redis} check is unhealthy ({@code Redis <uri> unreachable:
 * connection refused}), the journal figures are exported as usual, and the queue gauges keep their last
 * values, or are absent if Redis has not answered yet; queue reads are retried forever with backoff (see
 * {@link QueueStats}), and at once when the {@code redis} check finds Redis answering again.
 *
 * <p>Journal directories are read read-only (nothing is created or changed in them), under their lock
 * only for the moment of a read (a directory a live producer holds: without it), every
 * {@link Builder#journalRefreshEvery(Duration)} (default 30 s): a journal left behind by a dead
 * producer holds accepted jobs nobody will replay until a producer opens it again, and this is where an
 * operator sees them. A producer starting in the very moment of a read fails with
 * {@code JournalLockedException}; keep the refresh slow.
 *
 * <pre>{@code
 * try (StandaloneReporter reporter = StandaloneReporter.builder(URI.create("redis://10.0.0.5:6379"))
 *         .journalDir(Path.of("/var/lib/app/spillway"))
 *         .reporting(r -> r.prometheus("0.0.0.0", 9477).slf4j(Duration.ofMinutes(1)))
 *         .start()) {
 *     reporter.awaitClose();
 * }
 * }</pre>
 * Thread-safe.
 */
public final class StandaloneReporter implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(StandaloneReporter.class);
    public static final Duration DEFAULT_JOURNAL_REFRESH = Duration.ofSeconds(30);

    private final MetricRegistry registry;
    private final HealthCheckRegistry healthChecks = new HealthCheckRegistry();
    private final QueueStats queueStats;
    private final RedisHealthCheck redisCheck;
    private final List<Path> journalDirs;
    private final ScheduledExecutorService journalReader;
    private final SpillwayReporting reporting;
    private final CountDownLatch closed = new CountDownLatch(1);
    private volatile List<JournalInspector.Look> looks = List.of();
    private final Set<String> journalQueues = ConcurrentHashMap.newKeySet();
    /** The producers' journalMaxBytes, or -1 when not given. */
    private final long journalMaxBytes;

    private StandaloneReporter(Builder b) {
        this.registry = b.registry != null ? b.registry : new MetricRegistry();
        this.journalDirs = List.copyOf(b.journalDirs);
        this.journalMaxBytes = b.journalMaxBytes;
        this.queueStats = QueueStats.of(b.redis);
        this.redisCheck = RedisHealthCheck.of(b.redis);
        healthChecks.register("redis", new com.codahale.metrics.health.HealthCheck() {
            @Override
            protected Result check() {
                Result r = redisCheck.execute();
                if (r.isHealthy()) {
                    // Redis answers: the queue gauges need not wait for the end of their retry backoff.
                    queueStats.readSoon();
                }
                return r;
            }
        });
        ScheduledExecutorService reader = null;
        SpillwayReporting r = null;
        try {
            queueStats.registerGauges(registry, b.refreshEvery);
            if (!journalDirs.isEmpty()) {
                registerJournalGauges();
                // The first read here, not on the reader thread: until it, /health would call the journals empty.
                readJournals();
                healthChecks.register("journal", new JournalDirsHealthCheck());
                reader = Executors.newSingleThreadScheduledExecutor(t -> {
                    Thread th = new Thread(t, "spillway-report-journals");
                    th.setDaemon(true);
                    return th;
                });
                long every = b.journalRefreshEvery.toMillis();
                reader.scheduleWithFixedDelay(this::readJournals, every, every, TimeUnit.MILLISECONDS);
            }
            SpillwayReporting.Builder rb = SpillwayReporting.builder(registry).healthChecks(healthChecks);
            b.reporting.accept(rb);
            r = rb.start();
        } catch (RuntimeException e) {
            if (reader != null) {
                reader.shutdownNow();
            }
            queueStats.close();
            redisCheck.close();
            throw e;
        }
        this.journalReader = reader;
        this.reporting = r;
        log.info("StandaloneReporter reading {} and {} journal directories", b.redis.redacted(), journalDirs.size());
    }

    public static Builder builder(URI redis) {
        return builder(RedisConnection.of(redis));
    }

    public static Builder builder(RedisConnection redis) {
        return new Builder(redis);
    }

    /**
     * The journal gauges add up the directories no running producer holds: one that holds its directory exports its
     * own journal gauges, and counting its backlog here as well would count those jobs twice wherever the gauges of
     * every instance are summed (the dashboard's "nothing lost" accounting). The {@code journal} check reads them all.
     */
    private void registerJournalGauges() {
        register(MetricNames.JOURNAL_BACKLOG, () -> sum(JournalInspector.Look::backlog, false));
        register(MetricNames.JOURNAL_BACKLOG_BYTES, () -> sum(JournalInspector.Look::backlogBytes, false));
        register(MetricNames.JOURNAL_OLDEST_AGE, () -> oldestAgeMillis(false));
        register(MetricNames.REPORT_JOURNALS_LOCKED, () -> looks.stream().filter(JournalInspector.Look::locked).count());
        if (journalMaxBytes > 0) {
            register(MetricNames.JOURNAL_MAX_BYTES, () -> journalMaxBytes);
        }
    }

    /**
     * The {@code journal} check: a directory that is missing or cannot be read makes it unhealthy (summing it as
     * 0 would report jobs nobody can see as "journal empty"); otherwise the thresholds of
     * {@link JournalHealthCheck} over every directory read, those in use by a running producer included (read
     * read-only: their figures are those of the last read), the fill per directory, since the cap is per producer.
     * The message tells the jobs of directories in use by a running producer (which replays them itself once Redis
     * is healthy) from those of directories no producer has open (nothing replays them by itself); a directory in
     * use that could not be read has its backlog called unknown, never "journal empty".
     */
    private final class JournalDirsHealthCheck extends com.codahale.metrics.health.HealthCheck {
        private final JournalHealthCheck thresholds = JournalHealthCheck.builder(
                        () -> sum(JournalInspector.Look::backlog, true),
                        () -> oldestAgeMillis(true))
                .bytes(() -> looks.stream().filter(JournalInspector.Look::ok).mapToLong(JournalInspector.Look::backlogBytes).max().orElse(0),
                        () -> journalMaxBytes)
                .build();

        @Override
        protected Result check() {
            List<JournalInspector.Look> now = looks;
            Map<String, String> failed = new java.util.LinkedHashMap<>();
            for (JournalInspector.Look l : now) {
                if (l.failed()) {
                    failed.put(l.dir().toString(), l.status().equals("missing") ? "missing (no such directory)" : l.status());
                }
            }
            if (failed.isEmpty()) {
                Result r = thresholds.execute();
                long orphaned = sum(JournalInspector.Look::backlog, false);
                long live = now.stream().filter(l -> l.ok() && l.inUse()).mapToLong(JournalInspector.Look::backlog).sum();
                long liveDirs = now.stream().filter(l -> l.ok() && l.inUse()).count();
                List<JournalInspector.Look> unknown = now.stream().filter(l -> !l.ok() && l.inUse()).toList();
                Map<String, Object> inUse = new java.util.LinkedHashMap<>();
                now.stream().filter(JournalInspector.Look::inUse).forEach(l -> inUse.put(l.dir().toString(),
                        l.ok() ? (Object) l.backlog() : "unknown: " + l.problem()));
                if (orphaned + live == 0 && unknown.isEmpty()) {
                    return r;
                }
                java.util.StringJoiner parts = new java.util.StringJoiner("; ");
                if (live > 0) {
                    parts.add(live + " jobs in " + dirs(liveDirs) + " in use by a running producer (read read-only, as of"
                            + " the last read): that producer replays them itself once Redis is healthy");
                }
                if (!unknown.isEmpty()) {
                    parts.add("backlog unknown of " + dirs(unknown.size()) + " in use by a running producer (not read: "
                            + unknown.get(0).problem() + "): see that producer's metrics");
                }
                if (orphaned > 0) {
                    // Nothing replays these until a producer starts on them or someone runs 'journal replay'.
                    parts.add(orphaned + " jobs that no running producer has open: they wait for a producer started on"
                            + " the directory, or for 'spillway journal replay DIR'");
                }
                String said = (live + orphaned > 0 ? "journal holds " : "journal: ") + parts;
                ResultBuilder b = Result.builder().withMessage(r.isHealthy() ? said : r.getMessage() + "; " + said);
                if (r.isHealthy()) {
                    b.healthy();
                } else {
                    b.unhealthy();
                }
                r.getDetails().forEach(b::withDetail);
                if (!inUse.isEmpty()) {
                    b.withDetail("inUse", inUse);
                }
                return b.build();
            }
            java.util.StringJoiner which = new java.util.StringJoiner("; ");
            failed.forEach((dir, why) -> which.add(dir + ": " + why));
            return Result.builder().unhealthy()
                    .withMessage(failed.size() + " of " + now.size() + " journal director" + (now.size() == 1 ? "y" : "ies")
                            + " not read, backlog unknown: " + which)
                    .withDetail("unread", failed).build();
        }
    }

    private static String dirs(long n) {
        return n + " director" + (n == 1 ? "y" : "ies");
    }

    /**
     * The age now of the oldest job of the directories read, from its enqueue time as read: a job left behind ages
     * between reads too (an age computed at the read would stand still for {@code journalRefreshEvery}).
     * {@code inUseToo}: also the directories a running producer holds.
     */
    private long oldestAgeMillis(boolean inUseToo) {
        long now = System.currentTimeMillis();
        return looks.stream().filter(l -> l.ok() && (inUseToo || !l.inUse())).mapToLong(l -> l.oldestAgeMillis(now))
                .max().orElse(0);
    }

    /** {@code f} summed over the directories read; {@code inUseToo}: also those a running producer holds. */
    private long sum(java.util.function.ToLongFunction<JournalInspector.Look> f, boolean inUseToo) {
        return looks.stream().filter(l -> l.ok() && (inUseToo || !l.inUse())).mapToLong(f).sum();
    }

    private void register(String name, Gauge<Long> g) {
        registry.remove(name);
        registry.register(name, g);
    }

    private void readJournals() {
        try {
            List<JournalInspector.Look> now = new ArrayList<>();
            for (Path dir : journalDirs) {
                JournalInspector.Look l = JournalInspector.look(dir);
                if (l.failed()) {
                    log.warn("StandaloneReporter: journal {} not read: {}", dir, l.status());
                }
                now.add(l);
            }
            looks = List.copyOf(now);
            for (JournalInspector.Look l : now) {
                for (String q : l.backlogByQueue().keySet()) {
                    if (journalQueues.add(q)) {
                        register(MetricNames.perQueue(MetricNames.JOURNAL_BACKLOG, q), () -> looks.stream()
                                .filter(x -> !x.inUse()).mapToLong(x -> x.backlogByQueue().getOrDefault(q, 0L)).sum());
                    }
                }
            }
        } catch (RuntimeException e) {
            log.warn("StandaloneReporter: journal read failed: {}", e.toString());
        }
    }

    public MetricRegistry registry() {
        return registry;
    }

    public HealthCheckRegistry healthChecks() {
        return healthChecks;
    }

    public SpillwayReporting reporting() {
        return reporting;
    }

    /** Reads every queue now (for a one-shot {@code spillway report --once}). */
    public List<QueueSnapshot> queues() {
        return queueStats.read();
    }

    /**
     * The journal directories as last read: dir → status ("ok", "empty", "missing", "error: …"; "in use by a running
     * producer" for one a live producer holds) and backlog ("backlog unknown: …" for one in use that could not be read).
     */
    public Map<Path, String> journals() {
        Map<Path, String> out = new java.util.LinkedHashMap<>();
        for (JournalInspector.Look l : looks) {
            if (l.inUse()) {
                out.put(l.dir(), "in use by a running producer, " + (l.ok() ? "backlog " + l.backlog() + " jobs"
                        : "backlog unknown: " + l.problem()));
            } else {
                out.put(l.dir(), l.status() + (l.ok() ? ", backlog " + l.backlog() + " jobs" : ""));
            }
        }
        return out;
    }

    /** Blocks until {@link #close()} (from another thread or a shutdown hook). */
    public void awaitClose() throws InterruptedException {
        closed.await();
    }

    @Override
    public synchronized void close() {
        if (closed.getCount() == 0) {
            return;
        }
        reporting.close();
        if (journalReader != null) {
            journalReader.shutdownNow();
            try {
                journalReader.awaitTermination(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        queueStats.close();
        redisCheck.close();
        closed.countDown();
    }

    /**
     * A minimal entry point until the CLI wires {@code spillway report}:
     * {@code StandaloneReporter <redis-uri> [port] [journal-dir ...]}. Serves {@code /metrics} and
     * {@code /health} on 127.0.0.1 (port default {@value SpillwayReporting#DEFAULT_PORT}) until killed.
     */
    public static void main(String[] args) throws InterruptedException {
        if (args.length < 1) {
            System.err.println("usage: StandaloneReporter <redis-uri> [port] [journal-dir ...]");
            System.exit(2);
        }
        int port = args.length > 1 ? Integer.parseInt(args[1]) : SpillwayReporting.DEFAULT_PORT;
        Builder b = builder(URI.create(args[0])).reporting(r -> r.prometheus(port));
        for (int i = 2; i < args.length; i++) {
            b.journalDir(Path.of(args[i]));
        }
        StandaloneReporter reporter = b.start();
        Runtime.getRuntime().addShutdownHook(new Thread(reporter::close, "spillway-report-shutdown"));
        System.out.println("Serving " + reporter.reporting().uri() + "metrics and /health");
        reporter.awaitClose();
    }

    /** Configures a {@link StandaloneReporter}; setters fail fast. */
    public static final class Builder {
        private final RedisConnection redis;
        private final List<Path> journalDirs = new ArrayList<>();
        private Duration refreshEvery = QueueStats.DEFAULT_REFRESH;
        private Duration journalRefreshEvery = DEFAULT_JOURNAL_REFRESH;
        private MetricRegistry registry;
        private long journalMaxBytes = -1;
        private Consumer<SpillwayReporting.Builder> reporting = r -> { };

        private Builder(RedisConnection redis) {
            this.redis = Arguments.notNull(redis, "redis");
        }

        /** A producer journal directory to watch; may be given several times. */
        public Builder journalDir(Path dir) {
            journalDirs.add(Arguments.notNull(dir, "journalDir").toAbsolutePath());
            return this;
        }

        /**
         * The {@code journalMaxBytes} of the producers whose journals are read (a journal does not record it):
         * exported as {@value MetricNames#JOURNAL_MAX_BYTES}, and the {@code journal} check fails when a
         * directory's backlog bytes reach {@value JournalHealthCheck#DEFAULT_MAX_FILL} of it. Default: unknown,
         * not checked.
         */
        public Builder journalMaxBytes(long bytes) {
            if (bytes <= 0) {
                throw new IllegalArgumentException("journalMaxBytes must be > 0, but was " + bytes);
            }
            this.journalMaxBytes = bytes;
            return this;
        }

        /** How often queue figures are read from Redis (default 5 s). */
        public Builder refreshEvery(Duration d) {
            this.refreshEvery = positive("refreshEvery", d);
            return this;
        }

        /** How often journal directories are read (default 30 s). */
        public Builder journalRefreshEvery(Duration d) {
            this.journalRefreshEvery = positive("journalRefreshEvery", d);
            return this;
        }

        /** The registry to fill (default: a new one). */
        public Builder registry(MetricRegistry r) {
            this.registry = Arguments.notNull(r, "registry");
            return this;
        }

        /**
         * Chooses the reporters, e.g. {@code r -> r.prometheus(9477).csv(dir, Duration.ofMinutes(1))} (default: none, so no
         * {@code /metrics} or {@code /health} endpoint until one is chosen).
         */
        public Builder reporting(Consumer<SpillwayReporting.Builder> configure) {
            this.reporting = Arguments.notNull(configure, "reporting");
            return this;
        }

        public StandaloneReporter start() {
            return new StandaloneReporter(this);
        }

        private static Duration positive(String name, Duration d) {
            if (d == null || d.isZero() || d.isNegative()) {
                throw new IllegalArgumentException(name + " must be > 0, but was " + d);
            }
            return d;
        }
    }
}
