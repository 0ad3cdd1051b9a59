package io.spillway.core.internal;

import io.spillway.core.Durability;
import io.spillway.core.JournalException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.locks.ReentrantLock;
import java.util.zip.CRC32;
import net.openhft.chronicle.bytes.Bytes;
import net.openhft.chronicle.bytes.SyncMode;
import net.openhft.chronicle.queue.ExcerptAppender;
import net.openhft.chronicle.queue.ExcerptTailer;
import net.openhft.chronicle.queue.RollCycle;
import net.openhft.chronicle.queue.TailerDirection;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueue;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueueBuilder;
import net.openhft.chronicle.queue.rollcycles.LegacyRollCycles;
import net.openhft.chronicle.wire.DocumentContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The on-disk twin of {@link RecentWrites}: every job a producer wrote straight to Redis, with the time
 * Redis acknowledged it, and the run id of the Redis that did. It lives in the journal directory (under
 * the journal's lock), in {@value #DIR}.
 *
 * <p>Why: Redis with {@code appendfsync everysec} can lose the last second or two of writes it
 * acknowledged when it is killed. A producer that is alive when Redis comes back sends its recent writes
 * again from memory; a producer that was killed in the same moment had them only in memory. With this
 * log a producer started on the journal loads the writes of its predecessor's last seconds and the run id
 * they were acknowledged by, so that it too notices a restarted Redis and sends them again.
 *
 * <p>Chronicle Queue with one-minute cycles; cycles more than a minute old are deleted as new ones start,
 * so the log holds one to two minutes of writes. Each record: a {@link Frame} of the JobCodec bytes, then
 * the acknowledged-at millis. A torn or corrupt record is skipped. Thread-safe (appends are serialised; a
 * thread that finds the log busy leaves its record to the thread that holds it, see {@link #submit}).
 */
public final class SentLog implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(SentLog.class);
    /** The subdirectory of the journal directory. */
    public static final String DIR = "sent";
    static final String RUN_ID_FILE = "redis-run-id";
    static final RollCycle ROLL_CYCLE = LegacyRollCycles.MINUTELY;

    private final Path dir;
    private final Durability durability;
    private final SingleChronicleQueue queue;
    private final ExcerptAppender appender;
    private final ReentrantLock appendLock = new ReentrantLock();
    /** Records handed in by {@link #submit} and not yet written; written by whoever holds the lock next. */
    private final ConcurrentLinkedQueue<Pending> pending = new ConcurrentLinkedQueue<>();
    private final CRC32 crc = new CRC32();
    private int lastPrunedCycle = Integer.MIN_VALUE;
    private long failedAppends;
    private volatile String runId;
    private boolean closed;

    private SentLog(Path dir, Durability durability) {
        this.dir = dir;
        this.durability = durability;
        try {
            Files.createDirectories(dir);
            Path runIdFile = dir.resolve(RUN_ID_FILE);
            if (Files.exists(runIdFile)) {
                String id = Files.readString(runIdFile, StandardCharsets.US_ASCII).trim();
                runId = id.isEmpty() ? null : id;
            }
        } catch (IOException e) {
            throw new JournalException("Sent log " + dir + " cannot be opened: " + e.getMessage(), e);
        }
        this.queue = SingleChronicleQueueBuilder.single(dir.toFile())
                .rollCycle(ROLL_CYCLE)
                .syncMode(durability == Durability.POWER_LOSS ? SyncMode.SYNC : SyncMode.NONE)
                .build();
        this.appender = queue.createAppender();
        appender.singleThreadedCheckDisabled(true);
    }

    /** Opens (or creates) the sent log of a journal directory. */
    public static SentLog open(Path journalDir, Durability durability) {
        return new SentLog(journalDir.resolve(DIR), durability);
    }

    /**
     * The run id of the Redis that acknowledged the writes in this log, as last recorded (by this process
     * or a predecessor), or null if none was.
     */
    public String redisRunId() {
        return runId;
    }

    /** Records the run id of the Redis the producer is now connected to. Written only when it changes. */
    public void redisRunId(String id) {
        if (id == null || id.equals(runId)) {
            return;
        }
        Path file = dir.resolve(RUN_ID_FILE);
        Path tmp = dir.resolve(RUN_ID_FILE + ".tmp");
        try {
            Files.writeString(tmp, id, StandardCharsets.US_ASCII);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            runId = id;
        } catch (IOException e) {
            // Without it a restarted producer cannot tell that Redis restarted: it still replays its journal,
            // but does not send its predecessor's last writes again. Say so; enqueues go on.
            log.warn("Sent log {}: cannot record the Redis run id: {}", dir, e.getMessage());
        }
    }

    /** Records jobs written to Redis (acknowledged, or on their way). Best effort: a failure is logged, never thrown. */
    public void append(List<byte[]> encoded, long ackedAtMillis) {
        appendLock.lock();
        try {
            if (closed) {
                return;
            }
            try {
                writePending();
                for (byte[] e : encoded) {
                    write(e, ackedAtMillis);
                }
                if (durability == Durability.POWER_LOSS) {
                    appender.sync();
                }
            } catch (RuntimeException ex) {
                appendFailed(ex);
            }
            pruneIfNewCycle();
        } finally {
            appendLock.unlock();
        }
    }

    /** A record handed to {@link #submit}; {@link #await} returns once it is written. */
    public static final class Pending {
        private final byte[] encoded;
        private final long ackedAtMillis;
        private volatile boolean written;

        private Pending(byte[] encoded, long ackedAtMillis) {
            this.encoded = encoded;
            this.ackedAtMillis = ackedAtMillis;
        }
    }

    /**
     * Hands in one job's record without waiting for another thread's append: it is written now if the log
     * is free, else by the thread that holds it (which writes every record handed in meanwhile), else at the
     * latest by {@link #await}. Many producer threads append at once, right after sending their command; one
     * lock they all queued on cost them more than the append itself.
     */
    public Pending submit(byte[] encoded, long ackedAtMillis) {
        Pending p = new Pending(encoded, ackedAtMillis);
        pending.add(p);
        if (appendLock.tryLock()) {
            try {
                flushPending();
            } finally {
                appendLock.unlock();
            }
        }
        return p;
    }

    /** Returns once the record handed in is written (or its write failed, which is logged: best effort). */
    public void await(Pending p) {
        if (p.written) {
            return;
        }
        appendLock.lock();
        try {
            flushPending();
        } finally {
            appendLock.unlock();
        }
    }

    /** Writes every record handed in so far. Holding {@link #appendLock}. */
    private void flushPending() {
        if (closed) {
            // Nothing more is written; the waiters must not wait for it.
            Pending p;
            while ((p = pending.poll()) != null) {
                p.written = true;
            }
            return;
        }
        writePending();
        pruneIfNewCycle();
    }

    /**
     * Holding {@link #appendLock}: writes the records handed in (synced with {@link Durability#POWER_LOSS}),
     * and only then lets their threads return.
     */
    private void writePending() {
        Pending first = pending.poll();
        if (first == null) {
            return;
        }
        List<Pending> done = new ArrayList<>(4);
        for (Pending p = first; p != null; p = pending.poll()) {
            done.add(p);
            try {
                write(p.encoded, p.ackedAtMillis);
            } catch (RuntimeException ex) {
                appendFailed(ex);
            }
        }
        try {
            if (durability == Durability.POWER_LOSS) {
                appender.sync();
            }
        } catch (RuntimeException ex) {
            appendFailed(ex);
        } finally {
            for (Pending p : done) {
                p.written = true;
            }
        }
    }

    private void write(byte[] encoded, long ackedAtMillis) {
        try (DocumentContext dc = appender.writingDocument()) {
            Bytes<?> b = dc.wire().bytes();
            Frame.write(b, encoded, crc);
            b.writeLong(ackedAtMillis);
        }
    }

    private void appendFailed(RuntimeException ex) {
        // One line for the first failure and then one per 10,000 (a full disk fails every append).
        if (failedAppends++ % 10_000 == 0) {
            log.warn("Sent log {}: append failed ({}; {} failed so far): these writes cannot be re-sent by a"
                    + " restarted producer", dir, ex.getMessage(), failedAppends);
        }
    }

    private void pruneIfNewCycle() {
        int cycle = queue.cycle();
        if (cycle != lastPrunedCycle) {
            lastPrunedCycle = cycle;
            prune(cycle);
        }
    }

    /**
     * The writes acknowledged within {@code windowMillis} of the newest one in the log, oldest first: what
     * a producer started on this journal sends again if Redis restarted since. Nothing if the newest is
     * older than {@code maxAgeMillis}: jobs that old may have completed and lost their completion marker
     * (the worker keeps it for a day by default), and sending them again would run them again.
     */
    public List<RecentWrites.Entry> recent(long windowMillis, long maxAgeMillis, long nowMillis) {
        List<RecentWrites.Entry> out = new ArrayList<>();
        long newest = Long.MIN_VALUE;
        int skipped = 0;
        try (ExcerptTailer t = queue.createTailer()) {
            t.direction(TailerDirection.BACKWARD).toEnd();
            while (true) {
                try (DocumentContext dc = t.readingDocument()) {
                    if (!dc.isPresent()) {
                        break;
                    }
                    Bytes<?> b = dc.wire().bytes();
                    RecentWrites.Entry e = decode(b);
                    if (e == null) {
                        skipped++;
                        continue;
                    }
                    newest = Math.max(newest, e.ackedAtMillis());
                    if (e.ackedAtMillis() < newest - windowMillis) {
                        break;
                    }
                    out.add(e);
                }
            }
        }
        if (skipped > 0) {
            log.warn("Sent log {}: {} torn or corrupt records skipped", dir, skipped);
        }
        Collections.reverse(out);
        if (!out.isEmpty() && out.get(out.size() - 1).ackedAtMillis() < nowMillis - maxAgeMillis) {
            log.info("Sent log {}: the last writes are older than {} s: not sent again", dir, maxAgeMillis / 1000);
            return List.of();
        }
        return out;
    }

    private static RecentWrites.Entry decode(Bytes<?> b) {
        byte[] data = Frame.read(b);
        if (data == null || b.readRemaining() < 8) {
            return null;
        }
        long ackedAt = b.readLong();
        try {
            return new RecentWrites.Entry(ackedAt, JobCodec.decode(data), data);
        } catch (IllegalArgumentException bad) {
            return null;
        }
    }

    /** Deletes the cycle files older than the one before the current one. */
    private void prune(int currentCycle) {
        if (CycleFiles.deleteBefore(dir, ROLL_CYCLE, currentCycle - 1) > 0) {
            queue.refreshDirectoryListing();
        }
    }

    /** Cycle files on disk (for tests). */
    int cycleFiles() {
        return CycleFiles.count(dir);
    }

    @Override
    public void close() {
        appendLock.lock();
        try {
            if (closed) {
                return;
            }
            flushPending();
            closed = true;
        } finally {
            appendLock.unlock();
        }
        appender.close();
        queue.close();
    }
}
