package io.spillway.core.internal;

import com.codahale.metrics.Counter;
import com.codahale.metrics.Gauge;
import com.codahale.metrics.MetricRegistry;
import io.spillway.core.Durability;
import io.spillway.core.JournalException;
import io.spillway.core.JournalFullException;
import io.spillway.core.JournalLockedException;
import io.spillway.core.MetricNames;
import io.spillway.core.QueueName;
import java.io.IOException;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.CRC32;
import net.openhft.chronicle.bytes.Bytes;
import net.openhft.chronicle.bytes.SyncMode;
import net.openhft.chronicle.core.time.TimeProvider;
import net.openhft.chronicle.queue.ExcerptAppender;
import net.openhft.chronicle.queue.ExcerptTailer;
import net.openhft.chronicle.queue.RollCycle;
import net.openhft.chronicle.queue.RollCycles;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueue;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueueBuilder;
import net.openhft.chronicle.wire.DocumentContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The spillway: an on-disk journal (Chronicle Queue) of jobs Redis could not take.
 *
 * <p>Invariants:
 * <ul>
 *   <li>One directory, one process: a file lock on {@code spillway.lock}; a second opener gets
 *       {@link JournalLockedException}.</li>
 *   <li>Each record is a frame {@code u8 version | i32 crc32(job) | i32 length | JobCodec bytes}. A frame
 *       that fails its checks (a flipped byte, a torn write) is counted, logged and skipped; it never stops
 *       the records after it from replaying.</li>
 *   <li>Two positions live in {@code positions} (a memory-mapped 16-byte file that survives kill -9):
 *       <i>replayed</i> (the last index sent to Redis) and <i>safe to delete</i> (the last index whose
 *       record is no longer needed). By default the second trails the first by a hold-back window; in the
 *       write-ahead mode ({@link #HOLD_UNTIL_CONFIRMED}) it moves only when {@link #confirm} is told that the jobs
 *       of the records are completed or dead. Cycle files wholly behind <i>safe to delete</i> are deleted.</li>
 *   <li>The backlog (records after <i>replayed</i>) is counted in memory, per queue too; it is rebuilt by a
 *       scan at open, and so are the <i>unconfirmed</i> records (between the two positions) in the write-ahead
 *       mode. Past {@code maxBytes} of both, {@link #append} throws {@link JournalFullException}.</li>
 *   <li>Appends are thread-safe (serialised). Reading ({@link #read}, {@link #commit}, {@link #rewind}) is
 *       for one thread at a time: the replayer's.</li>
 * </ul>
 */
public final class ChronicleJournal implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ChronicleJournal.class);
    public static final long DEFAULT_MAX_BYTES = 1L << 30;
    /**
     * The usable space an append must leave on the journal's file system (see {@link DiskSpace}): below it, jobs that
     * need the journal are refused with {@link JournalFullException} instead of written into pages the disk cannot back.
     */
    public static final long DEFAULT_MIN_FREE_DISK_BYTES = 64L << 20;
    /** Room a cycle marker (and the file and index Chronicle creates with it) is given. */
    private static final long MARKER_ROOM = 1L << 20;
    /**
     * The hold-back of the write-ahead mode: a replayed record stays until {@link #confirm} is told its job completed
     * (or was dead-lettered), however long that takes; {@link #rewindRecent()} sends every unconfirmed record again.
     */
    public static final long HOLD_UNTIL_CONFIRMED = Long.MAX_VALUE;
    /** An empty file in the directory of a journal last opened in the write-ahead mode. */
    public static final String WRITE_AHEAD_FILE = "write-ahead";

    /** Whether the journal in {@code dir} was last opened in the write-ahead mode (a tool must open it so too). */
    public static boolean isWriteAhead(Path dir) {
        return Files.exists(dir.resolve(WRITE_AHEAD_FILE));
    }
    static final byte FRAME_VERSION = Frame.VERSION;
    static final int FRAME_HEADER = Frame.HEADER;
    static final RollCycle ROLL_CYCLE = RollCycles.FAST_HOURLY;
    private static final String LOCK_FILE = "spillway.lock";
    private static final String POSITIONS_FILE = "positions";

    /** One record read for replay; {@code job} is null for a corrupt record that must be skipped. */
    public record Entry(long index, JobRecord job, byte[] encoded, int frameBytes) {
    }

    private final Path dir;
    private final long maxBytes;
    private final Durability durability;
    private final SingleChronicleQueue queue;
    private final ExcerptAppender appender;
    private final ExcerptTailer tailer;
    private final FileLocks.Held lock;
    private final FileChannel positionsChannel;
    private final MappedByteBuffer positions;
    private final AtomicLong backlogJobs = new AtomicLong();
    private final AtomicLong backlogBytes = new AtomicLong();
    /** Write-ahead mode only: records replayed and not yet confirmed (between the two positions). */
    private final AtomicLong unconfirmedJobs = new AtomicLong();
    private final AtomicLong unconfirmedBytes = new AtomicLong();
    private final Map<QueueName, AtomicLong> perQueue = new ConcurrentHashMap<>();
    private final Counter corrupt;
    private volatile long oldestEnqueuedAt;
    private final Object appendLock = new Object();
    /**
     * Guards the positions and their checkpoints where more than one thread may move them: the replayer's commits
     * and rewinds, and {@link #prepareCycle}'s clean-up. Taken before appendLock, never after.
     */
    private final Object positionsLock = new Object();
    /** The cycle whose marker this journal wrote last (see {@link #prepareCycle}). */
    private volatile int markedCycle = Integer.MIN_VALUE;
    /** Room set aside by open {@link Reservation}s; under appendLock. */
    private long reservedBytes;
    private final long holdBackMillis;
    /**
     * The replay's commits not yet safe to delete: {time the batch was acknowledged, its last index}, oldest first. Under
     * positionsLock.
     */
    private final java.util.ArrayDeque<long[]> checkpoints = new java.util.ArrayDeque<>();
    /**
     * The last time (epoch ms) Redis is known to have been up with the writes it acknowledged before: a commit's, or a
     * heartbeat's that found the same run id ({@link #redisAlive}). A checkpoint becomes safe to delete once it is older
     * than this by the hold-back window; never by the clock alone, which would move past records Redis lost in a crash
     * while the outage lasts. Under positionsLock.
     */
    private long aliveMillis = Long.MIN_VALUE;
    /** Records replayed at or after this time (epoch ms) stay unsafe: no replica has confirmed them ({@link #keepSince}). */
    private volatile long keepSince = Long.MAX_VALUE;
    /** The wall clock, never going back: Chronicle's cycles and the hold-back windows follow it. */
    private final MonotonicTime clock;
    /** Whether the log said that the wall clock is behind the journal's; written under appendLock. */
    private volatile boolean clockBehindSaid;
    private final CRC32 appendCrc = new CRC32();
    /** The file system's free space; under appendLock. */
    private final DiskSpace disk;
    /** Whether the last append was refused for want of disk space (said once per episode); under appendLock. */
    private boolean diskLow;
    /** Whether the log said that the journal is at its cap, and the jobs not accepted since; under appendLock. */
    private boolean capFull;
    private long refusedAtCap;
    /** Set holding both locks; volatile for the reader's look ({@link #read}) after a close. */
    private volatile boolean closed;

    private ChronicleJournal(Path dir, long maxBytes, Durability durability, MetricRegistry registry,
                             TimeProvider timeProvider, long holdBackMillis, long minFreeDiskBytes) {
        this.dir = dir;
        this.holdBackMillis = holdBackMillis;
        MonotonicTime monotonic = new MonotonicTime(timeProvider != null ? timeProvider
                : net.openhft.chronicle.core.time.SystemTimeProvider.INSTANCE);
        this.clock = monotonic;
        this.maxBytes = maxBytes;
        this.durability = durability;
        try {
            PrivateDirectory.ensure(dir);
        } catch (IOException e) {
            throw new JournalException("Journal " + dir + " cannot be opened: " + Failures.describeFile(e), e);
        }
        FileLocks.Held l;
        try {
            // Through FileLocks: a second opener in this JVM must not open (and close) the file, which would drop the
            // first one's lock for every other process.
            l = FileLocks.tryLockExclusive(dir.resolve(LOCK_FILE), true, false);
        } catch (IOException e) {
            throw new JournalException("Journal " + dir + " cannot be locked: " + Failures.describeFile(e), e);
        }
        if (l == null) {
            throw new JournalLockedException("Journal " + dir + " is in use by another producer (process or instance):"
                    + " give each producer process its own journal directory");
        }
        this.lock = l;
        try {
            // Says the mode to tools that open the directory later (journal replay): they must keep the records too.
            if (holdBackMillis == HOLD_UNTIL_CONFIRMED) {
                if (!Files.exists(dir.resolve(WRITE_AHEAD_FILE))) {
                    Files.createFile(dir.resolve(WRITE_AHEAD_FILE));
                }
            } else {
                Files.deleteIfExists(dir.resolve(WRITE_AHEAD_FILE));
            }
        } catch (IOException e) {
            release();
            throw new JournalException("Journal " + dir + " cannot be opened: " + Failures.describeFile(e), e);
        }
        try {
            this.positionsChannel = FileChannel.open(dir.resolve(POSITIONS_FILE), StandardOpenOption.CREATE,
                    StandardOpenOption.READ, StandardOpenOption.WRITE);
            boolean fresh = positionsChannel.size() < 16;
            if (fresh) {
                // Written through the channel first: a full disk is then an IOException here, not a fault (SIGBUS) in
                // the mapped page below.
                positionsChannel.write(java.nio.ByteBuffer.allocate(16), 0);
            }
            this.positions = positionsChannel.map(FileChannel.MapMode.READ_WRITE, 0, 16);
            if (fresh) {
                positions.putLong(0, -1L);
                positions.putLong(8, -1L);
            }
            SingleChronicleQueueBuilder b = SingleChronicleQueueBuilder.single(dir.toFile())
                    .rollCycle(ROLL_CYCLE)
                    .syncMode(durability == Durability.POWER_LOSS ? SyncMode.SYNC : SyncMode.NONE);
            b.timeProvider(monotonic);
            this.queue = b.build();
            // A clock that went back (before this process started) must not make the appender pick a cycle before the
            // newest one on disk: that file is closed for writes.
            int newest = queue.lastCycle();
            if (newest != Integer.MIN_VALUE && newest >= 0) {
                monotonic.raiseTo((long) newest * ROLL_CYCLE.lengthInMillis());
                if (monotonic.behindMillis() > 1_000) {
                    clockBehindSaid = true;
                    log.warn("Journal {}: the wall clock is {} ms behind the start of the newest cycle file: spooled jobs go"
                            + " into that file, in order, until the clock catches up", dir, monotonic.behindMillis());
                }
            }
            this.appender = queue.createAppender();
            this.tailer = queue.createTailer();
            // Both are used from several threads, never at once: appends are serialised by appendLock, reads
            // by the replayer's lock. Chronicle's own one-thread check would refuse the hand-over.
            appender.singleThreadedCheckDisabled(true);
            tailer.singleThreadedCheckDisabled(true);
            this.disk = DiskSpace.of(dir, minFreeDiskBytes);
            // Create the current cycle file now, and its index: the first spool happens when Redis has just
            // failed, and must be a plain append (microseconds), not a file creation or the cycle's first record.
            if (disk.hasRoom(MARKER_ROOM, clock.currentTimeMillis())) {
                markCycle();
            } else {
                diskLow = true;
                log.warn("Journal {}: its disk has {} free, less than the {} kept free: jobs that Redis cannot take now are"
                        + " not accepted (JournalFullException) until there is room", dir, mb(disk.estimate()), mb(disk.floor()));
            }
        } catch (IOException | RuntimeException | InternalError e) { // InternalError: a fault in a mapping (no space)
            release();
            throw new JournalException("Journal " + dir + " cannot be opened: " + Failures.describeFile(e), e);
        }
        this.corrupt = registry.counter(MetricNames.JOURNAL_CORRUPT);
        registerGauge(registry, MetricNames.JOURNAL_BACKLOG, backlogJobs::get);
        registerGauge(registry, MetricNames.JOURNAL_BACKLOG_BYTES, backlogBytes::get);
        registerGauge(registry, MetricNames.JOURNAL_MAX_BYTES, () -> maxBytes);
        registerGauge(registry, MetricNames.JOURNAL_OLDEST_AGE, this::oldestAgeMillis);
        registerGauge(registry, MetricNames.JOURNAL_UNCONFIRMED, unconfirmedJobs::get);
        registerGauge(registry, MetricNames.JOURNAL_UNCONFIRMED_BYTES, unconfirmedBytes::get);
        registerGauge(registry, MetricNames.JOURNAL_DISK_FREE, disk::usableNow);
        registerGauge(registry, MetricNames.JOURNAL_DISK_MIN_FREE, disk::floor);
        positionTailerAfterReplayed();
        if (holdBackMillis > 0 && holdBackMillis != HOLD_UNTIL_CONFIRMED && positions.getLong(8) != positions.getLong(0)) {
            // Records an earlier process (a producer, the tool's replay) replayed within its hold-back window, at times
            // not kept: counted as replayed now, so that they are safe once Redis has been seen up for the window, and a
            // restart of Redis in between sends them again; not every record since the oldest such window, ever again.
            checkpoints.addLast(new long[] {clock.currentTimeMillis(), positions.getLong(0), WriteOrder.UNKNOWN});
        }
        scanBacklog();
        if (backlogJobs.get() > 0) {
            log.info("Journal {} holds {} jobs ({} bytes) not yet replayed", dir, backlogJobs.get(), backlogBytes.get());
        }
        if (backlogBytes.get() > maxBytes) {
            // A cap lowered below what an earlier process spooled: every job that must spool is refused until the
            // replay brings the journal under it.
            synchronized (appendLock) {
                atCap();
                refusedAtCap = 0;
            }
        }
        if (holdBackMillis == HOLD_UNTIL_CONFIRMED) {
            scanUnconfirmed();
            if (unconfirmedJobs.get() > 0) {
                log.info("Journal {} holds {} jobs sent to Redis and not yet confirmed completed", dir, unconfirmedJobs.get());
            }
        }
        warmAppendPath(dir);
    }

    /** The scratch journal of {@link #warmAppendPath}, a subdirectory of the journal directory. */
    static final String WARM_UP_DIR = "warm-up";
    static final int WARM_UP_APPENDS = Integer.getInteger("spillway.warmUpAppends", 2_000);
    private static final java.util.concurrent.atomic.AtomicBoolean WARMED = new java.util.concurrent.atomic.AtomicBoolean();

    /**
     * Once per JVM: appends a few thousand records to a scratch journal (in {@value #WARM_UP_DIR} under the
     * journal directory, deleted after) so that the append path is loaded and compiled before the first outage.
     * The first spool is what a caller waits for right after Redis failed; on a JVM that had never appended,
     * the first append took 9-12 ms, the second 4-5.5 ms, the next ones 50-150 µs (interpreted) until the JIT
     * compiled them (bench FirstAppends). About 0.2 s at open. {@code -Dspillway.warmUpAppends=0} turns it off.
     */
    private void warmAppendPath(Path dir) {
        Path scratch = dir.resolve(WARM_UP_DIR);
        deleteTree(dir, scratch); // one left by a process that died while warming up
        synchronized (appendLock) {
            if (diskLow) {
                return; // the disk is short of room: not for a scratch journal
            }
        }
        if (WARM_UP_APPENDS <= 0 || !WARMED.compareAndSet(false, true)) {
            return;
        }
        try (ChronicleJournal j = new ChronicleJournal(scratch, Long.MAX_VALUE, Durability.PROCESS_CRASH,
                new MetricRegistry(), null, 0, disk.floor())) {
            byte[] payload = new byte[200];
            for (int i = 0; i < WARM_UP_APPENDS; i++) {
                // New instances each time, as in real use (map lookups then compare, not just hash).
                JobRecord r = new JobRecord(io.spillway.core.JobId.of("warm-up-" + i), QueueName.of("warm-up-" + (i & 1)),
                        "warm-up", payload, Map.of(), 0, 0, 0);
                j.append(r, JobCodec.encode(r));
            }
        } catch (RuntimeException | InternalError e) {
            log.debug("Journal {}: warm-up failed: {}", dir, e.toString());
        } finally {
            deleteTree(dir, scratch);
        }
    }

    /** Deletes the scratch journal of {@link #warmAppendPath}; a failure only costs disk space, so it is logged. */
    private static void deleteTree(Path dir, Path root) {
        if (!Files.exists(root)) {
            return;
        }
        try (java.util.stream.Stream<Path> walk = Files.walk(root)) {
            for (Path p : (Iterable<Path>) walk.sorted(java.util.Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(p);
            }
        } catch (IOException | RuntimeException e) {
            log.debug("Journal {}: cannot delete {}: {}", dir, root, e.toString());
        }
    }

    public static ChronicleJournal open(Path dir, long maxBytes, Durability durability, MetricRegistry registry) {
        return open(dir, maxBytes, durability, registry, null, 0);
    }

    /**
     * @param timeProvider the clock of cycles and hold-back (tests set it), or null for the system clock
     * @param holdBackMillis how long a replayed record stays on disk, able to be replayed again by
     *     {@link #rewindRecent()} if Redis restarts and lost it (0: not at all)
     */
    public static ChronicleJournal open(Path dir, long maxBytes, Durability durability, MetricRegistry registry,
                                        TimeProvider timeProvider, long holdBackMillis) {
        return open(dir, maxBytes, durability, registry, timeProvider, holdBackMillis, DEFAULT_MIN_FREE_DISK_BYTES);
    }

    /**
     * @param minFreeDiskBytes the usable space appends leave on the journal's file system: an append that would go
     *     below it throws {@link JournalFullException} (the job is not accepted) without writing
     */
    public static ChronicleJournal open(Path dir, long maxBytes, Durability durability, MetricRegistry registry,
                                        TimeProvider timeProvider, long holdBackMillis, long minFreeDiskBytes) {
        if (dir == null) {
            throw new IllegalArgumentException("journalDir must not be null");
        }
        if (maxBytes <= 0) {
            throw new IllegalArgumentException("journal maxBytes must be > 0, but was " + maxBytes);
        }
        if (holdBackMillis < 0) {
            throw new IllegalArgumentException("journal holdBack must be >= 0, but was " + holdBackMillis);
        }
        if (minFreeDiskBytes < 0) {
            throw new IllegalArgumentException("journal minFreeDiskBytes must be >= 0, but was " + minFreeDiskBytes);
        }
        return new ChronicleJournal(dir.toAbsolutePath(), maxBytes, durability, registry, timeProvider, holdBackMillis,
                minFreeDiskBytes);
    }

    private static void registerGauge(MetricRegistry registry, String name, Gauge<Long> g) {
        registry.remove(name);
        registry.register(name, g);
    }

    public Path dir() {
        return dir;
    }

    /**
     * Appends a job. Returns once the record is in the page cache (or on disk with
     * {@link Durability#POWER_LOSS}).
     *
     * @throws JournalFullException past the size cap or when the disk is full: the job is not accepted
     */
    public void append(JobRecord job, byte[] encoded) {
        append(job, encoded, null);
    }

    /**
     * Room set aside in the journal for appends that must not fail for want of it (the jobs of one
     * {@code enqueueAll} that may have to spool once Redis has taken some of the batch). Appends through it use
     * its room; other appends see it as taken. {@link #close()} gives back what was not used.
     */
    public final class Reservation implements AutoCloseable {
        private long left;

        private Reservation(long bytes) {
            this.left = bytes;
        }

        /** Appends within this reservation (beyond it, like {@link ChronicleJournal#append}). */
        public void append(JobRecord job, byte[] encoded) {
            ChronicleJournal.this.append(job, encoded, this);
        }

        @Override
        public void close() {
            synchronized (appendLock) {
                reservedBytes -= left;
                left = 0;
            }
        }
    }

    /**
     * Sets {@code bytes} of room aside (frames included: {@link #frameBytes}).
     *
     * @throws JournalFullException if the journal does not have that much room left
     */
    public Reservation reserve(long bytes) {
        synchronized (appendLock) {
            if (backlogBytes.get() + unconfirmedBytes.get() + reservedBytes + bytes > maxBytes) {
                atCap();
                throw new JournalFullException("Journal " + dir + " is full: " + backlogBytes.get() + " bytes of "
                        + maxBytes + " waiting for replay" + unconfirmedText() + ", " + reservedBytes + " set aside, "
                        + bytes + " more needed");
            }
            reservedBytes += bytes;
            return new Reservation(bytes);
        }
    }

    /** The room one job of an encoded length takes in the journal. */
    public static long frameBytes(int encodedLength) {
        return FRAME_HEADER + (long) encodedLength;
    }

    private void append(JobRecord job, byte[] encoded, Reservation reservation) {
        int frame = FRAME_HEADER + encoded.length;
        synchronized (appendLock) {
            if (closed) {
                throw new JournalException("Journal " + dir + " is closed", null);
            }
            long fromReservation = reservation == null ? 0 : Math.min(reservation.left, frame);
            if (backlogBytes.get() + unconfirmedBytes.get() + reservedBytes - fromReservation + frame > maxBytes) {
                atCap();
                throw new JournalFullException("Journal " + dir + " is full: " + backlogBytes.get() + " bytes of "
                        + maxBytes + " waiting for replay" + unconfirmedText() + "; job " + job.id() + " was not accepted");
            }
            if (capFull) {
                capFull = false;
                log.info("Journal {}: below its cap again ({} jobs were not accepted while it was full): jobs are accepted",
                        dir, refusedAtCap);
            }
            if (!disk.hasRoom(frame, job.enqueuedAt())) {
                throw diskFull(job);
            }
            if (diskLow) {
                diskLow = false;
                log.info("Journal {}: its disk has room again ({} free): jobs are accepted", dir, mb(disk.estimate()));
            }
            try {
                try (DocumentContext dc = appender.writingDocument()) {
                    Frame.write(dc.wire().bytes(), encoded, appendCrc);
                }
                if (durability == Durability.POWER_LOSS) {
                    appender.sync();
                }
            } catch (RuntimeException e) {
                String msg = String.valueOf(e.getMessage());
                if (msg.contains("No space left") || msg.contains("ENOSPC")) {
                    disk.refresh(job.enqueuedAt());
                    throw new JournalFullException("Journal " + dir + " disk is full; job " + job.id() + " was not accepted", e);
                }
                throw new JournalException("Journal " + dir + " write failed; job " + job.id() + " was not accepted: " + msg, e);
            } catch (InternalError e) {
                // A fault in the mapped file: the disk filled faster than the floor allows for. The record is torn at
                // worst (its checksum fails, and it is skipped); the job is not accepted.
                disk.refresh(job.enqueuedAt());
                throw new JournalFullException("Journal " + dir + " disk is full (a write into the journal's file"
                        + " faulted); job " + job.id() + " was not accepted", e);
            }
            disk.wrote(frame);
            if (backlogJobs.getAndIncrement() == 0) {
                oldestEnqueuedAt = job.enqueuedAt();
            }
            backlogBytes.addAndGet(frame);
            if (fromReservation > 0) {
                reservation.left -= fromReservation;
                reservedBytes -= fromReservation;
            }
            perQueue.computeIfAbsent(job.queue(), q -> new AtomicLong()).incrementAndGet();
        }
    }

    /**
     * Writes a {@linkplain Frame#isMarker cycle marker} if the cycle file of this hour (by the journal's clock) has
     * none from this journal yet: in an hour of no spool, the first spool of the next hour would otherwise create
     * the file and its index in its caller's wait (milliseconds). The producer calls this about once a second.
     */
    public void prepareCycle() {
        sayClockBehind();
        if (closed || ROLL_CYCLE.current(clock, 0) == markedCycle) {
            return;
        }
        synchronized (positionsLock) {
            synchronized (appendLock) {
                if (closed) {
                    return;
                }
                try {
                    if (disk.hasRoom(MARKER_ROOM, clock.currentTimeMillis())) {
                        markCycle();
                        disk.wrote(MARKER_ROOM);
                    }
                } catch (RuntimeException | InternalError e) {
                    // A disk that is full or failing: the next append says so to its caller.
                    log.debug("Journal {}: cycle marker not written: {}", dir, Failures.describeFile(e));
                }
                deleteIdleCycles();
            }
        }
    }

    /** One line when the wall clock went back more than a second behind the journal's clock, one when it caught up. */
    private void sayClockBehind() {
        long behind = clock.behindMillis();
        // Said: nothing more until fully caught up. Not said: nothing for a clock less than a second behind.
        if (clockBehindSaid ? behind != 0 : behind <= 1_000) {
            return;
        }
        synchronized (appendLock) {
            if (behind > 1_000 && !clockBehindSaid) {
                clockBehindSaid = true;
                log.warn("Journal {}: the wall clock went back by {} ms: spooled jobs go on into the newest cycle file, in"
                        + " order, until the clock catches up", dir, behind);
            } else if (behind == 0 && clockBehindSaid) {
                clockBehindSaid = false;
                log.info("Journal {}: the wall clock has caught up with the journal's", dir);
            }
        }
    }

    /**
     * Under positionsLock and appendLock: once every record is replayed and past the hold-back window, the files of
     * earlier cycles hold nothing anyone needs (at most markers); delete them, or an idle producer would keep one
     * marker file per hour.
     */
    private void deleteIdleCycles() {
        advanceSafe();
        if (backlogJobs.get() != 0 || positions.getLong(8) != positions.getLong(0)) {
            return;
        }
        int deleted = CycleFiles.deleteBefore(dir, ROLL_CYCLE, queue.cycle());
        if (deleted > 0) {
            log.debug("Journal {}: deleted {} cycle files with nothing left to replay", dir, deleted);
            queue.refreshDirectoryListing();
        }
    }

    /** Under appendLock, or in the constructor. */
    private void markCycle() {
        int cycle = ROLL_CYCLE.current(clock, 0);
        try (DocumentContext dc = appender.writingDocument()) {
            Frame.writeMarker(dc.wire().bytes());
        }
        markedCycle = cycle;
    }

    /** Under appendLock: the refusal of {@code job} for want of disk space, said once per episode in the log. */
    /**
     * Under appendLock: a job refused at the cap. One WARN when the journal reaches it (the exception goes to the
     * caller, who may not log it), one INFO when an append fits again; nothing per refused job.
     */
    private void atCap() {
        if (!capFull) {
            capFull = true;
            refusedAtCap = 0;
            log.warn("Journal {} is full: {} of its {} cap wait for replay{}: jobs that Redis cannot take now are not"
                    + " accepted (JournalFullException) until the replay frees room (journalMaxBytes sets the cap)", dir,
                    mb(backlogBytes.get()), mb(maxBytes), unconfirmedText());
        }
        refusedAtCap++;
    }

    private JournalFullException diskFull(JobRecord job) {
        String free = mb(disk.estimate());
        if (!diskLow) {
            diskLow = true;
            log.warn("Journal {}: its disk has {} free, less than the {} kept free: jobs that Redis cannot take now are not"
                    + " accepted (JournalFullException) until there is room", dir, free, mb(disk.floor()));
        }
        return new JournalFullException("Journal " + dir + ": its disk has " + free + " free, less than the " + mb(disk.floor())
                + " kept free (journalMinFreeDisk); job " + job.id() + " was not accepted");
    }

    private static String mb(long bytes) {
        return bytes == Long.MAX_VALUE ? "an unknown amount" : String.format(java.util.Locale.ROOT, "%.2f MB", bytes / 1_048_576.0);
    }

    /** For the full-journal messages: the unconfirmed bytes of the write-ahead mode, if any. */
    private String unconfirmedText() {
        long u = unconfirmedBytes.get();
        return u == 0 ? "" : " and " + u + " sent and waiting for their jobs to complete (write-ahead)";
    }

    /** Test hook: writes a raw frame body as-is (to plant corrupt or torn records). */
    void appendRaw(byte[] frameBody) {
        synchronized (appendLock) {
            try (DocumentContext dc = appender.writingDocument()) {
                dc.wire().bytes().write(frameBody);
            }
        }
    }

    public long backlog() {
        return backlogJobs.get();
    }

    public long backlogBytes() {
        return backlogBytes.get();
    }

    public long backlog(QueueName q) {
        AtomicLong n = perQueue.get(q);
        return n == null ? 0 : n.get();
    }

    /** Per-queue backlog, a snapshot. */
    public Map<QueueName, Long> backlogByQueue() {
        Map<QueueName, Long> out = new java.util.TreeMap<>(java.util.Comparator.comparing(QueueName::value));
        perQueue.forEach((q, n) -> {
            if (n.get() > 0) {
                out.put(q, n.get());
            }
        });
        return out;
    }

    public long corruptRecords() {
        return corrupt.getCount();
    }

    /** Age of the oldest job not yet replayed, 0 when there is none. */
    public long oldestAgeMillis() {
        return backlogJobs.get() == 0 ? 0 : Math.max(0, System.currentTimeMillis() - oldestEnqueuedAt);
    }

    public long maxBytes() {
        return maxBytes;
    }

    /** Reads up to {@code max} records after the replay position. Corrupt records come back with a null job. */
    public List<Entry> read(int max) {
        return read(max, Long.MAX_VALUE);
    }

    /**
     * {@link #read(int)} of records with an index up to {@code maxIndex} only. A read also stops once its records hold
     * {@link #MAX_READ_BYTES} (each is held twice: its bytes and the decoded job), at least one record: a journal of
     * 1 MiB jobs is replayed in batches of 16, not in batches of 1,000 that take 2 GiB of heap.
     */
    public List<Entry> read(int max, long maxIndex) {
        if (closed) {
            return List.of(); // a replay still running when the producer closed: nothing more to send
        }
        List<Entry> out = new ArrayList<>(Math.min(max, 1024));
        long bytes = 0;
        while (out.size() < max && bytes < MAX_READ_BYTES) {
            Entry e = readOne(tailer, maxIndex);
            if (e == null) {
                break;
            }
            if (e.job() == null && e.index() > corruptCountedUpTo) {
                // Counted and said once: the same record is read again after a rewind (a failed replay, a re-send).
                corruptCountedUpTo = e.index();
                corrupt.inc();
                log.warn("Journal {}: corrupt record at index {} skipped ({} corrupt so far)", dir,
                        e.index(), corrupt.getCount());
            }
            out.add(e);
            bytes += e.frameBytes();
        }
        return out;
    }

    /** The record bytes one {@link #read} gathers at most (past one record). */
    static final long MAX_READ_BYTES = 16L << 20;
    /** The highest index of a corrupt record counted in {@code spillway.journal.corrupt}; read by the reader only. */
    private volatile long corruptCountedUpTo = -1;

    /** Moves the reader back to the first entry of a batch that could not be sent. */
    public void rewind(List<Entry> batch) {
        if (batch.isEmpty() || closed) {
            return;
        }
        if (!tailer.moveToIndex(batch.get(0).index())) {
            positionTailerAfterReplayed();
        }
    }

    /** Marks a batch as replayed: positions advance, counters drop, wholly replayed cycle files go. */
    public void commit(List<Entry> batch) {
        commit(batch, -1);
    }

    /**
     * {@link #commit} of a batch sent again after Redis lost writes: {@code order} is when it first reached Redis
     * ({@link WriteOrder}, from {@link #rewindRecentOrdered}), or -1 for now.
     */
    public void commit(List<Entry> batch, long order) {
        if (batch.isEmpty()) {
            return;
        }
        synchronized (positionsLock) {
            if (closed) {
                return; // a replay's reply that came after close(): the records replay again (deduplicated) next time
            }
            commitLocked(batch, order);
        }
    }

    private void commitLocked(List<Entry> batch, long order) {
        Entry last = batch.get(batch.size() - 1);
        positions.putLong(0, last.index());
        long now = clock.currentTimeMillis();
        if (holdBackMillis == 0) {
            positions.putLong(8, last.index());
        } else if (holdBackMillis != HOLD_UNTIL_CONFIRMED) {
            // Redis acknowledged the batch just now: it is up, with what it acknowledged before. The order is taken
            // before the queues' counts drop below: a direct write of one of them can only come after it.
            aliveMillis = Math.max(aliveMillis, now);
            checkpoints.addLast(new long[] {now, last.index(), order >= 0 ? order : WriteOrder.next()});
            advanceSafe();
        }
        if (durability == Durability.POWER_LOSS) {
            positions.force();
        }
        long bytes = 0;
        long jobs = 0;
        for (Entry e : batch) {
            bytes += e.frameBytes();
            jobs++;
            if (e.job() != null) {
                AtomicLong n = perQueue.get(e.job().queue());
                if (n != null) {
                    n.decrementAndGet();
                }
            }
        }
        if (holdBackMillis == HOLD_UNTIL_CONFIRMED) {
            // Before the backlog drops: an append checking the cap meanwhile counts these bytes twice, never not at all.
            unconfirmedBytes.addAndGet(bytes);
            unconfirmedJobs.addAndGet(jobs);
        }
        backlogBytes.addAndGet(-bytes);
        if (backlogJobs.addAndGet(-jobs) > 0 && last.job() != null) {
            // The next record was accepted after this one: a slight over-estimate of the oldest age.
            oldestEnqueuedAt = last.job().enqueuedAt();
        }
        long safe = positions.getLong(8);
        if (safe != -1) {
            deleteReplayedCycles(ROLL_CYCLE.toCycle(safe));
        }
    }

    /**
     * Moves <i>safe to delete</i> up to the last checkpoint that is older than the hold-back window when Redis was last
     * known up ({@link #aliveMillis}) and not kept for a replica ({@link #keepSince}). Under positionsLock.
     */
    private void advanceSafe() {
        if (aliveMillis == Long.MIN_VALUE) {
            return;
        }
        long before = aliveMillis - holdBackMillis;
        long keep = keepSince;
        long[] c;
        while ((c = checkpoints.peekFirst()) != null && c[0] <= before && c[0] < keep) {
            positions.putLong(8, c[1]);
            checkpoints.pollFirst();
        }
    }

    /**
     * Redis was up at {@code atMillis} (epoch ms, read before the heartbeat that found it with the same run id as the
     * replay's writes went to): records replayed more than the hold-back window before are safe to delete, and the
     * cycle files wholly behind them go. Without these calls <i>safe to delete</i> would move only with the next
     * replay's commit, and a Redis restart long after the last replay would send all of that replay again.
     */
    public void redisAlive(long atMillis) {
        if (holdBackMillis == 0 || holdBackMillis == HOLD_UNTIL_CONFIRMED) {
            return;
        }
        synchronized (positionsLock) {
            synchronized (appendLock) {
                if (closed) {
                    return;
                }
            }
            aliveMillis = Math.max(aliveMillis, atMillis);
            long safe = positions.getLong(8);
            advanceSafe();
            long now = positions.getLong(8);
            if (now != safe) {
                if (durability == Durability.POWER_LOSS) {
                    positions.force();
                }
                deleteReplayedCycles(ROLL_CYCLE.toCycle(now));
            }
        }
    }

    /**
     * Keeps the records replayed at or after {@code millis} (epoch ms) unsafe to delete beyond the hold-back window: no
     * replica has confirmed them, so a failover would lose them ({@link ReplicaWatch}). {@link Long#MAX_VALUE}: none.
     */
    public void keepSince(long millis) {
        keepSince = millis;
    }

    /**
     * After Redis restarted and may have lost recent writes: moves the replay position back to <i>safe to
     * delete</i>, so that records replayed within the hold-back window are replayed again (idempotently).
     *
     * @return the replay position before the rewind: records up to it were replayed once already
     */
    public long rewindRecent() {
        return rewindRecentOrdered().before();
    }

    /**
     * What {@link #rewindRecentOrdered} found: the replay position before the rewind, and for the records sent again,
     * in index order, the replayed batches' last indexes and when Redis first acknowledged each ({@link WriteOrder}):
     * the records up to {@code lastIndexes[i]} (after {@code lastIndexes[i - 1]}) reached it at {@code orders[i]}.
     */
    public record Rewind(long before, long[] lastIndexes, long[] orders) {
    }

    /** {@link #rewindRecent}, with when the records sent again first reached Redis. */
    public Rewind rewindRecentOrdered() {
        synchronized (positionsLock) {
            return rewindRecentLocked();
        }
    }

    private Rewind rewindRecentLocked() {
        long before = positions.getLong(0);
        long safe = positions.getLong(8);
        if (before == safe) {
            return new Rewind(before, new long[0], new long[0]);
        }
        long[] lastIndexes = new long[checkpoints.size()];
        long[] orders = new long[checkpoints.size()];
        int k = 0;
        for (long[] c : checkpoints) {
            lastIndexes[k] = c[1];
            orders[k++] = c[2];
        }
        positions.putLong(0, safe);
        checkpoints.clear();
        unconfirmedJobs.set(0);
        unconfirmedBytes.set(0);
        positionTailerAfterReplayed();
        long again;
        synchronized (appendLock) {
            // No append may land between the reset and the scan, or it would be counted twice.
            long waiting = backlogJobs.get();
            backlogJobs.set(0);
            backlogBytes.set(0);
            perQueue.values().forEach(n -> n.set(0));
            scanBacklog();
            again = backlogJobs.get() - waiting; // the backlog also holds the jobs not replayed yet
        }
        if (holdBackMillis == HOLD_UNTIL_CONFIRMED) {
            log.info("Journal {}: {} jobs sent to Redis and not yet confirmed completed will be sent again (Redis restarted)",
                    dir, again);
        } else {
            log.info("Journal {}: {} jobs replayed in the last {} ms will be sent again (Redis restarted)", dir,
                    again, holdBackMillis);
        }
        return new Rewind(before, lastIndexes, orders);
    }

    /**
     * Write-ahead mode: up to {@code max} records sent to Redis and not yet confirmed (after <i>safe to delete</i>,
     * up to <i>replayed</i>), oldest first. Corrupt records come back with a null job. For the replayer's thread.
     */
    public List<Entry> readUnconfirmed(int max) {
        List<Entry> out = new ArrayList<>(Math.min(max, 1024));
        forEachUnconfirmed(max, out::add);
        return out;
    }

    /**
     * Visits the records after {@code after} up to {@code upTo} (indexes; -1: from the first), oldest first, with a
     * reader of its own (the replay's stays where it is), until {@code visitor} returns false. Corrupt records come with
     * a null job.
     */
    public void visit(long after, long upTo, java.util.function.Predicate<Entry> visitor) {
        if (upTo <= after && after != -1) {
            return;
        }
        try (ExcerptTailer t = queue.createTailer()) {
            moveAfter(t, after);
            Entry e;
            while ((e = readOne(t, upTo)) != null && visitor.test(e)) {
                // next
            }
        }
    }

    /** Visits up to {@code max} records after <i>safe to delete</i> up to <i>replayed</i>, oldest first. */
    private void forEachUnconfirmed(long max, java.util.function.Consumer<Entry> visitor) {
        long safe = positions.getLong(8);
        long replayed = positions.getLong(0);
        if (replayed == safe) {
            return;
        }
        try (ExcerptTailer t = queue.createTailer()) {
            moveAfter(t, safe);
            Entry e;
            for (long n = 0; n < max && (e = readOne(t, replayed)) != null; n++) {
                visitor.accept(e);
            }
        }
    }

    /**
     * Write-ahead mode: the jobs of {@code prefix} (the first records {@link #readUnconfirmed} gave, in order) are
     * completed or dead: <i>safe to delete</i> moves past them and the cycle files wholly behind it go. Ignored if the
     * positions moved in between (a {@link #rewindRecent()}).
     */
    public void confirm(List<Entry> prefix) {
        if (prefix.isEmpty()) {
            return;
        }
        synchronized (positionsLock) {
            long last = prefix.get(prefix.size() - 1).index();
            long replayed = positions.getLong(0);
            long safe = positions.getLong(8);
            if (last > replayed || (safe != -1 && prefix.get(0).index() <= safe)) {
                return;
            }
            positions.putLong(8, last);
            if (durability == Durability.POWER_LOSS) {
                positions.force();
            }
            long bytes = 0;
            for (Entry e : prefix) {
                bytes += e.frameBytes();
            }
            unconfirmedBytes.addAndGet(-bytes);
            unconfirmedJobs.addAndGet(-prefix.size());
            deleteReplayedCycles(ROLL_CYCLE.toCycle(last));
        }
    }

    /** Whether this journal keeps replayed records until their jobs are confirmed ({@link #HOLD_UNTIL_CONFIRMED}). */
    public boolean writeAhead() {
        return holdBackMillis == HOLD_UNTIL_CONFIRMED;
    }

    /**
     * Write-ahead mode: whether the record at {@code index} is in a cycle file at least an hour old (two hourly cycles
     * back, by the journal's clock). A job not finished by then that holds <i>safe to delete</i> back while jobs after it
     * are finished (a delayed or very long job) is {@linkplain #carry carried} to the end of the journal instead.
     */
    public boolean inOldCycle(long index) {
        return ROLL_CYCLE.toCycle(index) <= ROLL_CYCLE.current(clock, 0) - 2;
    }

    /**
     * Write-ahead mode: appends a copy of an unfinished record at the end of the journal, so that {@link #confirm} can
     * move past the original and its cycle file can go. The copy is replayed like any new record (Redis finds the job
     * there: a duplicate) and stays until its job finishes, or Redis restarts and it is sent again.
     *
     * @throws JournalFullException if the journal has no room for the copy
     */
    public void carry(Entry e) {
        append(e.job(), e.encoded(), null);
    }

    /** Write-ahead mode: records sent to Redis whose completion is not confirmed yet. */
    public long unconfirmed() {
        return unconfirmedJobs.get();
    }

    /** Index of the last record appended so far (by any process), -1 if the journal is empty. */
    public long lastIndex() {
        long last = queue.lastIndex();
        return last < 0 ? -1 : last;
    }

    /** Index of the last replayed record, -1 if none. */
    public long replayedIndex() {
        return positions.getLong(0);
    }

    /** Index up to which records are no longer needed, -1 if none. */
    public long safeToDeleteIndex() {
        return positions.getLong(8);
    }

    /** Whether a job id is among the records not yet replayed (a scan: for status look-ups only). */
    public boolean contains(QueueName q, String jobId) {
        if (backlog(q) == 0) {
            return false;
        }
        try (ExcerptTailer t = queue.createTailer()) {
            moveAfterReplayed(t);
            Entry e;
            while ((e = readOne(t)) != null) {
                if (e.job() != null && e.job().queue().equals(q) && e.job().id().value().equals(jobId)) {
                    return true;
                }
            }
        }
        return false;
    }

    /** Reads every record (replayed or not) still on disk; for inspection tools. */
    public void forEachRecord(java.util.function.BiConsumer<Entry, Boolean> visitor) {
        long replayed = replayedIndex();
        try (ExcerptTailer t = queue.createTailer()) {
            t.toStart();
            Entry e;
            while ((e = readOne(t)) != null) {
                visitor.accept(e, replayed != -1 && e.index() <= replayed);
            }
        }
    }

    private Entry readOne(ExcerptTailer t) {
        return readOne(t, Long.MAX_VALUE);
    }

    /** The next record, past {@linkplain Frame#isMarker cycle markers}; null at the end or past {@code maxIndex}. */
    private Entry readOne(ExcerptTailer t, long maxIndex) {
        while (true) {
            try (DocumentContext dc = t.readingDocument()) {
                if (!dc.isPresent()) {
                    return null;
                }
                long index = dc.index();
                if (index > maxIndex) {
                    dc.rollbackOnClose();
                    return null;
                }
                Entry e = decode(index, dc.wire().bytes());
                if (e != null) {
                    return e;
                }
            }
        }
    }

    /**
     * One journal entry read from its start: null for a {@linkplain Frame#isMarker cycle marker}, an entry with a
     * null job for a torn or corrupt record. Shared with the operator tools' read-only reader.
     */
    public static Entry decode(long index, Bytes<?> b) {
        if (Frame.isMarker(b)) {
            return null;
        }
        int available = (int) b.readRemaining();
        byte[] data = Frame.read(b);
        if (data == null) {
            return new Entry(index, null, null, available);
        }
        try {
            return new Entry(index, JobCodec.decode(data), data, available);
        } catch (IllegalArgumentException bad) {
            return new Entry(index, null, null, available);
        }
    }

    private void positionTailerAfterReplayed() {
        moveAfterReplayed(tailer);
    }

    private void moveAfterReplayed(ExcerptTailer t) {
        moveAfter(t, positions.getLong(0));
    }

    /** Puts {@code t} on the first record after {@code replayed} (-1: the first record). */
    private void moveAfter(ExcerptTailer t, long replayed) {
        if (replayed == -1) {
            t.toStart();
            return;
        }
        if (t.moveToIndex(replayed)) {
            try (DocumentContext dc = t.readingDocument()) {
                // Skip the record at the replayed index itself.
                if (dc.isPresent() && dc.index() != replayed) {
                    dc.rollbackOnClose();
                }
            }
            return;
        }
        // The replayed record's file is gone (deleted as replayed): start at the first record after it.
        t.toStart();
        while (true) {
            try (DocumentContext dc = t.readingDocument()) {
                if (!dc.isPresent()) {
                    return;
                }
                if (dc.index() > replayed) {
                    dc.rollbackOnClose();
                    return;
                }
            }
        }
    }

    private void scanBacklog() {
        try (ExcerptTailer t = queue.createTailer()) {
            moveAfterReplayed(t);
            Entry e;
            boolean first = true;
            while ((e = readOne(t)) != null) {
                backlogJobs.incrementAndGet();
                backlogBytes.addAndGet(e.frameBytes());
                if (e.job() != null) {
                    perQueue.computeIfAbsent(e.job().queue(), q -> new AtomicLong()).incrementAndGet();
                    if (first) {
                        oldestEnqueuedAt = e.job().enqueuedAt();
                        first = false;
                    }
                }
            }
        }
    }

    /** Write-ahead mode, at open: counts the records between the two positions. */
    private void scanUnconfirmed() {
        forEachUnconfirmed(Long.MAX_VALUE, e -> {
            unconfirmedJobs.incrementAndGet();
            unconfirmedBytes.addAndGet(e.frameBytes());
        });
    }

    private void deleteReplayedCycles(int replayedCycle) {
        int deleted = CycleFiles.deleteBefore(dir, ROLL_CYCLE, Math.min(replayedCycle, queue.cycle()));
        if (deleted > 0) {
            log.debug("Journal {}: deleted {} replayed cycle files", dir, deleted);
            queue.refreshDirectoryListing();
        }
    }

    /** The number of cycle files on disk (for tests and inspection). */
    public int cycleFiles() {
        return CycleFiles.count(dir);
    }

    /** For inspection: the time of the current cycle. */
    public Instant now() {
        return Instant.ofEpochMilli(queue.time().currentTimeMillis());
    }

    @Override
    public void close() {
        // positionsLock too: a heartbeat's redisAlive may be moving the positions and deleting cycle files.
        synchronized (positionsLock) {
            synchronized (appendLock) {
                if (closed) {
                    return;
                }
                closed = true;
            }
            try {
                appender.close();
                tailer.close();
                queue.close();
            } finally {
                release();
            }
        }
    }

    private void release() {
        try {
            if (positions != null) {
                positions.force();
            }
        } catch (RuntimeException ignored) {
            // best effort
        }
        closeQuietly(positionsChannel);
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
