package io.spillway.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * A small file system of its own (a {@code tmpfs} of a chosen size mounted on a fresh directory), for tests of what
 * Spillway does when its disk fills up: writes past its size fail with ENOSPC, and writes into memory-mapped pages it
 * cannot back fault (SIGBUS), as on a real full disk.
 *
 * <p>Mounting needs root (or {@code CAP_SYS_ADMIN}): where {@code mount} is refused, {@link #mount} aborts the test
 * through a JUnit assumption that says so. {@link #fill} takes space with a filler file, {@link #free} gives it back.
 * {@link #close} unmounts (lazily, so a file still mapped by a closed producer's cleaner does not keep it).
 *
 * <pre>{@code
 * try (SmallDisk disk = SmallDisk.mount(tmp.resolve("disk"), 48L << 20)) {
 *     Path journal = disk.dir().resolve("journal");
 *     ...
 * }
 * }</pre>
 */
public final class SmallDisk implements AutoCloseable {
    private final Path dir;
    private final Path filler;

    private SmallDisk(Path dir) {
        this.dir = dir;
        this.filler = dir.resolve("filler");
    }

    /**
     * Mounts a tmpfs of {@code bytes} (rounded up to pages) on {@code dir} (created if missing).
     *
     * @throws org.opentest4j.TestAbortedException if this machine does not let the test mount one
     */
    public static SmallDisk mount(Path dir, long bytes) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        String out = run("mount", "-t", "tmpfs", "-o", "size=" + bytes, "tmpfs", dir.toString());
        Assumptions.assumeTrue(out == null, () -> "cannot mount a tmpfs for a small disk (root needed): " + out);
        return new SmallDisk(dir);
    }

    /** The mount point. */
    public Path dir() {
        return dir;
    }

    /** The usable space now. */
    public long usable() {
        try {
            return Files.getFileStore(dir).getUsableSpace();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Grows the filler file until {@code bytes} or less are usable (written for real, so the space is taken); returns
     * the usable space after.
     */
    public long fill(long leaveBytes) {
        long bulk = usable() - leaveBytes - (1 << 20);
        if (bulk > (8 << 20)) {
            // Most of it at once (a 1 GiB tmpfs took 3 s of 64 KiB writes); the writes below take the rest exactly, and
            // all of it where fallocate is missing or refused (its output is then ignored).
            run("fallocate", "-o", Long.toString(fillerSize()), "-l", Long.toString(bulk), filler.toString());
        }
        try (FileChannel ch = FileChannel.open(filler, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.APPEND)) {
            ByteBuffer chunk = ByteBuffer.allocate(64 << 10);
            while (usable() > leaveBytes) {
                chunk.clear().limit((int) Math.min(chunk.capacity(), Math.max(4096, usable() - leaveBytes)));
                try {
                    ch.write(chunk);
                } catch (IOException full) {
                    break; // no space left: as full as it gets
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return usable();
    }

    private long fillerSize() {
        try {
            return Files.exists(filler) ? Files.size(filler) : 0;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Deletes the filler file: the space {@link #fill} took is usable again. */
    public void free() {
        try {
            Files.deleteIfExists(filler);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        String out = run("umount", "-l", dir.toString());
        if (out != null) {
            throw new IllegalStateException("cannot unmount the small disk " + dir + ": " + out);
        }
    }

    @Override
    public String toString() {
        return "SmallDisk[" + dir + ", " + usable() + " bytes usable]";
    }

    /** Runs a command; null if it exited 0, else its output. */
    private static String run(String... command) {
        try {
            Process p = new ProcessBuilder(List.of(command)).redirectErrorStream(true).start();
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return String.join(" ", command) + ": no exit within 30 s";
            }
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            return p.exitValue() == 0 ? null : String.join(" ", command) + ": exit " + p.exitValue() + ": " + out;
        } catch (IOException e) {
            return String.join(" ", command) + ": " + e.getMessage();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return String.join(" ", command) + ": interrupted";
        }
    }
}
