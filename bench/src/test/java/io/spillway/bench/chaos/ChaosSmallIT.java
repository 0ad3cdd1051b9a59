package io.spillway.bench.chaos;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The CI-sized chaos scenario: a real redis-server (AOF everysec) behind a chaos proxy, 2 producer JVMs,
 * 2 worker JVMs, 4,000 jobs and one fault of every kind (13) on a seeded schedule. Fails on any lost job.
 *
 * <p>The seed is fixed so that CI is reproducible; {@code -Dchaos.seed=N} runs another schedule. The run
 * directory ({@code bench/target/chaos/ChaosSmallIT-<seed>}: record files, every child's output, Redis
 * log, {@code faults.log}, {@code lost.txt}) is kept as evidence.
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class ChaosSmallIT {

    @Test
    @Tag(ChaosCheck.FIRST_PASS_ONLY)
    void noAcceptedJobIsLostThroughOneFaultOfEveryKind() throws Exception {
        ChaosCheck.noneLost("ChaosSmallIT", "small", "6061", 45, FaultKind.STANDALONE_PRESET);
    }

    @Test
    @Tag(ChaosCheck.FIRST_PASS_ONLY)
    void noJobOfAPausedQueueStartsAndNoneIsLost() throws Exception {
        // A pause with a worker or producer killed or stopped inside it (--overlap on: a worker started while the queue
        // is paused must read the pause before its first fetch), then a worker kill and a Redis kill.
        ChaosCheck.noneLost("ChaosPauseIT", "small", "6062", 30,
                Set.of(FaultKind.QUEUE_PAUSE, FaultKind.WORKER_KILL, FaultKind.REDIS_KILL),
                "--kinds", "queue-pause,worker-kill,redis-kill", "--overlap", "on");
    }

    @Test
    void theScheduleIsReproducibleFromItsSeed() {
        var counts = new java.util.EnumMap<FaultKind, Integer>(FaultKind.class);
        for (FaultKind k : FaultKind.values()) {
            counts.put(k, 2);
        }
        FaultSchedule a = FaultSchedule.plan(42, counts, 120_000, 2, 3);
        FaultSchedule b = FaultSchedule.plan(42, counts, 120_000, 2, 3);
        FaultSchedule c = FaultSchedule.plan(43, counts, 120_000, 2, 3);
        assertThat(a).isEqualTo(b);
        assertThat(a.faults()).isNotEqualTo(c.faults());
        assertThat(a.countsByKind()).isEqualTo(counts);
        assertThat(Set.copyOf(a.faults().stream().map(FaultSchedule.Fault::kind).toList()))
                .containsExactlyInAnyOrder(FaultKind.values());
        for (int i = 1; i < a.faults().size(); i++) {
            FaultSchedule.Fault prev = a.faults().get(i - 1);
            assertThat(a.faults().get(i).atMillis()).as("faults never overlap")
                    .isGreaterThanOrEqualTo(prev.atMillis() + prev.holdMillis() + 1_000);
        }
    }
}
