package io.spillway.core.internal;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import redis.clients.jedis.AbstractPipeline;
import redis.clients.jedis.ClusterCommandObjects;
import redis.clients.jedis.CommandObject;
import redis.clients.jedis.Connection;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.RedisProtocol;
import redis.clients.jedis.Response;
import redis.clients.jedis.exceptions.JedisConnectionException;
import redis.clients.jedis.exceptions.JedisMovedDataException;
import redis.clients.jedis.providers.ClusterConnectionProvider;
import redis.clients.jedis.util.JedisClusterCRC16;

/**
 * A Redis Cluster pipeline whose commands may span masters: each command goes to the master the client's slot map
 * names for its first key, on one pooled connection per master, in the order queued (so the commands of one slot keep
 * theirs). Used instead of Jedis's {@code ClusterPipeline}, which logs a master that fails during its sync at ERROR,
 * with a stack trace, and then leaves that master's replies unset. Here such a failure is thrown from {@link #sync()}
 * (an outage like any other; the caller's circuit and logs deal with it), and every connection that may still have
 * replies on their way is dropped, not pooled.
 *
 * <p>Error replies (a wrong type, a redirection) are set on their {@link Response}s, as a Jedis pipeline does; a
 * {@code MOVED} reply also refreshes the client's slot map for the next call. A redirection is not followed, as in
 * Jedis's own pipeline. Every command needs a key. Single use, one thread.
 */
final class SlotRoutedPipeline extends AbstractPipeline {

    private record Queued(CommandObject<?> command, Response<?> response) {}

    private final ClusterConnectionProvider provider;
    private final List<Queued> queued = new ArrayList<>();
    private boolean synced;

    SlotRoutedPipeline(ClusterConnectionProvider provider, RedisProtocol protocol) {
        super(new ClusterCommandObjects(protocol));
        this.provider = provider;
    }

    @Override
    protected <T> Response<T> appendCommand(CommandObject<T> command) {
        if (synced) {
            throw new IllegalStateException("this pipeline was synced already");
        }
        if (command.getArguments().getKeys().isEmpty()) {
            throw new IllegalArgumentException("a cluster pipeline's commands need a key: "
                    + command.getArguments().getCommand());
        }
        Response<T> response = new Response<>(command.getBuilder());
        queued.add(new Queued(command, response));
        return response;
    }

    /** Queues a raw command (its keys marked with {@link redis.clients.jedis.CommandArguments#key}); its raw reply. */
    Response<Object> send(redis.clients.jedis.CommandArguments command) {
        return appendCommand(new CommandObject<>(command, redis.clients.jedis.BuilderFactory.RAW_OBJECT));
    }

    @Override
    public void sync() {
        if (synced) {
            return;
        }
        synced = true;
        Map<HostAndPort, List<Queued>> byNode = new LinkedHashMap<>();
        for (Queued q : queued) {
            int slot = slotOf(q.command().getArguments().getKeys().get(0));
            HostAndPort node = provider.getNode(slot);
            if (node == null) {
                throw new JedisConnectionException("no Redis Cluster master known for slot " + slot);
            }
            byNode.computeIfAbsent(node, k -> new ArrayList<>()).add(q);
        }
        List<Connection> open = new ArrayList<>(byNode.size());
        boolean moved = false;
        try {
            for (Map.Entry<HostAndPort, List<Queued>> e : byNode.entrySet()) {
                Connection c = provider.getConnection(e.getKey());
                open.add(c);
                for (Queued q : e.getValue()) {
                    c.sendCommand(q.command().getArguments());
                }
                c.getMany(0); // flushes: this master runs its commands while the next one's are sent
            }
            int n = 0;
            for (List<Queued> qs : byNode.values()) {
                List<Object> replies = open.get(n++).getMany(qs.size()); // an error reply comes as its exception
                for (int i = 0; i < qs.size(); i++) {
                    Object reply = replies.get(i);
                    moved |= reply instanceof JedisMovedDataException;
                    qs.get(i).response().set(reply);
                }
            }
        } catch (RuntimeException e) {
            open.forEach(Connection::setBroken); // replies may still be on their way
            throw e;
        } finally {
            open.forEach(Connection::close);
        }
        if (moved) {
            provider.renewSlotCache();
        }
    }

    @Override
    public void close() {
        sync();
    }

    private static int slotOf(Object key) {
        if (key instanceof byte[] b) {
            return JedisClusterCRC16.getSlot(b);
        }
        if (key instanceof redis.clients.jedis.args.Rawable r) {
            return JedisClusterCRC16.getSlot(r.getRaw());
        }
        return JedisClusterCRC16.getSlot(String.valueOf(key));
    }
}
