package io.spillway.core.internal;

import io.spillway.core.Durability;
import io.spillway.core.JournalException;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.reflect.Field;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.locks.ReentrantLock;
import java.util.zip.CRC32;
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
 * <p>On disk: a ring of segment files ({@code segment-<n>.log}, {@value #SEGMENT_BYTES} bytes each, mapped
 * into memory once), written from the start again once nothing in them can be needed: when their newest
 * write is older than the resend window plus a margin, or when newer segments already hold the resend
 * buffer's worth of bytes (a successor restores no more than that). So the log reuses the same file pages
 * instead of growing into new ones, which is what a first write to a page costs (a page fault, 3-15 µs on
 * the 2-core VMs benchmarked; about 1 µs per job when this log was a Chronicle queue with minute cycles). The
 * ring's segments are created, and each of their pages written once, at open ({@link #ringSegments}); reusable
 * segments beyond that number are deleted.
 * A segment starts with a header (magic, format version, the sequence number of this use of the file);
 * each record: length, CRC32, the segment's sequence number, acknowledged-at millis, the JobCodec bytes.
 * The records of a segment end at the first one of an earlier use (another sequence number) or an empty
 * one; a record with a bad checksum (torn by a crash mid-write, or a flipped byte) is skipped and counted.
 * A record bigger than a segment gets a segment of its own.
 *
 * <p>Durability: {@link Durability#PROCESS_CRASH} relies on the page cache (a write is in the mapped file
 * once the call returns); {@link Durability#POWER_LOSS} forces the written range to disk before the call
 * returns. Thread-safe: appends are serialised; a thread that finds the log busy leaves its record to the
 * thread that holds it, see {@link #submit}.
 */
public final class SentLog implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(SentLog.class);
    /** The subdirectory of the journal directory. */
    public static final String DIR = "sent";
    static final String RUN_ID_FILE = "redis-run-id";
    /** Where {@link #keepSince} is recorded: the acknowledged-at time before which a replica has every write. */
    static final String REPLICA_MARK_FILE = "replica-confirmed";
    /** The size of a segment file. */
    static final int SEGMENT_BYTES = 4 << 20;
    /** Segments of the ring beyond those that may hold the resend buffer's bytes and the current one. */
    static final int SPARE_SEGMENTS = 2;
    /** Added to the resend window before a segment's writes are too old to matter (clock skew between threads). */
    static final long RETAIN_MARGIN_MILLIS = 10_000;
    static final long DEFAULT_WINDOW_MILLIS = 5_000;
    static final long DEFAULT_MAX_BYTES = 16L << 20;
    private static final int MAGIC = 0x53504c53; // "SPLS"
    private static final int FORMAT = 1;
    static final int SEGMENT_HEADER = 16;
    static final int RECORD_HEADER = 24;
    private static final int PAGE = 4096;
    static final boolean PREPARE = Boolean.parseBoolean(System.getProperty("spillway.sentLogPrepare", "true"));
    /** At most this many segments are prepared at open (32 MiB); a ring for a larger resend buffer grows as used. */
    static final int MAX_PREPARED = 8;
    private static final String PREFIX = "segment-";
    private static final String SUFFIX = ".log";

    private final Path dir;
    private final Durability durability;
    private final long retainMillis;
    private final long maxBytes;
    private final ReentrantLock appendLock = new ReentrantLock();
    /** Records handed in by {@link #submit} and not yet written; written by whoever holds the lock next. */
    private final ConcurrentLinkedQueue<Pending> pending = new ConcurrentLinkedQueue<>();
    private final CRC32 crc = new CRC32();
    private final ByteBuffer scratch = ByteBuffer.allocate(RECORD_HEADER);
    /** Every segment on disk, in no particular order. Guarded by {@link #appendLock}. */
    private final List<Segment> segments = new ArrayList<>();
    private Segment current;
    private long nextSeq;
    /** The newest acknowledged-at time written to the log (by this process or a predecessor): its clock. */
    private long newestWritten = Long.MIN_VALUE;
    private int nextSlot;
    private long failedAppends;
    private volatile String runId;
    /** Writes acknowledged at or after this time (epoch ms) no replica has confirmed; {@link Long#MAX_VALUE}: none. */
    private volatile long keepSince = Long.MAX_VALUE;
    private boolean closed;

    /** One segment file, mapped. */
    private static final class Segment {
        final Path file;
        final MappedByteBuffer buf;
        final boolean oversize;
        long seq;
        int end;
        long newestAckedAt = Long.MIN_VALUE;
        long encodedBytes;
        /** With POWER_LOSS: where the bytes not yet forced to disk start. */
        int unsynced;

        Segment(Path file, MappedByteBuffer buf, boolean oversize) {
            this.file = file;
            this.buf = buf;
            this.oversize = oversize;
        }
    }

    private SentLog(Path dir, Durability durability, long windowMillis, long maxBytes) {
        this.dir = dir;
        this.durability = durability;
        this.retainMillis = Math.max(0, windowMillis) + RETAIN_MARGIN_MILLIS;
        this.maxBytes = maxBytes;
        try {
            PrivateDirectory.ensure(dir);
            Path runIdFile = dir.resolve(RUN_ID_FILE);
            if (Files.exists(runIdFile)) {
                String id = Files.readString(runIdFile, StandardCharsets.US_ASCII).trim();
                runId = id.isEmpty() ? null : id;
            }
            Path markFile = dir.resolve(REPLICA_MARK_FILE);
            if (Files.exists(markFile)) {
                try {
                    keepSince = Long.parseLong(Files.readString(markFile, StandardCharsets.US_ASCII).trim());
                } catch (NumberFormatException e) {
                    keepSince = Long.MIN_VALUE; // unreadable: keep what is there rather than risk it
                }
            }
            deleteOldFormat();
            try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, PREFIX + "*" + SUFFIX)) {
                for (Path f : files) {
                    int slot = slotOf(f);
                    if (slot < 0) {
                        continue;
                    }
                    long size = Files.size(f);
                    // A file of another size (a record of its own, or cut short) is never reused: deleted when done.
                    Segment s = map(f, (int) Math.min(Integer.MAX_VALUE, size), size != SEGMENT_BYTES);
                    scan(s);
                    segments.add(s);
                    nextSeq = Math.max(nextSeq, s.seq + 1);
                    newestWritten = Math.max(newestWritten, s.newestAckedAt);
                    nextSlot = Math.max(nextSlot, slot + 1);
                }
            }
            if (PREPARE) {
                prepareRing();
            }
        } catch (IOException e) {
            unmapAll();
            throw new JournalException("Sent log " + dir + " cannot be opened: " + e.getMessage(), e);
        }
    }

    /** Opens (or creates) the sent log of a journal directory, for the default resend window and buffer. */
    public static SentLog open(Path journalDir, Durability durability) {
        return open(journalDir, durability, DEFAULT_WINDOW_MILLIS, DEFAULT_MAX_BYTES);
    }

    /**
     * Opens (or creates) the sent log of a journal directory.
     *
     * @param windowMillis the resend window: writes at least this recent are kept
     * @param maxBytes the resend buffer: a successor restores at most this many bytes of writes, so older ones
     *     may go once newer ones add up to it
     */
    public static SentLog open(Path journalDir, Durability durability, long windowMillis, long maxBytes) {
        return new SentLog(journalDir.resolve(DIR), durability, windowMillis, maxBytes);
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

    /**
     * Records that a replica has every write acknowledged before {@code millis} (epoch ms; {@link Long#MIN_VALUE}: no
     * write confirmed yet, {@link Long#MAX_VALUE}: not watched), from {@link ReplicaWatch}. The writes from then on are
     * kept in the ring past the window (up to the resend buffer's bytes), and a successor restores them too
     * ({@link #recent}): a failover to a replica that lacks them would lose them otherwise, after this producer died.
     * Written to a small file when it changes (at most about once a second). Best effort.
     */
    public void keepSince(long millis) {
        if (millis == keepSince) {
            return;
        }
        keepSince = millis;
        Path file = dir.resolve(REPLICA_MARK_FILE);
        Path tmp = dir.resolve(REPLICA_MARK_FILE + ".tmp");
        try {
            if (millis == Long.MAX_VALUE) {
                Files.deleteIfExists(file);
            } else {
                Files.writeString(tmp, Long.toString(millis), StandardCharsets.US_ASCII);
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            }
        } catch (IOException e) {
            log.warn("Sent log {}: cannot record up to when a replica confirmed the writes: {}", dir, e.getMessage());
        }
    }

    /** Up to when a replica confirmed the writes, as last recorded ({@link #keepSince(long)}). */
    public long keepSince() {
        return keepSince;
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
                sync();
            } catch (RuntimeException | InternalError ex) { // InternalError: a fault in the mapping (a full disk)
                appendFailed(ex);
            }
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
    }

    /**
     * Holding {@link #appendLock}: writes the records handed in (forced to disk with {@link Durability#POWER_LOSS}),
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
            } catch (RuntimeException | InternalError ex) { // InternalError: a fault in the mapping (a full disk)
                appendFailed(ex);
            }
        }
        try {
            sync();
        } catch (RuntimeException | InternalError ex) {
            appendFailed(ex);
        } finally {
            for (Pending p : done) {
                p.written = true;
            }
        }
    }

    /** Holding {@link #appendLock}. */
    private void write(byte[] encoded, long ackedAtMillis) {
        int need = RECORD_HEADER + encoded.length;
        Segment s = current;
        if (s == null || s.end + need > s.buf.capacity()) {
            s = roll(need);
        }
        int at = s.end;
        MappedByteBuffer b = s.buf;
        b.putInt(at, encoded.length);
        b.putInt(at + 4, checksum(crc, scratch, s.seq, ackedAtMillis, encoded));
        b.putLong(at + 8, s.seq);
        b.putLong(at + 16, ackedAtMillis);
        b.put(at + RECORD_HEADER, encoded);
        s.end = at + need;
        s.encodedBytes += encoded.length;
        s.newestAckedAt = Math.max(s.newestAckedAt, ackedAtMillis);
        newestWritten = Math.max(newestWritten, ackedAtMillis);
    }

    /** With POWER_LOSS: forces what was written since the last call to disk. Holding {@link #appendLock}. */
    private void sync() {
        if (durability == Durability.POWER_LOSS && current != null && current.end > current.unsynced) {
            current.buf.force(current.unsynced, current.end - current.unsynced);
            current.unsynced = current.end;
        }
    }

    /**
     * Starts the next segment for a record of {@code need} bytes: a segment whose writes can no longer be
     * needed if there is one, else a new file. Holding {@link #appendLock}.
     */
    private Segment roll(int need) {
        sync();
        List<Segment> reusable = reusable();
        boolean fits = need <= SEGMENT_BYTES - SEGMENT_HEADER;
        Segment next = fits ? reusable.stream().filter(s -> !s.oversize).findFirst().orElse(null) : null;
        // Reusable segments beyond the ring's steady size go (oversize ones always).
        int excess = ringFiles() - ringSegments();
        for (Segment s : reusable) {
            if (s != next && s.oversize) {
                delete(s);
            } else if (s != next && excess > 0) {
                delete(s);
                excess--;
            }
        }
        if (next == null) {
            int size = fits ? SEGMENT_BYTES : roundUp(SEGMENT_HEADER + need);
            int slot = nextSlot++;
            Path f = dir.resolve(PREFIX + slot + SUFFIX);
            try {
                next = map(f, size, !fits);
            } catch (IOException e) {
                throw new JournalException("Sent log " + dir + ": cannot create " + f.getFileName() + ": " + e.getMessage(), e);
            }
            segments.add(next);
        }
        next.seq = nextSeq++;
        next.end = SEGMENT_HEADER;
        next.unsynced = 0;
        next.newestAckedAt = Long.MIN_VALUE;
        next.encodedBytes = 0;
        next.buf.putInt(0, MAGIC);
        next.buf.putInt(4, FORMAT);
        next.buf.putLong(8, next.seq);
        // No stale record may follow the header as if it were of this use: the first record's length is zeroed
        // (a stale one would carry another sequence number anyway, and fail the check).
        if (next.buf.capacity() >= SEGMENT_HEADER + 4) {
            next.buf.putInt(SEGMENT_HEADER, 0);
        }
        current = next;
        return next;
    }

    /**
     * The segments, other than the current one, that hold no write a successor could restore, oldest first:
     * their newest write is older than the retention (counted back from the newest write in the log, the same
     * clock {@link #recent} uses, so a jump of the wall clock changes nothing), or newer segments hold the resend
     * buffer's bytes.
     */
    private List<Segment> reusable() {
        long before = newestWritten == Long.MIN_VALUE ? Long.MIN_VALUE : newestWritten - retainMillis;
        long keep = keepSince;
        if (keep != Long.MAX_VALUE) {
            before = Math.min(before, keep == Long.MIN_VALUE ? Long.MIN_VALUE : keep - RETAIN_MARGIN_MILLIS);
        }
        List<Segment> newestFirst = new ArrayList<>(segments);
        newestFirst.sort(Comparator.comparingLong((Segment s) -> s.seq).reversed());
        List<Segment> out = new ArrayList<>();
        long newerBytes = 0;
        for (Segment s : newestFirst) {
            if (s != current && (s.newestAckedAt < before || s.seq < 0 || newerBytes >= maxBytes)) {
                out.add(s);
            }
            newerBytes += s.encodedBytes;
        }
        Collections.reverse(out);
        return out;
    }

    private void delete(Segment s) {
        segments.remove(s);
        unmap(s.buf);
        try {
            Files.deleteIfExists(s.file);
        } catch (IOException e) {
            log.warn("Sent log {}: cannot delete {}: {}", dir, s.file.getFileName(), e.getMessage());
        }
    }

    private void appendFailed(Throwable ex) {
        // One line for the first failure and then one per 10,000 (a full disk fails every append).
        if (failedAppends++ % 10_000 == 0) {
            log.warn("Sent log {}: append failed ({}; {} failed so far): these writes cannot be re-sent by a"
                    + " restarted producer", dir, ex.getMessage(), failedAppends);
        }
    }

    /**
     * The writes acknowledged within {@code windowMillis} of the newest one in the log, and every older one no
     * replica confirmed ({@link #keepSince(long)}) that is not older than {@code maxAgeMillis}, oldest first: what
     * a producer started on this journal sends again if Redis restarted since. Nothing if the newest is
     * older than {@code maxAgeMillis}: jobs that old may have completed and lost their completion marker
     * (the worker keeps it for a day by default), and sending them again would run them again.
     */
    public List<RecentWrites.Entry> recent(long windowMillis, long maxAgeMillis, long nowMillis) {
        appendLock.lock();
        try {
            if (closed) {
                throw new IllegalStateException("Sent log " + dir + " is closed"); // its files are unmapped
            }
            writePending();
            List<Segment> newestFirst = new ArrayList<>(segments);
            newestFirst.sort(Comparator.comparingLong((Segment s) -> s.seq).reversed());
            List<RecentWrites.Entry> out = new ArrayList<>();
            long newest = Long.MIN_VALUE;
            long keep = keepSince; // and what no replica confirmed, up to the maximum age
            int[] skipped = {0};
            outer:
            for (Segment s : newestFirst) {
                List<RecentWrites.Entry> records = read(s, skipped);
                for (int i = records.size() - 1; i >= 0; i--) {
                    RecentWrites.Entry e = records.get(i);
                    newest = Math.max(newest, e.ackedAtMillis());
                    if (e.ackedAtMillis() < newest - windowMillis
                            && (e.ackedAtMillis() < keep || e.ackedAtMillis() < nowMillis - maxAgeMillis)) {
                        break outer; // past the window, and confirmed by a replica or too old to send again
                    }
                    out.add(e);
                }
            }
            if (skipped[0] > 0) {
                log.warn("Sent log {}: {} torn or corrupt records skipped", dir, skipped[0]);
            }
            Collections.reverse(out);
            if (!out.isEmpty() && out.get(out.size() - 1).ackedAtMillis() < nowMillis - maxAgeMillis) {
                log.info("Sent log {}: the last writes are older than {} s: not sent again", dir, maxAgeMillis / 1000);
                return List.of();
            }
            return out;
        } finally {
            appendLock.unlock();
        }
    }

    /** The records of a segment, in order; torn or corrupt ones are counted in {@code skipped[0]}. */
    private List<RecentWrites.Entry> read(Segment s, int[] skipped) {
        List<RecentWrites.Entry> out = new ArrayList<>();
        MappedByteBuffer b = s.buf;
        CRC32 c = new CRC32();
        ByteBuffer head = ByteBuffer.allocate(RECORD_HEADER);
        int at = SEGMENT_HEADER;
        while (at + RECORD_HEADER <= s.end) {
            int len = b.getInt(at);
            long seq = b.getLong(at + 8);
            if (len <= 0 || seq != s.seq || at + RECORD_HEADER + len > s.end) {
                break; // cannot happen below s.end, which scan() set at the last record of this use
            }
            int stored = b.getInt(at + 4);
            long ackedAt = b.getLong(at + 16);
            byte[] data = new byte[len];
            b.get(at + RECORD_HEADER, data);
            at += RECORD_HEADER + len;
            if (checksum(c, head, seq, ackedAt, data) != stored) {
                skipped[0]++;
                continue;
            }
            try {
                out.add(new RecentWrites.Entry(ackedAt, JobCodec.decode(data), data));
            } catch (IllegalArgumentException bad) {
                skipped[0]++;
            }
        }
        return out;
    }

    /** A record's CRC32: over its length, sequence number, acknowledged-at time and data. */
    private static int checksum(CRC32 c, ByteBuffer scratch, long seq, long ackedAtMillis, byte[] data) {
        scratch.clear();
        scratch.putInt(data.length).putLong(seq).putLong(ackedAtMillis);
        c.reset();
        c.update(scratch.array(), 0, scratch.position());
        c.update(data);
        return (int) c.getValue();
    }

    /**
     * Finds where a segment's records of its current use end, their newest acknowledged-at time and their
     * bytes. A segment with no valid header holds nothing (and is reused first).
     */
    private static void scan(Segment s) {
        MappedByteBuffer b = s.buf;
        int cap = b.capacity();
        if (cap < SEGMENT_HEADER || b.getInt(0) != MAGIC || b.getInt(4) != FORMAT) {
            s.seq = -1;
            s.end = SEGMENT_HEADER;
            return;
        }
        s.seq = b.getLong(8);
        int at = SEGMENT_HEADER;
        while (at + RECORD_HEADER <= cap) {
            int len = b.getInt(at);
            if (len <= 0 || b.getLong(at + 8) != s.seq || len > cap - at - RECORD_HEADER) {
                break;
            }
            // The checksum is checked when the records are read; here a record with a plausible header counts.
            s.newestAckedAt = Math.max(s.newestAckedAt, b.getLong(at + 16));
            s.encodedBytes += len;
            at += RECORD_HEADER + len;
        }
        s.end = at;
    }

    /**
     * The segments of the ring in its steady state: those that may hold the resend buffer's bytes, the current one
     * and {@value #SPARE_SEGMENTS} spares (8 for the default 16 MiB: 32 MiB on disk).
     */
    int ringSegments() {
        return (int) Math.min(1 << 20, (maxBytes + SEGMENT_BYTES - SEGMENT_HEADER - 1) / (SEGMENT_BYTES - SEGMENT_HEADER))
                + 1 + SPARE_SEGMENTS;
    }

    /**
     * At open: creates the segments the ring lacks and writes to each of their pages once (zeros, before any record
     * is in them). Without it a new producer's first pass through the ring faulted in a fresh page every dozen
     * records while appends held the lock and the other threads waited: with 8 threads, a new producer's first
     * 3 s ran at 0.85-0.91× of a producer without the sent log, a long-lived one at 1.0× (bench ProfileSingle
     * -DcompareSentLog=true; docs/benchmarks.md, "Session 6"). About 8,000 page writes at open: 0.12 s on that VM
     * (bench SentLogOpen). A never-used segment is reusable at once ({@code seq} -1). Best effort: a failure (a full
     * disk) is logged, and the ring then grows as appends need it. {@code -Dspillway.sentLogPrepare=false} turns it
     * off.
     */
    private void prepareRing() {
        for (int i = ringFiles(); i < Math.min(ringSegments(), MAX_PREPARED); i++) {
            Path f = dir.resolve(PREFIX + nextSlot + SUFFIX);
            Segment seg = null;
            try {
                seg = map(f, SEGMENT_BYTES, false);
                for (int p = 0; p < SEGMENT_BYTES; p += PAGE) {
                    seg.buf.put(p, (byte) 0);
                }
            } catch (IOException | RuntimeException | InternalError e) { // InternalError: a fault in the mapping (no space)
                log.warn("Sent log {}: cannot prepare {} ({}); the ring grows as it is used", dir, f.getFileName(), e.toString());
                if (seg != null) {
                    unmap(seg.buf);
                }
                try {
                    Files.deleteIfExists(f);
                } catch (IOException ignored) {
                    // an empty file, reused or deleted by a later open
                }
                return;
            }
            nextSlot++;
            seg.seq = -1;
            seg.end = SEGMENT_HEADER;
            segments.add(seg);
        }
    }

    /** The segments of the ring's size on disk (those holding one oversize record are not). */
    private int ringFiles() {
        int n = 0;
        for (Segment s : segments) {
            if (!s.oversize) {
                n++;
            }
        }
        return n;
    }

    /**
     * Maps a segment file of {@code size} bytes. A file shorter than that is first filled up with zeros through the
     * channel, not extended as a sparse file: then every page of the mapping has its disk blocks, and a full disk is an
     * IOException here, not a fault (SIGBUS, which the JVM throws as an InternalError at some later point of the
     * writing thread) in a later write to the mapping. A file this call could not fill up is deleted.
     */
    private Segment map(Path f, int size, boolean oversize) throws IOException {
        boolean created = !Files.exists(f);
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            long length = raf.length();
            if (length > size) {
                raf.setLength(size);
            } else if (length < size) {
                FileChannel ch = raf.getChannel();
                ByteBuffer zeros = ByteBuffer.allocate(64 << 10);
                for (long at = length; at < size; ) {
                    zeros.clear().limit((int) Math.min(zeros.capacity(), size - at));
                    at += ch.write(zeros, at);
                }
            }
            MappedByteBuffer buf = raf.getChannel().map(FileChannel.MapMode.READ_WRITE, 0, size);
            return new Segment(f, buf, oversize);
        } catch (IOException e) {
            if (created) {
                Files.deleteIfExists(f);
            }
            throw e;
        }
    }

    /** The sent log of versions before 0.1.0 was a Chronicle queue; its files are not read, and are deleted. */
    private void deleteOldFormat() throws IOException {
        int deleted = 0;
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*.{cq4,cq4t}")) {
            for (Path f : files) {
                Files.deleteIfExists(f);
                deleted++;
            }
        }
        if (deleted > 0) {
            log.warn("Sent log {}: {} files of the earlier format deleted; the writes in them are not sent again", dir, deleted);
        }
    }

    private static int slotOf(Path f) {
        String name = f.getFileName().toString();
        try {
            return Integer.parseInt(name.substring(PREFIX.length(), name.length() - SUFFIX.length()));
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private static int roundUp(int bytes) {
        return (int) Math.min(Integer.MAX_VALUE - 4095, ((long) bytes + 4095) & ~4095L);
    }

    /** Segment files on disk (for tests). */
    int segmentFiles() {
        appendLock.lock();
        try {
            return segments.size();
        } finally {
            appendLock.unlock();
        }
    }

    @Override
    public void close() {
        appendLock.lock();
        try {
            if (closed) {
                return;
            }
            flushPending();
            sync();
            closed = true;
            unmapAll();
        } finally {
            appendLock.unlock();
        }
    }

    private void unmapAll() {
        for (Segment s : segments) {
            unmap(s.buf);
        }
        segments.clear();
        current = null;
    }

    private static final Object UNSAFE = unsafe();

    private static Object unsafe() {
        try {
            Class<?> c = Class.forName("sun.misc.Unsafe");
            Field f = c.getDeclaredField("theUnsafe");
            f.setAccessible(true);
            return f.get(null);
        } catch (ReflectiveOperationException | RuntimeException e) {
            return null;
        }
    }

    /** Unmaps a mapped buffer now rather than at some later GC (so the file's pages and handle go at close). */
    private static void unmap(MappedByteBuffer buf) {
        if (UNSAFE == null) {
            return; // unmapped when collected
        }
        try {
            UNSAFE.getClass().getMethod("invokeCleaner", ByteBuffer.class).invoke(UNSAFE, buf);
        } catch (ReflectiveOperationException | RuntimeException e) {
            // unmapped when collected
        }
    }
}
