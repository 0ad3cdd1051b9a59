package io.spillway.cli;

import io.spillway.core.internal.ClusterTopology;
import io.spillway.core.internal.Failures;
import io.spillway.core.internal.RedisInfo;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.exceptions.JedisDataException;

/**
 * Checks a Redis for the settings that lose jobs, and says what to change. Exits 1 when a finding
 * loses jobs (or Spillway cannot run on it), 3 when a master of a Redis Cluster does not answer (the rest checked and
 * printed all the same), 0 otherwise (warnings included).
 *
 * <p>A setting it could not check (INFO or CONFIG not allowed: denied to the user by an ACL, renamed or disabled, as
 * on managed Redis) is never reported ok: it is a warning that names the setting and the reason ("could not check
 * appendfsync: CONFIG not allowed (renamed or disabled); check it by hand"), so that the operator checks it by hand.
 *
 * <p>A Redis Cluster ({@code redis-cluster://}) is checked master by master, each as a standalone Redis (every master
 * keeps settings of its own), after the cluster's own state; each finding is printed under the master it is about. A
 * master that does not answer (a cluster that is down) is a finding, not the end of the check. Through Sentinel the
 * first line names the master the sentinels named.
 */
@Command(name = "doctor", mixinStandardHelpOptions = true,
        description = {"Check a Redis for settings that lose jobs, and say what to change.",
                "Checks eviction policy, persistence, maxmemory headroom, version and latency.",
                "A Redis at its maxmemory with noeviction is refusing writes now (OOM): a warning that says so (producers"
                        + " spool to their journals meanwhile; nothing is lost, so the exit code stays 0, as for a"
                        + " failed RDB snapshot).",
                "A setting it could not check (INFO or CONFIG not allowed: denied by an ACL, renamed or disabled, as on"
                        + " managed Redis) is a warning that says so: check it by hand.",
                "A Redis Cluster (redis-cluster://) is checked master by master, each finding under its master; a master"
                        + " that does not answer is a warning, and the others are checked all the same.",
                "Exits 1 when a finding loses jobs, 3 when a master of a Redis Cluster does not answer, 0 otherwise"
                        + " (warnings included)."})
final class DoctorCommand implements Callable<Integer> {
    enum Severity { OK, WARN, LOSES_JOBS }

    /** The CONFIG settings the checks read; INFO does not report these (or, for the first two, not without INFO). */
    static final List<String> CONFIG_KEYS = List.of("maxmemory-policy", "appendonly", "appendfsync", "save", "maxmemory",
            "stop-writes-on-bgsave-error");
    /** The key under which {@code unreadable} holds why INFO could not be read. */
    static final String INFO = "INFO";

    /** One check's result; {@code fix} is empty when nothing needs to change. */
    record Finding(String check, Severity severity, String found, String fix) {
    }

    @Mixin
    RedisOptions redis;

    @Option(names = "--json", description = "Print the findings as JSON.")
    boolean json;

    @Option(names = "--pings", paramLabel = "N", defaultValue = "20", description = "PINGs for the latency check (default: ${DEFAULT-VALUE}).")
    int pings;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    /** What doctor read from one Redis: INFO and CONFIG GET (what could not be read in {@code unreadable}), PING times. */
    record Reading(Map<String, String> info, Map<String, String> config, Map<String, String> unreadable,
                   long[] latenciesMicros) {
    }

    /** One master of a Redis Cluster: its address, slots, version, its findings and its replicas' (JSON {@code masters}). */
    record MasterReport(String master, String slots, String version, boolean losesJobs, List<Finding> findings,
                        Map<String, String> unreadable, List<ReplicaReport> replicas) {
    }

    /**
     * One replica: the master if a failover promotes it, so it is checked as a master is, except for its role. One that
     * cannot be reached is a warning ({@code version} "?"), not a failure of the command.
     */
    record ReplicaReport(String replica, String version, boolean losesJobs, List<Finding> findings,
                         Map<String, String> unreadable) {
    }

    @Override
    public Integer call() {
        if (pings < 1 || pings > 10_000) {
            throw new CliException(ExitCodes.USAGE, "--pings must be in 1..10000, but was " + pings);
        }
        if (redis.connection().cluster()) {
            return callCluster();
        }
        Reading r;
        HostAndPort master;
        try (RedisOptions.Master m = redis.connectMaster()) {
            master = m.address();
            r = read(m.jedis(), pings);
        } catch (CliException e) {
            throw e;
        } catch (RuntimeException e) {
            throw redis.failure(redis.connection(), e);
        }
        Map<String, String> info = r.info();
        if ("sentinel".equals(info.get("redis_mode"))) {
            // A sentinel's INFO looks like a Redis's: its findings (no CONFIG, no AOF) would be about the wrong server.
            throw redis.sentinelGiven(redis.connection(), master);
        }
        Map<String, String> unreadable = r.unreadable();
        List<Finding> findings = new ArrayList<>(check(info, r.config(), unreadable, r.latenciesMicros()));
        List<ReplicaReport> replicas = new ArrayList<>();
        List<String> replicaLines = new ArrayList<>();
        if (redis.connection().sentinel()) {
            redis.sentinelReplicas().forEach((address, flags) -> {
                ReplicaReport rr = checkReplica(address, flags);
                replicas.add(rr);
                replicaLines.add(replicaLine(rr, null));
            });
        }
        if ("cluster".equals(info.get("redis_mode"))) {
            // Its settings are those of one master only, and producers given this URI get MOVED for most queues.
            findings.add(new Finding("cluster", Severity.WARN, "this Redis is a node of a Redis Cluster: only its own"
                    + " settings were checked", "give the cluster as --redis redis-cluster://host1:port1,host2:port2 to check"
                    + " every master"));
        }
        List<Finding> all = new ArrayList<>(findings);
        replicas.forEach(rr -> all.addAll(rr.findings()));
        boolean loses = losesJobs(all);
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            Map<String, Object> doc = new LinkedHashMap<>();
            doc.put("redis", redis.connection().redacted());
            doc.put("master", master.toString());
            doc.put("version", info.getOrDefault("redis_version", "?"));
            doc.put("losesJobs", loses);
            doc.put("findings", findings);
            doc.put("unreadable", unreadable);
            if (redis.connection().sentinel()) {
                doc.put("replicas", replicas);
            }
            Output.json(out, doc);
        } else {
            out.println(redis.connection().sentinel()
                    ? "Redis " + redis.connection().redacted() + ": master " + master + ", as the sentinels name it (" + describe(r) + ")"
                    : "Redis " + redis.connection().redacted() + " (" + describe(r) + ")");
            print(out, findings);
            for (int i = 0; i < replicas.size(); i++) {
                out.println(replicaLines.get(i));
                print(out, replicas.get(i).findings());
            }
            out.println(summary(all, replicas.stream().filter(ReplicaReport::losesJobs).map(rr -> "replica " + rr.replica())
                    .toList()));
            out.flush();
        }
        return loses ? ExitCodes.FAILED : ExitCodes.OK;
    }

    /**
     * A Redis Cluster: the cluster's own state, then every master checked as a standalone Redis is (each keeps its
     * own settings), each finding under the master it is about. Exits 1 when a finding on any master loses jobs.
     */
    private int callCluster() {
        ClusterTopology map = redis.clusterMap();
        List<MasterReport> masters = new ArrayList<>();
        List<Reading> readings = new ArrayList<>();
        Map<ClusterTopology.Master, String> silent = new LinkedHashMap<>();
        for (ClusterTopology.Master m : map.masters()) {
            Reading r;
            try (Jedis j = redis.connectNode(m.address())) {
                r = read(j, pings);
            } catch (RuntimeException e) {
                CliException f = e instanceof CliException c ? c : redis.nodeFailure(redis.connection(), m.address(), e);
                if (f.exitCode() != ExitCodes.UNREACHABLE) {
                    throw f; // refused credentials, an ACL: the same on every master, and the user's to fix
                }
                // A master that does not answer is what a cluster that is down is about: a finding, not the end.
                String why = e instanceof CliException ? unreachableReason(f.getMessage())
                        : SpillwayCli.oneLine(redis.describe(e));
                silent.put(m, why);
                List<ReplicaReport> replicas = m.replicas().stream().map(a -> checkReplica(a, "")).toList();
                masters.add(new MasterReport(m.address().toString(), m.slots(), "?", false,
                        List.of(silentMaster(m, why, replicas)), Map.of(), replicas));
                readings.add(null);
                continue;
            }
            List<Finding> findings = check(r.info(), r.config(), r.unreadable(), r.latenciesMicros());
            readings.add(r);
            List<ReplicaReport> replicas = m.replicas().stream().map(a -> checkReplica(a, "")).toList();
            masters.add(new MasterReport(m.address().toString(), m.slots(), r.info().getOrDefault("redis_version", "?"),
                    losesJobs(findings), findings, r.unreadable(), replicas));
        }
        List<Finding> clusterFindings = checkCluster(map, silent);
        List<Finding> all = new ArrayList<>(clusterFindings);
        masters.forEach(m -> {
            all.addAll(m.findings());
            m.replicas().forEach(rr -> all.addAll(rr.findings()));
        });
        boolean loses = losesJobs(all);
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            Map<String, Object> doc = new LinkedHashMap<>();
            doc.put("redis", redis.connection().redacted());
            Map<String, Object> state = new LinkedHashMap<>();
            state.put("state", map.state());
            state.put("from", map.from().toString());
            state.put("masters", map.masters().size());
            state.put("coveredSlots", map.coveredSlots());
            doc.put("cluster", state);
            doc.put("losesJobs", loses);
            doc.put("findings", clusterFindings);
            doc.put("masters", masters);
            Output.json(out, doc);
        } else {
            out.println("Redis Cluster " + redis.connection().redacted() + " (" + map.masters().size() + " master(s), as "
                    + map.from() + " sees it)");
            print(out, clusterFindings);
            for (int i = 0; i < masters.size(); i++) {
                MasterReport m = masters.get(i);
                out.println("Master " + m.master() + " (slots " + m.slots() + "; " + (readings.get(i) == null
                        ? "does not answer" : describe(readings.get(i))) + ")");
                print(out, m.findings());
                for (ReplicaReport rr : m.replicas()) {
                    out.println(replicaLine(rr, m.master()));
                    print(out, rr.findings());
                }
            }
            List<String> losing = new ArrayList<>();
            for (MasterReport m : masters) {
                if (m.losesJobs()) {
                    losing.add("master " + m.master());
                }
                m.replicas().stream().filter(ReplicaReport::losesJobs).forEach(rr -> losing.add("replica " + rr.replica()));
            }
            out.println(summary(all, losing));
            out.flush();
        }
        // Like status with a master down: what could be read is printed, and the code says not all of it could.
        return loses ? ExitCodes.FAILED : silent.isEmpty() ? ExitCodes.OK : ExitCodes.UNREACHABLE;
    }

    /** The reason in a one-line {@code cannot reach Redis at … (node …): REASON}. */
    private static String unreachableReason(String line) {
        int at = line.indexOf("): ");
        return at < 0 ? line : line.substring(at + 3);
    }

    /**
     * The finding of a master that does not answer: its slots are served by nobody until it is back or a replica takes
     * over (one of {@code replicas} that answers, if any).
     */
    static Finding silentMaster(ClusterTopology.Master m, String why, List<ReplicaReport> replicas) {
        boolean replicaAnswers = replicas.stream().anyMatch(rr -> !rr.version().equals("?"));
        return new Finding("master", Severity.WARN, "could not check this master: it does not answer (" + why + "); its "
                + m.slotCount() + " slot(s) " + m.slots() + " have no master that answers: commands on their keys are"
                + " refused (producers spool them, workers wait)",
                replicaAnswers ? "bring it back, or let its replica take over (CLUSTER FAILOVER on the replica if the cluster"
                        + " does not do it on its own)"
                        : "bring it back: " + (replicas.isEmpty() ? "no replica of it is left (CLUSTER SLOTS lists none"
                                + " that has not failed)" : "no replica of it answers") + " to take over");
    }

    /** Reads INFO, the {@link #CONFIG_KEYS} and {@code pings} PING times from one Redis; a refused read is noted, not thrown. */
    static Reading read(Jedis j, int pings) {
        Map<String, String> info;
        Map<String, String> config = new LinkedHashMap<>();
        Map<String, String> unreadable = new LinkedHashMap<>();
        try {
            info = RedisInfo.parse(j.info());
        } catch (JedisDataException e) {
            // An error reply (NOPERM from an ACL, a renamed command): the checks that need INFO say so.
            info = Map.of();
            unreadable.put(INFO, refusal("INFO", e));
        }
        for (String key : CONFIG_KEYS) {
            try {
                config.putAll(j.configGet(key));
            } catch (JedisDataException e) {
                // CONFIG is often renamed, disabled or denied on managed Redis: the checks that need it say so.
                unreadable.put(key, Failures.configRefusal(e));
            }
        }
        long[] latenciesMicros = new long[pings];
        for (int i = 0; i < pings; i++) {
            long t0 = System.nanoTime();
            j.ping();
            latenciesMicros[i] = (System.nanoTime() - t0) / 1000;
        }
        return new Reading(info, config, unreadable, latenciesMicros);
    }

    /**
     * Checks a replica as a master is checked (it is the master after a failover), without the role finding. One that
     * cannot be reached, or that its sentinel reports down ({@code flags} {@code s_down}, {@code o_down} or
     * {@code disconnected}), is a warning.
     */
    private ReplicaReport checkReplica(HostAndPort address, String flags) {
        String down = Arrays.stream(flags.split(",")).filter(f -> f.equals("s_down") || f.equals("o_down")
                || f.equals("disconnected")).collect(java.util.stream.Collectors.joining(", "));
        Reading r;
        try (Jedis j = redis.connectNode(address)) {
            r = read(j, pings);
        } catch (RuntimeException e) {
            // A replica that is down is no reason to stop checking the rest: a warning, with the one-line reason.
            String why = e instanceof CliException ? e.getMessage() : SpillwayCli.oneLine(String.valueOf(e.getMessage()));
            Finding f = new Finding("replica", Severity.WARN, "could not be checked: " + why
                    + (down.isEmpty() ? "" : " (the sentinels flag it " + down + ")"),
                    "bring it back: until then, a failure of its master has one replica fewer to take over");
            return new ReplicaReport(address.toString(), "?", false, List.of(f), Map.of());
        }
        List<Finding> findings = new ArrayList<>(check(r.info(), r.config(), r.unreadable(), r.latenciesMicros())
                .stream().filter(f -> !f.check().equals("role")).toList());
        if (!down.isEmpty()) {
            findings.add(new Finding("replica", Severity.WARN, "answers, but the sentinels flag it " + down
                    + ": they will not promote it", "check the link between it, its master and the sentinels"));
        }
        return new ReplicaReport(address.toString(), r.info().getOrDefault("redis_version", "?"), losesJobs(findings),
                findings, r.unreadable());
    }

    /** "Replica 10.0.0.7:6379 of master 10.0.0.5:6379 (version 7.0.15; the master after a failover)". */
    private static String replicaLine(ReplicaReport rr, String master) {
        return "Replica " + rr.replica() + (master == null ? "" : " of master " + master) + " (version " + rr.version()
                + "; the master after a failover, so checked as one)";
    }

    /** "version 7.0.15, standalone, master", or "version unknown: INFO denied (NOPERM)". */
    private static String describe(Reading r) {
        Map<String, String> info = r.info();
        return info.isEmpty() ? "version unknown: " + r.unreadable().get(INFO)
                : "version " + info.getOrDefault("redis_version", "?") + ", " + info.getOrDefault("redis_mode", "standalone")
                        + ", " + info.getOrDefault("role", "?");
    }

    private static void print(PrintWriter out, List<Finding> findings) {
        for (Finding f : findings) {
            out.printf("%-10s %-16s %s%n", label(f.severity()), f.check(), f.found());
            if (!f.fix().isEmpty()) {
                out.printf("%-10s %-16s fix: %s%n", "", "", f.fix());
            }
        }
    }

    /**
     * The last line; {@code losingMasters} names the nodes with a finding that loses jobs when there are several
     * ("master 10.0.0.5:6379", "replica 10.0.0.7:6379"; else empty).
     */
    static String summary(List<Finding> findings, List<String> losingMasters) {
        long bad = findings.stream().filter(f -> f.severity() == Severity.LOSES_JOBS).count();
        long warn = findings.stream().filter(f -> f.severity() == Severity.WARN).count();
        boolean blind = findings.stream().anyMatch(f -> f.found().contains("could not check")
                || f.check().equals(NOT_CHECKED));
        String where = losingMasters.isEmpty() ? "" : " (on " + String.join(", ", losingMasters) + ")";
        return bad > 0 ? bad + " finding(s) lose jobs" + where + "; " + warn + " warning(s)."
                : blind ? "Nothing found that loses jobs, but some settings could not be read: check them by hand; "
                        + warn + " warning(s)."
                : warn > 0 ? "Nothing loses jobs; " + warn + " warning(s)." : "All good: nothing here loses jobs.";
    }

    private static boolean losesJobs(List<Finding> findings) {
        return findings.stream().anyMatch(f -> f.severity() == Severity.LOSES_JOBS);
    }

    /**
     * The cluster's own findings: its state as the node asked sees it, and whether every slot is served. A cluster
     * that is down refuses commands ({@code CLUSTERDOWN}), which producers and workers wait through: a warning.
     */
    static List<Finding> checkCluster(ClusterTopology map, Map<ClusterTopology.Master, String> silent) {
        String seen = " (as " + map.from() + " sees it)";
        int covered = map.coveredSlots();
        String silentMasters = silent.isEmpty() ? "" : "; master(s) that do not answer: " + String.join(", ", silent.keySet()
                .stream().map(m -> m.address() + " (slots " + m.slots() + ")").toList()) + ", "
                + (map.masters().size() - silent.size()) + " of " + map.masters().size() + " answer";
        if (!"ok".equals(map.state())) {
            return List.of(new Finding("cluster", Severity.WARN, "cluster_state " + map.state() + seen + silentMasters
                    + ": the cluster refuses commands (CLUSTERDOWN), its live nodes too; producers spool and workers wait"
                    + " until it is ok", silent.isEmpty()
                            ? "bring back the failed master, or let a replica take over (CLUSTER NODES shows which node failed)"
                            : "bring back the master(s) that do not answer, or let a replica take over"));
        }
        if (!silent.isEmpty()) {
            // cluster-require-full-coverage no: the others serve their slots, these are refused.
            return List.of(new Finding("cluster", Severity.WARN, "cluster_state ok" + seen + silentMasters
                    + ": the queues in their slots are refused (CLUSTERDOWN)", "bring them back, or let a replica take over"));
        }
        if (covered < ClusterTopology.SLOTS) {
            return List.of(new Finding("cluster", Severity.WARN, "cluster_state ok, but only " + covered + " of "
                    + ClusterTopology.SLOTS + " slots served" + seen + ": the queues in the others are refused",
                    "assign the missing slots to a master (CLUSTER ADDSLOTS), or fix the failed master"));
        }
        return List.of(new Finding("cluster", Severity.OK, "cluster_state ok, " + map.masters().size()
                + " master(s) serve all " + ClusterTopology.SLOTS + " slots", ""));
    }

    private static String label(Severity s) {
        return switch (s) {
            case OK -> "ok";
            case WARN -> "warn";
            case LOSES_JOBS -> "LOSES JOBS";
        };
    }

    /** The check that lists what could not be checked at all (INFO unreadable). */
    static final String NOT_CHECKED = "not checked";

    /**
     * The findings.
     *
     * @param info INFO, parsed; empty if it could not be read
     * @param config CONFIG GET results; a setting missing here could not be read
     * @param unreadable why a setting (a {@link #CONFIG_KEYS} name, or {@link #INFO}) could not be read
     */
    static List<Finding> check(Map<String, String> info, Map<String, String> config, Map<String, String> unreadable,
                               long[] latenciesMicros) {
        List<Finding> out = new ArrayList<>();
        // Eviction: anything but noeviction deletes keys (jobs) silently under memory pressure.
        String policy = info.getOrDefault("maxmemory_policy", config.get("maxmemory-policy"));
        if (policy == null) {
            out.add(new Finding("eviction", Severity.WARN, cannotRead("maxmemory-policy", unreadable, true),
                    "it must be noeviction: look in redis.conf, or CONFIG GET maxmemory-policy as a user allowed to"));
        } else if (policy.equals("noeviction")) {
            out.add(new Finding("eviction", Severity.OK, "maxmemory-policy noeviction", ""));
        } else {
            out.add(new Finding("eviction", Severity.LOSES_JOBS, "maxmemory-policy " + policy
                    + ": when memory is full Redis silently deletes keys, jobs among them",
                    "CONFIG SET maxmemory-policy noeviction, and put 'maxmemory-policy noeviction' in redis.conf"));
        }

        // Persistence: without AOF a restart loses what came after the last snapshot, or everything.
        Boolean aof = info.containsKey("aof_enabled") ? Boolean.valueOf("1".equals(info.get("aof_enabled")))
                : config.containsKey("appendonly") ? Boolean.valueOf("yes".equals(config.get("appendonly"))) : null;
        String save = config.get("save");
        String fsync = config.get("appendfsync");
        if (aof == null) {
            out.add(new Finding("persistence", Severity.WARN, cannotRead("appendonly", unreadable, true),
                    "it must be 'appendonly yes' with 'appendfsync everysec' (or always): look in redis.conf, or CONFIG GET"
                            + " as a user allowed to"));
        } else if (aof) {
            if (fsync == null) {
                out.add(new Finding("persistence", Severity.WARN, "AOF on; " + cannotRead("appendfsync", unreadable, false),
                        "appendfsync must be everysec or always: look in redis.conf, or CONFIG GET appendfsync as a user"
                                + " allowed to"));
            } else if ("no".equals(fsync)) {
                out.add(new Finding("persistence", Severity.WARN, "AOF on, appendfsync no: a machine crash loses up to ~30 s of jobs"
                        + " (a Redis crash alone does not)", "CONFIG SET appendfsync everysec"));
            } else {
                out.add(new Finding("persistence", Severity.OK, "AOF on, appendfsync " + fsync, ""));
            }
            if (!"ok".equals(info.getOrDefault("aof_last_write_status", "ok"))) {
                out.add(new Finding("aof-writes", Severity.LOSES_JOBS, "the last AOF write failed ("
                        + info.get("aof_last_write_status") + "): Redis refuses writes or loses them",
                        "free disk space where Redis writes its AOF (CONFIG GET dir) and check its log"));
            }
        } else if (save != null && save.isBlank()) {
            out.add(new Finding("persistence", Severity.LOSES_JOBS,
                    "no AOF and no RDB snapshots: a Redis restart empties it and every queued job is lost",
                    "CONFIG SET appendonly yes, and put 'appendonly yes' and 'appendfsync everysec' in redis.conf"));
        } else {
            // With or without snapshots (save unreadable: either), a crash loses the jobs since the last one, or all.
            out.add(new Finding("persistence", Severity.LOSES_JOBS, (save == null ? "AOF off (" + cannotRead("save", unreadable, false)
                    + ")" : "RDB snapshots only (save " + save + ")") + ": a crash loses every job enqueued since the last snapshot",
                    "CONFIG SET appendonly yes, and put 'appendonly yes' in redis.conf"));
        }
        if ("err".equals(info.get("rdb_last_bgsave_status")) && !"no".equals(config.get("stop-writes-on-bgsave-error"))) {
            out.add(new Finding("snapshots", Severity.WARN, "the last RDB snapshot failed: Redis refuses writes (MISCONF)"
                    + " until one succeeds; Spillway spools meanwhile", "free disk space for the RDB file and check the Redis log"));
        }

        if (info.isEmpty()) {
            out.add(new Finding(NOT_CHECKED, Severity.WARN, "memory headroom, version, role and AOF write errors: "
                    + unreadable.getOrDefault(INFO, "INFO said nothing"),
                    "run doctor as a user allowed INFO (and CONFIG GET), or check these by hand (INFO memory, server,"
                            + " replication, persistence)"));
        } else {
            checkServer(info, config, out);
        }

        long[] sorted = latenciesMicros.clone();
        Arrays.sort(sorted);
        long median = sorted[sorted.length / 2];
        long worst = sorted[sorted.length - 1];
        String found = String.format("PING median %.2f ms, worst %.2f ms (%d PINGs)", median / 1000.0, worst / 1000.0, sorted.length);
        out.add(median > 10_000
                ? new Finding("latency", Severity.WARN, found + ": slow for a job queue", "run Redis closer to its clients, or find what blocks it (SLOWLOG GET)")
                : new Finding("latency", Severity.OK, found, ""));
        return out;
    }

    /** The checks that need INFO: memory headroom, version, role. */
    private static void checkServer(Map<String, String> info, Map<String, String> config, List<Finding> out) {
        // Memory headroom: a full Redis refuses writes (OOM); Spillway spools them, but that is not a way to run.
        long used = parseLong(info.get("used_memory"), 0);
        long max = parseLong(info.get("maxmemory"), parseLong(config.get("maxmemory"), 0));
        if (max <= 0) {
            out.add(new Finding("memory", Severity.WARN, "no maxmemory set (using " + mb(used)
                    + "): Redis grows until the operating system kills it", "set maxmemory to about 75% of the RAM Redis may use"));
        } else {
            double ratio = (double) used / max;
            String found = String.format("%s of %s used (%.0f%%)", mb(used), mb(max), ratio * 100);
            // As Redis decides: the replication and AOF buffers do not count against maxmemory.
            long counted = used - Math.max(0, parseLong(info.get("mem_not_counted_for_evict"), 0));
            String policy = info.getOrDefault("maxmemory_policy", config.get("maxmemory-policy"));
            if (counted >= max && (policy == null || "noeviction".equals(policy))) {
                // A state, not a setting that loses jobs: producers spool, workers drain; a warning, as MISCONF is.
                out.add(new Finding("memory", Severity.WARN, found + ": at the limit: Redis is refusing writes now (OOM),"
                        + " so producers spool new jobs to their journals and workers drain the queues",
                        "raise maxmemory (CONFIG SET maxmemory, and in redis.conf), or let workers drain the queues"
                                + " (spillway status); watch the producers' spillway.journal.backlog.jobs"));
            } else if (counted >= max) {
                // The eviction finding already says this loses jobs; here, that it is happening now.
                out.add(new Finding("memory", Severity.WARN, found + ": at the limit: Redis is evicting keys now"
                        + " (maxmemory-policy " + policy + "), jobs among them, or refusing writes (OOM) where it has"
                        + " none left to evict", "raise maxmemory, and set"
                        + " maxmemory-policy noeviction"));
            } else if (ratio >= 0.9) {
                out.add(new Finding("memory", Severity.WARN, found + ": near the limit, where Redis refuses new jobs (OOM)"
                        + " and producers spool to disk", "raise maxmemory, or drain queues (spillway status)"));
            } else if (ratio >= 0.75) {
                out.add(new Finding("memory", Severity.WARN, found, "raise maxmemory before it fills"));
            } else {
                out.add(new Finding("memory", Severity.OK, found, ""));
            }
        }

        // Version: Spillway uses streams with XAUTOCLAIM (6.2) and exclusive XRANGE bounds (6.2).
        String version = info.getOrDefault("redis_version", "0");
        if (compareVersions(version, "6.2.0") >= 0) {
            out.add(new Finding("version", Severity.OK, "Redis " + version, ""));
        } else {
            out.add(new Finding("version", Severity.LOSES_JOBS, "Redis " + version
                    + ": Spillway needs 6.2 or later (XAUTOCLAIM reclaims the jobs of dead workers)", "upgrade Redis to 6.2 or later"));
        }

        String role = info.getOrDefault("role", "master");
        if (!role.equals("master")) {
            out.add(new Finding("role", Severity.WARN, "this Redis is a " + role + ": it refuses writes",
                    "point producers and workers at the master, or at its sentinels (redis-sentinel://)"));
        }
    }

    /**
     * "could not check appendfsync: CONFIG not allowed (NOPERM); check it by hand". {@code alsoInfo}: the setting is
     * read from INFO first, so INFO's reason is given too.
     */
    static String cannotRead(String setting, Map<String, String> unreadable, boolean alsoInfo) {
        List<String> why = new ArrayList<>();
        if (alsoInfo && unreadable.containsKey(INFO)) {
            why.add(unreadable.get(INFO));
        }
        why.add(unreadable.getOrDefault(setting, "CONFIG GET did not report it"));
        return "could not check " + setting + ": " + String.join(", ", why) + "; check it by hand";
    }

    /** "INFO denied (NOPERM)" for an ACL refusal, else "INFO failed (ERR unknown command ...)" (CONFIG: {@link Failures#configRefusal}). */
    static String refusal(String command, JedisDataException e) {
        String message = SpillwayCli.oneLine(e.getMessage());
        return message.startsWith("NOPERM") ? command + " denied (NOPERM)" : command + " failed (" + message + ")";
    }

    private static long parseLong(String s, long fallback) {
        try {
            return s == null ? fallback : Long.parseLong(s.trim());
        } catch (NumberFormatException e) {
            return fallback;
        }
    }

    private static String mb(long bytes) {
        return String.format("%.1f MB", bytes / 1_048_576.0);
    }

    static int compareVersions(String a, String b) {
        String[] x = a.split("\\.");
        String[] y = b.split("\\.");
        for (int i = 0; i < Math.max(x.length, y.length); i++) {
            int xi = i < x.length ? (int) parseLong(x[i].replaceAll("\\D.*", ""), 0) : 0;
            int yi = i < y.length ? (int) parseLong(y[i].replaceAll("\\D.*", ""), 0) : 0;
            if (xi != yi) {
                return Integer.compare(xi, yi);
            }
        }
        return 0;
    }
}
