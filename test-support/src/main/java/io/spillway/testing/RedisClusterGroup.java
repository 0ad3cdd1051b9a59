package io.spillway.testing;

import io.spillway.watchdog.RedisBinary;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.stream.IntStream;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.RedisClusterClient;
import redis.clients.jedis.exceptions.JedisException;
import redis.clients.jedis.util.JedisClusterCRC16;

/**
 * A real Redis Cluster on loopback ports, for tests of slot routing and cluster failover: {@link Builder#masters}
 * masters that split the 16384 slots into even contiguous ranges, each with {@link Builder#replicasPerMaster}
 * replicas, every node a {@link RedisProcess} with {@code cluster-enabled yes}.
 *
 * <p>Contract:
 * <ul>
 *   <li>The cluster is formed with plain commands, as {@code redis-cli --cluster create} would (no redis-cli needed):
 *       a distinct {@code CLUSTER SET-CONFIG-EPOCH} per node, one {@code CLUSTER ADDSLOTS} with every slot of its range
 *       per master (Redis 6.2 has no ADDSLOTSRANGE), {@code CLUSTER MEET} from the first node to every other, and
 *       {@code CLUSTER REPLICATE} once every node knows every other. {@link Builder#start()} returns once every node
 *       reports {@code cluster_state:ok}, knows all nodes, reports the same masters for all 16384 slots in
 *       {@code CLUSTER SLOTS} and every replica under its master in {@code CLUSTER NODES}, and every replica's link to
 *       its master is up: a failover can happen from then on. A master reports {@code cluster_state:fail} for its first 2 s (Redis's
 *       writable delay), so starting takes a little over 2 s.</li>
 *   <li>Node settings: those of {@link RedisProcess#builder()} ({@code appendonly yes}, {@code appendfsync everysec},
 *       no RDB, {@code noeviction}), {@code cluster-enabled yes}, {@code cluster-config-file} {@code nodes.conf} in the
 *       node's data directory (absolute), {@code cluster-node-timeout} {@link Builder#nodeTimeout} (default 1000 ms, so a
 *       failover takes seconds), {@code cluster-require-full-coverage} {@link Builder#requireFullCoverage} (default
 *       yes), {@code cluster-announce-ip 127.0.0.1},
 *       {@code repl-diskless-sync-delay 0}; then {@link Builder#setting}s, which may override the non-cluster ones,
 *       {@code cluster-require-full-coverage} and {@code repl-diskless-sync-delay}.</li>
 *   <li>Ports: a node on port {@code p} has its cluster bus on {@code p + 10000} (Redis 6.2 cannot move it), so both
 *       come from {@link FreePorts#nextPair}.</li>
 *   <li>Nodes are plain {@link RedisProcess}es: {@code kill()}, {@code hang()}, {@code resume()} and {@code restart()}
 *       work on each. {@code restart()} keeps the data directory and with it {@code nodes.conf}: the node comes back with
 *       its id, epoch and slots and rejoins by itself (a master that was replaced meanwhile comes back as a replica of
 *       its successor). {@code restartEmpty()} wipes {@code nodes.conf} too: the node comes back as a new empty node with a
 *       new id that knows no other node, outside the cluster, while the others keep its old id as failed.</li>
 *   <li>Roles change with failovers, so {@link #masters()}, {@link #replicas()} and {@link #masterFor} ask a live node
 *       (alive and not hung) each time; {@link #nodes()} is fixed. A failover needs a majority of the masters alive: test
 *       it with three masters or more.</li>
 *   <li>{@link #close()} kills every node and deletes their data directories.</li>
 * </ul>
 * Works with the embedded Redis 6.2 and with 7.0 ({@code SPILLWAY_REDIS_SERVER}). Not thread-safe for lifecycle calls.
 *
 * <pre>{@code
 * try (RedisClusterGroup cluster = RedisClusterGroup.builder().replicasPerMaster(1).start();
 *      RedisClusterClient client = cluster.client()) {
 *     String uri = cluster.uriString();               // redis-cluster://127.0.0.1:<p1>,127.0.0.1:<p2>,...
 *     client.set("{q}a", "1");
 *     RedisProcess old = cluster.killMasterFor("{q}a"); // SIGKILL
 *     RedisProcess now = cluster.awaitFailover(old, Duration.ofSeconds(10));
 * }
 * }</pre>
 */
public final class RedisClusterGroup implements AutoCloseable {
    /** Default for {@link Builder#masters(int)}. */
    public static final int DEFAULT_MASTERS = 3;
    /** Default for {@link Builder#nodeTimeout(Duration)}. */
    public static final Duration DEFAULT_NODE_TIMEOUT = Duration.ofMillis(1000);
    /** Default for {@link Builder#startTimeout(Duration)}. */
    public static final Duration DEFAULT_START_TIMEOUT = Duration.ofSeconds(30);
    /** The number of hash slots of a Redis Cluster. */
    public static final int SLOTS = 16384;

    private static final String HOST = "127.0.0.1";
    private static final int BUS_PORT_OFFSET = 10000;
    private static final String NODES_FILE = "nodes.conf";
    private static final Duration PROBE_TIMEOUT = Duration.ofSeconds(1);
    private static final Set<String> MANAGED = Set.of("cluster-enabled", "cluster-config-file", "cluster-node-timeout",
            "cluster-announce-ip", "cluster-port", "port", "bind", "dir", "logfile", "daemonize");

    private final Path binary;
    /** The certificates every node serves TLS with (clients, replication and the cluster bus), or null. */
    private final TestCertificates tls;
    private final Path root;
    private final List<RedisProcess> nodes = new ArrayList<>();
    /** The first slot of each master's range at formation; ranges never move, only their owners do. */
    private final int[] rangeStarts;
    /** Port of the node last seen serving each range, by the range's first slot: tells awaitFailover what old served. */
    private final Map<Integer, Integer> lastOwner = new ConcurrentHashMap<>();

    private RedisClusterGroup(Builder b) {
        this.tls = b.tls;
        this.binary = b.binary != null ? b.binary : RedisBinary.locate();
        this.rangeStarts = IntStream.range(0, b.masters).map(i -> rangeStart(i, b.masters)).toArray();
        try {
            this.root = Files.createTempDirectory("spillway-cluster-").toAbsolutePath();
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot create the cluster's data directory", e);
        }
    }

    /** Returns a builder with the defaults listed in the class comment. */
    public static Builder builder() {
        return new Builder();
    }

    /** Every node, masters first (in slot order) and then the replicas, as at formation; fixed for the group's life. */
    public List<RedisProcess> nodes() {
        return List.copyOf(nodes);
    }

    /** {@code 127.0.0.1:<port>} of every node, in {@link #nodes()} order: seeds for a cluster client. */
    public List<InetSocketAddress> seeds() {
        return nodes.stream().map(n -> new InetSocketAddress(HOST, n.port())).toList();
    }

    /**
     * {@code redis-cluster://127.0.0.1:<p1>,127.0.0.1:<p2>,...} ({@code rediss-cluster://} with {@link Builder#tls}):
     * every node, in {@link #nodes()} order.
     */
    public String uriString() {
        StringBuilder s = new StringBuilder(tls != null ? "rediss-cluster://" : "redis-cluster://");
        for (int i = 0; i < nodes.size(); i++) {
            s.append(i == 0 ? "" : ",").append(HOST).append(':').append(nodes.get(i).port());
        }
        return s.toString();
    }

    /** {@link #uriString()} as a {@link URI} (its authority is registry-based: {@code getHost()} is null). */
    public URI uri() {
        return URI.create(uriString());
    }

    /**
     * A new cluster client seeded with every node, with {@link RedisProcess#DEFAULT_CLIENT_TIMEOUT} as connect, read
     * and blocking-read timeout; the caller closes it.
     */
    public RedisClusterClient client() {
        int millis = Math.toIntExact(RedisProcess.DEFAULT_CLIENT_TIMEOUT.toMillis());
        Set<HostAndPort> seeds = new LinkedHashSet<>();
        nodes.forEach(n -> seeds.add(new HostAndPort(HOST, n.port())));
        DefaultJedisClientConfig.Builder config = DefaultJedisClientConfig.builder()
                .connectionTimeoutMillis(millis).socketTimeoutMillis(millis).blockingSocketTimeoutMillis(millis);
        if (tls != null) {
            config.ssl(true).sslSocketFactory(tls.clientSocketFactory());
        }
        return RedisClusterClient.builder()
                .nodes(seeds)
                .clientConfig(config.build())
                .build();
    }

    /**
     * The nodes that serve slots now, in slot order, as a live node's {@code CLUSTER NODES} says; a dead master counts
     * until the cluster has failed it over.
     */
    public List<RedisProcess> masters() {
        return clusterNodes(anyLive()).stream()
                .filter(n -> n.flags.contains("master") && n.servesSlots)
                .sorted(Comparator.comparingInt(n -> n.firstSlot))
                .map(n -> byPort(n.port))
                .toList();
    }

    /** The nodes a live node's {@code CLUSTER NODES} flags as replicas now, failed ones included, in port order. */
    public List<RedisProcess> replicas() {
        return clusterNodes(anyLive()).stream()
                .filter(n -> n.flags.contains("slave"))
                .sorted(Comparator.comparingInt(n -> n.port))
                .map(n -> byPort(n.port))
                .toList();
    }

    /**
     * The node that serves {@code key}'s slot now ({@link JedisClusterCRC16#getSlot(String)}, which honours
     * {@code {hash tags}}), as a live node's {@code CLUSTER SLOTS} says. Right after a kill that is still the dead node,
     * until the cluster fails over.
     */
    public RedisProcess masterFor(String key) {
        int slot = JedisClusterCRC16.getSlot(key);
        for (SlotRange r : clusterSlots(anyLive())) {
            if (r.start <= slot && slot <= r.end) {
                return byPort(r.masterPort);
            }
        }
        throw new IllegalStateException("no node serves slot " + slot + " of key " + key + "\n" + diagnostics());
    }

    /** SIGKILLs {@link #masterFor(String) the master of key} and returns it. */
    public RedisProcess killMasterFor(String key) {
        RedisProcess m = masterFor(key);
        m.kill();
        return m;
    }

    /**
     * Waits until the slots {@code old} served have been taken over by another node (one of its replicas: a failover
     * promotes nothing else), that node answers with the master role, and the cluster is {@link #awaitHealthy healthy}.
     *
     * @return the new master of {@code old}'s slots
     * @throws IllegalArgumentException if {@code old} is not a node of this group, or was never seen serving slots
     * @throws IllegalStateException if that does not happen within {@code timeout}, with every node's state and log
     */
    public RedisProcess awaitFailover(RedisProcess old, Duration timeout) {
        if (!nodes.contains(old)) {
            throw new IllegalArgumentException(old + " is not a node of this cluster");
        }
        try {
            clusterSlots(anyLive()); // records old's ranges if the cluster has not failed over yet
        } catch (RuntimeException noLiveNode) {
            // What was recorded before still says which ranges old served.
        }
        List<Integer> served = lastOwner.entrySet().stream()
                .filter(e -> e.getValue() == old.port()).map(Map.Entry::getKey).sorted().toList();
        if (served.isEmpty()) {
            throw new IllegalArgumentException(old + " was never seen serving slots: not a master");
        }
        RedisProcess[] successor = new RedisProcess[1];
        await(System.nanoTime() + timeout.toNanos(), "failover of the master on port " + old.port(), () -> {
            List<SlotRange> view = agreedHealthyView();
            if (view == null) {
                return false;
            }
            // A failover hands all of a master's slots to one replica: one of its ranges tells who took over.
            RedisProcess now = byPort(ownerOf(view, served.get(0)));
            if (now == old) {
                return false;
            }
            try (Jedis j = now.jedis(PROBE_TIMEOUT)) {
                if (!j.info("replication").contains("role:master")) {
                    return false;
                }
            }
            successor[0] = now;
            return true;
        });
        return successor[0];
    }

    /**
     * Waits until every live node (alive and not hung) reports {@code cluster_state:ok}, they all report the same
     * complete map of slots to masters, and every one of those masters is live. Right after a kill, before the cluster
     * has noticed (about {@link Builder#nodeTimeout}), the dead master still counts as the owner: this then waits.
     *
     * @throws IllegalStateException if that does not happen within {@code timeout}, with every node's state and log
     */
    public void awaitHealthy(Duration timeout) {
        await(System.nanoTime() + timeout.toNanos(), "healthy cluster", () -> agreedHealthyView() != null);
    }

    /**
     * Waits until every other live node flags {@code node} as failed ({@code fail} in its {@code CLUSTER NODES}): the
     * cluster has agreed that it is down, about {@link Builder#nodeTimeout} after it stopped answering. From then on,
     * with {@link Builder#requireFullCoverage requireFullCoverage(true)} every node reports {@code cluster_state:fail};
     * with false the others keep {@code cluster_state:ok}.
     *
     * @throws IllegalArgumentException if {@code node} is not a node of this group
     * @throws IllegalStateException if that does not happen within {@code timeout}, with every node's state and log
     */
    public void awaitFlaggedFailed(RedisProcess node, Duration timeout) {
        if (!nodes.contains(node)) {
            throw new IllegalArgumentException(node + " is not a node of this cluster");
        }
        await(System.nanoTime() + timeout.toNanos(), "node on port " + node.port() + " flagged failed by every live node",
                () -> {
                    List<RedisProcess> others = live().stream().filter(n -> n != node).toList();
                    for (RedisProcess n : others) {
                        boolean flagged = clusterNodes(n).stream()
                                .anyMatch(k -> k.port == node.port() && k.flags.contains("fail"));
                        if (!flagged) {
                            return false;
                        }
                    }
                    return !others.isEmpty();
                });
    }

    /** Kills every node and deletes the data directories. */
    @Override
    public void close() {
        RuntimeException failure = null;
        for (RedisProcess n : nodes) {
            try {
                n.close();
            } catch (RuntimeException e) {
                failure = failure == null ? e : failure;
            }
        }
        ChildProcesses.deleteRecursively(root);
        if (failure != null) {
            throw failure;
        }
    }

    @Override
    public String toString() {
        return "RedisClusterGroup[" + uriString() + "]";
    }

    /** Each node's state and CLUSTER NODES as it sees them, then every node's log tail: for failure messages. */
    public String diagnostics() {
        StringBuilder s = new StringBuilder();
        for (RedisProcess n : nodes) {
            s.append("--- node ").append(n.port()).append(n.isAlive() ? n.isHung() ? " (hung)" : "" : " (dead)")
                    .append(" ---\n");
            if (n.isAlive() && !n.isHung()) {
                try (Jedis j = n.jedis(PROBE_TIMEOUT)) {
                    s.append(infoLine(j.clusterInfo(), "cluster_state")).append('\n').append(j.clusterNodes());
                } catch (RuntimeException e) {
                    s.append("(no answer: ").append(e).append(")\n");
                }
            }
        }
        for (RedisProcess n : nodes) {
            s.append("=== log of node ").append(n.port()).append(" ===\n").append(n.logTail());
        }
        return s.toString();
    }

    private void form(Builder b) {
        long deadline = System.nanoTime() + b.startTimeout.toNanos();
        int total = b.masters * (1 + b.replicasPerMaster);
        for (int i = 0; i < total; i++) {
            nodes.add(node(b).start());
        }
        List<RedisProcess> masters = nodes.subList(0, b.masters);
        Map<RedisProcess, RedisProcess> masterOf = new LinkedHashMap<>();
        for (int i = b.masters; i < total; i++) {
            masterOf.put(nodes.get(i), masters.get((i - b.masters) / b.replicasPerMaster));
        }

        Map<RedisProcess, String> ids = new LinkedHashMap<>();
        for (int i = 0; i < total; i++) {
            try (Jedis j = nodes.get(i).jedis()) {
                ids.put(nodes.get(i), j.clusterMyId());
                // Distinct epochs up front, as redis-cli does: no epoch collisions to resolve after the MEETs.
                j.clusterSetConfigEpoch(i + 1);
                if (i < b.masters) {
                    j.clusterAddSlots(IntStream.range(rangeStarts[i], rangeEnd(i) + 1).toArray());
                }
            }
        }
        try (Jedis first = nodes.get(0).jedis()) {
            for (RedisProcess n : nodes.subList(1, total)) {
                first.clusterMeet(HOST, n.port());
            }
        }
        await(deadline, "every node knowing all " + total + " nodes", () -> {
            for (RedisProcess n : nodes) {
                List<NodeLine> known = clusterNodes(n);
                if (known.size() != total || known.stream().anyMatch(k -> k.flags.contains("handshake")
                        || k.flags.contains("noaddr") || !ids.containsValue(k.id))) {
                    return false;
                }
            }
            return true;
        });
        masterOf.forEach((replica, master) -> {
            try (Jedis j = replica.jedis()) {
                j.clusterReplicate(ids.get(master));
            }
        });

        List<SlotRange> expected = new ArrayList<>();
        for (int i = 0; i < b.masters; i++) {
            expected.add(new SlotRange(rangeStarts[i], rangeEnd(i), masters.get(i).port()));
        }
        await(deadline, "cluster_state:ok, slot map " + expected + " and every replica in place on every node", () -> {
            for (RedisProcess n : nodes) {
                try (Jedis j = n.jedis(PROBE_TIMEOUT)) {
                    String info = j.clusterInfo();
                    if (!info.contains("cluster_state:ok")
                            || !infoLine(info, "cluster_known_nodes").equals("cluster_known_nodes:" + total)) {
                        return false;
                    }
                    if (masterOf.containsKey(n) && !j.info("replication").contains("master_link_status:up")) {
                        return false;
                    }
                }
                if (!clusterSlots(n).equals(expected)) {
                    return false;
                }
                // Replicas from CLUSTER NODES, not CLUSTER SLOTS: Redis 7 lists a replica in CLUSTER SLOTS only once its
                // replication offset is above 0, which on an empty master takes until the first replication PING (10 s).
                for (NodeLine k : clusterNodes(n)) {
                    RedisProcess master = masterOf.get(byPort(k.port));
                    if (master != null && (!k.flags.contains("slave") || !ids.get(master).equals(k.masterId))) {
                        return false;
                    }
                }
            }
            return true;
        });
    }

    private RedisProcess.Builder node(Builder b) {
        int port = FreePorts.nextPair(BUS_PORT_OFFSET);
        Path dir = root.resolve("node-" + port);
        RedisProcess.Builder node = RedisProcess.builder()
                .binary(binary)
                .port(port)
                .dataDir(dir)
                .startTimeout(b.startTimeout)
                .appendOnly(b.appendOnly)
                .setting("cluster-enabled", "yes")
                .setting("cluster-config-file", "\"" + dir.resolve(NODES_FILE) + "\"")
                .setting("cluster-node-timeout", Long.toString(b.nodeTimeout.toMillis()))
                .setting("cluster-require-full-coverage", b.requireFullCoverage ? "yes" : "no")
                // Redis 7 syncs replicas diskless after waiting 5 s for more of them: start with no wait, as 6.2 does.
                .setting("repl-diskless-sync-delay", "0")
                // The address the nodes gossip and CLUSTER SLOTS reports; without it a node learns its own IP only
                // from a peer's connection, and until then reports "" for itself.
                .setting("cluster-announce-ip", HOST);
        if (b.tls != null) {
            // TLS only: clients on the port (port 0), and the bus (tls-port + 10000) and replication over TLS too.
            // A node connecting to another's bus or replicating from it presents tls-client-cert-file, which the other
            // always verifies (tls-auth-clients concerns clients only): the test client certificate, for clientAuth.
            node.tls(b.tls).setting("tls-cluster", "yes").setting("tls-replication", "yes")
                    .setting("tls-client-cert-file", "\"" + b.tls.clientCertificate().toAbsolutePath() + "\"")
                    .setting("tls-client-key-file", "\"" + b.tls.clientKey().toAbsolutePath() + "\"");
        }
        b.settings.forEach(node::setting);
        return node;
    }

    /**
     * The slot map every live node agrees on, if the cluster is healthy: every live node reports cluster_state:ok,
     * all report the same masters for all 16384 slots, and every master is live. Otherwise null.
     */
    private List<SlotRange> agreedHealthyView() {
        List<RedisProcess> live = live();
        if (live.isEmpty()) {
            return null;
        }
        List<SlotRange> agreed = null;
        for (RedisProcess n : live) {
            try (Jedis j = n.jedis(PROBE_TIMEOUT)) {
                if (!j.clusterInfo().contains("cluster_state:ok")) {
                    return null;
                }
            }
            List<SlotRange> view = clusterSlots(n);
            if (agreed == null) {
                agreed = view;
            } else if (!agreed.equals(view)) {
                return null;
            }
        }
        if (agreed.stream().mapToInt(r -> r.end - r.start + 1).sum() != SLOTS) {
            return null;
        }
        for (SlotRange r : agreed) {
            RedisProcess m = byPort(r.masterPort);
            if (!m.isAlive() || m.isHung()) {
                return null;
            }
        }
        return agreed;
    }

    /** CLUSTER SLOTS of {@code node}, sorted by first slot; also records which node serves each formation range. */
    private List<SlotRange> clusterSlots(RedisProcess node) {
        List<Object> reply;
        try (Jedis j = node.jedis(PROBE_TIMEOUT)) {
            reply = j.clusterSlots();
        }
        List<SlotRange> ranges = new ArrayList<>();
        for (Object entry : reply) {
            // start, end, then the master and its replicas, each as ip, port, id[, metadata]
            List<?> e = (List<?>) entry;
            int port = ((Long) ((List<?>) e.get(2)).get(1)).intValue();
            ranges.add(new SlotRange(((Long) e.get(0)).intValue(), ((Long) e.get(1)).intValue(), port));
        }
        ranges.sort(Comparator.comparingInt(SlotRange::start));
        for (int start : rangeStarts) {
            int owner = ownerOf(ranges, start);
            if (owner != 0) {
                lastOwner.put(start, owner);
            }
        }
        return ranges;
    }

    /** CLUSTER NODES of {@code node}, parsed. */
    private List<NodeLine> clusterNodes(RedisProcess node) {
        String reply;
        try (Jedis j = node.jedis(PROBE_TIMEOUT)) {
            reply = j.clusterNodes();
        }
        List<NodeLine> lines = new ArrayList<>();
        for (String line : reply.split("\n")) {
            if (!line.isBlank()) {
                lines.add(NodeLine.parse(line.trim()));
            }
        }
        return lines;
    }

    private static int ownerOf(List<SlotRange> ranges, int slot) {
        for (SlotRange r : ranges) {
            if (r.start <= slot && slot <= r.end) {
                return r.masterPort;
            }
        }
        return 0;
    }

    private List<RedisProcess> live() {
        return nodes.stream().filter(n -> n.isAlive() && !n.isHung()).toList();
    }

    /** The first live node that answers PING. */
    private RedisProcess anyLive() {
        RuntimeException last = null;
        for (RedisProcess n : live()) {
            try (Jedis j = n.jedis(PROBE_TIMEOUT)) {
                j.ping();
                return n;
            } catch (RuntimeException e) {
                last = e;
            }
        }
        throw new IllegalStateException("no node of " + uriString() + " is alive and answering", last);
    }

    private RedisProcess byPort(int port) {
        return nodes.stream().filter(n -> n.port() == port).findFirst()
                .orElseThrow(() -> new IllegalStateException("the cluster names port " + port + ", not one of ours"));
    }

    private int rangeEnd(int master) {
        return master + 1 < rangeStarts.length ? rangeStarts[master + 1] - 1 : SLOTS - 1;
    }

    private static int rangeStart(int master, int masters) {
        return (int) ((long) master * SLOTS / masters);
    }

    private static String infoLine(String info, String field) {
        return info.lines().filter(l -> l.startsWith(field + ":")).findFirst().orElse(field + ":?");
    }

    private void await(long deadline, String what, BooleanSupplier ready) {
        RuntimeException last = null;
        while (System.nanoTime() < deadline) {
            try {
                if (ready.getAsBoolean()) {
                    return;
                }
            } catch (JedisException | IllegalStateException notYet) {
                // A node not answering yet (or mid-failover), or naming a node we do not know yet: ask again.
                last = notYet;
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50));
        }
        throw new IllegalStateException("RedisClusterGroup: no " + what + " in time"
                + (last != null ? " (last error: " + last + ")" : "") + "\n" + diagnostics());
    }

    /** One entry of CLUSTER SLOTS: slots {@code start..end} served by the master on {@code masterPort}. */
    private record SlotRange(int start, int end, int masterPort) {
        @Override
        public String toString() {
            return start + "-" + end + "@" + masterPort;
        }
    }

    /** One line of CLUSTER NODES: {@code <id> <ip:port@cport[,hostname]> <flags> <master> ... <slot>...}. */
    private record NodeLine(String id, int port, Set<String> flags, String masterId, boolean servesSlots, int firstSlot) {
        static NodeLine parse(String line) {
            String[] f = line.split(" ");
            String address = f[1].substring(0, f[1].indexOf('@') >= 0 ? f[1].indexOf('@') : f[1].length());
            int port = Integer.parseInt(address.substring(address.lastIndexOf(':') + 1));
            int firstSlot = Integer.MAX_VALUE;
            for (String slot : Arrays.asList(f).subList(Math.min(8, f.length), f.length)) {
                if (!slot.startsWith("[")) { // "[slot->-id]" / "[slot-<-id]": a migration in progress, not owned
                    firstSlot = Math.min(firstSlot, Integer.parseInt(slot.split("-")[0]));
                }
            }
            return new NodeLine(f[0], port, Set.of(f[2].split(",")), f[3], firstSlot != Integer.MAX_VALUE, firstSlot);
        }
    }

    /** Settings of a {@link RedisClusterGroup}; every method returns this builder. */
    public static final class Builder {
        private int masters = DEFAULT_MASTERS;
        private int replicasPerMaster;
        private boolean appendOnly = true;
        private boolean requireFullCoverage = true;
        private Duration nodeTimeout = DEFAULT_NODE_TIMEOUT;
        private Duration startTimeout = DEFAULT_START_TIMEOUT;
        private Path binary;
        private final Map<String, String> settings = new LinkedHashMap<>();
        private TestCertificates tls;

        private Builder() {
        }

        /**
         * Every node serves TLS only, with these certificates (as {@link RedisProcess.Builder#tls}: client certificates
         * not required), its cluster bus and replication over TLS ({@code tls-cluster yes}, {@code tls-replication
         * yes}); {@link #uriString()} is then {@code rediss-cluster://}. Default: no TLS.
         */
        public Builder tls(TestCertificates certs) {
            this.tls = Objects.requireNonNull(certs, "certs");
            return this;
        }

        /** How many masters share the slots; default {@value #DEFAULT_MASTERS}. A failover needs three or more. */
        public Builder masters(int count) {
            if (count < 1 || count > SLOTS) {
                throw new IllegalArgumentException("masters must be in 1.." + SLOTS + ", but was " + count);
            }
            this.masters = count;
            return this;
        }

        /** Replicas of each master; default 0 (no failover possible). */
        public Builder replicasPerMaster(int count) {
            if (count < 0) {
                throw new IllegalArgumentException("replicasPerMaster must be >= 0, but was " + count);
            }
            this.replicasPerMaster = count;
            return this;
        }

        /** {@code appendonly yes|no} on every node (with {@code appendfsync everysec}); default yes. */
        public Builder appendOnly(boolean on) {
            this.appendOnly = on;
            return this;
        }

        /**
         * {@code cluster-require-full-coverage yes|no} on every node; default yes: once a master is flagged failed and
         * no replica took over, every node reports {@code cluster_state:fail} and refuses every key ({@code CLUSTERDOWN}).
         * With no, the live masters keep {@code cluster_state:ok} and serve their slots (see {@link #awaitFlaggedFailed});
         * only the keys of the failed master's slots are refused.
         */
        public Builder requireFullCoverage(boolean on) {
            this.requireFullCoverage = on;
            return this;
        }

        /**
         * {@code cluster-node-timeout}: how long a node may not answer before it counts as failing; default
         * {@link #DEFAULT_NODE_TIMEOUT}, so a replica takes over within a few seconds.
         */
        public Builder nodeTimeout(Duration timeout) {
            if (timeout.isNegative() || timeout.isZero()) {
                throw new IllegalArgumentException("nodeTimeout must be > 0, but was " + timeout);
            }
            this.nodeTimeout = timeout;
            return this;
        }

        /** How long {@link #start()} waits for the cluster to form; default {@link #DEFAULT_START_TIMEOUT}. */
        public Builder startTimeout(Duration timeout) {
            if (timeout.isNegative() || timeout.isZero()) {
                throw new IllegalArgumentException("startTimeout must be > 0, but was " + timeout);
            }
            this.startTimeout = timeout;
            return this;
        }

        /** The redis-server every node runs; default {@link RedisBinary#locate()}. */
        public Builder binary(Path binary) {
            this.binary = Objects.requireNonNull(binary, "binary");
            return this;
        }

        /**
         * Any other redis.conf directive, for every node (see {@link RedisProcess.Builder#setting}); the cluster's own
         * ({@code cluster-enabled}, {@code cluster-config-file}, {@code cluster-node-timeout}, {@code cluster-announce-ip},
         * port, dir, ...) cannot be overridden.
         */
        public Builder setting(String name, String value) {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(value, "value");
            String key = name.toLowerCase(Locale.ROOT);
            if (MANAGED.contains(key)) {
                throw new IllegalArgumentException("setting " + name + " is managed by RedisClusterGroup"
                        + (key.equals("cluster-node-timeout") ? "; use nodeTimeout(Duration)" : ""));
            }
            settings.put(key, value);
            return this;
        }

        /** Starts every node, forms the cluster, and waits until it is ready; see the class comment. */
        public RedisClusterGroup start() {
            RedisClusterGroup g = new RedisClusterGroup(this);
            try {
                g.form(this);
                return g;
            } catch (RuntimeException e) {
                g.close();
                throw e;
            }
        }
    }
}
