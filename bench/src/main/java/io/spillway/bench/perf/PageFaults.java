package io.spillway.bench.perf;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What the first write to a 4 KB page costs on this machine, no Spillway and no Redis: a property of the machine
 * that bounds both the producer (memory-mapped journal files) and Redis (its memory grows by a page per few jobs).
 * Prints microseconds per page for: fresh anonymous memory (a direct buffer, zeroed by the JVM at allocation: what a
 * growing redis-server pays), a second write to the same pages, a fresh memory-mapped file, and the same file's
 * pages mapped again.
 *
 * <pre>java -cp bench/target/classes io.spillway.bench.perf.PageFaults [MiB] [dir]</pre>
 */
public final class PageFaults {
    private static final int PAGE = 4096;

    private PageFaults() {
    }

    public static void main(String[] args) throws Exception {
        int mib = args.length > 0 ? Integer.parseInt(args[0]) : 256;
        Path dir = args.length > 1 ? Path.of(args[1]) : Path.of(System.getProperty("java.io.tmpdir"));
        int pages = mib * (1 << 20) / PAGE;
        for (int rep = 0; rep < 3; rep++) {
            long t0 = System.nanoTime();
            ByteBuffer anon = ByteBuffer.allocateDirect(mib << 20); // zeroed page by page: each zeroing is a first write
            long t1 = System.nanoTime();
            long t2 = touch(anon, pages);
            Path f = Files.createTempFile(dir, "pagefaults", ".bin");
            try {
                long mapped;
                long again;
                try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
                    raf.setLength((long) mib << 20);
                    MappedByteBuffer m = raf.getChannel().map(FileChannel.MapMode.READ_WRITE, 0, (long) mib << 20);
                    mapped = touch(m, pages);
                    MappedByteBuffer m2 = raf.getChannel().map(FileChannel.MapMode.READ_WRITE, 0, (long) mib << 20);
                    again = touch(m2, pages);
                }
                System.out.printf("first write to a page: anonymous %.2f us, written again %.3f us; new mapped file %.2f us,"
                                + " its cached pages mapped again %.2f us (%d MiB)%n", (t1 - t0) / 1e3 / pages, t2 / 1e3 / pages,
                        mapped / 1e3 / pages, again / 1e3 / pages, mib);
            } finally {
                Files.deleteIfExists(f);
            }
        }
    }

    /** Writes one byte per page; returns the nanoseconds it took. */
    private static long touch(ByteBuffer b, int pages) {
        long t = System.nanoTime();
        for (int i = 0; i < pages; i++) {
            b.put(i * PAGE, (byte) 1);
        }
        return System.nanoTime() - t;
    }
}
