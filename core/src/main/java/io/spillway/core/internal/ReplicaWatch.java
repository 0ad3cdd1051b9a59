package io.spillway.core.internal;

import java.util.ArrayDeque;
import java.util.Map;
import java.util.function.LongConsumer;

/**
 * Up to when a producer's direct writes are known to be on a replica of the master that acknowledged them, from the
 * master's {@code INFO replication} read once a second (the reconnect loop's heartbeat).
 *
 * <p>Why: the resend window ({@link RecentWrites}) covers what a master can lose on a crash by itself (the AOF's last
 * second). A failover loses more: every write its replica had not received when it was promoted. After a manual
 * failover with one replica, the new master has no replica in sync until the old one is demoted and fully resynced
 * (for several seconds in the review that found it), and a crash of the new master then lost thousands of accepted jobs,
 * all older than the 5 s window. So the writes a replica has not confirmed are kept beyond the window (up to the
 * buffer's bytes) and are sent again after the next failover or restart.
 *
 * <p>How: each sample notes the master's {@code master_repl_offset} with the wall time read just before the INFO
 * call. A write acknowledged before that time ran before the INFO, so its offset is at most the sampled one; once an
 * online replica reports an offset at least that high ({@code slaveN:…,state=online,offset=…}, from its once-a-second
 * REPLCONF ACK), every write acknowledged before the sample's time is on that replica. {@link #safeBefore()} is the
 * newest such time. Offsets are per master: on a new run id (a failover or a restart) the samples start again and
 * the mark stays where it was until the new master's replicas confirm (the writes the old one lacked are sent again
 * by the recovery and kept with the time of that re-send).
 *
 * <p>Through Sentinel, from the start: a master found without a replica may be one just promoted, whose old master is
 * not yet demoted and resynced (a producer started then, the new master killed before the resync, lost every write of
 * those seconds past the window in the review that found it). Otherwise only once a master of this connection has been
 * seen with a replica: a Redis that never had one cannot fail over, and the window alone covers its restarts
 * ({@link #safeBefore()} is {@link Long#MAX_VALUE}, keeping nothing more). Thread-safe.
 */
public final class ReplicaWatch {
    /** Samples kept: a replica behind by more than this many seconds leaves the mark at the oldest one. */
    static final int MAX_SAMPLES = 600;

    private final LongConsumer listener;
    private final ArrayDeque<long[]> samples = new ArrayDeque<>();
    private String runId;
    private boolean replicated;
    private volatile long safeBefore = Long.MAX_VALUE;

    /** @param listener told each new {@link #safeBefore()} (the resend buffer's {@code keepSince}) */
    public ReplicaWatch(LongConsumer listener) {
        this(listener, false);
    }

    /**
     * @param listener told each new {@link #safeBefore()} (the resend buffer's {@code keepSince})
     * @param failover the master may fail over whether or not it has a replica now (a Sentinel connection): every write
     *     is kept until a replica confirms it, from the start (the listener is told {@link Long#MIN_VALUE} now)
     */
    public ReplicaWatch(LongConsumer listener, boolean failover) {
        this.listener = listener;
        if (failover) {
            replicated = true;
            publish(Long.MIN_VALUE);
        }
    }

    /** Writes acknowledged before this time (epoch ms) are on a replica; {@link Long#MAX_VALUE} when not tracking. */
    public long safeBefore() {
        return safeBefore;
    }

    /**
     * One heartbeat's reading.
     *
     * @param beforeMillis the wall time read just before the INFO call
     * @param info {@code INFO server} and {@code INFO replication} of the master, parsed ({@link RedisInfo#parse})
     */
    public synchronized void sample(long beforeMillis, Map<String, String> info) {
        if (!"master".equals(info.get("role"))) {
            return;
        }
        String id = RedisInfo.runId(info);
        if (id != null && !id.equals(runId)) {
            if (runId != null) {
                samples.clear(); // another master's offsets
            }
            runId = id;
        }
        int replicas = (int) number(info.get("connected_slaves"), 0);
        if (replicas > 0 && !replicated) {
            replicated = true;
            // From now on every write is kept until an online replica confirms it (the first confirmation comes with
            // the next sample or so).
            publish(Long.MIN_VALUE);
        }
        if (!replicated) {
            return;
        }
        long offset = number(info.get("master_repl_offset"), -1);
        if (offset < 0) {
            return;
        }
        samples.addLast(new long[] {beforeMillis, offset});
        while (samples.size() > MAX_SAMPLES) {
            samples.removeFirst();
        }
        long confirmed = -1;
        for (int i = 0; i < replicas + 16; i++) { // slave0..slaveN (ids may have gaps after disconnects)
            String line = info.get("slave" + i);
            if (line != null && line.contains("state=online")) {
                confirmed = Math.max(confirmed, number(field(line, "offset"), -1));
            }
        }
        long mark = Long.MIN_VALUE;
        while (!samples.isEmpty() && samples.peekFirst()[1] <= confirmed) {
            mark = samples.removeFirst()[0];
        }
        if (mark != Long.MIN_VALUE) {
            publish(mark);
        }
    }

    private void publish(long mark) {
        long current = safeBefore;
        if (current == Long.MAX_VALUE || mark > current) {
            safeBefore = mark;
            listener.accept(mark);
        }
    }

    private static String field(String line, String name) {
        for (String part : line.split(",")) {
            if (part.startsWith(name + "=")) {
                return part.substring(name.length() + 1);
            }
        }
        return null;
    }

    private static long number(String s, long otherwise) {
        if (s == null) {
            return otherwise;
        }
        try {
            return Long.parseLong(s.trim());
        } catch (NumberFormatException e) {
            return otherwise;
        }
    }
}
