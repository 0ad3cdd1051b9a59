package io.spillway.core.internal;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
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
 * master the way it checks a standalone Redis.
 *
 * @param from the node that answered
 * @param state {@code cluster_state} as that node sees it ({@code ok} or {@code fail})
 * @param masters every master with its slot ranges, in slot order
 * @param nodes every node named, masters and replicas
 */
record ClusterTopology(HostAndPort from, String state, List<Master> masters, Set<HostAndPort> nodes) {

    /** A master and the first slot of its first range. */
    record Master(HostAndPort address, int firstSlot) {
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
                String state = RedisInfo.parse(j.clusterInfo()).get("cluster_state");
                return parse(node, state, j.clusterSlots());
            } catch (JedisConnectionException e) {
                last = e;
            }
        }
        throw last != null ? last : new JedisConnectionException("no Redis Cluster node to ask");
    }

    static ClusterTopology parse(HostAndPort from, String state, List<Object> slots) {
        List<Object[]> ranges = new ArrayList<>();
        Set<HostAndPort> nodes = new LinkedHashSet<>();
        for (Object o : slots) {
            List<?> range = (List<?>) o;
            int start = ((Long) range.get(0)).intValue();
            HostAndPort master = node((List<?>) range.get(2), from);
            ranges.add(new Object[] {start, master});
            for (int i = 2; i < range.size(); i++) {
                nodes.add(node((List<?>) range.get(i), from));
            }
        }
        ranges.sort((a, b) -> Integer.compare((Integer) a[0], (Integer) b[0]));
        List<Master> masters = new ArrayList<>();
        Set<HostAndPort> seen = new LinkedHashSet<>();
        for (Object[] r : ranges) {
            HostAndPort m = (HostAndPort) r[1];
            if (seen.add(m)) {
                masters.add(new Master(m, (Integer) r[0]));
            }
        }
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

    /**
     * The run ids of every master as one value, {@code host:port=runid,…} in slot order: it changes when any master
     * restarts or a replica takes over, which is what a standalone Redis's new run id tells the producer (recent
     * writes may be gone).
     */
    static String combinedRunId(List<Master> masters, Map<HostAndPort, String> runIds) {
        StringJoiner j = new StringJoiner(",");
        for (Master m : masters) {
            j.add(m.address() + "=" + runIds.get(m.address()));
        }
        return j.toString();
    }
}
