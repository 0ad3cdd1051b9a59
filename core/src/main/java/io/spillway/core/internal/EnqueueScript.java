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
    /** Most jobs per script call: keeps one call short so it never blocks Redis for long. */
    public static final int MAX_JOBS_PER_CALL = 500;

    private EnqueueScript() {
    }

    /** A call for jobs of one queue, all of them from {@code records} (parallel to {@code encoded}). */
    public static RedisGateway.ScriptCall call(QueueName queue, List<JobRecord> records, List<byte[]> encoded,
                                               long nowMillis, long dedupeSeconds) {
        int n = records.size();
        List<byte[]> keys = new ArrayList<>(n + 2);
        keys.add(RedisKeys.bytes(RedisKeys.stream(queue)));
        keys.add(RedisKeys.bytes(RedisKeys.delayed(queue)));
        List<byte[]> args = new ArrayList<>(2 * n + 2);
        args.add(ascii(nowMillis));
        args.add(ascii(dedupeSeconds));
        for (int i = 0; i < n; i++) {
            JobRecord r = records.get(i);
            keys.add(RedisKeys.bytes(RedisKeys.job(queue, r.id())));
            args.add(ascii(r.runAt()));
            args.add(encoded.get(i));
        }
        return new RedisGateway.ScriptCall(keys, args);
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
