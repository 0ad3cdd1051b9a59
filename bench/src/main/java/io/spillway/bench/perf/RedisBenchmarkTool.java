package io.spillway.bench.perf;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The physical limit of the Redis used: the system's {@code redis-benchmark} (if installed) running
 * {@code XADD <stream> * j <200 bytes>} with 1 and 8 connections, and pipelined 500 deep. Results
 * {@code redisbench.<variant>} in commands/s.
 */
final class RedisBenchmarkTool {
    private final Env env;
    private final Results results;
    private String version = "not installed";

    RedisBenchmarkTool(Env env, Results results) {
        this.env = env;
        this.results = results;
        try {
            version = exec(List.of("redis-benchmark", "--version")).trim();
        } catch (RuntimeException e) {
            version = "not installed";
        }
    }

    String version() {
        return version;
    }

    boolean available() {
        return !version.equals("not installed");
    }

    void run() {
        if (!available()) {
            return;
        }
        String value = "x".repeat(200);
        int n = env.scale(200_000, 50_000);
        for (int rep = 0; rep < env.reps; rep++) {
            for (String[] v : new String[][] {{"c1", "1", "1"}, {"c8", "8", "1"}, {"c1-pipe500", "1", "500"}}) {
                env.flush();
                List<String> cmd = new ArrayList<>(List.of("redis-benchmark", "-h", "127.0.0.1", "-p", Integer.toString(env.port()),
                        "-n", Integer.toString(v[2].equals("1") ? n : n * 5), "-c", v[1], "-P", v[2], "--csv",
                        "XADD", "rb:stream", "*", "j", value));
                String out = exec(cmd);
                double rps = Double.NaN;
                for (String line : out.split("\n")) {
                    String[] f = line.split("\",\"");
                    if (f.length >= 2 && f[0].startsWith("\"XADD")) {
                        rps = Double.parseDouble(f[1].replace("\"", ""));
                    }
                }
                results.add("redisbench." + v[0], rps);
                Env.log("redis-benchmark XADD %s: %,.0f/s", v[0], rps);
            }
        }
        env.flush();
    }

    private static String exec(List<String> cmd) {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor(10, TimeUnit.MINUTES);
            return out;
        } catch (IOException e) {
            throw new IllegalStateException(e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
