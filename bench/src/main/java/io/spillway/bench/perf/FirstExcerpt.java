package io.spillway.bench.perf;

import java.nio.file.Files;
import java.nio.file.Path;
import net.openhft.chronicle.queue.ExcerptAppender;
import net.openhft.chronicle.queue.RollCycles;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueue;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueueBuilder;
import net.openhft.chronicle.wire.DocumentContext;

/**
 * The first excerpts of a fresh Chronicle queue (the journal's roll cycle, a metadata entry written at open as the
 * journal did until session 10), with and without one data entry before them: what the first record of a cycle file
 * costs. Eight queues in turn in one JVM, each after 20,000 appends to the one before (a warm JVM); per excerpt,
 * µs in {@code writingDocument} + µs in its close. Plain Chronicle, no Spillway.
 *
 * <pre>
 * java $FLAGS -cp "$(cat bench/target/classpath.txt):bench/target/classes" io.spillway.bench.perf.FirstExcerpt
 * </pre>
 */
public final class FirstExcerpt {
    private FirstExcerpt() {
    }

    public static void main(String[] args) throws Exception {
        byte[] record = new byte[280];
        for (int q = 0; q < 8; q++) {
            Path dir = Files.createTempDirectory("first-excerpt");
            boolean marker = q % 2 == 1;
            try (SingleChronicleQueue queue = SingleChronicleQueueBuilder.single(dir.toFile())
                    .rollCycle(RollCycles.FAST_HOURLY).build();
                 ExcerptAppender appender = queue.createAppender()) {
                try (DocumentContext dc = appender.writingDocument(true)) {
                    dc.wire().bytes().writeByte((byte) 0);
                }
                if (marker) {
                    try (DocumentContext dc = appender.writingDocument()) {
                        dc.wire().bytes().writeByte((byte) 0);
                    }
                }
                Thread.sleep(200);
                StringBuilder line = new StringBuilder(marker ? "one entry before: " : "first in cycle:   ");
                for (int i = 0; i < 6; i++) {
                    long t0 = System.nanoTime();
                    long t1;
                    try (DocumentContext dc = appender.writingDocument()) {
                        dc.wire().bytes().write(record);
                        t1 = System.nanoTime();
                    }
                    long t2 = System.nanoTime();
                    line.append(String.format(" [%.1f + %.1f]", (t1 - t0) / 1e3, (t2 - t1) / 1e3));
                }
                System.out.println(line);
                for (int i = 0; i < 20_000; i++) {
                    try (DocumentContext dc = appender.writingDocument()) {
                        dc.wire().bytes().write(record);
                    }
                }
            } finally {
                Env.deleteRecursively(dir);
            }
        }
    }
}
