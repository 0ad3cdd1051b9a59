package io.spillway.core.internal;

import io.spillway.core.Durability;
import io.spillway.core.JobId;
import io.spillway.core.QueueName;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cancellations a producer made, on disk beside its {@link SentLog} ({@value #FILE} in the same directory), so
 * that a producer started on the journal after this one was killed can make them again if Redis restarted since: a
 * Redis that lost its last writes lost the cancellations among them, and the re-send of the predecessor's last writes
 * would bring their jobs back. The producer that made them keeps them in memory for the same purpose while it lives.
 *
 * <p>One line per cancellation, appended before {@code cancel} returns: {@code <crc32 hex> <epoch millis> <queue> <id>}
 * (queue names and ids have no spaces). A line whose checksum does not match (torn by a crash mid-write, a flipped
 * byte) is skipped. Past {@value #COMPACT_BYTES} bytes (or twice what the last rewrite kept) the file is rewritten
 * (a new file moved over it) with the lines young enough to matter. Durability as the journal's: {@link Durability#POWER_LOSS} forces each line to disk.
 * Best effort, like the sent log: a failure is logged (and counted), never thrown. Thread-safe.
 */
public final class CancelLog implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(CancelLog.class);
    public static final String FILE = "cancels.log";
    static final long COMPACT_BYTES = 1 << 20;

    /** One cancellation. */
    public record Entry(long atMillis, QueueName queue, JobId id) {
    }

    private final Path file;
    private final Durability durability;
    /** Lines younger than this (relative to the newest) are kept by a compaction. */
    private final long keepMillis;
    private FileChannel channel;
    private long size;
    /** The size past which the next append compacts: twice what the last compaction kept, at least COMPACT_BYTES. */
    private long compactAt = COMPACT_BYTES;
    private long failed;

    private CancelLog(Path file, Durability durability, long keepMillis) throws IOException {
        this.file = file;
        this.durability = durability;
        this.keepMillis = keepMillis;
        this.channel = open(file);
        this.size = channel.size();
        if (size > 0) {
            // A line torn by a crash mid-write has no end: end it, or the next line would be read as part of it.
            ByteBuffer last = ByteBuffer.allocate(1);
            try (FileChannel r = FileChannel.open(file, StandardOpenOption.READ)) {
                r.read(last, size - 1);
            }
            if (last.get(0) != '\n') {
                channel.write(ByteBuffer.wrap(new byte[] {'\n'}));
                size++;
            }
        }
    }

    /**
     * Opens (creating if needed) the cancel log in {@code dir} (the sent log's directory).
     *
     * @param keepMillis how old a line may get before a compaction drops it
     * @throws io.spillway.core.JournalException if the file cannot be opened
     */
    public static CancelLog open(Path dir, Durability durability, long keepMillis) {
        try {
            PrivateDirectory.ensure(dir);
            return new CancelLog(dir.resolve(FILE), durability, keepMillis);
        } catch (IOException e) {
            throw new io.spillway.core.JournalException("Cannot open the cancel log " + dir.resolve(FILE) + ": "
                    + e.getMessage(), e);
        }
    }

    private static FileChannel open(Path file) throws IOException {
        return FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
    }

    /** Records a cancellation Redis answered; on disk (as the durability says) when this returns. */
    public synchronized void append(QueueName queue, JobId id, long atMillis) {
        if (channel == null) {
            return;
        }
        try {
            if (size >= compactAt) {
                compact(atMillis);
            }
            byte[] line = line(new Entry(atMillis, queue, id));
            ByteBuffer b = ByteBuffer.wrap(line);
            while (b.hasRemaining()) {
                channel.write(b);
            }
            size += line.length;
            if (durability == Durability.POWER_LOSS) {
                channel.force(false);
            }
        } catch (IOException e) {
            if (failed++ % 1_000 == 0) {
                log.warn("Cancel log {}: append failed ({}; {} failed so far): a producer started after this one dies"
                        + " cannot make these cancellations again", file, e.getMessage(), failed);
            }
        }
    }

    /** The cancellations recorded at or after {@code sinceMillis}, oldest first; lines that do not check out skipped. */
    public synchronized List<Entry> since(long sinceMillis) {
        List<Entry> out = new ArrayList<>();
        for (Entry e : read()) {
            if (e.atMillis() >= sinceMillis) {
                out.add(e);
            }
        }
        return out;
    }

    /**
     * How far back cancellations are made again after Redis comes back with a new run id: the re-send window, which is
     * how far back the re-send reaches; for a write-ahead journal at least {@code maxAgeMillis}, because its re-send
     * reaches every job not confirmed finished, and a cancelled job stays in the journal behind any earlier one still
     * unfinished.
     */
    public static long windowMillis(boolean writeAhead, long resendWindowMillis, long maxAgeMillis) {
        return writeAhead ? Math.max(resendWindowMillis, maxAgeMillis) : resendWindowMillis;
    }

    /**
     * The cancellations a producer started on this journal makes again (before it sends its predecessor's last writes
     * again) if Redis restarted since: those within {@code windowMillis} of the newest of them or of the newest of
     * {@code predecessorWrites} (what the sent log gives back), and every one since the oldest of those writes (a job
     * sent again must find its cancellation, which came after it, made again), but none older than
     * {@code maxAgeMillis}, as for the writes.
     */
    public synchronized List<Entry> toMakeAgain(List<RecentWrites.Entry> predecessorWrites, long windowMillis,
                                                long maxAgeMillis, long nowMillis) {
        List<Entry> logged = since(nowMillis - maxAgeMillis);
        long newest = Long.MIN_VALUE;
        long oldestWrite = Long.MAX_VALUE;
        for (RecentWrites.Entry w : predecessorWrites) {
            newest = Math.max(newest, w.ackedAtMillis());
            oldestWrite = Math.min(oldestWrite, w.ackedAtMillis());
        }
        for (Entry e : logged) {
            newest = Math.max(newest, e.atMillis());
        }
        long from = Math.min(newest - windowMillis, oldestWrite);
        return logged.stream().filter(e -> e.atMillis() >= from).toList();
    }

    /** Every line that checks out, in file order. */
    private List<Entry> read() {
        List<Entry> out = new ArrayList<>();
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.ISO_8859_1);
        } catch (IOException e) {
            log.warn("Cancel log {}: cannot be read ({}): its cancellations are not made again", file, e.getMessage());
            return out;
        }
        int bad = 0;
        for (String l : lines) {
            Entry e = parse(l);
            if (e != null) {
                out.add(e);
            } else if (!l.isEmpty()) {
                bad++;
            }
        }
        if (bad > 0) {
            log.warn("Cancel log {}: {} damaged lines skipped (torn by a crash, or corrupt)", file, bad);
        }
        return out;
    }

    /** Rewrites the file with the lines at most {@link #keepMillis} older than {@code nowMillis}. */
    private void compact(long nowMillis) throws IOException {
        List<Entry> keep = new ArrayList<>();
        for (Entry e : read()) {
            if (e.atMillis() >= nowMillis - keepMillis) {
                keep.add(e);
            }
        }
        Path tmp = file.resolveSibling(FILE + ".tmp");
        try (FileChannel out = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            for (Entry e : keep) {
                ByteBuffer b = ByteBuffer.wrap(line(e));
                while (b.hasRemaining()) {
                    out.write(b);
                }
            }
            out.force(false);
        }
        channel.close();
        channel = null;
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        channel = open(file);
        size = channel.size();
        compactAt = Math.max(COMPACT_BYTES, 2 * size);
    }

    static byte[] line(Entry e) {
        String body = e.atMillis() + " " + e.queue().value() + " " + e.id().value();
        return (String.format("%08x", crc(body)) + " " + body + "\n").getBytes(StandardCharsets.ISO_8859_1);
    }

    /** The entry of a line, or null if it is malformed or its checksum does not match. */
    static Entry parse(String line) {
        String[] f = line.split(" ", -1);
        if (f.length != 4 || f[0].length() != 8) {
            return null;
        }
        String body = f[1] + " " + f[2] + " " + f[3];
        try {
            if (Long.parseLong(f[0], 16) != crc(body)) {
                return null;
            }
            return new Entry(Long.parseLong(f[1]), QueueName.of(f[2]), JobId.of(f[3]));
        } catch (IllegalArgumentException bad) {
            return null; // NumberFormatException included
        }
    }

    private static long crc(String body) {
        CRC32 c = new CRC32();
        c.update(body.getBytes(StandardCharsets.ISO_8859_1));
        return c.getValue();
    }

    @Override
    public synchronized void close() {
        if (channel == null) {
            return;
        }
        try {
            channel.close();
        } catch (IOException e) {
            // Every line was written when its append returned; nothing is left to flush.
        }
        channel = null;
    }
}
