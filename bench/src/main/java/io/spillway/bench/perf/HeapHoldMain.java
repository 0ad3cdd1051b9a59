package io.spillway.bench.perf;

import io.spillway.backend.JobProducer;
import io.spillway.testing.FreePorts;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

/**
 * Child JVM (run with a fixed -Xmx): a producer whose Redis is down spools {@code args[1]} jobs of 200
 * bytes into {@code args[0]} and prints, every {@code args[2]} jobs, one line
 * {@code HEAP <jobs> <heapUsedAfterGcBytes> <rssBytes> <rssAnonBytes> <journalApparentBytes>}, then {@code DONE}.
 */
public final class HeapHoldMain {
    private HeapHoldMain() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        long total = Long.parseLong(args[1]);
        long every = Long.parseLong(args[2]);
        byte[] payload = new byte[200];
        new Random(42).nextBytes(payload);
        URI dead = URI.create("redis://127.0.0.1:" + FreePorts.next());
        try (JobProducer p = JobProducer.builder().redis(dead).journalDir(dir).journalMaxBytes(SpoolBench.BIG_JOURNAL).build()) {
            report(0, dir);
            for (long i = 1; i <= total; i++) {
                p.enqueue("bench-heap", "noop", payload);
                if (i % every == 0) {
                    report(i, dir);
                }
            }
            System.out.println("BACKLOG " + p.journalBacklog());
        }
        System.out.println("DONE");
    }

    private static void report(long jobs, Path dir) throws Exception {
        for (int i = 0; i < 3; i++) {
            System.gc();
            Thread.sleep(100);
        }
        long heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
        long rss = 0;
        long anon = 0;
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                rss = Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            } else if (line.startsWith("RssAnon:")) {
                anon = Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        long disk;
        try (var s = Files.walk(dir)) {
            disk = s.filter(Files::isRegularFile).mapToLong(f -> {
                try {
                    return Files.size(f);
                } catch (java.io.IOException e) {
                    return 0;
                }
            }).sum();
        }
        System.out.println("HEAP " + jobs + " " + heap + " " + rss + " " + anon + " " + disk);
        System.out.flush();
    }
}
