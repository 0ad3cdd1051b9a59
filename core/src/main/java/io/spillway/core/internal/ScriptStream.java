package io.spillway.core.internal;

import java.util.ArrayDeque;
import java.util.List;
import redis.clients.jedis.CommandArguments;
import redis.clients.jedis.Connection;
import redis.clients.jedis.Protocol;
import redis.clients.jedis.exceptions.JedisDataException;
import redis.clients.jedis.util.Pool;

/**
 * Calls of one idempotent script streamed on one connection, for bulk work (batched enqueue, replay).
 *
 * <p>Each call is written and flushed as soon as the caller has built it, and up to {@code depth} calls wait
 * for their reply at a time: Redis runs one call while the client builds the next and handles the reply of
 * the one before. A plain pipeline (write everything, then read everything) leaves Redis idle while the
 * client builds and the client idle while Redis runs; on two cores that costs about half the throughput.
 *
 * <p>Replies reach the {@link Sink} in call order. If Redis lost its script cache (NOSCRIPT), the replies of
 * the other calls in flight are dropped, the script is loaded and every call in flight is sent again: a call
 * that had already been applied then reports its jobs as duplicates. A run that fails leaves the calls in
 * flight here, and a later {@link #runOn} (the gateway's retry) sends them again first, on a fresh connection.
 *
 * <p>Not thread-safe: one stream, one caller.
 */
public final class ScriptStream {
    /** Builds the calls, in order; {@code null} when there are no more. */
    @FunctionalInterface
    public interface Source {
        RedisGateway.ScriptCall next();
    }

    /** Receives each call's reply, in call order. */
    @FunctionalInterface
    public interface Sink {
        void accept(RedisGateway.ScriptCall call, Object reply);
    }

    private static final int MAX_RELOADS = 3;

    private final LuaScript script;
    private final Source source;
    private final Sink sink;
    private final int depth;
    private final ArrayDeque<RedisGateway.ScriptCall> inFlight = new ArrayDeque<>();
    private boolean exhausted;

    ScriptStream(LuaScript script, Source source, Sink sink, int depth) {
        if (depth < 1) {
            throw new IllegalArgumentException("depth must be at least 1, but was " + depth);
        }
        this.script = script;
        this.source = source;
        this.sink = sink;
        this.depth = depth;
    }

    /**
     * Runs (or resumes) the stream in batches of up to {@code max} calls, each batch sent by {@code send} (a Redis
     * Cluster: one pipeline, each call to its own slot's master, so a queue's calls keep their order) and its replies
     * handed on in order before the next batch is built. If {@code send} fails, the batch stays in flight and a retry
     * sends it again (the script is idempotent).
     */
    void runBatches(int max, java.util.function.Function<List<RedisGateway.ScriptCall>, List<Object>> send) {
        while (true) {
            while (!exhausted && inFlight.size() < max) {
                RedisGateway.ScriptCall call = source.next();
                if (call == null) {
                    exhausted = true;
                } else {
                    inFlight.addLast(call);
                }
            }
            if (inFlight.isEmpty()) {
                return;
            }
            List<Object> replies = send.apply(new java.util.ArrayList<>(inFlight));
            for (Object reply : replies) {
                sink.accept(inFlight.removeFirst(), reply);
            }
        }
    }

    /** Runs (or resumes) the stream on a connection of the pool until every call has its reply. */
    void runOn(Pool<Connection> pool) {
        Connection c = pool.getResource();
        boolean clean = false;
        try {
            for (RedisGateway.ScriptCall call : inFlight) {
                write(c, call);
            }
            int reloads = 0;
            while (true) {
                while (!exhausted && inFlight.size() < depth) {
                    RedisGateway.ScriptCall call = source.next();
                    if (call == null) {
                        exhausted = true;
                    } else {
                        // In flight from before its write: if the write fails, the retry sends it again.
                        inFlight.addLast(call);
                        write(c, call);
                    }
                }
                if (inFlight.isEmpty()) {
                    break;
                }
                Object reply;
                try {
                    reply = c.getOne();
                } catch (JedisDataException e) {
                    if (!Failures.isNoScript(e) || ++reloads > MAX_RELOADS) {
                        throw e;
                    }
                    reload(c);
                    continue;
                }
                sink.accept(inFlight.removeFirst(), reply);
            }
            clean = true;
        } finally {
            if (clean) {
                c.close();
            } else {
                // Replies may still be on their way: this connection must not serve anyone else.
                pool.returnBrokenResource(c);
            }
        }
    }

    /** After NOSCRIPT on the first call in flight: drop the others' replies, load, send them all again. */
    private void reload(Connection c) {
        for (int i = 1; i < inFlight.size(); i++) {
            try {
                c.getOne();
            } catch (JedisDataException ignored) {
                // NOSCRIPT too, most likely; every call in flight is sent again below.
            }
        }
        c.sendCommand(new CommandArguments(Protocol.Command.SCRIPT).add("LOAD").add(script.source()));
        c.getOne();
        for (RedisGateway.ScriptCall call : inFlight) {
            write(c, call);
        }
    }

    private void write(Connection c, RedisGateway.ScriptCall call) {
        List<byte[]> keys = call.keys();
        List<byte[]> args = call.args();
        CommandArguments a = new CommandArguments(Protocol.Command.EVALSHA).add(script.shaBytes()).add(keys.size());
        for (byte[] k : keys) {
            a.add(k);
        }
        for (byte[] v : args) {
            a.add(v);
        }
        c.sendCommand(a);
        c.getMany(0); // flushes: Redis starts on this call while the next one is built
    }
}
