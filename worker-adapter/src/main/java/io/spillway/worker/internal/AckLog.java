package io.spillway.worker.internal;

import io.spillway.core.internal.FileLocks;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The worker's local, durable list of job outcomes that could not reach Redis (it was away): a small
 * append-only file {@code <stateDir>/acks-<n>.log}, fsynced on every append, emptied once its
 * outcomes are in Redis.
 *
 * <p>Invariants:
 * <ul>
 *   <li>One file per live worker: a worker takes the first {@code acks-<n>.log} whose lock it can get,
 *       and moves into it what the other unlocked files hold ({@link #adoptOrphans}), so a restarted worker
 *       flushes what dead ones left behind, and two workers sharing a state directory never share a file.</li>
 *   <li>Frame: {@code i32 length | i64 crc32 | bytes}. A torn or corrupt tail (a kill mid-append) is
 *       detected, logged and cut off; the frames before it are kept.</li>
 *   <li>Replaying an outcome twice is harmless: the scripts are idempotent per stream entry.</li>
 * </ul>
 * Not thread-safe: the owner serialises calls.
 */
public final class AckLog implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(AckLog.class);
    private static final int MAX_FRAME = 64 * 1024 * 1024;

    private final Path file;
    private final String prefix;
    private final FileChannel channel;
    private final FileLocks.Held lock;
    private long size;

    private AckLog(FileLocks.Held lock) throws IOException {
        this.file = lock.file();
        String name = file.getFileName().toString();
        this.prefix = name.substring(0, name.lastIndexOf('-') + 1);
        this.channel = lock.channel();
        this.lock = lock;
        this.size = channel.size();
    }

    /** Opens (and locks) the first free {@code acks-<n>.log} in {@code dir}, creating the directory. */
    public static AckLog open(Path dir) {
        return open(dir, "");
    }

    /**
     * Opens (and locks) the first free {@code acks-<scope>-<n>.log} in {@code dir}, creating the directory. The
     * scope names the Redis the outcomes belong to ({@link #scopeOf}): workers of two Redis servers sharing a
     * state directory (the default one, say) never take each other's outcomes.
     */
    public static AckLog open(Path dir, String scope) {
        String prefix = scope.isEmpty() ? "acks-" : "acks-" + scope + "-";
        try {
            io.spillway.core.internal.PrivateDirectory.ensure(dir);
            for (int n = 0; n < 10_000; n++) {
                Path f = dir.resolve(prefix + n + ".log");
                // Not through a link: one planted in a shared directory would have this worker truncate its target.
                // Through FileLocks: a file another worker of this JVM holds is not opened (closing it would drop
                // that worker's lock for every other process).
                FileLocks.Held l = FileLocks.tryLockExclusive(f, true, true);
                if (l != null) {
                    return new AckLog(l);
                }
            }
            throw new IllegalStateException("no free ack log in " + dir + " (10000 locked)");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open the worker ack log in " + dir + ": " + io.spillway.core.internal.Failures.describeFile(e), e);
        }
    }

    public Path file() {
        return file;
    }

    /**
     * The scope of a connection: {@link #scopeOf(String, int, int)} of a standalone Redis; for Sentinel one of the
     * master's name and database ({@code sentinel:<masterName>/<db>}), not of the host the master is on at the
     * moment, so that the file stays the same through a failover (its outcomes belong to the new master).
     */
    public static String scopeOf(io.spillway.core.RedisConnection redis) {
        return redis.sentinel() ? scopeOf("sentinel:" + redis.masterName() + "/" + redis.database())
                : scopeOf(redis.host(), redis.port(), redis.database());
    }

    /** A short, stable name for a Redis ({@code host:port/db}), for {@link #open(Path, String)}. */
    public static String scopeOf(String host, int port, int database) {
        return scopeOf(host + ":" + port + "/" + database);
    }

    private static String scopeOf(String identity) {
        try {
            byte[] d = java.security.MessageDigest.getInstance("SHA-256")
                    .digest(identity.getBytes(java.nio.charset.StandardCharsets.UTF_8));
            return java.util.HexFormat.of().formatHex(d, 0, 4);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Moves into this log the outcomes of every other {@code acks-<n>.log} in its directory whose lock is free
     * (left by workers that are gone: a live worker holds its file's lock), and empties those files. A worker
     * takes the first free file only, so without this a file left behind past the first would wait for a second
     * worker to start. The outcomes are in this file (fsynced) before the others are emptied: a crash in between
     * leaves them in both, and sending an outcome twice is harmless.
     *
     * @return the adopted outcomes, oldest file first
     */
    public List<Outcome> adoptOrphans() {
        List<Outcome> adopted = new ArrayList<>();
        Path dir = file.getParent();
        try (var files = Files.newDirectoryStream(dir, "acks-*.log")) {
            for (Path f : files) {
                String name = f.getFileName().toString();
                // Files of this log's Redis, and those of versions that did not name it (acks-<n>.log).
                boolean ours = name.startsWith(prefix) && name.substring(prefix.length()).matches("[0-9]+\\.log");
                boolean unscoped = name.matches("acks-[0-9]+\\.log");
                if (f.equals(file) || !(ours || unscoped) || Files.isSymbolicLink(f) || Files.size(f) == 0) {
                    continue;
                }
                FileLocks.Held l;
                try {
                    l = FileLocks.tryLockExclusive(f, false, true);
                } catch (java.nio.file.NoSuchFileException gone) {
                    continue; // adopted by another worker meanwhile
                }
                if (l == null) {
                    continue; // a live worker's (of this JVM or another process)
                }
                try (AckLog other = new AckLog(l)) {
                    List<Outcome> outcomes = other.readAll();
                    append(outcomes);
                    other.clear();
                    if (!outcomes.isEmpty()) {
                        log.info("Worker ack log {}: took over {} job outcomes left in {} by a worker that is gone", file,
                                outcomes.size(), f);
                    }
                    adopted.addAll(outcomes);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the worker ack logs in " + dir, e);
        }
        return adopted;
    }

    public boolean isEmpty() {
        return size == 0;
    }

    /** Appends the outcomes and fsyncs: when this returns they survive a crash of the process and the machine. */
    public void append(List<Outcome> outcomes) {
        if (outcomes.isEmpty()) {
            return;
        }
        try {
            List<ByteBuffer> frames = new ArrayList<>(outcomes.size());
            for (Outcome o : outcomes) {
                byte[] body = o.encode();
                CRC32 crc = new CRC32();
                crc.update(body);
                ByteBuffer b = ByteBuffer.allocate(12 + body.length);
                b.putInt(body.length).putLong(crc.getValue()).put(body).flip();
                frames.add(b);
            }
            channel.position(size);
            for (ByteBuffer b : frames) {
                while (b.hasRemaining()) {
                    channel.write(b);
                }
            }
            channel.force(false);
            size = channel.position();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot append to the worker ack log " + file, e);
        }
    }

    /** Every complete outcome in the file, oldest first; a torn tail is cut off. */
    public List<Outcome> readAll() {
        List<Outcome> out = new ArrayList<>();
        try {
            long len = channel.size();
            long pos = 0;
            ByteBuffer head = ByteBuffer.allocate(12);
            while (pos + 12 <= len) {
                head.clear();
                channel.read(head, pos);
                head.flip();
                int n = head.getInt();
                long crcValue = head.getLong();
                if (n < 0 || n > MAX_FRAME || pos + 12 + n > len) {
                    break;
                }
                ByteBuffer body = ByteBuffer.allocate(n);
                channel.read(body, pos + 12);
                CRC32 crc = new CRC32();
                crc.update(body.array());
                if (crc.getValue() != crcValue) {
                    break;
                }
                try {
                    out.add(Outcome.decode(body.array()));
                } catch (IllegalArgumentException e) {
                    log.warn("Worker ack log {}: skipped an undecodable record at offset {}", file, pos);
                }
                pos += 12 + n;
            }
            if (pos < len) {
                log.warn("Worker ack log {}: cut off a torn or corrupt tail of {} bytes at offset {}", file, len - pos, pos);
                channel.truncate(pos);
                channel.force(false);
            }
            size = pos;
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the worker ack log " + file, e);
        }
    }

    /** Empties the file: everything in it is in Redis. */
    public void clear() {
        try {
            channel.truncate(0);
            channel.force(true);
            size = 0;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot truncate the worker ack log " + file, e);
        }
    }

    @Override
    public void close() {
        try {
            lock.close();
        } catch (IOException e) {
            log.debug("closing the ack log", e);
        }
    }
}
