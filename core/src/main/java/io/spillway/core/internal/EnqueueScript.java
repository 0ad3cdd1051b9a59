package io.spillway.core.internal;

import io.spillway.core.QueueName;
import io.spillway.core.SpillwayException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Builds calls of {@code enqueue.lua} and reads its replies: the one place that knows its KEYS/ARGV
 * layout. Used by the producer's direct path and by the replayer.
 */
public final class EnqueueScript {
    /** Outcome: added (to the stream, or to the delayed set for a run-at in the future). */
    public static final int ADDED = 1;
    /** Outcome: the id was already known; nothing written. */
    public static final int DUPLICATE = 0;
    /**
     * Most jobs per script call: keeps one call short so it never blocks Redis for long, and within what the
     * script's {@code unpack} of MGET/MSET arguments can take (Lua's C stack: 8,000 values).
     */
    public static final int MAX_JOBS_PER_CALL = 500;

    private EnqueueScript() {
    }

    /** A call for jobs of one queue, all of them from {@code records} (parallel to {@code encoded}). */
    public static RedisGateway.ScriptCall call(QueueName queue, List<JobRecord> records, List<byte[]> encoded,
                                               long nowMillis, long dedupeSeconds) {
        return call(queue, records, encoded, nowMillis, dedupeSeconds, null);
    }

    /** {@link #call(QueueName, List, List, long, long)} with the caller's tag on the call. */
    public static RedisGateway.ScriptCall call(QueueName queue, List<JobRecord> records, List<byte[]> encoded,
                                               long nowMillis, long dedupeSeconds, Object tag) {
        int n = records.size();
        if (n > MAX_JOBS_PER_CALL) {
            throw new IllegalArgumentException("at most " + MAX_JOBS_PER_CALL + " jobs per enqueue script call, but was " + n);
        }
        byte[] prefix = RedisKeys.bytes(RedisKeys.jobPrefix(queue));
        List<byte[]> keys = new ArrayList<>(n + 3); // + 1: the link a stream adds
        keys.add(RedisKeys.bytes(RedisKeys.stream(queue)));
        keys.add(RedisKeys.bytes(RedisKeys.delayed(queue)));
        List<byte[]> args = new ArrayList<>(2 * n + 3);
        args.add(ascii(nowMillis));
        args.add(ascii(dedupeSeconds));
        for (int i = 0; i < n; i++) {
            JobRecord r = records.get(i);
            keys.add(key(prefix, r.id().value()));
            long runAt = r.runAt();
            args.add(runAt == 0 ? ZERO : ascii(runAt));
            args.add(encoded.get(i));
        }
        return new RedisGateway.ScriptCall(keys, args, tag, new ScriptStream.Chain(RedisKeys.chainPrefix(queue)));
    }

    private static final byte[] ZERO = {'0'};

    /** {@code prefix + id} as bytes; job ids are ASCII ({@link io.spillway.core.JobId}), so one char is one byte. */
    @SuppressWarnings("deprecation")
    private static byte[] key(byte[] prefix, String id) {
        byte[] k = new byte[prefix.length + id.length()];
        System.arraycopy(prefix, 0, k, 0, prefix.length);
        id.getBytes(0, id.length(), k, prefix.length);
        return k;
    }

    /**
     * The per-job outcome of one call, from the script's reply (the 1-based positions of the duplicates):
     * {@link #DUPLICATE} or {@link #ADDED} (to the stream or the delayed set).
     */
    public static int[] codes(Object reply, int expected) {
        if (!(reply instanceof List<?> list) || list.size() > expected) {
            throw new SpillwayException("enqueue script returned " + reply + " for " + expected + " jobs");
        }
        int[] out = new int[expected];
        java.util.Arrays.fill(out, ADDED);
        for (Object o : list) {
            int pos = o instanceof Number n ? n.intValue() : -1;
            if (pos < 1 || pos > expected) {
                throw new SpillwayException("enqueue script returned position " + o + " for " + expected + " jobs");
            }
            out[pos - 1] = DUPLICATE;
        }
        return out;
    }

    private static byte[] ascii(long v) {
        return Long.toString(v).getBytes(StandardCharsets.US_ASCII);
    }
}
