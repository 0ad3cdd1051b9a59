package io.spillway.bench.perf;

import io.spillway.testing.ChildJvm;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Issue 2/6 memory figure: a producer in a child JVM with a fixed heap ({@value #XMX}) spools N jobs
 * (10,000,000 on a full run) while Redis is down; heap used after a full GC and RSS, sampled as it goes.
 * Results: {@code memory.*}; the samples are kept for the chart.
 */
final class MemoryBench {
    static final String XMX = "-Xmx256m";
    private final Env env;
    private final Results results;
    /** {jobs, heapMB, rssMB, rssAnonMB, journalMB} per sample of the last run. */
    final List<double[]> curve = new ArrayList<>();

    MemoryBench(Env env, Results results) {
        this.env = env;
        this.results = results;
    }

    void run() throws Exception {
        long n = env.scale(10_000_000, 1_000_000);
        Path dir = env.freshDir("heap");
        try (ChildJvm child = ChildJvm.builder(HeapHoldMain.class).jvmArgs(XMX, "-Xms256m")
                .args(dir.toString(), Long.toString(n), Long.toString(n / 20)).start()) {
            int code = child.waitFor(Duration.ofMinutes(30));
            String out = child.output();
            if (code != 0 || !out.contains("DONE")) {
                results.note("memory", "child JVM failed (exit " + code + "): " + tail(out));
                Env.log("memory child failed: %s", tail(out));
                return;
            }
            for (String line : out.split("\n")) {
                if (line.startsWith("HEAP ")) {
                    String[] f = line.trim().split(" ");
                    curve.add(new double[] {Double.parseDouble(f[1]), mb(f[2]), mb(f[3]), mb(f[4]), mb(f[5])});
                }
            }
            double[] first = curve.get(0);
            double[] last = curve.get(curve.size() - 1);
            double maxHeap = curve.stream().mapToDouble(c -> c[1]).max().orElse(Double.NaN);
            results.add("memory.jobs", last[0]);
            results.add("memory.heapStartMB", first[1]);
            results.add("memory.heapEndMB", last[1]);
            results.add("memory.heapMaxMB", maxHeap);
            results.add("memory.heapGrowthMB", last[1] - first[1]);
            results.add("memory.rssStartMB", first[2]);
            results.add("memory.rssEndMB", last[2]);
            results.add("memory.rssAnonStartMB", first[3]);
            results.add("memory.rssAnonEndMB", last[3]);
            results.add("memory.journalMB", last[4]);
            Env.log("memory: %,.0f jobs spooled: heap after GC %.1f -> %.1f MB (max %.1f), RSS %.0f -> %.0f MB (anon %.0f -> %.0f), journal %.0f MB",
                    last[0], first[1], last[1], maxHeap, first[2], last[2], first[3], last[3], last[4]);
        } finally {
            Env.deleteRecursively(dir);
        }
    }

    private static double mb(String bytes) {
        return Long.parseLong(bytes) / (1024.0 * 1024.0);
    }

    private static String tail(String s) {
        return s.length() > 2000 ? s.substring(s.length() - 2000) : s;
    }
}
