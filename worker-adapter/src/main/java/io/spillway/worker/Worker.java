package io.spillway.worker;

import com.codahale.metrics.MetricRegistry;
import io.spillway.core.HealthState;
import io.spillway.core.QueueName;
import io.spillway.core.RedisConnection;
import io.spillway.core.internal.Arguments;
import io.spillway.worker.internal.Settings;
import io.spillway.worker.internal.WorkerRuntime;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Takes jobs from Redis queues and runs them with their {@link JobHandler}s, at least once, through
 * Redis crashes, hangs and restarts and through crashes of workers.
 *
 * <pre>{@code
 * Worker worker = Worker.builder()
 *         .redis(URI.create("redis://127.0.0.1:6379"))
 *         .queue("images")
 *         .handler("render", job -> render(job.id(), job.payload()))
 *         .concurrency(4)
 *         .build();
 * worker.start();
 * ...
 * worker.close();   // graceful: stops fetching, lets running jobs finish (bounded), hands back the rest
 * }</pre>
 *
 * <p>Contract:
 * <ul>
 *   <li>A fetched job is leased to this worker for {@link Builder#leaseDuration}; the lease is renewed
 *       while the handler runs, however long. A worker that dies loses its leases and other workers
 *       take its jobs once they expire.</li>
 *   <li>A handler that throws (or runs past {@link Builder#jobTimeout}) is retried per the
 *       {@link RetryPolicy}, then dead-lettered (see {@link DeadLetters}). A job of a type with no
 *       handler, or a record that cannot be decoded, is dead-lettered at once.</li>
 *   <li>While Redis is away no thread dies: fetching pauses, running jobs go on, and their outcomes
 *       are kept in a file under {@link Builder#stateDir} and sent to Redis before fetching resumes.</li>
 *   <li>A redelivered job whose status says completed is acked without running its handler.</li>
 * </ul>
 * Threading: {@link #start()} and {@link #close()} may be called from any thread; handlers run on the
 * worker's own threads ({@code concurrency} of them). A worker is started once; close is idempotent.
 *
 * <p>A started worker does not keep the JVM alive: its threads (fetch, timers, handlers) are daemons. In a plain
 * {@code main}, block on {@link #awaitClosed()}, and close the worker from a shutdown hook, so that a SIGTERM
 * (e.g. a container being stopped) hands its running jobs back instead of leaving them leased:
 *
 * <pre>{@code
 * public static void main(String[] args) throws InterruptedException {
 *     Worker worker = Worker.builder() ... .build();
 *     worker.start();
 *     Runtime.getRuntime().addShutdownHook(new Thread(worker::close, "spillway-worker-shutdown"));
 *     worker.awaitClosed();
 * }
 * }</pre>
 * On SIGTERM, {@code close()} waits up to {@link Builder#shutdownTimeout} for running jobs and hands back the rest.
 * Give the process a few seconds longer than that to stop: a container's grace period (Kubernetes'
 * {@code terminationGracePeriodSeconds} is 30 s by default, the same as the default shutdown timeout) must exceed
 * it, or the process is killed before close() hands the jobs back, and they wait out their lease before other
 * workers take them.
 */
public final class Worker implements AutoCloseable {
    /** Handler threads. */
    public static final int DEFAULT_CONCURRENCY = 1;
    /** How long a fetched job stays leased to this worker without a renewal. Renewed every third of it, at least every 10 s. */
    public static final Duration DEFAULT_LEASE = Duration.ofSeconds(30);
    /** How long {@link #close()} waits for running jobs before handing them back. */
    public static final Duration DEFAULT_SHUTDOWN_TIMEOUT = Duration.ofSeconds(30);
    /** A handler running longer than this has failed. */
    public static final Duration DEFAULT_JOB_TIMEOUT = Duration.ofHours(1);
    /** How long a completed job's status (and so its duplicate suppression) is kept. */
    public static final Duration DEFAULT_COMPLETED_RETENTION = Duration.ofHours(24);
    /** Most jobs taken by one fetch. */
    public static final int DEFAULT_FETCH_BATCH = 100;
    /** How long one fetch waits for new jobs in Redis (XREADGROUP BLOCK). */
    public static final Duration DEFAULT_FETCH_BLOCK = Duration.ofMillis(200);
    /** How often due delayed jobs and retries are moved into their queue. */
    public static final Duration DEFAULT_SCHEDULER_INTERVAL = Duration.ofMillis(250);
    /** A fetch loop with no progress for this long, while connected, rebuilds its connection. */
    public static final Duration DEFAULT_STUCK_AFTER = Duration.ofSeconds(10);
    /**
     * Longest lease, job timeout, shutdown timeout, completed retention and stuck-after accepted: a year.
     * Anything longer means "never" in practice, and far longer values overflow when converted to
     * milliseconds or nanoseconds.
     */
    private static final Duration MAX_DURATION = Duration.ofDays(365);
    /** Longest scheduler interval accepted: every retry and delayed job waits for the scheduler's next tick. */
    private static final Duration MAX_SCHEDULER_INTERVAL = Duration.ofHours(1);
    /** Longest fetch block accepted (XREADGROUP BLOCK): close() and the stuck check wait for one fetch. */
    private static final Duration MAX_FETCH_BLOCK = Duration.ofSeconds(10);
    /**
     * Where outcomes wait while Redis is away: {@code ${java.io.tmpdir}/spillway-worker-<user>}, made private (0700); one
     * that another user made first, or that others may write in, is refused. Use a persistent directory in production.
     */
    public static final Path DEFAULT_STATE_DIR = Path.of(System.getProperty("java.io.tmpdir"),
            "spillway-worker-" + System.getProperty("user.name", "user").replaceAll("[^A-Za-z0-9._-]", "_"));

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(Worker.class);
    /** Workers built and not closed, per registry: a second one on a registry is warned of. */
    private static final Map<MetricRegistry, Integer> OPEN_PER_REGISTRY = new java.util.WeakHashMap<>();

    private final Settings settings;
    private final WorkerRuntime runtime;
    private final java.util.concurrent.atomic.AtomicBoolean counted = new java.util.concurrent.atomic.AtomicBoolean(true);

    private Worker(Settings settings) {
        this.settings = settings;
        this.runtime = new WorkerRuntime(settings);
        synchronized (OPEN_PER_REGISTRY) {
            if (OPEN_PER_REGISTRY.merge(settings.metrics(), 1, Integer::sum) > 1) {
                // Its gauges (in flight, connection state, queue figures) now read this worker only, while its meters
                // and counters add up both: figures that do not match.
                log.warn("This MetricRegistry already holds the metrics of another open worker: its gauges now read worker"
                        + " {} only, its meters and counters count both; give each worker its own registry",
                        settings.consumerName());
            }
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * Connects (in the background: Redis need not be up) and starts fetching. Returns at once. A second call does
     * nothing.
     *
     * @throws IllegalStateException if the worker is closed: build a new one
     */
    public void start() {
        runtime.start();
    }

    /**
     * Graceful stop: no new fetches; running jobs get up to the shutdown timeout to finish, and their
     * outcomes are sent; jobs still running then are handed back to the queue and interrupted, so none
     * stays leased to this worker. A handler that ignores the interrupt cannot be stopped: its job may then
     * run twice (here and elsewhere), and a WARN names it; its thread runs on until the handler returns.
     * Idempotent.
     */
    @Override
    public void close() {
        try {
            runtime.close();
        } finally {
            if (counted.compareAndSet(true, false)) {
                synchronized (OPEN_PER_REGISTRY) {
                    OPEN_PER_REGISTRY.computeIfPresent(settings.metrics(), (r, n) -> n > 1 ? n - 1 : null);
                }
            }
        }
    }

    /**
     * Blocks until {@link #close()}, called from any thread (a shutdown hook, say), has finished; at once if it has.
     * The way to keep a plain {@code main} running while the worker works (see the class javadoc). A call on a
     * worker that is never closed blocks until interrupted.
     *
     * @throws InterruptedException if the waiting thread is interrupted
     */
    public void awaitClosed() throws InterruptedException {
        runtime.awaitClosed();
    }

    /**
     * {@link #awaitClosed()}, waiting at most {@code timeout}.
     *
     * @return whether {@link #close()} has finished
     * @throws InterruptedException if the waiting thread is interrupted
     * @throws IllegalArgumentException if {@code timeout} is null
     */
    public boolean awaitClosed(Duration timeout) throws InterruptedException {
        if (timeout == null) {
            throw new IllegalArgumentException("timeout must not be null");
        }
        return runtime.awaitClosed(saturatedNanos(timeout));
    }

    private static long saturatedNanos(Duration d) {
        try {
            return d.toNanos();
        } catch (ArithmeticException e) {
            return d.isNegative() ? Long.MIN_VALUE : Long.MAX_VALUE;
        }
    }

    /** This worker's consumer name in the consumer group (unique per worker instance). */
    public String name() {
        return settings.consumerName();
    }

    /** The queues it serves. */
    public List<String> queues() {
        return settings.queues().stream().map(QueueName::value).toList();
    }

    /** The connection as the reconnect loop sees it. */
    public HealthState health() {
        return runtime.health();
    }

    /**
     * Jobs fetched and not yet settled (running, timed out but not returned, or waiting for a handler thread),
     * plus, after {@link #close()}, handlers that ignored its interrupt and have not returned yet.
     */
    public int inFlight() {
        return runtime.inFlight();
    }

    /** Outcomes kept on local disk because Redis was away, not yet sent. */
    public int acksPendingLocally() {
        return runtime.acksPendingLocally();
    }

    /**
     * The registry this worker's metrics are in (the one given to {@link Builder#metricRegistry}, or its own): for a
     * reporter or the health checks of the metrics-reporter module. One registry per worker (a second open worker on a
     * registry is warned of: its gauges would read one worker, its meters both).
     */
    public MetricRegistry metrics() {
        return settings.metrics();
    }

    @Override
    public String toString() {
        return "Worker[" + settings.consumerName() + " " + queues() + " " + settings.redis() + "]";
    }

    /** Builds a {@link Worker}. Setters fail fast on bad values, naming the value. Not thread-safe. */
    public static final class Builder {
        private RedisConnection redis;
        private final List<QueueName> queues = new ArrayList<>();
        private final Map<String, JobHandler> handlers = new LinkedHashMap<>();
        private final Map<String, HandlerOptions> handlerOptions = new LinkedHashMap<>();
        private int concurrency = DEFAULT_CONCURRENCY;
        private int prefetch = -1;
        private RetryPolicy retry = RetryPolicy.ofDefaults();
        private Duration lease = DEFAULT_LEASE;
        private Duration shutdownTimeout = DEFAULT_SHUTDOWN_TIMEOUT;
        private Duration jobTimeout = DEFAULT_JOB_TIMEOUT;
        private Duration completedRetention = DEFAULT_COMPLETED_RETENTION;
        private int fetchBatch = DEFAULT_FETCH_BATCH;
        private Duration fetchBlock = DEFAULT_FETCH_BLOCK;
        private Duration schedulerInterval = DEFAULT_SCHEDULER_INTERVAL;
        private Duration stuckAfter = DEFAULT_STUCK_AFTER;
        private Path stateDir = DEFAULT_STATE_DIR;
        private String name;
        private MetricRegistry metrics;
        private boolean strictPriority;

        private Builder() {
        }

        /** Redis with default timeouts ({@link RedisConnection#of(URI)}). Required. */
        public Builder redis(URI uri) {
            this.redis = RedisConnection.of(Arguments.notNull(uri, "redis"));
            return this;
        }

        /** Redis with the connection's own settings (timeouts, TLS, Sentinel, Cluster). Required. */
        public Builder redis(RedisConnection connection) {
            this.redis = Arguments.notNull(connection, "redis");
            return this;
        }

        /** A queue to serve; call again (or use {@link #queues}) for several. At least one is required. */
        public Builder queue(String queue) {
            QueueName q = QueueName.of(queue);
            if (!queues.contains(q)) {
                queues.add(q);
            }
            return this;
        }

        /** Queues to serve, in addition to any named before; the same as {@link #queue} for each. */
        public Builder queues(String... names) {
            for (String n : Arguments.notNull(names, "queues")) {
                queue(n);
            }
            return this;
        }

        /**
         * Serves the queues in the order they were named: a job of a later queue is fetched only when none of an
         * earlier one is waiting (a later queue waits as long as earlier ones are busy: strict priority). Default
         * false: every queue gets an even share of each fetch. With several queues, a fetch round then makes one
         * non-blocking read per queue, in order, until it has enough jobs; only when all were empty does it block,
         * on all of them, as without it. Jobs already fetched ahead of free threads (the {@link #prefetch}) run before
         * an urgent job that arrives after them: {@code prefetch(0)} keeps the order at each free thread.
         *
         * <pre>{@code
         * Worker.builder().queues("critical", "default", "bulk").strictPriority(true) ...
         * }</pre>
         */
        public Builder strictPriority(boolean strict) {
            this.strictPriority = strict;
            return this;
        }

        /**
         * The handler of one job type (whatever its queue). At least one is required; one per type (a second
         * for the same type is refused, rather than silently replacing the first).
         */
        public Builder handler(String type, JobHandler handler) {
            return register(type, handler, null);
        }

        /**
         * The handler of one job type with settings of its own: a job timeout or retry policy that differ from the
         * worker's ({@link HandlerOptions}; what it leaves unset is the worker's). Otherwise as
         * {@link #handler(String, JobHandler)}.
         */
        public Builder handler(String type, JobHandler handler, HandlerOptions options) {
            return register(type, handler, Arguments.notNull(options, "options for type '" + type + "'"));
        }

        private Builder register(String type, JobHandler handler, HandlerOptions options) {
            if (Arguments.notNull(type, "handler type").isBlank()) {
                throw new IllegalArgumentException("handler type must be non-blank, but was '" + type + "'");
            }
            Arguments.notNull(handler, "handler for type '" + type + "'");
            if (handlers.containsKey(type)) {
                throw new IllegalArgumentException("handler for type '" + type + "' is already set: one handler per type");
            }
            handlers.put(type, handler);
            if (options != null) {
                handlerOptions.put(type, options);
            }
            return this;
        }

        /** Handler threads, 1 to 10,000. Default {@value #DEFAULT_CONCURRENCY}. */
        public Builder concurrency(int threads) {
            if (threads < 1 || threads > 10_000) {
                throw new IllegalArgumentException("concurrency must be between 1 and 10000, but was " + threads);
            }
            this.concurrency = threads;
            return this;
        }

        /**
         * Jobs fetched ahead of free handler threads, 0 to 10,000: a fixed number instead of the default.
         * Default: adaptive — about 20 ms of work is kept fetched ahead, from the average handler duration:
         * up to {@code max(concurrency, 200)} for sub-millisecond jobs (fewer, larger fetches), 0 for jobs
         * longer than {@code 20 ms × concurrency}, since a prefetched job waits here, leased, while another
         * worker could have run it. It starts at 0 and follows the first jobs. Threads running a job for longer
         * than 100 ms (or 4 × the average) do not count, and while all do, jobs that waited over 100 ms for a thread
         * are handed back to the queue for other workers. A fixed number keeps what it fetched until a thread is free.
         */
        public Builder prefetch(int jobs) {
            if (jobs < 0 || jobs > 10_000) {
                throw new IllegalArgumentException("prefetch must be between 0 and 10000, but was " + jobs);
            }
            this.prefetch = jobs;
            return this;
        }

        /** Runs in all and the wait between them. Default {@link RetryPolicy#ofDefaults()}. */
        public Builder retryPolicy(RetryPolicy policy) {
            this.retry = Arguments.notNull(policy, "retryPolicy");
            return this;
        }

        /** Lease of a fetched job, 1 s to 365 days. Default 30 s. */
        public Builder leaseDuration(Duration lease) {
            this.lease = between("leaseDuration", lease, Duration.ofSeconds(1), MAX_DURATION);
            return this;
        }

        /** How long {@link Worker#close()} waits for running jobs, 0 to 365 days. Default 30 s. */
        public Builder shutdownTimeout(Duration timeout) {
            if (Arguments.notNull(timeout, "shutdownTimeout").isNegative()) {
                throw new IllegalArgumentException("shutdownTimeout must be >= 0, but was " + timeout);
            }
            this.shutdownTimeout = between("shutdownTimeout", timeout, Duration.ZERO, MAX_DURATION);
            return this;
        }

        /**
         * Longest run of one handler call, 1 ms to 365 days; past it the run has failed and its thread is
         * interrupted. The failure (retry or dead letter) is recorded when the handler returns, so the job never
         * runs twice at once: a handler that ignores the interrupt keeps its thread and its job until it returns,
         * and no other job is fetched for that thread meanwhile. Default 1 h.
         */
        public Builder jobTimeout(Duration timeout) {
            this.jobTimeout = between("jobTimeout", timeout, Duration.ofMillis(1), MAX_DURATION);
            return this;
        }

        /** How long a completed job's status is kept, 1 s to 365 days. Default 24 h. */
        public Builder completedRetention(Duration retention) {
            this.completedRetention = between("completedRetention", retention, Duration.ofSeconds(1), MAX_DURATION);
            return this;
        }

        /** Most jobs per fetch, 1 to 10,000. Default {@value #DEFAULT_FETCH_BATCH}. */
        public Builder fetchBatchSize(int size) {
            if (size < 1 || size > 10_000) {
                throw new IllegalArgumentException("fetchBatchSize must be between 1 and 10000, but was " + size);
            }
            this.fetchBatch = size;
            return this;
        }

        /** How long one fetch blocks in Redis waiting for jobs, 1 ms to 10 s. Default 200 ms. */
        public Builder fetchBlock(Duration block) {
            this.fetchBlock = between("fetchBlock", block, Duration.ofMillis(1), MAX_FETCH_BLOCK);
            return this;
        }

        /** How often due delayed jobs are moved into the queue, 10 ms to 1 h. Default 250 ms. */
        public Builder schedulerInterval(Duration interval) {
            this.schedulerInterval = between("schedulerInterval", interval, Duration.ofMillis(10), MAX_SCHEDULER_INTERVAL);
            return this;
        }

        /** A fetch loop without progress this long (while connected) rebuilds its connection; 1 s to 365 days. Default 10 s. */
        public Builder stuckAfter(Duration after) {
            this.stuckAfter = between("stuckAfter", after, Duration.ofSeconds(1), MAX_DURATION);
            return this;
        }

        /** Directory for the outcomes kept while Redis is away. Default {@link #DEFAULT_STATE_DIR}. */
        public Builder stateDir(Path dir) {
            this.stateDir = Arguments.notNull(dir, "stateDir");
            return this;
        }

        /** A readable prefix of the consumer name (default: {@code <pid>-<host>}); a unique suffix is always added. */
        public Builder name(String prefix) {
            if (Arguments.notNull(prefix, "name").isBlank() || prefix.contains(" ")) {
                throw new IllegalArgumentException("name must be non-blank without spaces, but was '" + prefix + "'");
            }
            this.name = prefix;
            return this;
        }

        /** Where the worker's metrics go (names in {@code MetricNames}). Default: a private registry. */
        public Builder metricRegistry(MetricRegistry registry) {
            this.metrics = Arguments.notNull(registry, "metricRegistry");
            return this;
        }

        /**
         * Builds the worker (not started: {@link Worker#start()}). Nothing connects yet.
         *
         * @throws IllegalStateException if redis, a queue or a handler is missing (as {@code JobProducer.builder().build()}
         *     for its required settings)
         * @throws IllegalArgumentException if leaseDuration is under 1 s
         */
        public Worker build() {
            if (redis == null) {
                throw new IllegalStateException("redis must be set: Worker.builder().redis(URI.create(\"redis://host:6379\"))");
            }
            if (queues.isEmpty()) {
                throw new IllegalStateException("at least one queue must be set: Worker.builder().queue(\"name\")");
            }
            if (handlers.isEmpty()) {
                throw new IllegalStateException("at least one handler must be set: Worker.builder().handler(\"type\", job -> ...)");
            }
            if (lease.compareTo(Duration.ofSeconds(1)) < 0) {
                throw new IllegalArgumentException("leaseDuration must be >= 1 s, but was " + lease);
            }
            String prefix = name != null ? name : ManagementFactory.getRuntimeMXBean().getName().replace('@', '-');
            String consumer = prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
            return new Worker(new Settings(redis, queues, handlers, concurrency,
                    prefetch, retry, lease, shutdownTimeout, jobTimeout,
                    completedRetention, fetchBatch, fetchBlock, schedulerInterval, stuckAfter, stateDir, consumer,
                    metrics != null ? metrics : new MetricRegistry(), strictPriority, handlerOptions));
        }

        private static Duration between(String what, Duration d, Duration min, Duration max) {
            if (Arguments.notNull(d, what).compareTo(min) < 0) {
                throw new IllegalArgumentException(what + " must be >= " + min + ", but was " + d);
            }
            if (d.compareTo(max) > 0) {
                throw new IllegalArgumentException(what + " must be <= " + max + ", but was " + d);
            }
            return d;
        }
    }
}
