package io.spillway.bench.chaos;

import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * One scenario's settings. Presets ({@code small}, {@code medium}, {@code large}, {@code nopersist},
 * {@code nopersist-wa}, {@code cluster}, {@code sentinel}) give
 * every value; any command-line option overrides its preset's value.
 *
 * @param name scenario name (for the table)
 * @param seed the fault schedule's seed
 * @param jobs jobs in all, split evenly between producers
 * @param producers producer JVMs
 * @param workers worker JVMs
 * @param faultCounts how many faults of each kind
 * @param phaseMillis length of the fault phase; producers spread their jobs over it
 * @param persistence true: AOF everysec; false: no AOF, no RDB (a restarted Redis is empty)
 * @param writeAhead the producers run in the write-ahead mode ({@code JobProducer.Builder.writeAhead}): then no job
 *     may be lost even without persistence
 * @param cluster against a Redis Cluster ({@code ChaosRun.CLUSTER_MASTERS} masters, one replica each, AOF everysec,
 *     several queues spread over the masters, no proxy) instead of one redis-server behind the proxy
 * @param sentinel against a Sentinel deployment ({@code ChaosRun.SENTINEL_REPLICAS} replicas of one master,
 *     {@code ChaosRun.SENTINELS} sentinels, AOF everysec everywhere, a {@code redis-sentinel://} URI naming a proxy in
 *     front of each sentinel, the servers reached directly) instead
 *     of one redis-server behind the proxy
 * @param overlap every Redis or network fault with a hold gets a producer or worker fault inside it
 *     ({@link FaultSchedule.Companion})
 * @param nested every Redis or network fault with a hold gets a second Redis fault inside it
 *     ({@link FaultSchedule.Inner}), standalone only; {@link FaultKind#REDIS_DISK_FULL} joins the preset's kinds
 * @param cancelEvery 0, or: each producer cancels a job after every this many single enqueues
 *     ({@link ChaosProducerMain}); a job whose cancel answered CANCELLED must never be handled after that answer
 * @param concurrency handler threads per worker
 * @param workMillis each job's simulated work in the handler
 * @param leaseMillis the workers' lease
 * @param drainTimeoutMillis how long to wait, after the last fault, for every accepted job to be handled
 * @param dir run directory (record files, logs, Redis data, result)
 */
record ChaosOptions(String name, long seed, long jobs, int producers, int workers, Map<FaultKind, Integer> faultCounts,
                    long phaseMillis, boolean persistence, boolean writeAhead, boolean cluster, boolean sentinel,
                    boolean overlap, boolean nested, int cancelEvery, int concurrency,
                    long workMillis, long leaseMillis, long drainTimeoutMillis, Path dir) {

    static final Set<String> FLAGS = Set.of("help");
    static final Set<String> NAMES = Set.of("scenario", "seed", "jobs", "producers", "workers", "faults",
            "faults-per-kind", "kinds", "duration", "persistence", "write-ahead", "overlap", "nested", "pause", "cancel-every", "concurrency", "work-ms", "lease-ms",
            "drain-timeout", "dir");

    static final String USAGE = """
            Usage: ChaosMain [--scenario small|medium|large|nopersist|nopersist-wa|cluster|sentinel[,more]] [options]
              --seed N               fault schedule seed (default: random, printed)
              --jobs N               jobs in all, split between producers
              --producers P          producer JVMs            --workers W         worker JVMs
              --faults N             N faults, kinds mixed evenly (seeded)
              --faults-per-kind K    K faults of every kind (overrides --faults)
              --kinds a,b,...        restrict to these kinds: %s
                                     (cluster: redis-kill, redis-failover, redis-hang, client-kill and the
                                     worker and producer kinds; sentinel: those and sentinel-failover,
                                     sentinel-silent-failover, replica-kill, sentinel-kill;
                                     redis-failover needs a cluster or sentinel, the other four sentinel)
              --duration S           fault phase in seconds (jobs are spread over it)
              --persistence aof|none Redis AOF everysec, or no persistence at all (cluster, sentinel: aof only)
              --write-ahead on|off   producers in the write-ahead mode (nopersist-wa: on)
              --overlap on|off       on: inside every Redis or network fault that is held, a producer or worker
                                     is also killed or stopped, and restarted before or after the heal (default off)
              --nested on|off        on: inside every Redis or network fault that is held, a second Redis fault
                                     is applied part-way and healed before or after the outer one. Standalone:
                                     redis-kill, client-kill, redis-oom, or proxy-cut inside a kill or restart;
                                     redis-disk-full is then among the kinds (needs root). Sentinel: the master
                                     just promoted killed, a replica or a sentinel killed, the master killed while
                                     a replica or a sentinel is down. Cluster: a second master killed or frozen,
                                     connections killed on every node (default off)
              --pause on|off         on: queue-pause faults too (every queue paused for 3-6 s, then resumed; any
                                     scenario, the nopersist ones with --faults-per-kind): no job of a paused queue
                                     may start from 1.5 s after the pause until the resume, and none may be lost
                                     (default off)
              --cancel-every N       after every N single enqueues each producer cancels a job (the one just
                                     accepted, or the one 20 before, in turn); no job whose cancel answered
                                     CANCELLED may be handled after that answer (default 0: none)
              --concurrency C        handler threads per worker  --work-ms MS   simulated work per job
              --lease-ms MS          worker lease               --drain-timeout S  wait for drain
              --dir PATH             run directory (default target/chaos/<scenario>-<seed>)
            """;

    static String usage() {
        return USAGE.formatted(String.join(",", Arrays.stream(FaultKind.values()).map(FaultKind::label).toList()));
    }

    /** The preset named {@code scenario} with {@code args} applied on top. */
    static ChaosOptions of(String scenario, Args a) {
        long seed = a.has("seed") ? a.getLong("seed", 0) : new SecureRandom().nextLong() >>> 16;
        List<FaultKind> kinds = new ArrayList<>(FaultKind.STANDALONE_PRESET);
        long jobs;
        int producers = 2;
        int workers = 2;
        int perKind;
        long phaseS;
        boolean persistence = true;
        boolean writeAhead = false;
        boolean cluster = false;
        boolean sentinel = false;
        int concurrency = 4;
        long workMs = 1;
        long drainS = 180;
        switch (scenario) {
            case "small" -> {
                jobs = 4_000;
                perKind = 1;
                phaseS = 50;
                drainS = 60;
            }
            case "medium" -> {
                jobs = 100_000;
                perKind = 4;
                phaseS = 300;
            }
            case "large" -> {
                jobs = 1_000_000;
                perKind = 30;
                phaseS = 2_400;
                drainS = 600;
            }
            case "nopersist", "nopersist-wa" -> {
                writeAhead = scenario.equals("nopersist-wa");
                jobs = 12_000;
                perKind = 0;
                kinds = List.of(FaultKind.REDIS_KILL);
                phaseS = 60;
                persistence = false;
                workers = 1;
                concurrency = 1;
                workMs = 5;
            }
            case "cluster" -> {
                // CI-sized: about two minutes, two faults of every kind that applies to a cluster.
                cluster = true;
                kinds = new ArrayList<>(FaultKind.CLUSTER);
                jobs = 6_000;
                perKind = 2;
                phaseS = 70;
                drainS = 90;
            }
            case "sentinel" -> {
                // CI-sized too: two faults of every kind that applies under Sentinel. Each Redis fault waits for the
                // group to be back at full strength, and a restarted or woken old master is demoted only some 8 s
                // after it answers again: the phase is longer than the cluster's so that jobs keep flowing meanwhile.
                sentinel = true;
                kinds = new ArrayList<>(FaultKind.SENTINEL);
                jobs = 6_000;
                perKind = 2;
                phaseS = 150;
                drainS = 90;
            }
            default -> throw new IllegalArgumentException("unknown scenario '" + scenario
                    + "'; known: small, medium, large, nopersist, nopersist-wa, cluster, sentinel");
        }
        boolean nested = onOff(a, "nested", false);
        if (nested && !a.has("kinds") && !scenario.startsWith("nopersist") && !cluster && !sentinel) {
            kinds = new ArrayList<>(FaultKind.STANDALONE);
        }
        if (a.has("kinds")) {
            kinds = Arrays.stream(a.get("kinds", "").split(",")).map(FaultKind::fromLabel).distinct().toList();
        }
        if (onOff(a, "pause", false) && !kinds.contains(FaultKind.QUEUE_PAUSE)) {
            kinds = new ArrayList<>(kinds);
            kinds.add(FaultKind.QUEUE_PAUSE);
        }
        for (FaultKind k : kinds) {
            if (k == FaultKind.QUEUE_PAUSE) {
                continue; // every topology
            }
            if (cluster && !FaultKind.CLUSTER.contains(k)) {
                throw new IllegalArgumentException("fault kind " + k.label() + " does not apply to scenario cluster"
                        + " (no proxy in front of a cluster); known there: "
                        + FaultKind.CLUSTER.stream().map(FaultKind::label).collect(Collectors.joining(", ")));
            }
            if (sentinel && !FaultKind.SENTINEL.contains(k)) {
                throw new IllegalArgumentException("fault kind " + k.label() + " does not apply to scenario sentinel"
                        + " (the servers are reached without a proxy); known there: "
                        + FaultKind.SENTINEL.stream().map(FaultKind::label).collect(Collectors.joining(", ")));
            }
            if (!cluster && !sentinel && !FaultKind.STANDALONE.contains(k)) {
                throw new IllegalArgumentException("fault kind " + k.label() + " needs replicas"
                        + (k == FaultKind.REDIS_FAILOVER ? " to take over: only in scenarios cluster and sentinel"
                        : " and sentinels: only in scenario sentinel") + ", not in " + scenario);
            }
        }
        Map<FaultKind, Integer> counts = new EnumMap<>(FaultKind.class);
        if (scenario.startsWith("nopersist") && !a.has("faults") && !a.has("faults-per-kind")) {
            counts.put(FaultKind.REDIS_KILL, 3);
        } else if (a.has("faults-per-kind") || !a.has("faults")) {
            int k = a.getInt("faults-per-kind", perKind);
            for (FaultKind kind : kinds) {
                counts.put(kind, k);
            }
        } else {
            int n = a.getInt("faults", 0);
            List<FaultKind> order = new ArrayList<>(kinds);
            Collections.shuffle(order, new Random(seed ^ 0x5DEECE66DL));
            for (int i = 0; i < n; i++) {
                counts.merge(order.get(i % order.size()), 1, Integer::sum);
            }
        }
        if (a.has("persistence")) {
            String p = a.get("persistence", "aof");
            if (!p.equals("aof") && !p.equals("none")) {
                throw new IllegalArgumentException("--persistence must be aof or none, but was '" + p + "'");
            }
            persistence = p.equals("aof");
            if ((cluster || sentinel) && !persistence) {
                throw new IllegalArgumentException("scenario " + scenario
                        + " runs with AOF only, but --persistence was none");
            }
        }
        writeAhead = onOff(a, "write-ahead", writeAhead);
        boolean overlap = onOff(a, "overlap", false);
        int cancelEvery = a.getInt("cancel-every", 0);
        if (cancelEvery < 0) {
            throw new IllegalArgumentException("--cancel-every must be >= 0, but was " + cancelEvery);
        }
        jobs = a.getLong("jobs", jobs);
        producers = a.getInt("producers", producers);
        workers = a.getInt("workers", workers);
        if (jobs < 1 || producers < 1 || workers < 1) {
            throw new IllegalArgumentException("jobs, producers and workers must be >= 1, but were " + jobs + ", "
                    + producers + ", " + workers);
        }
        Path dir = Path.of(a.get("dir", Path.of("target", "chaos", scenario + "-" + seed).toString()));
        if (a.has("dir") && a.get("scenario", "").contains(",")) {
            dir = dir.resolve(scenario);
        }
        return new ChaosOptions(scenario, seed, jobs, producers, workers, counts,
                a.getLong("duration", phaseS) * 1000, persistence, writeAhead, cluster, sentinel,
                overlap, nested, cancelEvery, a.getInt("concurrency", concurrency),
                a.getLong("work-ms", workMs), a.getLong("lease-ms", 5_000), a.getLong("drain-timeout", drainS) * 1000,
                dir.toAbsolutePath());
    }

    /** The value of an on|off option, {@code otherwise} when it is not given. */
    private static boolean onOff(Args a, String name, boolean otherwise) {
        if (!a.has(name)) {
            return otherwise;
        }
        String v = a.get(name, "off");
        if (!v.equals("on") && !v.equals("off")) {
            throw new IllegalArgumentException("--" + name + " must be on or off, but was '" + v + "'");
        }
        return v.equals("on");
    }

    int faultTotal() {
        return faultCounts.values().stream().mapToInt(Integer::intValue).sum();
    }
}
