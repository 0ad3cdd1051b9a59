package io.spillway.metrics.internal;

import io.spillway.core.JournalException;
import io.spillway.core.JournalLockedException;
import io.spillway.core.internal.ChronicleJournal;
import io.spillway.core.internal.FileLocks;
import io.spillway.core.internal.Frame;
import io.spillway.core.internal.JobCodec;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.BiConsumer;
import java.util.stream.Stream;
import net.openhft.chronicle.queue.ExcerptTailer;
import net.openhft.chronicle.queue.RollCycles;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueue;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueueBuilder;
import net.openhft.chronicle.wire.DocumentContext;

/**
 * Reads a producer's journal directory without writing to it: for {@code spillway journal inspect},
 * {@code spillway status --journal} and the standalone reporter's periodic look.
 *
 * <p>Why not {@link ChronicleJournal#open}: that is the producer's writer. Every open creates the lock and
 * positions files if they are missing, appends a metadata entry and creates the current hour's cycle file
 * (an 80 MB sparse file), so a look every 30 s left a new cycle file every hour in a journal nobody writes,
 * and a look at a directory that was not a journal turned it into one.
 *
 * <p>Invariants:
 * <ul>
 *   <li>Creates, writes and deletes nothing: the Chronicle queue is opened read-only, {@code positions} is
 *       read with a plain read, and the lock is taken (shared) on the {@code spillway.lock} that is there,
 *       never created.</li>
 *   <li>Opens only a Spillway journal: a directory holding {@value #METADATA_FILE} or {@value #POSITIONS_FILE}
 *       ({@link #isJournal}).</li>
 *   <li>Opened with {@link #open}, it holds a shared lock on {@code spillway.lock} while open: a journal held by a
 *       live producer is refused with {@link JournalLockedException}, and a producer starting in that moment gets
 *       {@link JournalLockedException} and must be retried, as with a {@link ChronicleJournal} opened by a tool.</li>
 *   <li>Opened with {@link #openEvenInUse}, a journal a live producer holds is read all the same, without the lock
 *       ({@link #inUse()} says so): Chronicle Queue lets a read-only reader follow a queue another process writes,
 *       and {@code positions} is read as it stands. The figures are those of the moment of the read: the producer
 *       goes on spooling and replaying meanwhile, and may delete a cycle file wholly behind its replay position
 *       under the reader (a read may then fail; read again).</li>
 *   <li>Records are decoded as {@link ChronicleJournal} writes them: a frame {@code u8 version | i32
 *       crc32(data) | i32 length | JobCodec bytes}, read with core's {@link Frame}; {@code JournalReaderTest}
 *       checks the reader agrees with {@link ChronicleJournal} on journals it wrote. A frame that fails its checks comes back as an entry with a null
 *       job (corrupt), as from {@link ChronicleJournal#read}.</li>
 * </ul>
 * Not thread-safe: one caller at a time.
 */
public final class JournalReader implements AutoCloseable {
    /** Chronicle's queue metadata: there once a producer has opened the directory. */
    public static final String METADATA_FILE = "metadata.cq4t";
    /** The replay positions (two longs: replayed, safe to delete), as {@link ChronicleJournal} writes them. */
    public static final String POSITIONS_FILE = "positions";
    private static final String LOCK_FILE = "spillway.lock";

    /** What the records after the replay position add up to. {@code oldestEnqueuedAt} is -1 when there are none. */
    public record Backlog(long jobs, long bytes, Map<String, Long> byQueue, long oldestEnqueuedAt, long corrupt) {
        /** Age of the oldest job not yet replayed, 0 when there is none. */
        public long oldestAgeMillis(long nowMillis) {
            return oldestEnqueuedAt < 0 ? 0 : Math.max(0, nowMillis - oldestEnqueuedAt);
        }
    }

    private final Path dir;
    private final FileLocks.Held lock;
    private final long replayed;
    private final long safe;
    private final SingleChronicleQueue queue;
    private final boolean inUse;

    private JournalReader(Path dir, boolean evenInUse) {
        this.dir = dir;
        Path lockFile = dir.resolve(LOCK_FILE);
        FileLocks.Held l = null;
        boolean held = false;
        if (Files.exists(lockFile)) {
            try {
                // Through FileLocks: held in this very JVM (a producer next to the reporter), the file is not opened,
                // as closing it would drop the producer's lock for every other process.
                l = FileLocks.tryLockShared(lockFile);
            } catch (java.nio.file.NoSuchFileException e) {
                l = null; // removed meanwhile: not in use
            } catch (IOException e) {
                throw new JournalException("Journal " + dir + " cannot be read: " + e.getMessage(), e);
            }
            if (l == null && Files.exists(lockFile)) {
                held = true;
                if (!evenInUse) {
                    throw new JournalLockedException("Journal " + dir + " is in use by a running producer");
                }
            }
        }
        this.lock = l;
        this.inUse = held;
        try {
            this.replayed = readPosition(dir.resolve(POSITIONS_FILE), 0);
            this.safe = readPosition(dir.resolve(POSITIONS_FILE), 8);
            // Without metadata a producer died between creating positions and the queue: no records yet.
            this.queue = Files.exists(dir.resolve(METADATA_FILE))
                    ? SingleChronicleQueueBuilder.single(dir.toFile()).readOnly(true).rollCycle(RollCycles.FAST_HOURLY).build()
                    : null;
        } catch (IOException | RuntimeException e) {
            release();
            throw new JournalException("Journal " + dir + " cannot be read: " + e.getMessage(), e);
        }
    }

    /** Whether {@code dir} is a Spillway journal: it holds {@value #METADATA_FILE} or {@value #POSITIONS_FILE}. */
    public static boolean isJournal(Path dir) {
        return Files.isRegularFile(dir.resolve(METADATA_FILE)) || Files.isRegularFile(dir.resolve(POSITIONS_FILE));
    }

    /** Whether {@code dir} is a directory with nothing in it. */
    public static boolean isEmptyDirectory(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.findAny().isEmpty();
        }
    }

    /**
     * Opens a journal for reading.
     *
     * @throws IllegalArgumentException if {@code dir} is not a Spillway journal ({@link #isJournal})
     * @throws JournalLockedException if a running producer holds it
     * @throws JournalException if it cannot be read
     */
    public static JournalReader open(Path dir) {
        Path abs = dir.toAbsolutePath();
        if (!isJournal(abs)) {
            throw new IllegalArgumentException(abs + " is not a Spillway journal (no " + METADATA_FILE + " or "
                    + POSITIONS_FILE + " in it)");
        }
        return new JournalReader(abs, false);
    }

    /**
     * Opens a journal for reading, even while a running producer holds it ({@link #inUse()} then says so): the
     * figures are those of the moment, read without the lock, so that an operator sees the backlog of a live
     * producer in the middle of an outage without stopping it (which would make its application refuse jobs).
     *
     * @throws IllegalArgumentException if {@code dir} is not a Spillway journal ({@link #isJournal})
     * @throws JournalException if it cannot be read
     */
    public static JournalReader openEvenInUse(Path dir) {
        Path abs = dir.toAbsolutePath();
        if (!isJournal(abs)) {
            throw new IllegalArgumentException(abs + " is not a Spillway journal (no " + METADATA_FILE + " or "
                    + POSITIONS_FILE + " in it)");
        }
        return new JournalReader(abs, true);
    }

    /**
     * Whether a running producer holds the journal (only with {@link #openEvenInUse}): it goes on spooling and
     * replaying, so the figures read are those of the moment, and it replays its backlog itself once Redis is healthy.
     */
    public boolean inUse() {
        return inUse;
    }

    /**
     * Whether a running producer holds the journal in {@code dir} now (its lock is taken), without reading it. A
     * directory without a lock file is not in use.
     */
    public static boolean isInUse(Path dir) {
        Path lockFile = dir.toAbsolutePath().resolve(LOCK_FILE);
        if (!Files.exists(lockFile)) {
            return false;
        }
        try {
            return FileLocks.isLocked(lockFile); // held in this very JVM too, without opening the file then
        } catch (IOException e) {
            throw new JournalException("Journal " + dir + " cannot be read: " + e.getMessage(), e);
        }
    }

    public Path dir() {
        return dir;
    }

    /** Index of the last replayed record, -1 if none. */
    public long replayedIndex() {
        return replayed;
    }

    /**
     * Index up to which records are no longer needed, -1 if none: the records after it up to {@link #replayedIndex()}
     * are kept for a re-send after a Redis restart (the resend window; a write-ahead producer's jobs until they finish).
     */
    public long safeToDeleteIndex() {
        return safe;
    }

    /** The number of cycle files on disk. */
    public int cycleFiles() {
        try (Stream<Path> files = Files.list(dir)) {
            return (int) files.filter(p -> p.getFileName().toString().endsWith(SingleChronicleQueue.SUFFIX)).count();
        } catch (IOException e) {
            throw new JournalException("Journal " + dir + " cannot be listed: " + e.getMessage(), e);
        }
    }

    /** Reads every record still on disk, oldest first, with whether it was replayed. Corrupt records have a null job. */
    public void forEachRecord(BiConsumer<ChronicleJournal.Entry, Boolean> visitor) {
        if (queue == null) {
            return;
        }
        try (ExcerptTailer t = queue.createTailer()) {
            t.toStart();
            ChronicleJournal.Entry e;
            while ((e = readOne(t)) != null) {
                visitor.accept(e, replayed != -1 && e.index() <= replayed);
            }
        }
    }

    /** The records not yet replayed, added up (what a producer opening this journal would replay). */
    public Backlog backlog() {
        long[] sums = new long[3]; // jobs, bytes, corrupt
        long[] oldest = {-1};
        Map<String, Long> byQueue = new TreeMap<>();
        forEachRecord((e, wasReplayed) -> {
            if (wasReplayed) {
                return;
            }
            sums[0]++;
            sums[1] += e.frameBytes();
            if (e.job() == null) {
                sums[2]++;
                return;
            }
            if (oldest[0] < 0) {
                oldest[0] = e.job().enqueuedAt();
            }
            byQueue.merge(e.job().queue().value(), 1L, Long::sum);
        });
        return new Backlog(sums[0], sums[1], Map.copyOf(byQueue), oldest[0], sums[2]);
    }

    /** The next record, past cycle markers ({@link Frame#isMarker}); null at the end. */
    private static ChronicleJournal.Entry readOne(ExcerptTailer t) {
        while (true) {
            try (DocumentContext dc = t.readingDocument()) {
                if (!dc.isPresent()) {
                    return null;
                }
                ChronicleJournal.Entry e = ChronicleJournal.decode(dc.index(), dc.wire().bytes());
                if (e != null) {
                    return e;
                }
            }
        }
    }

    /** One of the two longs of {@code positions} (replayed at 0, safe to delete at 8); -1 if there is none. */
    private static long readPosition(Path positions, int offset) throws IOException {
        if (!Files.exists(positions)) {
            return -1;
        }
        try (FileChannel ch = FileChannel.open(positions, StandardOpenOption.READ)) {
            if (ch.size() < 16) {
                return -1; // ChronicleJournal starts such a file afresh: nothing was replayed
            }
            ByteBuffer buf = ByteBuffer.allocate(8); // big-endian, as ChronicleJournal's MappedByteBuffer wrote it
            while (buf.hasRemaining()) {
                if (ch.read(buf, offset + buf.position()) < 0) {
                    return -1;
                }
            }
            return buf.getLong(0);
        }
    }

    @Override
    public void close() {
        try {
            if (queue != null) {
                queue.close();
            }
        } finally {
            release();
        }
    }

    private void release() {
        closeQuietly(lock);
    }

    private static void closeQuietly(AutoCloseable c) {
        if (c == null) {
            return;
        }
        try {
            c.close();
        } catch (Exception ignored) {
            // nothing more to do
        }
    }
}
