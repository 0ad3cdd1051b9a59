package io.spillway.bench.perf;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.spillway.testing.RedisProcess;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.redisson.Redisson;
import org.redisson.api.RedissonClient;
import org.redisson.config.Config;
import redis.clients.jedis.Jedis;

/**
 * The one entry point of the side-by-side benchmarks: starts one redis-server (AOF everysec,
 * noeviction), runs every section against it, and writes {@code docs/benchmarks.md} and
 * {@code docs/img/bench-*.png}.
 *
 * <pre>
 * java [chronicle flags] -cp ... io.spillway.bench.perf.BenchmarkMain [--quick] [--reps N]
 *      [--only micro,enqueue,redisbench,e2e,rtt,spool,transitions,replay,outage,memory]
 *      [--docs DIR] [--node-dir DIR] [--raw FILE] [--report-only FILE]
 * </pre>
 * Steps: 1. micro (JMH, forked JVM); 2. enqueue; 3. redis-benchmark; 4. end to end; 5. commands per job
 * (MONITOR); 6. spool latency; 7. fault transitions; 8. replay; 9. outage side by side; 10. memory (child
 * JVM). Raw samples go to {@code --raw} (JSON) so the report can be rewritten with {@code --report-only}.
 */
public final class BenchmarkMain {
    static final List<String> ALL = List.of("micro", "enqueue", "redisbench", "e2e", "rtt", "spool", "transitions", "replay",
            "outage", "memory");

    private BenchmarkMain() {
    }

    public static void main(String[] args) throws Exception {
        boolean quick = false;
        int reps = -1;
        Set<String> only = new java.util.LinkedHashSet<>(ALL);
        Path docs = Path.of("docs");
        Path nodeDir = Path.of("bench/node");
        Path raw = Path.of("bench/target/bench-results.json");
        Path reportOnly = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--quick" -> quick = true;
                case "--reps" -> reps = Integer.parseInt(args[++i]);
                case "--only" -> only = new java.util.LinkedHashSet<>(List.of(args[++i].split(",")));
                case "--docs" -> docs = Path.of(args[++i]);
                case "--node-dir" -> nodeDir = Path.of(args[++i]);
                case "--raw" -> raw = Path.of(args[++i]);
                case "--report-only" -> reportOnly = Path.of(args[++i]);
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        if (reps < 0) {
            reps = quick ? 2 : 5;
        }
        if (reportOnly != null) {
            RunInfo info = RunInfo.read(reportOnly);
            new ReportWriter(info.results, info.meta, info.curves).write(docs);
            return;
        }
        Results results = new Results();
        Map<String, String> meta = new LinkedHashMap<>();
        Map<String, List<double[]>> curves = new LinkedHashMap<>();
        meta.put("command", System.getProperty("bench.command", "java ... io.spillway.bench.perf.BenchmarkMain " + String.join(" ", args)));
        meta.put("mode", (quick ? "quick" : "full") + ", " + reps + " repetitions");
        meta.put("started", Instant.now().toString());
        meta.put("loadavg.start", readFile("/proc/loadavg"));
        RunInfo.machine(meta);
        Path scratch = Files.createTempDirectory("spillway-bench-");
        long t0 = System.nanoTime();
        try (RedisProcess redis = RedisProcess.builder().start()) {
            Env env = new Env(redis, quick, reps, scratch);
            try (Jedis j = env.jedis()) {
                Map<String, String> info = parseInfo(j.info("server"));
                String where = redis.binary().toString().contains("spillway-redis-") ? "embedded-redis jar" : redis.binary().toString();
                meta.put("redis", "redis-server " + info.get("redis_version") + " (" + where + "), appendonly yes, appendfsync everysec,"
                        + " maxmemory-policy noeviction, no RDB, 127.0.0.1");
            }
            BullMq bull = new BullMq(nodeDir, redis.port());
            meta.put("bullmq", bull.available() ? "bullmq " + bull.version() + " on Node.js " + bull.nodeVersion() : "not available");
            RedisBenchmarkTool rb = new RedisBenchmarkTool(env, results);
            meta.put("redis-benchmark", rb.version());
            Config rc = new Config();
            rc.useSingleServer().setAddress("redis://127.0.0.1:" + redis.port()).setConnectionPoolSize(16).setConnectionMinimumIdleSize(8);
            // Created for the sections that compare with Redisson, and shut down before the ones that time Spillway
            // alone (spool, transitions, replay): at a Redis kill its netty threads wake up, reconnect and load
            // classes on the same 2 cores as the producer being timed.
            RedissonClient[] redissonHolder = {null};
            java.util.function.Supplier<RedissonClient> redisson = () -> {
                if (redissonHolder[0] == null) {
                    redissonHolder[0] = Redisson.create(rc);
                }
                return redissonHolder[0];
            };
            Runnable closeRedisson = () -> {
                if (redissonHolder[0] != null) {
                    redissonHolder[0].shutdown();
                    redissonHolder[0] = null;
                }
            };
            try {
                for (String section : only) {
                    Env.log("=== %s", section);
                    long s0 = System.nanoTime();
                    if (section.equals("spool") || section.equals("transitions") || section.equals("replay")) {
                        closeRedisson.run();
                    }
                    try {
                        switch (section) {
                            case "micro" -> new MicroBench(env, results, chronicleFlags()).run();
                            case "enqueue" -> new EnqueueBench(env, results, bull, redisson.get()).runAll();
                            case "redisbench" -> rb.run();
                            case "e2e" -> new EndToEndBench(env, results, bull, redisson.get()).runAll();
                            case "rtt" -> new EndToEndBench(env, results, bull, redisson.get()).countCommands();
                            case "spool" -> {
                                long[] lat = new SpoolBench(env, results).spoolLatency();
                                curves.put("spool.cdf", cdf(lat));
                            }
                            case "transitions" -> new SpoolBench(env, results).transitions();
                            case "replay" -> new SpoolBench(env, results).replay();
                            case "outage" -> {
                                OutageBench ob = new OutageBench(env, results, bull, redisson.get());
                                ob.run();
                                curves.putAll(ob.timelines);
                            }
                            case "memory" -> {
                                MemoryBench mb = new MemoryBench(env, results);
                                mb.run();
                                curves.put("memory", mb.curve);
                            }
                            default -> throw new IllegalArgumentException("unknown section " + section);
                        }
                    } catch (Exception e) {
                        // One section failing must not lose the others' figures; the report says what failed.
                        e.printStackTrace();
                        results.note("failed." + section, e.toString());
                        if (!redis.isAlive()) {
                            redis.restart();
                        } else if (redis.isHung()) {
                            redis.resume();
                        }
                    }
                    meta.put("seconds." + section, String.format("%.0f", (System.nanoTime() - s0) / 1e9));
                }
            } finally {
                closeRedisson.run();
                if (!bull.errors.isEmpty()) {
                    results.note("failed.bullmq", String.join(" | ", bull.errors));
                }
            }
        } finally {
            Env.deleteRecursively(scratch);
        }
        meta.put("loadavg.end", readFile("/proc/loadavg"));
        meta.put("seconds.total", String.format("%.0f", (System.nanoTime() - t0) / 1e9));
        meta.put("sections", String.join(",", only));
        RunInfo.write(raw, results, meta, curves);
        new ReportWriter(results, meta, curves).write(docs);
        Env.log("done in %s s; report in %s", meta.get("seconds.total"), docs.resolve("benchmarks.md"));
        System.exit(0);
    }

    /** The JVM flags this JVM runs with that Chronicle needs (passed on to JMH's fork). */
    static List<String> chronicleFlags() {
        List<String> out = new ArrayList<>();
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (a.startsWith("--add-") || a.startsWith("--enable-native") || a.startsWith("-Dchronicle")
                    || a.startsWith("--sun-misc")) {
                out.add(a);
            }
        }
        return out;
    }

    /** Up to 400 points of the latency CDF: {percentile, µs}. */
    static List<double[]> cdf(long[] sorted) {
        List<double[]> out = new ArrayList<>();
        if (sorted.length == 0) {
            return out;
        }
        for (double p : new double[] {1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 97, 98, 99, 99.5, 99.7, 99.8, 99.9,
                99.95, 99.97, 99.99, 99.995, 99.999, 100}) {
            out.add(new double[] {p, Samples.percentile(sorted, p) / 1e3});
        }
        return out;
    }

    static Map<String, String> parseInfo(String info) {
        Map<String, String> m = new LinkedHashMap<>();
        for (String line : info.split("\r?\n")) {
            int c = line.indexOf(':');
            if (c > 0) {
                m.put(line.substring(0, c), line.substring(c + 1).trim());
            }
        }
        return m;
    }

    static String readFile(String file) {
        try {
            return Files.readString(Path.of(file)).trim();
        } catch (Exception e) {
            return "n/a";
        }
    }

    /** The raw results file: figures, notes, metadata, curves. */
    static final class RunInfo {
        Results results = new Results();
        Map<String, String> meta = new LinkedHashMap<>();
        Map<String, List<double[]>> curves = new LinkedHashMap<>();

        static void machine(Map<String, String> meta) {
            String cpu = "?";
            for (String line : readFile("/proc/cpuinfo").split("\n")) {
                if (line.startsWith("model name")) {
                    cpu = line.substring(line.indexOf(':') + 1).trim();
                    break;
                }
            }
            String mem = "?";
            for (String line : readFile("/proc/meminfo").split("\n")) {
                if (line.startsWith("MemTotal")) {
                    mem = String.format("%.1f GB", Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024.0 / 1024.0);
                }
            }
            meta.put("machine", Runtime.getRuntime().availableProcessors() + " cores (" + cpu + "), " + mem + " RAM, Linux "
                    + System.getProperty("os.version"));
            meta.put("jdk", System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version"));
            StringBuilder libs = new StringBuilder();
            for (String e : System.getProperty("java.class.path").split(java.io.File.pathSeparator)) {
                String f = Path.of(e).getFileName().toString();
                for (String lib : new String[] {"jedis-", "redisson-", "chronicle-queue-", "jmh-core-", "xchart-"}) {
                    if (f.startsWith(lib) && f.endsWith(".jar")) {
                        libs.append(libs.length() > 0 ? ", " : "").append(f, 0, f.length() - 4);
                    }
                }
            }
            meta.put("libraries", libs.toString());
        }

        static void write(Path file, Results results, Map<String, String> meta, Map<String, List<double[]>> curves) throws Exception {
            ObjectMapper m = new ObjectMapper();
            ObjectNode root = m.createObjectNode();
            ObjectNode figs = root.putObject("figures");
            results.all().forEach((k, v) -> {
                var arr = figs.putArray(k);
                v.values().forEach(arr::add);
            });
            ObjectNode notes = root.putObject("notes");
            results.notes().forEach(notes::put);
            ObjectNode mt = root.putObject("meta");
            meta.forEach(mt::put);
            ObjectNode cv = root.putObject("curves");
            curves.forEach((k, v) -> {
                var arr = cv.putArray(k);
                v.forEach(pt -> {
                    var a = arr.addArray();
                    for (double d : pt) {
                        a.add(d);
                    }
                });
            });
            Files.createDirectories(file.toAbsolutePath().getParent());
            m.writerWithDefaultPrettyPrinter().writeValue(file.toFile(), root);
        }

        static RunInfo read(Path file) throws Exception {
            var root = new ObjectMapper().readTree(file.toFile());
            RunInfo r = new RunInfo();
            root.path("figures").fields().forEachRemaining(e -> e.getValue().forEach(v -> r.results.add(e.getKey(), v.asDouble())));
            root.path("notes").fields().forEachRemaining(e -> r.results.note(e.getKey(), e.getValue().asText()));
            root.path("meta").fields().forEachRemaining(e -> r.meta.put(e.getKey(), e.getValue().asText()));
            root.path("curves").fields().forEachRemaining(e -> {
                List<double[]> pts = new ArrayList<>();
                e.getValue().forEach(a -> {
                    double[] pt = new double[a.size()];
                    for (int i = 0; i < pt.length; i++) {
                        pt[i] = a.get(i).asDouble();
                    }
                    pts.add(pt);
                });
                r.curves.put(e.getKey(), pts);
            });
            return r;
        }
    }
}
