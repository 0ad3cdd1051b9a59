package io.spillway.core.internal;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The lock files of this JVM (journal, ack logs): taken, probed and released here only. On Linux the JDK's file locks
 * are POSIX record locks, which belong to the process: closing <em>any</em> descriptor of a file drops every lock the
 * process holds on it, while the JVM still reports its {@link FileLock} valid. So a probe that opened a second channel
 * on a file this JVM holds (a reporter beside a producer, a second worker on the same state directory) and closed it
 * would let another process take the file. This class never opens a file this JVM holds a lock on: it keeps them by
 * file key (device and inode), and a probe or a second lock of one is answered from that table. Its methods are
 * serialized, so that no probe's descriptor is open while a lock is taken.
 */
public final class FileLocks {
    /** The files this JVM holds a lock on, by file key (their path where the file system has none). */
    private static final Map<Object, Held> HELD = new ConcurrentHashMap<>();

    private FileLocks() {
    }

    /** A lock this JVM holds; {@link #close} releases it and closes its channel. */
    public static final class Held implements AutoCloseable {
        private final Object key;
        private final Path file;
        private final FileChannel channel;
        private final FileLock lock;

        private Held(Object key, Path file, FileChannel channel, FileLock lock) {
            this.key = key;
            this.file = file;
            this.channel = channel;
            this.lock = lock;
        }

        public Path file() {
            return file;
        }

        /** The locked channel (opened for reading and writing where the lock is exclusive). */
        public FileChannel channel() {
            return channel;
        }

        public boolean isShared() {
            return lock.isShared();
        }

        /** Releases the lock and closes the channel; idempotent. */
        @Override
        public void close() throws IOException {
            synchronized (FileLocks.class) {
                if (HELD.remove(key, this)) {
                    try {
                        if (lock.isValid()) {
                            lock.release();
                        }
                    } finally {
                        channel.close();
                    }
                }
            }
        }

        @Override
        public String toString() {
            return (lock.isShared() ? "shared" : "exclusive") + " lock on " + file;
        }
    }

    /**
     * Takes an exclusive lock on {@code file}, opened for reading and writing ({@code create}: made if absent), not
     * through a symbolic link when {@code noFollow}. Null when a lock on it is held already: by this JVM (any holder)
     * or by another process.
     *
     * @throws NoSuchFileException if the file does not exist and {@code create} is false
     */
    public static Held tryLockExclusive(Path file, boolean create, boolean noFollow) throws IOException {
        List<OpenOption> options = new ArrayList<>(List.of(StandardOpenOption.READ, StandardOpenOption.WRITE));
        if (create) {
            options.add(StandardOpenOption.CREATE);
        }
        if (noFollow) {
            options.add(LinkOption.NOFOLLOW_LINKS);
        }
        return tryLock(file, false, options.toArray(OpenOption[]::new));
    }

    /**
     * Takes a shared lock on an existing {@code file}, opened for reading: a reader's, which no exclusive holder can
     * take meanwhile. Null when an exclusive lock on it is held by another process, or any lock by this JVM.
     *
     * @throws NoSuchFileException if the file does not exist
     */
    public static Held tryLockShared(Path file) throws IOException {
        return tryLock(file, true, StandardOpenOption.READ);
    }

    /**
     * Whether a lock on the existing {@code file} is held now, by this JVM or by another process (an exclusive one:
     * readers' shared locks do not count), without keeping one. False for a file that does not exist.
     */
    public static synchronized boolean isLocked(Path file) throws IOException {
        Object key = keyOf(file);
        if (key == null) {
            return false;
        }
        if (HELD.containsKey(key)) {
            return true;
        }
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            FileLock l = channel.tryLock(0, Long.MAX_VALUE, true);
            if (l == null) {
                return true;
            }
            l.release();
            return false;
        } catch (OverlappingFileLockException e) {
            return true; // held by code of this JVM that does not go through this class
        } catch (NoSuchFileException e) {
            return false;
        }
    }

    private static synchronized Held tryLock(Path file, boolean shared, OpenOption... options) throws IOException {
        Object key = keyOf(file);
        if (key != null && HELD.containsKey(key)) {
            return null; // held in this JVM: no second descriptor, whose close would drop that lock
        }
        FileChannel channel = FileChannel.open(file, options);
        FileLock lock;
        try {
            lock = channel.tryLock(0, Long.MAX_VALUE, shared);
        } catch (OverlappingFileLockException e) {
            // Held by code of this JVM that does not go through this class: closing this channel would drop that
            // lock, so it stays open (one descriptor, for as long as the JVM runs; never expected).
            return null;
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
        if (lock == null) {
            channel.close(); // held by another process: this JVM holds nothing on the file, so nothing is dropped
            return null;
        }
        key = keyOf(file);
        Held held = new Held(key != null ? key : file.toAbsolutePath().normalize(), file, channel, lock);
        HELD.put(held.key, held);
        return held;
    }

    /** The file's key (device and inode on Linux), its absolute path where there is none; null if it does not exist. */
    private static Object keyOf(Path file) throws IOException {
        try {
            Object key = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
            return key != null ? key : file.toAbsolutePath().normalize();
        } catch (NoSuchFileException e) {
            return null;
        }
    }
}
