package io.spillway.bench.perf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs {@code bench/node/bullmq-bench.js} (npm {@code bullmq} on the machine's Node.js) against the same
 * Redis and reads the one JSON line it prints. Absent Node or BullMQ, {@link #available()} is false and
 * the report says so.
 */
final class BullMq {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final Path dir;
    private final int port;
    private String version = "n/a";
    private String nodeVersion = "n/a";
    /** Errors a BullMQ run reported (its figure is then missing). */
    final java.util.Set<String> errors = new java.util.LinkedHashSet<>();

    BullMq(Path dir, int port) {
        this.dir = dir;
        this.port = port;
        try {
            Path pkg = dir.resolve("node_modules/bullmq/package.json");
            if (Files.exists(pkg)) {
                version = JSON.readTree(pkg.toFile()).path("version").asText("?");
            }
            Process p = new ProcessBuilder("node", "--version").redirectErrorStream(true).start();
            nodeVersion = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            p.waitFor(10, TimeUnit.SECONDS);
        } catch (IOException | InterruptedException e) {
            nodeVersion = "n/a";
        }
    }

    boolean available() {
        return !version.equals("n/a") && !nodeVersion.equals("n/a");
    }

    String version() {
        return version;
    }

    String nodeVersion() {
        return nodeVersion;
    }

    /** Runs one mode ({@code add}, {@code addBulk}, {@code e2e}, {@code outage}); returns its JSON result. */
    JsonNode run(String mode, String... args) {
        List<String> cmd = new ArrayList<>(List.of("node", dir.resolve("bullmq-bench.js").toString(), Integer.toString(port), mode));
        cmd.addAll(List.of(args));
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(10, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new IllegalStateException("bullmq " + mode + " did not finish");
            }
            String last = null;
            for (String line : out.split("\n")) {
                if (line.startsWith("{")) {
                    last = line;
                }
            }
            if (last == null) {
                throw new IllegalStateException("bullmq " + mode + " printed no result: " + out);
            }
            JsonNode result = JSON.readTree(last);
            if (result.has("error")) {
                String e = result.path("error").asText();
                e = e.contains("\n") ? e.substring(0, e.indexOf('\n')) : e;
                errors.add(mode + ": " + e);
                Env.log("bullmq %s failed: %s", mode, e);
            }
            return result;
        } catch (IOException e) {
            throw new IllegalStateException("bullmq " + mode + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
