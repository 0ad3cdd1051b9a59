package io.spillway.core.internal;

import com.codahale.metrics.Counter;
import com.codahale.metrics.Gauge;
import com.codahale.metrics.MetricRegistry;
import io.spillway.core.HealthState;
import io.spillway.core.MetricNames;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import redis.clients.jedis.HostAndPort;
import org.slf4j.LoggerFactory;

/**
 * The reconnect loop of one component (producer or worker). It owns the connection state and is the only
 * one that closes the gateway's circuit.
 *
 * <p>What its thread does:
 * <ol>
 *   <li>While {@link HealthState#CONNECTED}: sleep until a call reports Redis unavailable; every heartbeat (1 s) ask
 *       Redis for its run id (a new one: Redis restarted) and, with Sentinel, a sentinel for the master's address (another
 *       than the pool's: a failover). Either starts the reconnect path.</li>
 *   <li>On a failure: state {@code DISCONNECTED}, log {@code Redis connection lost: <cause>} once (on this
 *       loop's thread, a couple of milliseconds later, so that the failing caller goes straight on to the
 *       journal).</li>
 *   <li>Probe on a fresh connection with capped exponential backoff and full jitter, forever. Healthy
 *       means PING answers, not LOADING, master role, a write accepted. With Sentinel the probe goes to the
 *       master the sentinels name at that moment: a demoted old master (role replica, READONLY) is "not
 *       healthy yet", and the loop keeps probing until the sentinels name the new one. On a Redis Cluster every
 *       master must pass, but for a gateway that {@link RedisGateway#isolateSlots isolates slots} (a worker): one that
 *       serves a slot of its queues is enough, and the recovery reads which failed from {@link #lastProbe()}.</li>
 *   <li>Healthy: state {@code RECOVERING}, drop stale pooled connections, run the component's
 *       {@link Recovery} (the producer replays its journal) on the still-open circuit.</li>
 *   <li>Recovery done: close the circuit, state {@code CONNECTED}, log {@code Connected to Redis successfully}.
 *       A failure during recovery goes back to step 3.</li>
 * </ol>
 * Logging stays readable while Redis is down: the first five failed attempts are logged, then one line
 * every tenth attempt with a running total. A command or key refused by Redis's ACL ({@code NOPERM}) is not an
 * outage: it is said at ERROR with what to grant, when it starts, when the refusal changes and every tenth attempt,
 * and Redis is not called healthy while the recovery (the replay) is refused. A URI of the wrong kind for the server
 * it reaches (a sentinel given as {@code redis://}, a Redis as {@code redis-sentinel://}, a cluster node as
 * {@code redis://}, …: {@link WrongKind}, asked once per outage) is said at ERROR once, naming the URI to write, and
 * then only in the line of every tenth attempt. Settings the connect-time check could not read ({@code CONFIG}
 * disabled) are said once per JVM and Redis. Thread-safe.
 */
public final class HealthMonitor implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(HealthMonitor.class);
    public static final long DEFAULT_HEARTBEAT_MILLIS = 1_000;
    /** How long the loop waits, after a caller reported Redis unavailable, before it logs and probes. */
    static final long CALLER_FIRST_MILLIS = 2;
    private static final String RECOVERY_FAILED = "recovery failed: ";

    /** What a component does between "Redis is healthy" and "circuit closed". */
    @FunctionalInterface
    public interface Recovery {
        void recover() throws Exception;
    }

    /** Told of every state change, on the monitor's thread or a failing caller's. Must be fast and not throw. */
    @FunctionalInterface
    public interface Listener {
        void onStateChange(HealthState from, HealthState to, String cause);
    }

    private final RedisGateway gateway;
    private final Backoff backoff;
    private final Recovery recovery;
    private final String name;
    private final List<Listener> listeners = new CopyOnWriteArrayList<>();
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final Counter reconnectAttempts;
    private final Counter connectionLost;
    private volatile HealthState state = HealthState.DISCONNECTED;
    private volatile boolean everConnected;
    private volatile boolean closed;
    private volatile boolean sendsAgain;
    /** Reconnect attempts that failed, for {@link #awaitConnectedOrFailed}; guarded by {@link #lock}. */
    private int failedAttempts;
    private volatile long disconnectedAtNanos = System.nanoTime();
    private volatile String runId;
    private volatile ReplicaWatch replicaWatch;
    private volatile java.util.function.LongConsumer alive;
    /** The probe that found Redis healthy last, for the recovery that follows it. */
    private volatile RedisGateway.Probe lastProbe;
    private volatile boolean writeAhead;
    /** Cause of the last move to DISCONNECTED, not yet logged; guarded by {@link #lock}. */
    private String lostCause;
    private volatile boolean restarted;
    /** Set by {@link #runIdNotRecorded}: the first healthy probe counts as a restart. */
    private volatile boolean unrecorded;
    /**
     * A restart was found and the recovery that sends the writes Redis may have lost did not finish (Redis failed
     * again during it): the next recovery must count it as a restart too, though the run id no longer changes.
     */
    private boolean restartPending;
    private boolean restartPendingSaid;
    private final long heartbeatMillis;
    /** Settings already said to be unchecked, per Redis: {@link RedisGateway#uncheckedSettings} is said once per JVM. */
    private static final java.util.Set<String> UNCHECKED_SAID = java.util.concurrent.ConcurrentHashMap.newKeySet();
    /** The last permission refusal logged at ERROR: the same one again is repeated only every tenth attempt. */
    private volatile String refusalSaid;
    /**
     * What {@link WrongKind#find} said in this outage: its problem, or "" for a server of the right kind; null until asked
     * (and again after a healthy probe). Read and written on the loop's thread only.
     */
    private String kindFound;
    /** The wrong-kind problem last logged at ERROR: repeated only every tenth attempt. Loop's thread only. */
    private String wrongKindSaid;
    private Thread thread;
    /** Run before each probe: see {@link #beforeEachProbe}. */
    private volatile Runnable beforeProbe = () -> { };

    /** Checks Redis every second while connected. */
    public HealthMonitor(RedisGateway gateway, Backoff backoff, Recovery recovery, MetricRegistry registry) {
        this(gateway, backoff, recovery, registry, DEFAULT_HEARTBEAT_MILLIS);
    }

    /**
     * @param heartbeatMillis how often, while connected, to ask Redis for its run id: a changed id means
     *     Redis restarted (and may have lost its last writes) even if no call failed
     */
    public HealthMonitor(RedisGateway gateway, Backoff backoff, Recovery recovery, MetricRegistry registry,
                         long heartbeatMillis) {
        this.heartbeatMillis = heartbeatMillis;
        this.gateway = gateway;
        this.backoff = backoff;
        this.recovery = recovery;
        this.name = gateway.component();
        this.reconnectAttempts = registry.counter(MetricNames.RECONNECT_ATTEMPTS + "." + name);
        this.connectionLost = registry.counter(MetricNames.CONNECTION_LOST + "." + name);
        String stateGauge = MetricNames.CONNECTION_STATE + "." + name;
        registry.remove(stateGauge);
        registry.register(stateGauge, (Gauge<Integer>) () -> state().gaugeValue());
        gateway.onUnavailable(this::reportFailure);
        // Until the first probe succeeds (and anything left in a journal is replayed) the circuit stays open.
        gateway.markUnavailable(null);
    }

    /** Starts the loop; the first probe runs at once. */
    public synchronized void start() {
        if (thread != null) {
            return;
        }
        thread = new Thread(this::run, "spillway-reconnect-" + name);
        thread.setDaemon(true);
        thread.start();
    }

    /** The state, or {@link HealthState#CLOSED} once {@link #close()} has been called. */
    public HealthState state() {
        return closed ? HealthState.CLOSED : state;
    }

    /**
     * Runs {@code r} on the loop's thread before each probe, once the circuit is open: the producer waits there for
     * its direct writes still in flight, so that none reaches a new master (which the probe would move the client to)
     * ahead of the re-send, and each one Redis acknowledged is among the recent writes the recovery re-sends. Must not
     * throw.
     */
    public void beforeEachProbe(Runnable r) {
        this.beforeProbe = r;
    }

    public void addListener(Listener listener) {
        listeners.add(listener);
    }

    /**
     * Reads the master's {@code INFO replication} with each heartbeat and tells {@code watch} (a producer's resend
     * buffer keeps what no replica has confirmed). Not on a cluster. Call before {@link #start}.
     */
    public void watchReplication(ReplicaWatch watch) {
        this.replicaWatch = watch;
    }

    /**
     * Tells {@code alive} (epoch ms, read before the call) after each heartbeat that found Redis with the run id it had
     * before: Redis was up then, with the writes it acknowledged earlier, so the producer's re-send buffers can let go
     * of what is older than their window. Not for a gateway that {@link RedisGateway#isolateSlots isolates slots}. Call
     * before {@link #start}.
     */
    public void onAlive(java.util.function.LongConsumer alive) {
        this.alive = alive;
    }

    /**
     * During recovery: whether Redis restarted since this component was last connected (its run id
     * changed), so writes acknowledged just before may be lost (AOF everysec) and should be sent again.
     */
    public boolean redisRestarted() {
        return restarted;
    }

    /**
     * During recovery: the probe that found Redis healthy. For a gateway that {@link RedisGateway#isolateSlots isolates
     * slots} it may have passed with some masters failed: {@link RedisGateway.Probe#unavailable} says which slots they
     * serve, and the recovery leaves their queues paused. Null before the first healthy probe.
     */
    public RedisGateway.Probe lastProbe() {
        return lastProbe;
    }

    /**
     * Sets the run id of the Redis this component's recent writes went to, as recorded by a predecessor
     * process (before {@link #start}): if the Redis found at the first probe has another one, it restarted
     * in between and {@link #redisRestarted()} says so.
     */
    public void knownRunId(String id) {
        if (runId == null) {
            runId = id;
        }
    }

    /**
     * Before {@link #start}: a predecessor (a producer, the tool's replay) wrote to Redis within the resend window but
     * the run id of that Redis was not recorded, so a restart since cannot be told: the first healthy probe counts as
     * one ({@link #redisRestarted()}), and the recovery sends those writes again (idempotently) rather than risk them.
     */
    public void runIdNotRecorded() {
        this.unrecorded = true;
    }

    /**
     * Before {@link #start}: this component is a write-ahead producer, which does not lose jobs to a Redis without
     * persistence; the connect check says so instead of warning.
     */
    public void writeAhead(boolean on) {
        this.writeAhead = on;
    }

    /**
     * Before {@link #start}: this component's recovery sends its recent writes again after a Redis restart or failover
     * (a producer), so the line that reports the new run id says so; a worker's does not.
     */
    public void sendsRecentWritesAgain(boolean on) {
        this.sendsAgain = on;
    }

    /** The run id of the Redis last probed, or null before the first probe. */
    public String runId() {
        return runId;
    }

    /**
     * Reconnect attempts of this monitor that failed (a probe, or the recovery after it) since it started: 0 at the first
     * recovery means Redis answered this component's first probe.
     */
    public int failedAttempts() {
        lock.lock();
        try {
            return failedAttempts;
        } finally {
            lock.unlock();
        }
    }

    public long reconnectAttempts() {
        return reconnectAttempts.getCount();
    }

    /**
     * Waits until {@link HealthState#CONNECTED}, or a reconnect attempt failed (Redis is away: no use waiting out the
     * backoff), or the timeout; true if connected.
     */
    public boolean awaitConnectedOrFailed(long timeout, TimeUnit unit) throws InterruptedException {
        long deadline = System.nanoTime() + unit.toNanos(timeout);
        lock.lock();
        try {
            int failed = failedAttempts;
            while (state != HealthState.CONNECTED && failedAttempts == failed) {
                long left = deadline - System.nanoTime();
                if (left <= 0 || closed) {
                    return false;
                }
                changed.awaitNanos(left);
            }
            return state == HealthState.CONNECTED;
        } finally {
            lock.unlock();
        }
    }

    /** Waits until {@link HealthState#CONNECTED} or the timeout; true if connected. */
    public boolean awaitConnected(long timeout, TimeUnit unit) throws InterruptedException {
        long deadline = System.nanoTime() + unit.toNanos(timeout);
        lock.lock();
        try {
            while (state != HealthState.CONNECTED) {
                long left = deadline - System.nanoTime();
                if (left <= 0 || closed) {
                    return false;
                }
                changed.awaitNanos(left);
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** A call found Redis unavailable (or a component noticed it). Cheap when already disconnected. */
    public void reportFailure(Throwable cause) {
        if (cause == null || state == HealthState.DISCONNECTED) {
            return;
        }
        transition(HealthState.DISCONNECTED, Failures.describe(cause));
    }

    private boolean transition(HealthState to, String cause) {
        HealthState from;
        lock.lock();
        try {
            from = state;
            if (from == to) {
                return false;
            }
            state = to;
            if (to == HealthState.DISCONNECTED && from != HealthState.RECOVERING) {
                // From RECOVERING it is the same outage going on (a replay that failed is logged as a failed
                // reconnect attempt): its start and its one "connection lost" line stay those of the outage.
                connectionLost.inc();
                disconnectedAtNanos = System.nanoTime();
                // Logged by the reconnect loop's thread, before its first attempt: the caller that found Redis
                // gone must not wait for a log write on its way to the journal.
                lostCause = cause;
            }
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        for (Listener l : listeners) {
            try {
                l.onStateChange(from, to, cause);
            } catch (RuntimeException e) {
                log.debug("state listener failed", e);
            }
        }
        return true;
    }

    private void run() {
        int attempt = 0;
        while (!closed) {
            try {
                logConnectionLost();
                if (state == HealthState.CONNECTED) {
                    lock.lock();
                    try {
                        if (state == HealthState.CONNECTED && !closed) {
                            changed.await(heartbeatMillis, TimeUnit.MILLISECONDS);
                        }
                    } finally {
                        lock.unlock();
                    }
                    if (state == HealthState.CONNECTED && !closed) {
                        heartbeat();
                    } else if (!closed) {
                        // Woken by a caller that found Redis gone. Let it finish first: on a busy machine this
                        // thread, just woken, would otherwise take the caller's CPU for its log line and first
                        // probe while the caller is still on its way to the journal.
                        sleep(CALLER_FIRST_MILLIS);
                    }
                    attempt = 0;
                    continue;
                }
                if (attempt > 0) {
                    sleep(backoff.delayMillis(attempt - 1));
                    if (closed) {
                        return;
                    }
                }
                attempt++;
                reconnectAttempts.inc();
                beforeProbe.run();
                RedisGateway.Probe probe = gateway.probe();
                if (!probe.healthy()) {
                    logFailedAttempt(attempt, wrongKindOr(probe.problem()));
                    continue;
                }
                kindFound = null;
                wrongKindSaid = null;
                lastProbe = probe;
                String id = RedisInfo.runId(probe.info());
                boolean changed = runId != null && id != null && !RedisInfo.sameRunId(runId, id);
                boolean unknown = unrecorded && runId == null;
                unrecorded = false;
                if (unknown) {
                    log.info("The run id of the Redis {}'s predecessor last wrote to was not recorded, so a restart since"
                            + " cannot be ruled out: sending its recent writes again (idempotent)", name);
                    changed = true;
                }
                if (changed && gateway.isolatesSlots()) {
                    // A worker on a cluster: it has no writes to send again, and a master that was down when it last
                    // read the run ids (its part "?") and answers now is no news.
                    restarted = noteClusterRunId(id);
                } else {
                    restarted = changed;
                    if (id != null) {
                        runId = id;
                    }
                    if (sendsAgain) {
                        // A producer's: nothing new may reach a Redis that restarted after this probe before the
                        // recovery has sent again what it lost.
                        gateway.expectRunId(runId);
                    }
                    if (restarted && gateway.connection().sentinel()) {
                        // A failover: the promoted replica has its own run id, and may lack the old master's last writes.
                        log.warn("Redis master for {} changed since {} last saw it (new run id): recent writes may be lost{}",
                                gateway.connection().masterName(), name, sendingAgain());
                    } else if (restarted && gateway.connection().cluster()) {
                        // A master restarted or a replica took over: its run id is part of the cluster's.
                        log.warn("A Redis Cluster master restarted or failed over since {} last saw it (new run id): recent"
                                + " writes may be lost{}", name, sendingAgain());
                    } else if (restarted && !unknown) {
                        log.warn("Redis restarted since {} last saw it (new run id): recent writes may be lost{}", name,
                                sendingAgain());
                    }
                }
                for (String warning : RedisGateway.configurationWarnings(probe.info())) {
                    if (writeAhead && warning.startsWith(RedisGateway.NO_PERSISTENCE)) {
                        log.info("Redis has neither AOF nor RDB persistence: a Redis restart empties it; {} keeps every job in"
                                + " its write-ahead journal until it completes and sends them again ({})", name,
                                gateway.connection());
                    } else {
                        log.warn("{} ({})", warning, gateway.connection());
                    }
                }
                if (probe.info().containsKey(RedisGateway.MEMORY_FULL)) {
                    log.warn("Redis memory is full (used_memory {} of maxmemory {}, policy {}): producers spool to their"
                            + " journals until there is room; {} goes on settling jobs, which frees it ({})",
                            probe.info().get("used_memory_human"), probe.info().get("maxmemory_human"),
                            probe.info().get("maxmemory_policy"), name, gateway.connection());
                }
                for (String unchecked : RedisGateway.uncheckedSettings(probe.info())) {
                    // Once per JVM and Redis: it cannot change while CONFIG stays disabled, and producer and worker
                    // of one process would each say it at every reconnect.
                    if (UNCHECKED_SAID.add(gateway.connection().redacted() + "|" + unchecked)) {
                        log.warn("{} ({})", unchecked, gateway.connection());
                    }
                }
                if (restartPending && !restarted) {
                    restarted = true;
                    if (!restartPendingSaid) {
                        restartPendingSaid = true;
                        log.info("{}: the recovery after the Redis restart did not finish: recovering as after a restart"
                                + " again{}", name, sendingAgain());
                    }
                }
                restartPending = restarted;
                transition(HealthState.RECOVERING, "probe succeeded");
                gateway.resetConnections();
                try {
                    recovery.recover();
                } catch (Exception e) {
                    if (closed || stoppedByClose(e)) {
                        return; // stopped by close() (a producer's replay): nothing to report
                    }
                    transition(HealthState.DISCONNECTED, Failures.describe(e));
                    logFailedAttempt(attempt, RECOVERY_FAILED + Failures.describe(e));
                    continue;
                }
                lock.lock();
                try {
                    if (state != HealthState.RECOVERING) {
                        continue; // a call failed during recovery: probe again
                    }
                    gateway.close("recovered");
                } finally {
                    lock.unlock();
                }
                restartPending = false;
                restartPendingSaid = false;
                long downMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - disconnectedAtNanos);
                transition(HealthState.CONNECTED, "recovered");
                if (everConnected) {
                    log.info("Connected to Redis successfully ({}, {}, after {} attempts, {} ms down)", name,
                            gateway.connection(), attempt, downMs);
                } else {
                    log.info("Connected to Redis successfully ({}, {})", name, gateway.connection());
                }
                everConnected = true;
                attempt = 0;
            } catch (InterruptedException e) {
                if (closed) {
                    return;
                }
            } catch (RuntimeException | Error e) {
                // An Error too (a class missing after a jar was replaced under a running JVM, a StackOverflowError in a
                // recovery): this loop is what brings Redis back and replays the journal, so it must not die. The next
                // attempt waits its backoff as after any failed one.
                log.error("Reconnect loop error (it keeps running): {}", e instanceof Error
                        ? e.getClass().getName() + ": " + e.getMessage() : Failures.describe(e), e);
            }
        }
    }

    /**
     * While connected: with Sentinel first the master's address from a sentinel ({@link
     * RedisGateway#sentinelsNameAnotherMaster}: a sentinel that does not answer is no news); then a cheap INFO server; a
     * moved master, a failure or a new run id starts the reconnect path. Not for a gateway that
     * {@link RedisGateway#isolateSlots isolates slots} (a worker on a cluster), whose caller pauses and checks the
     * queues of a failed master on their own, so that the others go on: a failure is left to the calls, and a new run
     * id (a master restarted or replaced, which the probe would wait for until it takes writes: 2 s after a restart) is
     * only noted.
     */
    private void heartbeat() {
        try {
            if (gateway.connection().sentinel()) {
                HostAndPort pool = gateway.poolMaster();
                HostAndPort named = gateway.sentinelsNameAnotherMaster();
                if (named != null) {
                    // The probe confirms the new master, and the recovery re-sends what the old one may drop.
                    gateway.markUnavailable(new io.spillway.core.SpillwayException("Redis master for "
                            + gateway.connection().masterName() + " moved from " + pool + " to " + named
                            + " (the sentinels say so)"));
                    return;
                }
            }
            String id;
            ReplicaWatch watch = replicaWatch;
            long before = System.currentTimeMillis();
            if (watch != null && !gateway.connection().cluster()) {
                Map<String, String> info = gateway.serverAndReplicationInfo();
                id = RedisInfo.runId(info);
                watch.sample(before, info);
            } else {
                id = gateway.runId();
            }
            if (id != null && runId != null && !RedisInfo.sameRunId(runId, id)) {
                if (gateway.isolatesSlots()) {
                    noteClusterRunId(id);
                    return;
                }
                gateway.markUnavailable(new io.spillway.core.SpillwayException(gateway.connection().cluster() || gateway.connection().sentinel()
                        ? "Redis master restarted or failed over (new run id)" : "Redis restarted (new run id)"));
            } else if (id != null && RedisInfo.sameRunId(runId, id) && !gateway.isolatesSlots()) {
                java.util.function.LongConsumer a = alive;
                if (a != null) {
                    a.accept(before);
                }
            }
        } catch (RuntimeException e) {
            // executeDirect has told us (reportFailure) if Redis is unavailable.
            log.debug("heartbeat failed: {}", Failures.describe(e));
        }
    }

    /**
     * For a gateway that {@link RedisGateway#isolateSlots isolates slots}: notes a new combined run id, saying (INFO) which
     * masters restarted or failed over since this component last read theirs. A master down at a probe that passed
     * without it keeps the run id last read; one never read (down since this component started) that answers now only
     * came back: its queues were paused, and their check resumes them. Returns whether some master restarted.
     */
    private boolean noteClusterRunId(String id) {
        String known = ClusterTopology.keepKnownRunIds(runId, id);
        List<String> masters = ClusterTopology.restartedMasters(runId, known);
        runId = known;
        if (masters.isEmpty()) {
            log.debug("{}: new Redis Cluster run id, no master restarted (one that was down answers): {}", name, id);
            return false;
        }
        log.info("A Redis Cluster master restarted or failed over since {} last saw it (new run id of {}): the queues of its"
                + " slots are checked on their own", name, String.join(", ", masters));
        return true;
    }

    /** The one line per outage, written on this loop's thread (see {@link #transition}). */
    private void logConnectionLost() {
        String cause;
        lock.lock();
        try {
            cause = lostCause;
            lostCause = null;
        } finally {
            lock.unlock();
        }
        if (cause != null && Failures.isPermissionDenied(cause)) {
            // Not an outage: Redis answers but its ACL refuses this user a command or key. One ERROR with what to check.
            refusalSaid = cause;
            log.error("Redis refused a command to {} ({}): {}; {}", name, gateway.connection(), cause, permissionAdvice());
        } else if (cause != null && cause.startsWith("MISCONF")) {
            // DESIGN.md's words for the event, though Redis answers: it refuses every write until it can persist again.
            log.warn("Redis connection lost: {} ({}, {}): Redis answers but refuses every write until it can persist again;"
                    + " {} until then: free space on Redis's disk (CONFIG GET dir) or fix what its log names", cause, name,
                    gateway.connection(), "producer".equals(name) ? "jobs spool to the journal and replay"
                            : "the worker fetches nothing and keeps the outcomes of its running jobs locally");
        } else if (cause != null) {
            log.warn("Redis connection lost: {} ({}, {})", cause, name, gateway.connection());
        }
    }

    /** What to check after a permission refusal, and what happens meanwhile. */
    private String permissionAdvice() {
        String user = gateway.connection().user() != null ? "user '" + gateway.connection().user() + "'" : "the default user";
        return "grant " + user + " the ACL rules for a " + name + " listed in docs/operations.md (Managed Redis)"
                + ("producer".equals(name) ? "; jobs are spooled to the journal meanwhile and replayed once it is granted" : "")
                + " (retrying until it is granted)";
    }

    private String sendingAgain() {
        return sendsAgain ? "; sending them again" : "";
    }

    /**
     * The probe's {@code problem}, or, when it suggests a server of the wrong kind for the URI, what that server is and
     * which URI to write: asked once per outage, on a short connection of its own ({@link WrongKind#find}).
     */
    private String wrongKindOr(String problem) {
        if (!WrongKind.suggests(gateway.connection(), problem)) {
            return problem;
        }
        if (kindFound == null) {
            String found = WrongKind.find(gateway.connection(), gateway.connection().clientName() + "-" + name + "-kind");
            kindFound = found == null ? "" : found;
        }
        return kindFound.isEmpty() ? problem : kindFound;
    }

    private void logFailedAttempt(int attempt, String cause) {
        sayFailedAttempt(attempt, cause);
        lock.lock();
        try {
            failedAttempts++; // after its line: a builder that waited for it returns with the cause said
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    private void sayFailedAttempt(int attempt, String cause) {
        String refusal = cause.startsWith(RECOVERY_FAILED) ? cause.substring(RECOVERY_FAILED.length()) : cause;
        if (Failures.isPermissionDenied(refusal)) {
            // Redis is healthy but refuses this user what recovery (the replay) needs: said at ERROR, once per new
            // refusal and then every tenth attempt, so that the wall it replays into is never silent.
            if (!refusal.equals(refusalSaid) || attempt % 10 == 0) {
                refusalSaid = refusal;
                log.error("Reconnect attempt {} failed: {} ({}): Redis is up but refuses a command to {}; {}", attempt, cause,
                        name, gateway.connection(), permissionAdvice());
            } else {
                log.debug("Reconnect attempt {} failed: {} ({})", attempt, cause, name);
            }
            return;
        }
        if (Failures.isWrongKind(cause)) {
            // Not an outage: the URI names another kind of server than it reaches, and the line says which URI to write.
            // Said once, then only with the running total every tenth attempt: each attempt would say the same.
            if (!cause.equals(wrongKindSaid) || attempt % 10 == 0) {
                boolean first = !cause.equals(wrongKindSaid);
                wrongKindSaid = cause;
                long downS = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - disconnectedAtNanos);
                log.error("Reconnect attempt {} failed: {} ({}): {} (retrying forever{})", attempt, cause, name,
                        "producer".equals(name) ? "jobs are spooled to the journal meanwhile and replayed once it is fixed"
                                : "the " + name + " fetches nothing until it is fixed",
                        first ? "; said again every tenth attempt" : ", Redis away for " + downS + " s, every attempt counted in "
                                + MetricNames.RECONNECT_ATTEMPTS + "." + name);
            } else {
                log.debug("Reconnect attempt {} failed: {} ({})", attempt, cause, name);
            }
            return;
        }
        if (Failures.isMisconfiguration(cause)) {
            // Not an outage: Redis answers but refuses this client's password, user or database. Said at ERROR,
            // with what to check, at the same pace as the outage lines.
            if (attempt <= 5 || attempt % 10 == 0) {
                log.error("Reconnect attempt {} failed: {} ({}): {} of {} (retrying forever until it is fixed)", attempt, cause,
                        name, Failures.whatToCheck(cause), gateway.connection());
            } else {
                log.debug("Reconnect attempt {} failed: {} ({})", attempt, cause, name);
            }
            return;
        }
        if (attempt <= 5) {
            log.warn("Reconnect attempt {} failed: {} ({}, {})", attempt, cause, name, gateway.connection());
        } else if (attempt % 10 == 0) {
            long downS = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - disconnectedAtNanos);
            log.warn("Reconnect attempt {} failed: {} ({}, {}, Redis away for {} s; retrying forever, every attempt counted in {})",
                    attempt, cause, name, gateway.connection(), downS, MetricNames.RECONNECT_ATTEMPTS + "." + name);
        } else {
            log.debug("Reconnect attempt {} failed: {} ({})", attempt, cause, name);
        }
    }

    private void sleep(long millis) throws InterruptedException {
        lock.lock();
        try {
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
            long left;
            while (!closed && (left = deadline - System.nanoTime()) > 0) {
                changed.awaitNanos(left);
            }
        } finally {
            lock.unlock();
        }
    }

    /** Whether {@code e} is (or was caused by) a replay that its producer's close() stopped. */
    private static boolean stoppedByClose(Throwable e) {
        for (Throwable c = e; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof Replayer.Stopped) {
                return true;
            }
        }
        return false;
    }

    @Override
    public void close() {
        closed = true;
        lock.lock();
        try {
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        Thread t = thread;
        if (t != null) {
            t.interrupt();
            try {
                t.join(2000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
