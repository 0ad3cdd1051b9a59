package io.spillway.cli;

import com.codahale.metrics.MetricRegistry;
import com.fasterxml.jackson.annotation.JsonInclude;
import io.spillway.backend.JobProducer;
import io.spillway.backend.Receipt;
import io.spillway.core.HealthState;
import io.spillway.core.JobState;
import io.spillway.core.MetricNames;
import io.spillway.watchdog.RedisServerConfig;
import io.spillway.watchdog.Watchdog;
import io.spillway.watchdog.WatchdogConfig;
import io.spillway.watchdog.WatchdogEvent;
import io.spillway.worker.Worker;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * The one-command demo: an embedded Redis under the watchdog, a producer and a worker in this JVM, a
 * steady stream of jobs, and Redis killed and frozen mid-run. What it does:
 * <ol>
 *   <li>Start redis-server (the embedded binary, AOF everysec, noeviction) under a {@link Watchdog}.</li>
 *   <li>Start a {@link Worker} whose handler records each job id it runs, and a {@link JobProducer}.</li>
 *   <li>Enqueue {@code --jobs} jobs at {@code --rate} per second from one thread, recording each accepted
 *       id and the worst enqueue latency; meanwhile apply the fault schedule (SIGKILL, SIGSTOP) to Redis.</li>
 *   <li>Wait until every accepted id was handled (or the drain timeout). Ask where each accepted id not
 *       handled yet is ({@link JobProducer#status}): one Redis or the journal still holds (queued, delayed,
 *       active, retrying, spooled) is not yet handled, not lost; only one that is nowhere is lost.</li>
 *   <li>Stop everything and print the table. Processed, lost and duplicates come from the demo's own two
 *       records (ids accepted, ids handled), not from Spillway's counters. Exit 1 if any accepted job was
 *       lost, could not be looked up, or was not yet handled (the run did not show it handled).</li>
 * </ol>
 * With {@code --cluster}, step 1 starts a {@link DemoCluster} instead (three masters, each under its own watchdog,
 * formed by the demo), the producer and the worker use its {@code redis-cluster://} URI, the jobs go in turn to one
 * queue per master, and the faults hit the masters in turn; after each, the next waits until the cluster is whole
 * again ({@code cluster_state:ok} on every master).
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Show the promise: jobs keep flowing while Redis is SIGKILLed twice and SIGSTOPped once, and none is lost.",
                "Runs an embedded Redis under the watchdog, a producer and workers in this JVM, then prints accepted,"
                        + " processed, lost, duplicates, spooled, replayed, worst enqueue latency and Redis downtime."
                        + " Exits 1 if a job was lost, or was not handled by the end of --drain-timeout."
                        + " With --cluster, the same on a Redis Cluster of 3 masters that it forms itself."},
        // Help texts are format strings: a literal % is %% (picocli escapes the ${DEFAULT-VALUE}s itself). The example
        // is cut where a shell allows it: picocli would wrap it at 80 columns, inside the --faults value.
        footer = {"", "Examples:", "  spillway demo", "  spillway demo --cluster", "  spillway demo --jobs 20000 --rate 1000 \\",
                "      --faults kill@20%%,stop@40%%,kill@60%%,stop@80%%"})
final class DemoCommand implements Callable<Integer> {
    static final String QUEUE = "demo";
    static final String TYPE = "demo.work";
    private static final Pattern FAULT = Pattern.compile("(kill|stop)@(\\d+(?:\\.\\d+)?)(%|s)");

    @Option(names = "--jobs", defaultValue = "3000", description = "Jobs to enqueue (default: ${DEFAULT-VALUE}).")
    int jobs;

    @Option(names = "--rate", defaultValue = "150", description = "Jobs per second (default: ${DEFAULT-VALUE}).")
    double rate;

    @Option(names = "--workers", defaultValue = "4", description = "Worker threads (default: ${DEFAULT-VALUE}).")
    int workers;

    @Option(names = "--faults", paramLabel = "SPEC", defaultValue = "kill@25%,stop@50%,kill@75%",
            description = {"Faults: comma-separated kill|stop @ a point in the enqueue phase, in %% or seconds"
                    + " (e.g. kill@5s); 'none' for none.",
                    // A line of its own: wrapped inside a line, the value was cut after a comma.
                    "Default: ${DEFAULT-VALUE}."})
    String faults;

    @Option(names = "--seed", defaultValue = "42", description = "Seed of the workload: payload sizes and handler times (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--job-time", paramLabel = "MS",
            description = "Each job takes this long in its handler (default: 0.5-5 ms, drawn from --seed); e.g. 2000 for long jobs.")
    Long jobTimeMs;

    @Option(names = "--hang-timeout", paramLabel = "MS", defaultValue = "2000",
            description = "Watchdog: kill and restart a Redis that has not answered for this long (default: ${DEFAULT-VALUE}).")
    long hangTimeoutMs;

    @Option(names = "--drain-timeout", paramLabel = "S", defaultValue = "90",
            description = "After the last enqueue, wait at most this long for every job to be processed (default: ${DEFAULT-VALUE}).")
    long drainTimeoutS;

    @Option(names = "--no-persistence",
            description = "Run Redis without AOF or RDB: after each kill it comes back empty. Shows what that loses;"
                    + " add --write-ahead to lose nothing.")
    boolean noPersistence;

    @Option(names = "--write-ahead",
            description = "Run the producer in the write-ahead mode: every job stays in its journal until a worker has"
                    + " completed it, and is sent again if Redis comes back empty.")
    boolean writeAhead;

    @Option(names = "--cluster",
            description = "Run it on a Redis Cluster of 3 masters (no replicas), each redis-server under its own watchdog,"
                    + " one queue on each master; the faults hit the masters in turn.")
    boolean cluster;

    @Option(names = "--dir", paramLabel = "DIR", description = "Keep Redis data, journal and worker state here (default: a temp dir, deleted after).")
    Path dir;

    @Option(names = "--log", paramLabel = "FILE", description = "Where Spillway's own log lines go (default: <tmp>/spillway-demo.log).")
    Path log;

    @Option(names = "--plain", description = "Periodic plain lines instead of a live progress line, even on a terminal.")
    boolean plain;

    @Option(names = "--json", description = "Print the final table as JSON.")
    boolean json;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    /** Longest wait for the watchdog to bring Redis back after a fault, beyond the hang timeout. */
    private static final long REPAIR_TIMEOUT_MILLIS = 30_000;
    /** Longest wait for the demo's Redis Cluster to form. */
    private static final Duration CLUSTER_START_TIMEOUT = Duration.ofSeconds(30);

    private final Object printLock = new Object();
    /** Per node, the restart count of its watchdog's latest Up event: it is back from the faults up to that one. */
    private final AtomicIntegerArray recoveredRestarts = new AtomicIntegerArray(DemoCluster.MASTERS);
    /** The demo's Redis: one redis-server, or the masters of the cluster, each under its watchdog. */
    private List<Watchdog> nodes = List.of();
    private DemoCluster redisCluster;
    private List<String> queues = List.of(QUEUE);
    /** With --cluster: from each fault until the cluster was whole again, summed. */
    private final AtomicLong clusterNotOkMillis = new AtomicLong();
    private final long t0 = System.nanoTime();
    private PrintWriter out;
    private boolean live;
    private boolean progressShown;

    /** Where main() points slf4j-simple before any logger exists: --log FILE, or the default. */
    static Path logFile(String[] args) {
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--log") && i + 1 < args.length) {
                return Path.of(args[i + 1]).toAbsolutePath();
            }
            if (args[i].startsWith("--log=")) {
                return Path.of(args[i].substring(6)).toAbsolutePath();
            }
        }
        return Path.of(System.getProperty("java.io.tmpdir"), "spillway-demo.log");
    }

    record Fault(String kind, long atMillis) {
    }

    /**
     * The result table; also the JSON document. {@code notYetHandled}: accepted, not handled when the drain
     * timeout ran out, but still held by Redis or the journal (by state in {@code notYetHandledByState});
     * {@code unchecked}: not handled, and where they are could not be asked (Redis did not answer in time).
     * {@code clusterNotOkMs} ({@code --cluster} only, else absent): from each fault until every master reported
     * {@code cluster_state:ok} again, summed; longer than {@code redisDowntimeMs}, which ends when a master answers PING.
     */
    record Result(long accepted, long processed, long notYetHandled, Map<String, Long> notYetHandledByState, long unchecked,
                  long lost, long duplicates, long spooled, long replayed, long rejected, double worstEnqueueMs,
                  long redisDowntimeMs, int redisRestarts, @JsonInclude(JsonInclude.Include.NON_NULL) Long clusterNotOkMs,
                  long seconds, long stillInJournal, List<String> lostIds) {
    }

    /** Where the accepted jobs not handled are: still held (by state), nowhere (lost), or not known. */
    record Unhandled(Map<String, Long> heldByState, long unchecked, long lost, List<String> lostIds) {
        long held() {
            return heldByState.values().stream().mapToLong(Long::longValue).sum();
        }
    }

    /**
     * Looks up each unhandled id. A job Redis or the journal still holds was not handled in time, which is not
     * a loss: calling it LOST (and a bug) sent users after a fault that was only a slow machine. Look-ups stop
     * at {@code deadlineNanos}; the rest are unchecked.
     */
    static Unhandled locate(List<String> unhandled, java.util.function.Function<String, JobState> stateOf, long deadlineNanos) {
        Map<String, Long> held = new java.util.TreeMap<>();
        List<String> lostIds = new ArrayList<>();
        long unchecked = 0;
        long lost = 0;
        for (String id : unhandled) {
            JobState state;
            try {
                state = System.nanoTime() < deadlineNanos ? stateOf.apply(id) : null;
            } catch (RuntimeException e) {
                state = null; // Redis did not answer: neither lost nor known to be safe
            }
            if (state == null) {
                unchecked++;
            } else if (state == JobState.UNKNOWN) {
                lost++;
                if (lostIds.size() < 20) {
                    lostIds.add(id);
                }
            } else {
                held.merge(state.name(), 1L, Long::sum);
            }
        }
        return new Unhandled(held, unchecked, lost, lostIds);
    }

    @Override
    public Integer call() throws Exception {
        validate();
        out = spec.commandLine().getOut();
        live = !plain && !json && System.console() != null;
        long enqueueMillis = (long) (jobs / rate * 1000);
        List<Fault> schedule = parseFaults(faults, enqueueMillis);
        boolean tempDir = dir == null;
        Path root = tempDir ? Files.createTempDirectory("spillway-demo-") : demoDir(dir);
        if (cluster) {
            DemoCluster.refuseEarlierCluster(root.resolve("cluster"));
            queues = IntStream.range(0, DemoCluster.MASTERS).mapToObj(i -> DemoCluster.queueOn(i, QUEUE)).toList();
        }
        MetricRegistry registry = new MetricRegistry();
        // Accepted job id -> its queue (the look-up at the end needs both).
        Map<String, String> accepted = new ConcurrentHashMap<>();
        Map<String, AtomicInteger> handled = new ConcurrentHashMap<>();
        AtomicLong spooled = new AtomicLong();
        AtomicLong rejected = new AtomicLong();
        AtomicLong worstNanos = new AtomicLong();
        Random random = new Random(seed);
        int[] handlerMicros = new int[1024];
        for (int i = 0; i < handlerMicros.length; i++) {
            handlerMicros[i] = 500 + random.nextInt(4_500);
        }

        long lastFaultMillis = schedule.isEmpty() ? 0 : schedule.get(schedule.size() - 1).atMillis();
        // A fault scheduled after the last enqueue (kill@5s in a 1 s run) sets how long the run takes.
        say("Spillway demo: " + jobs + " jobs at " + fmt(rate) + "/s (~" + Output.age(Math.max(enqueueMillis, lastFaultMillis))
                + (lastFaultMillis > enqueueMillis ? ", to the last fault" : "") + "), " + workers
                + " worker threads, faults " + describe(schedule)
                + (cluster ? "; a Redis Cluster of " + DemoCluster.MASTERS + " masters, no replicas" : "")
                + (noPersistence ? cluster ? "; masters without persistence (a kill empties one; it keeps its slots)"
                        : "; Redis without persistence (a kill empties it)" : "")
                + (writeAhead ? "; producer in write-ahead mode" : "") + ".");
        String logTo = System.getProperty("org.slf4j.simpleLogger.logFile");
        say("Data in " + root + (logTo == null ? "." : "; Spillway's own log lines in " + logTo + "."));
        WatchdogConfig watchdogConfig = WatchdogConfig.custom()
                .hangTimeout(Duration.ofMillis(hangTimeoutMs))
                .probeInterval(Duration.ofMillis(100))
                .probeTimeout(Duration.ofMillis(Math.min(500, hangTimeoutMs)))
                .initialBackoff(Duration.ofMillis(50))
                .maxBackoff(Duration.ofSeconds(2))
                .build();
        JobProducer producer = null;
        Worker worker = null;
        Result result;
        Teardown teardown = new Teardown(tempDir ? root : null);
        // Ctrl-C ends the JVM without this thread's finally: the hook stops what runs and deletes the temp dir.
        Thread hook = new Thread(() -> {
            teardown.interrupted = true;
            teardown.run();
        }, "spillway-demo-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            URI uri;
            if (cluster) {
                redisCluster = new DemoCluster(root.resolve("cluster"), !noPersistence);
                teardown.redis = redisCluster;
                say("Starting " + DemoCluster.MASTERS + " redis-servers, each under its own watchdog, and forming a Redis"
                        + " Cluster of them (cluster-node-timeout " + DemoCluster.NODE_TIMEOUT.toMillis() + " ms).");
                long f0 = System.nanoTime();
                redisCluster.start((i, redis) -> supervise(i, redis, watchdogConfig, registry), CLUSTER_START_TIMEOUT);
                nodes = redisCluster.masters();
                uri = redisCluster.uri();
                say("Redis Cluster formed in " + Output.age(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - f0))
                        + ": cluster_state ok on every master.");
                List<String> where = new ArrayList<>();
                for (int i = 0; i < nodes.size(); i++) {
                    where.add(queues.get(i) + " on " + nodeName(i) + " (" + redisCluster.address(i) + ", slots "
                            + DemoCluster.slots(i) + ")");
                }
                say("Queues: " + String.join(", ", where) + ".");
            } else {
                Watchdog watchdog = supervise(0, RedisServerConfig.custom().port(freePort()).dataDir(root.resolve("redis"))
                        .setting("appendonly", noPersistence ? "no" : "yes").build(), watchdogConfig, registry);
                teardown.redis = watchdog;
                watchdog.start();
                if (!watchdog.awaitUp(Duration.ofSeconds(30))) {
                    throw new CliException(ExitCodes.FAILED, "the embedded Redis did not start within 30 s; see "
                            + root.resolve("redis").resolve("redis.log"));
                }
                nodes = List.of(watchdog);
                uri = watchdog.redis().uri();
            }
            worker = Worker.builder()
                    .redis(uri)
                    .queues(queues.toArray(String[]::new))
                    .handler(TYPE, job -> {
                        handled.computeIfAbsent(job.id(), k -> new AtomicInteger()).incrementAndGet();
                        long micros = jobTimeMs != null ? jobTimeMs * 1000
                                : handlerMicros[Math.floorMod(job.id().hashCode(), handlerMicros.length)];
                        LockSupport.parkNanos(TimeUnit.MICROSECONDS.toNanos(micros));
                    })
                    .concurrency(workers)
                    .leaseDuration(Duration.ofSeconds(3))
                    .stateDir(root.resolve("worker"))
                    .name("demo-worker")
                    .build();
            teardown.worker = worker;
            worker.start();
            producer = JobProducer.builder().redis(uri).journalDir(root.resolve("journal")).metricRegistry(registry)
                    .writeAhead(writeAhead).build();
            teardown.producer = producer;

            JobProducer p = producer;
            Thread faultThread = startFaults(schedule, () -> p.state() == HealthState.CONNECTED);
            Thread progress = startProgress(() -> progressLine(accepted.size(), handled.size(), spooled.get(), registry, p));
            long intervalNanos = (long) (1e9 / rate);
            long start = System.nanoTime();
            for (int i = 0; i < jobs; i++) {
                long due = start + i * intervalNanos;
                long wait = due - System.nanoTime();
                if (wait > 0) {
                    LockSupport.parkNanos(wait);
                }
                byte[] payload = payload(random, i);
                String queue = queues.get(i % queues.size());
                long c0 = System.nanoTime();
                try {
                    Receipt r = producer.enqueue(queue, TYPE, payload);
                    accepted.put(r.jobId(), queue);
                    if (r.spooled()) {
                        spooled.incrementAndGet();
                    }
                } catch (RuntimeException e) {
                    // Not accepted: the caller was told. Counted, never confused with a lost job.
                    rejected.incrementAndGet();
                }
                worstNanos.accumulateAndGet(System.nanoTime() - c0, Math::max);
            }
            // Until the last fault is repaired: its downtime belongs in the result.
            faultThread.join(Math.max(0, lastFaultMillis - TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start))
                    + (hangTimeoutMs + REPAIR_TIMEOUT_MILLIS) * (cluster ? 2 : 1));
            say("All " + jobs + " enqueue calls returned; waiting for the workers to finish (at most " + drainTimeoutS + " s).");
            long drainDeadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(drainTimeoutS);
            int lastHandled = -1;
            long stillSince = System.nanoTime();
            int goneChecks = 0;
            while (System.nanoTime() < drainDeadline && !handled.keySet().containsAll(accepted.keySet())) {
                Thread.sleep(100);
                int now = handled.size();
                if (now != lastHandled) {
                    lastHandled = now;
                    stillSince = System.nanoTime();
                    goneChecks = 0;
                } else if (System.nanoTime() - stillSince > TimeUnit.SECONDS.toNanos(3 + goneChecks)) {
                    // No progress: if every job still unhandled is in neither Redis nor the journal (a Redis without
                    // persistence that restarted empty lost them), waiting out the drain timeout shows nothing more.
                    // Two looks a second apart, so that a job between two places is not taken for gone.
                    List<String> waiting = accepted.keySet().stream().filter(id -> !handled.containsKey(id)).toList();
                    JobProducer asker = producer;
                    Unhandled where = locate(waiting, id -> asker.status(accepted.get(id), id).state(),
                            System.nanoTime() + TimeUnit.SECONDS.toNanos(5));
                    goneChecks = where.lost() == waiting.size() ? goneChecks + 1 : 0;
                    if (goneChecks >= 2) {
                        say("The " + waiting.size() + " accepted jobs not handled yet are in neither Redis nor the journal:"
                                + " not waiting for them.");
                        break;
                    }
                    if (goneChecks == 0) {
                        stillSince = System.nanoTime();
                    }
                }
            }
            progress.interrupt();
            progress.join(2000);
            long processed = accepted.keySet().stream().filter(handled::containsKey).count();
            List<String> unhandled = accepted.keySet().stream().filter(id -> !handled.containsKey(id)).sorted().toList();
            JobProducer asker = producer;
            Unhandled where = locate(unhandled, id -> asker.status(accepted.get(id), id).state(),
                    System.nanoTime() + TimeUnit.SECONDS.toNanos(30));
            long duplicates = handled.values().stream().mapToLong(c -> Math.max(0, c.get() - 1)).sum();
            result = new Result(accepted.size(), processed, where.held(), where.heldByState(), where.unchecked(), where.lost(),
                    duplicates, spooled.get(), registry.meter(MetricNames.REPLAYED).getCount(), rejected.get(),
                    worstNanos.get() / 1e6, nodes.stream().mapToLong(n -> n.downtime().toMillis()).sum(),
                    nodes.stream().mapToInt(Watchdog::restarts).sum(), cluster ? clusterNotOkMillis.get() : null,
                    elapsedMillis() / 1000,
                    producer.journalBacklog(), where.lostIds());
        } catch (RuntimeException e) {
            if (teardown.interrupted) {
                return ExitCodes.FAILED; // the hook closed what this thread was using; the JVM is exiting
            }
            throw e;
        } finally {
            teardown.run();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // The hook is running (Ctrl-C): it did the same.
            }
        }
        if (teardown.interrupted) {
            return ExitCodes.FAILED; // the JVM is exiting: there is no result to print
        }
        print(result);
        // Jobs still held at the end are not lost, but the run did not show they get handled (a job stranded with
        // a status record and no stream entry would look the same): not a pass.
        return result.lost() == 0 && result.unchecked() == 0 && result.notYetHandled() == 0 ? ExitCodes.OK : ExitCodes.FAILED;
    }

    private void validate() {
        if (jobs < 1 || jobs > 10_000_000) {
            throw new CliException(ExitCodes.USAGE, "--jobs must be in 1..10000000, but was " + jobs);
        }
        if (!(rate > 0) || rate > 100_000) {
            throw new CliException(ExitCodes.USAGE, "--rate must be in (0, 100000], but was " + fmt(rate));
        }
        if (workers < 1 || workers > 256) {
            throw new CliException(ExitCodes.USAGE, "--workers must be in 1..256, but was " + workers);
        }
        if (hangTimeoutMs < 500) {
            throw new CliException(ExitCodes.USAGE, "--hang-timeout must be >= 500 ms, but was " + hangTimeoutMs);
        }
        if (drainTimeoutS < 1) {
            throw new CliException(ExitCodes.USAGE, "--drain-timeout must be >= 1 s, but was " + drainTimeoutS);
        }
        if (jobTimeMs != null && (jobTimeMs < 0 || jobTimeMs > 3_600_000)) {
            throw new CliException(ExitCodes.USAGE, "--job-time must be in 0..3600000 ms, but was " + jobTimeMs);
        }
    }

    static List<Fault> parseFaults(String spec, long enqueueMillis) {
        List<Fault> out = new ArrayList<>();
        if (spec == null || spec.isBlank() || spec.trim().equalsIgnoreCase("none")) {
            return out;
        }
        for (String part : spec.split(",")) {
            Matcher m = FAULT.matcher(part.trim().toLowerCase(Locale.ROOT));
            if (!m.matches()) {
                throw new CliException(ExitCodes.USAGE, "--faults: '" + part.trim()
                        + "' is not kill@N% , stop@N% , kill@Ns or stop@Ns");
            }
            double v = Double.parseDouble(m.group(2));
            if (m.group(3).equals("%") && v > 100) {
                throw new CliException(ExitCodes.USAGE, "--faults: '" + part.trim() + "' is past 100%");
            }
            long at = m.group(3).equals("%") ? (long) (enqueueMillis * v / 100) : (long) (v * 1000);
            out.add(new Fault(m.group(1), at));
        }
        out.sort(Comparator.comparingLong(Fault::atMillis));
        return out;
    }

    private String describe(List<Fault> schedule) {
        if (schedule.isEmpty()) {
            return "none";
        }
        List<String> parts = new ArrayList<>();
        for (int k = 0; k < schedule.size(); k++) {
            Fault f = schedule.get(k);
            parts.add((f.kind().equals("kill") ? "SIGKILL" : "SIGSTOP") + (cluster ? " " + nodeName(target(k)) : "") + " at "
                    + fmt(f.atMillis() / 1000.0) + " s");
        }
        return String.join(", ", parts);
    }

    /** The node fault {@code k} (0-based) hits: the masters in turn, or the one redis-server. */
    private int target(int k) {
        return cluster ? k % DemoCluster.MASTERS : 0;
    }

    /** "redis-server", or "master 2". */
    private String nodeName(int index) {
        return cluster ? "master " + (index + 1) : "redis-server";
    }

    /** The watchdog of node {@code index}, built (not started), its events told as the demo's lines. */
    private Watchdog supervise(int index, RedisServerConfig redis, WatchdogConfig config, MetricRegistry registry) {
        Watchdog.Builder b = Watchdog.builder().redis(redis).config(config).metrics(registry);
        if (cluster) {
            b.name("master-" + (index + 1)); // one set of metrics per master
        }
        Watchdog w = b.build();
        w.onEvent(e -> onWatchdogEvent(index, e));
        return w;
    }

    private Thread startFaults(List<Fault> schedule, BooleanSupplier producerConnected) {
        Thread t = new Thread(() -> {
            long start = System.nanoTime();
            for (int k = 0; k < schedule.size(); k++) {
                Fault f = schedule.get(k);
                int node = target(k);
                Watchdog watchdog = nodes.get(node);
                long wait = start + TimeUnit.MILLISECONDS.toNanos(f.atMillis()) - System.nanoTime();
                if (wait > 0) {
                    LockSupport.parkNanos(wait);
                }
                // A fault needs a live Redis to hit: wait for the previous one to be repaired first (on a cluster, until
                // every master is back in it, so that one fault's effects are not mistaken for the next's).
                watchdog.awaitUp(Duration.ofMillis(REPAIR_TIMEOUT_MILLIS));
                if (cluster) {
                    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(REPAIR_TIMEOUT_MILLIS);
                    awaitClusterHealthy(deadline);
                    // A restarted master refuses keys for its first 2 s, which takes the producer's reconnect loop into
                    // its longer backoff steps (up to 5 s): without this wait the next fault often came before it had
                    // reconnected, and the run showed one long outage instead of a spool and a replay per fault.
                    while (!producerConnected.getAsBoolean() && System.nanoTime() < deadline) {
                        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
                    }
                }
                long pid = watchdog.pid().orElse(-1);
                if (pid < 0) {
                    continue;
                }
                String who = cluster ? nodeName(node) + " (" + redisCluster.address(node) + ", pid " + pid + "; queue "
                        + queues.get(node) + ")" : "redis-server (pid " + pid + ")";
                int restartsBefore = watchdog.restarts();
                long f0 = System.nanoTime();
                if (f.kind().equals("kill")) {
                    say("Fault " + (k + 1) + "/" + schedule.size() + ": SIGKILL " + who);
                    ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
                } else {
                    say("Fault " + (k + 1) + "/" + schedule.size() + ": SIGSTOP " + who + ": it hangs, keeping its socket open");
                    signal(pid, "STOP");
                }
                awaitRepaired(node, restartsBefore);
                if (cluster) {
                    boolean whole = awaitClusterHealthy(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(REPAIR_TIMEOUT_MILLIS));
                    long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - f0);
                    clusterNotOkMillis.addAndGet(ms);
                    say(whole ? "Cluster: " + nodeName(node) + " rejoined; cluster_state ok on every master again, "
                            + Output.age(ms) + " after the fault"
                            : "Cluster: not whole again " + Output.age(ms) + " after the fault; see the redis.log files");
                }
            }
        }, "spillway-demo-faults");
        t.setDaemon(true);
        t.start();
        return t;
    }

    /** Waits until the cluster is whole ({@link DemoCluster#healthy()}); false if it was not by the deadline. */
    private boolean awaitClusterHealthy(long deadlineNanos) {
        while (!redisCluster.healthy()) {
            if (System.nanoTime() > deadlineNanos) {
                return false;
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50));
        }
        return true;
    }

    /**
     * Waits until the watchdog has brought node {@code node} back after a fault (its Up event, published once the
     * downtime is counted): a fault after the last enqueue was otherwise still being repaired when the result was
     * taken, which then read 0 restarts and 0 downtime.
     */
    private void awaitRepaired(int node, int restartsBefore) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(hangTimeoutMs + REPAIR_TIMEOUT_MILLIS);
        while (recoveredRestarts.get(node) <= restartsBefore && System.nanoTime() < deadline) {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
        }
    }

    private void onWatchdogEvent(int node, WatchdogEvent e) {
        if (e instanceof WatchdogEvent.Up u) {
            recoveredRestarts.accumulateAndGet(node, u.restarts(), Math::max);
        }
        String name = nodeName(node);
        if (e instanceof WatchdogEvent.Exited x) {
            say("Watchdog: " + name + " exited (" + (x.exitCode() == 137 ? "killed by SIGKILL" : "exit " + x.exitCode()) + "); restarting it");
        } else if (e instanceof WatchdogEvent.Hung h) {
            say("Watchdog: " + name + " silent for " + h.silentFor().toMillis() + " ms: SIGKILL and restart");
        } else if (e instanceof WatchdogEvent.Up u && u.restarts() > 0) {
            String data = noPersistence ? cluster ? "empty (no persistence), its slots kept in nodes.conf" : "empty (no persistence)"
                    : cluster ? "nodes.conf and AOF reloaded" : "AOF reloaded";
            say("Watchdog: " + name + " back (pid " + u.pid() + ") after " + u.downtime().toMillis() + " ms down; " + data);
        } else if (e instanceof WatchdogEvent.CrashLoop c) {
            say("Watchdog: " + name + " is crash-looping (" + c.restartsInWindow() + " restarts): " + c.lastReason());
        }
    }

    private String progressLine(int acc, int done, long spooled, MetricRegistry registry, JobProducer producer) {
        long up = nodes.stream().filter(Watchdog::isUp).count();
        String redis = cluster ? "masters " + up + "/" + nodes.size() + " up" : "redis " + (up > 0 ? "up" : "DOWN");
        return String.format("%6.1fs  accepted %d/%d  spooled %d  replayed %d  processed %d  %s  producer %s",
                elapsedMillis() / 1000.0, acc, jobs, spooled, registry.meter(MetricNames.REPLAYED).getCount(), done,
                redis, producer.state().toString().toLowerCase(Locale.ROOT));
    }

    private Thread startProgress(java.util.function.Supplier<String> line) {
        Thread t = new Thread(() -> {
            long period = live ? 200 : 2000;
            try {
                while (!Thread.currentThread().isInterrupted()) {
                    Thread.sleep(period);
                    String s = line.get();
                    synchronized (printLock) {
                        if (json) {
                            continue;
                        }
                        if (live) {
                            out.print("\r" + s + "\033[K");
                            progressShown = true;
                        } else {
                            out.println(s);
                        }
                        out.flush();
                    }
                }
            } catch (InterruptedException done) {
                // The run is over.
            } catch (RuntimeException e) {
                // A progress line is never worth failing the demo for.
            }
        }, "spillway-demo-progress");
        t.setDaemon(true);
        t.start();
        return t;
    }

    private void say(String message) {
        synchronized (printLock) {
            if (json) {
                return;
            }
            if (progressShown) {
                out.print("\r\033[K");
                progressShown = false;
            }
            out.printf("%6.1fs  %s%n", elapsedMillis() / 1000.0, message);
            out.flush();
        }
    }

    private void print(Result r) {
        synchronized (printLock) {
            if (progressShown) {
                out.println();
                progressShown = false;
            }
            if (json) {
                Output.json(out, r);
                return;
            }
            out.println();
            List<List<String>> rows = new ArrayList<>();
            rows.add(List.of("accepted", Long.toString(r.accepted()), "enqueue calls that returned a receipt"));
            rows.add(List.of("processed", Long.toString(r.processed()), "accepted jobs a handler ran"));
            if (r.notYetHandled() > 0) {
                rows.add(List.of("not yet handled", Long.toString(r.notYetHandled()),
                        "accepted, not handled in time, still held: " + byState(r.notYetHandledByState())));
            }
            if (r.unchecked() > 0) {
                rows.add(List.of("unchecked", Long.toString(r.unchecked()), "accepted, not handled in time, Redis did not say where"));
            }
            rows.add(List.of("lost", Long.toString(r.lost()), "accepted, not handled, and neither in Redis nor in the journal"));
            rows.add(List.of("duplicates", Long.toString(r.duplicates()), "handler runs beyond the first, per job id"));
            rows.add(List.of("spooled", Long.toString(r.spooled()), writeAhead
                    ? "accepted into the local journal (write-ahead: every job is, then sent to Redis)"
                    : "accepted into the local journal while Redis was away"));
            rows.add(List.of("replayed", Long.toString(r.replayed()), "sent from the journal to Redis once it was back"));
            if (r.rejected() > 0) {
                rows.add(List.of("rejected", Long.toString(r.rejected()), "enqueue threw: not accepted, the caller knew"));
            }
            rows.add(List.of("worst enqueue", fmt(r.worstEnqueueMs()) + " ms", "slowest enqueue call"));
            // In ms below a second: a 72 ms outage read "0 s".
            rows.add(List.of("Redis downtime", Output.age(r.redisDowntimeMs()), r.redisRestarts() + " restart(s) by the watchdog"
                    + (cluster ? "s, summed over the " + nodes.size() + " masters" : "")));
            if (r.clusterNotOkMs() != null) {
                // A restarted master answers PING at once but refuses keys for 2 s more: the watchdogs' downtime alone
                // made the outage look shorter than what producers saw.
                rows.add(List.of("cluster not ok", Output.age(r.clusterNotOkMs()),
                        "from each fault until cluster_state ok on every master again"));
            }
            Output.table(out, List.of("RESULT", "VALUE", ""), rows);
            out.println();
            if (r.notYetHandled() > 0) {
                out.println(r.notYetHandled() + " accepted job(s) were not handled within --drain-timeout " + drainTimeoutS
                        + " s but are not lost: still held (" + byState(r.notYetHandledByState()) + "), a worker would run them."
                        + " A longer --drain-timeout lets them finish.");
            }
            if (r.unchecked() > 0) {
                out.println(r.unchecked() + " accepted job(s) were not handled within --drain-timeout " + drainTimeoutS
                        + " s, and Redis did not answer where they are: not known to be lost, nor to be safe.");
            }
            if (r.lost() == 0 && r.unchecked() == 0) {
                out.println("No accepted job was lost" + (r.redisRestarts() == 0 ? "."
                        : ", though " + (cluster ? "masters of the Redis Cluster were" : "Redis was") + " killed or frozen "
                        + r.redisRestarts() + " time(s)."));
            } else if (r.lost() > 0 && noPersistence && !writeAhead) {
                out.println("LOST " + r.lost() + " accepted job(s), e.g. " + r.lostIds() + ": a " + (cluster ? "master" : "Redis")
                        + " without persistence came back empty, and the producer re-sends only its last 5 s of writes. This is the"
                        + " documented limit; run again with --write-ahead to keep every job until it is handled.");
            } else if (r.lost() > 0) {
                String logTo = System.getProperty("org.slf4j.simpleLogger.logFile");
                out.println("LOST " + r.lost() + " accepted job(s), e.g. " + r.lostIds() + ": neither handled nor in Redis or the"
                        + " journal. That is a bug: please report it" + (logTo == null ? "." : " with the log " + logTo + "."));
            }
            out.flush();
        }
    }

    private static String byState(Map<String, Long> byState) {
        List<String> parts = new ArrayList<>();
        byState.forEach((state, n) -> parts.add(state.toLowerCase(Locale.ROOT) + " " + n));
        return String.join(", ", parts);
    }

    private long elapsedMillis() {
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
    }

    private static byte[] payload(Random random, int i) {
        int size = 16 + random.nextInt(240);
        byte[] b = new byte[size];
        byte[] head = ("job " + i + " ").getBytes(StandardCharsets.UTF_8);
        System.arraycopy(head, 0, b, 0, Math.min(head.length, size));
        for (int k = head.length; k < size; k++) {
            b[k] = (byte) ('a' + random.nextInt(26));
        }
        return b;
    }

    private static String fmt(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e9 ? Long.toString((long) v) : String.format(Locale.ROOT, "%.1f", v);
    }

    private static void signal(long pid, String sig) {
        try {
            Process p = new ProcessBuilder("kill", "-" + sig, Long.toString(pid)).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            p.waitFor(5, TimeUnit.SECONDS);
        } catch (IOException e) {
            throw new CliException(ExitCodes.FAILED, "cannot run kill -" + sig + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Stops what the demo started, children first (the worker and producer, then the watchdog or watchdogs, which
     * stop redis-server), then deletes the temp dir: once, from the run's end or from the shutdown hook (Ctrl-C),
     * whichever comes first; the other waits for it.
     */
    private static final class Teardown {
        private final Path tempDir;
        /** The watchdog of the one redis-server, or the {@link DemoCluster}: closing it stops the Redis it runs. */
        volatile AutoCloseable redis;
        volatile Worker worker;
        volatile JobProducer producer;
        private boolean done;
        volatile boolean interrupted;

        Teardown(Path tempDir) {
            this.tempDir = tempDir;
        }

        synchronized void run() {
            if (done) {
                return;
            }
            done = true;
            closeQuietly(worker);
            closeQuietly(producer);
            closeQuietly(redis);
            if (redis instanceof Watchdog w) {
                DemoCluster.awaitStopped(w); // DemoCluster.close() waits for its own
            }
            if (tempDir != null) {
                deleteRecursively(tempDir);
            }
        }
    }

    /** {@code --dir}, created if missing; one that cannot be (a file, no permission) is bad input. */
    static Path demoDir(Path dir) {
        if (Files.exists(dir) && !Files.isDirectory(dir)) {
            throw new CliException(ExitCodes.USAGE, "--dir " + dir + " is not a directory");
        }
        try {
            return Files.createDirectories(dir).toAbsolutePath();
        } catch (IOException e) {
            String reason = e instanceof java.nio.file.FileSystemException f && f.getReason() != null ? f.getReason()
                    : e.getClass().getSimpleName();
            throw new CliException(ExitCodes.USAGE, "--dir " + dir + " cannot be created: " + reason);
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            return s.getLocalPort();
        }
    }

    private static void closeQuietly(AutoCloseable c) {
        if (c == null) {
            return;
        }
        try {
            c.close();
        } catch (Exception e) {
            // Shutting down the demo: the table matters more than a close failure.
        }
    }

    private static void deleteRecursively(Path root) {
        try (Stream<Path> paths = Files.walk(root)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException | RuntimeException e) {
            // A temp dir left behind is harmless.
        }
    }
}
