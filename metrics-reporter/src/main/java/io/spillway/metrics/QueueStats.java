package io.spillway.metrics;

import com.codahale.metrics.Gauge;
import com.codahale.metrics.MetricRegistry;
import io.spillway.core.MetricNames;
import io.spillway.core.QueueName;
import io.spillway.core.RedisConnection;
import io.spillway.core.RedisUnavailableException;
import io.spillway.core.SpillwayException;
import io.spillway.core.internal.Arguments;
import io.spillway.core.internal.Backoff;
import io.spillway.core.internal.Failures;
import io.spillway.core.internal.RedisGateway;
import io.spillway.core.internal.RedisKeys;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.LongConsumer;
import java.util.function.ToLongFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import redis.clients.jedis.Response;
import redis.clients.jedis.resps.StreamPendingSummary;

/**
 * Reads every queue's figures from Redis: the queues listed in {@code spillway:queues}, and per queue
 * {@code XLEN} and the {@code XPENDING} summary of its stream, {@code ZCARD} of its delayed and dead sets and
 * {@code ZCOUNT} of its workers set over the last 60 s (the workers seen, as {@code spillway status} counts them) —
 * one pipelined round trip for all queues after the {@code SMEMBERS}.
 *
 * <p>Waiting is {@code XLEN - pending}: workers delete a stream entry when they acknowledge it
 * (XACK + XDEL), so the stream holds exactly the jobs not yet fetched plus the ones in flight.
 *
 * <p>{@link #registerGauges} turns the figures into gauges ({@value MetricNames#QUEUE_DEPTH}{@code .<queue>},
 * {@value MetricNames#QUEUE_IN_FLIGHT}, {@value MetricNames#QUEUE_DELAYED}, {@value MetricNames#QUEUE_DEAD},
 * {@value MetricNames#QUEUE_WORKERS}, each per queue, and {@value MetricNames#QUEUE_STATS_AGE}) refreshed
 * by one daemon thread; a gauge read never touches Redis. While Redis is away the gauges keep their last
 * figures and the age gauge grows; a queue's gauges appear with the first read that finds it, so a Redis
 * that is down from the start shows no queue gauges (and an age of -1) until it answers. Failed reads are
 * retried forever with capped exponential backoff and full jitter (from the refresh interval, doubling, up
 * to {@link #RETRY_CAP} or the refresh interval if that is longer), one log line when reads start failing
 * and one when they work again. Reads bypass the circuit breaker (they are an observer's, and must not
 * open a circuit that only the reconnect loop closes).
 *
 * <p>Thread-safe. Close it to stop the refresher and release the connection pool.
 *
 * <pre>{@code
 * try (QueueStats stats = QueueStats.of(RedisConnection.of(URI.create("redis://127.0.0.1:6379")))) {
 *     for (QueueSnapshot q : stats.read()) System.out.println(q);
 *     stats.registerGauges(registry, Duration.ofSeconds(5));
 * }
 * }</pre>
 */
public final class QueueStats implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(QueueStats.class);
    public static final Duration DEFAULT_REFRESH = Duration.ofSeconds(5);
    /** The longest wait between failed reads (unless the refresh interval is longer). */
    public static final Duration RETRY_CAP = Duration.ofSeconds(30);

    private final RedisGateway gateway;
    private final Clock clock;
    private final Map<String, QueueSnapshot> last = new ConcurrentHashMap<>();
    private volatile Instant lastReadAt;
    private volatile boolean failing;
    private ScheduledExecutorService refresher;
    /** The refresher's next read; guarded by this, like the two fields below. */
    private ScheduledFuture<?> nextRead;
    /** Bumped when {@link #readSoon()} replaces {@link #nextRead}: a read of an older generation schedules nothing. */
    private long generation;
    private int failedReads;
    /** One read and the scheduling of the next, for a generation. */
    private LongConsumer refreshTask;

    private QueueStats(RedisConnection connection, Clock clock) {
        this.gateway = new RedisGateway(Arguments.notNull(connection, "connection"),
                "stats", 2, Duration.ofSeconds(1), null);
        this.clock = clock;
    }

    public static QueueStats of(RedisConnection connection) {
        return new QueueStats(connection, Clock.systemUTC());
    }

    /** The queues Redis knows ({@code spillway:queues}), sorted. */
    public List<String> queues() {
        Set<String> names = gateway.executeDirect(c -> c.smembers(RedisKeys.QUEUES));
        List<String> out = new ArrayList<>();
        for (String n : new TreeSet<>(names)) {
            if (QueueName.VALID.matcher(n).matches()) {
                out.add(n);
            }
        }
        return out;
    }

    /**
     * Reads every queue now.
     *
     * @throws io.spillway.core.RedisUnavailableException when Redis cannot be reached
     */
    public List<QueueSnapshot> read() {
        List<String> queues = queues();
        Instant now = clock.instant();
        // Workers seen within the window, as `spillway status` counts them: the set also holds the last beats of workers
        // that died without a graceful close (SIGKILL), until a live worker's heartbeat trims them.
        long seenSince = now.toEpochMilli() - RedisKeys.WORKER_SEEN_WINDOW_MS;
        List<QueueSnapshot> out = gateway.pipelined(false, p -> {
            List<List<Response<?>>> rs = new ArrayList<>();
            for (String q : queues) {
                QueueName name = QueueName.of(q);
                rs.add(List.of(
                        p.xlen(RedisKeys.stream(name)),
                        p.xpending(RedisKeys.stream(name), RedisKeys.GROUP),
                        p.zcard(RedisKeys.delayed(name)),
                        p.zcard(RedisKeys.dead(name)),
                        p.zcount(RedisKeys.workers(name), seenSince, Double.POSITIVE_INFINITY)));
            }
            return () -> {
                List<QueueSnapshot> snaps = new ArrayList<>(queues.size());
                for (int i = 0; i < queues.size(); i++) {
                    List<Response<?>> r = rs.get(i);
                    long len = asLong(r.get(0));
                    long pending = pendingOf(r.get(1));
                    snaps.add(new QueueSnapshot(queues.get(i), Math.max(0, len - pending), pending,
                            asLong(r.get(2)), asLong(r.get(3)), asLong(r.get(4)), now));
                }
                return snaps;
            };
        });
        lastReadAt = now;
        out.forEach(s -> last.put(s.queue(), s));
        // A queue no longer listed (an operator removed it from spillway:queues: a typo, a queue retired) is forgotten,
        // not shown with its last figures for as long as this runs.
        last.keySet().retainAll(new java.util.HashSet<>(queues));
        return out;
    }

    /** Reads one queue now. */
    public QueueSnapshot read(String queue) {
        QueueName.of(queue);
        return read().stream().filter(s -> s.queue().equals(queue)).findFirst()
                .orElse(new QueueSnapshot(queue, 0, 0, 0, 0, 0, clock.instant()));
    }

    /** The figures of the last successful read, by queue. */
    public Map<String, QueueSnapshot> lastRead() {
        return Map.copyOf(last);
    }

    private static long asLong(Response<?> r) {
        try {
            Object v = r.get();
            return v instanceof Number n ? n.longValue() : 0;
        } catch (RuntimeException noSuchKey) {
            return 0;
        }
    }

    private static long pendingOf(Response<?> r) {
        try {
            Object v = r.get();
            return v instanceof StreamPendingSummary s ? s.getTotal() : 0;
        } catch (RuntimeException noGroupYet) {
            // NOGROUP: no worker has created the consumer group yet, so nothing is in flight.
            return 0;
        }
    }

    /**
     * Registers the queue gauges in {@code registry} and refreshes them every {@code every} on a daemon
     * thread (the first read happens at once). Queues that appear later get their gauges at the next
     * refresh. Call once.
     */
    public synchronized QueueStats registerGauges(MetricRegistry registry, Duration every) {
        Arguments.notNull(registry, "registry");
        if (every == null || every.isZero() || every.isNegative()) {
            throw new IllegalArgumentException("queue stats refresh must be > 0, but was " + every);
        }
        if (refresher != null) {
            throw new IllegalStateException("queue gauges are already registered");
        }
        registry.remove(MetricNames.QUEUE_STATS_AGE);
        registry.register(MetricNames.QUEUE_STATS_AGE, (Gauge<Long>) () -> {
            Instant at = lastReadAt;
            return at == null ? -1L : Math.max(0, Duration.between(at, clock.instant()).toMillis());
        });
        refresher = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "spillway-queue-stats");
            t.setDaemon(true);
            return t;
        });
        Set<String> registered = ConcurrentHashMap.newKeySet();
        Backoff retry = new Backoff(every, every.compareTo(RETRY_CAP) > 0 ? every : RETRY_CAP);
        refreshTask = gen -> {
            boolean ok = refresh(registry, registered);
            synchronized (this) {
                if (gen != generation || refresher.isShutdown()) {
                    return;
                }
                failedReads = ok ? 0 : failedReads + 1;
                nextRead = refresher.schedule(() -> refreshTask.accept(gen),
                        ok ? every.toMillis() : retry.delayMillis(failedReads - 1), TimeUnit.MILLISECONDS);
            }
        };
        nextRead = refresher.schedule(() -> refreshTask.accept(0L), 0, TimeUnit.MILLISECONDS);
        return this;
    }

    /**
     * While reads are failing, reads again now instead of at the end of the backoff: for a caller that has just
     * seen Redis answer (a health check), so the gauges follow at once. Does nothing while reads work.
     */
    synchronized void readSoon() {
        if (refresher == null || refresher.isShutdown() || failedReads == 0) {
            return;
        }
        // A read in progress is cancelled too (it finishes, but its generation no longer schedules the next one).
        nextRead.cancel(false);
        long gen = ++generation;
        nextRead = refresher.schedule(() -> refreshTask.accept(gen), 0, TimeUnit.MILLISECONDS);
    }

    /** @return whether the read worked */
    private boolean refresh(MetricRegistry registry, Set<String> registered) {
        boolean first = lastReadAt == null;
        // Through Sentinel: reads still work on a demoted old master (a replica), so ask the sentinels each time (at
        // most once a second) whether the master moved.
        gateway.followSentinels();
        try {
            List<QueueSnapshot> read = read();
            Set<String> listed = new java.util.HashSet<>();
            for (QueueSnapshot s : read) {
                listed.add(s.queue());
                if (registered.add(s.queue())) {
                    gauge(registry, MetricNames.QUEUE_DEPTH, s.queue(), QueueSnapshot::waiting);
                    gauge(registry, MetricNames.QUEUE_IN_FLIGHT, s.queue(), QueueSnapshot::inFlight);
                    gauge(registry, MetricNames.QUEUE_DELAYED, s.queue(), QueueSnapshot::delayed);
                    gauge(registry, MetricNames.QUEUE_DEAD, s.queue(), QueueSnapshot::dead);
                    gauge(registry, MetricNames.QUEUE_WORKERS, s.queue(), QueueSnapshot::workers);
                }
            }
            for (String gone : new ArrayList<>(registered)) {
                if (!listed.contains(gone)) {
                    registered.remove(gone);
                    for (String family : List.of(MetricNames.QUEUE_DEPTH, MetricNames.QUEUE_IN_FLIGHT,
                            MetricNames.QUEUE_DELAYED, MetricNames.QUEUE_DEAD, MetricNames.QUEUE_WORKERS)) {
                        registry.remove(MetricNames.perQueue(family, gone));
                    }
                }
            }
            if (failing) {
                failing = false;
                log.info("QueueStats {}: {}", gateway.connection().redacted(),
                        first ? "Redis answers: reading queue figures" : "reading queue figures again");
            }
            return true;
        } catch (SpillwayException | IllegalArgumentException e) {
            if (!failing) {
                failing = true;
                if (first) {
                    boolean unreachable = e instanceof RedisUnavailableException;
                    log.warn("QueueStats {}: {} ({}): the queue gauges appear once it answers; retrying with backoff",
                            gateway.connection().redacted(), unreachable ? "Redis not reachable yet" : "queues cannot be read yet",
                            unreachable ? Failures.describe(e.getCause()) : e.getMessage());
                } else {
                    log.warn("QueueStats {}: queue figures cannot be read, gauges keep their last values: {}",
                            gateway.connection().redacted(), e.getMessage());
                }
            }
            return false;
        } catch (RuntimeException e) {
            // Never let the refresh die: it would silently stop every later one.
            log.warn("QueueStats {}: refresh failed: {}", gateway.connection().redacted(), e.toString());
            return false;
        }
    }

    private void gauge(MetricRegistry registry, String family, String queue, ToLongFunction<QueueSnapshot> f) {
        String name = MetricNames.perQueue(family, queue);
        registry.remove(name);
        registry.register(name, (Gauge<Long>) () -> {
            QueueSnapshot s = last.get(queue);
            return s == null ? 0L : f.applyAsLong(s);
        });
    }

    @Override
    public synchronized void close() {
        if (refresher != null) {
            refresher.shutdownNow();
            try {
                refresher.awaitTermination(2, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        gateway.close();
    }
}
