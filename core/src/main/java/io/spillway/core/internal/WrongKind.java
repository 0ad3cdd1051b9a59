package io.spillway.core.internal;

import io.spillway.core.RedisConnection;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.JedisClientConfig;

/**
 * A URI that names another kind of server than the one it reaches: a sentinel given as {@code redis://} or
 * {@code redis-cluster://}, a Redis (or a cluster node) given as {@code redis-sentinel://}. Each of these fails the
 * probe with a command the server does not know ({@code SET}, {@code CLUSTER}, {@code SENTINEL}), in Redis's words,
 * which do not say what to fix. Once a probe fails that way ({@link #suggests}), {@link #find} asks the server what it
 * is ({@link ServerKind}) on a short connection of its own and says which URI to write.
 *
 * <p>The other two mismatches need no question: the probe itself sees a cluster node given as {@code redis://}
 * ({@code cluster_enabled:1}, else it would answer MOVED) and a Redis without cluster support given as
 * {@code redis-cluster://} ({@link Failures#CLUSTER_MISMATCH}). Stateless and thread-safe.
 */
public final class WrongKind {
    private WrongKind() {
    }

    /** Whether a probe's {@code problem} may mean a server of the wrong kind: a command it does not know. */
    public static boolean suggests(RedisConnection c, String problem) {
        if (problem == null || problem.startsWith(Failures.WRONG_KIND)) {
            return false;
        }
        String p = problem.toLowerCase(Locale.ROOT);
        // A Redis given as a sentinel refuses SENTINEL; anything else a sentinel does not know (SET, CLUSTER, SELECT).
        return p.contains("unknown command") && (!c.sentinel() || p.contains("sentinel"));
    }

    /**
     * The problem to report (starting with {@link Failures#WRONG_KIND}) if the server {@code c} reaches is of the wrong
     * kind for its URI, asking each server of the URI in turn until one says what it is; null if it is of the right
     * kind, or none can tell. Takes at most one connection per address of the URI: call it once per outage.
     *
     * @param clientName the name the question's connections give themselves
     */
    public static String find(RedisConnection c, String clientName) {
        if (c.sentinel()) {
            JedisClientConfig cfg = Sentinels.config(c, clientName);
            for (HostAndPort node : Sentinels.addresses(c)) {
                ServerKind kind = ServerKind.ask(node, cfg);
                if (kind != null && !kind.sentinel()) {
                    return Failures.WRONG_KIND + c.redacted() + ": " + shown(node) + " is not a Redis Sentinel but "
                            + (kind.cluster()
                                    ? "a node of a Redis Cluster: write " + scheme(c, "-cluster") + shown(node)
                                    : "a Redis: write " + scheme(c, "") + shown(node) + database(c))
                            + ", or give the sentinels' addresses (port 26379 by default)";
                }
            }
            return null;
        }
        JedisClientConfig cfg = config(c, clientName);
        for (HostAndPort node : addresses(c)) {
            ServerKind kind = ServerKind.ask(node, cfg);
            if (kind == null) {
                continue;
            }
            if (!kind.sentinel()) {
                return null;
            }
            return Failures.WRONG_KIND + c.redacted() + (c.cluster() ? " is not a Redis Cluster: " + shown(node) : "")
                    + " is a Redis Sentinel (" + kind.monitors() + "): write " + scheme(c, "-sentinel") + shown(node)
                    + database(c) + "#" + kind.masterName();
        }
        return null;
    }

    /** The addresses of a {@code redis://} or {@code redis-cluster://} URI, in its order. */
    private static List<HostAndPort> addresses(RedisConnection c) {
        List<HostAndPort> out = new ArrayList<>();
        if (c.cluster()) {
            for (InetSocketAddress a : c.clusterNodes()) {
                out.add(new HostAndPort(a.getHostString(), a.getPort()));
            }
        } else {
            out.add(new HostAndPort(c.host(), c.port()));
        }
        return out;
    }

    /**
     * The URI's timeouts, TLS and credentials, but database 0: a sentinel has no {@code SELECT}, and a URI's
     * {@code /db} would fail the question before it is asked.
     */
    private static JedisClientConfig config(RedisConnection c, String clientName) {
        return ClientSettings.builder(c, clientName, c.user(), c.password()).build();
    }

    /** {@code redis<kind>://} or, with TLS, {@code rediss<kind>://}. */
    private static String scheme(RedisConnection c, String kind) {
        return (c.ssl() ? "rediss" : "redis") + kind + "://";
    }

    private static String database(RedisConnection c) {
        return c.database() == 0 ? "" : "/" + c.database();
    }

    /** {@code host:port}, an IPv6 host in brackets as a URI writes it. */
    private static String shown(HostAndPort node) {
        String host = node.getHost();
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + node.getPort();
    }
}
