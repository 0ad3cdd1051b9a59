package io.spillway.core.internal;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.StringJoiner;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.JedisClientConfig;
import redis.clients.jedis.exceptions.JedisConnectionException;
import redis.clients.jedis.util.JedisClusterCRC16;

/**
 * What a Redis Cluster looks like now, read from one node on a fresh connection: its {@code cluster_state}, and
 * which master serves which slots ({@code CLUSTER SLOTS}). The reconnect loop's probe reads it, then checks every
 * master the way it checks a standalone Redis; {@code spillway doctor} checks each master in it.
 *
 * <p>Invariants: {@code masters} are in slot order (by their first slot), each once, with its ranges in slot order.
 *
 * @param from the node that answered
 * @param state {@code cluster_state} as that node sees it ({@code ok} or {@code fail}; {@code unknown} if it said none)
 * @param masters every master that serves slots
 * @param nodes every node named, masters and replicas
 */
public record ClusterTopology(HostAndPort from, String state, List<Master> masters, Set<HostAndPort> nodes) {
    /** The number of hash slots of a Redis Cluster. */
    public static final int SLOTS = 16_384;

    /**
     * A master, the slot ranges it serves (in slot order) and its replicas as {@code CLUSTER SLOTS} names them (the
     * ones not flagged as failed), in the order it names them.
     */
    public record Master(HostAndPort address, List<SlotRange> ranges, List<HostAndPort> replicas) {
        public int firstSlot() {
            return ranges.get(0).first();
        }

        /** Whether {@code slot} is in one of its ranges. */
        public boolean serves(int slot) {
            for (SlotRange r : ranges) {
                if (r.first() <= slot && slot <= r.last()) {
                    return true;
                }
            }
            return false;
        }

        public int slotCount() {
            return ranges.stream().mapToInt(r -> r.last() - r.first() + 1).sum();
        }

        /** "0-5460" or "0-100,200-5460". */
        public String slots() {
            return String.join(",", ranges.stream().map(SlotRange::toString).toList());
        }
    }

    /** Slots {@code first..last}, both included. */
    public record SlotRange(int first, int last) {
        @Override
        public String toString() {
            return first == last ? Integer.toString(first) : first + "-" + last;
        }
    }

    /** How many slots some master serves: {@link #SLOTS} when the cluster covers them all. */
    public int coveredSlots() {
        return masters.stream().mapToInt(Master::slotCount).sum();
    }

    /**
     * Reads the topology from the first of {@code candidates} that answers.
     *
     * @throws JedisConnectionException if none could be reached (the last failure)
     * @throws redis.clients.jedis.exceptions.JedisDataException if one answered with an error (NOAUTH, cluster support
     *     disabled, …): a setting, not an outage
     */
    static ClusterTopology read(Iterable<HostAndPort> candidates, JedisClientConfig config) {
        JedisConnectionException last = null;
        for (HostAndPort node : candidates) {
            try (Jedis j = new Jedis(node, config)) {
                return read(node, j);
            } catch (JedisConnectionException e) {
                last = e;
            }
        }
        throw last != null ? last : new JedisConnectionException("no Redis Cluster node to ask");
    }

    /** Reads the topology from {@code node}, a connection to the node at {@code at}. */
    public static ClusterTopology read(HostAndPort at, Jedis node) {
        String state = RedisInfo.parse(node.clusterInfo()).get("cluster_state");
        return parse(at, state, node.clusterSlots());
    }

    /** {@code CLUSTER SLOTS}: {@code [[first, last, [host, port, id, …] (master), replicas…], …]}. */
    static ClusterTopology parse(HostAndPort from, String state, List<Object> slots) {
        Map<HostAndPort, List<SlotRange>> byMaster = new LinkedHashMap<>();
        Map<HostAndPort, Set<HostAndPort>> replicasOf = new LinkedHashMap<>();
        Set<HostAndPort> nodes = new LinkedHashSet<>();
        for (Object o : slots) {
            List<?> range = (List<?>) o;
            HostAndPort master = node((List<?>) range.get(2), from);
            byMaster.computeIfAbsent(master, m -> new ArrayList<>())
                    .add(new SlotRange(((Long) range.get(0)).intValue(), ((Long) range.get(1)).intValue()));
            Set<HostAndPort> replicas = replicasOf.computeIfAbsent(master, m -> new LinkedHashSet<>());
            nodes.add(master);
            for (int i = 3; i < range.size(); i++) {
                HostAndPort replica = node((List<?>) range.get(i), from);
                replicas.add(replica);
                nodes.add(replica);
            }
        }
        List<Master> masters = new ArrayList<>();
        byMaster.forEach((address, ranges) -> {
            ranges.sort(Comparator.comparingInt(SlotRange::first));
            masters.add(new Master(address, List.copyOf(ranges), List.copyOf(replicasOf.get(address))));
        });
        masters.sort(Comparator.comparingInt(Master::firstSlot));
        return new ClusterTopology(from, state == null ? "unknown" : state, List.copyOf(masters), Set.copyOf(nodes));
    }

    /** {@code [host, port, id, …]}; an empty host (a node that does not know its own address) is the one asked. */
    private static HostAndPort node(List<?> n, HostAndPort from) {
        String host = n.get(0) instanceof byte[] b ? new String(b, StandardCharsets.UTF_8) : String.valueOf(n.get(0));
        int port = ((Long) n.get(1)).intValue();
        return new HostAndPort(host.isEmpty() || host.equals("?") ? from.getHost() : host, port);
    }

    /** A key in {@code slot} (a hash tag that hashes there), for a write that proves the slot's master takes writes. */
    static String probeKey(int slot) {
        return PROBE_KEYS.computeIfAbsent(slot, s -> {
            for (int i = 0; ; i++) {
                String tag = Integer.toString(i, 36);
                if (JedisClusterCRC16.getSlot(tag) == s) {
                    return "spillway:probe:{" + tag + "}";
                }
            }
        });
    }

    private static final Map<Integer, String> PROBE_KEYS = new java.util.concurrent.ConcurrentHashMap<>();

    /** The run id in a {@link #combinedRunId} of a master that could not be asked (a worker's probe, one master down). */
    static final String UNKNOWN_RUN_ID = "?";

    /**
     * The run ids of every master as one value, {@code host:port=runid,…} in slot order: it changes when any master
     * restarts or a replica takes over, which is what a standalone Redis's new run id tells the producer (recent
     * writes may be gone). A master missing from {@code runIds} (down when a worker's probe passed without it) is
     * {@code host:port=?}.
     */
    static String combinedRunId(List<Master> masters, Map<HostAndPort, String> runIds) {
        StringJoiner j = new StringJoiner(",");
        for (Master m : masters) {
            String id = runIds.get(m.address());
            j.add(m.address() + "=" + (id == null ? UNKNOWN_RUN_ID : id));
        }
        return j.toString();
    }

    /**
     * The masters of {@code after} (a {@link #combinedRunId}) that restarted or took over since {@code before}: those
     * whose run id is known in {@code after} and was another known one in {@code before}, or that {@code before} did not
     * list (a replica that took over, at its own address). A master listed with an unknown run id in {@code before}
     * (down when the worker started) that answers now is not one: it was never seen, so nothing of it was lost to
     * anyone who saw it. Empty if either is not a combined run id (a standalone Redis's).
     */
    static List<String> restartedMasters(String before, String after) {
        Map<String, String> was = parseCombined(before);
        Map<String, String> now = parseCombined(after);
        List<String> out = new ArrayList<>();
        if (was == null || now == null) {
            return out;
        }
        now.forEach((address, id) -> {
            String old = was.get(address);
            if (!id.equals(UNKNOWN_RUN_ID) && (old == null || (!old.equals(UNKNOWN_RUN_ID) && !RedisInfo.sameRunId(old, id)))) {
                out.add(address);
            }
        });
        return out;
    }

    /**
     * {@code after} (a {@link #combinedRunId}) with the unknown run id of a master replaced by the one {@code before}
     * knew: a master down at a worker's probe keeps the run id it had, so that its return after a restart is still
     * told as one. {@code after} as it is if either is not a combined run id.
     */
    static String keepKnownRunIds(String before, String after) {
        Map<String, String> was = parseCombined(before);
        Map<String, String> now = parseCombined(after);
        if (was == null || now == null) {
            return after;
        }
        StringJoiner j = new StringJoiner(",");
        now.forEach((address, id) -> {
            String old = was.get(address);
            j.add(address + "=" + (id.equals(UNKNOWN_RUN_ID) && old != null ? old : id));
        });
        return j.toString();
    }

    /** {@code host:port=runid,…} by address; null if {@code combined} is not of that form. */
    private static Map<String, String> parseCombined(String combined) {
        if (combined == null || combined.isEmpty()) {
            return null;
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (String part : combined.split(",")) {
            int eq = part.lastIndexOf('=');
            if (eq <= 0 || part.indexOf(':') < 0) {
                return null;
            }
            out.put(part.substring(0, eq), part.substring(eq + 1));
        }
        return out;
    }
}
