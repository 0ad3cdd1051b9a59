package io.spillway.core.internal;

import io.spillway.core.RedisConnection;
import java.net.InetSocketAddress;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.JedisClientConfig;
import redis.clients.jedis.exceptions.JedisConnectionException;

/**
 * Finding the current master of a {@code redis-sentinel://} connection: each sentinel is asked in turn
 * ({@code SENTINEL GET-MASTER-ADDR-BY-NAME}) on a fresh connection, and the first that names an address wins.
 * A sentinel that is down, or does not know the master, is skipped.
 *
 * <p>Stateless and thread-safe. The address found may be stale for a moment during a failover (a sentinel that has
 * not yet heard of the new master names the old one): callers check the role of what they reach.
 */
public final class Sentinels {
    private Sentinels() {
    }

    /** The sentinels' addresses, in the connection's order. */
    public static Set<HostAndPort> addresses(RedisConnection c) {
        Set<HostAndPort> out = new LinkedHashSet<>();
        for (InetSocketAddress a : c.sentinels()) {
            out.add(new HostAndPort(a.getHostString(), a.getPort()));
        }
        return out;
    }

    /**
     * How to talk to the sentinels: the connection's timeouts, its TLS settings ({@code rediss-sentinel://}: the same as
     * for the master) and the sentinels' own credentials.
     */
    public static JedisClientConfig config(RedisConnection c, String clientName) {
        return ClientSettings.builder(c, clientName, c.sentinelUser(), c.sentinelPassword()).build();
    }

    /**
     * The master the sentinels name now.
     *
     * @throws Unanswered if no sentinel answered
     * @throws JedisConnectionException if none knows the master: to Spillway either is "Redis unavailable" (spool and
     *     keep probing), the cause is the last sentinel's failure
     */
    public static HostAndPort currentMaster(RedisConnection c, JedisClientConfig sentinelConfig) {
        RuntimeException last = null;
        HostAndPort lastSentinel = null;
        boolean answered = false;
        for (HostAndPort s : addresses(c)) {
            try (Jedis j = new Jedis(s, sentinelConfig)) {
                List<String> addr = j.sentinelGetMasterAddrByName(c.masterName());
                answered = true;
                if (addr != null && addr.size() == 2) {
                    return new HostAndPort(addr.get(0), Integer.parseInt(addr.get(1)));
                }
            } catch (RuntimeException e) {
                last = e;
                lastSentinel = s;
            }
        }
        if (!answered && last != null) {
            throw new Unanswered("no sentinel of master '" + c.masterName() + "' answered (" + c.redacted() + "): "
                    + Failures.describe(last), last, lastSentinel, c.masterName());
        }
        String what = answered
                ? "no sentinel knows master '" + c.masterName() + "'"
                : "no sentinel of master '" + c.masterName() + "' answered";
        throw last == null ? new JedisConnectionException(what + " (" + c.redacted() + ")")
                : new JedisConnectionException(what + " (" + c.redacted() + "): " + Failures.describe(last), last);
    }

    /**
     * The master named by more than half of the sentinels that answer (each asked on a fresh connection), or null when
     * none answers or no address has such a majority. Unlike {@link #currentMaster}, one sentinel that has not yet
     * heard of a failover (just restarted from its config file, or cut off) cannot decide it alone.
     */
    public static HostAndPort majorityMaster(RedisConnection c, JedisClientConfig sentinelConfig) {
        java.util.Map<HostAndPort, Integer> votes = new java.util.HashMap<>();
        int answered = 0;
        for (HostAndPort s : addresses(c)) {
            try (Jedis j = new Jedis(s, sentinelConfig)) {
                List<String> addr = j.sentinelGetMasterAddrByName(c.masterName());
                answered++;
                if (addr != null && addr.size() == 2) {
                    votes.merge(new HostAndPort(addr.get(0), Integer.parseInt(addr.get(1))), 1, Integer::sum);
                }
            } catch (RuntimeException e) {
                // Not answering is no vote.
            }
        }
        for (java.util.Map.Entry<HostAndPort, Integer> v : votes.entrySet()) {
            if (2 * v.getValue() > answered) {
                return v.getKey();
            }
        }
        return null;
    }

    /** No sentinel answered: the cause is the failure of the last one tried, {@link #sentinel()}. */
    public static final class Unanswered extends JedisConnectionException {
        private final HostAndPort sentinel;
        private final String masterName;

        Unanswered(String message, Throwable cause, HostAndPort sentinel, String masterName) {
            super(message, cause);
            this.sentinel = sentinel;
            this.masterName = masterName;
        }

        /** The master name the sentinels were asked about. */
        public String masterName() {
            return masterName;
        }

        /** The last sentinel tried, whose failure is the cause. */
        public HostAndPort sentinel() {
            return sentinel;
        }
    }
}
