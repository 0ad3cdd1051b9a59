package io.spillway.cli;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;

/**
 * A Redis Cluster as one of its nodes sees it now: its {@code cluster_state} ({@code CLUSTER INFO}) and which master
 * serves which slots ({@code CLUSTER SLOTS}). The commands that read what belongs to a server rather than to a key
 * ({@code doctor}: INFO, CONFIG GET, latency) check each master in it; keys go through a cluster client, which keeps a
 * slot map of its own.
 *
 * <p>Invariants: {@code masters} are in slot order (by their first slot), each once, with its ranges in slot order;
 * replicas are not listed.
 *
 * @param from the node that answered
 * @param state {@code cluster_state} as that node sees it: {@code ok} or {@code fail} ({@code unknown} if it said none)
 * @param masters every master that serves slots
 */
record ClusterMap(HostAndPort from, String state, List<Master> masters) {
    /** The number of hash slots of a Redis Cluster. */
    static final int SLOTS = 16_384;

    /** A master and the slot ranges it serves. */
    record Master(HostAndPort address, List<SlotRange> ranges) {
        int slotCount() {
            return ranges.stream().mapToInt(r -> r.last() - r.first() + 1).sum();
        }

        /** "0-5460" or "0-100,200-5460". */
        String slots() {
            return String.join(",", ranges.stream().map(SlotRange::toString).toList());
        }
    }

    /** Slots {@code first..last}, both included. */
    record SlotRange(int first, int last) {
        @Override
        public String toString() {
            return first == last ? Integer.toString(first) : first + "-" + last;
        }
    }

    /** How many slots some master serves: {@link #SLOTS} when the cluster covers them all. */
    int coveredSlots() {
        return masters.stream().mapToInt(Master::slotCount).sum();
    }

    /** Reads the map from {@code node}, a plain connection to the node at {@code at}. */
    static ClusterMap read(HostAndPort at, Jedis node) {
        String state = "unknown";
        for (String line : node.clusterInfo().split("\r?\n")) {
            if (line.startsWith("cluster_state:")) {
                state = line.substring("cluster_state:".length()).trim();
            }
        }
        return parse(at, state, node.clusterSlots());
    }

    /** {@code CLUSTER SLOTS}: {@code [[first, last, [host, port, id, …] (master), replicas…], …]}. */
    static ClusterMap parse(HostAndPort at, String state, List<Object> slots) {
        Map<HostAndPort, List<SlotRange>> byMaster = new LinkedHashMap<>();
        for (Object o : slots) {
            List<?> range = (List<?>) o;
            HostAndPort master = node((List<?>) range.get(2), at);
            byMaster.computeIfAbsent(master, m -> new ArrayList<>())
                    .add(new SlotRange(((Long) range.get(0)).intValue(), ((Long) range.get(1)).intValue()));
        }
        List<Master> masters = new ArrayList<>();
        byMaster.forEach((address, ranges) -> {
            ranges.sort(Comparator.comparingInt(SlotRange::first));
            masters.add(new Master(address, List.copyOf(ranges)));
        });
        masters.sort(Comparator.comparingInt(m -> m.ranges().get(0).first()));
        return new ClusterMap(at, state, List.copyOf(masters));
    }

    /** {@code [host, port, id, …]}; an empty host (a node that does not know its own address yet) is the one asked. */
    private static HostAndPort node(List<?> n, HostAndPort asked) {
        String host = n.get(0) instanceof byte[] b ? new String(b, StandardCharsets.UTF_8) : String.valueOf(n.get(0));
        int port = ((Long) n.get(1)).intValue();
        return new HostAndPort(host.isEmpty() || host.equals("?") ? asked.getHost() : host, port);
    }
}
