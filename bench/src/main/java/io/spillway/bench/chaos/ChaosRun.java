package io.spillway.bench.chaos;

import io.spillway.backend.JobProducer;
import io.spillway.core.JobId;
import io.spillway.core.QueueName;
import io.spillway.core.internal.RedisKeys;
import io.spillway.testing.ChaosProxy;
import io.spillway.testing.ChildJvm;
import io.spillway.testing.RedisClusterGroup;
import io.spillway.testing.RedisProcess;
import io.spillway.testing.SmallDisk;
import io.spillway.testing.SentinelGroup;
import io.spillway.worker.Queues;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalTime;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.RedisClusterClient;

/**
 * Runs one chaos scenario with real processes and returns its verdict.
 *
 * <ol>
 *   <li>Starts redis-server (AOF everysec, or no persistence) and a {@link ChaosProxy} in front of it;
 *       every producer and worker connects through the proxy. Scenario {@code cluster} instead starts a
 *       {@link RedisClusterGroup} ({@value #CLUSTER_MASTERS} masters, one replica each, AOF everysec) that the
 *       children reach directly, and spreads {@value #QUEUES_PER_MASTER} queues per master over it. Scenario
 *       {@code sentinel} starts a {@link SentinelGroup} (a master with {@value #SENTINEL_REPLICAS} replicas and
 *       {@value #SENTINELS} sentinels, AOF everysec everywhere) that the children reach through its
 *       {@code redis-sentinel://} URI naming a proxy in front of each sentinel (the servers are reached directly), on the one queue of the standalone scenarios.</li>
 *   <li>Starts P {@link ChaosProducerMain} and W {@link ChaosWorkerMain} JVMs; producers spread their
 *       jobs over the fault phase.</li>
 *   <li>Applies the {@link FaultSchedule} one fault at a time: apply, hold, heal. Between faults it checks
 *       that every child that should run does (an unexpected exit is a problem, and the child is
 *       restarted). In a cluster a Redis fault ends only once the cluster is back at full strength (every node
 *       up, {@code cluster_state:ok} everywhere, every master with a linked replica), so that the next fault
 *       never meets a master without a replica to fail over to; the next fault then keeps its planned gap. Under
 *       Sentinel a fault on Redis or a sentinel likewise starts and ends at full strength
 *       ({@link SentinelGroup#whyNotAtFullStrength()}: every process up, the sentinels agreeing on a master they do not
 *       flag, out of TILT, seeing every replica and each other, every other server its replica in sync).</li>
 *   <li>After the last fault, waits until every accepted id is handled and every producer has
 *       enqueued all its jobs with an empty journal, or the drain timeout.</li>
 *   <li>Stops the children gracefully, reads the record files one last time and computes the verdict
 *       ({@link IdLedger}); writes the table, the fault log, and the lost ids with what Redis knows of
 *       them into the run directory.</li>
 * </ol>
 * Everything a run leaves (Redis data and log, every child's output, record files, summaries) stays in
 * {@link ChaosOptions#dir()} as evidence; a cluster's node directories (AOF, {@code nodes.conf}, log) are copied
 * to {@code redis-cluster/} there before the cluster is closed, and a Sentinel group's server and sentinel directories
 * (AOF, rewritten {@code redis.conf} and {@code sentinel.conf}, logs) to {@code redis-sentinel/}.
 */
final class ChaosRun {
    private static final Duration READY_TIMEOUT = Duration.ofSeconds(120);
    private static final Duration GRACE = Duration.ofSeconds(20);
    private static final long RESEND_WINDOW_MS = JobProducer.Builder.DEFAULT_RESEND_WINDOW.toMillis();
    private static final long STUCK_SUMMARY_MS = 15_000;
    /** A drain with no progress this long (all producers done) ends: longer than a lease expiry plus a reconnect. */
    private static final long STALL_MS = 30_000;
    /** Planned minimum of normal operation between two faults (as in {@link FaultSchedule}). */
    private static final long MIN_GAP_MS = 1_000;
    static final int CLUSTER_MASTERS = 3;
    static final int QUEUES_PER_MASTER = 2;
    /**
     * {@code cluster-node-timeout}: within the range of the hangs (0.5 to 4 s), so that short hangs pass and long ones
     * are failed over; long enough that a stall of the loaded test machine is not taken for a dead master.
     */
    static final Duration CLUSTER_NODE_TIMEOUT = Duration.ofSeconds(2);
    private static final Duration CLUSTER_FAILOVER_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration CLUSTER_RECOVERY_TIMEOUT = Duration.ofSeconds(120);
    private static final Duration CLUSTER_PROBE_TIMEOUT = Duration.ofSeconds(1);
    static final int SENTINEL_REPLICAS = 2;
    static final int SENTINELS = 3;
    /**
     * {@code down-after-milliseconds}: as the cluster's node timeout, so that a stall of the loaded test machine is not
     * taken for a dead master; kills held 0.5 to 4 s are then failed over or not.
     */
    static final Duration SENTINEL_DOWN_AFTER = Duration.ofSeconds(2);
    /** {@code failover-timeout}: SentinelGroup's default, which its own tests use. */
    static final Duration SENTINEL_FAILOVER_TIMEOUT = Duration.ofSeconds(2);
    private static final Duration SENTINEL_FAILOVER_WAIT = Duration.ofSeconds(60);
    /** How long a silent failover keeps the workers frozen at most, waiting for the old master's demotion (about 11 s). */
    private static final Duration DEMOTION_WAIT = Duration.ofSeconds(30);
    private static final Duration SENTINEL_RECOVERY_TIMEOUT = Duration.ofSeconds(120);

    private final ChaosOptions o;
    private final PrintStream log;
    private final Path dir;
    private final IdLedger ledger = new IdLedger();
    private final List<String> problems = new ArrayList<>();
    private final List<Long> emptyRestartsAt = new ArrayList<>();
    private final Map<FaultKind, Integer> injected = new EnumMap<>(FaultKind.class);
    private final Map<FaultKind, Integer> companionsInjected = new EnumMap<>(FaultKind.class);
    private final Map<FaultKind, Integer> innerInjected = new EnumMap<>(FaultKind.class);
    /** The size of the tmpfs that holds Redis's data dir in a run with {@link FaultKind#REDIS_DISK_FULL} faults. */
    private static final long DISK_BYTES = 1L << 30;
    private SmallDisk disk;
    /** Whether the current fault's {@link FaultSchedule.Inner} fault holds (applied, not healed yet). */
    private boolean innerHolds;
    private String innerDetail = "";
    /** Sentinel and cluster: the server the held inner fault killed or froze (healed by a restart or SIGCONT). */
    private RedisProcess innerVictim;
    /** Sentinel: the sentinel the held inner fault killed, or -1. */
    private int innerSentinel = -1;
    /** The child a {@link FaultSchedule.Companion} stopped during the current fault (running again unless down). */
    private Child companionChild;
    private String companionDetail = "";
    private PrintStream faultLog;
    private RedisProcess redis;
    private ChaosProxy proxy;
    private RedisClusterGroup cluster;
    private RedisClusterClient clusterAdmin;
    private SentinelGroup sentinels;
    /** One proxy in front of each sentinel, in {@link SentinelGroup#sentinelPorts()} order: what the children ask. */
    private final List<ChaosProxy> sentinelProxies = new ArrayList<>();
    private List<String> queues = List.of(ChaosProducerMain.QUEUE);
    /**
     * A worker reads a queue's pause with its queue figures, every second: from this long after a pause on, no job of
     * the queue may start until the resume (a job already running may finish: 1-5 ms of work here).
     */
    static final long PAUSE_NOTICE_MS = 1_500;
    /** {@code [from, to]} of each queue pause (from = the pause plus {@link #PAUSE_NOTICE_MS}): no job handled inside. */
    private final List<long[]> pausedWindows = new ArrayList<>();
    private long lastFaultEndMs;
    private long phaseStartMs;
    private final List<Child> producers = new ArrayList<>();
    private final List<Child> workers = new ArrayList<>();

    ChaosRun(ChaosOptions options, PrintStream log) {
        this.o = options;
        this.log = log;
        this.dir = options.dir();
    }

    ChaosResult run() throws IOException {
        long t0 = System.currentTimeMillis();
        Files.createDirectories(dir);
        try (var entries = Files.list(dir)) {
            if (entries.findAny().isPresent()) {
                // Record files are appended to: an old run's ids would be counted again.
                throw new IllegalArgumentException("run directory " + dir + " is not empty: choose a new --dir");
            }
        }
        FaultSchedule schedule = FaultSchedule.plan(o.seed(), o.faultCounts(), o.phaseMillis(), o.producers(),
                o.workers(), o.cluster() ? CLUSTER_MASTERS : 1);
        if (o.overlap()) {
            schedule = schedule.withCompanions(o.producers(), o.workers());
        }
        if (o.nested()) {
            schedule = schedule.withInner(o.cluster() ? FaultSchedule.Topology.CLUSTER
                    : o.sentinel() ? FaultSchedule.Topology.SENTINEL : FaultSchedule.Topology.STANDALONE);
        }
        say("scenario %s seed %d: %,d jobs, %d producers, %d workers, %d faults over %d s, persistence %s, dir %s",
                o.name(), o.seed(), o.jobs(), o.producers(), o.workers(), schedule.faults().size(),
                schedule.phaseMillis() / 1000, (o.persistence() ? "AOF everysec" : "none")
                        + (o.writeAhead() ? ", write-ahead producers" : "")
                        + (o.overlap() ? ", " + schedule.companionCount() + " of them with a producer or worker fault inside" : "")
                        + (o.nested() ? ", " + schedule.innerCount() + " of them with a second Redis fault inside" : "")
                        + (o.cluster() ? ", Redis Cluster of " + CLUSTER_MASTERS + " masters with a replica each" : "")
                        + (o.sentinel() ? ", Sentinel: a master with " + SENTINEL_REPLICAS + " replicas, " + SENTINELS
                        + " sentinels" : ""), dir);
        try (PrintStream fl = new PrintStream(Files.newOutputStream(dir.resolve("faults.log")), true, StandardCharsets.UTF_8)) {
            faultLog = fl;
            if (o.cluster()) {
                startCluster();
            } else if (o.sentinel()) {
                startSentinels();
            } else {
                // A long run grows the AOF: reloading it after a restart took 15 s and more on 2 loaded cores, past
                // the harness's default 20 s start timeout (the first --large attempt stopped there).
                Path redisDir = dir.resolve("redis");
                if (schedule.faults().stream().anyMatch(f -> f.kind() == FaultKind.REDIS_DISK_FULL)) {
                    // Redis's data dir on a file system of its own, which the redis-disk-full faults fill up.
                    disk = SmallDisk.mount(dir.resolve("redis-disk"), DISK_BYTES);
                    redisDir = disk.dir().resolve("redis");
                    say("redis data dir on a tmpfs of its own (%d MiB): %s", DISK_BYTES >> 20, redisDir);
                }
                RedisProcess.Builder rb = RedisProcess.builder().dataDir(redisDir).save("")
                        .startTimeout(java.time.Duration.ofMinutes(5));
                rb.appendOnly(o.persistence());
                redis = rb.start();
                proxy = ChaosProxy.to(redis.port());
                say("redis-server pid %d on port %d, proxy on port %d", redis.pid(), redis.port(), proxy.port());
            }
            phaseStartMs = System.currentTimeMillis() + 5_000;
            long perProducer = o.jobs() / o.producers();
            for (int i = 0; i < o.producers(); i++) {
                long total = perProducer + (i < o.jobs() % o.producers() ? 1 : 0);
                Child c = new Child("producer", i, total, (double) total * 1000 / schedule.phaseMillis());
                ledger.trackProducer(i, c.recordFile());
                if (o.cancelEvery() > 0) {
                    ledger.trackCanceller(c.cancelsFile());
                }
                producers.add(c);
            }
            for (int i = 0; i < o.workers(); i++) {
                Child c = new Child("worker", i, 0, 0);
                ledger.trackWorker(c.recordFile());
                workers.add(c);
            }
            producers.forEach(Child::launch);
            workers.forEach(Child::launch);
            producers.forEach(Child::awaitReady);
            workers.forEach(Child::awaitReady);

            // On a busy machine the JVMs may start later than planned: the schedule starts once they are up.
            long faultBase = Math.max(phaseStartMs, System.currentTimeMillis() + 1_000);
            for (FaultSchedule.Fault f : schedule.faults()) {
                long due = faultBase + f.atMillis();
                if (o.cluster() || o.sentinel()) {
                    // A fault that waited for the cluster to recover may end after the next one was due: keep the gap.
                    due = Math.max(due, lastFaultEndMs + MIN_GAP_MS);
                }
                while (System.currentTimeMillis() < due) {
                    sleep(Math.min(500, due - System.currentTimeMillis()));
                    ledger.poll();
                    checkChildren();
                }
                checkChildren();
                inject(f);
                ledger.poll();
            }
            long lastFaultEnd = System.currentTimeMillis();
            say("last fault healed; draining (timeout %d s)", o.drainTimeoutMillis() / 1000);
            boolean drained = false;
            long lastReport = 0;
            long lastOutstanding = -1;
            long lastProgress = System.currentTimeMillis();
            while (System.currentTimeMillis() - lastFaultEnd < o.drainTimeoutMillis()) {
                ledger.poll();
                checkChildren();
                boolean producersDone = producers.stream().allMatch(Child::producerDone);
                if (ledger.outstandingCount() == 0 && producersDone) {
                    drained = true;
                    break;
                }
                if (ledger.outstandingCount() != lastOutstanding || !producersDone) {
                    lastOutstanding = ledger.outstandingCount();
                    lastProgress = System.currentTimeMillis();
                } else if (System.currentTimeMillis() - lastProgress > STALL_MS) {
                    // Every producer is done and nothing was handled for a while: what is left will not come.
                    say("no job handled for %d s with %,d accepted ids unhandled: stopping the drain",
                            STALL_MS / 1000, lastOutstanding);
                    break;
                }
                if (System.currentTimeMillis() - lastReport > 5_000) {
                    lastReport = System.currentTimeMillis();
                    say("draining: accepted %,d, outstanding %,d, producers %s", ledger.acceptedCount(),
                            ledger.outstandingCount(), producers.stream().map(Child::progress).toList());
                }
                sleep(200);
            }
            long drainMs = System.currentTimeMillis() - lastFaultEnd;
            if (!drained) {
                problems.add("not drained; gave up " + drainMs / 1000 + " s after the last fault: "
                        + ledger.outstandingCount() + " accepted ids unhandled; producers "
                        + producers.stream().map(Child::progress).toList());
            } else {
                say("drained %.1f s after the last fault", drainMs / 1000.0);
            }
            for (Child c : workers) {
                c.stop();
            }
            for (Child c : producers) {
                c.stop();
            }
            ledger.poll();
            // Read once from the record files: the verdict counts them, the evidence lists them.
            List<String> whilePaused = ledger.handledWithin(pausedWindows);
            ChaosResult result = result(schedule, drained, drainMs, System.currentTimeMillis() - t0, whilePaused.size());
            writeEvidence(result, whilePaused);
            return result;
        } finally {
            for (Child c : producers) {
                c.close();
            }
            for (Child c : workers) {
                c.close();
            }
            if (proxy != null) {
                proxy.close();
            }
            if (redis != null) {
                redis.close();
            }
            if (disk != null) {
                disk.close();
            }
            if (clusterAdmin != null) {
                clusterAdmin.close();
            }
            if (cluster != null) {
                keepClusterEvidence();
                cluster.close();
            }
            for (ChaosProxy p : sentinelProxies) {
                p.close();
            }
            if (sentinels != null) {
                keepSentinelEvidence();
                sentinels.close();
            }
        }
    }

    /** Starts the Sentinel group; writes its layout (ports, pids, directories) to sentinel.txt. */
    private void startSentinels() throws IOException {
        // Three servers reloading AOFs on a loaded machine: well past the default 30 s, as for the cluster.
        sentinels = SentinelGroup.builder().replicas(SENTINEL_REPLICAS).sentinels(SENTINELS)
                .downAfter(SENTINEL_DOWN_AFTER).failoverTimeout(SENTINEL_FAILOVER_TIMEOUT)
                .startTimeout(Duration.ofMinutes(3)).start();
        for (int port : sentinels.sentinelPorts()) {
            sentinelProxies.add(ChaosProxy.to(port));
        }
        StringBuilder layout = new StringBuilder("# server port pid dataDir (the first is the master at start)\n");
        for (RedisProcess n : sentinels.servers()) {
            layout.append("server ").append(n.port()).append(' ').append(n.pid()).append(' ').append(n.dataDir())
                    .append('\n');
        }
        layout.append("# sentinel port dir\n");
        for (int i = 0; i < SENTINELS; i++) {
            layout.append("sentinel ").append(sentinels.sentinelPorts().get(i)).append(' ')
                    .append(sentinels.sentinelDirectories().get(i)).append(" proxy ")
                    .append(sentinelProxies.get(i).port()).append('\n');
        }
        Files.writeString(dir.resolve("sentinel.txt"), layout.toString(), StandardCharsets.UTF_8);
        String version;
        try (Jedis j = sentinels.master().jedis()) {
            version = infoField(j.info("server"), "redis_version");
        }
        say("redis sentinel %s: redis-server %s, master %d, replicas %s, sentinels %s (down-after %d ms, failover-timeout"
                        + " %d ms; see sentinel.txt)", redisUri(), version, sentinels.masterPort(),
                sentinels.replicas().stream().map(RedisProcess::port).toList(), sentinels.sentinelPorts(),
                SENTINEL_DOWN_AFTER.toMillis(), SENTINEL_FAILOVER_TIMEOUT.toMillis());
    }

    /**
     * A fault on the Sentinel group: waits for full strength, applies the fault to the master the sentinels name now
     * (or a replica or sentinel drawn by the schedule), holds, heals, and waits for full strength again.
     *
     * @return the fault log's detail
     */
    private String injectSentinel(FaultSchedule.Fault f) {
        long before = awaitSentinelStrength(f, "before");
        StringBuilder d = new StringBuilder();
        if (before > 1_000) {
            d.append("waited ").append(before).append(" ms for full strength first; ");
        }
        long start = System.currentTimeMillis();
        RedisProcess master = sentinels.master();
        RedisProcess victim = master;
        switch (f.kind()) {
            case CLIENT_KILL -> d.append(master.clientKillAll()).append(" connections killed on master :")
                    .append(master.port());
            case REDIS_KILL -> {
                d.append("master :").append(master.port());
                master.kill();
                hold(f);
                master.restart();
                d.append(" restarted pid ").append(master.pid());
            }
            case REDIS_FAILOVER -> {
                d.append("master :").append(master.port());
                master.kill();
                awaitSentinelFailover(f, master, start, d);
                hold(f);
                master.restart();
                d.append(", restarted pid ").append(master.pid());
            }
            case REDIS_HANG -> {
                d.append("master :").append(master.port()).append(" hung");
                master.hang();
                awaitSentinelFailover(f, master, start, d);
                hold(f);
                master.resume();
                d.append(", resumed");
            }
            case SENTINEL_FAILOVER, SENTINEL_SILENT_FAILOVER -> {
                boolean silent = f.kind() == FaultKind.SENTINEL_SILENT_FAILOVER;
                // The silent kind freezes the workers until the old master is demoted: what a client that missed the
                // failover wrote there is then still unread when the demotion drops it, so the run can see it lost
                // (running workers would have taken it from the old master before).
                List<Child> frozen = silent ? freezeWorkers() : List.of();
                try {
                    if (silent) {
                        int stalled = 0;
                        for (ChaosProxy p : sentinelProxies) {
                            stalled += p.stallOpenConnections();
                        }
                        d.append(frozen.size()).append(" workers frozen, ").append(stalled)
                                .append(" sentinel connections stalled, ");
                    }
                    d.append("SENTINEL FAILOVER of master :").append(master.port());
                    try {
                        sentinels.failover();
                        awaitSentinelFailover(f, master, start, d);
                        if (silent) {
                            awaitDemoted(master, d, start);
                        }
                    } catch (RuntimeException e) {
                        problems.add("SENTINEL FAILOVER refused at fault #" + f.index() + ": " + e.getMessage());
                        d.append(" refused: ").append(e.getMessage());
                    }
                } finally {
                    frozen.forEach(c -> c.jvm.thaw());
                    if (!frozen.isEmpty()) {
                        d.append(", workers thawed");
                    }
                }
            }
            case REPLICA_KILL -> {
                victim = sentinels.replicas().get(f.target());
                d.append("replica :").append(victim.port());
                victim.kill();
                hold(f);
                victim.restart();
                d.append(" restarted pid ").append(victim.pid());
            }
            case SENTINEL_KILL -> {
                victim = null;
                d.append("sentinel :").append(sentinels.sentinelPorts().get(f.target()));
                sentinels.killSentinel(f.target());
                hold(f);
                sentinels.restartSentinel(f.target());
                d.append(" restarted");
            }
            default -> throw new IllegalStateException(f.kind() + " is not a Sentinel fault");
        }
        long healed = System.currentTimeMillis();
        if (f.inner() != null) {
            d.append("; ").append(innerHealed(f));
        }
        long recovery = awaitSentinelStrength(f, "after");
        d.append("; healed +").append(healed - start).append(" ms, full strength +").append(recovery)
                .append(" ms later, master :").append(masterPortOrUnknown());
        if (victim != null) {
            d.append(", :").append(victim.port()).append(' ').append(roleOf(victim)).append(" now");
        }
        return d.toString();
    }

    /** SIGSTOPs every running worker JVM; the ones frozen. */
    private List<Child> freezeWorkers() {
        List<Child> frozen = new ArrayList<>();
        for (Child c : workers) {
            if (!c.down && c.jvm != null && c.jvm.isAlive()) {
                c.jvm.freeze();
                frozen.add(c);
            }
        }
        return frozen;
    }

    /**
     * Waits (up to {@link #DEMOTION_WAIT}) until the sentinels have made {@code old} a replica: from then on what it
     * took after the failover is gone.
     */
    private void awaitDemoted(RedisProcess old, StringBuilder d, long start) {
        long until = System.currentTimeMillis() + DEMOTION_WAIT.toMillis();
        String role = roleOf(old);
        while (!role.startsWith("replica") && System.currentTimeMillis() < until) {
            sleep(100);
            role = roleOf(old);
        }
        d.append(", old master :").append(old.port()).append(' ').append(role).append(" +")
                .append(System.currentTimeMillis() - start).append(" ms");
    }

    /** Waits until the sentinels name a master other than {@code old}; if they do not, that is a problem. */
    private void awaitSentinelFailover(FaultSchedule.Fault f, RedisProcess old, long start, StringBuilder d) {
        try {
            RedisProcess successor = sentinels.awaitFailover(old, SENTINEL_FAILOVER_WAIT);
            d.append(", failed over to :").append(successor.port()).append(" after ")
                    .append(System.currentTimeMillis() - start).append(" ms");
        } catch (IllegalStateException e) {
            problems.add("no failover of master :" + old.port() + " within " + SENTINEL_FAILOVER_WAIT.toSeconds()
                    + " s at fault #" + f.index() + ": see " + writeSentinelDiagnostics(f, e.getMessage()));
            d.append(", NOT failed over");
        }
    }

    /**
     * Waits until the Sentinel group is at full strength; past {@link #SENTINEL_RECOVERY_TIMEOUT} that is a problem
     * (with the group's diagnostics in a file) and the run goes on.
     *
     * @return how long it waited, in ms
     */
    private long awaitSentinelStrength(FaultSchedule.Fault f, String when) {
        long t0 = System.currentTimeMillis();
        long deadline = t0 + SENTINEL_RECOVERY_TIMEOUT.toMillis();
        String why;
        while ((why = sentinels.whyNotAtFullStrength()) != null) {
            if (System.currentTimeMillis() > deadline) {
                problems.add("Sentinel group not at full strength " + SENTINEL_RECOVERY_TIMEOUT.toSeconds() + " s "
                        + when + " fault #" + f.index() + " (" + why + "): see "
                        + writeSentinelDiagnostics(f, when + ": " + why));
                break;
            }
            ledger.poll();
            sleep(100);
        }
        return System.currentTimeMillis() - t0;
    }

    private String masterPortOrUnknown() {
        try {
            return String.valueOf(sentinels.masterPort());
        } catch (RuntimeException e) {
            return "unknown (" + e.getClass().getSimpleName() + ")";
        }
    }

    /** Writes the Sentinel group's state and every log tail to {@code sentinel-fault-<n>.txt}; returns its name. */
    private String writeSentinelDiagnostics(FaultSchedule.Fault f, String why) {
        Path file = dir.resolve("sentinel-fault-" + f.index() + ".txt");
        try {
            Files.writeString(file, why + "\n" + sentinels.diagnostics(), StandardCharsets.UTF_8);
        } catch (IOException | RuntimeException e) {
            say("cannot write %s: %s", file, e);
        }
        return file.getFileName().toString();
    }

    /** Copies every server's and sentinel's directory and the group's final state into the run directory. */
    private void keepSentinelEvidence() {
        try {
            Files.writeString(dir.resolve("sentinel-final.txt"), sentinels.diagnostics(), StandardCharsets.UTF_8);
            for (RedisProcess n : sentinels.servers()) {
                copyTree(n.dataDir(), dir.resolve("redis-sentinel").resolve("server-" + n.port()));
            }
            for (int i = 0; i < SENTINELS; i++) {
                copyTree(sentinels.sentinelDirectories().get(i),
                        dir.resolve("redis-sentinel").resolve("sentinel-" + sentinels.sentinelPorts().get(i)));
            }
        } catch (IOException | RuntimeException e) {
            say("could not keep the Sentinel group's files: %s", e);
        }
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (var paths = Files.walk(from)) {
            for (Path p : paths.toList()) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(p, target);
                }
            }
        }
    }

    /** Starts the cluster and picks {@value #QUEUES_PER_MASTER} queues per master; writes the layout to cluster.txt. */
    private void startCluster() throws IOException {
        // Six nodes starting (and later reloading AOFs) on a loaded machine: well past the default 30 s.
        cluster = RedisClusterGroup.builder().masters(CLUSTER_MASTERS).replicasPerMaster(1).appendOnly(o.persistence())
                .nodeTimeout(CLUSTER_NODE_TIMEOUT).startTimeout(Duration.ofMinutes(3)).start();
        List<RedisProcess> masters = cluster.masters();
        int[] perMaster = new int[masters.size()];
        List<String> picked = new ArrayList<>();
        StringBuilder layout = new StringBuilder("# node port pid dataDir\n");
        for (RedisProcess n : cluster.nodes()) {
            layout.append(masters.contains(n) ? "master " : "replica ").append(n.port()).append(' ').append(n.pid())
                    .append(' ').append(n.dataDir()).append('\n');
        }
        layout.append("# queue stream-master-port slot-range-index\n");
        for (int i = 0; picked.size() < masters.size() * QUEUES_PER_MASTER; i++) {
            String q = ChaosProducerMain.QUEUE + "-" + i;
            RedisProcess owner = cluster.masterFor(RedisKeys.stream(QueueName.of(q)));
            int m = masters.indexOf(owner);
            if (perMaster[m] < QUEUES_PER_MASTER) {
                perMaster[m]++;
                picked.add(q);
                layout.append(q).append(' ').append(owner.port()).append(' ').append(m).append('\n');
            }
        }
        queues = List.copyOf(picked);
        Files.writeString(dir.resolve("cluster.txt"), layout.toString(), StandardCharsets.UTF_8);
        say("redis cluster %s: masters %s, replicas %s (node timeout %d ms); queues %s (see cluster.txt)",
                cluster.uriString(), masters.stream().map(RedisProcess::port).toList(),
                cluster.replicas().stream().map(RedisProcess::port).toList(), CLUSTER_NODE_TIMEOUT.toMillis(), queues);
    }

    /**
     * A Redis fault against the cluster: waits for full strength, applies the fault to the master of slot range
     * {@code f.target()} (or CLIENT KILL on every node), holds, heals, and waits for full strength again.
     *
     * @return the fault log's detail
     */
    private String injectCluster(FaultSchedule.Fault f) {
        long before = awaitFullStrength(f, "before");
        StringBuilder d = new StringBuilder();
        if (before > 1_000) {
            d.append("waited ").append(before).append(" ms for full strength first; ");
        }
        if (f.kind() == FaultKind.CLIENT_KILL) {
            return d.append(clientKillEveryNode()).toString();
        }
        RedisProcess victim = cluster.masters().get(f.target());
        d.append("master :").append(victim.port()).append(" (slot range ").append(f.target()).append(")");
        long start = System.currentTimeMillis();
        switch (f.kind()) {
            case REDIS_KILL -> {
                victim.kill();
                hold(f);
                victim.restart();
                d.append(" restarted pid ").append(victim.pid());
            }
            case REDIS_HANG -> {
                victim.hang();
                hold(f);
                victim.resume();
            }
            case REDIS_FAILOVER -> {
                victim.kill();
                try {
                    RedisProcess successor = cluster.awaitFailover(victim, CLUSTER_FAILOVER_TIMEOUT);
                    d.append(" failed over to :").append(successor.port()).append(" after ")
                            .append(System.currentTimeMillis() - start).append(" ms");
                } catch (IllegalStateException e) {
                    problems.add("no failover of master :" + victim.port() + " within "
                            + CLUSTER_FAILOVER_TIMEOUT.toSeconds() + " s at fault #" + f.index() + ": see "
                            + writeClusterDiagnostics(f, e.getMessage()));
                    d.append(" NOT failed over");
                }
                hold(f);
                victim.restart();
                d.append(", restarted pid ").append(victim.pid());
            }
            default -> throw new IllegalStateException(f.kind() + " is not a cluster fault");
        }
        long healed = System.currentTimeMillis();
        if (f.inner() != null) {
            d.append("; ").append(innerHealed(f));
        }
        long recovery = awaitFullStrength(f, "after");
        d.append("; healed +").append(healed - start).append(" ms, full strength +").append(recovery)
                .append(" ms later, ").append(roleOf(victim)).append(" now");
        return d.toString();
    }

    /**
     * Waits until the cluster is at full strength; past {@link #CLUSTER_RECOVERY_TIMEOUT} that is a problem (with the
     * cluster's diagnostics in a file) and the run goes on.
     *
     * @return how long it waited, in ms
     */
    private long awaitFullStrength(FaultSchedule.Fault f, String when) {
        long t0 = System.currentTimeMillis();
        long deadline = t0 + CLUSTER_RECOVERY_TIMEOUT.toMillis();
        while (!clusterAtFullStrength()) {
            if (System.currentTimeMillis() > deadline) {
                problems.add("cluster not at full strength " + CLUSTER_RECOVERY_TIMEOUT.toSeconds() + " s " + when
                        + " fault #" + f.index() + ": see " + writeClusterDiagnostics(f, when));
                break;
            }
            ledger.poll();
            sleep(100);
        }
        return System.currentTimeMillis() - t0;
    }

    /**
     * Every node alive and answering with {@code cluster_state:ok}; all of them see the same {@value #CLUSTER_MASTERS}
     * masters serving slots, none flagged failing; and every one of those masters has a replica whose link is up.
     */
    private boolean clusterAtFullStrength() {
        Set<Integer> masters = null;
        Set<Integer> linked = new HashSet<>();
        for (RedisProcess n : cluster.nodes()) {
            if (!n.isAlive() || n.isHung()) {
                return false;
            }
            try (Jedis j = n.jedis(CLUSTER_PROBE_TIMEOUT)) {
                if (!j.clusterInfo().contains("cluster_state:ok")) {
                    return false;
                }
                Set<Integer> seen = servingMasters(j.clusterNodes());
                if (masters == null) {
                    masters = seen;
                } else if (!masters.equals(seen)) {
                    return false;
                }
                String replication = j.info("replication");
                if (replication.contains("role:slave")) {
                    if (!replication.contains("master_link_status:up")) {
                        return false;
                    }
                    linked.add(Integer.parseInt(infoField(replication, "master_port")));
                }
            } catch (RuntimeException notYet) {
                // Restarting, loading its AOF, or mid-failover: not at full strength yet.
                return false;
            }
        }
        return masters != null && masters.size() == CLUSTER_MASTERS && linked.containsAll(masters);
    }

    /** Ports of the masters that serve slots in a CLUSTER NODES reply, leaving out those flagged fail or fail?. */
    private static Set<Integer> servingMasters(String clusterNodes) {
        Set<Integer> ports = new HashSet<>();
        for (String line : clusterNodes.split("\n")) {
            String[] f = line.trim().split(" ");
            if (f.length > 8 && f[2].contains("master") && !f[2].contains("fail")) {
                String address = f[1].substring(0, f[1].indexOf('@') >= 0 ? f[1].indexOf('@') : f[1].length());
                ports.add(Integer.parseInt(address.substring(address.lastIndexOf(':') + 1)));
            }
        }
        return ports;
    }

    private static String infoField(String info, String field) {
        return info.lines().filter(l -> l.startsWith(field + ":")).map(l -> l.substring(field.length() + 1).trim())
                .findFirst().orElse("0");
    }

    private String roleOf(RedisProcess n) {
        try (Jedis j = n.jedis(CLUSTER_PROBE_TIMEOUT)) {
            String replication = j.info("replication");
            return replication.contains("role:slave") ? "replica of :" + infoField(replication, "master_port")
                    : "master";
        } catch (RuntimeException e) {
            return "unreachable (" + e.getClass().getSimpleName() + ")";
        }
    }

    /** Writes the cluster's state and every node's log tail to {@code cluster-fault-<n>.txt}; returns its name. */
    private String writeClusterDiagnostics(FaultSchedule.Fault f, String why) {
        Path file = dir.resolve("cluster-fault-" + f.index() + ".txt");
        try {
            Files.writeString(file, why + "\n" + cluster.diagnostics(), StandardCharsets.UTF_8);
        } catch (IOException | RuntimeException e) {
            say("cannot write %s: %s", file, e);
        }
        return file.getFileName().toString();
    }

    /** Copies every node's directory (AOF, nodes.conf, log) and the final CLUSTER NODES into the run directory. */
    private void keepClusterEvidence() {
        try {
            Files.writeString(dir.resolve("cluster-final.txt"), cluster.diagnostics(), StandardCharsets.UTF_8);
            for (RedisProcess n : cluster.nodes()) {
                copyTree(n.dataDir(), dir.resolve("redis-cluster").resolve("node-" + n.port()));
            }
        } catch (IOException | RuntimeException e) {
            say("could not keep the cluster's files: %s", e);
        }
    }

    private void inject(FaultSchedule.Fault f) {
        long start = System.currentTimeMillis();
        boolean onCluster = cluster != null && (f.kind().hitsRedisNode() || f.kind() == FaultKind.CLIENT_KILL);
        boolean onSentinel = !onCluster && sentinels != null && !f.kind().hitsChild() && f.kind() != FaultKind.QUEUE_PAUSE;
        // A Sentinel group's or a cluster's inner fault is healed in its inject, before it waits for full strength.
        String detail = onCluster ? injectCluster(f) : onSentinel ? injectSentinel(f) : injectStandalone(f, start);
        long end = System.currentTimeMillis();
        if (f.inner() != null && !onCluster && !onSentinel) {
            detail += (detail.isEmpty() ? "" : "; ") + innerHealed(f);
        }
        if (f.companion() != null) {
            detail += (detail.isEmpty() ? "" : "; ") + companionHealed(f.companion());
        }
        lastFaultEndMs = end;
        injected.merge(f.kind(), 1, Integer::sum);
        String line = String.format("#%d %s start=%d end=%d held=%dms %s", f.index(), f.kind().label(), start, end,
                end - start, detail);
        faultLog.println(line);
        say("fault %s", line);
    }

    /**
     * Sleeps for the hold of {@code f}; with a {@link FaultSchedule.Companion}, kills or stops its child part-way and
     * starts it again before the hold ends or leaves that to {@link #companionHealed} once the fault has healed; with an
     * {@link FaultSchedule.Inner} fault, applies it part-way and heals it before the hold ends or leaves that to
     * {@link #innerHealed}.
     */
    private void hold(FaultSchedule.Fault f) {
        long hold = f.holdMillis();
        List<Map.Entry<Long, Runnable>> events = new ArrayList<>();
        FaultSchedule.Companion c = f.companion();
        if (c != null) {
            long killAt = (long) (hold * c.killAt());
            events.add(Map.entry(killAt, () -> stopCompanion(f, c)));
            if (c.backBeforeHeal()) {
                events.add(Map.entry(Math.max(killAt, (long) (hold * c.relaunchAt())), () -> {
                    // Not awaited here: a worker or producer that needs Redis to say it is ready would wait for the heal.
                    companionChild.launch();
                    companionDetail += ", started again before the heal";
                }));
            }
        }
        FaultSchedule.Inner n = f.inner();
        if (n != null) {
            long at = (long) (hold * n.at());
            events.add(Map.entry(at, () -> applyInner(f, n)));
            if (n.healsBeforeOuter() && n.kind() != FaultKind.CLIENT_KILL) {
                events.add(Map.entry(Math.max(at, (long) (hold * n.healAt())), () -> healInner(n, "before")));
            }
        }
        events.sort(Map.Entry.comparingByKey());
        long t0 = System.currentTimeMillis();
        for (Map.Entry<Long, Runnable> e : events) {
            sleep(Math.max(0, t0 + e.getKey() - System.currentTimeMillis()));
            e.getValue().run();
        }
        sleep(Math.max(0, t0 + hold - System.currentTimeMillis()));
    }

    /** The companion's kill or graceful stop, part-way through the hold of {@code f}. */
    private void stopCompanion(FaultSchedule.Fault f, FaultSchedule.Companion c) {
        boolean toWorker = c.kind() == FaultKind.WORKER_KILL || c.kind() == FaultKind.WORKER_RESTART;
        Child child = (toWorker ? workers : producers).get(c.target());
        long t = System.currentTimeMillis();
        if (c.kind() == FaultKind.WORKER_KILL || c.kind() == FaultKind.PRODUCER_KILL) {
            child.kill();
            companionDetail = "inside: SIGKILL of " + child.name() + " incarnation " + child.incarnation;
        } else {
            // A graceful stop while Redis is away: close() must not lose anything and must end within the grace.
            int code = child.terminate();
            if (code != 143 && code != 0) {
                problems.add(child.name() + " incarnation " + child.incarnation + " did not stop gracefully on SIGTERM"
                        + " within " + GRACE.toSeconds() + " s (exit " + code + ") inside fault #" + f.index());
            }
            companionDetail = "inside: SIGTERM of " + child.name() + " incarnation " + child.incarnation + " (exit "
                    + code + " after " + (System.currentTimeMillis() - t) + " ms)";
        }
        companionChild = child;
        companionsInjected.merge(c.kind(), 1, Integer::sum);
    }

    /** Applies the {@link FaultSchedule.Inner} fault {@code n} of {@code f}, part-way through its hold. */
    private void applyInner(FaultSchedule.Fault f, FaultSchedule.Inner n) {
        innerInjected.merge(n.kind(), 1, Integer::sum);
        innerVictim = null;
        innerSentinel = -1;
        if (cluster != null) {
            applyInnerCluster(f, n);
            return;
        }
        if (sentinels != null) {
            applyInnerSentinel(n);
            return;
        }
        switch (n.kind()) {
            case REDIS_KILL -> {
                redis.kill();
                if (!o.persistence()) {
                    emptyRestartsAt.add(System.currentTimeMillis());
                }
                innerDetail = "nested: SIGKILL of redis-server";
            }
            case CLIENT_KILL -> innerDetail = "nested: " + redis.clientKillAll() + " connections killed";
            case REDIS_OOM -> {
                long used = usedMemory();
                long limit = Math.max(1, used / 2);
                redis.configSet("maxmemory", Long.toString(limit));
                innerDetail = "nested: maxmemory " + limit + " (used " + used + ")";
            }
            case PROXY_CUT -> {
                proxy.cut();
                innerDetail = "nested: proxy cut";
            }
            default -> throw new IllegalStateException("not an inner fault kind: " + n.kind().label());
        }
        innerHolds = n.kind() != FaultKind.CLIENT_KILL;
    }

    /** CLIENT KILL of every client connection on every live cluster node; says how many on how many nodes. */
    private String clientKillEveryNode() {
        long killed = 0;
        int nodes = 0;
        for (RedisProcess n : cluster.nodes()) {
            if (n.isAlive() && !n.isHung()) {
                killed += n.clientKillAll();
                nodes++;
            }
        }
        return killed + " connections killed on " + nodes + " nodes";
    }

    /**
     * A cluster's inner fault: SIGKILL or SIGSTOP of another master than the outer fault's (by slot range, so after a
     * failover the replica that took that range over), or CLIENT KILL on every live node.
     */
    private void applyInnerCluster(FaultSchedule.Fault f, FaultSchedule.Inner n) {
        try {
            if (n.kind() == FaultKind.CLIENT_KILL) {
                innerDetail = "nested: " + clientKillEveryNode();
                innerHolds = false;
                return;
            }
            int range = (f.target() + 1 + n.target() % (CLUSTER_MASTERS - 1)) % CLUSTER_MASTERS;
            RedisProcess other = cluster.masters().get(range);
            if (!other.isAlive() || other.isHung()) {
                innerDetail = "nested: " + n.kind().label() + " not applied (master :" + other.port() + " of slot range "
                        + range + " is down already)";
                innerHolds = false;
                return;
            }
            if (n.kind() == FaultKind.REDIS_KILL) {
                other.kill();
                innerDetail = "nested: SIGKILL of master :" + other.port() + " (slot range " + range + ")";
            } else {
                other.hang();
                innerDetail = "nested: SIGSTOP of master :" + other.port() + " (slot range " + range + ")";
            }
            innerVictim = other;
            innerHolds = true;
        } catch (RuntimeException e) {
            innerDetail = "nested: " + n.kind().label() + " not applied (" + firstLine(String.valueOf(e.getMessage())) + ")";
            innerHolds = false;
        }
    }

    /**
     * A Sentinel group's inner fault: SIGKILL or CLIENT KILL of the master the sentinels name now (inside a failover:
     * the one just promoted), SIGKILL of a live replica, or of a sentinel.
     */
    private void applyInnerSentinel(FaultSchedule.Inner n) {
        if (!EnumSet.of(FaultKind.REDIS_KILL, FaultKind.CLIENT_KILL, FaultKind.REPLICA_KILL, FaultKind.SENTINEL_KILL)
                .contains(n.kind())) {
            throw new IllegalStateException("not an inner fault kind under Sentinel: " + n.kind().label());
        }
        try {
            switch (n.kind()) {
                case REDIS_KILL, CLIENT_KILL -> {
                    RedisProcess master = sentinels.master();
                    if (!master.isAlive() || master.isHung()) {
                        innerDetail = "nested: " + n.kind().label() + " not applied (the master the sentinels name, :"
                                + master.port() + ", is down already)";
                        innerHolds = false;
                    } else if (n.kind() == FaultKind.CLIENT_KILL) {
                        innerDetail = "nested: " + master.clientKillAll() + " connections killed on master :"
                                + master.port();
                        innerHolds = false;
                    } else {
                        master.kill();
                        if (!o.persistence()) {
                            emptyRestartsAt.add(System.currentTimeMillis());
                        }
                        innerVictim = master;
                        innerDetail = "nested: SIGKILL of master :" + master.port();
                        innerHolds = true;
                    }
                }
                case REPLICA_KILL -> {
                    List<RedisProcess> live = sentinels.replicas().stream().filter(r -> r.isAlive() && !r.isHung()).toList();
                    if (live.isEmpty()) {
                        innerDetail = "nested: replica-kill not applied (no live replica)";
                        innerHolds = false;
                    } else {
                        RedisProcess r = live.get(n.target() % live.size());
                        r.kill();
                        innerVictim = r;
                        innerDetail = "nested: SIGKILL of replica :" + r.port();
                        innerHolds = true;
                    }
                }
                case SENTINEL_KILL -> {
                    int i = n.target() % SENTINELS;
                    sentinels.killSentinel(i);
                    innerSentinel = i;
                    innerDetail = "nested: SIGKILL of sentinel :" + sentinels.sentinelPorts().get(i);
                    innerHolds = true;
                }
                default -> throw new IllegalStateException(n.kind().label()); // excluded above
            }
        } catch (RuntimeException e) {
            // The sentinels did not answer (none names a master): the run goes on without this inner fault.
            innerDetail = "nested: " + n.kind().label() + " not applied (" + firstLine(String.valueOf(e.getMessage())) + ")";
            innerHolds = false;
        }
    }

    /** Heals the inner fault, if it still holds; {@code when} is "before" or "after" (the outer heal). */
    private void healInner(FaultSchedule.Inner n, String when) {
        if (!innerHolds) {
            return;
        }
        if (innerSentinel >= 0) {
            sentinels.restartSentinel(innerSentinel);
            innerDetail += ", restarted " + when + " the outer heal";
            innerSentinel = -1;
            innerHolds = false;
            return;
        }
        if (innerVictim != null) {
            if (innerVictim.isHung()) {
                innerVictim.resume();
                innerDetail += ", resumed " + when + " the outer heal";
            } else if (!innerVictim.isAlive()) {
                innerVictim.restart();
                innerDetail += ", restarted pid " + innerVictim.pid() + " " + when + " the outer heal";
            }
            innerVictim = null;
            innerHolds = false;
            return;
        }
        switch (n.kind()) {
            case REDIS_KILL -> {
                redis.restart();
                innerDetail += ", restarted pid " + redis.pid() + " " + when + " the outer heal";
            }
            case REDIS_OOM -> {
                redis.configSet("maxmemory", "0");
                innerDetail += ", unset " + when + " the outer heal";
            }
            case PROXY_CUT -> {
                proxy.pass();
                innerDetail += ", passing again " + when + " the outer heal";
            }
            default -> {
            }
        }
        innerHolds = false;
    }

    /** Once a fault with an inner fault has healed: the inner one is healed too; returns the detail. */
    private String innerHealed(FaultSchedule.Fault f) {
        healInner(f.inner(), "after");
        String d = innerDetail;
        innerDetail = "";
        return d;
    }

    /** Once a fault with a companion has healed: the companion's child is running again; returns the detail. */
    private String companionHealed(FaultSchedule.Companion c) {
        Child child = companionChild;
        if (child == null) {
            return "inside: " + c.label() + " not applied (the fault had no hold)";
        }
        if (child.down) {
            child.launch();
            companionDetail += ", started again after the heal";
        }
        child.awaitReady();
        String d = companionDetail + " as incarnation " + child.incarnation;
        companionChild = null;
        companionDetail = "";
        return d;
    }

    /** Applies, holds and heals a fault against the standalone Redis, its proxy, or a child; returns the detail. */
    private String injectStandalone(FaultSchedule.Fault f, long start) {
        String detail = "";
        switch (f.kind()) {
            case QUEUE_PAUSE -> {
                try (Queues q = Queues.connect(URI.create(adminUri()))) {
                    for (String queue : queues) {
                        q.pause(queue, "chaos fault #" + f.index());
                    }
                    long pausedAt = System.currentTimeMillis();
                    hold(f);
                    long resumedAt = resumeAll(q);
                    pausedWindows.add(new long[] {pausedAt + PAUSE_NOTICE_MS, resumedAt});
                    detail = queues.size() + " queue(s) paused, resumed after " + (resumedAt - pausedAt) + " ms";
                }
            }
            case REDIS_KILL -> {
                redis.kill();
                if (!o.persistence()) {
                    emptyRestartsAt.add(start);
                }
                hold(f);
                redis.restart();
                detail = "restarted pid " + redis.pid();
            }
            case REDIS_RESTART -> {
                redis.shutdown();
                if (!o.persistence()) {
                    emptyRestartsAt.add(start);
                }
                hold(f);
                redis.restart();
                detail = "restarted pid " + redis.pid();
            }
            case REDIS_HANG -> {
                redis.hang();
                hold(f);
                if (redis.isHung()) { // not if an inner fault killed it meanwhile
                    redis.resume();
                }
            }
            case CLIENT_KILL -> detail = redis.clientKillAll() + " connections killed";
            case REDIS_OOM -> {
                long used = usedMemory();
                long limit = Math.max(1, used / 2);
                redis.configSet("maxmemory", Long.toString(limit));
                hold(f);
                if (redis.isAlive()) { // killed by an inner fault: it comes back without the limit anyway
                    redis.configSet("maxmemory", "0");
                }
                detail = "maxmemory " + limit + " (used " + used + ")";
            }
            case REDIS_DISK_FULL -> {
                long left = disk.fill(0);
                hold(f);
                disk.free();
                detail = "disk filled (" + left + " bytes left), then freed";
            }
            case PROXY_CUT -> {
                proxy.cut();
                hold(f);
                proxy.pass();
            }
            case PROXY_BLACKHOLE -> {
                proxy.blackhole();
                hold(f);
                proxy.pass();
            }
            case PROXY_SLOW -> {
                proxy.slow(Duration.ofMillis(f.param()));
                hold(f);
                proxy.pass();
                detail = f.param() + " ms per chunk";
            }
            case PROXY_MUTE -> {
                proxy.mute();
                hold(f);
                proxy.pass();
            }
            case WORKER_KILL, PRODUCER_KILL -> {
                Child c = (f.kind() == FaultKind.WORKER_KILL ? workers : producers).get(f.target());
                c.kill();
                hold(f);
                c.launch();
                c.awaitReady();
                detail = c.name() + " incarnation " + c.incarnation;
            }
            case WORKER_RESTART, PRODUCER_RESTART -> {
                Child c = (f.kind() == FaultKind.WORKER_RESTART ? workers : producers).get(f.target());
                int code = c.terminate();
                if (code != 143 && code != 0) {
                    problems.add(c.name() + " incarnation " + c.incarnation + " did not stop gracefully on SIGTERM within "
                            + GRACE.toSeconds() + " s (exit " + code + ") at fault #" + f.index());
                }
                hold(f);
                c.launch();
                c.awaitReady();
                detail = c.name() + " exit " + code + ", now incarnation " + c.incarnation;
            }
            case REDIS_FAILOVER -> throw new IllegalStateException("redis-failover needs a cluster or Sentinel");
            case SENTINEL_FAILOVER, SENTINEL_SILENT_FAILOVER, REPLICA_KILL, SENTINEL_KILL -> throw new IllegalStateException(f.kind().label()
                    + " needs Sentinel");
        }
        return detail;
    }

    private long usedMemory() {
        try (Jedis j = redis.jedis()) {
            for (String l : j.info("memory").split("\r?\n")) {
                if (l.startsWith("used_memory:")) {
                    return Long.parseLong(l.substring("used_memory:".length()).trim());
                }
            }
        }
        return 1;
    }

    private void checkChildren() {
        for (Child c : producers) {
            c.check();
        }
        for (Child c : workers) {
            c.check();
        }
    }

    private ChaosResult result(FaultSchedule schedule, boolean drained, long drainMs, long runMs, long handledWhilePaused) {
        LatencyHistogram latency = new LatencyHistogram();
        long spooled = 0;
        long replayed = 0;
        long restored = 0;
        long rejected = 0;
        try (var files = Files.list(dir)) {
            for (Path p : files.filter(p -> p.getFileName().toString().endsWith(".summary.json")).toList()) {
                ProducerSummary s = ProducerSummary.read(p);
                latency.add(s.latency());
                spooled += s.spooled();
                replayed += s.replayed();
                restored += s.restored();
                rejected += s.rejected();
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        long beyond = 0;
        for (Map.Entry<String, IdLedger.Accepted> e : ledger.lost()) {
            if (beyondResendWindow(e.getValue())) {
                beyond++;
            }
        }
        return new ChaosResult(o, ledger.acceptedCount(), ledger.handledAcceptedCount(), ledger.outstandingCount(), beyond,
                ledger.duplicateIds(), ledger.extraRuns(), ledger.handledWithoutReceipt(), ledger.tornLines(), spooled,
                replayed, restored, rejected, ledger.cancelCounts(), ledger.cancelledUnhandledCount(),
                ledger.handledAfterCancel().size(), handledWhilePaused,
                injected, companionsInjected, innerInjected, latency.max(), latency.percentile(0.99),
                latency.percentile(0.50), drainMs, drained, runMs, List.copyOf(problems));
    }

    /**
     * Whether a lost job can be explained by the documented limit: some empty restart of Redis came more
     * than the resend window after the job was accepted, so the producer may no longer have kept it to send
     * again. A job that was lost although every empty restart after it came within the window (or none
     * came) is unexplained: a bug. The acceptance time is a lower bound of when the job last reached Redis
     * (a spooled or re-sent job reached it later), so this rule errs towards "explained"; with a single
     * empty restart it is exact for the jobs it calls unexplained.
     */
    private boolean beyondResendWindow(IdLedger.Accepted a) {
        for (long restartAt : emptyRestartsAt) {
            if (restartAt - a.atMillis() > RESEND_WINDOW_MS) {
                return true;
            }
        }
        return false;
    }

    private void writeEvidence(ChaosResult r, List<String> whilePaused) throws IOException {
        Files.writeString(dir.resolve("result.md"), r.table(), StandardCharsets.UTF_8);
        List<Map.Entry<String, IdLedger.Accepted>> lost = ledger.lost();
        if (!lost.isEmpty()) {
            StringBuilder sb = new StringBuilder("# id producer acceptedAtMillis acceptedAt spooled beyondResendWindow redisStatus\n");
            for (var e : lost) {
                IdLedger.Accepted a = e.getValue();
                sb.append(e.getKey()).append(' ').append(a.producer()).append(' ').append(a.atMillis()).append(' ')
                        .append(LocalTime.ofInstant(Instant.ofEpochMilli(a.atMillis()), ZoneId.systemDefault()))
                        .append(a.spooled() ? " spooled " : " direct ").append(beyondResendWindow(a)).append(' ')
                        .append(sb.length() < 200_000 ? redisStatus(e.getKey()) : "-").append('\n');
            }
            Files.writeString(dir.resolve("lost.txt"), sb.toString(), StandardCharsets.UTF_8);
        }
        List<String> late = ledger.handledAfterCancel();
        if (!late.isEmpty()) {
            Files.writeString(dir.resolve("handled-after-cancel.txt"), "# id cancelledAtMillis lastHandledAtMillis redisStatus\n"
                    + late.stream().map(id -> id + " " + ledger.cancelledAt(id) + " " + ledger.lastHandledAt(id) + " "
                    + redisStatus(id)).collect(java.util.stream.Collectors.joining("\n")) + "\n", StandardCharsets.UTF_8);
        }
        if (!whilePaused.isEmpty()) {
            StringBuilder w = new StringBuilder("# queue pauses: fromMillis (the pause + " + PAUSE_NOTICE_MS
                    + " ms) toMillis (the resume)\n");
            pausedWindows.forEach(x -> w.append("# ").append(x[0]).append(' ').append(x[1]).append('\n'));
            w.append("# id handledAtMillis\n");
            whilePaused.forEach(l -> w.append(l).append('\n'));
            Files.writeString(dir.resolve("handled-while-paused.txt"), w.toString(), StandardCharsets.UTF_8);
        }
        StringBuilder dups = new StringBuilder("# id handlerRuns (first 1000)\n");
        ledger.duplicates(1000).forEach((id, n) -> dups.append(id).append(' ').append(n).append('\n'));
        Files.writeString(dir.resolve("duplicates.txt"), dups.toString(), StandardCharsets.UTF_8);
    }

    /** What Redis holds for a lost job id: its status record (null: nothing), read after the run. */
    private String redisStatus(String id) {
        if (cluster != null) {
            return clusterStatus(id);
        }
        try (Jedis j = sentinels != null ? sentinels.master().jedis() : redis.jedis()) {
            return String.valueOf(j.get(RedisKeys.job(QueueName.of(ChaosProducerMain.QUEUE), JobId.of(id))));
        } catch (RuntimeException e) {
            return "unreadable:" + e.getClass().getSimpleName();
        }
    }

    /** In a cluster the job's queue is not in the record file: the first queue with a status record for it. */
    private String clusterStatus(String id) {
        try {
            if (clusterAdmin == null) {
                clusterAdmin = cluster.client();
            }
            for (String q : queues) {
                String v = clusterAdmin.get(RedisKeys.job(QueueName.of(q), JobId.of(id)));
                if (v != null) {
                    return q + ":" + v;
                }
            }
            return "null";
        } catch (RuntimeException e) {
            return "unreadable:" + e.getClass().getSimpleName();
        }
    }

    /**
     * Resumes every queue, asking again while Redis does not answer (a companion fault cannot take Redis down, but a
     * loaded machine can slow it); returns the time the last resume was done.
     */
    private long resumeAll(Queues q) {
        long deadline = System.currentTimeMillis() + 60_000;
        for (String queue : queues) {
            while (true) {
                try {
                    q.resume(queue);
                    break;
                } catch (RuntimeException e) {
                    if (System.currentTimeMillis() > deadline) {
                        problems.add("queue " + queue + " could not be resumed: " + e);
                        break;
                    }
                    sleep(200);
                }
            }
        }
        return System.currentTimeMillis();
    }

    /** Where the harness itself reaches Redis for queue pauses: the server directly, past the proxy. */
    private String adminUri() {
        if (sentinels != null) {
            return redisUri();
        }
        return cluster != null ? cluster.uriString() : redis.uri().toString();
    }

    /**
     * What the children connect to: the proxy in front of the standalone Redis, the cluster's nodes, or the sentinels
     * through their proxies (the servers themselves are reached directly: the sentinels hand out their own ports).
     */
    private String redisUri() {
        if (sentinels != null) {
            StringBuilder u = new StringBuilder("redis-sentinel://");
            for (ChaosProxy p : sentinelProxies) {
                u.append(u.length() > "redis-sentinel://".length() ? "," : "").append("127.0.0.1:").append(p.port());
            }
            return u.append('#').append(sentinels.masterName()).toString();
        }
        return cluster != null ? cluster.uriString() : proxy.uri().toString();
    }

    private void say(String format, Object... args) {
        log.printf("[chaos %s] %s%n", LocalTime.now().withNano(0), String.format(format, args));
    }

    private static void sleep(long ms) {
        if (ms > 0) {
            // The hold of a fault, or a pause between polls: the point is the passing of time.
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(ms));
        }
    }

    /** One producer or worker slot: its files, and the JVM currently running it (one incarnation after another). */
    private final class Child {
        private final String role;
        private final int slot;
        private final long total;
        private final double rate;
        private int incarnation;
        private ChildJvm jvm;
        private boolean down;

        Child(String role, int slot, long total, double rate) {
            this.role = role;
            this.slot = slot;
            this.total = total;
            this.rate = rate;
        }

        String name() {
            return role + "-" + slot;
        }

        Path recordFile() {
            return dir.resolve(name() + ".ids");
        }

        /** A producer's record of the jobs it cancelled ({@link ChaosProducerMain}, {@code --cancels}). */
        Path cancelsFile() {
            return dir.resolve(name() + ".cancels");
        }

        Path summaryFile(int inc) {
            return dir.resolve(name() + "-" + inc + ".summary.json");
        }

        void launch() {
            incarnation++;
            ChildJvm.Builder b;
            if (role.equals("producer")) {
                b = ChildJvm.builder(ChaosProducerMain.class).args(
                        "--redis", redisUri(),
                        "--queues", String.join(",", queues),
                        "--journal", dir.resolve(name()).resolve("journal").toString(),
                        "--record", recordFile().toString(),
                        "--summary", summaryFile(incarnation).toString(),
                        "--slot", Integer.toString(slot),
                        "--incarnation", Integer.toString(incarnation),
                        "--total", Long.toString(total),
                        "--rate", Double.toString(rate),
                        "--start-ms", Long.toString(phaseStartMs),
                        "--write-ahead", o.writeAhead() ? "on" : "off",
                        "--cancel-every", Integer.toString(o.cancelEvery()),
                        "--cancels", cancelsFile().toString());
            } else {
                b = ChildJvm.builder(ChaosWorkerMain.class).args(
                        "--redis", redisUri(),
                        "--queues", String.join(",", queues),
                        "--record", recordFile().toString(),
                        "--state-dir", dir.resolve(name()).resolve("state").toString(),
                        "--concurrency", Integer.toString(o.concurrency()),
                        "--work-ms", Long.toString(o.workMillis()),
                        "--lease-ms", Long.toString(o.leaseMillis()),
                        "--slot", Integer.toString(slot),
                        "--incarnation", Integer.toString(incarnation));
            }
            jvm = b.jvmArgs("-Xmx256m", "-XX:+UseSerialGC",
                            "-Dorg.slf4j.simpleLogger.showDateTime=true",
                            "-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS")
                    .outputFile(dir.resolve(name() + "-" + incarnation + ".out"))
                    .start();
            down = false;
        }

        void awaitReady() {
            String marker = role.equals("producer") ? ChaosProducerMain.READY : ChaosWorkerMain.STARTED;
            try {
                jvm.awaitOutput(marker, READY_TIMEOUT);
            } catch (IllegalStateException e) {
                problems.add(name() + " incarnation " + incarnation + " did not start: see " + jvm.outputFile());
                say("%s incarnation %d did not start: %s", name(), incarnation, firstLine(e.getMessage()));
            }
        }

        void kill() {
            jvm.kill();
            down = true;
        }

        int terminate() {
            down = true;
            return jvm.terminate(GRACE);
        }

        /** An exit nobody asked for is a problem; the slot is restarted so the run goes on. */
        void check() {
            if (!down && jvm != null && !jvm.isAlive()) {
                int code = jvm.waitFor(Duration.ofSeconds(1));
                problems.add(name() + " incarnation " + incarnation + " exited on its own with " + code + ": see "
                        + jvm.outputFile());
                say("%s incarnation %d exited on its own (%d); restarting", name(), incarnation, code);
                launch();
                awaitReady();
            }
            if (role.equals("producer") && !down) {
                ProducerSummary s = summary();
                if (s != null && System.currentTimeMillis() - s.updatedAtMillis() > STUCK_SUMMARY_MS && jvm.isAlive()) {
                    String p = name() + " incarnation " + incarnation + " has not updated its summary for "
                            + (System.currentTimeMillis() - s.updatedAtMillis()) / 1000 + " s (stuck?)";
                    if (problems.stream().noneMatch(x -> x.startsWith(p.substring(0, p.indexOf(" has"))) && x.contains("stuck"))) {
                        problems.add(p);
                        say("%s", p);
                    }
                }
            }
        }

        ProducerSummary summary() {
            Path f = summaryFile(incarnation);
            try {
                return Files.exists(f) ? ProducerSummary.read(f) : null;
            } catch (UncheckedIOException e) {
                return null;
            }
        }

        boolean producerDone() {
            ProducerSummary s = summary();
            return s != null && s.done() && System.currentTimeMillis() - s.updatedAtMillis() < 3_000;
        }

        String progress() {
            ProducerSummary s = summary();
            return s == null ? name() + ": no summary" : name() + ": " + s.producedTotal() + "/" + total + " backlog "
                    + s.backlog() + " " + s.state();
        }

        void stop() {
            if (jvm != null && jvm.isAlive()) {
                int code = terminate();
                if (code != 143 && code != 0) {
                    problems.add(name() + " incarnation " + incarnation + " did not stop gracefully at the end (exit "
                            + code + ")");
                }
            }
        }

        void close() {
            if (jvm != null) {
                jvm.close();
            }
        }
    }

    private static String firstLine(String s) {
        int nl = s == null ? -1 : s.indexOf('\n');
        return nl < 0 ? String.valueOf(s) : s.substring(0, nl);
    }
}
