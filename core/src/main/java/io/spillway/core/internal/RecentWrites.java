package io.spillway.core.internal;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The jobs this producer wrote straight to Redis in the last few seconds, kept in memory so they can be
 * sent again if Redis restarts and turns out to have lost them.
 *
 * <p>Why: with {@code appendfsync everysec} (the usual setting) Redis acknowledges a write before it is
 * in its AOF file whenever a background fsync is slow; a crash in that moment loses up to about two
 * seconds of acknowledged writes. The enqueue script is idempotent, so re-sending the last seconds after
 * a restart restores what was lost and skips what was kept.
 *
 * <p>Bounded by age ({@code window}, extended to the writes no replica has confirmed: {@link #keepSince}) and by
 * bytes ({@code maxBytes}); past the byte bound the oldest go first and {@link #overflowed()} says so. With a {@link SentLog} each write is also recorded on disk, so
 * that a producer started after this one crashed can {@link #restore} them. Thread-safe.
 */
public final class RecentWrites {
    private static final Logger logger = LoggerFactory.getLogger(RecentWrites.class);
    /** At most one line a minute about writes pushed out of the full buffer. */
    private static final long OVERFLOW_LOG_NANOS = java.util.concurrent.TimeUnit.MINUTES.toNanos(1);
    /**
     * One write. Inside the buffer {@code job} may be null (kept as bytes only); {@link #drain} decodes it.
     * {@code order}: when Redis first acknowledged it among this process's writes ({@link WriteOrder}), kept when it is
     * sent again; {@link WriteOrder#UNKNOWN} for a predecessor's.
     */
    public record Entry(long ackedAtMillis, JobRecord job, byte[] encoded, long order) {
        /** A write of another process (a predecessor's, from its {@link SentLog}): its order is not known. */
        public Entry(long ackedAtMillis, JobRecord job, byte[] encoded) {
            this(ackedAtMillis, job, encoded, WriteOrder.UNKNOWN);
        }
    }

    private final long windowMillis;
    private final long maxBytes;
    private final SentLog log;
    private final ArrayDeque<Entry> entries = new ArrayDeque<>();
    private long bytes;
    private long overflowed;
    /** Whether a write ever left the buffer other than to be sent again, or a predecessor's were restored. */
    private boolean dropped;
    private long overflowSaidAt;
    private long overflowSaid;
    /**
     * Writes acknowledged at or after this time (epoch ms) are kept past the window: no replica is known to have them
     * ({@link ReplicaWatch}). {@link Long#MAX_VALUE}: the window alone decides.
     */
    private volatile long keepSince = Long.MAX_VALUE;

    public RecentWrites(long windowMillis, long maxBytes) {
        this(windowMillis, maxBytes, null);
    }

    /** @param log where each write is also recorded, for a producer started after this one; or null */
    public RecentWrites(long windowMillis, long maxBytes, SentLog log) {
        this.windowMillis = windowMillis;
        this.maxBytes = maxBytes;
        this.log = log;
    }

    /**
     * Puts back writes of a predecessor (from its {@link SentLog}), oldest first, ahead of any new one. They
     * stay until sent again or pushed out by newer writes, like the writes of this process.
     */
    public synchronized void restore(List<Entry> earlier) {
        if (!earlier.isEmpty()) {
            dropped = true; // the predecessor may have let older writes go
        }
        for (int i = earlier.size() - 1; i >= 0; i--) {
            Entry e = earlier.get(i);
            if (bytes + e.encoded().length > maxBytes) {
                overflowed += i + 1;
                break;
            }
            entries.addFirst(e);
            bytes += e.encoded().length;
        }
    }

    public boolean enabled() {
        return windowMillis > 0 && maxBytes > 0;
    }

    public void add(JobRecord job, byte[] encoded, long nowMillis) {
        if (!enabled()) {
            return;
        }
        synchronized (this) {
            entries.addLast(new Entry(nowMillis, null, encoded, WriteOrder.next())); // bytes only, as in remember()
            bytes += encoded.length;
            evict(nowMillis);
        }
        if (log != null) {
            log.append(List.of(encoded), nowMillis);
        }
    }

    /**
     * The on-disk half of {@link #add}: hands a write to the {@link SentLog} without waiting for another
     * thread's append (nothing in memory). The producer calls it while the write is on its way to Redis,
     * where it costs the caller nothing, and {@link #remember} once Redis acknowledged it, which waits until
     * the record is written. A write recorded but then not acknowledged is at most sent again by a
     * successor, which the enqueue script's idempotence makes harmless.
     *
     * @return what to pass to {@link #remember}; null if nothing is logged
     */
    public SentLog.Pending record(byte[] encoded, long nowMillis) {
        return log != null && enabled() ? log.submit(encoded, nowMillis) : null;
    }

    /**
     * The in-memory half of {@link #add}: keeps a write Redis acknowledged, for this process to send again,
     * once its {@link #record} (if any) is on disk.
     */
    public void remember(JobRecord job, byte[] encoded, long nowMillis, SentLog.Pending recorded) {
        if (recorded != null) {
            log.await(recorded);
        }
        if (!enabled()) {
            return;
        }
        synchronized (this) {
            // Only the bytes: the record is decoded again in the rare drain. Every write of the last seconds is
            // held here, and young collections copy all of it (a 5 s window at 14k enqueues/s was 40-80 MB live
            // and 40-110 ms pauses every 1.4 s on a busy 2-core box); the decoded record was a third of it.
            entries.addLast(new Entry(nowMillis, null, encoded, WriteOrder.next()));
            bytes += encoded.length;
            evict(nowMillis);
        }
    }

    /** {@link #add} of many writes acknowledged at once (one call of a batch), in their order. */
    public void addAll(List<byte[]> encoded, long nowMillis) {
        if (!enabled()) {
            return;
        }
        synchronized (this) {
            long order = WriteOrder.next(); // one call: acknowledged at once
            for (byte[] e : encoded) {
                entries.addLast(new Entry(nowMillis, null, e, order)); // bytes only, as in remember()
                bytes += e.length;
            }
            evict(nowMillis);
        }
        if (log != null) {
            log.append(encoded, nowMillis);
        }
    }

    /**
     * Keeps the writes acknowledged at or after {@code millis} beyond the window, up to the byte bound: a replica has
     * not confirmed them, so a failover would lose them ({@link ReplicaWatch}). {@link Long#MAX_VALUE}: none.
     */
    public void keepSince(long millis) {
        keepSince = millis;
    }

    /**
     * Redis was up at {@code atMillis} (epoch ms, read before the heartbeat that found it with the same run id as these
     * writes went to): writes acknowledged more than the window before are kept by Redis, and go (unless no replica has
     * confirmed them: {@link #keepSince}). Without these calls the buffer would be trimmed only by the next write, and a
     * Redis restart long after a producer's last writes would send the last window of them again.
     */
    public synchronized void redisAlive(long atMillis) {
        evict(atMillis);
    }

    /**
     * What {@link #redisAlive} lets go of, for a companion record kept by another window (a producer's cancellations):
     * whatever is older than {@code windowMillis} before {@code aliveAtMillis}, unless no replica has confirmed it
     * ({@link #keepSince}).
     */
    public long keptBefore(long aliveAtMillis, long windowMillis) {
        return Math.min(aliveAtMillis - windowMillis, keepSince);
    }

    private void evict(long nowMillis) {
        long before = keptBefore(nowMillis, windowMillis);
        Entry head;
        while ((head = entries.peekFirst()) != null && (head.ackedAtMillis() < before || bytes > maxBytes)) {
            if (head.ackedAtMillis() >= before) {
                overflowed++;
            }
            entries.pollFirst();
            bytes -= head.encoded().length;
            dropped = true;
        }
        if (overflowed > overflowSaid && (overflowSaid == 0 || System.nanoTime() - overflowSaidAt > OVERFLOW_LOG_NANOS)) {
            // Said once, then at most once a minute while it goes on: these writes could not be sent again.
            logger.warn("Resend buffer full ({} bytes): {} writes pushed out of it so far while still within the resend window"
                    + " or not yet confirmed by a replica; if Redis restarts or fails over now, those cannot be sent again"
                    + " (a larger resendAfterRestart buffer, or min-replicas-to-write on the master, see docs/operations.md)",
                    maxBytes, overflowed);
            overflowSaid = overflowed;
            overflowSaidAt = System.nanoTime();
        }
    }

    /**
     * Puts back writes just sent again after a restart or failover, ahead of any new one, as written now (their
     * {@link Entry#order} stays the first one: a later re-send merges them with the journal's by it), and records
     * them so in the {@link SentLog}: the Redis that took them may lose them too (its AOF's last second, or a failover
     * before its replica has them). Called before the new run id is recorded.
     */
    public void resent(List<Entry> writes, long nowMillis) {
        if (!enabled()) {
            return;
        }
        int first = 0;
        synchronized (this) {
            for (int i = writes.size() - 1; i >= 0; i--) {
                Entry e = writes.get(i);
                if (bytes + e.encoded().length > maxBytes) {
                    overflowed += i + 1;
                    dropped = true;
                    first = i + 1;
                    break;
                }
                entries.addFirst(new Entry(nowMillis, null, e.encoded(), e.order())); // in the order they first reached Redis
                bytes += e.encoded().length;
            }
        }
        if (log != null && first < writes.size()) {
            // On disk too, as written now: a successor must send them again if this Redis loses them, even after newer
            // writes pushed their first acknowledgement out of the window it restores.
            List<byte[]> encoded = new ArrayList<>(writes.size() - first);
            for (Entry e : writes.subList(first, writes.size())) {
                encoded.add(e.encoded());
            }
            log.append(encoded, nowMillis);
        }
    }

    /** Takes every entry (oldest first) and empties the buffer. */
    public synchronized List<Entry> drain() {
        List<Entry> out = new ArrayList<>(entries.size());
        for (Entry e : entries) {
            out.add(e.job() != null ? e : new Entry(e.ackedAtMillis(), JobCodec.decode(e.encoded()), e.encoded(), e.order()));
        }
        entries.clear();
        bytes = 0;
        return out;
    }

    /** When the newest write kept was acknowledged (epoch ms), or {@link Long#MIN_VALUE} if none is kept. */
    public synchronized long newestMillis() {
        Entry last = entries.peekLast();
        return last == null ? Long.MIN_VALUE : last.ackedAtMillis();
    }

    public synchronized int size() {
        return entries.size();
    }

    /**
     * Whether a write has left this buffer other than to be sent again (kept by Redis past the window, or pushed out),
     * or a predecessor's writes were restored (it may have let older ones go): if not, the buffer holds every write
     * since this producer started, and a re-send that found none of them in Redis does not mean older ones were lost.
     */
    public synchronized boolean droppedAny() {
        return dropped;
    }

    /** Writes dropped by the byte bound while still inside the window (or not yet confirmed by a replica). */
    public synchronized long overflowed() {
        return overflowed;
    }
}
