package io.spillway.bench.chaos;

import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * The seeded plan of a run: which faults, in what order, when (as offsets from the start of the fault
 * phase), how long each is held, which producer or worker it hits, and its parameter (the proxy delay).
 * The same seed and options give the same plan; the processes' own timing is of course not replayed.
 *
 * <p>Faults never overlap: each starts after the previous one has healed and a seeded gap has passed,
 * so that every fault is followed by some normal operation. The exceptions are a fault's {@link Companion}
 * (option {@code --overlap on}): a producer or worker JVM killed or stopped while a Redis or network fault is held, and
 * its {@link Inner} fault (option {@code --nested on}): a second Redis fault inside it.
 */
record FaultSchedule(long seed, List<Fault> faults, long phaseMillis) {

    /**
     * One planned fault.
     *
     * @param index 1-based position in the schedule
     * @param kind what to do
     * @param atMillis planned start, from the start of the fault phase
     * @param holdMillis how long to keep it before healing
     * @param target which producer or worker (slot number), or for a Redis fault against a cluster which master (the
     *     index of its slot range: 0 serves the lowest slots), or under Sentinel which replica ({@link FaultKind#REPLICA_KILL}:
     *     the index among the servers that are replicas at that moment, in start order, of
     *     {@value ChaosRun#SENTINEL_REPLICAS}) or which sentinel ({@link FaultKind#SENTINEL_KILL}, of
     *     {@value ChaosRun#SENTINELS}); else 0
     * @param param the proxy delay per chunk in ms for {@link FaultKind#PROXY_SLOW}, else 0
     * @param companion a producer or worker fault held inside this one ({@code --overlap on}), or null
     * @param inner a second Redis fault held inside this one ({@code --nested on}), or null
     */
    record Fault(int index, FaultKind kind, long atMillis, long holdMillis, int target, long param, Companion companion,
                 Inner inner) {

        Fault(int index, FaultKind kind, long atMillis, long holdMillis, int target, long param) {
            this(index, kind, atMillis, holdMillis, target, param, null, null);
        }

        Fault withCompanion(Companion c) {
            return new Fault(index, kind, atMillis, holdMillis, target, param, c, inner);
        }

        Fault withInner(Inner n) {
            return new Fault(index, kind, atMillis, holdMillis, target, param, companion, n);
        }
    }

    /** Where the faults land: one redis-server behind a proxy, a Sentinel group, or a Redis Cluster. */
    enum Topology {
        STANDALONE, SENTINEL, CLUSTER
    }

    /**
     * A second Redis fault inside a Redis or network fault ({@code --nested on}): applied at {@code at} of the outer
     * fault's hold and healed at {@code healAt} of it, or, with {@code healAt} of 1 or more, only once the outer fault
     * has healed. So a standalone Redis is SIGKILLed while frozen, full or cut off, a restarted Redis comes back behind a
     * network still cut, memory fills up while the disk is full; under Sentinel the master just promoted dies too, or
     * its last replica, or the master dies while a replica or a sentinel is down; in a cluster a second master dies or
     * freezes while the first is down, frozen or failed over.
     *
     * @param kind standalone: {@link FaultKind#REDIS_KILL} (healed by a restart on its data dir), {@link
     *     FaultKind#CLIENT_KILL} (instant), {@link FaultKind#REDIS_OOM} (maxmemory below the memory in use) or {@link
     *     FaultKind#PROXY_CUT}; Sentinel: {@link FaultKind#REDIS_KILL} or {@link FaultKind#CLIENT_KILL} of the master the
     *     sentinels name at that moment, {@link FaultKind#REPLICA_KILL} of a live replica, {@link
     *     FaultKind#SENTINEL_KILL}; cluster: {@link FaultKind#REDIS_KILL} or {@link FaultKind#REDIS_HANG} of another
     *     master than the outer fault's, {@link FaultKind#CLIENT_KILL} on every node
     * @param at when, as a fraction of the outer hold (0-1)
     * @param healAt when it heals, as a fraction of the outer hold; 1 or more: after the outer heal
     * @param target Sentinel: which sentinel, or which live replica (modulo their number); cluster: which other master
     *     (modulo the others' number); standalone: unused
     */
    record Inner(FaultKind kind, double at, double healAt, int target) {

        boolean healsBeforeOuter() {
            return healAt < 1;
        }

        String label() {
            return kind.label() + " at " + Math.round(at * 100) + " % of the hold" + (kind == FaultKind.CLIENT_KILL ? ""
                    : ", healed " + (healsBeforeOuter() ? "at " + Math.round(healAt * 100) + " % of it" : "after the outer heal"));
        }

        /** The inner kinds that make sense inside {@code outer} (none inside a client kill or a child fault). */
        static List<FaultKind> within(FaultKind outer, Topology topology) {
            return switch (topology) {
                case STANDALONE -> switch (outer) {
                    // A frozen Redis cannot run CLIENT KILL or CONFIG SET; SIGKILL works on it.
                    case REDIS_HANG -> List.of(FaultKind.REDIS_KILL);
                    case REDIS_OOM -> List.of(FaultKind.REDIS_KILL, FaultKind.CLIENT_KILL);
                    case REDIS_DISK_FULL -> List.of(FaultKind.REDIS_KILL, FaultKind.CLIENT_KILL, FaultKind.REDIS_OOM);
                    case PROXY_CUT, PROXY_BLACKHOLE, PROXY_SLOW, PROXY_MUTE -> List.of(FaultKind.REDIS_KILL,
                            FaultKind.CLIENT_KILL, FaultKind.REDIS_OOM);
                    // Redis is down: the network in front of it fails too, and it comes back behind it.
                    case REDIS_KILL, REDIS_RESTART -> List.of(FaultKind.PROXY_CUT);
                    default -> List.of();
                };
                case SENTINEL -> switch (outer) {
                    // The master is down, and may be failed over meanwhile: a replica (a candidate) or a sentinel (a
                    // vote) dies too.
                    case REDIS_KILL -> List.of(FaultKind.REPLICA_KILL, FaultKind.SENTINEL_KILL);
                    // A replica was just promoted (the old master dead, or frozen and still taking writes): the new
                    // master dies too (a second failover, to the last replica), drops its connections, or loses its
                    // last live replica.
                    case REDIS_FAILOVER, REDIS_HANG -> List.of(FaultKind.REDIS_KILL, FaultKind.CLIENT_KILL,
                            FaultKind.REPLICA_KILL);
                    // A replica or a sentinel is down: the master dies (a failover with one candidate less, or with
                    // two sentinels of three) or drops its connections.
                    case REPLICA_KILL, SENTINEL_KILL -> List.of(FaultKind.REDIS_KILL, FaultKind.CLIENT_KILL);
                    default -> List.of();
                };
                // One master is down, frozen or failed over: another one dies or freezes too (two slot ranges without
                // a master, two failovers at once), or every node drops its connections.
                case CLUSTER -> switch (outer) {
                    case REDIS_KILL, REDIS_FAILOVER, REDIS_HANG -> List.of(FaultKind.REDIS_KILL, FaultKind.REDIS_HANG,
                            FaultKind.CLIENT_KILL);
                    default -> List.of();
                };
            };
        }
    }

    /**
     * A producer or worker fault that overlaps a Redis or network fault: during the hold of that fault, at
     * {@code killAt} of it, the child is SIGKILLed ({@link FaultKind#PRODUCER_KILL}, {@link FaultKind#WORKER_KILL}) or
     * stopped with SIGTERM ({@link FaultKind#PRODUCER_RESTART}, {@link FaultKind#WORKER_RESTART}); it is started again
     * at {@code relaunchAt} of the hold, while the fault still holds, or, with {@code relaunchAt} of 1 or more, only
     * once the fault has healed. So a producer restarts on a journal it was spooling into while Redis is still away,
     * a worker dies holding leases it cannot renew and its successor starts with outcomes still unsent.
     *
     * @param kind one of the four producer and worker kinds
     * @param target which producer or worker
     * @param killAt when, as a fraction of the hold (0-1)
     * @param relaunchAt when the child starts again, as a fraction of the hold; 1 or more: after the heal
     */
    record Companion(FaultKind kind, int target, double killAt, double relaunchAt) {

        boolean backBeforeHeal() {
            return relaunchAt < 1;
        }

        String label() {
            return kind.label() + " of " + (kind == FaultKind.WORKER_KILL || kind == FaultKind.WORKER_RESTART
                    ? "worker-" : "producer-") + target + " at " + Math.round(killAt * 100) + " % of the hold, back "
                    + (backBeforeHeal() ? "at " + Math.round(relaunchAt * 100) + " % of it" : "after the heal");
        }
    }

    /**
     * Plans {@code counts.get(kind)} faults of each kind, shuffled, spread over {@code phaseMillis}: the time
     * not taken by holds is split into random gaps. If the holds alone take longer than the phase, the phase
     * grows (gaps of at least 1 s each).
     */
    static FaultSchedule plan(long seed, Map<FaultKind, Integer> counts, long phaseMillis, int producers, int workers) {
        return plan(seed, counts, phaseMillis, producers, workers, 1);
    }

    /**
     * As {@link #plan(long, Map, long, int, int)}, against {@code masters} Redis masters: each Redis fault also draws
     * which master it hits. With one master nothing more is drawn, so a standalone scenario's plan is the same as
     * before the cluster scenario existed.
     */
    static FaultSchedule plan(long seed, Map<FaultKind, Integer> counts, long phaseMillis, int producers, int workers,
                              int masters) {
        Random rnd = new Random(seed);
        List<FaultKind> kinds = new ArrayList<>();
        counts.forEach((k, n) -> {
            for (int i = 0; i < n; i++) {
                kinds.add(k);
            }
        });
        Collections.sort(kinds);
        Collections.shuffle(kinds, rnd);
        long[] holds = new long[kinds.size()];
        long holdSum = 0;
        for (int i = 0; i < holds.length; i++) {
            FaultKind k = kinds.get(i);
            holds[i] = k.minHoldMs + (k.maxHoldMs > k.minHoldMs ? (long) (rnd.nextDouble() * (k.maxHoldMs - k.minHoldMs)) : 0);
            holdSum += holds[i];
        }
        int gapsN = kinds.size() + 1;
        long minGap = 1_000;
        long phase = Math.max(phaseMillis, holdSum + gapsN * minGap);
        long slack = phase - holdSum - gapsN * minGap;
        double[] w = new double[gapsN];
        double wSum = 0;
        for (int i = 0; i < gapsN; i++) {
            w[i] = 0.2 + rnd.nextDouble();
            wSum += w[i];
        }
        List<Fault> faults = new ArrayList<>();
        long t = 0;
        for (int i = 0; i < kinds.size(); i++) {
            t += minGap + (long) (slack * w[i] / wSum);
            FaultKind k = kinds.get(i);
            int target = switch (k) {
                case WORKER_KILL, WORKER_RESTART -> rnd.nextInt(Math.max(1, workers));
                case PRODUCER_KILL, PRODUCER_RESTART -> rnd.nextInt(Math.max(1, producers));
                case REPLICA_KILL -> rnd.nextInt(ChaosRun.SENTINEL_REPLICAS);
                case SENTINEL_KILL -> rnd.nextInt(ChaosRun.SENTINELS);
                default -> k.hitsRedisNode() && masters > 1 ? rnd.nextInt(masters) : 0;
            };
            long param = k == FaultKind.PROXY_SLOW ? 20 + rnd.nextInt(181) : 0;
            faults.add(new Fault(i + 1, k, t, holds[i], target, param));
            t += holds[i];
        }
        return new FaultSchedule(seed, List.copyOf(faults), phase);
    }

    /**
     * This plan with a {@link Companion} drawn for every Redis or network fault that has a hold (not the instant
     * ones, nor the producer and worker kinds themselves), from a random of its own: the faults, their times and
     * targets stay those of the plan without companions.
     */
    FaultSchedule withCompanions(int producers, int workers) {
        Random rnd = new Random(seed ^ 0x6f7665726c6170L);
        List<FaultKind> childKinds = List.of(FaultKind.PRODUCER_KILL, FaultKind.PRODUCER_RESTART, FaultKind.WORKER_KILL,
                FaultKind.WORKER_RESTART);
        List<Fault> out = new ArrayList<>();
        for (Fault f : faults) {
            if (f.kind().hitsChild() || f.kind().maxHoldMs == 0) { // instant kinds (client kill, the sentinel failovers): no hold
                out.add(f);
                continue;
            }
            FaultKind k = childKinds.get(rnd.nextInt(childKinds.size()));
            boolean worker = k == FaultKind.WORKER_KILL || k == FaultKind.WORKER_RESTART;
            int target = rnd.nextInt(Math.max(1, worker ? workers : producers));
            double killAt = 0.1 + 0.5 * rnd.nextDouble();
            // Half of them come back while the fault still holds, half after it has healed.
            double relaunchAt = rnd.nextBoolean() ? killAt + (0.95 - killAt) * rnd.nextDouble() : 1;
            out.add(f.withCompanion(new Companion(k, target, killAt, relaunchAt)));
        }
        return new FaultSchedule(seed, List.copyOf(out), phaseMillis);
    }

    /**
     * This plan with an {@link Inner} fault drawn for every fault that has a hold and a kind {@link Inner#within} allows
     * on {@code topology}, from a random of its own: the faults, their times, targets and companions stay those of the
     * plan without them (and, on a standalone Redis, the inner faults those of the runs before Sentinel and cluster
     * had them). A Redis killed inside a full disk is restarted only once the disk has room (a Redis 7 may not
     * start on a full disk: it writes a new AOF file at start).
     */
    FaultSchedule withInner(Topology topology) {
        Random rnd = new Random(seed ^ 0x6e6573746564L);
        // The targets from a random of their own: the standalone draws stay those of the runs before targets existed.
        Random targets = new Random(seed ^ 0x746172676574L);
        List<Fault> out = new ArrayList<>();
        for (Fault f : faults) {
            List<FaultKind> kinds = Inner.within(f.kind(), topology);
            if (kinds.isEmpty() || f.kind().maxHoldMs == 0) {
                out.add(f);
                continue;
            }
            FaultKind k = kinds.get(rnd.nextInt(kinds.size()));
            double at = 0.1 + 0.5 * rnd.nextDouble();
            double healAt = rnd.nextBoolean() ? at + (0.95 - at) * rnd.nextDouble() : 1;
            if (k == FaultKind.CLIENT_KILL || (k == FaultKind.REDIS_KILL && f.kind() == FaultKind.REDIS_DISK_FULL)) {
                healAt = k == FaultKind.CLIENT_KILL ? at : 1;
            }
            out.add(f.withInner(new Inner(k, at, healAt, targets.nextInt(1 << 16))));
        }
        return new FaultSchedule(seed, List.copyOf(out), phaseMillis);
    }

    long innerCount() {
        return faults.stream().filter(f -> f.inner() != null).count();
    }

    long companionCount() {
        return faults.stream().filter(f -> f.companion() != null).count();
    }

    Map<FaultKind, Integer> countsByKind() {
        Map<FaultKind, Integer> m = new EnumMap<>(FaultKind.class);
        for (Fault f : faults) {
            m.merge(f.kind(), 1, Integer::sum);
        }
        return m;
    }
}
