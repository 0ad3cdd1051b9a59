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
 * <p>Calls with a {@link Chain} (the enqueue script's, one chain per queue) are linked: each goes through only if the
 * call of its chain written before it on the same connection did (a key of this stream holds the token of the last
 * one that did; see enqueue.lua). Redis runs the calls in flight one after the other and may refuse one (OOM, an ACL,
 * BUSY, NOSCRIPT) and take the next: without the link their jobs would land ahead of the refused call's, which go
 * again behind them, and a queue's order would be lost. The first call of a chain in flight is not checked: the ones
 * before it have their replies.
 *
 * <p>Not thread-safe: one stream, one caller.
 */
public final class ScriptStream {
    /** Builds the calls, in order; {@code null} when there are no more. */
    @FunctionalInterface
    public interface Source {
        RedisGateway.ScriptCall next();

        /**
         * Whether more calls may follow the last one {@link #next} built. Unknown: true. A call known to be the last
         * of its stream leaves no link behind for a next one (a key less in Redis for 60 s).
         */
        default boolean more() {
            return true;
        }

        /** A source that knows whether more calls follow. */
        static Source of(java.util.function.Supplier<RedisGateway.ScriptCall> next, java.util.function.BooleanSupplier more) {
            return new Source() {
                @Override
                public RedisGateway.ScriptCall next() {
                    return next.get();
                }

                @Override
                public boolean more() {
                    return more.getAsBoolean();
                }
            };
        }
    }

    /**
     * What links a call to the call of the same chain before it: the chain's key prefix (one chain per queue:
     * {@code spillway:{q}:chain:}, to which the stream adds its own id) and the call's token, given when a stream first
     * writes it.
     */
    public static final class Chain {
        private final String keyPrefix;
        private long token = -1;

        public Chain(String keyPrefix) {
            this.keyPrefix = keyPrefix;
        }
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
    /** This stream's part of its chain keys: random, so that no two streams (of any process) share a key. */
    private final String id = Long.toHexString(java.util.concurrent.ThreadLocalRandom.current().nextLong() | Long.MIN_VALUE);
    private long tokens;

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
            List<RedisGateway.ScriptCall> batch = new java.util.ArrayList<>(inFlight);
            // Every reply of a batch is read before the next batch is sent: links only within it.
            linkAll(batch, false);
            List<Object> replies = send.apply(batch);
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
            writeAllInFlight(c);
            int reloads = 0;
            while (true) {
                while (!exhausted && inFlight.size() < depth) {
                    RedisGateway.ScriptCall call = source.next();
                    if (call == null) {
                        exhausted = true;
                    } else {
                        // In flight from before its write: if the write fails, the retry sends it again.
                        inFlight.addLast(call);
                        if (call.chain() != null) {
                            // Linked to the latest call of its chain in flight (the ones before are written already).
                            linkAll(new java.util.ArrayList<>(inFlight), source.more());
                        }
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
        writeAllInFlight(c);
    }

    /** Writes every call in flight again, in order, on a connection none of them was written to yet. */
    private void writeAllInFlight(Connection c) {
        if (inFlight.isEmpty()) {
            return;
        }
        linkAll(new java.util.ArrayList<>(inFlight), !exhausted && source.more());
        for (RedisGateway.ScriptCall call : inFlight) {
            write(c, call);
        }
    }

    /** Gives a chained call its token and its link (the key and a placeholder argument), once. */
    private void assign(RedisGateway.ScriptCall call) {
        Chain chain = call.chain();
        if (chain != null && chain.token < 0) {
            chain.token = ++tokens;
            call.keys().add(RedisKeys.bytes(chain.keyPrefix + id));
            call.args().add(null);
        }
    }

    /** Links calls to be written one after the other on one connection; {@code moreAfter}: more may follow them. */
    void linkAll(List<RedisGateway.ScriptCall> calls, boolean moreAfter) {
        for (RedisGateway.ScriptCall call : calls) {
            assign(call);
        }
        relink(calls, moreAfter);
    }

    /**
     * Links calls (each given its token by a stream before) to be written one after the other on one connection: each
     * to the one before it of its chain among them; the first of a chain goes through unchecked.
     */
    static void relink(List<RedisGateway.ScriptCall> calls, boolean moreAfter) {
        int n = calls.size();
        boolean[] followed = new boolean[n];
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (int i = n - 1; i >= 0; i--) {
            Chain chain = calls.get(i).chain();
            if (chain != null) {
                followed[i] = !seen.add(chain.keyPrefix);
            }
        }
        java.util.Map<String, RedisGateway.ScriptCall> last = new java.util.HashMap<>();
        for (int i = 0; i < n; i++) {
            RedisGateway.ScriptCall call = calls.get(i);
            if (call.chain() != null) {
                spec(call, last.put(call.chain().keyPrefix, call), followed[i] || moreAfter);
            }
        }
    }

    /** The link argument: {@code "<before's token>,<own token>"}, either part empty (no check, nothing to set). */
    private static void spec(RedisGateway.ScriptCall call, RedisGateway.ScriptCall before, boolean more) {
        if (call.chain().token < 0) {
            throw new IllegalStateException("a chained call must be given its token by a stream first");
        }
        String spec = (before == null ? "" : Long.toString(before.chain().token)) + ","
                + (more ? Long.toString(call.chain().token) : "");
        call.args().set(call.args().size() - 1, spec.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
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
