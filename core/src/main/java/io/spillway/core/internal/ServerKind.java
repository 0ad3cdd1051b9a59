package io.spillway.core.internal;

import java.util.ArrayList;
import java.util.List;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.JedisClientConfig;

/**
 * What a server says it is: its {@code redis_mode} ({@code standalone}, {@code cluster}, {@code sentinel}) and, for a
 * sentinel, the masters it monitors. Asked only once a reply has shown that the server is not what the URI says
 * ({@link WrongKind}, the CLI's one-line errors), never before every connection.
 *
 * @param mode the {@code redis_mode} of {@code INFO server} ({@code standalone} when INFO does not say)
 * @param masters a sentinel's masters ({@code SENTINEL MASTERS}), in its order; empty for any other server
 */
public record ServerKind(String mode, List<String> masters) {
    public static final String SENTINEL = "sentinel";
    public static final String CLUSTER = "cluster";

    public ServerKind {
        masters = List.copyOf(masters);
    }

    /**
     * Asks the server at {@code node} what it is ({@code INFO server}, and {@code SENTINEL MASTERS} of a sentinel) on a
     * connection of its own, closed before this returns; null if it cannot tell (down, INFO refused).
     */
    public static ServerKind ask(HostAndPort node, JedisClientConfig cfg) {
        try (Jedis j = new Jedis(node, cfg)) {
            String mode = RedisInfo.parse(j.info("server")).getOrDefault("redis_mode", "standalone");
            List<String> masters = new ArrayList<>();
            if (mode.equals(SENTINEL)) {
                try {
                    j.sentinelMasters().forEach(m -> masters.add(m.get("name")));
                } catch (RuntimeException e) {
                    // Its masters are a help, not the point: it is a sentinel all the same.
                }
            }
            return new ServerKind(mode, masters);
        } catch (RuntimeException e) {
            return null;
        }
    }

    public boolean sentinel() {
        return mode.equals(SENTINEL);
    }

    public boolean cluster() {
        return mode.equals(CLUSTER);
    }

    /** The master name to put after the {@code #} of a {@code redis-sentinel://} URI: its only one, or a placeholder. */
    public String masterName() {
        return masters.size() == 1 ? masters.get(0) : "<master name>";
    }

    /** A sentinel's masters in words: {@code it monitors a, b}, or {@code it monitors no master yet}. */
    public String monitors() {
        return masters.isEmpty() ? "it monitors no master yet" : "it monitors " + String.join(", ", masters);
    }
}
