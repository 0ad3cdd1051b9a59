package io.spillway.worker.internal;

import static io.spillway.core.internal.RedisKeys.bytes;

import com.codahale.metrics.Counter;
import com.codahale.metrics.Gauge;
import com.codahale.metrics.Meter;
import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.Timer;
import io.spillway.core.HealthState;
import io.spillway.core.JobId;
import io.spillway.core.MetricNames;
import io.spillway.core.QueueName;
import io.spillway.core.RedisUnavailableException;
import io.spillway.core.SpillwayException;
import io.spillway.core.internal.Backoff;
import io.spillway.core.internal.Failures;
import io.spillway.core.internal.HealthMonitor;
import io.spillway.core.internal.JobCodec;
import io.spillway.core.internal.JobRecord;
import io.spillway.core.internal.RedisGateway;
import io.spillway.core.internal.RedisKeys;
import io.spillway.core.internal.StatusRecord;
import io.spillway.worker.JobHandler;
import io.spillway.worker.JobTimeoutException;
import io.spillway.worker.NonRetryableException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import redis.clients.jedis.StreamEntryID;
import redis.clients.jedis.params.XPendingParams;
import redis.clients.jedis.params.XReadGroupParams;
import redis.clients.jedis.resps.StreamEntryBinary;

/**
 * The machinery behind a {@code Worker}. Threads and what each does:
 * <ol>
 *   <li><b>fetch</b> ({@code spillway-fetch-<name>}): while connected and no outcome waits locally, and
 *       fewer than {@code concurrency + prefetch} jobs are in flight: reclaim expired leases of other
 *       workers (XAUTOCLAIM, every quarter lease; none for a lease or more after a reconnect, see
 *       {@link #takeoverHold()}), then XREADGROUP a batch with a short BLOCK; decode the
 *       batch, run the start script (marks active, finds completed ones) and hand the jobs to the
 *       handler pool.</li>
 *   <li><b>handlers</b> ({@code concurrency} threads): run a job's handler, turn its end into an
 *       {@link Outcome} (ack, retry, dead) and queue it for the acker.</li>
 *   <li><b>acker</b>: sends queued outcomes in batches (one ack script call per queue per batch). If
 *       Redis is away, appends them to the {@link AckLog} (fsynced) instead; those are flushed by the
 *       reconnect loop's recovery, before the circuit closes and so before any new fetch.</li>
 *   <li><b>timers</b> (one thread): lease renewal (every third of the lease, at least every 10 s), the scheduler (due
 *       delayed jobs into the stream), job timeouts, the stuck-fetch check, queue gauges and heartbeat, and
 *       with the adaptive prefetch its watch: threads held by long jobs, and hand-back of the jobs fetched
 *       ahead that wait behind them.</li>
 *   <li><b>reconnect</b> ({@link HealthMonitor}): probes with backoff and jitter; its recovery creates
 *       missing consumer groups, loads scripts, renews leases and flushes local outcomes.</li>
 * </ol>
 * On a Redis Cluster a call that finds its queue's master unavailable does not open the circuit: it pauses the queues
 * of that slot ({@link PausedSlots}), whose jobs are then neither fetched nor renewed and whose outcomes are kept
 * locally, while the other queues go on. The fetch thread checks a paused slot with backoff (its groups, its local
 * outcomes, its leases: the reconnect loop's recovery for one slot) and resumes it; when every slot of the worker is
 * paused the circuit opens and the reconnect loop takes over. Its probe passes once a master of one of the worker's
 * slots is healthy (a worker that starts while a master is down included): the recovery pauses the slots of the masters
 * that failed it, recovers the others and ends their pauses, and the paused ones are checked as above.
 * Invariants: a job is in {@link #active} from fetch until its outcome is queued, and only then stops
 * being renewed; exactly one outcome is produced per fetched entry ({@link Active#settled}); the outcome of
 * a run past its timeout is produced when its handler returns, so a job is never retried while a run of it
 * goes on here; a job counts in {@link #inFlight} until its handler thread is free again, which for a
 * handler still running when {@code close()} hands its job back is later than its outcome
 * ({@link Active#slotFreed}); one fetch round leases at most the free capacity; no thread exits on a Redis
 * failure.
 */
public final class WorkerRuntime {
    private static final Logger log = LoggerFactory.getLogger(WorkerRuntime.class);
    private static final byte[] GROUP = bytes(RedisKeys.GROUP);
    private static final int SCHEDULE_LIMIT = 1000;
    private static final int SCRIPT_CHUNK = 500;
    private static final byte[] PENDING_START = bytes("0-0");
    /**
     * XAUTOCLAIM calls per queue per takeover round. Redis looks at no more than COUNT × 10 pending entries
     * per call, so this bounds a round's work; the scan goes on from where it stopped in the next round.
     */
    private static final int RECLAIM_CALLS = 10;
    /** How long a handler may take to return after its timeout interrupted it before we call it stuck. */
    private static final long IGNORED_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(1);
    /** How often the adaptive prefetch is told of held threads, and the jobs waiting behind them are looked at. */
    private static final long WATCH_PREFETCH_MS = 50;
    /**
     * Ceiling of converted durations: far beyond any real setting (the builder stops at a year), and low
     * enough that {@code System.nanoTime() + it} never overflows.
     */
    private static final long MAX_NANOS = Long.MAX_VALUE / 4;
    /** The reconnect loop's backoff: 100 ms doubling to this cap, full jitter. */
    private static final Duration RECONNECT_MAX_BACKOFF = Duration.ofSeconds(5);

    private final Settings s;
    private final String name;
    private final RedisGateway gateway;
    private final HealthMonitor monitor;
    private final AckLog ackLog;
    private final ExecutorService handlers;
    private final ScheduledExecutorService timers;
    private final Map<String, Active> active = new ConcurrentHashMap<>();
    /**
     * The latest progress of each job whose handler reported one since it was last written to Redis ({@code Job.progress}),
     * by its progress key: written by {@link #writeProgress} about once a second, an entry removed once Redis took its
     * value (a newer value stays). Bounded by {@link #MAX_PROGRESS_PENDING}; nothing else holds the jobs.
     */
    private final Map<String, String> progressToWrite = new ConcurrentHashMap<>();
    private volatile long progressWarnedAt = System.nanoTime() - TimeUnit.MINUTES.toNanos(2);
    /**
     * Checkpoints Redis did not take when a handler saved them ({@code Job.checkpoint}), and the deletes of completed
     * jobs' checkpoints, by checkpoint key: written by {@link #writeCheckpoints} about once a second while connected,
     * an entry removed once Redis took it (a newer one stays). Bounded by {@link #MAX_PROGRESS_PENDING}.
     */
    private final Map<String, PendingCheckpoint> checkpointsToWrite = new ConcurrentHashMap<>();
    private volatile long checkpointsWarnedAt = System.nanoTime() - TimeUnit.MINUTES.toNanos(2);
    private final AtomicInteger inFlight = new AtomicInteger();
    private final Object capacity = new Object();
    private final AdaptivePrefetch prefetch;
    private final LinkedBlockingQueue<Outcome> outcomes = new LinkedBlockingQueue<>();
    private final Object localLock = new Object();
    private final List<Outcome> localPending = new ArrayList<>();
    private final AtomicInteger localCount = new AtomicInteger();
    private final Map<String, QueueName> byStream = new LinkedHashMap<>();
    private final List<String> streams;
    /** Fetch thread only: the stream the next round-robin fetch starts with (when free slots < queues). */
    private int nextStream;
    /** Fetch thread only: per queue, where the next XAUTOCLAIM goes on in the pending-entries list. */
    private final Map<QueueName, byte[]> reclaimFrom = new HashMap<>();
    /**
     * Fetch thread only: per queue, the newest stream entry this worker received (from a read or a takeover). Every
     * entry it knows is at most this one, so an entry leased to it (in its pending-entries list) that is newer was
     * delivered in a reply it never got.
     */
    private final Map<QueueName, StreamEntryID> newestSeen = new HashMap<>();
    /**
     * Fetch thread only: queues whose last read or takeover failed, so that its reply may have been lost with its
     * connection: their entries newer than {@link #newestSeen} are taken back ({@link #takeBackUnseen}) before the next
     * read, instead of waiting out their lease.
     */
    private final Set<QueueName> maybeUnseen = new java.util.LinkedHashSet<>();
    /**
     * Fetch thread only: per queue, the token of a takeover call that failed, whose reply may have been lost with its
     * connection: what it claimed is leased to this worker, unseen. takeover.lua notes what each call claimed under
     * its token; {@link #takeBackClaimed} finds them from that note before the next read.
     */
    private final Map<QueueName, String> takeoverUnanswered = new HashMap<>();
    /** Fetch thread only: tokens of takeover calls. */
    private long takeoverCalls;
    /** Jobs fetched whose start check Redis did not answer ({@link #startChecked}): not run before it has. */
    private final java.util.concurrent.ConcurrentLinkedQueue<Active> awaitingStart =
            new java.util.concurrent.ConcurrentLinkedQueue<>();
    /** Jobs whose handler was interrupted at its timeout and has not returned yet (each holds its thread). */
    private final Set<Active> overdue = ConcurrentHashMap.newKeySet();
    /** The longest job timeout of any type: progress is kept that long past the completed retention. */
    private final long longestJobTimeoutNanos;
    private final Map<QueueName, long[]> sampled = new ConcurrentHashMap<>();
    /**
     * Queues an operator has paused ({@code Queues.pause}): no new job is taken from them. Read with the queue figures
     * every second, and once before the first fetch ({@link #heldKnown}).
     */
    private final Set<QueueName> held = ConcurrentHashMap.newKeySet();
    private volatile boolean heldKnown;
    /** Cluster only: the slots of this worker's queues whose master failed a call (the other queues go on). */
    private final PausedSlots paused;
    /** Queues whose jobs were waiting while fetches came back empty: their group is rewound on recovery. */
    private final java.util.Set<QueueName> starvedQueues = ConcurrentHashMap.newKeySet();
    private final AtomicBoolean started = new AtomicBoolean();
    private final AtomicBoolean closed = new AtomicBoolean();
    /** Counted down when close() has finished (the first call; later ones return at once). */
    private final CountDownLatch stopped = new CountDownLatch(1);
    private volatile boolean fetching;
    private volatile boolean draining;
    private volatile boolean ackerStop;
    /** The fetch thread is in a read (or takeover) asked with the free capacity of its start. */
    private volatile boolean reading;
    private volatile long lastFetchProgress = System.nanoTime();
    /** The last ACL refusal logged at ERROR, and when: the same one is repeated at most once a minute. */
    private volatile String refusalSaid;
    private volatile long refusalSaidAt;
    private volatile long lastNonEmptyFetch = System.nanoTime();
    private volatile long lastReclaim;
    /**
     * No takeover before this (nanoTime): each reconnect (the recovery before the circuit closes; the first connect only
     * if Redis did not answer the first probe) sets it one {@link #takeoverHold()} ahead. Redis counts time it was frozen
     * or down as idle time (a restart from its AOF restores the delivery times), so right after an outage every lease
     * looks expired, live owners' too: they renew theirs, and send the outcomes they kept, in their own recovery, which
     * may come up to a backoff later.
     */
    private volatile long takeoverFrom = System.nanoTime();
    /** Fetch thread only: when {@link #reclaim(int)} last asked the {@link PauseWatch} (nanoTime). */
    private long pauseCheckedAt = System.nanoTime();
    /** This worker has connected (recovered) before: every later connect comes after an outage. */
    private volatile boolean connectedBefore;
    /** Cluster only: the same, per queue of a paused slot that resumed (its master was away). */
    private final Map<QueueName, Long> queueTakeoverFrom = new ConcurrentHashMap<>();
    /** When every queue's figures were last read (nanoTime), 0 before the first read. */
    private volatile long sampledAt;
    /** Timers thread only: when this worker last wrote its heartbeat into its queues' workers sets (epoch ms; 0: never). */
    private long heartbeatAt;
    /** Timers thread only: when the consumers long gone from its queues' groups were last looked for (epoch ms; 0: never). */
    private long forgottenAt;
    /**
     * Per queue: when (nanoTime, taken before the read) a sample found its delayed set empty; absent once one found jobs
     * there. The scheduler leaves such a queue alone ({@link #mayHaveDueJobs}).
     */
    private final Map<QueueName, Long> delayedEmptyAt = new ConcurrentHashMap<>();
    /** Per queue: when (nanoTime) a retry of this worker last reached the delayed set (retry.lua answered). */
    private final Map<QueueName, Long> retriedAt = new ConcurrentHashMap<>();
    /**
     * Per queue: when (nanoTime, taken before the read) a sample found no pending entry in its group; absent once one
     * found some, and cleared at each recovery. The takeover leaves such a queue alone ({@link #nothingToTakeOver}).
     */
    private final Map<QueueName, Long> noPendingAt = new ConcurrentHashMap<>();
    /** Timers thread only: when {@link #watchPrefetch()} last ran. */
    private long lastPrefetchWatch = System.nanoTime();
    private Thread fetchThread;
    private Thread ackThread;

    private final Meter fetched;
    private final Meter completed;
    private final Meter failed;
    private final Meter retried;
    private final Meter dead;
    private final Meter redeliveries;
    private final Meter skippedCompleted;
    private final Meter skippedCancelled;
    private final Counter leaseRenewals;
    private final Counter leasesLost;
    private final Timer handlerDuration;

    public WorkerRuntime(Settings settings) {
        this.s = settings;
        this.name = settings.consumerName();
        this.prefetch = new AdaptivePrefetch(settings.concurrency(), settings.prefetch());
        MetricRegistry m = settings.metrics();
        this.fetched = m.meter(MetricNames.FETCHED);
        this.completed = m.meter(MetricNames.COMPLETED);
        this.failed = m.meter(MetricNames.FAILED);
        this.retried = m.meter(MetricNames.RETRIED);
        this.dead = m.meter(MetricNames.DEAD_LETTERED);
        this.redeliveries = m.meter(MetricNames.REDELIVERIES);
        this.skippedCompleted = m.meter(MetricNames.SKIPPED_COMPLETED);
        this.skippedCancelled = m.meter(MetricNames.SKIPPED_CANCELLED);
        this.leaseRenewals = m.counter(MetricNames.LEASE_RENEWALS);
        this.leasesLost = m.counter(MetricNames.LEASES_LOST);
        this.handlerDuration = m.timer(MetricNames.HANDLER_DURATION);
        gauge(m, MetricNames.IN_FLIGHT, inFlight::get);
        gauge(m, MetricNames.ACKS_PENDING, () -> localCount.get() + outcomes.size());
        // The queue gauges of metrics-reporter's QueueStats, for this worker's queues: the same figures, read every second.
        for (QueueName q : settings.queues()) {
            byStream.put(RedisKeys.stream(q), q);
            long[] v = new long[5];
            sampled.put(q, v);
            gauge(m, MetricNames.perQueue(MetricNames.QUEUE_DEPTH, q.value()), () -> v[0]);
            gauge(m, MetricNames.perQueue(MetricNames.QUEUE_IN_FLIGHT, q.value()), () -> v[1]);
            gauge(m, MetricNames.perQueue(MetricNames.QUEUE_DELAYED, q.value()), () -> v[2]);
            gauge(m, MetricNames.perQueue(MetricNames.QUEUE_DEAD, q.value()), () -> v[3]);
            gauge(m, MetricNames.perQueue(MetricNames.QUEUE_WORKERS, q.value()), () -> v[4]);
        }
        gauge(m, MetricNames.QUEUE_STATS_AGE, () -> {
            long at = sampledAt;
            return at == 0 ? -1L : Math.max(0, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - at));
        });
        this.streams = List.copyOf(byStream.keySet());
        this.longestJobTimeoutNanos = nanos(settings.longestJobTimeout());
        boolean defaultDir = settings.stateDir().equals(io.spillway.worker.Worker.DEFAULT_STATE_DIR);
        if (defaultDir) {
            try {
                // In the shared temp directory: one another user made first is refused (forged outcomes, planted links).
                io.spillway.core.internal.PrivateDirectory.ensureOwn(settings.stateDir());
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException("Cannot make the worker state directory " + settings.stateDir(), e);
            }
        }
        this.ackLog = AckLog.open(settings.stateDir(), AckLog.scopeOf(settings.redis()));
        if (defaultDir) {
            log.warn("Worker {}: job outcomes kept while Redis is away go to the default state directory {}, a temporary"
                    + " one that a reboot may empty: set stateDir to a persistent directory", name, settings.stateDir());
        }
        List<Outcome> left = ackLog.readAll();
        left.addAll(ackLog.adoptOrphans());
        if (!left.isEmpty()) {
            localPending.addAll(left);
            localCount.set(localPending.size());
            log.info("Worker {}: {} job outcomes left in {} by an earlier run will be sent to Redis first", name,
                    left.size(), ackLog.file());
        }
        Duration maxBlock = settings.fetchBlock().plus(Duration.ofMillis(100));
        this.gateway = new RedisGateway(settings.redis(), "worker", Math.max(8, Math.min(64, settings.concurrency() + 6)),
                maxBlock, m);
        gateway.drainWhenFull();
        this.paused = new PausedSlots(settings.redis().cluster(), settings.queues(),
                new Backoff(Duration.ofMillis(100), Duration.ofSeconds(5)));
        if (paused.enabled()) {
            gateway.isolateSlots(paused.slots());
        }
        gauge(m, MetricNames.QUEUES_PAUSED, paused::pausedQueues);
        gauge(m, MetricNames.QUEUES_HELD, held::size);
        // Per queue (0/1), so that what reads the registry can tell which queues are paused, not only how many
        // (WorkerProgressHealthCheck names them, and leaves out exactly their waiting jobs).
        for (QueueName q : settings.queues()) {
            gauge(m, MetricNames.perQueue(MetricNames.QUEUES_PAUSED, q.value()), () -> paused.isPaused(q) ? 1 : 0);
            gauge(m, MetricNames.perQueue(MetricNames.QUEUES_HELD, q.value()), () -> held.contains(q) ? 1 : 0);
        }
        this.monitor = new HealthMonitor(gateway, new Backoff(Duration.ofMillis(100), RECONNECT_MAX_BACKOFF), this::recover, m);
        this.handlers = new ThreadPoolExecutor(settings.concurrency(), settings.concurrency(), 0, TimeUnit.MILLISECONDS,
                new LinkedBlockingQueue<>(), threads("spillway-handler-" + name, true)); // daemons, as every thread of a worker: docs/worker.md, "In a plain main"
        ScheduledThreadPoolExecutor t = new ScheduledThreadPoolExecutor(1, threads("spillway-timers-" + name, true));
        t.setRemoveOnCancelPolicy(true);
        this.timers = t;
    }

    private static void gauge(MetricRegistry m, String metric, Gauge<?> g) {
        m.remove(metric);
        m.register(metric, g);
    }

    private static ThreadFactory threads(String prefix, boolean daemon) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread th = new Thread(r, prefix + "-" + n.incrementAndGet());
            th.setDaemon(daemon);
            return th;
        };
    }

    public void start() {
        if (closed.get()) {
            throw new IllegalStateException("Worker " + name + " is closed; build a new one");
        }
        if (!started.compareAndSet(false, true)) {
            return;
        }
        fetching = true;
        monitor.start();
        ackThread = new Thread(this::ackLoop, "spillway-acker-" + name);
        ackThread.setDaemon(true);
        ackThread.start();
        fetchThread = new Thread(this::fetchLoop, "spillway-fetch-" + name);
        fetchThread.setDaemon(true);
        fetchThread.start();
        long lease = millis(s.lease());
        schedule(this::renewLeases, renewEveryMillis(lease));
        schedule(this::runScheduler, millis(s.schedulerInterval()));
        schedule(this::checkTimeouts, Math.max(10, Math.min(1000, millis(s.shortestJobTimeout()) / 10)));
        schedule(this::sampleAndHeartbeat, 1000);
        schedule(this::writeProgress, PROGRESS_WRITE_MS);
        schedule(this::writeCheckpoints, PROGRESS_WRITE_MS);
        PauseWatch.JVM.start();
        schedule(this::checkStuck, 1000);
        if (prefetch.adaptive()) {
            schedule(this::watchPrefetch, WATCH_PREFETCH_MS);
        }
        log.info("Worker {} started: queues {}, concurrency {}, lease {}, Redis {}", name, s.queues(), s.concurrency(),
                s.lease(), s.redis());
    }

    /** A duration in milliseconds, saturated rather than overflowing (settings past the builder's bounds). */
    static long millis(Duration d) {
        return TimeUnit.NANOSECONDS.toMillis(nanos(d));
    }

    /** A duration in nanoseconds, saturated at {@link #MAX_NANOS} so that deadlines never wrap. */
    static long nanos(Duration d) {
        if (d.isNegative()) {
            return 0;
        }
        return d.getSeconds() >= MAX_NANOS / 1_000_000_000L ? MAX_NANOS : d.toNanos();
    }

    private void schedule(Runnable task, long periodMs) {
        timers.scheduleWithFixedDelay(() -> {
            try {
                task.run();
            } catch (RedisUnavailableException e) {
                // The reconnect loop has it; the next tick tries again.
            } catch (RuntimeException e) {
                if (Failures.isPermissionDenied(e)) {
                    refused("a background task (lease renewal, delayed jobs or queue figures)", e);
                } else {
                    log.warn("Worker {}: background task failed (it will run again): {}", name, Failures.describe(e));
                }
            } catch (Error e) {
                // Thrown out of here it would cancel the task for good (lease renewals, timeouts): as HealthMonitor.
                log.error("Worker {}: background task failed (it will run again): {}", name, e, e);
            }
        }, periodMs, periodMs, TimeUnit.MILLISECONDS);
    }

    public HealthState health() {
        return monitor.state();
    }

    public int inFlight() {
        return inFlight.get();
    }

    public int acksPendingLocally() {
        return localCount.get();
    }

    // ---- fetch -------------------------------------------------------------------------------------

    private void fetchLoop() {
        while (fetching) {
            lastFetchProgress = System.nanoTime();
            try {
                // On a cluster the outcomes kept locally are those of paused slots: each slot's check sends its own.
                if (gateway.isOpen() || (localCount.get() > 0 && !paused.enabled())) {
                    monitor.awaitConnected(100, TimeUnit.MILLISECONDS);
                    continue;
                }
                checkPausedSlots();
                if (!heldKnown) {
                    readHeld();
                }
                if (!awaitingStart.isEmpty()) {
                    retryStartChecks();
                }
                int free = awaitCapacity();
                if (free <= 0) {
                    continue;
                }
                reading = true;
                try {
                    if (!maybeUnseen.isEmpty()) {
                        free -= takeBackUnseen(free);
                        if (free <= 0 || maybeUnseen.stream().anyMatch(q -> !paused.isPaused(q) && !held.contains(q))) {
                            continue; // more to take back first: a read now would hide them behind newer entries
                        }
                    }
                    long now = System.nanoTime();
                    if (now - lastReclaim > TimeUnit.MILLISECONDS.toNanos(Math.max(250, millis(s.lease()) / 4))) {
                        lastReclaim = now;
                        free -= reclaim(free);
                        if (free <= 0) {
                            continue;
                        }
                    }
                    fetch(Math.min(free, s.fetchBatch()));
                } finally {
                    reading = false;
                }
            } catch (InterruptedException e) {
                if (!fetching) {
                    return;
                }
            } catch (RedisUnavailableException e) {
                // Logged once by the reconnect loop; wait for it.
            } catch (SpillwayException e) {
                if (String.valueOf(e.getMessage()).contains("NOGROUP")) {
                    try {
                        ensureGroups();
                    } catch (RuntimeException again) {
                        // Thrown from here it would end this thread: the next round meets NOGROUP again and retries.
                        log.debug("Worker {}: could not make the consumer groups: {}", name, Failures.describe(again));
                        pause(100);
                    }
                } else if (Failures.isPermissionDenied(e)) {
                    // An ACL refuses this user the fetch: jobs wait in Redis; nothing to do but say so and try again.
                    refused("the fetch", e);
                    pause(REFUSED_PAUSE_MS);
                } else {
                    log.warn("Worker {}: fetch failed: {}", name, Failures.describe(e));
                    pause(100);
                }
            } catch (RuntimeException e) {
                log.error("Worker {}: fetch loop error (it keeps running): {}", name, Failures.describe(e), e);
                pause(100);
            } catch (Error e) {
                // An OutOfMemoryError, a StackOverflowError: this thread must outlive it, or no job is fetched again.
                log.error("Worker {}: fetch loop error (it keeps running): {}", name, e, e);
                pause(100);
            }
        }
    }

    /** How long the fetch waits after an ACL refusal before it tries again. */
    private static final long REFUSED_PAUSE_MS = 1_000;

    /**
     * Redis's ACL refuses this worker's user a command or key: one ERROR line with what to check, repeated at most once
     * a minute while the same refusal goes on (the worker keeps trying: it works as soon as the rule is granted).
     */
    private void refused(String what, RuntimeException e) {
        String cause = Failures.describe(e);
        long now = System.nanoTime();
        if (!cause.equals(refusalSaid) || now - refusalSaidAt > TimeUnit.MINUTES.toNanos(1)) {
            refusalSaid = cause;
            refusalSaidAt = now;
            String user = gateway.connection().user() != null ? "user '" + gateway.connection().user() + "'" : "the default user";
            log.error("Worker {}: Redis refused {} to its user ({}): {}; grant {} the ACL rules for a worker listed in"
                    + " docs/operations.md (Managed Redis) (it keeps trying; jobs wait in Redis meanwhile)", name, what,
                    gateway.connection(), cause, user);
        } else {
            log.debug("Worker {}: Redis refused {}: {}", name, what, cause);
        }
    }

    private static void pause(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Handler threads plus the prefetch of the moment (fixed, or adapted to how long jobs take). */
    private int maxInFlight() {
        return s.concurrency() + prefetch.current();
    }

    private int awaitCapacity() throws InterruptedException {
        synchronized (capacity) {
            int free = maxInFlight() - inFlight.get();
            if (free <= 0) {
                capacity.wait(100);
                free = maxInFlight() - inFlight.get();
            }
            return free;
        }
    }

    /**
     * Leases at most {@code count} new jobs. XREADGROUP's COUNT applies to each stream it names, so one call
     * over k streams can bring k × COUNT jobs: with at least as many free slots as queues every stream is
     * read at once with COUNT {@code count / k}; with fewer, only {@code count} streams are read at a time
     * with COUNT 1, round robin — first a pass over all of them without blocking, so a job waiting in any
     * queue is found in this round, and only when all were empty one blocking read on the next ones. With strict
     * priority, first one non-blocking read per queue in order, each for the jobs still wanted.
     */
    private void fetch(int count) {
        List<String> live = streams;
        if (paused.pausedQueues() > 0 || !held.isEmpty()) {
            live = streams.stream().filter(st -> !paused.isPaused(byStream.get(st)) && !held.contains(byStream.get(st)))
                    .toList();
            if (live.isEmpty()) {
                // every queue paused (a slot's master down: the circuit opens, or a check resumes one; or by an
                // operator: the next read of the flags may resume one)
                pause(held.isEmpty() ? 100 : millis(s.fetchBlock()));
                return;
            }
        }
        int k = live.size();
        long block = millis(s.fetchBlock());
        if (s.strictPriority() && k > 1) {
            // In the order the queues were named, each read for what is still wanted; the first that has jobs may
            // fill the round. Only when every queue was empty does the round block, as below.
            int left = count;
            for (String stream : live) {
                left -= read(List.of(stream), left, 0);
                if (left <= 0) {
                    return;
                }
            }
            if (left < count) {
                return;
            }
        }
        if (count >= k) {
            read(live, count / k, block);
            return;
        }
        for (int pass = (k + count - 1) / count; pass > 0; pass--) {
            if (read(nextStreams(live, count), 1, 0) > 0) {
                return;
            }
        }
        read(nextStreams(live, count), 1, block);
    }

    private List<String> nextStreams(List<String> from, int n) {
        List<String> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            nextStream = nextStream % from.size();
            out.add(from.get(nextStream));
            nextStream = (nextStream + 1) % from.size();
        }
        return out;
    }

    /**
     * {@link #readOnce} over {@code names}; on a Redis Cluster, whose XREADGROUP takes the streams of one slot only,
     * once per slot without blocking, then (when all were empty) one blocking read of one slot's streams in turn, for
     * at most {@value #CLUSTER_BLOCK_MS} ms so that a job arriving in another slot waits no longer than that.
     */
    private int read(List<String> names, int perStream, long blockMs) {
        if (gateway.connection().cluster() && names.size() > 1) {
            Map<Integer, List<String>> bySlot = new LinkedHashMap<>();
            for (String stream : names) {
                bySlot.computeIfAbsent(redis.clients.jedis.util.JedisClusterCRC16.getSlot(stream), k -> new ArrayList<>())
                        .add(stream);
            }
            if (bySlot.size() > 1) {
                int n = 0;
                for (List<String> group : bySlot.values()) {
                    n += readSlot(group, perStream, 0);
                }
                if (n > 0 || blockMs <= 0) {
                    return n;
                }
                List<List<String>> groups = new ArrayList<>(bySlot.values());
                List<String> group = groups.get(Math.floorMod(nextSlotGroup++, groups.size()));
                return readSlot(group, perStream, Math.min(blockMs, CLUSTER_BLOCK_MS));
            }
        }
        return readSlot(names, perStream, blockMs);
    }

    /** {@link #readOnce} of one slot's streams; on a cluster, its master found unavailable pauses that slot: 0 read. */
    private int readSlot(List<String> names, int perStream, long blockMs) {
        try {
            return readOnce(names, perStream, blockMs);
        } catch (RedisUnavailableException e) {
            if (!pauseSlot(byStream.get(names.get(0)), e)) {
                throw e;
            }
            return 0;
        }
    }

    /** The longest blocking read of one slot's streams when a cluster worker's queues span several slots. */
    private static final long CLUSTER_BLOCK_MS = 100;
    /** Which slot's streams the next blocking read of a cluster worker waits on (fetch thread only). */
    private int nextSlotGroup;

    /** One XREADGROUP over {@code names}, COUNT {@code perStream}, blocking up to {@code blockMs} (0: not at all). Returns the jobs read. */
    private int readOnce(List<String> names, int perStream, long blockMs) {
        Map<byte[], StreamEntryID> from = new LinkedHashMap<>();
        for (String stream : names) {
            from.put(bytes(stream), StreamEntryID.XREADGROUP_UNDELIVERED_ENTRY);
        }
        XReadGroupParams params = XReadGroupParams.xReadGroupParams().count(perStream);
        if (blockMs > 0) {
            params.block((int) blockMs);
        }
        List<Map.Entry<byte[], List<StreamEntryBinary>>> res;
        Map<QueueName, StreamEntryID> before = new HashMap<>();
        for (String stream : names) {
            QueueName q = byStream.get(stream);
            before.put(q, newestSeen.getOrDefault(q, new StreamEntryID(0, 0)));
        }
        int[] sends = {0};
        try {
            res = gateway.execute(c -> {
                sends[0]++;
                return c.xreadGroupBinary(GROUP, bytes(name), params, from);
            });
        } catch (RuntimeException e) {
            for (String stream : names) {
                maybeUnseen.add(byStream.get(stream));
            }
            throw e;
        }
        Map<QueueName, Set<String>> received = new HashMap<>();
        int n = 0;
        if (res != null && !res.isEmpty()) {
            lastNonEmptyFetch = System.nanoTime();
            for (Map.Entry<byte[], List<StreamEntryBinary>> e : res) {
                QueueName q = byStream.get(new String(e.getKey(), StandardCharsets.UTF_8));
                List<Fetched> batch = new ArrayList<>(e.getValue().size());
                for (StreamEntryBinary entry : e.getValue()) {
                    batch.add(new Fetched(entry.getID().toString(), field(entry.getFields())));
                    seen(q, entry.getID());
                    received.computeIfAbsent(q, k -> new java.util.HashSet<>()).add(entry.getID().toString());
                }
                n += batch.size();
                dispatch(q, batch, false);
            }
        }
        if (sends[0] > 1) {
            // The gateway sent the read again on a fresh connection: the first send may have run and lost its reply
            // with its connection, leasing entries to this worker that this reply, of the second send, does not hold
            // (older than the ones it does). Taken back now, not left to wait out their lease.
            for (Map.Entry<QueueName, StreamEntryID> b : before.entrySet()) {
                n += takeBackAfterRetry(b.getKey(), b.getValue(), received.getOrDefault(b.getKey(), Set.of()), perStream);
            }
        }
        return n;
    }

    /**
     * After a read sent twice: the entries of {@code q} leased to this worker after {@code after} (the newest it had
     * received before the read) that the second send's reply did not hold ({@code received}), claimed to itself if still
     * idle since and run at once. Returns how many. A failure here is said and left to the leases.
     */
    private int takeBackAfterRetry(QueueName q, StreamEntryID after, Set<String> received, int max) {
        try {
            List<Pending> mine = new ArrayList<>();
            for (Pending p : pendingAfter(q, after, max + received.size())) {
                if (!received.contains(p.entryId())) {
                    mine.add(p);
                    seen(q, new StreamEntryID(p.entryId()));
                }
            }
            List<Fetched> batch = claimOwn(q, mine);
            runTakenBack(q, batch, "leased to it by a fetch whose reply was lost (the fetch was sent again)");
            return batch.size();
        } catch (RuntimeException e) {
            log.warn("Worker {}: could not take back the jobs of queue {} that a lost fetch reply may have leased to it ({});"
                    + " they run once their lease ends", name, q, Failures.describe(e));
            return 0;
        }
    }

    private static byte[] field(Map<byte[], byte[]> fields) {
        if (fields == null) {
            return null;
        }
        for (Map.Entry<byte[], byte[]> f : fields.entrySet()) {
            if (RedisKeys.FIELD_JOB.equals(new String(f.getKey(), StandardCharsets.UTF_8))) {
                return f.getValue();
            }
        }
        return null;
    }

    /**
     * Takes over jobs whose lease expired (their worker died or hung): XAUTOCLAIM. Returns how many. Each
     * queue's scan of its pending-entries list goes on from the cursor Redis returned last time, back to
     * the start when Redis says it reached the end: a call looks at most COUNT × 10 entries, so always
     * starting at 0-0 would never reach expired entries behind enough live ones.
     */
    private int reclaim(int max) {
        int total = 0;
        long now = System.nanoTime();
        long pausedNanos = PauseWatch.JVM.pausedAfter(pauseCheckedAt, now);
        pauseCheckedAt = now;
        if (pausedNanos > 0) {
            // Redis may have been frozen or down with this JVM (a suspended VM that hosts both): every lease then looks
            // expired, and this worker, which made no call meanwhile, has no reconnect to hold it.
            long hold = takeoverHold();
            takeoverFrom = now + hold;
            log.info("Worker {}: this JVM did not run for {}: takes over no expired lease for {} (Redis may have been"
                    + " frozen or down meanwhile, and the workers that hold those jobs renew their leases as they come"
                    + " back)", name, inWords(TimeUnit.NANOSECONDS.toMillis(pausedNanos)),
                    inWords(TimeUnit.NANOSECONDS.toMillis(hold)));
            return 0;
        }
        if (now - takeoverFrom < 0) {
            return 0; // connected too recently: the owners of the leases that look expired may not be back yet
        }
        for (QueueName q : s.queues()) {
            if (paused.isPaused(q) || held.contains(q) || now - queueTakeoverFrom.getOrDefault(q, now) < 0
                    || nothingToTakeOver(q)) {
                continue;
            }
            try {
                total += reclaim(q, max - total);
            } catch (RedisUnavailableException e) {
                if (!pauseSlot(q, e)) {
                    throw e;
                }
            }
        }
        return total;
    }

    /** {@link #reclaim(int)} of one queue: at most {@code max} jobs. */
    @SuppressWarnings("unchecked")
    private int reclaim(QueueName q, int max) {
        int total = 0;
        for (int call = 0; call < RECLAIM_CALLS && total < max; call++) {
            int want = max - total;
            byte[] start = reclaimFrom.getOrDefault(q, PENDING_START);
            String token = Long.toString(++takeoverCalls);
            List<?> res;
            int[] sends = {0};
            try {
                res = (List<?>) gateway.eval(WorkerScripts.TAKEOVER,
                        List.of(bytes(RedisKeys.stream(q)), bytes(RedisKeys.claimed(q, name))),
                        List.of(GROUP, bytes(name), num(millis(s.lease())), start, num(want), bytes(token),
                                num(millis(s.lease()))), () -> sends[0]++);
            } catch (RuntimeException e) {
                maybeUnseen.add(q);
                takeoverUnanswered.put(q, token);
                throw e;
            }
            boolean sentAgain = sends[0] > 1;
            if (res == null || res.size() < 2 || !(res.get(0) instanceof byte[] next) || !(res.get(1) instanceof List<?> entries)) {
                reclaimFrom.remove(q);
                if (sentAgain) {
                    total += takeBackClaimedAfterRetry(q, token, Set.of());
                }
                break;
            }
            reclaimFrom.put(q, next);
            List<Fetched> batch = entries(q, entries);
            if (!batch.isEmpty()) {
                batch = withDeliveryCounts(q, batch);
                redeliveries.mark(batch.size());
                log.info("Worker {}: took over {} of queue {} whose lease had expired", name, count(batch.size(), "job"), q);
                dispatch(q, batch, true);
                total += batch.size();
            }
            if (sentAgain) {
                // Sent again on a fresh connection (same token): what the first send claimed, its reply lost, is in the
                // note and not in this reply. Taken back now, not left to wait out another lease.
                Set<String> got = new java.util.HashSet<>();
                batch.forEach(f -> got.add(f.entryId()));
                total += takeBackClaimedAfterRetry(q, token, got);
            }
            if (Arrays.equals(next, PENDING_START)) {
                break; // the scan reached the end of the list: the next round starts again at the front
            }
        }
        return total;
    }

    /**
     * Stream entries as XAUTOCLAIM and XCLAIM return them ({@code [id, [field, value, ...]]} each), skipping those deleted
     * while pending (Redis 6.2 returns them as nil); each id counts as seen.
     */
    @SuppressWarnings("unchecked")
    private List<Fetched> entries(QueueName q, List<?> entries) {
        List<Fetched> batch = new ArrayList<>();
        for (Object o : entries) {
            if (!(o instanceof List<?> entry) || entry.size() < 2 || entry.get(1) == null) {
                continue;
            }
            String id = new String((byte[]) entry.get(0), StandardCharsets.UTF_8);
            seen(q, new StreamEntryID(id));
            List<Object> kv = (List<Object>) entry.get(1);
            byte[] job = null;
            for (int i = 0; i + 1 < kv.size(); i += 2) {
                if (RedisKeys.FIELD_JOB.equals(new String((byte[]) kv.get(i), StandardCharsets.UTF_8))) {
                    job = (byte[]) kv.get(i + 1);
                }
            }
            batch.add(new Fetched(id, job));
        }
        return batch;
    }

    private void seen(QueueName q, StreamEntryID id) {
        newestSeen.merge(q, id, (a, b) -> a.compareTo(b) >= 0 ? a : b);
    }

    /**
     * Takes back, for the queues in {@link #maybeUnseen} (not paused), the entries leased to this worker that are newer
     * than any it received: a read whose reply was lost with its connection (Redis killed the client, a proxy cut it,
     * the reply timed out) leased them to this worker, and without this they would wait out their lease, which for
     * long jobs is minutes. XCLAIM of each to itself, only if still idle since that read (another worker that took one
     * over meanwhile keeps it), then run like taken-over jobs. At most {@code max}; a queue stays listed while some are
     * left. Returns how many.
     */
    private int takeBackUnseen(int max) {
        int total = 0;
        for (QueueName q : List.copyOf(maybeUnseen)) {
            if (total >= max) {
                break;
            }
            if (paused.isPaused(q) || held.contains(q)) {
                continue;
            }
            try {
                String token = takeoverUnanswered.get(q);
                if (token != null) {
                    total += takeBackClaimed(q, token);
                    takeoverUnanswered.remove(q);
                    if (total >= max) {
                        break; // the queue stays listed: its newer entries are looked at next time
                    }
                }
                int want = max - total;
                int n = takeBackUnseen(q, want);
                total += n;
                if (n < want) {
                    maybeUnseen.remove(q);
                }
            } catch (RedisUnavailableException e) {
                if (!pauseSlot(q, e)) {
                    throw e;
                }
            } catch (RuntimeException e) {
                // Refused (an ACL without XCLAIM, a group gone): those jobs run once their lease ends, as before.
                maybeUnseen.remove(q);
                takeoverUnanswered.remove(q);
                log.warn("Worker {}: could not take back the jobs of queue {} that a lost fetch reply leased to it ({});"
                        + " they run once their lease ends", name, q, Failures.describe(e));
            }
        }
        return total;
    }

    private int takeBackUnseen(QueueName q, int max) {
        List<Pending> mine = pendingAfter(q, newestSeen.getOrDefault(q, new StreamEntryID(0, 0)), max);
        if (mine.isEmpty()) {
            return 0;
        }
        for (Pending p : mine) {
            // Seen now, claimed or not (deleted while pending, or another worker's by now): the next look starts after.
            seen(q, new StreamEntryID(p.entryId()));
        }
        runTakenBack(q, claimOwn(q, mine), "leased to it by a fetch whose reply was lost");
        return mine.size();
    }

    /**
     * The jobs a takeover of {@code q} whose reply was lost claimed (takeover.lua's note, if it bears that call's
     * {@code token}: a note of another call, or none, means the call claimed nothing or never ran), those still leased
     * to this worker taken back and run at once. Returns how many.
     */
    private int takeBackClaimed(QueueName q, String token) {
        return takeBackClaimed(q, token, Set.of());
    }

    /** {@link #takeBackClaimed(QueueName, String, Set)} after a takeover sent twice; a failure is said and left to the leases. */
    private int takeBackClaimedAfterRetry(QueueName q, String token, Set<String> received) {
        try {
            return takeBackClaimed(q, token, received);
        } catch (RuntimeException e) {
            log.warn("Worker {}: could not take back the jobs of queue {} that a takeover sent twice may have claimed ({});"
                    + " they run once their lease ends", name, q, Failures.describe(e));
            return 0;
        }
    }

    /** {@link #takeBackClaimed(QueueName, String)} of the noted entries not in {@code received}. */
    private int takeBackClaimed(QueueName q, String token, Set<String> received) {
        byte[] note = gateway.execute(c -> c.get(bytes(RedisKeys.claimed(q, name))));
        String[] parts = note == null ? new String[0] : new String(note, StandardCharsets.UTF_8).split(" ");
        if (parts.length < 2 || !parts[0].equals(token)) {
            return 0;
        }
        List<String> ids = Arrays.asList(parts).subList(1, parts.length).stream().filter(id -> !received.contains(id)).toList();
        if (ids.isEmpty()) {
            return 0;
        }
        List<Fetched> batch = claimOwn(q, stillMine(q, ids));
        runTakenBack(q, batch, "that a takeover whose reply was lost had claimed");
        return batch.size();
    }

    /** Runs jobs taken back from a lost reply at once, like taken-over ones; one INFO line says {@code how} they were. */
    private void runTakenBack(QueueName q, List<Fetched> batch, String how) {
        if (!batch.isEmpty()) {
            redeliveries.mark(batch.size());
            log.info("Worker {}: took back {} of queue {} {}", name, count(batch.size(), "job"), q, how);
            dispatch(q, batch, true);
        }
    }

    /** Of the entries {@code ids} of {@code q}, those leased to this worker now (one XPENDING each, pipelined). */
    private List<Pending> stillMine(QueueName q, List<String> ids) {
        String stream = RedisKeys.stream(q);
        String group = new String(GROUP, StandardCharsets.UTF_8);
        return gateway.pipelined(true, p -> {
            List<redis.clients.jedis.Response<List<redis.clients.jedis.resps.StreamPendingEntry>>> rs = new ArrayList<>();
            for (String id : ids) {
                StreamEntryID e = new StreamEntryID(id);
                rs.add(p.xpending(stream, group, XPendingParams.xPendingParams(e, e, 1)));
            }
            return () -> rs.stream().map(r -> r.get().isEmpty() ? null : r.get().get(0))
                    .filter(e -> e != null && name.equals(e.getConsumerName()))
                    .map(e -> new Pending(e.getID().toString(), e.getIdleTime(), e.getDeliveredTimes())).toList();
        });
    }

    /** Up to {@code max} entries of {@code q} leased to this worker, newer than {@code newest}, oldest first. */
    private List<Pending> pendingAfter(QueueName q, StreamEntryID newest, int max) {
        byte[] stream = bytes(RedisKeys.stream(q));
        StreamEntryID after = new StreamEntryID(newest.getTime(), newest.getSequence() + 1);
        List<Object> pending = gateway.execute(c -> c.xpending(stream, GROUP,
                XPendingParams.xPendingParams(after.toString(), "+", max).consumer(bytes(name))));
        List<Pending> mine = new ArrayList<>();
        if (pending != null) {
            for (Object o : pending) {
                if (o instanceof List<?> p && p.size() >= 4 && p.get(0) instanceof byte[] id && p.get(2) instanceof Long idle
                        && p.get(3) instanceof Long deliveries) {
                    mine.add(new Pending(new String(id, StandardCharsets.UTF_8), idle, deliveries));
                }
            }
        }
        return mine;
    }

    /** An entry of this worker's pending-entries list, as XPENDING listed it. */
    private record Pending(String entryId, long idle, long deliveries) {
    }

    /**
     * XCLAIM of entries leased to this worker that it never received, each only if still idle as long as XPENDING said
     * (one another worker took over meanwhile stays that worker's), with its delivery count kept as it is (RETRYCOUNT:
     * the delivery that leased it to this worker counted already). Returns them with their delivery counts.
     */
    private List<Fetched> claimOwn(QueueName q, List<Pending> mine) {
        if (mine.isEmpty()) {
            return List.of();
        }
        Map<Long, List<Pending>> byCount = new java.util.TreeMap<>();
        for (Pending p : mine) {
            byCount.computeIfAbsent(p.deliveries(), k -> new ArrayList<>()).add(p);
        }
        List<Fetched> out = new ArrayList<>();
        for (Map.Entry<Long, List<Pending>> e : byCount.entrySet()) {
            long minIdle = e.getValue().stream().mapToLong(Pending::idle).min().orElse(0);
            List<String> ids = e.getValue().stream().map(Pending::entryId).toList();
            int[] sends = {0};
            List<Fetched> got = xclaim(q, Math.max(0, minIdle - 1), ids, e.getKey(), sends);
            out.addAll(got);
            if (sends[0] > 1) {
                // Sent again on a fresh connection: the first send may have claimed entries (their idle time reset) and
                // lost its reply, and the second, with the same minimum idle time, then claims none of them. Those still
                // leased to this worker are its own either way: claimed again without the condition.
                Set<String> have = new java.util.HashSet<>();
                got.forEach(f -> have.add(f.entryId()));
                List<String> missing = ids.stream().filter(id -> !have.contains(id)).toList();
                List<Pending> still = missing.isEmpty() ? List.of() : stillMine(q, missing);
                if (!still.isEmpty()) {
                    out.addAll(xclaim(q, 0, still.stream().map(Pending::entryId).toList(), e.getKey(), new int[1]));
                }
            }
        }
        return out;
    }

    /**
     * {@code XCLAIM} of entries {@code ids} of {@code q} to this worker if idle at least {@code minIdle} ms, with the
     * delivery count {@code deliveries} kept (RETRYCOUNT); {@code sends} counts the gateway's sends of it.
     */
    private List<Fetched> xclaim(QueueName q, long minIdle, List<String> ids, long deliveries, int[] sends) {
        byte[] stream = bytes(RedisKeys.stream(q));
        List<byte[]> args = new ArrayList<>();
        args.add(stream);
        args.add(GROUP);
        args.add(bytes(name));
        args.add(num(minIdle));
        for (String id : ids) {
            args.add(bytes(id));
        }
        args.add(bytes("RETRYCOUNT"));
        args.add(num(deliveries));
        Object claimed = gateway.execute(c -> {
            sends[0]++;
            return c.sendCommand(stream, redis.clients.jedis.Protocol.Command.XCLAIM, args.toArray(new byte[0][]));
        });
        List<Fetched> out = new ArrayList<>();
        if (claimed instanceof List<?> l) {
            for (Fetched f : entries(q, l)) {
                out.add(new Fetched(f.entryId(), f.raw(), deliveries));
            }
        }
        return out;
    }

    private record Fetched(String entryId, byte[] raw, long deliveries) {
        Fetched(String entryId, byte[] raw) {
            this(entryId, raw, 1);
        }
    }

    /**
     * A job taken over from a dead worker, again and again, may be what kills its workers. Its delivery
     * count (kept by Redis in the pending-entries list) tells: past {@link #maxDeliveries} it is
     * dead-lettered instead of run once more.
     */
    private List<Fetched> withDeliveryCounts(QueueName q, List<Fetched> batch) {
        try {
            String stream = RedisKeys.stream(q);
            String group = new String(GROUP, StandardCharsets.UTF_8);
            List<Long> counts = gateway.pipelined(true, p -> {
                List<redis.clients.jedis.Response<List<redis.clients.jedis.resps.StreamPendingEntry>>> rs = new ArrayList<>();
                for (Fetched f : batch) {
                    redis.clients.jedis.StreamEntryID id = new redis.clients.jedis.StreamEntryID(f.entryId());
                    rs.add(p.xpending(stream, group, redis.clients.jedis.params.XPendingParams.xPendingParams(id, id, 1)));
                }
                return () -> rs.stream().map(r -> r.get().isEmpty() ? 1L : r.get().get(0).getDeliveredTimes()).toList();
            });
            List<Fetched> out = new ArrayList<>(batch.size());
            for (int i = 0; i < batch.size(); i++) {
                out.add(new Fetched(batch.get(i).entryId(), batch.get(i).raw(), counts.get(i)));
            }
            return out;
        } catch (RedisUnavailableException e) {
            return batch; // counts unknown: run them; the next takeover checks again
        }
    }

    /** Deliveries after which a job that never finished is dead-lettered: its type's max attempts plus two. */
    private int maxDeliveries(String type) {
        return s.retry(type).maxAttempts() + 2;
    }

    private void dispatch(QueueName q, List<Fetched> batch, boolean redelivered) {
        fetched.mark(batch.size());
        List<Active> runnable = new ArrayList<>(batch.size());
        long now = System.currentTimeMillis();
        for (Fetched f : batch) {
            if (active.containsKey(q.value() + ' ' + f.entryId())) {
                continue; // reclaimed while still running here (a late renewal): it is ours already
            }
            Active a;
            try {
                if (f.raw() == null) {
                    throw new IllegalArgumentException("stream entry has no field '" + RedisKeys.FIELD_JOB + "'");
                }
                a = new Active(q, f.entryId(), JobCodec.decode(f.raw()), f.raw());
            } catch (IllegalArgumentException e) {
                a = new Active(q, f.entryId(), null, f.raw() == null ? new byte[0] : f.raw());
                track(a);
                log.warn("Worker {}: undecodable job in queue {} (entry {}): dead-lettered: {}", name, q, f.entryId(), e.getMessage());
                settle(a, new Outcome(Outcome.Kind.DEAD, q, f.entryId(), "undecodable-" + f.entryId(), 0, now, 0, a.raw,
                        "undecodable job record: " + e.getMessage(), name));
                dead.mark();
                continue;
            }
            track(a);
            if (f.deliveries() > maxDeliveries(a.job.type())) {
                // Each earlier delivery of this entry started a run that never ended (its worker died or hung in it):
                // those count as the job's attempts, on top of the runs that ended before it was retried.
                int runs = (int) Math.min(Integer.MAX_VALUE, a.job.attempt() + f.deliveries() - 1);
                dead.mark();
                log.warn("Worker {}: job {} of queue {} was delivered {} times and never finished (its workers died or hung"
                        + " each time): dead-lettered", name, a.job.id(), q, f.deliveries());
                settle(a, new Outcome(Outcome.Kind.DEAD, q, f.entryId(), a.job.id().value(), runs, now, 0,
                        JobCodec.encode(a.job.withAttempt(runs, 0)),
                        "delivered " + f.deliveries() + " times without finishing: its workers died or hung each time", name));
                continue;
            }
            if (held.contains(q)) {
                // Paused by an operator while this fetch was on its way (a blocking read sent before the pause was
                // read): not run, handed back to the queue at once.
                settle(a, release(a));
                continue;
            }
            runnable.add(a);
        }
        if (!runnable.isEmpty()) {
            startChecked(q, runnable);
        }
    }

    /**
     * The start check of fetched jobs (start.lua: marks them active, reports those completed or cancelled meanwhile),
     * then each runs, is acked or is dropped. If Redis goes away before the check has run, the jobs are not run: a
     * cancel may have come after the fetch, and a CANCELLED answer promises that the job never runs. They stay leased to
     * this worker, tracked and renewed, in {@link #awaitingStart}, and are checked once Redis is back.
     */
    @SuppressWarnings("unchecked")
    private void startChecked(QueueName q, List<Active> runnable) {
        long now = System.currentTimeMillis();
        List<Object> marks = null;
        try {
            List<byte[]> keys = new ArrayList<>(runnable.size() + 1);
            keys.add(bytes(RedisKeys.stream(q)));
            for (Active a : runnable) {
                keys.add(bytes(RedisKeys.job(q, a.job.id())));
            }
            List<byte[]> args = new ArrayList<>(runnable.size() + 1);
            args.add(bytes(Long.toString(now)));
            for (Active a : runnable) {
                args.add(num(a.job.attempt() + 1L)); // the run it starts, as its status record shows while it runs
            }
            marks = (List<Object>) (List<?>) gateway.eval(WorkerScripts.START, keys, args);
        } catch (RedisUnavailableException e) {
            awaitingStart.addAll(runnable);
            return;
        } catch (RuntimeException e) {
            // Any other failure of the check (a script error, a key of the wrong type) must not strand jobs that
            // are leased to us, tracked and renewed: run them all the same, as during an outage.
            log.warn("Worker {}: the completed check of {} jobs of queue {} failed ({}): running them without it", name,
                    runnable.size(), q, e.getMessage());
        }
        for (int i = 0; i < runnable.size(); i++) {
            Active a = runnable.get(i);
            if (marks != null && marks.get(i) instanceof Long l && l == 1L) {
                skippedCompleted.mark();
                log.debug("Worker {}: job {} already completed: acked without running it", name, a.job.id());
                settle(a, Outcome.ack(q, a.entryId, a.job.id().value(), a.job.attempt(), now, name));
                continue;
            }
            if (marks != null && marks.get(i) instanceof Long l && l == 2L) {
                skippedCancelled.mark();
                log.info("Worker {}: job {} of queue {} was cancelled: dropped without running it", name, a.job.id(), q);
                settle(a, new Outcome(Outcome.Kind.DROP, q, a.entryId, a.job.id().value(), a.job.attempt(), now, 0, null,
                        null, name));
                continue;
            }
            try {
                handlers.execute(() -> run(a));
            } catch (RejectedExecutionException e) {
                // close() shut the pool while this fetch still waited for Redis: hand the job back now
                // rather than leave it leased to a consumer that is going away.
                settle(a, release(a));
            }
        }
    }

    /**
     * Fetch thread: the start check of the jobs in {@link #awaitingStart}, once Redis is back (those of paused slots once
     * their slot is resumed). A job of a queue an operator paused meanwhile, or whose lease another worker took over, is
     * handed back instead (a no-op for a lease that is no longer ours).
     */
    private void retryStartChecks() {
        Map<QueueName, List<Active>> byQueue = new LinkedHashMap<>();
        for (Active a; (a = awaitingStart.poll()) != null; ) {
            if (!a.settled.get()) {
                byQueue.computeIfAbsent(a.queue, k -> new ArrayList<>()).add(a);
            }
        }
        for (Map.Entry<QueueName, List<Active>> e : byQueue.entrySet()) {
            QueueName q = e.getKey();
            if (paused.isPaused(q)) {
                awaitingStart.addAll(e.getValue());
                continue;
            }
            List<Active> check = new ArrayList<>();
            for (Active a : e.getValue()) {
                if (held.contains(q) || a.leaseLost) {
                    settle(a, release(a));
                } else {
                    check.add(a);
                }
            }
            if (!check.isEmpty()) {
                startChecked(q, check);
            }
        }
    }

    private Outcome release(Active a) {
        return new Outcome(Outcome.Kind.RELEASE, a.queue, a.entryId, a.job.id().value(), a.job.attempt(),
                System.currentTimeMillis(), 0, a.raw, null, name);
    }

    private void track(Active a) {
        a.dispatchedAt = System.nanoTime();
        a.runId = monitor.runId();
        active.put(a.key(), a);
        inFlight.incrementAndGet();
    }

    // ---- handlers ----------------------------------------------------------------------------------

    private void run(Active a) {
        if (!a.claimed.compareAndSet(false, true)) {
            return; // handed back while it waited for a thread (its slot was given back then)
        }
        try {
            runHandler(a);
        } finally {
            // This thread is the job's slot: only now can it take another job, even when the job was settled
            // earlier (timed out) and its handler kept running past the interrupt.
            freeSlot(a);
        }
    }

    private void runHandler(Active a) {
        if (draining) {
            settle(a, release(a));
            return;
        }
        JobHandler handler = s.handlers().get(a.job.type());
        if (handler == null) {
            if (a.settled.compareAndSet(false, true)) {
                dead.mark();
                log.warn("Worker {}: job {} of queue {} has type '{}' with no handler: dead-lettered", name, a.job.id(),
                        a.queue, a.job.type());
                queueOutcome(a, new Outcome(Outcome.Kind.DEAD, a.queue, a.entryId, a.job.id().value(), a.job.attempt(),
                        System.currentTimeMillis(), 0, a.raw,
                        "unknown job type '" + a.job.type() + "': no handler (handlers: " + s.handlers().keySet() + ")", name));
            }
            return;
        }
        Throwable error = null;
        Thread.interrupted();
        a.startedAt = System.nanoTime();
        a.deadline = a.startedAt + nanos(s.jobTimeout(a.job.type()));
        a.thread = Thread.currentThread();
        Timer.Context timer = handlerDuration.time();
        try {
            handler.handle(new JobView(a.job, () -> a.leaseLost, () -> a.cancelRequested, p -> reportProgress(a, p),
                    new RunCheckpoints(a)));
        } catch (Throwable t) {
            error = t;
        }
        prefetch.record(timer.stop());
        boolean timedOut;
        synchronized (a) {
            a.thread = null; // from here on no timeout interrupts this thread
            timedOut = a.timedOut;
        }
        Thread.interrupted(); // a timeout's interrupt must not leak into the next job
        if (!a.settled.compareAndSet(false, true)) {
            // close() handed the job back while it ran: its result is not ours to record any more.
            if (a.runningAfterClose) {
                log.info("Worker {}: the handler of job {} of queue {} returned after close() had handed its job back: its"
                        + " result is ignored", name, a.job.id(), a.queue);
            }
            return;
        }
        if (timedOut) {
            // Its outcome waited for this moment, so that its retry never runs beside this run. Any result is late.
            if (a.ignoredTimeout) {
                log.info("Worker {}: the handler of job {} of queue {} returned {} ms after its timeout: its failure is"
                        + " recorded now and its thread takes jobs again", name, a.job.id(), a.queue,
                        TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - a.deadline));
            }
            fail(a, timeoutReason(a), null, true);
            return;
        }
        if (error == null) {
            if (a.checkpointUsed && !a.leaseLost) {
                // Completed: nothing to resume any more. Deleted by the checkpoint writer within a second, if the job
                // is still this run's then (checkpoint_done.lua).
                checkpointsToWrite.put(RedisKeys.checkpoint(a.queue, a.job.id()), new PendingCheckpoint(a, null));
            }
            // Counted in `completed` once Redis accepts the ack (deliver): a late one, whose lease another worker
            // took over, changes nothing there and is not counted.
            queueOutcome(a, Outcome.ack(a.queue, a.entryId, a.job.id().value(), a.job.attempt() + 1, System.currentTimeMillis(), name));
        } else {
            fail(a, reason(error), error, nonRetryable(error) == null);
        }
    }

    private String timeoutReason(Active a) {
        return JobTimeoutException.class.getName() + ": job ran past its timeout of " + s.jobTimeout(a.job.type());
    }

    /** The first {@link NonRetryableException} among {@code t} and its causes (the first 32), or null. */
    static NonRetryableException nonRetryable(Throwable t) {
        Throwable c = t;
        for (int depth = 0; c != null && depth < 32; depth++, c = c.getCause()) {
            if (c instanceof NonRetryableException n) {
                return n;
            }
        }
        return null;
    }

    /**
     * A failure's reason, "ExceptionClass: message", for the status record, the dead letter and the log line. For a
     * {@link NonRetryableException} wrapped by the handler's framework or helpers, that exception's class and message
     * (its javadoc promises them), with the outermost wrapper named after it: the wrappers' own text is often just
     * the chain printed again.
     */
    static String reason(Throwable t) {
        NonRetryableException n = nonRetryable(t);
        if (n == null || n == t) {
            return t.getClass().getName() + ": " + t.getMessage();
        }
        return n.getClass().getName() + ": " + n.getMessage() + " (wrapped in " + t.getClass().getName() + ")";
    }

    /**
     * A run failed (handler threw, or timed out: {@code cause} null); {@code a} is already settled by the caller.
     * {@code retryable} false (a {@link NonRetryableException}): dead-lettered whatever attempts are left.
     * One line per failure: INFO when it will be retried, WARN when dead-lettered; the stack trace at DEBUG.
     */
    private void fail(Active a, String error, Throwable cause, boolean retryable) {
        failed.mark();
        io.spillway.worker.RetryPolicy retry = s.retry(a.job.type());
        int run = a.job.attempt() + 1;
        long now = System.currentTimeMillis();
        String err = StatusRecord.truncate(error);
        if (a.cancelRequested) {
            // dead.lua finds the N record and drops the job instead (record K, with this run's attempts and error).
            log.info("Worker {}: job {} of queue {} failed after its cancel was requested (attempt {}): cancelled, not"
                    + " retried: {}", name, a.job.id(), a.queue, run, Failures.oneLine(err));
            queueOutcome(a, new Outcome(Outcome.Kind.DEAD, a.queue, a.entryId, a.job.id().value(), run, now, 0,
                    JobCodec.encode(a.job.withAttempt(run, 0)), err, name));
        } else if (retryable && retry.canRetry(run)) {
            long backoff = retry.backoff(run).toMillis();
            long runAt = now + backoff;
            retried.mark();
            log.info("Worker {}: job {} of queue {} failed (attempt {} of {}), next run in {}: {}", name, a.job.id(), a.queue,
                    run, retry.maxAttempts(), inWords(backoff), Failures.oneLine(err));
            queueOutcome(a, new Outcome(Outcome.Kind.RETRY, a.queue, a.entryId, a.job.id().value(), run, now, runAt,
                    JobCodec.encode(a.job.withAttempt(run, runAt)), err, name));
        } else {
            dead.mark();
            if (retryable) {
                log.warn("Worker {}: job {} of queue {} failed on its last attempt ({} of {}): dead-lettered: {}", name,
                        a.job.id(), a.queue, run, retry.maxAttempts(), Failures.oneLine(err));
            } else {
                log.warn("Worker {}: job {} of queue {} failed with a non-retryable error (attempt {} of {}): dead-lettered"
                        + " without a retry: {}", name, a.job.id(), a.queue, run, retry.maxAttempts(), Failures.oneLine(err));
            }
            queueOutcome(a, new Outcome(Outcome.Kind.DEAD, a.queue, a.entryId, a.job.id().value(), run, now, 0,
                    JobCodec.encode(a.job.withAttempt(run, 0)), err, name));
        }
        if (cause != null && log.isDebugEnabled()) {
            log.debug("Worker {}: job {} of queue {}, attempt {}: the handler's exception", name, a.job.id(), a.queue, run, cause);
        }
    }

    /** A number of things for a log line: "1 job", "3 jobs". */
    static String count(int n, String noun) {
        return n == 1 ? "1 " + noun : n + " " + noun + "s";
    }

    /** A wait for a log line: "850 ms", "12.5 s", "4 min 30 s", "2 h 5 min". */
    static String inWords(long ms) {
        if (ms < 1000) {
            return Math.max(0, ms) + " ms";
        }
        if (ms < 60_000) {
            long tenths = (ms + 50) / 100;
            return tenths % 10 == 0 ? tenths / 10 + " s" : tenths / 10 + "." + tenths % 10 + " s";
        }
        long s = ms / 1000;
        if (s < 3600) {
            return s % 60 == 0 ? s / 60 + " min" : s / 60 + " min " + s % 60 + " s";
        }
        long min = s / 60;
        return min % 60 == 0 ? min / 60 + " h" : min / 60 + " h " + min % 60 + " min";
    }

    private void settle(Active a, Outcome o) {
        if (a.settled.compareAndSet(false, true)) {
            queueOutcome(a, o);
        }
    }

    private void queueOutcome(Active a, Outcome o) {
        outcomes.add(o);
        active.remove(a.key());
        if (a.thread == null) {
            freeSlot(a); // no handler runs it (any more); otherwise run() frees the slot when the handler returns
        }
    }

    private void freeSlot(Active a) {
        if (a.slotFreed.compareAndSet(false, true)) {
            inFlight.decrementAndGet();
            synchronized (capacity) {
                capacity.notifyAll();
            }
        }
    }

    /**
     * A handler past its deadline has failed: it is interrupted, and its failure is recorded when it returns (in
     * {@link #runHandler}), not now. Until then the job stays in {@link #active}, leased and renewed, so neither its
     * retry nor another worker runs it beside a handler that ignores the interrupt.
     */
    private void checkTimeouts() {
        long now = System.nanoTime();
        for (Active a : active.values()) {
            Thread t = a.thread;
            if (t == null || a.timedOut || now - a.deadline <= 0) {
                continue;
            }
            synchronized (a) {
                if (a.thread != t || a.timedOut) {
                    continue; // it returned meanwhile: its own result stands
                }
                a.timedOut = true;
                a.interruptedAt = now;
                t.interrupt();
            }
            overdue.add(a);
            log.warn("Worker {}: job {} of queue {} ran past its timeout of {}: failed, handler interrupted", name,
                    a.job.id(), a.queue, s.jobTimeout(a.job.type()));
        }
        for (Active a : overdue) {
            if (a.thread == null) {
                overdue.remove(a);
            } else if (now - a.interruptedAt > IGNORED_TIMEOUT_NANOS) {
                overdue.remove(a);
                a.ignoredTimeout = true;
                log.warn("Worker {}: the handler of job {} of queue {} ignores its timeout and interrupt and still runs: the"
                        + " job stays leased to this worker, and is retried (or dead-lettered) only when the handler returns;"
                        + " its thread takes no other job until then", name, a.job.id(), a.queue);
            }
        }
    }

    /**
     * Adaptive prefetch only. Tells the prefetch how many threads run a job past {@link AdaptivePrefetch#slowNanos()}
     * (those drain nothing fetched ahead), and hands back the jobs fetched ahead that have waited for a thread while
     * every thread is so held: the average learns of long jobs only as they end, so jobs fetched with instant ones
     * would otherwise wait here, leased and renewed, while another worker sits idle.
     */
    private void watchPrefetch() {
        long now = System.nanoTime();
        // This thread stalled (CPU starvation, a GC pause): every wait and run looks long; judge at the next tick.
        boolean stalled = now - lastPrefetchWatch > TimeUnit.MILLISECONDS.toNanos(5 * WATCH_PREFETCH_MS);
        lastPrefetchWatch = now;
        long slow = prefetch.slowNanos();
        int held = 0;
        List<Active> waiting = new ArrayList<>();
        for (Active a : active.values()) {
            if (a.thread != null) {
                if (now - a.startedAt > slow) {
                    held++;
                }
            } else if (a.job != null && !a.claimed.get() && !a.settled.get()) {
                waiting.add(a);
            }
        }
        prefetch.held(held);
        // Not while Redis is away (no other worker can take them either), nor while a read of ours asked with the capacity
        // of before is still blocked in Redis: Redis serves the client that blocked first, which would take them back.
        if (stalled || waiting.isEmpty() || reading || gateway.isOpen() || draining) {
            return;
        }
        int handedBack = 0;
        for (Active a : waiting) {
            if (prefetch.handsBack(now - a.dispatchedAt) && a.claimed.compareAndSet(false, true)) {
                if (a.settled.compareAndSet(false, true)) {
                    queueOutcome(a, release(a));
                    handedBack++;
                }
            }
        }
        if (handedBack > 0) {
            log.info("Worker {}: handed back {} fetched jobs that waited for a thread while all {} ran long jobs: any free"
                    + " worker can take them", name, handedBack, s.concurrency());
        }
    }

    // ---- acks --------------------------------------------------------------------------------------

    private void ackLoop() {
        while (true) {
            try {
                Outcome first = outcomes.poll(50, TimeUnit.MILLISECONDS);
                if (first == null) {
                    if (ackerStop) {
                        return;
                    }
                    if (localCount.get() > 0 && !gateway.isOpen()) {
                        flushLocal(true);
                    }
                    continue;
                }
                List<Outcome> batch = new ArrayList<>();
                batch.add(first);
                outcomes.drainTo(batch, 2000);
                send(batch);
                if (paused.enabled() && localCount.get() > 0 && !gateway.isOpen()) {
                    // A cluster fetches on while a slot is paused, so there may be no lull: the slots not paused
                    // (just resumed) send what they kept now.
                    flushLocal(true);
                }
            } catch (InterruptedException e) {
                // Stop only via ackerStop, after the queue is drained.
            } catch (RuntimeException e) {
                log.error("Worker {}: acker error (it keeps running): {}", name, Failures.describe(e), e);
            } catch (Error e) {
                // As the fetch loop: a dead acker would leave every outcome unsent and every job to run again.
                log.error("Worker {}: acker error (it keeps running): {}", name, e, e);
                pause(100);
            }
        }
    }

    private void send(List<Outcome> batch) {
        if (paused.enabled()) {
            // A cluster: each slot's outcomes on their own, so that a dead master keeps back only its own.
            for (List<Outcome> slot : bySlot(batch).values()) {
                sendToOneMaster(slot);
            }
            return;
        }
        sendToOneMaster(batch);
    }

    /** Sends outcomes that all go to one master (a standalone Redis, or one slot of a cluster). */
    private void sendToOneMaster(List<Outcome> batch) {
        synchronized (localLock) {
            boolean keptBack = paused.enabled() ? paused.isPaused(batch.get(0).queue()) : !localPending.isEmpty();
            if (keptBack || gateway.isOpen()) {
                spill(batch);
                return;
            }
        }
        try {
            deliver(batch, true);
        } catch (RedisUnavailableException e) {
            pauseSlot(batch.get(0).queue(), e);
            synchronized (localLock) {
                spill(batch);
            }
        } catch (SpillwayException e) {
            // Not an outage: a retry would fail the same way. The jobs stay pending and are redelivered
            // after their lease, so nothing is lost.
            if (Failures.isPermissionDenied(e)) {
                refused("recording some of " + batch.size() + " job outcomes (the others are recorded; those jobs will"
                        + " be redelivered)", e);
                return;
            }
            log.error("Worker {}: could not record some of {} job outcomes in Redis (the others are recorded); those jobs"
                    + " will be redelivered: {}", name, batch.size(), Failures.describe(e));
        }
    }

    /** Called holding localLock. */
    private void spill(List<Outcome> batch) {
        try {
            ackLog.append(batch);
            localPending.addAll(batch);
            localCount.set(localPending.size());
            log.debug("Worker {}: kept {} job outcomes locally while Redis is away", name, batch.size());
        } catch (RuntimeException e) {
            log.error("Worker {}: cannot keep {} job outcomes on local disk ({}); their jobs will be redelivered after their lease",
                    name, batch.size(), Failures.describe(e));
        }
    }

    private void flushLocal(boolean guarded) {
        flushLocal(guarded, -1, Set.of());
    }

    private void flushLocal(boolean guarded, int slot) {
        flushLocal(guarded, slot, Set.of());
    }

    /**
     * Sends the outcomes kept locally. On a cluster, guarded: only those of {@code slot} (a paused slot's check, which
     * fails if they cannot be sent), or with {@code slot} -1 those of every slot not paused (a slot found unavailable
     * meanwhile is paused and keeps its own). Unguarded (the reconnect loop's recovery), all but those of the slots
     * {@code leaveOut} (whose master the probe found failed: they stay kept, their slots paused). The ack log is emptied
     * once nothing is kept; until then it still holds what was sent, which is harmless to send again.
     */
    private void flushLocal(boolean guarded, int slot, Set<Integer> leaveOut) {
        synchronized (localLock) {
            if (localPending.isEmpty()) {
                return;
            }
            long t0 = System.nanoTime();
            int before = localPending.size();
            if (!paused.enabled() || !guarded) {
                if (leaveOut.isEmpty()) {
                    deliverKept(localPending, guarded);
                    localPending.clear();
                } else {
                    deliverKept(localPending.stream().filter(o -> !leaveOut.contains(paused.slotOf(o.queue()))).toList(), guarded);
                    localPending.removeIf(o -> !leaveOut.contains(paused.slotOf(o.queue())));
                }
            } else {
                for (Map.Entry<Integer, List<Outcome>> e : bySlot(localPending).entrySet()) {
                    QueueName q = e.getValue().get(0).queue();
                    if (slot >= 0 ? e.getKey() != slot : paused.isPaused(q)) {
                        continue;
                    }
                    try {
                        deliverKept(e.getValue(), true);
                    } catch (RedisUnavailableException unavailable) {
                        if (slot >= 0 || !pauseSlot(q, unavailable)) {
                            throw unavailable;
                        }
                        continue;
                    }
                    localPending.removeIf(o -> paused.slotOf(o.queue()) == e.getKey());
                }
            }
            localCount.set(localPending.size());
            if (localPending.isEmpty()) {
                ackLog.clear();
            }
            int n = before - localPending.size();
            if (n > 0) {
                log.info("Worker {}: sent {} job outcomes kept locally while Redis was away, in {} ms", name, n,
                        TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));
            }
        }
    }

    /**
     * Sends outcomes kept locally. A refusal that is not an outage (an ACL without a rule a script needs) is said at
     * ERROR and those outcomes are not kept: as when they were first sent, their jobs stay leased and are redelivered
     * after the lease, so none is lost; kept, they failed every recovery, and the worker never fetched again.
     */
    private void deliverKept(List<Outcome> kept, boolean guarded) {
        try {
            deliver(kept, guarded);
        } catch (RedisUnavailableException e) {
            throw e;
        } catch (SpillwayException e) {
            if (Failures.isPermissionDenied(e)) {
                refused("recording some of " + kept.size() + " job outcomes kept while Redis was away (the others are"
                        + " recorded; those jobs will be redelivered)", e);
            } else {
                log.error("Worker {}: could not record some of {} job outcomes kept while Redis was away (the others are"
                        + " recorded); those jobs will be redelivered: {}", name, kept.size(), Failures.describe(e));
            }
        }
    }

    /** Outcomes by the slot of their queue, each slot's in their order. */
    private Map<Integer, List<Outcome>> bySlot(List<Outcome> outcomes) {
        Map<Integer, List<Outcome>> out = new LinkedHashMap<>();
        for (Outcome o : outcomes) {
            out.computeIfAbsent(paused.slotOf(o.queue()), k -> new ArrayList<>()).add(o);
        }
        return out;
    }

    // ---- paused slots (Redis Cluster) --------------------------------------------------------------

    /**
     * A call for queue {@code q} found its master unavailable. On a cluster whose circuit is closed, pauses {@code q}'s
     * slot (WARN once per pause), and opens the circuit when no slot of this worker is left: returns true, the caller
     * goes on with its other queues. Otherwise (one master, or the circuit open already) returns false: the caller
     * treats it as an outage, as before.
     */
    private boolean pauseSlot(QueueName q, RedisUnavailableException e) {
        if (!paused.enabled() || gateway.isOpen()) {
            return false;
        }
        pause(paused.slotOf(q), q, Failures.describe(e));
        if (paused.all()) {
            gateway.markUnavailable(e);
        }
        return true;
    }

    /**
     * Pauses {@code slot} ({@code q} is one of its queues), saying so (WARN) if it was not paused yet; its first check
     * comes after the backoff's first delay.
     */
    private void pause(int slot, QueueName q, String cause) {
        if (paused.pause(slot)) {
            log.warn("Worker {}: queues {} paused: the Redis Cluster master of their slot cannot serve them ({}); the"
                    + " worker's other queues go on, these are checked again with backoff", name,
                    paused.queuesOf(slot).isEmpty() ? List.of(q) : paused.queuesOf(slot), cause);
            paused.checkFailed(slot);
        }
    }

    /**
     * Fetch thread: checks the paused slots that are due, each as the reconnect loop's recovery would, for its queues
     * only: their consumer groups (a write: the master takes writes again), the outcomes kept locally, the leases of
     * their jobs in hand. All done: the slot resumes. A failure keeps it paused until its next check. A check that timed
     * out (a hung master) makes the other paused slots of the same master wait for its next check and be checked with it
     * ({@link PausedSlots#checkWith}), the first of them alone while the master stays hung: each check holds this thread,
     * which fetches every queue, for a socket timeout, and one per slot starved the live masters' queues (6 slots on a
     * hung master: the 800 jobs waiting on the live ones ran in 6.1 s instead of 0.2-0.7 s).
     */
    private void checkPausedSlots() {
        Set<redis.clients.jedis.HostAndPort> hung = new java.util.HashSet<>();
        for (int slot : paused.due()) {
            List<QueueName> queues = paused.queuesOf(slot);
            redis.clients.jedis.HostAndPort master = gateway.masterOf(slot);
            if (master != null && hung.contains(master)) {
                continue; // checked with the slot whose check found its master hung
            }
            try {
                for (QueueName q : queues) {
                    eval(true, WorkerScripts.GROUP, List.of(bytes(RedisKeys.stream(q))), List.of(GROUP));
                }
                for (QueueName q : queues) {
                    renewLeases(q, true);
                }
                flushLocal(true, slot);
            } catch (RuntimeException e) {
                paused.checkFailed(slot);
                log.debug("Worker {}: queues {} still paused: {}", name, queues, Failures.describe(e));
                if (master != null && Failures.isTimeout(e) && hung.add(master)) {
                    for (int other : paused.pausedSlots()) {
                        if (other != slot && master.equals(gateway.masterOf(other))) {
                            paused.checkWith(other, slot);
                        }
                    }
                }
                continue;
            }
            long ms = paused.resume(slot);
            long holdUntil = System.nanoTime() + takeoverHold();
            for (QueueName q : queues) {
                queueTakeoverFrom.put(q, holdUntil); // its master was away: as after a reconnect (holdTakeovers)
            }
            if (ms >= 0) {
                log.info("Worker {}: queues {} resumed after {} ms paused: their Redis Cluster master answers again", name,
                        queues, ms);
            }
        }
    }

    /** Sends outcomes: acks batched per queue, the rare others one script call each. Idempotent. */
    private void deliver(List<Outcome> batch, boolean guarded) {
        // Acks batched per queue and lease holder (usually this worker; another one's for outcomes adopted from a
        // dead worker's file): each call checks its entries are still leased to that holder.
        Map<Map.Entry<QueueName, String>, List<Outcome>> acks = new LinkedHashMap<>();
        // A refusal that is not an outage (an ACL without a rule one script needs) fails that call only: the others
        // are sent, and it is thrown at the end. Before, one refused retry cost the whole batch's acks (up to 2,000
        // completed jobs, run again after their lease). An outage ends the batch at once (the caller keeps it all:
        // sending an outcome twice is harmless).
        SpillwayException refused = null;
        for (Outcome o : batch) {
            if (o.kind() == Outcome.Kind.ACK) {
                acks.computeIfAbsent(Map.entry(o.queue(), o.consumer()), k -> new ArrayList<>()).add(o);
                continue;
            }
            QueueName q = o.queue();
            byte[] stream = bytes(RedisKeys.stream(q));
            byte[] status = bytes(RedisKeys.job(q, JobId.of(o.jobId())));
            try {
                settleOne(o, q, stream, status, guarded);
            } catch (SpillwayException e) {
                if (e instanceof RedisUnavailableException) {
                    throw e;
                }
                refused = refused != null ? refused : e;
            }
        }
        for (Map.Entry<Map.Entry<QueueName, String>, List<Outcome>> e : acks.entrySet()) {
            try {
                ackAll(e.getKey().getKey(), e.getKey().getValue(), e.getValue(), guarded);
            } catch (SpillwayException failed) {
                if (failed instanceof RedisUnavailableException) {
                    throw failed;
                }
                refused = refused != null ? refused : failed;
            }
        }
        if (refused != null) {
            throw refused;
        }
    }

    /** One retry, dead letter, hand-back or drop. */
    private void settleOne(Outcome o, QueueName q, byte[] stream, byte[] status, boolean guarded) {
        switch (o.kind()) {
            case RETRY -> {
                settle(guarded, q, WorkerScripts.RETRY, List.of(stream, bytes(RedisKeys.delayed(q)), status),
                        List.of(GROUP, bytes(o.entryId()), num(o.at()), num(o.runAt()), o.job(), num(o.attempts()),
                                bytes(o.error()), bytes(o.consumer()), num(retentionSeconds())));
                retriedAt.put(q, System.nanoTime()); // the scheduler looks at the queue again: mayHaveDueJobs
            }
            case DEAD -> settle(guarded, q, WorkerScripts.DEAD,
                    List.of(stream, bytes(RedisKeys.dead(q)), bytes(RedisKeys.deadData(q)), status),
                    List.of(GROUP, bytes(o.entryId()), num(o.at()), bytes(o.jobId()), o.job(), num(o.attempts()), bytes(o.error()),
                            bytes(o.consumer()), num(retentionSeconds())));
            case RELEASE -> settle(guarded, q, WorkerScripts.RELEASE, List.of(stream, status),
                    List.of(GROUP, bytes(o.entryId()), o.job(), num(o.at()), bytes(o.consumer()), num(retentionSeconds()),
                            num(o.attempts())));
            case DROP -> settle(guarded, q, WorkerScripts.DROP, List.of(stream, status),
                    List.of(GROUP, bytes(o.entryId()), num(retentionSeconds()), bytes(o.consumer())));
            default -> throw new IllegalStateException(o.kind().toString());
        }
    }

    /** The acks of one queue and lease holder, {@value #SCRIPT_CHUNK} per call. */
    private void ackAll(QueueName q, String holder, List<Outcome> all, boolean guarded) {
        for (int from = 0; from < all.size(); from += SCRIPT_CHUNK) {
            List<Outcome> chunk = all.subList(from, Math.min(all.size(), from + SCRIPT_CHUNK));
            List<byte[]> keys = new ArrayList<>(chunk.size() + 1);
            List<byte[]> args = new ArrayList<>(chunk.size() * 2 + 3);
            keys.add(bytes(RedisKeys.stream(q)));
            args.add(GROUP);
            args.add(num(System.currentTimeMillis()));
            args.add(num(retentionSeconds()));
            args.add(bytes(holder));
            for (Outcome o : chunk) {
                keys.add(bytes(RedisKeys.job(q, JobId.of(o.jobId()))));
                args.add(bytes(o.entryId()));
                args.add(num(o.attempts()));
            }
            // ack.lua returns how many entries it settled: those still leased to the worker that ran them. The
            // rest were taken over (a frozen worker, an outcome kept through an outage) or settled already (a
            // replay): the worker now running them, or the first send, counts them.
            if (settle(guarded, q, WorkerScripts.ACK, keys, args) instanceof Long settled && settled > 0) {
                completed.mark(settled);
            }
        }
    }

    /**
     * A settling script's call. NOGROUP -- the queue has no consumer group: Redis lost it (a restart without its data),
     * or the queue was removed, and an outcome kept on disk or adopted from a gone worker's file names it -- means no
     * entry is pending there, which the scripts answer by settling nothing: so here too (one INFO line), instead of an
     * error that failed every recovery and kept the worker from fetching for good.
     */
    private Object settle(boolean guarded, QueueName q, io.spillway.core.internal.LuaScript script, List<byte[]> keys,
            List<byte[]> args) {
        try {
            return eval(guarded, script, keys, args);
        } catch (SpillwayException e) {
            if (e instanceof RedisUnavailableException || !String.valueOf(e.getMessage()).contains("NOGROUP")) {
                throw e;
            }
            log.info("Worker {}: a job outcome for queue {} not recorded: the queue has no consumer group in Redis (lost"
                    + " in a restart, or the queue was removed), so no job is leased there to settle", name, q);
            return null;
        }
    }

    /**
     * How often the leases of running jobs are renewed: every third of the lease, and at least every 10 s. The cap is
     * for workers of one queue whose leases differ (a rolling deploy that changes it): another worker takes over an
     * entry idle past its own lease, and knows nothing of this one's; renewed every 10 s at most, a job is taken over
     * by no worker whose lease is over about 10 s.
     */
    static long renewEveryMillis(long leaseMillis) {
        return Math.max(1, Math.min(leaseMillis / 3, MAX_RENEW_INTERVAL_MS));
    }

    /** The longest wait between two renewals of a running job's lease. */
    static final long MAX_RENEW_INTERVAL_MS = 10_000;

    /** How often reported progress is written to Redis (only while some changed). */
    static final long PROGRESS_WRITE_MS = 1000;
    /** Jobs whose progress waits to be written, at most (Redis away for long, many jobs reporting): further jobs' is dropped. */
    static final int MAX_PROGRESS_PENDING = 100_000;

    /** {@code Job.progress} of a running job: kept for {@link #writeProgress}; the handler never waits for Redis. */
    private void reportProgress(Active a, String progress) {
        String key = RedisKeys.progress(a.queue, a.job.id());
        if (progressToWrite.size() >= MAX_PROGRESS_PENDING && !progressToWrite.containsKey(key)) {
            return; // Redis away for long: this job's progress is not shown; its run goes on regardless
        }
        progressToWrite.put(key, progress);
    }

    /**
     * Writes the progress reported since the last time, one pipelined SET with a TTL per job (the completed retention
     * plus the job timeout: as long as the job's status, and for all of a run that reports once): every second while
     * some changed, only while connected. Not through the circuit breaker: a write Redis refuses (a full Redis) must
     * not take the worker for disconnected. Refused or failed values are kept and written again; one WARN a minute.
     */
    private void writeProgress() {
        if (progressToWrite.isEmpty() || monitor.state() != HealthState.CONNECTED) {
            return;
        }
        long ttl = retentionSeconds() + Math.max(1, TimeUnit.NANOSECONDS.toSeconds(longestJobTimeoutNanos));
        // SET with EX, not SETEX: the worker's ACL rules (docs/operations.md) allow +set.
        String problem = writePending(progressToWrite, new HashMap<>(progressToWrite), (p, e) -> p.set(e.getKey(), e.getValue(),
                redis.clients.jedis.params.SetParams.setParams().ex(ttl)));
        long now = System.nanoTime();
        if (problem != null && now - progressWarnedAt > TimeUnit.MINUTES.toNanos(1)) {
            progressWarnedAt = now;
            log.warn("Worker {}: job progress not written to Redis ({}): {} kept, written again every second", name,
                    problem, progressToWrite.size());
        }
    }

    /**
     * Sends one pipelined command per entry of {@code batch} (taken from {@code pending}), not through the circuit breaker (a write Redis refuses, a full
     * Redis, must not take the worker for disconnected), and removes each entry Redis took, unless a newer value
     * replaced it meanwhile. Returns what went wrong, or null.
     */
    private <V> String writePending(Map<String, V> pending, Map<String, V> batch,
            java.util.function.BiFunction<redis.clients.jedis.AbstractPipeline, Map.Entry<String, V>,
                    redis.clients.jedis.Response<?>> command) {
        Map<String, redis.clients.jedis.Response<?>> replies = new HashMap<>();
        String problem = null;
        try {
            gateway.pipelined(false, p -> {
                batch.entrySet().forEach(e -> replies.put(e.getKey(), command.apply(p, e)));
                return () -> null;
            });
        } catch (RuntimeException e) {
            problem = Failures.describe(e);
        }
        for (Map.Entry<String, V> e : batch.entrySet()) {
            redis.clients.jedis.Response<?> r = replies.get(e.getKey());
            try {
                if (problem == null && r != null) {
                    r.get(); // throws what Redis refused
                    pending.remove(e.getKey(), e.getValue()); // a newer value stays for the next write
                }
            } catch (RuntimeException refused) {
                problem = Failures.describe(refused);
            }
        }
        return problem;
    }

    /** How long a job's checkpoint is kept after its latest save, in seconds. */
    static final long CHECKPOINT_TTL_SECONDS = TimeUnit.DAYS.toSeconds(io.spillway.worker.Job.CHECKPOINT_TTL_DAYS);

    /** A checkpoint to write ({@code state}), or with a null state the delete of a completed job's checkpoint. */
    private record PendingCheckpoint(Active run, String state) {
    }

    /** {@code Job.checkpoint} and {@code Job.lastCheckpoint} of one run. */
    private final class RunCheckpoints implements JobView.Checkpoints {
        private final Active a;
        private final String key;

        RunCheckpoints(Active a) {
            this.a = a;
            this.key = RedisKeys.checkpoint(a.queue, a.job.id());
        }

        /**
         * Written at once while connected and nothing older of the job waits to be written (that one goes first, from
         * the timer, so an older state never overwrites a newer one); else kept for {@link #writeCheckpoints}. Not
         * through the circuit and without retry: one SET waits at most the socket timeout. Nothing after the run
         * lost its lease or was handed back: the job's next run owns the key.
         */
        @Override
        public boolean save(String state) {
            synchronized (a.checkpointLock) {
                if (a.leaseLost || a.settled.get()) {
                    return false;
                }
                a.checkpoint = state;
                a.checkpointKnown = true;
                a.checkpointUsed = true;
                if (!checkpointsToWrite.containsKey(key) && monitor.state() == HealthState.CONNECTED) {
                    try {
                        gateway.executeDirect(j -> j.set(key, state,
                                redis.clients.jedis.params.SetParams.setParams().ex(CHECKPOINT_TTL_SECONDS)));
                        return true;
                    } catch (RuntimeException e) {
                        warnCheckpoints(Failures.describe(e));
                    }
                }
                if (checkpointsToWrite.size() < MAX_PROGRESS_PENDING || checkpointsToWrite.containsKey(key)) {
                    checkpointsToWrite.put(key, new PendingCheckpoint(a, state));
                }
                return false;
            }
        }

        /** Read once per run: a state still waiting here to be written is newer than Redis's. */
        @Override
        public java.util.Optional<String> last() {
            synchronized (a.checkpointLock) {
                if (!a.checkpointKnown) {
                    PendingCheckpoint pending = checkpointsToWrite.get(key);
                    String state;
                    if (pending != null) {
                        state = pending.state();
                    } else if (monitor.state() != HealthState.CONNECTED) {
                        throw new RedisUnavailableException("Redis is unavailable (" + monitor.state() + "): the last"
                                + " checkpoint of job " + a.job.id() + " of queue " + a.queue + " cannot be read now", null);
                    } else {
                        state = gateway.executeDirect(j -> j.get(key));
                    }
                    a.checkpoint = state;
                    a.checkpointKnown = true;
                    a.checkpointUsed |= state != null;
                }
                return java.util.Optional.ofNullable(a.checkpoint);
            }
        }
    }

    /**
     * Writes the checkpoints saved while Redis could not take them (one pipeline), and deletes completed jobs'
     * checkpoints ({@code checkpoint_done.lua}: only while the job is still this run's, or completed): every second
     * while some wait, only while connected. What a run that lost its lease left is dropped unwritten.
     */
    private void writeCheckpoints() {
        if (checkpointsToWrite.isEmpty() || monitor.state() != HealthState.CONNECTED) {
            return;
        }
        Map<String, PendingCheckpoint> saves = new HashMap<>();
        String problem = null;
        for (Map.Entry<String, PendingCheckpoint> e : new HashMap<>(checkpointsToWrite).entrySet()) {
            PendingCheckpoint c = e.getValue();
            Active a = c.run();
            if (a.leaseLost) {
                checkpointsToWrite.remove(e.getKey(), c);
            } else if (c.state() != null) {
                saves.put(e.getKey(), c);
            } else {
                try {
                    gateway.evalDirect(WorkerScripts.CHECKPOINT_DONE, List.of(bytes(RedisKeys.stream(a.queue)),
                            bytes(RedisKeys.job(a.queue, a.job.id())), bytes(e.getKey())),
                            List.of(GROUP, bytes(a.entryId), bytes(name)));
                    checkpointsToWrite.remove(e.getKey(), c);
                } catch (RuntimeException failed) {
                    problem = Failures.describe(failed);
                }
            }
        }
        if (!saves.isEmpty()) {
            String p = writePending(checkpointsToWrite, saves, (pipe, e) -> pipe.set(e.getKey(), e.getValue().state(),
                    redis.clients.jedis.params.SetParams.setParams().ex(CHECKPOINT_TTL_SECONDS)));
            problem = p != null ? p : problem;
        }
        if (problem != null) {
            warnCheckpoints(problem);
        }
    }

    /** One WARN a minute while checkpoints cannot be written. */
    private void warnCheckpoints(String problem) {
        long now = System.nanoTime();
        if (now - checkpointsWarnedAt > TimeUnit.MINUTES.toNanos(1)) {
            checkpointsWarnedAt = now;
            log.warn("Worker {}: job checkpoints not written to Redis ({}): {} kept, written again every second", name,
                    problem, checkpointsToWrite.size());
        }
    }

    /** The TTL of a finished job's status record (C, or K once dropped): the completed retention, at least 1 s. */
    private long retentionSeconds() {
        return Math.max(1, TimeUnit.NANOSECONDS.toSeconds(nanos(s.completedRetention())));
    }

    private Object eval(boolean guarded, io.spillway.core.internal.LuaScript script, List<byte[]> keys, List<byte[]> args) {
        return guarded ? gateway.eval(script, keys, args) : gateway.evalDirect(script, keys, args);
    }

    private static byte[] num(long v) {
        return bytes(Long.toString(v));
    }

    // ---- leases, scheduler, recovery ---------------------------------------------------------------

    private void renewLeases() {
        renewLeases(true, Set.of());
    }

    /** Guarded, of the slots not paused; unguarded (recovery), of the slots not in {@code leaveOut}. */
    private void renewLeases(boolean guarded, Set<Integer> leaveOut) {
        Map<QueueName, List<Active>> byQueue = new LinkedHashMap<>();
        for (Active a : active.values()) {
            if (!a.settled.get()) {
                byQueue.computeIfAbsent(a.queue, k -> new ArrayList<>()).add(a);
            }
        }
        for (Map.Entry<QueueName, List<Active>> e : byQueue.entrySet()) {
            if (guarded ? paused.isPaused(e.getKey()) : leaveOut.contains(paused.slotOf(e.getKey()))) {
                continue; // its check renews them
            }
            try {
                renewLeases(e.getKey(), e.getValue(), guarded);
            } catch (RedisUnavailableException unavailable) {
                if (!guarded || !pauseSlot(e.getKey(), unavailable)) {
                    throw unavailable;
                }
            }
        }
    }

    /** Renews the leases of the jobs of {@code q} in hand. */
    private void renewLeases(QueueName q, boolean guarded) {
        List<Active> all = new ArrayList<>();
        for (Active a : active.values()) {
            if (!a.settled.get() && a.queue.equals(q)) {
                all.add(a);
            }
        }
        renewLeases(q, all, guarded);
    }

    private void renewLeases(QueueName q, List<Active> all, boolean guarded) {
        for (int from = 0; from < all.size(); from += SCRIPT_CHUNK) {
            List<Active> chunk = all.subList(from, Math.min(all.size(), from + SCRIPT_CHUNK));
            List<byte[]> args = new ArrayList<>(chunk.size() + 2);
            List<byte[]> keys = new ArrayList<>(chunk.size() + 1);
            byte[] stream = bytes(RedisKeys.stream(q));
            keys.add(stream);
            args.add(GROUP);
            args.add(bytes(name));
            for (Active a : chunk) {
                args.add(bytes(a.entryId));
                // The status record, read for a cancel request; an entry that did not decode has none (the stream
                // stands in: the script's GET of it fails and is taken for no request).
                keys.add(a.job == null ? stream : bytes(RedisKeys.job(q, a.job.id())));
            }
            List<?> res = (List<?>) eval(guarded, WorkerScripts.RENEW, keys, args);
            int renewed = 0;
            for (int i = 0; i < chunk.size(); i++) {
                if (res.get(i) instanceof Long l && l == 1L) {
                    renewed++;
                } else if (res.get(i) instanceof Long l && l == 2L) {
                    renewed++;
                    cancelRequested(chunk.get(i));
                } else if (!chunk.get(i).leaseLost && !chunk.get(i).settled.get()) {
                    Active a = chunk.get(i);
                    a.leaseLost = true;
                    leasesLost.inc();
                    String runId = monitor.runId();
                    if (res.get(i) instanceof Long l && l == 3L && a.runId != null && runId != null && !a.runId.equals(runId)) {
                        // Not taken over: Redis restarted without it (new run id since the fetch, the entry gone).
                        log.warn("Worker {}: job {} (entry {}) of queue {} is gone from Redis, which restarted without its"
                                + " data since the job was fetched (new run id): no other worker runs it from there, and its"
                                + " outcome changes nothing in Redis (a producer's re-send may bring the job back)", name,
                                a.job == null ? "?" : a.job.id(), a.entryId, q);
                    } else {
                        log.warn("Worker {}: lost the lease of job {} (entry {}) of queue {}: another worker may run it too",
                                name, a.job == null ? "?" : a.job.id(), a.entryId, q);
                    }
                }
            }
            leaseRenewals.inc(renewed);
        }
    }

    /**
     * A renewal found the job's cancel requested (status N): a job still waiting for a thread is dropped now, without
     * running; a running handler sees {@code Job.cancelRequested()}. Once per job.
     */
    private void cancelRequested(Active a) {
        if (a.cancelRequested || a.job == null || a.settled.get()) {
            return;
        }
        a.cancelRequested = true;
        if (a.claimed.compareAndSet(false, true)) {
            skippedCancelled.mark();
            log.info("Worker {}: job {} of queue {} was cancelled while it waited for a thread: dropped without running it",
                    name, a.job.id(), a.queue);
            settle(a, new Outcome(Outcome.Kind.DROP, a.queue, a.entryId, a.job.id().value(), a.job.attempt(),
                    System.currentTimeMillis(), 0, null, null, name));
        } else {
            log.info("Worker {}: job {} of queue {} is running and its cancel was requested: its handler sees"
                    + " job.cancelRequested(), and it will not be retried", name, a.job.id(), a.queue);
        }
    }

    private void runScheduler() {
        if (gateway.isOpen()) {
            return;
        }
        for (QueueName q : s.queues()) {
            if (paused.isPaused(q) || !mayHaveDueJobs(q)) {
                continue;
            }
            try {
                for (int round = 0; round < 10; round++) {
                    Object moved = gateway.eval(WorkerScripts.SCHEDULE,
                            List.of(bytes(RedisKeys.stream(q)), bytes(RedisKeys.delayed(q))),
                            List.of(num(System.currentTimeMillis()), num(SCHEDULE_LIMIT), bytes(RedisKeys.jobPrefix(q))));
                    if (!(moved instanceof Long l) || l < SCHEDULE_LIMIT) {
                        break;
                    }
                }
            } catch (RedisUnavailableException e) {
                if (!pauseSlot(q, e)) {
                    throw e;
                }
            }
        }
    }

    /**
     * Whether the scheduler should look at the queue's delayed set now. Not when the last sample (at most a few seconds
     * old) found it empty and no retry of this worker went there since: an idle queue then costs the scheduler nothing.
     * A job another worker retries is moved by that worker's scheduler; a producer's delayed job is seen by the next
     * sample, within a second.
     */
    private boolean mayHaveDueJobs(QueueName q) {
        Long emptyAt = delayedEmptyAt.get(q);
        if (emptyAt == null || System.nanoTime() - emptyAt > TimeUnit.SECONDS.toNanos(3)) {
            return true; // not known empty, or the samples stopped (a refused read): look, as before
        }
        Long retried = retriedAt.get(q);
        return retried != null && retried - emptyAt >= 0;
    }

    /**
     * Whether a takeover of the queue would surely claim nothing: a sample less than half a lease ago found no pending
     * entry in its group, so every entry pending now was delivered since, and has been idle for less than the lease that
     * XAUTOCLAIM asks of it. A dead worker's jobs are pending, so they are never skipped. Cleared at each recovery (a
     * Redis that restarted may hold older pending entries).
     */
    private boolean nothingToTakeOver(QueueName q) {
        Long at = noPendingAt.get(q);
        return at != null && System.nanoTime() - at < nanos(s.lease()) / 2;
    }

    private void sampleAndHeartbeat() {
        if (gateway.isOpen()) {
            return;
        }
        long now = System.currentTimeMillis();
        // The heartbeat is a write (it grows the AOF), so every WORKER_HEARTBEAT_MS only, not with every sample.
        boolean beat = now - heartbeatAt >= RedisKeys.WORKER_HEARTBEAT_MS || now < heartbeatAt;
        for (QueueName q : s.queues()) {
            if (paused.isPaused(q)) {
                continue; // its figures stay those last read
            }
            Sample v;
            long readAt = System.nanoTime();
            try {
                v = sample(q, now, beat);
            } catch (RedisUnavailableException e) {
                if (!pauseSlot(q, e)) {
                    throw e;
                }
                continue;
            }
            long[] target = sampled.get(q);
            System.arraycopy(v.figures(), 0, target, 0, v.figures()[4] < 0 ? 4 : target.length);
            if (v.figures()[2] == 0) {
                delayedEmptyAt.put(q, readAt);
            } else {
                delayedEmptyAt.remove(q);
            }
            if (v.pendingRead() && v.figures()[1] == 0) {
                noPendingAt.put(q, readAt);
            } else {
                noPendingAt.remove(q);
            }
            hold(q, v.pause());
        }
        if (beat) {
            heartbeatAt = now;
        }
        sampledAt = System.nanoTime();
        heldKnown = true;
        if (now - forgottenAt >= FORGET_CHECK_MS || now < forgottenAt) {
            forgottenAt = now;
            forgetGoneConsumers();
        }
    }

    /** How often (ms) a worker looks for consumers long gone from its queues' groups ({@link #forgetGoneConsumers}). */
    static final long FORGET_CHECK_MS = TimeUnit.MINUTES.toMillis(5);

    /**
     * How long a consumer with no pending entry must have been idle before it is removed from a queue's group: an hour,
     * or ten leases if longer. A live worker reads each of its queues at least every fetch round (unless the queue is
     * paused), so only a gone one gets near it; removing one that was not gone costs nothing (its next read makes it
     * again). A consumer holding a pending entry is never removed.
     */
    static long forgetConsumersAfterMs(Duration lease) {
        return Math.max(TimeUnit.HOURS.toMillis(1), Math.min(MAX_NANOS / 1_000_000L, millis(lease) * 10));
    }

    /**
     * Removes, from each queue's consumer group, the consumers of workers that left without a graceful close (SIGKILL, an
     * OOM kill): no pending entry and idle past {@link #forgetConsumersAfterMs} (forget.lua, which checks and removes in
     * one atomic step). One call per queue every {@value #FORGET_CHECK_MS} ms; a failure waits for the next time.
     */
    private void forgetGoneConsumers() {
        byte[] idle = num(forgetConsumersAfterMs(s.lease()));
        for (QueueName q : s.queues()) {
            if (paused.isPaused(q)) {
                continue;
            }
            try {
                byte[] seenSince = num(System.currentTimeMillis() - RedisKeys.WORKER_SEEN_WINDOW_MS);
                if (gateway.eval(WorkerScripts.FORGET, List.of(bytes(RedisKeys.stream(q)), bytes(RedisKeys.workers(q))),
                        List.of(GROUP, idle, bytes(name), seenSince)) instanceof List<?> gone && !gone.isEmpty()) {
                    List<String> names = new ArrayList<>();
                    for (Object n : gone) {
                        names.add(n instanceof byte[] b ? new String(b, StandardCharsets.UTF_8) : String.valueOf(n));
                    }
                    log.info("Worker {}: removed {} from the group of queue {}, gone without closing (no job leased to"
                            + " them, idle for over {} min, no heartbeat in the last minute): {}", name, count(names.size(), "consumer"), q,
                            TimeUnit.MILLISECONDS.toMinutes(forgetConsumersAfterMs(s.lease())), names);
                }
            } catch (RedisUnavailableException e) {
                if (!pauseSlot(q, e)) {
                    throw e;
                }
            } catch (RuntimeException e) {
                log.debug("Worker {}: could not look for consumers gone from queue {}: {}", name, q, Failures.describe(e));
            }
        }
    }

    /** The operator's pause flag of every queue, read once (before the first fetch). */
    private void readHeld() {
        for (QueueName q : s.queues()) {
            if (paused.isPaused(q)) {
                continue;
            }
            String v;
            try {
                v = gateway.execute(c -> c.get(RedisKeys.paused(q)));
            } catch (RedisUnavailableException e) {
                if (!pauseSlot(q, e)) {
                    throw e;
                }
                continue;
            }
            hold(q, v);
        }
        heldKnown = true;
    }

    /**
     * Notes a queue's pause flag as read ({@code value} null: not paused; else a {@link
     * io.spillway.core.internal.PauseFlag}): one line when it changes.
     */
    private void hold(QueueName q, String value) {
        if (value != null) {
            if (held.add(q)) {
                String reason = io.spillway.core.internal.PauseFlag.reason(value);
                log.info("Worker {}: queue {} is paused{}: no new job is taken from it until it is resumed", name, q,
                        reason.isEmpty() ? "" : " (" + Failures.oneLine(reason) + ")");
            }
        } else if (held.remove(q)) {
            log.info("Worker {}: queue {} is resumed: jobs are taken from it again", name, q);
        }
    }

    /**
     * One queue's figures: waiting, in flight, delayed, dead, workers seen; and its pause flag's value (null: not paused).
     */
    private record Sample(long[] figures, String pause, boolean pendingRead) {
    }

    /**
     * One queue's {@link Sample}, and with {@code beat} this worker's heartbeat on it, which also trims the members older
     * than the window (workers gone without closing): one pipelined round trip. Workers are counted over the window, as
     * {@code spillway status} and metrics-reporter's {@code QueueStats} count them.
     */
    private Sample sample(QueueName q, long now, boolean beat) {
        return gateway.pipelined(true, p -> {
            var pausedFlag = p.get(RedisKeys.paused(q));
            var len = p.xlen(RedisKeys.stream(q));
            var delayed = p.zcard(RedisKeys.delayed(q));
            var deadN = p.zcard(RedisKeys.dead(q));
            String workersKey = RedisKeys.workers(q);
            redis.clients.jedis.Response<Object> beatReply = null;
            List<String> beatKeys = List.of(RedisKeys.stream(q), workersKey);
            List<String> beatArgs = List.of(Long.toString(now), name, Long.toString(now - RedisKeys.WORKER_SEEN_WINDOW_MS));
            if (beat) {
                // A script (room.lua): a plain ZADD is refused on a full Redis, where the workers still run.
                beatReply = p.evalsha(WorkerScripts.BEAT.sha(), beatKeys, beatArgs);
            }
            redis.clients.jedis.Response<Object> beaten = beatReply;
            var workers = p.zcount(workersKey, now - RedisKeys.WORKER_SEEN_WINDOW_MS, Double.POSITIVE_INFINITY);
            var pending = p.xpending(RedisKeys.stream(q), RedisKeys.GROUP);
            return () -> {
                if (beaten != null) {
                    try {
                        beaten.get();
                    } catch (RuntimeException e) {
                        if (!String.valueOf(e.getMessage()).startsWith("NOSCRIPT")) {
                            throw e;
                        }
                        // Redis lost its scripts (SCRIPT FLUSH, a restart the probe did not see): the gateway's call
                        // loads it again. Before, the heartbeat stopped without a word, and other workers took this
                        // live one for gone.
                        eval(true, WorkerScripts.BEAT, beatKeys.stream().map(RedisKeys::bytes).toList(),
                                beatArgs.stream().map(RedisKeys::bytes).toList());
                    }
                }
                long pend = 0;
                boolean pendingRead = false;
                try {
                    pend = pending.get().getTotal();
                    pendingRead = true;
                } catch (RuntimeException e) {
                    // NOGROUP before the first fetch created the group.
                }
                long seen;
                try {
                    seen = workers.get();
                } catch (RuntimeException e) {
                    if (!Failures.isPermissionDenied(e)) {
                        throw e;
                    }
                    // An ACL granted before ZCOUNT was used: the other figures and the pause flag still count.
                    refused("the count of live workers (ZCOUNT)", e);
                    seen = -1;
                }
                return new Sample(new long[] {Math.max(0, len.get() - pend), pend, delayed.get(), deadN.get(), seen},
                        pausedFlag.get(), pendingRead);
            };
        });
    }

    /**
     * A fetch loop that is connected but not progressing rebuilds its connection: either one fetch has
     * not returned for {@code stuckAfter}, or jobs wait in a queue while our fetches keep coming back
     * empty with free capacity.
     */
    private void checkStuck() {
        long now = System.nanoTime();
        long pauseNanos = PauseWatch.JVM.pausedAfter(Math.min(lastFetchProgress, lastNonEmptyFetch), now);
        if (pauseNanos > 0) {
            // This JVM did not run for a while: the fetch loop did not either, so its silence says nothing about the
            // connection, and calling it starved would move the group back and run the jobs in flight twice. It gets a
            // fresh window.
            lastFetchProgress = now;
            lastNonEmptyFetch = now;
            log.info("Worker {}: this JVM did not run for {} ms (a long GC pause, SIGSTOP, a suspended VM): the fetch"
                    + " loop's stuck watch starts over", name, TimeUnit.NANOSECONDS.toMillis(pauseNanos));
            return;
        }
        if (!fetching || monitor.state() != HealthState.CONNECTED || (localCount.get() > 0 && !paused.enabled())) {
            return;
        }
        long limit = nanos(s.stuckAfter());
        // One fetch legitimately takes up to BLOCK + the socket timeout: never call that stuck.
        long fetchLimit = Math.max(limit, nanos(s.fetchBlock()) + nanos(s.redis().socketTimeout()) + TimeUnit.SECONDS.toNanos(1));
        boolean hung = now - lastFetchProgress > fetchLimit;
        boolean starving = now - lastNonEmptyFetch > limit && inFlight.get() < maxInFlight()
                && sampled.entrySet().stream().anyMatch(e -> e.getValue()[0] > 0 && !paused.isPaused(e.getKey())
                        && !held.contains(e.getKey()));
        if (hung || starving) {
            String why = hung ? "no fetch finished for " + TimeUnit.NANOSECONDS.toMillis(now - lastFetchProgress) + " ms"
                    : "jobs are waiting but fetches came back empty for " + TimeUnit.NANOSECONDS.toMillis(now - lastNonEmptyFetch) + " ms";
            log.warn("Worker {}: fetch is stuck while connected ({}): rebuilding its Redis connection", name, why);
            if (!hung) {
                starvedQueues.clear();
                sampled.forEach((q, v) -> {
                    if (v[0] > 0 && !paused.isPaused(q) && !held.contains(q)) {
                        starvedQueues.add(q);
                    }
                });
            }
            lastFetchProgress = now;
            lastNonEmptyFetch = now;
            gateway.resetConnections();
            gateway.markUnavailable(new SpillwayException("worker fetch stuck: " + why));
            Thread t = fetchThread;
            if (t != null) {
                t.interrupt();
            }
        }
    }

    /**
     * Runs on the reconnect loop between "Redis healthy" and "circuit closed". On a cluster the probe passes while some
     * masters fail, as long as one serves a queue of this worker: the slots they serve (of its queues, and of outcomes
     * kept locally) are paused, or stay so, and left out; the others are recovered and their pauses end. The paused ones
     * are then checked with backoff by the fetch thread ({@link #checkPausedSlots}), as after a pause while connected.
     */
    private void recover() {
        Map<Integer, QueueName> down = unavailableSlots();
        Set<Integer> leaveOut = down.keySet();
        if (!down.isEmpty() && leaveOut.containsAll(paused.slots())) {
            // The probe passes only when a master of one of them is healthy: this one failed since, an outage as any.
            throw new RedisUnavailableException(monitor.lastProbe().unavailable(paused.slots().get(0)), null);
        }
        for (Map.Entry<Integer, QueueName> e : down.entrySet()) {
            pause(e.getKey(), e.getValue(), monitor.lastProbe().unavailable(e.getKey()));
        }
        noPendingAt.clear(); // a restarted Redis may hold pending entries older than the last sample: take them over
        ensureGroups(leaveOut);
        gateway.loadScripts(WorkerScripts.ALL);
        // Renewals first, then the kept outcomes: both before any worker that reconnected sooner may take over
        // (takeoverFrom), and the renewals are one cheap call per queue.
        renewLeases(false, leaveOut);
        flushLocal(false, -1, leaveOut);
        rewindStarvedGroups(leaveOut);
        lastNonEmptyFetch = System.nanoTime();
        holdTakeovers();
        // The queues paused one by one whose master the probe found healthy go on with the others.
        List<QueueName> resumed = new ArrayList<>();
        for (int slot : paused.pausedSlots()) {
            if (!leaveOut.contains(slot) && paused.resume(slot) >= 0) {
                resumed.addAll(paused.queuesOf(slot));
            }
        }
        if (!resumed.isEmpty()) {
            log.info("Worker {}: queues {} resumed: {}", name, resumed, leaveOut.isEmpty()
                    ? "every Redis Cluster master answers again" : "their Redis Cluster master answers again");
        }
    }

    /**
     * After a connect: no takeover for {@link #takeoverHold()}, said once at INFO after an outage. A worker's first
     * connect holds only if Redis did not answer its first probe (it may be coming back from an outage, its owners
     * not yet), or if Redis itself started less than the hold ago (a worker started as Redis came back: the leases of
     * the workers still reconnecting look expired too), until Redis has been up that long; a worker started while
     * Redis is healthy takes over a killed worker's jobs one lease after their last renewal, as before.
     */
    private void holdTakeovers() {
        long hold = takeoverHold();
        if (!connectedBefore && monitor.failedAttempts() == 0) {
            connectedBefore = true;
            long up = redisUptimeNanos();
            if (up >= 0 && up < hold && deliveredBefore(TimeUnit.NANOSECONDS.toMillis(up))) {
                takeoverFrom = System.nanoTime() + hold - up;
                log.info("Worker {}: Redis started {} ago: takes over no expired lease for {} more (Redis counts the time it"
                        + " was down as idle time, and the workers that hold those jobs may still be reconnecting)", name,
                        inWords(TimeUnit.NANOSECONDS.toMillis(up)), inWords(TimeUnit.NANOSECONDS.toMillis(hold - up)));
            }
            return;
        }
        takeoverFrom = System.nanoTime() + hold;
        if (connectedBefore) {
            log.info("Worker {}: takes over no expired lease for {} after reconnecting: Redis counted the outage as idle"
                    + " time, and the workers that hold those jobs renew their leases as they reconnect", name,
                    inWords(TimeUnit.NANOSECONDS.toMillis(hold)));
        }
        connectedBefore = true;
    }

    /**
     * Whether a queue of this worker has a pending entry idle for longer than {@code upMillis}, Redis's uptime (in
     * whole seconds, so a second more): one delivered before Redis started (restored from its AOF, the downtime counted as idle time), whose owner may still be
     * reconnecting. A queue that cannot be read counts as one.
     */
    private boolean deliveredBefore(long upMillis) {
        for (QueueName q : s.queues()) {
            try {
                String stream = RedisKeys.stream(q);
                if (!gateway.executeDirect(c -> c.xpending(stream, RedisKeys.GROUP,
                        XPendingParams.xPendingParams().idle(upMillis + 1_000).count(1))).isEmpty()) {
                    return true;
                }
            } catch (RuntimeException e) {
                return true;
            }
        }
        return false;
    }

    /** How long the Redis of the last probe has been running ({@code uptime_in_seconds}), or -1 if it did not say. */
    private long redisUptimeNanos() {
        RedisGateway.Probe probe = monitor.lastProbe();
        String up = probe == null ? null : probe.info().get("uptime_in_seconds");
        if (up == null) {
            return -1;
        }
        try {
            return TimeUnit.SECONDS.toNanos(Long.parseLong(up.trim()));
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /**
     * How long a worker takes over nothing after it connected: one lease, and at least the longest a live owner's
     * reconnect can come after this one's (a probe that was failing as Redis came back, the backoff cap, a probe and
     * its recovery), so that every owner connected since has renewed its leases and sent its kept outcomes.
     */
    private long takeoverHold() {
        long probe = Math.min(nanos(s.redis().connectTimeout()) + nanos(s.redis().socketTimeout()), MAX_NANOS / 8);
        long lag = nanos(RECONNECT_MAX_BACKOFF) + 2 * probe + TimeUnit.SECONDS.toNanos(2);
        return Math.max(nanos(s.lease()), lag);
    }

    /**
     * The slots whose master the probe that led to this recovery found failed: of this worker's queues and of the
     * outcomes it keeps locally, each with one of its queues. Empty but on a cluster.
     */
    private Map<Integer, QueueName> unavailableSlots() {
        RedisGateway.Probe probe = monitor.lastProbe();
        Map<Integer, QueueName> out = new LinkedHashMap<>();
        if (!paused.enabled() || probe == null) {
            return out;
        }
        List<QueueName> queues = new ArrayList<>(s.queues());
        synchronized (localLock) {
            for (Outcome o : localPending) {
                queues.add(o.queue());
            }
        }
        for (QueueName q : queues) {
            int slot = paused.slotOf(q);
            if (!out.containsKey(slot) && probe.unavailable(slot) != null) {
                out.put(slot, q);
            }
        }
        return out;
    }

    /**
     * Jobs wait in the stream but the group never delivers them: its last-delivered id is ahead of them (a
     * group reset or recreated at {@code $}, a restore from an older snapshot). A new connection does not
     * change that, so the group is moved back to the start: every entry still in the stream is delivered
     * again. Acked entries are deleted, so that is the waiting jobs plus those running right now, which may
     * run twice (at-least-once). A queue of a slot in {@code leaveOut} waits for the next recovery.
     */
    private void rewindStarvedGroups(Set<Integer> leaveOut) {
        for (QueueName q : List.copyOf(starvedQueues)) {
            if (leaveOut.contains(paused.slotOf(q))) {
                continue;
            }
            String stream = RedisKeys.stream(q);
            gateway.executeDirect(c -> c.xgroupSetID(stream, RedisKeys.GROUP, new StreamEntryID()));
            log.warn("Worker {}: queue {} had jobs waiting that its consumer group did not deliver: the group was moved back"
                    + " to deliver them (jobs running right now may run twice)", name, q);
            starvedQueues.remove(q);
        }
    }

    /**
     * Fetch thread, after NOGROUP: makes each queue's consumer group if it is missing (group.lua, which also runs when
     * Redis's memory is full), but those of paused slots (their check makes them); a slot found unavailable is paused.
     */
    private void ensureGroups() {
        for (QueueName q : s.queues()) {
            if (paused.isPaused(q)) {
                continue;
            }
            try {
                eval(true, WorkerScripts.GROUP, List.of(bytes(RedisKeys.stream(q))), List.of(GROUP));
            } catch (RedisUnavailableException e) {
                if (!pauseSlot(q, e)) {
                    throw e;
                }
            }
        }
    }

    /** Recovery: makes each queue's consumer group if it is missing, but those of the slots {@code leaveOut}. */
    private void ensureGroups(Set<Integer> leaveOut) {
        for (QueueName q : s.queues()) {
            if (!leaveOut.contains(paused.slotOf(q))) {
                eval(false, WorkerScripts.GROUP, List.of(bytes(RedisKeys.stream(q))), List.of(GROUP));
            }
        }
    }

    // ---- close -------------------------------------------------------------------------------------

    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        try {
            stop();
        } finally {
            stopped.countDown();
        }
    }

    /** Blocks until {@link #close()} has finished, at most {@code nanos}; whether it has. */
    public boolean awaitClosed(long nanos) throws InterruptedException {
        return stopped.await(nanos, TimeUnit.NANOSECONDS);
    }

    /** Blocks until {@link #close()} has finished. */
    public void awaitClosed() throws InterruptedException {
        stopped.await();
    }

    private void stop() {
        if (!started.get()) {
            gateway.close();
            ackLog.close();
            monitor.close();
            return;
        }
        PauseWatch.JVM.release(); // the stuck check, its one user, stops with the timers below
        long t0 = System.nanoTime();
        fetching = false;
        join(fetchThread, Duration.ofNanos(nanos(s.fetchBlock())).plusSeconds(2));
        draining = true; // jobs fetched but not started are handed back at once
        for (Active a; (a = awaitingStart.poll()) != null; ) {
            settle(a, release(a)); // never submitted to a handler: handed back here
        }
        handlers.shutdown();
        boolean finished;
        try {
            finished = handlers.awaitTermination(millis(s.shutdownTimeout()), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            finished = false;
        }
        int handedBack = 0;
        int failedPastTimeout = 0;
        if (!finished) {
            List<Active> running = new ArrayList<>();
            long now = System.nanoTime();
            for (Active a : active.values()) {
                if (a.job != null && a.settled.compareAndSet(false, true)) {
                    if (a.thread != null && (a.timedOut || now - a.deadline > 0)) {
                        // Its run has failed already (past its timeout): a hand-back would make it a fresh attempt in
                        // another worker, and a job that always hangs would move on at every deploy, never retried
                        // nor dead-lettered. Recorded as the failed attempt it is.
                        fail(a, timeoutReason(a), null, true);
                        failedPastTimeout++;
                    } else {
                        queueOutcome(a, release(a));
                        handedBack++;
                    }
                    if (a.thread != null) {
                        running.add(a);
                    }
                }
            }
            handlers.shutdownNow();
            warnOfHandlersStillRunning(running);
        }
        // A fetch that still waited for Redis (slow or hung) may bring jobs after all; the pool refuses them
        // now, so dispatch hands them back. Wait for that round to end so the hand-backs are sent below,
        // instead of the jobs staying leased to this stopped consumer until their lease expires.
        Duration round = fetchRound();
        join(fetchThread, round);
        if (fetchThread.isAlive()) {
            log.warn("Worker {}: a fetch still waits for Redis {} after close began; jobs it brings stay leased to this"
                    + " stopped worker until their lease ({}) expires, then other workers take them", name, round, s.lease());
        }
        ackerStop = true;
        join(ackThread, Duration.ofSeconds(10));
        timers.shutdownNow();
        writeProgress(); // the last progress of the jobs that ended since the timer's last write
        writeCheckpoints();
        if (!checkpointsToWrite.isEmpty()) {
            log.warn("Worker {}: {} job checkpoints not written to Redis (unavailable) when it closed: the next runs of"
                    + " those jobs resume from earlier ones", name, checkpointsToWrite.size());
        }
        List<Outcome> late = new ArrayList<>();
        outcomes.drainTo(late); // queued after the acker's last look
        if (!late.isEmpty()) {
            send(late);
        }
        try {
            flushLocal(true);
        } catch (RuntimeException e) {
            // Still away: the outcomes stay in the ack log for the next worker with this state directory.
        }
        if (localCount.get() > 0) {
            log.warn("Worker {}: Redis is away; {} job outcomes stay in {} and are sent by the next worker using {}", name,
                    localCount.get(), ackLog.file(), s.stateDir());
        } else {
            // A fetch still blocked in Redis could be handed a job between the XPENDING check and DELCONSUMER, which
            // would then drop that job from the pending list (delivered, yet leased to no one): keep the consumer
            // while the fetch thread lives; its jobs then stay leased to it until their lease expires.
            boolean fetchGone = fetchThread == null || !fetchThread.isAlive();
            for (QueueName q : s.queues()) {
                try {
                    gateway.execute(c -> {
                        c.zrem(RedisKeys.workers(q), name);
                        // DELCONSUMER drops the consumer's pending entries: only when it holds none.
                        if (fetchGone && c.xpending(RedisKeys.stream(q), RedisKeys.GROUP,
                                XPendingParams.xPendingParams().count(1).consumer(name)).isEmpty()) {
                            c.xgroupDelConsumer(RedisKeys.stream(q), RedisKeys.GROUP, name);
                        }
                        return null;
                    });
                } catch (RuntimeException e) {
                    log.debug("Worker {}: could not remove its consumer from {}: {}", name, q, Failures.describe(e));
                }
            }
        }
        int kept = localCount.get();
        monitor.close();
        gateway.close();
        ackLog.close();
        String ended = count(handedBack, "running job") + " handed back"
                + (failedPastTimeout > 0 ? ", " + count(failedPastTimeout, "job") + " past its timeout recorded as failed" : "");
        if (kept > 0 && (handedBack > 0 || failedPastTimeout > 0)) {
            // Nothing reached Redis: the jobs stay leased to this worker until the next worker on this state directory
            // sends the kept outcomes, or their lease runs out.
            ended = count(handedBack + failedPastTimeout, "running job") + " to hand back or retry: not sent, Redis is away;"
                    + " kept in " + s.stateDir() + " for the next worker using it";
        }
        log.info("Worker {} stopped in {} ms ({})", name, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0), ended);
    }

    /**
     * Handlers that honour the interrupt of {@code close()} return at once; the ones still running a moment later
     * ignore it. Their jobs are handed back already (another worker may start them while they still run here) and
     * their threads, which no one can stop, keep running: say so, naming the jobs.
     */
    private void warnOfHandlersStillRunning(List<Active> interrupted) {
        if (interrupted.isEmpty()) {
            return;
        }
        try {
            handlers.awaitTermination(TimeUnit.NANOSECONDS.toMillis(IGNORED_TIMEOUT_NANOS), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        List<String> jobs = new ArrayList<>();
        for (Active a : interrupted) {
            synchronized (a) {
                if (a.thread != null) {
                    a.runningAfterClose = true;
                    jobs.add(a.job.id() + " (queue " + a.queue + (a.timedOut ? ", past its timeout: retried or dead-lettered"
                            : "") + ")");
                }
            }
        }
        if (!jobs.isEmpty()) {
            int shown = Math.min(jobs.size(), 20);
            log.warn("Worker {}: the handlers of these jobs ignore the interrupt of close() and still run: {}{}. Those jobs are"
                    + " handed back to the queue (or retried, if past their timeout), so each may run twice, here and in"
                    + " another worker; their threads keep running until the handlers return (or the JVM exits)", name, String.join(", ", jobs.subList(0, shown)),
                    jobs.size() > shown ? " and " + (jobs.size() - shown) + " more" : "");
        }
    }

    /**
     * The longest one fetch round takes while Redis is slow to answer: its blocking read (BLOCK plus a
     * socket timeout) and a few more calls (the start script, a takeover), each at most a connect and a
     * socket timeout. A Redis found unavailable opens the circuit, after which the round's calls fail at once.
     */
    private Duration fetchRound() {
        long call = nanos(s.redis().connectTimeout()) + nanos(s.redis().socketTimeout());
        return Duration.ofNanos(nanos(s.fetchBlock()) + 4 * Math.min(call, MAX_NANOS / 8) + TimeUnit.SECONDS.toNanos(1));
    }

    private static void join(Thread t, Duration d) {
        if (t == null) {
            return;
        }
        try {
            t.join(Math.max(1, millis(d)));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** A fetched job until its outcome is queued. */
    private static final class Active {
        final QueueName queue;
        final String entryId;
        final JobRecord job;
        final byte[] raw;
        final AtomicBoolean settled = new AtomicBoolean();
        /** Taken once: by the handler thread that runs it, or by a hand-back while it still waits for a thread. */
        final AtomicBoolean claimed = new AtomicBoolean();
        /** Its count in {@code inFlight} was given back: once, when no handler thread holds the job any more. */
        final AtomicBoolean slotFreed = new AtomicBoolean();
        volatile Thread thread;
        volatile long dispatchedAt;
        volatile long startedAt;
        volatile long deadline;
        volatile long interruptedAt;
        /** Past its deadline and interrupted: its outcome is that failure, recorded when the handler returns. Set holding this lock. */
        volatile boolean timedOut;
        volatile boolean ignoredTimeout;
        /** close() warned that its handler still ran after the interrupt, its job handed back. */
        volatile boolean runningAfterClose;
        volatile boolean leaseLost;
        /** The run id of the Redis it was fetched from (null if unknown): a lease found gone after a restart says so. */
        volatile String runId;
        /** A lease renewal found its cancel requested (status N): not run if not started; the handler sees it. */
        volatile boolean cancelRequested;
        /** One checkpoint save or read of this run at a time (not the run's own lock: a save may wait for Redis). */
        final Object checkpointLock = new Object();
        /** The job's latest checkpoint as this run knows it (read from Redis, or its own save), once known. */
        String checkpoint;
        boolean checkpointKnown;
        /** This run saved or found a checkpoint: it is deleted when the job completes. */
        volatile boolean checkpointUsed;

        Active(QueueName queue, String entryId, JobRecord job, byte[] raw) {
            this.queue = queue;
            this.entryId = entryId;
            this.job = job;
            this.raw = raw;
        }

        String key() {
            return queue.value() + ' ' + entryId;
        }
    }
}
