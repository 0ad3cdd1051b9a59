package io.spillway.bench.chaos;

import java.util.Arrays;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The faults the harness injects. Each one is applied, held for a seeded random time in
 * {@code [minHoldMs, maxHoldMs]}, then healed; a fault with no hold (client kill) is instant.
 *
 * <p>Against a Redis Cluster (scenario {@code cluster}) the Redis faults hit one master, drawn by the schedule, and
 * {@link #CLIENT_KILL} every node; there is no proxy (cluster clients follow the slot map to each node's own port), so
 * only the kinds in {@link #CLUSTER} apply. {@link #REDIS_FAILOVER} exists only there and under Sentinel.
 *
 * <p>Under Sentinel (scenario {@code sentinel}) the Redis faults hit the master the sentinels name at that moment, and
 * only the kinds in {@link #SENTINEL} apply (the servers are reached directly: the sentinels hand out their own ports;
 * only the sentinels are behind proxies); four of them exist only there: {@link #SENTINEL_FAILOVER}, {@link #SENTINEL_SILENT_FAILOVER}, {@link #REPLICA_KILL} and
 * {@link #SENTINEL_KILL}.
 */
enum FaultKind {
    /**
     * SIGKILL of redis-server, down for the hold, then restarted on its data dir (AOF; empty without persistence). In a
     * cluster: of one master; if its replica took over meanwhile, it comes back as that replica's replica. Under
     * Sentinel: of the master; restarted before the failover it is the master again (the sentinels may still fail it
     * over), restarted after it it comes back as a master and the sentinels demote it.
     */
    REDIS_KILL(500, 4_000),
    /**
     * Cluster and Sentinel only: SIGKILL of one master, kept down until one of its replicas has taken over (its slots;
     * under Sentinel: the sentinels name a promoted replica), then for the hold, then restarted on its data dir: it
     * rejoins as a replica of its successor (under Sentinel once the sentinels demote it).
     */
    REDIS_FAILOVER(0, 3_000),
    /**
     * Sentinel only: {@code SENTINEL FAILOVER} asked of a sentinel, held until the sentinels name the promoted replica;
     * the old master, alive all along, is demoted to a replica of it.
     */
    SENTINEL_FAILOVER(0, 0),
    /**
     * Sentinel only: first every connection open through the sentinels' proxies is stalled for good (bytes swallowed
     * both ways, never closed: Jedis's {@code +switch-master} subscriptions wait on them for ever, as on connections
     * a firewall dropped silently), then {@code SENTINEL FAILOVER} as above. The old master takes the writes of every
     * client that has not noticed until the sentinels demote it, 8-11 s later, and drops them.
     */
    SENTINEL_SILENT_FAILOVER(0, 0),
    /**
     * SIGSTOP of redis-server for the hold, then SIGCONT: clients see timeouts, not errors. In a cluster: of one
     * master; held past the node timeout, it is failed over too and comes back as a replica. Under Sentinel: of the
     * master, held until the sentinels have promoted a replica, then for the hold: the old master wakes up still
     * believing it is the master (a split brain) until the sentinels demote it.
     */
    REDIS_HANG(500, 4_000),
    /** SHUTDOWN (AOF fsynced), down for the hold, restarted. */
    REDIS_RESTART(200, 2_000),
    /** CLIENT KILL of every client connection (in a cluster: on every node; under Sentinel: on the master). Instant. */
    CLIENT_KILL(0, 0),
    /** Sentinel only: SIGKILL of one replica, restarted on its data dir after the hold (it resyncs from the master). */
    REPLICA_KILL(500, 4_000),
    /** Sentinel only: SIGKILL of one of the sentinels, restarted on its own rewritten config after the hold. */
    SENTINEL_KILL(500, 4_000),
    /** {@code maxmemory} set below the memory in use (writes answer OOM) for the hold, then unset. */
    REDIS_OOM(1_000, 5_000),
    /**
     * Standalone only, and only where a tmpfs can be mounted (root): Redis's data directory is on a small file system of
     * its own, filled up for the hold and given back after it. Redis's next AOF write fails, and it refuses every write
     * ({@code MISCONF}) until a write succeeds again; what it acknowledged in its last moment is only in its memory. Not
     * in the presets' kinds (they need no root): ask for it with {@code --kinds} or {@code --nested on}.
     */
    REDIS_DISK_FULL(1_000, 5_000),
    /** The proxy closes every connection and refuses new ones for the hold. */
    PROXY_CUT(500, 3_000),
    /** The proxy accepts and reads but never forwards or answers, for the hold. */
    PROXY_BLACKHOLE(500, 4_000),
    /** The proxy delays every chunk by 20 to 200 ms for the hold. */
    PROXY_SLOW(1_000, 5_000),
    /** The proxy forwards commands but swallows every reply (writes applied, outcome unknown), for the hold. */
    PROXY_MUTE(300, 2_000),
    /**
     * Every queue of the run paused ({@code Queues.pause}) for the hold, then resumed: no worker may start a job of a
     * paused queue once it has read the pause (within a second), a worker started meanwhile included, and nothing may be
     * lost. Any topology, in no preset (it would change every seed's schedule): ask for it with {@code --pause on} or
     * {@code --kinds}.
     */
    QUEUE_PAUSE(3_000, 6_000),
    /** SIGKILL of one worker JVM, restarted after the hold on its state dir. */
    WORKER_KILL(200, 3_000),
    /** SIGTERM of one worker JVM (graceful close), restarted after the hold. */
    WORKER_RESTART(0, 1_000),
    /** SIGKILL of one producer JVM, restarted after the hold on its journal dir. */
    PRODUCER_KILL(200, 3_000),
    /** SIGTERM of one producer JVM (graceful close), restarted after the hold. */
    PRODUCER_RESTART(0, 1_000);

    /**
     * The kinds a standalone Redis (behind the proxy) can take: all but those that need replicas or sentinels (and
     * {@link #QUEUE_PAUSE}, which every topology takes, added by {@code --pause on}).
     */
    static final Set<FaultKind> STANDALONE = EnumSet.complementOf(EnumSet.of(REDIS_FAILOVER, SENTINEL_FAILOVER,
            SENTINEL_SILENT_FAILOVER, REPLICA_KILL, SENTINEL_KILL, QUEUE_PAUSE));
    /** The kinds of the standalone presets: all of {@link #STANDALONE} but {@link #REDIS_DISK_FULL}, which needs root. */
    static final Set<FaultKind> STANDALONE_PRESET = EnumSet.complementOf(EnumSet.of(REDIS_FAILOVER, SENTINEL_FAILOVER,
            SENTINEL_SILENT_FAILOVER, REPLICA_KILL, SENTINEL_KILL, REDIS_DISK_FULL, QUEUE_PAUSE));
    /** The kinds that apply to a Redis Cluster: no proxy faults; OOM and graceful restart are not wired to a master. */
    static final Set<FaultKind> CLUSTER = EnumSet.of(REDIS_KILL, REDIS_FAILOVER, REDIS_HANG, CLIENT_KILL, WORKER_KILL,
            WORKER_RESTART, PRODUCER_KILL, PRODUCER_RESTART);
    /** The kinds that apply under Sentinel: the cluster's, plus a manual failover and kills of a replica or a sentinel. */
    static final Set<FaultKind> SENTINEL = EnumSet.of(REDIS_KILL, REDIS_FAILOVER, SENTINEL_FAILOVER,
            SENTINEL_SILENT_FAILOVER, REDIS_HANG, CLIENT_KILL, REPLICA_KILL, SENTINEL_KILL, WORKER_KILL, WORKER_RESTART, PRODUCER_KILL, PRODUCER_RESTART);

    final long minHoldMs;
    final long maxHoldMs;

    FaultKind(long minHoldMs, long maxHoldMs) {
        this.minHoldMs = minHoldMs;
        this.maxHoldMs = maxHoldMs;
    }

    /** The command-line name: {@code redis-kill}, {@code proxy-blackhole}, ... */
    String label() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /** True for the faults that hit a producer or worker JVM, not Redis, a sentinel or the proxy. */
    boolean hitsChild() {
        return this == WORKER_KILL || this == WORKER_RESTART || this == PRODUCER_KILL || this == PRODUCER_RESTART;
    }

    /** True for the faults that hit Redis itself (one node of a cluster, drawn by the schedule). */
    boolean hitsRedisNode() {
        return this == REDIS_KILL || this == REDIS_FAILOVER || this == REDIS_HANG || this == REDIS_RESTART
                || this == REDIS_OOM || this == REDIS_DISK_FULL;
    }

    static FaultKind fromLabel(String label) {
        for (FaultKind k : values()) {
            if (k.label().equals(label.trim().toLowerCase(Locale.ROOT))) {
                return k;
            }
        }
        throw new IllegalArgumentException("unknown fault kind '" + label + "'; known: "
                + Arrays.stream(values()).map(FaultKind::label).collect(Collectors.joining(", ")));
    }
}
