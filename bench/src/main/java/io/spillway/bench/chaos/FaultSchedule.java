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
 * so that every fault is followed by some normal operation.
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
     */
    record Fault(int index, FaultKind kind, long atMillis, long holdMillis, int target, long param) {
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

    Map<FaultKind, Integer> countsByKind() {
        Map<FaultKind, Integer> m = new EnumMap<>(FaultKind.class);
        for (Fault f : faults) {
            m.merge(f.kind(), 1, Integer::sum);
        }
        return m;
    }
}
