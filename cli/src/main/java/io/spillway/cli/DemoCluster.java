package io.spillway.cli;

import io.spillway.core.QueueName;
import io.spillway.core.internal.ClusterTopology;
import io.spillway.core.internal.RedisKeys;
import io.spillway.watchdog.RedisServerConfig;
import io.spillway.watchdog.Watchdog;
import io.spillway.watchdog.WatchdogConfig;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.IntStream;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.exceptions.JedisException;
import redis.clients.jedis.util.JedisClusterCRC16;

/**
 * The demo's Redis Cluster: {@value #MASTERS} masters and no replicas, each a redis-server under a {@link Watchdog} of
 * its own, formed with plain commands as {@code redis-cli --cluster create} would (no redis-cli needed):
 * <ol>
 *   <li>Pick, per master, a loopback port {@code p} with {@code p + 10000} free too (the cluster bus; Redis 6.2 cannot
 *       move it), below the kernel's ephemeral range so that no outgoing connection takes one meanwhile.</li>
 *   <li>Start the watchdogs and wait until each Redis answers; a node whose port was taken after all (its watchdog gives
 *       up, or Redis cannot bind its bus port and never comes up) is started again on other ports.</li>
 *   <li>On each node a distinct {@code CLUSTER SET-CONFIG-EPOCH} and one {@code CLUSTER ADDSLOTS} for its third of the
 *       16384 slots; then {@code CLUSTER MEET} from the first node to the others.</li>
 *   <li>Wait until every node reports {@code cluster_state:ok} and the same complete slot map: a fresh master reports
 *       {@code fail} for its first 2 s, so this takes a little over 2 s.</li>
 * </ol>
 *
 * <p>Invariants: master {@code i} serves slots {@code i * 16384 / 3} up to the next master's first slot, from formation
 * on (with no replicas there is no failover, so slots never move); {@code nodes.conf} is in each master's data
 * directory, by absolute path, so a master its watchdog restarts comes back with its id, epoch and slots and rejoins by
 * itself. Lifecycle calls ({@link #start}, {@link #close}) from one thread; {@link #healthy()} from any.
 */
final class DemoCluster implements AutoCloseable {
    static final int MASTERS = 3;
    /** How long a master may not answer before the others count it as failing: a restarted one rejoins in seconds. */
    static final Duration NODE_TIMEOUT = Duration.ofMillis(1000);
    static final String NODES_FILE = "nodes.conf";

    private static final String HOST = "127.0.0.1";
    private static final int BUS_PORT_OFFSET = 10_000;
    private static final int LOWEST_PORT = 10_000;
    private static final int START_ATTEMPTS = 3;
    private static final Duration NODE_START_TIMEOUT = Duration.ofSeconds(15);
    private static final int PROBE_TIMEOUT_MILLIS = 500;

    /** Builds (not starts) the watchdog of master {@code index} for {@code redis}: the demo wires its events. */
    @FunctionalInterface
    interface Supervise {
        Watchdog watchdog(int index, RedisServerConfig redis);
    }

    /** Picks master ports (each with its bus port, + 10000, free too), none of those in {@code taken}. */
    @FunctionalInterface
    interface PortPicker {
        int pick(List<Integer> taken);
    }

    private final Path dir;
    private final boolean persistence;
    private final PortPicker portPicker;
    private final List<Watchdog> masters = new CopyOnWriteArrayList<>();
    private volatile boolean closed;

    /**
     * @param dir the cluster's directory: master {@code i}'s data goes to {@code master-<i+1>} under it
     * @param persistence AOF everysec on every master; without it a restarted master comes back empty (its
     *                    {@code nodes.conf}, and with it its place in the cluster, is kept all the same)
     */
    DemoCluster(Path dir, boolean persistence) {
        this(dir, persistence, DemoCluster::freePortPair);
    }

    /** As {@link #DemoCluster(Path, boolean)}, with the ports from {@code portPicker} (tests hand out a taken one). */
    DemoCluster(Path dir, boolean persistence, PortPicker portPicker) {
        this.dir = dir;
        this.persistence = persistence;
        this.portPicker = portPicker;
    }

    /**
     * {@code --dir} reused: the cluster of an earlier run knows its peers on ports this run does not use, and would
     * never agree with the new one. Refused rather than wiped, since the user asked to keep that directory.
     */
    static void refuseEarlierCluster(Path dir) {
        for (int i = 0; i < MASTERS; i++) {
            Path nodes = nodeDir(dir, i).resolve(NODES_FILE);
            if (Files.exists(nodes)) {
                throw new CliException(ExitCodes.USAGE, "--dir holds the Redis Cluster of an earlier demo run (" + nodes
                        + "), whose masters were on other ports; give another --dir or delete " + dir);
            }
        }
    }

    /** Starts every master under its watchdog and forms the cluster; returns once it is healthy. */
    void start(Supervise supervise, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        List<Integer> ports = new ArrayList<>();
        for (int i = 0; i < MASTERS && !closed; i++) {
            int port = portPicker.pick(List.copyOf(ports));
            ports.add(port);
            masters.add(supervise.watchdog(i, config(i, port)).start());
        }
        for (int i = 0; i < MASTERS; i++) {
            for (int attempt = 1; closed || !awaitUp(masters.get(i)); attempt++) {
                if (closed) {
                    throw new CliException(ExitCodes.FAILED, "the demo was stopped while its Redis Cluster started");
                }
                Watchdog failed = masters.get(i);
                String why = failed.failure().map(f -> f.reason()).orElse("it did not answer within "
                        + NODE_START_TIMEOUT.toSeconds() + " s");
                failed.close();
                awaitStopped(failed);
                if (attempt == START_ATTEMPTS) {
                    throw new CliException(ExitCodes.FAILED, "master " + (i + 1) + " of the demo's Redis Cluster did not start ("
                            + why + "); see " + nodeDir(dir, i).resolve("redis.log"));
                }
                int port = portPicker.pick(List.copyOf(ports));
                ports.set(i, port);
                deleteNodesFile(i); // the failed start may have written one; the node is new either way
                masters.set(i, supervise.watchdog(i, config(i, port)).start());
            }
        }
        form();
        while (!healthy()) {
            if (closed || System.nanoTime() > deadline) {
                throw new CliException(ExitCodes.FAILED, "the demo's Redis Cluster did not reach cluster_state:ok within "
                        + timeout.toSeconds() + " s; see the redis.log files under " + dir);
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50));
        }
    }

    /** The masters' watchdogs, master 1 first; fixed once {@link #start} returned. */
    List<Watchdog> masters() {
        return List.copyOf(masters);
    }

    /** {@code redis-cluster://127.0.0.1:<p1>,127.0.0.1:<p2>,127.0.0.1:<p3>}. */
    URI uri() {
        StringBuilder s = new StringBuilder("redis-cluster://");
        for (int i = 0; i < masters.size(); i++) {
            s.append(i == 0 ? "" : ",").append(HOST).append(':').append(masters.get(i).redis().port());
        }
        return URI.create(s.toString());
    }

    /** {@code 127.0.0.1:<port>} of master {@code index}. */
    String address(int index) {
        return HOST + ":" + masters.get(index).redis().port();
    }

    /** "0-5460": the slots master {@code index} serves. */
    static String slots(int index) {
        return firstSlot(index) + "-" + (firstSlot(index + 1) - 1);
    }

    /**
     * The first of {@code prefix-1}, {@code prefix-2}, … whose keys ({@code spillway:{<queue>}:…}) hash to a slot of
     * master {@code index}: one queue per master, so that every master holds jobs.
     */
    static String queueOn(int index, String prefix) {
        for (int n = 1; ; n++) {
            String queue = prefix + "-" + n;
            int slot = JedisClusterCRC16.getSlot(RedisKeys.stream(QueueName.of(queue)));
            if (firstSlot(index) <= slot && slot < firstSlot(index + 1)) {
                return queue;
            }
        }
    }

    /**
     * Whether the cluster is whole: every master answers, reports {@code cluster_state:ok}, and sees our masters, each
     * with its own slots, covering all 16384. A master that is down, frozen, just restarted (it reports {@code fail} for
     * its first 2 s) or still flagged as failed by the others makes it false.
     */
    boolean healthy() {
        List<Watchdog> now = masters();
        if (now.size() != MASTERS) {
            return false;
        }
        for (Watchdog node : now) {
            int port = node.redis().port();
            ClusterTopology map;
            try (Jedis j = new Jedis(new HostAndPort(HOST, port), DefaultJedisClientConfig.builder()
                    .connectionTimeoutMillis(PROBE_TIMEOUT_MILLIS).socketTimeoutMillis(PROBE_TIMEOUT_MILLIS).build())) {
                map = ClusterTopology.read(new HostAndPort(HOST, port), j);
            } catch (JedisException | ClassCastException | IndexOutOfBoundsException notNow) {
                return false;
            }
            if (!map.state().equals("ok") || map.masters().size() != MASTERS || map.coveredSlots() != ClusterTopology.SLOTS) {
                return false;
            }
            for (int i = 0; i < MASTERS; i++) {
                ClusterTopology.Master m = map.masters().get(i);
                if (m.address().getPort() != now.get(i).redis().port() || !m.slots().equals(slots(i))) {
                    return false;
                }
            }
        }
        return true;
    }

    /**
     * Stops every master (SIGTERM: Redis writes its AOF and nodes.conf) and returns once each is gone. Idempotent; safe
     * while {@link #start} runs on another thread (Ctrl-C).
     */
    @Override
    public void close() {
        closed = true;
        for (Watchdog w : masters) {
            w.close();
        }
        for (Watchdog w : masters) {
            awaitStopped(w);
        }
    }

    /**
     * Waits until {@code w}'s redis-server is gone. {@link Watchdog#close()} returns at once when another thread (the
     * watchdog's own shutdown hook, on Ctrl-C) is already stopping it; a Redis still shutting down then wrote its log
     * into the demo's temp dir after it was deleted, and left the dir behind.
     */
    static void awaitStopped(Watchdog w) {
        try {
            w.awaitStopped(WatchdogConfig.DEFAULT_STOP_TIMEOUT.plusSeconds(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void form() {
        for (int i = 0; i < MASTERS; i++) {
            try (Jedis j = connect(i)) {
                // Distinct epochs up front, as redis-cli does: no epoch collisions to resolve after the MEETs.
                j.clusterSetConfigEpoch(i + 1);
                j.clusterAddSlots(IntStream.range(firstSlot(i), firstSlot(i + 1)).toArray());
            }
        }
        try (Jedis first = connect(0)) {
            for (int i = 1; i < MASTERS; i++) {
                first.clusterMeet(HOST, masters.get(i).redis().port());
            }
        }
    }

    private Jedis connect(int index) {
        return new Jedis(new HostAndPort(HOST, masters.get(index).redis().port()), DefaultJedisClientConfig.builder()
                .connectionTimeoutMillis(2000).socketTimeoutMillis(2000).build());
    }

    private RedisServerConfig config(int index, int port) {
        Path nodeDir = nodeDir(dir, index);
        return RedisServerConfig.custom()
                .port(port)
                .dataDir(nodeDir)
                .setting("appendonly", persistence ? "yes" : "no")
                .setting("cluster-enabled", "yes")
                .setting("cluster-config-file", quote(nodeDir.resolve(NODES_FILE).toAbsolutePath().toString()))
                .setting("cluster-node-timeout", Long.toString(NODE_TIMEOUT.toMillis()))
                .setting("cluster-require-full-coverage", "yes")
                // The address the nodes gossip and CLUSTER SLOTS reports; without it a node learns its own address only
                // from a peer's connection, and until then reports "" for itself.
                .setting("cluster-announce-ip", HOST)
                .build();
    }

    /** True once {@code w} answers; false if its watchdog gave up or it did not answer in time. */
    private boolean awaitUp(Watchdog w) {
        long deadline = System.nanoTime() + NODE_START_TIMEOUT.toNanos();
        while (!w.isUp()) {
            if (closed || w.failure().isPresent() || System.nanoTime() > deadline) {
                return false;
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
        }
        return true;
    }

    private void deleteNodesFile(int index) {
        try {
            Files.deleteIfExists(nodeDir(dir, index).resolve(NODES_FILE));
        } catch (IOException e) {
            // Redis takes over a nodes.conf that knows no peers, with its id; only tidier without it.
        }
    }

    private static Path nodeDir(Path dir, int index) {
        return dir.resolve("master-" + (index + 1));
    }

    private static int firstSlot(int index) {
        return index >= MASTERS ? ClusterTopology.SLOTS : index * ClusterTopology.SLOTS / MASTERS;
    }

    private static String quote(String path) {
        return "\"" + path.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }

    /**
     * A port {@code p} with {@code p} and {@code p + 10000} free, neither in {@code taken}, both below the ephemeral
     * range. Another process may still bind one first: {@link #start} then tries other ports.
     */
    static int freePortPair(List<Integer> taken) {
        int above = ephemeralStart();
        if (above - BUS_PORT_OFFSET - LOWEST_PORT < 1_000) {
            throw new CliException(ExitCodes.FAILED, "no room for Redis Cluster ports (port and port + 10000) below the"
                    + " ephemeral port range, which starts at " + above);
        }
        Set<Integer> busy = Set.copyOf(taken.stream().flatMap(p -> List.of(p, p + BUS_PORT_OFFSET).stream()).toList());
        for (int attempt = 0; attempt < 1_000; attempt++) {
            int port = ThreadLocalRandom.current().nextInt(LOWEST_PORT, above - BUS_PORT_OFFSET);
            if (!busy.contains(port) && !busy.contains(port + BUS_PORT_OFFSET) && free(port) && free(port + BUS_PORT_OFFSET)) {
                return port;
            }
        }
        throw new CliException(ExitCodes.FAILED, "no free pair of loopback ports (port and port + 10000) for a Redis"
                + " Cluster node after 1000 attempts");
    }

    private static boolean free(int port) {
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static int ephemeralStart() {
        try {
            // readAllLines: Files.readString reads a /proc file short (its size says 0).
            String[] range = Files.readAllLines(Path.of("/proc/sys/net/ipv4/ip_local_port_range")).get(0).trim().split("\\s+");
            return Math.min(65_536, Integer.parseInt(range[0]));
        } catch (IOException | RuntimeException e) {
            return 32_768; // Linux's default; other systems differ, and the bind check still applies
        }
    }
}
