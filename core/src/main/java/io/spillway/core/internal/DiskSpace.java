package io.spillway.core.internal;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.LongSupplier;

/**
 * The usable space of the file system under a journal, kept above a floor so that no append writes into a
 * memory-mapped page the file system cannot back. Such a write does not fail with an error code: the kernel sends
 * SIGBUS, and the JVM turns it into an {@link InternalError} thrown at some later point of the writing thread, possibly
 * after the call returned (seen on a full tmpfs: the error surfaced in the caller's loop, outside {@code enqueue}).
 * So an append that would leave less than the floor is refused before it writes.
 *
 * <p>Invariants: {@link #estimate} is the usable space read at the last refresh minus the bytes written since. It is
 * read again (one {@code statfs}, about a microsecond) at most every {@value #REFRESH_MILLIS} ms by the appends, and
 * whenever an append would take it below the floor; so other processes' writes are seen within that time, and the
 * floor must cover what they write meanwhile (the default 64 MiB: 640 MB/s). A file system that cannot tell its free space counts as having room.
 * Not thread-safe: callers hold their append lock.
 */
final class DiskSpace {
    /** How old the reading may be before an append reads it again. */
    static final long REFRESH_MILLIS = 100;

    private final LongSupplier usableSpace;
    private final long floor;
    /** Not read yet: 0, so that the first {@link #hasRoom} reads it. */
    private long estimate;
    private long refreshedAt;

    DiskSpace(LongSupplier usableSpace, long floor) {
        this.usableSpace = usableSpace;
        this.floor = floor;
    }

    /** The file system of {@code dir}; its usable space as {@link FileStore#getUsableSpace()} says it. */
    static DiskSpace of(Path dir, long floor) {
        FileStore store;
        try {
            store = Files.getFileStore(dir);
        } catch (IOException e) {
            return new DiskSpace(() -> Long.MAX_VALUE, floor);
        }
        return new DiskSpace(() -> {
            try {
                return store.getUsableSpace();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }, floor);
    }

    /** Whether {@code bytes} more can be written leaving at least the floor; reads the space again if due or short. */
    boolean hasRoom(long bytes, long nowMillis) {
        if (estimate - bytes < floor || nowMillis - refreshedAt >= REFRESH_MILLIS || nowMillis < refreshedAt) {
            refresh(nowMillis);
        }
        return estimate - bytes >= floor;
    }

    /** {@code bytes} were written. */
    void wrote(long bytes) {
        estimate -= bytes;
    }

    /** Reads the usable space now. */
    void refresh(long nowMillis) {
        try {
            estimate = usableSpace.getAsLong();
        } catch (RuntimeException e) {
            estimate = Long.MAX_VALUE; // cannot tell: the append goes ahead, as it did before this check existed
        }
        refreshedAt = nowMillis;
    }

    /**
     * The usable space read now, without touching the estimate (any thread: for a gauge); -1 if it cannot be told.
     */
    long usableNow() {
        try {
            long v = usableSpace.getAsLong();
            return v == Long.MAX_VALUE ? -1 : v;
        } catch (RuntimeException e) {
            return -1;
        }
    }

    /** The usable space as last read, less what was written since. */
    long estimate() {
        return estimate;
    }

    long floor() {
        return floor;
    }
}
