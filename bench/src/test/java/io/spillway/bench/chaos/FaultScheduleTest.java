package io.spillway.bench.chaos;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.EnumMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The overlapping faults of {@code --overlap on}: drawn from the seed, without changing the plan they go into. */
class FaultScheduleTest {

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
}
