package io.spillway.bench.chaos;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The overlapping faults of {@code --overlap on}: drawn from the seed, without changing the plan they go into. */
class FaultScheduleTest {
    private static final FaultSchedule.Topology STANDALONE = FaultSchedule.Topology.STANDALONE;

    private static Map<FaultKind, Integer> twoOfEach() {
        Map<FaultKind, Integer> counts = new EnumMap<>(FaultKind.class);
        for (FaultKind k : FaultKind.values()) {
            counts.put(k, 2);
        }
        return counts;
    }

    @Test
    void everyHeldRedisOrNetworkFaultGetsAProducerOrWorkerFaultInside() {
        FaultSchedule plain = FaultSchedule.plan(42, twoOfEach(), 120_000, 2, 3);
        FaultSchedule overlapping = plain.withCompanions(2, 3);

        assertThat(overlapping).isEqualTo(plain.withCompanions(2, 3));
        assertThat(overlapping.faults()).hasSameSizeAs(plain.faults());
        for (int i = 0; i < plain.faults().size(); i++) {
            FaultSchedule.Fault f = overlapping.faults().get(i);
            assertThat(f.withCompanion(null)).as("the plan itself is unchanged").isEqualTo(plain.faults().get(i));
            boolean held = !f.kind().hitsChild() && f.kind().maxHoldMs > 0
                    && f.kind() != FaultKind.SENTINEL_SILENT_FAILOVER;
            if (!held) {
                assertThat(f.companion()).as("%s", f).isNull();
                continue;
            }
            FaultSchedule.Companion c = f.companion();
            assertThat(c).as("%s", f).isNotNull();
            assertThat(c.kind().hitsChild()).isTrue();
            boolean worker = c.kind() == FaultKind.WORKER_KILL || c.kind() == FaultKind.WORKER_RESTART;
            assertThat(c.target()).isBetween(0, worker ? 2 : 1);
            assertThat(c.killAt()).isBetween(0.1, 0.6);
            assertThat(c.relaunchAt()).satisfiesAnyOf(
                    r -> assertThat(r).isEqualTo(1.0),
                    r -> assertThat(r).isGreaterThanOrEqualTo(c.killAt()).isLessThan(0.95));
        }
        assertThat(overlapping.companionCount()).isEqualTo(overlapping.faults().stream()
                .filter(f -> !f.kind().hitsChild() && f.kind().maxHoldMs > 0).count());
        assertThat(overlapping.faults().stream().map(FaultSchedule.Fault::companion)
                .filter(c -> c != null).map(FaultSchedule.Companion::backBeforeHeal).distinct())
                .as("some come back while the fault holds, some after it healed").containsExactlyInAnyOrder(true, false);
        assertThat(plain.companionCount()).isZero();
    }

    @Test
    void everyHeldRedisOrNetworkFaultGetsASecondRedisFaultInsideThatItsKindAllows() {
        Map<FaultKind, Integer> counts = new EnumMap<>(FaultKind.class);
        for (FaultKind k : FaultKind.STANDALONE) {
            counts.put(k, 3);
        }
        FaultSchedule plain = FaultSchedule.plan(7, counts, 200_000, 2, 2).withCompanions(2, 2);
        FaultSchedule nested = plain.withInner(STANDALONE);

        assertThat(nested).isEqualTo(plain.withInner(STANDALONE));
        assertThat(nested.faults()).hasSameSizeAs(plain.faults());
        assertThat(nested.innerCount()).isPositive();
        for (int i = 0; i < plain.faults().size(); i++) {
            FaultSchedule.Fault f = nested.faults().get(i);
            assertThat(f.withInner(null)).as("the plan and its companions are unchanged").isEqualTo(plain.faults().get(i));
            FaultSchedule.Inner n = f.inner();
            if (FaultSchedule.Inner.within(f.kind(), STANDALONE).isEmpty() || f.kind().maxHoldMs == 0) {
                assertThat(n).as("%s", f).isNull();
                continue;
            }
            assertThat(n).as("%s", f).isNotNull();
            assertThat(FaultSchedule.Inner.within(f.kind(), STANDALONE)).contains(n.kind());
            assertThat(n.at()).isBetween(0.1, 0.6);
            if (n.kind() == FaultKind.CLIENT_KILL) {
                assertThat(n.healAt()).as("instant").isEqualTo(n.at());
            } else if (n.kind() == FaultKind.REDIS_KILL && f.kind() == FaultKind.REDIS_DISK_FULL) {
                assertThat(n.healsBeforeOuter()).as("restarted only once the disk has room").isFalse();
            } else if (n.healsBeforeOuter()) {
                assertThat(n.healAt()).isBetween(n.at(), 0.95);
            }
        }
        assertThat(FaultSchedule.Inner.within(FaultKind.REDIS_HANG, STANDALONE)).as("a frozen Redis takes no command")
                .containsExactly(FaultKind.REDIS_KILL);
        assertThat(FaultSchedule.Inner.within(FaultKind.CLIENT_KILL, STANDALONE)).isEmpty();
        assertThat(FaultSchedule.Inner.within(FaultKind.PRODUCER_KILL, STANDALONE)).isEmpty();
    }

    @Test
    void sentinelAndClusterFaultsGetASecondFaultOfTheirOwnTopologyInside() {
        for (FaultSchedule.Topology t : List.of(FaultSchedule.Topology.SENTINEL, FaultSchedule.Topology.CLUSTER)) {
            Set<FaultKind> kinds = t == FaultSchedule.Topology.SENTINEL ? FaultKind.SENTINEL : FaultKind.CLUSTER;
            Map<FaultKind, Integer> counts = new EnumMap<>(FaultKind.class);
            for (FaultKind k : kinds) {
                counts.put(k, 3);
            }
            FaultSchedule plain = FaultSchedule.plan(11, counts, 200_000, 2, 2,
                    t == FaultSchedule.Topology.CLUSTER ? 3 : 1);
            FaultSchedule nested = plain.withInner(t);

            assertThat(nested).isEqualTo(plain.withInner(t));
            assertThat(nested.innerCount()).as("%s", t).isPositive();
            for (int i = 0; i < plain.faults().size(); i++) {
                FaultSchedule.Fault f = nested.faults().get(i);
                assertThat(f.withInner(null)).isEqualTo(plain.faults().get(i));
                List<FaultKind> allowed = FaultSchedule.Inner.within(f.kind(), t);
                if (allowed.isEmpty() || f.kind().maxHoldMs == 0) {
                    assertThat(f.inner()).as("%s", f).isNull();
                    continue;
                }
                assertThat(allowed).as("%s: its own topology's kinds", t).isSubsetOf(kinds);
                assertThat(allowed).contains(f.inner().kind());
                assertThat(f.inner().target()).isNotNegative();
            }
        }
        assertThat(FaultSchedule.Inner.within(FaultKind.REDIS_FAILOVER, FaultSchedule.Topology.SENTINEL))
                .as("the master just promoted dies too").contains(FaultKind.REDIS_KILL);
        assertThat(FaultSchedule.Inner.within(FaultKind.REDIS_KILL, FaultSchedule.Topology.SENTINEL))
                .as("the named master may be the dead one: not killed again").doesNotContain(FaultKind.REDIS_KILL);
        assertThat(FaultSchedule.Inner.within(FaultKind.REDIS_HANG, FaultSchedule.Topology.CLUSTER))
                .contains(FaultKind.REDIS_KILL, FaultKind.REDIS_HANG);
        assertThat(FaultSchedule.Inner.within(FaultKind.WORKER_KILL, FaultSchedule.Topology.CLUSTER)).isEmpty();

        ChaosOptions sentinel = ChaosOptions.of("sentinel", Args.parse(new String[] {"--seed", "1", "--nested", "on"},
                ChaosOptions.FLAGS, ChaosOptions.NAMES));
        assertThat(sentinel.nested()).isTrue();
        assertThat(sentinel.faultCounts().keySet()).as("the scenario's own kinds").isSubsetOf(FaultKind.SENTINEL);
    }

    @Test
    void thePresetsNeedNoRootButNestedRunsAddTheFullDisk() {
        ChaosOptions small = ChaosOptions.of("small", Args.parse(new String[] {"--seed", "1"}, ChaosOptions.FLAGS, ChaosOptions.NAMES));
        assertThat(small.faultCounts()).doesNotContainKey(FaultKind.REDIS_DISK_FULL);
        ChaosOptions nested = ChaosOptions.of("small", Args.parse(new String[] {"--seed", "1", "--nested", "on"}, ChaosOptions.FLAGS, ChaosOptions.NAMES));
        assertThat(nested.nested()).isTrue();
        assertThat(nested.faultCounts()).containsEntry(FaultKind.REDIS_DISK_FULL, 1);
    }
}
