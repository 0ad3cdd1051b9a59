package io.spillway.core.internal;

import com.codahale.metrics.Gauge;
import com.codahale.metrics.MetricRegistry;
import io.github.resilience4j.circuitbreaker.CallNotPermittedException;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.github.resilience4j.retry.Retry;
import io.github.resilience4j.retry.RetryConfig;
import io.spillway.core.MetricNames;
import io.spillway.core.RedisConnection;
import io.spillway.core.RedisUnavailableException;
import io.spillway.core.SpillwayException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;
import org.apache.commons.pool2.impl.GenericObjectPoolConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import redis.clients.jedis.AbstractPipeline;
import redis.clients.jedis.CommandObject;
import redis.clients.jedis.CommandObjects;
import redis.clients.jedis.Connection;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.JedisClientConfig;
import redis.clients.jedis.Pipeline;
import redis.clients.jedis.RedisClient;
import redis.clients.jedis.RedisClusterClient;
import redis.clients.jedis.UnifiedJedis;
import redis.clients.jedis.providers.ClusterConnectionProvider;
import redis.clients.jedis.util.Pool;
import redis.clients.jedis.exceptions.JedisConnectionException;
import redis.clients.jedis.exceptions.JedisException;

/**
 * The one boundary every Redis call of a component crosses: a pooled Jedis {@link RedisClient} inside a
 * Resilience4j {@link Retry} (outside) and {@link CircuitBreaker} (inside).
 *
 * <p>Invariants:
 * <ul>
 *   <li>The circuit opens on the first call that finds Redis unavailable (after its quick retries): a job
 *       queue cannot wait for a failure rate to build up while callers block. Only the reconnect loop
 *       ({@link HealthMonitor}) closes it, once Redis is confirmed healthy and recovery (replay) is done;
 *       there is no timer-driven half-open state, which could let a new job overtake spooled ones.</li>
 *   <li>Retries are for fast failures only (a stale pooled connection after a restart); a refused
 *       connection or a timeout is not retried, so a hung Redis costs one socket timeout.</li>
 *   <li>Jedis and Resilience4j exceptions are translated here: {@link RedisUnavailableException} for
 *       outages, {@link SpillwayException} for anything else.</li>
 *   <li>Scripts run with EVALSHA and are reloaded after NOSCRIPT.</li>
 *   <li>For a {@code redis-sentinel://} connection the client is a Jedis {@link RedisClient} on the master the
 *       sentinels named when it was built (no Jedis sentinel listener: its subscriptions log a stack trace every
 *       5 s for each sentinel that is down). Every fresh connection ({@link #probe()}) goes to the master the
 *       sentinels name at that moment, and a probe that finds them naming another master than the pool's rebuilds
 *       the client; while connected, the reconnect loop's heartbeat asks a sentinel every second
 *       ({@link #sentinelsNameAnotherMaster}). A gateway that is never probed (an operator tool) asks the sentinels
 *       after a failed direct call, at most once a second, and moves to the master they name ({@link
 *       #followSentinels}). If the sentinels cannot be reached when the gateway is built, the client is built by
 *       the first call or probe that reaches them (until then calls fail as "Redis unavailable").</li>
 *   <li>For a {@code redis-cluster://} connection the client is a Jedis {@link RedisClusterClient} (commands go to
 *       the master of their key's slot; a queue's keys share one slot). One circuit covers the whole cluster: a
 *       failure on any master opens it, and the probe declares the cluster healthy only when a node says
 *       {@code cluster_state:ok} and every master passes the standalone checks (PING, not loading, master role,
 *       a write to a key of its slots). Streamed script calls ({@link #stream}: enqueueAll, replay) go in batches,
 *       pipelined on one pooled connection per master; the cluster's run id is every master's. A gateway that
 *       {@link #isolateSlots isolates slots} (a worker's) leaves the circuit to its caller instead, and its probe passes
 *       while some masters fail, as long as a healthy one serves a slot of its caller's queues (naming the failed
 *       ones).</li>
 * </ul>
 * Thread-safe.
 */
public final class RedisGateway implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(RedisGateway.class);
    public static final int DEFAULT_POOL_SIZE = 16;
    public static final int DEFAULT_RETRY_ATTEMPTS = 2;
    private static final String[] PRELOADED = {
        "sun.net.ConnectionResetException",
        "org.apache.commons.pool2.DestroyMode",
        "redis.clients.jedis.exceptions.JedisNoScriptException",
    };
    /** The key under which {@link #probe()} reports {@code CONFIG GET save} in its info map. */
    public static final String CONFIG_SAVE = "spillway_config_save";
    /** The key under which {@link #probe()} says why {@code CONFIG GET} could not be read (managed Redis), if so. */
    public static final String CONFIG_UNREADABLE = "spillway_config_unreadable";
    /** The key under which {@link #probe()} says that Redis's memory is full, for a gateway that {@link #drainWhenFull() drains}. */
    public static final String MEMORY_FULL = "spillway_memory_full";

    private final RedisConnection connection;
    private final String component;
    private final DefaultJedisClientConfig clientConfig;
    /** Standalone: a {@link RedisClient}, set once. Sentinel: a {@link RedisClient} on {@link #sentinelMaster}, null until built. */
    private volatile UnifiedJedis client;
    /** Cluster only: the provider of {@link #client}: the slot map and a pool per node. */
    private volatile ClusterConnectionProvider clusterProvider;
    /** Cluster only: every node seen (the seeds given, then the nodes the last probe found), to ask for the slot map. */
    private final java.util.Set<HostAndPort> clusterNodes = java.util.concurrent.ConcurrentHashMap.newKeySet();
    /** Jedis's own attempts per cluster command: one MOVED redirection is followed; more failures are an outage. */
    private static final int CLUSTER_ATTEMPTS = 2;
    /** Sentinel only: the master {@link #client}'s pool connects to. */
    private volatile HostAndPort sentinelMaster;
    /** Sentinel only: when {@link #followSentinels} last asked the sentinels (nanoTime), to ask at most once a second. */
    private volatile long lastFollow = System.nanoTime() - FOLLOW_INTERVAL_NANOS;
    private static final long FOLLOW_INTERVAL_NANOS = java.util.concurrent.TimeUnit.SECONDS.toNanos(1);
    private final JedisClientConfig sentinelConfig;
    private final GenericObjectPoolConfig<Connection> poolConfig;
    /** Sentinel only: the master the sentinels named at the last probe, for the "master is now" line. */
    private volatile HostAndPort lastMaster;
    /** Sentinel only: the heartbeat's own connection to a sentinel that answered ({@link #sentinelsNameAnotherMaster}). */
    private Jedis watchedSentinel;
    private final Object watchLock = new Object();
    private final CircuitBreaker circuit;
    private final Retry retry;
    private final ThreadLocal<long[]> callStart = ThreadLocal.withInitial(() -> new long[1]);
    private final CommandObjects commands = new CommandObjects();
    private final List<Consumer<Throwable>> unavailableListeners = new CopyOnWriteArrayList<>();
    private final long socketTimeoutNanos;
    private volatile boolean drainsWhenFull;
    private volatile boolean provesEnqueueWrites;
    private volatile boolean isolatesSlots;
    /** For a gateway that {@link #isolateSlots isolates slots}: the slots of its caller's queues, in order. */
    private volatile List<Integer> callerSlots = List.of();
    /** The {@code run_id} a new pooled connection must find ({@link #expectRunId}); null: not checked. */
    private volatile String expectedRunId;

    /**
     * @param component names the user of this gateway in metrics and logs ("producer", "worker")
     * @param maxBlock the longest BLOCK a caller will use (XREADGROUP); blocking reads time out after it
     *     plus the socket timeout, so a hung Redis cannot hold a blocking read forever
     */
    public RedisGateway(RedisConnection connection, String component, int poolSize, Duration maxBlock,
                        MetricRegistry registry) {
        this.connection = connection;
        this.component = component;
        int socketMs = (int) connection.socketTimeout().toMillis();
        this.socketTimeoutNanos = connection.socketTimeout().toNanos();
        this.clientConfig = ClientSettings.builder(connection, connection.clientName() + "-" + component, connection.user(),
                        connection.password())
                .blockingSocketTimeoutMillis((int) Math.min(Integer.MAX_VALUE, maxBlock.toMillis() + socketMs))
                .database(connection.database())
                .build();
        GenericObjectPoolConfig<Connection> pool = new GenericObjectPoolConfig<>();
        pool.setMaxTotal(poolSize);
        pool.setMaxIdle(poolSize);
        pool.setMinIdle(0);
        pool.setBlockWhenExhausted(true);
        pool.setMaxWait(connection.connectTimeout().plus(connection.socketTimeout()));
        pool.setJmxEnabled(false);
        this.poolConfig = pool;
        if (connection.sentinel()) {
            this.sentinelConfig = Sentinels.config(connection, connection.clientName() + "-" + component + "-sentinel");
            try {
                connectSentinel(null);
            } catch (RuntimeException e) {
                // The sentinels are not reachable yet: like a standalone Redis that is down, calls fail as
                // unavailable until the reconnect loop's probe reaches them and builds the client.
                log.debug("sentinels not reachable yet ({}): {}", component, Failures.describe(e));
            }
        } else if (connection.cluster()) {
            this.sentinelConfig = null;
            for (java.net.InetSocketAddress a : connection.clusterNodes()) {
                clusterNodes.add(new HostAndPort(a.getHostString(), a.getPort()));
            }
            try {
                connectCluster(null);
            } catch (RuntimeException e) {
                // No node reachable yet: calls fail as unavailable until the reconnect loop's probe reaches one.
                log.debug("Redis Cluster not reachable yet ({}): {}", component, Failures.describe(e));
            }
        } else {
            this.sentinelConfig = null;
            this.client = RunIdCheckingConnectionFactory.client(new HostAndPort(connection.host(), connection.port()),
                    clientConfig, pool, () -> expectedRunId);
        }
        // The sliding window below never decides anything: markUnavailable() opens the circuit at the first
        // outage and the reconnect loop closes it. The breaker is kept for its state, events and metrics.
        this.circuit = CircuitBreaker.of("spillway-" + component, CircuitBreakerConfig.custom()
                .recordException(Failures::isUnavailable)
                .slidingWindowType(CircuitBreakerConfig.SlidingWindowType.COUNT_BASED)
                // Every guarded call records its outcome in the window: the default, synchronized window made
                // producer threads queue on one lock.
                .slidingWindowSynchronizationStrategy(CircuitBreakerConfig.SlidingWindowSynchronizationStrategy.LOCK_FREE)
                .slidingWindowSize(100)
                .minimumNumberOfCalls(100)
                .failureRateThreshold(100)
                .automaticTransitionFromOpenToHalfOpenEnabled(false)
                .waitDurationInOpenState(Duration.ofDays(1))
                .writableStackTraceEnabled(false)
                .build());
        this.retry = Retry.of("spillway-" + component, RetryConfig.custom()
                .maxAttempts(DEFAULT_RETRY_ATTEMPTS)
                // The failures retried are dead pooled connections (found in microseconds): retry at once on a
                // fresh one; there is nothing to wait for.
                .intervalFunction(attempt -> 0L)
                .retryOnException(e -> retryable(e, callStart.get()[0]))
                .writableStackTraceEnabled(false)
                .build());
        // A retryable failure is a dead pooled connection (Redis restarted, or dropped the client): its idle
        // siblings are most likely dead too, so drop them before the retry instead of failing on each in turn.
        retry.getEventPublisher().onRetry(e -> resetConnections());
        warmOutagePath();
        if (registry != null) {
            String name = MetricNames.CIRCUIT_STATE + "." + component;
            registry.remove(name);
            registry.register(name, (Gauge<Integer>) () -> switch (circuit.getState()) {
                case CLOSED, DISABLED, METRICS_ONLY -> 0;
                case OPEN, FORCED_OPEN -> 1;
                case HALF_OPEN -> 2;
            });
        }
    }

    public RedisConnection connection() {
        return connection;
    }

    /**
     * The run id ({@link RedisInfo#runId}) of the Redis the reconnect loop found healthy: from now on a connection the
     * pool opens to another one (Redis restarted meanwhile) is refused as unavailable, so that nothing is written there
     * before the recovery ({@link RunIdCheckingConnectionFactory}). Not for a Redis Cluster, whose nodes have pools of
     * their own; null stops the check.
     */
    public void expectRunId(String runId) {
        if (connection.cluster()) {
            return;
        }
        if (runId == null) {
            expectedRunId = null;
            return;
        }
        int separator = runId.indexOf(RedisInfo.REPLID_SEPARATOR);
        expectedRunId = separator < 0 ? runId : runId.substring(0, separator);
    }

    public String component() {
        return component;
    }

    public CircuitBreaker circuitBreaker() {
        return circuit;
    }

    /** True while the circuit is open: callers should not even try (spool at once instead). */
    public boolean isOpen() {
        CircuitBreaker.State s = circuit.getState();
        return s == CircuitBreaker.State.OPEN || s == CircuitBreaker.State.FORCED_OPEN;
    }

    /** Called (on the failing caller's thread) each time a call finds Redis unavailable. Must be fast. */
    public void onUnavailable(Consumer<Throwable> listener) {
        unavailableListeners.add(listener);
    }

    /**
     * Runs a call under the circuit breaker (inside) and the retry (outside), both Resilience4j: refused at
     * once while the circuit is open; otherwise up to {@value #DEFAULT_RETRY_ATTEMPTS} attempts, the next
     * one only after a {@linkplain Failures#isRetryable retryable} failure within the first socket timeout
     * (a dead pooled connection), at once and on a fresh connection.
     *
     * <p>Within an attempt, a call whose pooled connection turns out dead is sent once more at once, after
     * dropping the idle connections: Resilience4j's Retry makes its next attempt only after a
     * {@code Thread.sleep(0)}, a yield that took up to 2 ms on a busy 2-core machine at a Redis kill, often the largest
     * part of the time from Redis refusing to the caller's job being in the journal. So a call makes at most
     * 2 × {@value #DEFAULT_RETRY_ATTEMPTS} sends, and starts no new one after its first socket timeout.
     */
    public <T> T execute(Function<UnifiedJedis, T> call) {
        Supplier<T> guarded = CircuitBreaker.decorateSupplier(circuit, () -> callReconnecting(call));
        long[] started = callStart.get();
        long outer = started[0];
        started[0] = System.nanoTime();
        try {
            return Retry.decorateSupplier(retry, guarded).get();
        } catch (RuntimeException e) {
            throw translate(e);
        } finally {
            started[0] = outer;
        }
    }

    /** One attempt: the call, and once more on a fresh connection if its pooled one was dead. */
    private <T> T callReconnecting(Function<UnifiedJedis, T> call) {
        try {
            return call.apply(client());
        } catch (RuntimeException e) {
            if (!retryable(e, callStart.get()[0])) {
                throw e;
            }
            resetConnections();
            return call.apply(client());
        }
    }

    /**
     * Quick retries are for failures that came quickly (a dead pooled connection). Once a call has used up
     * one socket timeout, another try would only double the caller's wait: give up and let it spool.
     */
    private boolean retryable(Throwable e, long startedNanos) {
        return Failures.isRetryable(e) && System.nanoTime() - startedNanos < socketTimeoutNanos;
    }

    /**
     * Runs a call without the circuit breaker and retry: for the recovery path (replay, flushing local
     * acks) which runs while the circuit is still open, and for operator tools.
     */
    public <T> T executeDirect(Function<UnifiedJedis, T> call) {
        try {
            return call.apply(client());
        } catch (RuntimeException e) {
            RuntimeException t = translate(e);
            if (t instanceof RedisUnavailableException) {
                followSentinels();
            }
            throw t;
        }
    }

    /** Runs a script (EVALSHA, reloaded after NOSCRIPT) under retry and circuit breaker. */
    public Object eval(LuaScript script, List<byte[]> keys, List<byte[]> args) {
        return execute(c -> evalReloading(c, script, keys, args));
    }

    /**
     * {@link #eval} that runs {@code onSend} each time the call is about to be sent: a retry on a fresh connection runs
     * it again, so a caller tells whether the call went twice, the first send's reply possibly lost with its connection.
     */
    public Object eval(LuaScript script, List<byte[]> keys, List<byte[]> args, Runnable onSend) {
        return execute(c -> {
            onSend.run();
            return evalReloading(c, script, keys, args);
        });
    }

    /**
     * {@link #eval} that runs {@code whileWaiting} on the caller's thread once the command is on its way to
     * Redis and before its reply is read: local work done during the round trip costs the caller nothing.
     * It runs once per attempt that reaches Redis (a retry on a fresh connection runs it again), never
     * after the reply, and not at all if no connection could be had. It must not throw.
     */
    public Object evalWhileWaiting(LuaScript script, List<byte[]> keys, List<byte[]> args, Runnable whileWaiting) {
        if (connection.cluster()) {
            // The cluster client picks the slot's master and follows a redirection: the local work goes first.
            return execute(c -> {
                whileWaiting.run();
                return evalReloading(c, script, keys, args);
            });
        }
        return execute(c -> {
            CommandObject<Object> command = commands.evalsha(script.shaBytes(), keys, args);
            try (Connection conn = pool().getResource()) {
                conn.sendCommand(command.getArguments());
                conn.getMany(0); // flushes: Redis runs the script while whileWaiting runs here
                whileWaiting.run();
                try {
                    return command.getBuilder().build(conn.getOne());
                } catch (JedisException e) {
                    if (!Failures.isNoScript(e)) {
                        throw e;
                    }
                    conn.executeCommand(commands.scriptLoad(script.source()));
                    return conn.executeCommand(command);
                }
            }
        });
    }

    /** {@link #eval} on the recovery path. */
    public Object evalDirect(LuaScript script, List<byte[]> keys, List<byte[]> args) {
        return executeDirect(c -> evalReloading(c, script, keys, args));
    }

    private static Object evalReloading(UnifiedJedis c, LuaScript script, List<byte[]> keys, List<byte[]> args) {
        try {
            return c.evalsha(script.shaBytes(), keys, args);
        } catch (JedisException e) {
            if (!Failures.isNoScript(e)) {
                throw e;
            }
            if (c instanceof RedisClusterClient) {
                c.scriptLoad(script.source().getBytes(java.nio.charset.StandardCharsets.UTF_8), keys.get(0)); // that key's master
            } else {
                c.scriptLoad(script.source());
            }
            return c.evalsha(script.shaBytes(), keys, args);
        }
    }

    /**
     * One script call of a {@link #stream}; {@code tag} is the caller's, for matching replies to what was sent. A call
     * with a {@code chain} (the enqueue script's) goes through in a stream only if the call of its chain before it
     * did ({@link ScriptStream}); {@code keys} and {@code args} must then be mutable lists: the stream adds the link.
     */
    public record ScriptCall(List<byte[]> keys, List<byte[]> args, Object tag, ScriptStream.Chain chain) {
        public ScriptCall(List<byte[]> keys, List<byte[]> args, Object tag) {
            this(keys, args, tag, null);
        }
    }

    /**
     * Streams calls of one idempotent script on one pooled connection (see {@link ScriptStream}): each call
     * is flushed as soon as {@code source} has built it and at most {@code depth} wait for their reply, so
     * Redis runs one while the next is built. Guarded, a dead pooled connection is retried like any call,
     * resuming with the calls that had no reply yet.
     */
    public void stream(LuaScript script, ScriptStream.Source source, ScriptStream.Sink sink, int depth,
                       boolean guarded) {
        ScriptStream s = new ScriptStream(script, source, sink, depth);
        Function<UnifiedJedis, Void> body = c -> {
            if (connection.cluster()) {
                s.runBatches(CLUSTER_STREAM_BATCH, calls -> evalAllPipelined(script, calls));
            } else {
                s.runOn(pool());
            }
            return null;
        };
        if (guarded) {
            execute(body);
        } else {
            executeDirect(body);
        }
    }

    /** How many script calls a cluster's {@link #stream} sends in one pipeline. */
    static final int CLUSTER_STREAM_BATCH = 256;

    /**
     * A cluster's script calls, pipelined on one pooled connection per master (each call to its slot's master, in
     * order, so a queue's calls keep theirs: {@link SlotRoutedPipeline}); the replies in call order. A connection
     * failure is thrown as an outage (the batch spools or is sent again: the script is idempotent). Calls refused
     * with NOSCRIPT (a master that restarted or took over) are sent again once the script is loaded on every master.
     */
    private List<Object> evalAllPipelined(LuaScript script, List<ScriptCall> calls) {
        client();
        Object[] replies = new Object[calls.size()];
        List<Integer> todo = new ArrayList<>(calls.size());
        for (int i = 0; i < calls.size(); i++) {
            todo.add(i);
        }
        for (int round = 0; !todo.isEmpty(); round++) {
            SlotRoutedPipeline p = new SlotRoutedPipeline(clusterProvider, clientConfig.getRedisProtocol());
            List<redis.clients.jedis.Response<Object>> rs = new ArrayList<>(todo.size());
            for (int i : todo) {
                rs.add(p.send(evalshaArguments(script, calls.get(i))));
            }
            p.sync();
            List<Integer> noScript = new ArrayList<>();
            List<Integer> again = new ArrayList<>();
            RuntimeException refused = null;
            RuntimeException unlinked = null;
            for (int n = 0; n < todo.size(); n++) {
                try {
                    replies[todo.get(n)] = rs.get(n).get();
                } catch (redis.clients.jedis.exceptions.JedisDataException e) {
                    // An error reply (the connection is fine): look at the rest, then fail the batch.
                    if (Failures.isNoScript(e) && round == 0) {
                        noScript.add(todo.get(n));
                        again.add(todo.get(n));
                    } else if (Failures.isChainBroken(e) && round == 0) {
                        // Behind a call of its queue that did not go through (NOSCRIPT): sent again behind it.
                        again.add(todo.get(n));
                        unlinked = unlinked == null ? e : unlinked;
                    } else if (refused == null) {
                        refused = e;
                    }
                }
            }
            if (refused != null) {
                throw refused;
            }
            if (noScript.isEmpty()) {
                if (unlinked != null) {
                    throw unlinked; // its link lost (an evicted key): the stream's retry sends it first, unchecked
                }
            } else {
                loadScripts(script);
            }
            todo = again;
            List<ScriptCall> resend = new ArrayList<>(todo.size());
            for (int i : todo) {
                resend.add(calls.get(i));
            }
            ScriptStream.relink(resend, false);
        }
        return java.util.Arrays.asList(replies);
    }

    private static redis.clients.jedis.CommandArguments evalshaArguments(LuaScript script, ScriptCall call) {
        redis.clients.jedis.CommandArguments a = new redis.clients.jedis.CommandArguments(redis.clients.jedis.Protocol.Command.EVALSHA)
                .add(script.shaBytes()).add(call.keys().size());
        for (byte[] k : call.keys()) {
            a.key(k); // a key: the pipeline routes the call by its first
        }
        for (byte[] v : call.args()) {
            a.add(v);
        }
        return a;
    }

    /**
     * Runs a pipeline the caller fills: {@code body} queues commands and returns a supplier that reads
     * the responses after the sync. On a Redis Cluster each command goes to its slot's master, on one pooled connection
     * per master ({@link SlotRoutedPipeline}, not Jedis's {@code ClusterPipeline}, which logs a master that fails during
     * its sync at ERROR with a stack trace and leaves its replies unset); a master that fails is thrown as an outage.
     */
    public <T> T pipelined(boolean guarded, Function<AbstractPipeline, Supplier<T>> body) {
        Function<UnifiedJedis, T> call = c -> {
            Supplier<T> result;
            try (AbstractPipeline p = connection.cluster()
                    ? new SlotRoutedPipeline(clusterProvider, clientConfig.getRedisProtocol()) : client().pipelined()) {
                result = body.apply(p);
                p.sync();
            }
            return result.get();
        };
        return guarded ? execute(call) : executeDirect(call);
    }

    /**
     * Loads scripts into Redis's cache (after a reconnect, before pipelines use them). On a cluster, a gateway that
     * {@link #isolateSlots isolates slots} skips a master that cannot serve (down, loading: the worker pauses its queues,
     * and a script call there loads its script at its first NOSCRIPT), and fails only if no master took them.
     */
    public void loadScripts(LuaScript... scripts) {
        if (connection.cluster()) {
            // On each master of the slot map, on fresh connections: the client's SCRIPT LOAD goes to every node it
            // knows, including one that died and was replaced, and fails then.
            try {
                RuntimeException skipped = null;
                int loaded = 0;
                for (ClusterTopology.Master m : ClusterTopology.read(clusterCandidates(), clientConfig).masters()) {
                    try (Jedis j = new Jedis(m.address(), clientConfig)) {
                        for (LuaScript s : scripts) {
                            j.scriptLoad(s.source());
                        }
                        loaded++;
                    } catch (RuntimeException e) {
                        if (!isolatesSlots() || !Failures.isUnavailable(e)) {
                            throw e;
                        }
                        skipped = e;
                        log.debug("{}: scripts not loaded on master {}: {}", component, m.address(), Failures.describe(e));
                    }
                }
                if (loaded == 0 && skipped != null) {
                    throw skipped;
                }
            } catch (RuntimeException e) {
                throw translate(e);
            }
            return;
        }
        executeDirect(c -> {
            for (LuaScript s : scripts) {
                c.scriptLoad(s.source());
            }
            return null;
        });
    }

    /** Drops every idle pooled connection: after a Redis restart each would fail once. */
    public void resetConnections() {
        try {
            if (connection.cluster()) {
                ClusterConnectionProvider provider = clusterProvider;
                if (provider != null) {
                    for (redis.clients.jedis.ConnectionPool p : provider.getNodes().values()) {
                        p.clear();
                    }
                }
                return;
            }
            pool().clear();
        } catch (RuntimeException ignored) {
            // Best effort: a connection that is still stale fails once and is retried.
        }
    }

    /** Opens the circuit and tells the listeners. Idempotent. */
    public void markUnavailable(Throwable cause) {
        if (circuit.getState() == CircuitBreaker.State.CLOSED || circuit.getState() == CircuitBreaker.State.HALF_OPEN) {
            try {
                circuit.transitionToOpenState();
            } catch (RuntimeException raced) {
                // Another thread opened it first.
            }
        }
        for (Consumer<Throwable> l : unavailableListeners) {
            try {
                l.accept(cause);
            } catch (RuntimeException e) {
                // Listeners must never break the caller's thread.
            }
        }
    }

    /** Closes the circuit: only the reconnect loop calls this, after recovery. */
    public void close(String why) {
        if (circuit.getState() != CircuitBreaker.State.CLOSED) {
            try {
                circuit.transitionToClosedState();
            } catch (RuntimeException raced) {
                // Already closed.
            }
        }
    }

    /**
     * For a worker on a Redis Cluster: a call that finds Redis unavailable no longer opens the circuit by itself; it
     * throws {@link RedisUnavailableException} all the same. Every worker call touches the keys of one queue, so of one
     * slot: the worker pauses the queues of that slot and opens the circuit itself ({@link #markUnavailable}) when none
     * of its queues can be reached, so that a dead master stops only the queues it serves. And the {@link #probe()} asks
     * no longer that every master be healthy, only one that serves one of {@code slots} (the slots of the worker's
     * queues): it says which masters failed ({@link Probe#unavailable}), whose queues the worker's recovery pauses. No
     * effect on a standalone or Sentinel connection, where there is one master to lose. A producer never calls this: its
     * one circuit keeps every queue behind its journal, and its probe waits for every master.
     */
    public void isolateSlots(java.util.Collection<Integer> slots) {
        callerSlots = List.copyOf(new java.util.TreeSet<>(slots));
        isolatesSlots = true;
    }

    /** Whether this gateway {@link #isolateSlots isolates slots}: it was asked to, and its Redis is a cluster. */
    public boolean isolatesSlots() {
        return isolatesSlots && connection.cluster();
    }

    /** Translates at the boundary; outages also open the circuit (unless this gateway {@link #isolateSlots isolates slots}). */
    private RuntimeException translate(RuntimeException e) {
        RuntimeException out = classify(e);
        if (out instanceof RedisUnavailableException && !(e instanceof CallNotPermittedException)
                && !(e instanceof SpillwayException) && !isolatesSlots()) {
            markUnavailable(e);
        }
        return out;
    }

    private static RuntimeException classify(RuntimeException e) {
        if (e instanceof SpillwayException se) {
            return se;
        }
        if (e instanceof CallNotPermittedException) {
            return new RedisUnavailableException("Redis unavailable: circuit open", e);
        }
        if (Failures.isUnavailable(e)) {
            return new RedisUnavailableException("Redis unavailable: " + Failures.describe(e), e);
        }
        return new SpillwayException("Redis command failed: " + Failures.describe(e), e);
    }

    /**
     * Runs the outage path once on made-up failures, on a throwaway breaker: the first real outage then
     * finds its classes loaded and its call sites linked, and the caller reaches the journal in
     * microseconds instead of paying for class loading (tens of milliseconds on a cold JVM).
     */
    private void warmOutagePath() {
        CircuitBreaker warmCircuit = CircuitBreaker.of("spillway-warm-up", circuit.getCircuitBreakerConfig());
        RuntimeException[] failures = {
            new JedisConnectionException("Failed to connect (warm-up)", new java.net.ConnectException("Connection refused")),
            new JedisConnectionException("Unexpected end of stream. (warm-up)"),
            new JedisConnectionException(new java.net.SocketTimeoutException("Read timed out (warm-up)")),
            CallNotPermittedException.createCallNotPermittedException(warmCircuit),
        };
        Retry warmRetry = Retry.of("spillway-warm-up", retry.getRetryConfig());
        warmRetry.getEventPublisher().onRetry(e -> { });
        long[] callStarted = callStart.get();
        long outer = callStarted[0];
        long started = System.nanoTime();
        for (RuntimeException failure : failures) {
            callStarted[0] = System.nanoTime();
            Supplier<Object> guarded = CircuitBreaker.decorateSupplier(warmCircuit, () -> {
                throw failure;
            });
            try {
                Retry.decorateSupplier(warmRetry, guarded).get();
            } catch (RuntimeException e) {
                Failures.describe(classify(e).getCause());
            }
        }
        callStarted[0] = outer;
        // The same for a pooled connection that is refused: on a cold JVM Jedis's connect-failure path took
        // 3.5-3.9 ms the first time (loading classes), 0.6 ms the second, 0.3 ms the third, 65 us warm. A
        // loopback port just freed refuses at once.
        int port = -1;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        } catch (java.io.IOException | RuntimeException e) {
            // No warm-up then; the first outage pays for it.
        }
        for (int i = 0; i < 2 && port > 0; i++) {
            try (redis.clients.jedis.ConnectionPool pool = new redis.clients.jedis.ConnectionPool(
                    new HostAndPort("127.0.0.1", port), DefaultJedisClientConfig.builder().connectionTimeoutMillis(100).build())) {
                pool.getResource().close();
            } catch (RuntimeException refused) {
                retryable(refused, started);
                Failures.describe(classify(refused).getCause());
            }
        }
        try {
            warmCircuit.transitionToOpenState();
            warmCircuit.transitionToClosedState();
        } catch (RuntimeException ignored) {
            // Only here to load classes.
        }
        // Classes that the first call in flight at a Redis kill still loaded (JFR at a SIGKILL: the reset, the
        // pool's invalidation of the broken connection; 0.1-0.35 ms each on a busy 2-core machine).
        for (String name : PRELOADED) {
            try {
                Class.forName(name, true, RedisGateway.class.getClassLoader());
            } catch (ClassNotFoundException | LinkageError absent) {
                // Another JDK or pool version: nothing to warm.
            }
        }
    }

    /**
     * What a health probe found.
     *
     * @param reachable whether Redis answered at all: false when no connection could be made or it fell silent
     *     (refused, timed out, dropped); true for an unhealthy Redis that replied (LOADING, a replica, OOM, an
     *     authentication error)
     * @param masters a cluster's healthy probe: every master of the slot map it read (empty for any other probe)
     * @param failedMasters a cluster's healthy probe by a gateway that {@link #isolateSlots isolates slots}: the masters
     *     that failed the checks, each with the problem found (as an unhealthy probe would say it); empty when all passed
     */
    public record Probe(boolean healthy, boolean reachable, String problem, Map<String, String> info,
                        List<ClusterTopology.Master> masters, Map<HostAndPort, String> failedMasters) {
        public Probe(boolean healthy, boolean reachable, String problem, Map<String, String> info) {
            this(healthy, reachable, problem, info, List.of(), Map.of());
        }

        /**
         * Why no healthy master serves {@code slot} (the problem of the failed master that serves it, or that no master
         * serves it), or null if one does. Null for every slot of a probe that read no slot map (not a cluster).
         */
        public String unavailable(int slot) {
            if (masters.isEmpty()) {
                return null;
            }
            for (ClusterTopology.Master m : masters) {
                if (m.serves(slot)) {
                    return failedMasters.get(m.address());
                }
            }
            return "no master serves slot " + slot;
        }
    }

    /**
     * For a worker: a Redis whose memory is full ({@code maxmemory} reached, {@code noeviction}: writes that add data
     * refused with OOM) still passes {@link #probe()}, with {@link #MEMORY_FULL} in its info. Producers spool then; a
     * worker goes on settling jobs, which is what frees the memory (its scripts run on a full Redis: room.lua).
     */
    public void drainWhenFull() {
        drainsWhenFull = true;
    }

    /**
     * For a gateway that enqueues (producer, journal replay): {@link #probe()} also proves the writes of the enqueue
     * script's status records, {@code MSET} as well as {@code SET}. The script writes each record after its job, which
     * Redis does not undo when the record's write is refused: a user whose ACL lacks {@code +mset} had every replay
     * attempt, one per reconnect backoff, add the batch to the stream again. With this, the probe finds the refusal,
     * Redis is not healthy for this client, and nothing is replayed until the rule is granted.
     */
    public void proveEnqueueWrites() {
        provesEnqueueWrites = true;
    }

    /**
     * Checks Redis on a fresh connection (never the pool, which may hold stale connections): PING
     * answers, not LOADING, master role, and a write is accepted (not read-only; not OOM either, unless this gateway
     * {@link #drainWhenFull() drains a full Redis}).
     */
    public Probe probe() {
        if (connection.cluster()) {
            return probeCluster();
        }
        HostAndPort target = null;
        try {
            target = probeTarget();
            return probe(target);
        } catch (RuntimeException e) {
            // A TLS problem with the sentinels (no sentinel answered) is told naming the sentinel.
            String tls = target != null ? Tls.diagnose(connection, target, e) : Tls.diagnose(connection, e);
            if (tls != null) {
                return new Probe(false, true, tls, Map.of());
            }
            return new Probe(false, !(e instanceof JedisConnectionException) || Failures.isTlsFailure(e), Failures.describe(e),
                    Map.of());
        }
    }

    private Probe probe(HostAndPort target) {
        return probe(target, RedisKeys.PROBE);
    }

    private Probe probe(HostAndPort target, String probeKey) {
        try (Jedis j = pinged(target)) {
            Map<String, String> info = RedisInfo.parse(j.info());
            // CONFIG GET only when INFO cannot tell: with the AOF on, RDB does not matter, and a user whose ACL has no
            // +config|get (docs/operations.md: optional) gets no refusal in ACL LOG at each probe.
            if (!"1".equals(info.get("aof_enabled")) || info.get("maxmemory_policy") == null) {
                try {
                    info.put(CONFIG_SAVE, j.configGet("save").getOrDefault("save", ""));
                } catch (redis.clients.jedis.exceptions.JedisDataException e) {
                    // CONFIG is often renamed, disabled or denied (managed Redis): see uncheckedSettings.
                    info.put(CONFIG_UNREADABLE, Failures.configRefusal(e));
                }
            }
            if ("1".equals(info.get("loading"))) {
                return new Probe(false, true, "LOADING (Redis is loading its data)", info);
            }
            if (!connection.cluster() && "1".equals(info.get("cluster_enabled"))) {
                // Its keys are spread over the cluster's masters: this node would answer MOVED for most queues.
                return new Probe(false, true, Failures.CLUSTER_MISMATCH + "Redis at " + target + " is a node of a Redis Cluster"
                        + " (cluster_enabled:1); connect with redis-cluster://" + target, info);
            }
            String role = info.get("role");
            if (role != null && !role.equals("master")) {
                return new Probe(false, true, "role is " + role + ", not master", info);
            }
            try {
                if (provesEnqueueWrites) {
                    j.mset(probeKey, Long.toString(System.currentTimeMillis())); // given its TTL by the SET below
                }
                j.set(probeKey, Long.toString(System.currentTimeMillis()),
                        redis.clients.jedis.params.SetParams.setParams().px(60_000));
            } catch (redis.clients.jedis.exceptions.JedisDataException e) {
                if (!drainsWhenFull || !Failures.isOutOfMemory(e)) {
                    throw e;
                }
                info.put(MEMORY_FULL, "1");
            }
            return new Probe(true, true, null, info);
        }
    }

    /**
     * A fresh connection to {@code target} that answered PING. One that ends before it answered, without a refusal, a
     * timeout or a TLS failure, is a {@link Failures.ClosedAtOnce}: what Redis does past its maxclients.
     */
    private Jedis pinged(HostAndPort target) {
        Jedis j = null;
        try {
            j = new Jedis(target, clientConfig);
            j.ping();
            return j;
        } catch (JedisConnectionException e) {
            closeQuietly(j);
            if (Failures.isRefused(e) || Failures.isTimeout(e) || Failures.isTlsFailure(e)) {
                throw e;
            }
            throw new Failures.ClosedAtOnce(e);
        } catch (RuntimeException e) {
            closeQuietly(j);
            throw e;
        }
    }

    /** Closes a connection that failed; its close may fail too (a broken pipe), which must not hide the first failure. */
    private static void closeQuietly(Jedis j) {
        if (j != null) {
            try {
                j.close();
            } catch (RuntimeException ignored) {
                // the connection is broken already
            }
        }
    }

    /**
     * The cluster's probe: the slot map from a node that answers, {@code cluster_state:ok}, then every master as a
     * standalone Redis (its write goes to a key of its own slots). The info returned is that of the master with the
     * worst settings (a warning, or memory full), else the first; its {@code run_id} is all masters' run ids in one
     * value ({@link ClusterTopology#combinedRunId}), and {@code cluster_masters} their number.
     *
     * <p>For a gateway that {@link #isolateSlots isolates slots} (a worker) every master is checked and the cluster is
     * healthy when at least one healthy master serves one of its caller's slots: the failed ones are in
     * {@link Probe#failedMasters} (their run id is {@code ?} in the combined one); with none, the problem is that of the
     * master of the caller's first slot, as when every master must pass.
     */
    private Probe probeCluster() {
        ClusterTopology topology;
        try {
            topology = ClusterTopology.read(clusterCandidates(), clientConfig);
        } catch (RuntimeException e) {
            if (e instanceof redis.clients.jedis.exceptions.JedisDataException && e.getMessage() != null
                    && e.getMessage().contains("cluster support disabled")) {
                return new Probe(false, true, Failures.CLUSTER_MISMATCH + "Redis at " + connection.host() + ":"
                        + connection.port() + " is not a Redis Cluster (" + Failures.describe(e) + "); connect with redis://"
                        + connection.host() + ":" + connection.port(), Map.of());
            }
            String tls = Tls.diagnose(connection, e);
            if (tls != null) {
                return new Probe(false, true, tls, Map.of());
            }
            return new Probe(false, !(e instanceof JedisConnectionException) || Failures.isTlsFailure(e),
                    Failures.describe(e), Map.of());
        }
        if (!"ok".equals(topology.state())) {
            return new Probe(false, true, "cluster_state is " + topology.state() + " (as " + topology.from() + " sees it)",
                    Map.of());
        }
        if (topology.masters().isEmpty()) {
            return new Probe(false, true, "the cluster serves no slots (as " + topology.from() + " sees it)", Map.of());
        }
        clusterNodes.addAll(topology.nodes());
        boolean partial = isolatesSlots();
        Map<HostAndPort, String> runIds = new java.util.HashMap<>();
        Map<HostAndPort, Probe> failed = new java.util.LinkedHashMap<>();
        Map<String, String> chosen = null;
        for (ClusterTopology.Master m : topology.masters()) {
            Probe p;
            try {
                p = probe(m.address(), ClusterTopology.probeKey(m.firstSlot()));
                if (!p.healthy()) {
                    p = new Probe(false, p.reachable(), "master " + m.address() + ": " + p.problem(), p.info());
                }
            } catch (RuntimeException e) {
                String tls = Tls.diagnose(connection, m.address(), e);
                p = new Probe(false, !(e instanceof JedisConnectionException) || Failures.isTlsFailure(e),
                        tls != null ? tls : "master " + m.address() + ": " + Failures.describe(e), Map.of());
            }
            if (!p.healthy()) {
                if (!partial) {
                    return p;
                }
                failed.put(m.address(), p);
                continue;
            }
            runIds.put(m.address(), RedisInfo.runId(p.info()));
            boolean worse = !configurationWarnings(p.info()).isEmpty() || p.info().containsKey(MEMORY_FULL)
                    || !uncheckedSettings(p.info()).isEmpty();
            if (chosen == null || (worse && !chosen.containsKey("spillway_worse"))) {
                chosen = new java.util.HashMap<>(p.info());
                if (worse) {
                    chosen.put("spillway_worse", "1");
                }
            }
        }
        Map<HostAndPort, String> failedMasters = new java.util.LinkedHashMap<>();
        failed.forEach((address, p) -> failedMasters.put(address, p.problem()));
        Probe served = new Probe(true, true, null, Map.of(), topology.masters(), failedMasters);
        List<Integer> slots = partial ? callerSlots : List.of();
        if (chosen == null || (!slots.isEmpty() && slots.stream().allMatch(slot -> served.unavailable(slot) != null))) {
            // No healthy master serves a queue of the caller: unhealthy, in the words of the master of its first slot.
            int first = slots.isEmpty() ? -1 : slots.get(0);
            for (ClusterTopology.Master m : topology.masters()) {
                if (m.serves(first) && failed.containsKey(m.address())) {
                    return failed.get(m.address());
                }
            }
            return chosen != null ? new Probe(false, true, served.unavailable(first), Map.of()) : failed.values().iterator().next();
        }
        chosen.remove("spillway_worse");
        chosen.put("run_id", ClusterTopology.combinedRunId(topology.masters(), runIds));
        chosen.remove("master_replid"); // one master's, and every master's is in the run id already (RedisInfo.runId)
        chosen.put("cluster_masters", Integer.toString(topology.masters().size()));
        try {
            ClusterConnectionProvider provider = clusterProvider;
            if (provider == null || client == null) {
                connectCluster(client);
            } else {
                provider.renewSlotCache();
            }
        } catch (RuntimeException e) {
            return new Probe(false, !(e instanceof JedisConnectionException), "slot map: " + Failures.describe(e), Map.of());
        }
        return new Probe(true, true, null, chosen, topology.masters(), Map.copyOf(failedMasters));
    }

    /** The nodes to ask for the slot map: those the provider knows, then every node seen. */
    private List<HostAndPort> clusterCandidates() {
        java.util.LinkedHashSet<HostAndPort> out = new java.util.LinkedHashSet<>();
        ClusterConnectionProvider provider = clusterProvider;
        if (provider != null) {
            for (String hp : provider.getNodes().keySet()) {
                out.add(HostAndPort.from(hp));
            }
        }
        out.addAll(clusterNodes);
        return new ArrayList<>(out);
    }

    /**
     * {@code INFO server} and {@code INFO replication} of the master, parsed into one map (for the run id and a
     * {@link ReplicaWatch}); not for a cluster.
     */
    public Map<String, String> serverAndReplicationInfo() {
        return info("server", "replication");
    }

    /**
     * These {@code INFO} sections of the master, parsed into one map; not for a cluster. A section after the first that
     * Redis refuses (a managed Redis may filter INFO) is left out: the first one's keys still come.
     */
    public Map<String, String> info(String... sections) {
        return executeDirect(c -> {
            // One round trip (a worker's and a producer's heartbeat read two sections every second): the sections in
            // one pipeline. Not INFO with several sections, which Redis before 7.0 does not take.
            List<redis.clients.jedis.Response<Object>> replies = new ArrayList<>(sections.length);
            try (AbstractPipeline p = c.pipelined()) {
                for (String section : sections) {
                    replies.add(p.sendCommand(redis.clients.jedis.Protocol.Command.INFO, section));
                }
                p.sync();
            }
            Map<String, String> info = new java.util.HashMap<>();
            for (int i = 0; i < sections.length; i++) {
                try {
                    Object reply = replies.get(i).get();
                    info.putAll(RedisInfo.parse(reply instanceof byte[] b
                            ? new String(b, java.nio.charset.StandardCharsets.UTF_8) : String.valueOf(reply)));
                } catch (redis.clients.jedis.exceptions.JedisDataException refused) {
                    if (i == 0) {
                        throw refused;
                    }
                }
            }
            return info;
        });
    }

    /**
     * Redis's run id ({@link RedisInfo#runId}: {@code INFO server}'s and {@code INFO replication}'s); for a cluster every
     * master's in one value (see {@link #probe()}), read on pooled connections. Null if Redis gives none.
     *
     * @throws RedisUnavailableException if Redis (a master) cannot be reached
     */
    public String runId() {
        if (!connection.cluster()) {
            return RedisInfo.runId(serverAndReplicationInfo());
        }
        try {
            client();
            ClusterConnectionProvider provider = clusterProvider;
            ClusterTopology topology;
            // On pooled connections (a heartbeat every second): the slot map from slot 0's master as the client
            // knows it (never a node that died and was replaced), then each master's run id.
            HostAndPort first = provider.getNode(0);
            if (first == null) {
                throw new JedisConnectionException("no master serves slot 0 (as the client knows the cluster)");
            }
            try (Connection c = provider.getConnection(first)) {
                topology = ClusterTopology.parse(first, "ok", new Jedis(c).clusterSlots());
            }
            Map<HostAndPort, String> runIds = new java.util.HashMap<>();
            for (ClusterTopology.Master m : topology.masters()) {
                try (Connection c = provider.getConnection(m.address())) {
                    Jedis j = new Jedis(c);
                    Map<String, String> info = RedisInfo.parse(j.info("server"));
                    info.putAll(RedisInfo.parse(j.info("replication")));
                    runIds.put(m.address(), RedisInfo.runId(info));
                }
            }
            return ClusterTopology.combinedRunId(topology.masters(), runIds);
        } catch (RuntimeException e) {
            throw translate(e);
        }
    }

    /**
     * The settings of a healthy Redis that lose jobs, as warnings: an eviction policy other than
     * noeviction, and no persistence at all.
     */
    /** The start of the {@link #configurationWarnings} line of a Redis without AOF or RDB. */
    public static final String NO_PERSISTENCE = "Redis has neither AOF nor RDB persistence";

    public static List<String> configurationWarnings(Map<String, String> info) {
        List<String> warnings = new ArrayList<>();
        String policy = info.get("maxmemory_policy");
        if (policy != null && !policy.equals("noeviction")) {
            warnings.add("Redis maxmemory-policy is " + policy + ": under memory pressure Redis will silently delete jobs;"
                    + " set maxmemory-policy noeviction");
        }
        boolean aof = "1".equals(info.get("aof_enabled"));
        String save = info.get(CONFIG_SAVE);
        if (!aof && save != null && save.isBlank()) {
            warnings.add(NO_PERSISTENCE + ": a Redis restart empties it and loses every queued job;"
                    + " set appendonly yes");
        }
        return warnings;
    }

    /**
     * What {@link #configurationWarnings} could not check on this Redis (it needs {@code CONFIG GET}, which managed
     * Redis often disables), each with what the operator must make sure of; empty when everything was checked.
     */
    public static List<String> uncheckedSettings(Map<String, String> info) {
        String why = info.get(CONFIG_UNREADABLE);
        if (why == null) {
            return List.of();
        }
        List<String> unchecked = new ArrayList<>();
        if (!"1".equals(info.get("aof_enabled"))) {
            unchecked.add("Redis persistence could not be checked (" + why + "): AOF is off and whether RDB snapshots are on"
                    + " cannot be read; make sure this Redis keeps its data across a restart (RDB snapshots, or the provider's"
                    + " persistence), or a restart loses every queued job");
        }
        if (info.get("maxmemory_policy") == null) {
            unchecked.add("Redis maxmemory-policy could not be checked (" + why + ", and INFO does not report it); make sure"
                    + " it is noeviction, or Redis deletes jobs silently when its memory is full");
        }
        return unchecked;
    }

    /**
     * The client; for a Sentinel connection whose client could not be built yet, built now.
     *
     * @throws JedisConnectionException if the sentinels cannot be reached or do not know the master
     */
    private UnifiedJedis client() {
        UnifiedJedis c = client;
        if (c == null) {
            c = connection.cluster() ? connectCluster(null) : connectSentinel(null);
        }
        HostAndPort pooled = sentinelMaster;
        HostAndPort known = lastMaster;
        if (pooled != null && known != null && !known.equals(pooled)) {
            // The last probe found another master than the pool's and could not rebuild the client yet. Writing
            // to either could put new jobs ahead of those the old master acknowledged but never replicated: take the
            // outage path, whose probe confirms the new master and whose recovery re-sends recent writes (new run
            // id) before anything new is written.
            throw new JedisConnectionException("Redis master for " + connection.masterName() + " moved from " + pooled
                    + " to " + known);
        }
        return c;
    }

    /** The pool of the current master's connections. */
    private Pool<Connection> pool() {
        UnifiedJedis c = client();
        if (c instanceof RedisClient single) {
            return single.getPool();
        }
        throw new IllegalStateException("a Redis Cluster client has a pool per node");
    }

    /**
     * Builds the Cluster client (reading the slot map from the first node that answers), unless another thread
     * replaced {@code stale} already.
     */
    private synchronized UnifiedJedis connectCluster(UnifiedJedis stale) {
        UnifiedJedis current = client;
        if (current != null && current != stale) {
            return current;
        }
        java.util.Set<HostAndPort> seeds = new java.util.LinkedHashSet<>(clusterCandidates());
        ClusterConnectionProvider provider;
        try {
            provider = new ClusterConnectionProvider(seeds, clientConfig, poolConfig);
        } catch (JedisConnectionException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new JedisConnectionException("Redis Cluster " + seeds + ": " + Failures.describe(e), e);
        }
        UnifiedJedis built = RedisClusterClient.builder()
                .nodes(seeds)
                .clientConfig(clientConfig)
                .poolConfig(poolConfig)
                .connectionProvider(provider)
                .maxAttempts(CLUSTER_ATTEMPTS)
                // A timed-out attempt uses it all: a hung master costs one socket timeout, as a standalone Redis does.
                .maxTotalRetriesDuration(connection.socketTimeout())
                .build();
        ClusterConnectionProvider old = clusterProvider;
        clusterProvider = provider;
        client = built;
        if (current != null) {
            try {
                current.close();
            } catch (RuntimeException ignored) {
                // Nothing to keep.
            }
        }
        if (old != null && old != provider) {
            try {
                old.close();
            } catch (RuntimeException ignored) {
                // Nothing to keep.
            }
        }
        return built;
    }

    /**
     * Builds the Sentinel client on the master the sentinels name now, unless another thread replaced {@code stale}
     * already.
     *
     * @throws JedisConnectionException if no sentinel answers or none knows the master
     */
    private synchronized UnifiedJedis connectSentinel(UnifiedJedis stale) {
        UnifiedJedis current = client;
        if (current != null && current != stale) {
            return current;
        }
        HostAndPort master = Sentinels.currentMaster(connection, sentinelConfig);
        UnifiedJedis built = RunIdCheckingConnectionFactory.client(master, clientConfig, poolConfig, () -> expectedRunId);
        sentinelMaster = master;
        client = built;
        if (current != null) {
            try {
                current.close();
            } catch (RuntimeException ignored) {
                // Its pool is that of a master that is gone; nothing to keep.
            }
        }
        return built;
    }

    /**
     * Where a probe connects: the standalone Redis, or the master the sentinels name now. For Sentinel it also
     * says (INFO, once per change) when the master moved, and rebuilds the client if its pool is still on
     * another master (its sentinel listener missed the switch).
     */
    private HostAndPort probeTarget() {
        if (!connection.sentinel()) {
            return new HostAndPort(connection.host(), connection.port());
        }
        HostAndPort master = Sentinels.currentMaster(connection, sentinelConfig);
        HostAndPort before = lastMaster;
        lastMaster = master;
        if (!master.equals(before)) {
            log.info("Redis master for {} is now {} ({})", connection.masterName(), master, component);
        }
        UnifiedJedis c = client;
        if (c == null) {
            c = connectSentinel(null);
        }
        HostAndPort pooled = sentinelMaster;
        if (pooled != null && !master.equals(pooled)) {
            log.debug("{}: pool on {} but the sentinels name {}: rebuilding the client", component, pooled, master);
            connectSentinel(c);
        }
        return master;
    }

    /**
     * Sentinel only, after a direct call found Redis unavailable (and before each read of the queue figures): asks the
     * sentinels (at most once a second) which master they name and, for a gateway no reconnect loop probes (an
     * operator tool: {@code DeadLetters}, {@code Queues}, the CLI, queue figures), moves the client to it, so that its
     * next call reaches the master after a failover. A probed gateway (a producer's, a worker's) is left to its probe, whose recovery re-sends recent writes
     * before anything new reaches a new master. Never throws.
     */
    public void followSentinels() {
        if (!connection.sentinel()) {
            return;
        }
        long now = System.nanoTime();
        if (now - lastFollow < FOLLOW_INTERVAL_NANOS || lastMaster != null) {
            return;
        }
        lastFollow = now;
        try {
            HostAndPort master = Sentinels.currentMaster(connection, sentinelConfig);
            HostAndPort pooled = sentinelMaster;
            if (pooled == null || !master.equals(pooled)) {
                log.info("Redis master for {} is now {} ({})", connection.masterName(), master, component);
                connectSentinel(client);
            }
        } catch (RuntimeException e) {
            log.debug("{}: the sentinels could not name the master: {}", component, Failures.describe(e));
        }
    }

    /**
     * Sentinel only, for the heartbeat while connected: the master the sentinels name now if it is not the one the pool
     * writes to, else null. This is how a running producer or worker learns of a failover that its calls do not notice
     * (the old master alive and still taking writes: a manual failover, a partition), before the sentinels demote the
     * old master (8-10 s later) and it drops what it took meanwhile. Asked on a kept connection to one sentinel
     * (the first that answers); a different answer is confirmed by a majority of the sentinels that answer ({@link
     * Sentinels#majorityMaster}), so that one sentinel that has not heard of a failover yet (restarted from its config
     * file) cannot start an outage alone. A sentinel that does not answer is no news: null.
     */
    public HostAndPort sentinelsNameAnotherMaster() {
        HostAndPort pool = sentinelMaster;
        if (!connection.sentinel() || pool == null) {
            return null;
        }
        HostAndPort named = null;
        synchronized (watchLock) {
            if (watchedSentinel != null) {
                try {
                    named = masterAddress(watchedSentinel.sentinelGetMasterAddrByName(connection.masterName()));
                } catch (RuntimeException e) {
                    log.debug("{}: sentinel {} did not answer the heartbeat: {}", component,
                            watchedSentinel.getConnection(), Failures.describe(e));
                    closeWatchedSentinel();
                }
            }
            if (named == null && watchedSentinel == null) {
                for (HostAndPort s : Sentinels.addresses(connection)) {
                    Jedis j = null;
                    try {
                        j = new Jedis(s, sentinelConfig);
                        named = masterAddress(j.sentinelGetMasterAddrByName(connection.masterName()));
                        watchedSentinel = j;
                        break;
                    } catch (RuntimeException e) {
                        if (j != null) {
                            j.close();
                        }
                    }
                }
            }
            noteSentinels(watchedSentinel != null);
        }
        if (named == null || named.equals(pool)) {
            return null;
        }
        HostAndPort confirmed = Sentinels.majorityMaster(connection, sentinelConfig);
        return confirmed == null || confirmed.equals(pool) ? null : confirmed;
    }

    /** Heartbeat only: since when (nanoTime) no sentinel answered, 0 while one does; and whether that was said. */
    private long sentinelsSilentSince;
    private boolean sentinelsSilentSaid;
    /** How long no sentinel may answer the heartbeat before a WARN says so. */
    static final long SENTINELS_SILENT_WARN_NANOS = java.util.concurrent.TimeUnit.SECONDS.toNanos(3);

    /**
     * Says when no sentinel has answered the heartbeat for a few seconds (and when they answer again): the master still
     * serves, so nothing else would tell that a failover now would go unnoticed until a sentinel answers.
     */
    private void noteSentinels(boolean answered) {
        if (answered) {
            if (sentinelsSilentSaid) {
                log.info("The sentinels of master '{}' answer again ({}, {})", connection.masterName(), component,
                        connection.redacted());
            }
            sentinelsSilentSince = 0;
            sentinelsSilentSaid = false;
            return;
        }
        long now = System.nanoTime();
        if (sentinelsSilentSince == 0) {
            sentinelsSilentSince = now;
        } else if (!sentinelsSilentSaid && now - sentinelsSilentSince >= SENTINELS_SILENT_WARN_NANOS) {
            sentinelsSilentSaid = true;
            log.warn("No sentinel of master '{}' answers ({}, {}): going on with master {}, but a failover would not be"
                    + " followed until a sentinel answers again", connection.masterName(), component, connection.redacted(),
                    sentinelMaster);
        }
    }

    private static HostAndPort masterAddress(List<String> addr) {
        return addr != null && addr.size() == 2 ? new HostAndPort(addr.get(0), Integer.parseInt(addr.get(1))) : null;
    }

    private void closeWatchedSentinel() {
        synchronized (watchLock) {
            if (watchedSentinel != null) {
                try {
                    watchedSentinel.close();
                } catch (RuntimeException ignored) {
                    // Nothing to keep.
                }
                watchedSentinel = null;
            }
        }
    }

    /**
     * Cluster only: the master of {@code slot} as the client's slot map has it (no call to Redis), or null when that map
     * is not built yet, names none, or this is not a cluster.
     */
    public HostAndPort masterOf(int slot) {
        ClusterConnectionProvider provider = clusterProvider;
        return provider == null ? null : provider.getNode(slot);
    }

    /** The master the pool writes to (Sentinel), or null. */
    public HostAndPort poolMaster() {
        return sentinelMaster;
    }

    /**
     * The master the sentinels name now (asked afresh), or the standalone Redis's address.
     *
     * @throws RedisUnavailableException if no sentinel answers or none knows the master
     */
    public HostAndPort currentMaster() {
        try {
            return connection.sentinel() ? Sentinels.currentMaster(connection, sentinelConfig)
                    : new HostAndPort(connection.host(), connection.port()); // a cluster: its first node given
        } catch (RuntimeException e) {
            throw new RedisUnavailableException("Redis unavailable: " + Failures.describe(e), e);
        }
    }

    @Override
    public void close() {
        closeWatchedSentinel();
        UnifiedJedis c = client;
        if (c != null) {
            c.close();
        }
    }
}
