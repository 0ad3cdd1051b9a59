package io.spillway.bench.chaos;

import java.io.FileOutputStream;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * An append-only file of one line per job id, written by a producer (ids it got a receipt for) or a
 * worker (ids its handler ran), and read by the harness for the verdict.
 *
 * <p>Invariants: each line is written with one {@code write(2)} of the whole line, so a SIGKILL of the
 * writer leaves either the full line or (in theory) a torn tail, never two lines interleaved. A torn tail
 * is closed with a newline on open, so the next line starts clean; the reader ignores lines that do not
 * start with a 26-character job id. Thread-safe.
 */
final class RecordFile implements AutoCloseable {
    private final FileOutputStream out;

    private RecordFile(FileOutputStream out) {
        this.out = out;
    }

    static RecordFile openAppend(Path file) {
        try {
            repairTornTail(file);
            return new RecordFile(new FileOutputStream(file.toFile(), true));
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot open record file " + file, e);
        }
    }

    /** Appends {@code line + '\n'} in one write; no buffering, so it survives a SIGKILL of this JVM. */
    synchronized void append(String line) {
        try {
            out.write((line + "\n").getBytes(StandardCharsets.US_ASCII));
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot append to a record file", e);
        }
    }

    @Override
    public synchronized void close() {
        try {
            out.close();
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot close a record file", e);
        }
    }

    /** Counts the well-formed lines already in the file (0 if it does not exist). */
    static long countValidLines(Path file) {
        if (!Files.exists(file)) {
            return 0;
        }
        try (var lines = Files.lines(file, StandardCharsets.US_ASCII)) {
            return lines.filter(RecordFile::isValid).count();
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read " + file, e);
        }
    }

    /** Whether a line starts with a minted job id (a ULID of 26 characters) followed by the end or a space. */
    static boolean isValid(String line) {
        if (line.length() < 26 || (line.length() > 26 && line.charAt(26) != ' ')) {
            return false;
        }
        for (int i = 0; i < 26; i++) {
            char c = line.charAt(i);
            if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z'))) {
                return false;
            }
        }
        return true;
    }

    private static void repairTornTail(Path file) throws IOException {
        if (!Files.exists(file) || Files.size(file) == 0) {
            return;
        }
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.seek(raf.length() - 1);
            if (raf.read() != '\n') {
                raf.seek(raf.length());
                raf.write('\n');
            }
        }
    }
}
