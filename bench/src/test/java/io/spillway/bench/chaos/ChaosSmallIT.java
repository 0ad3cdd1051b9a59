package io.spillway.bench.chaos;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.TimeUnit;
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
    void noAcceptedJobIsLostThroughOneFaultOfEveryKind() throws Exception {
        String seed = System.getProperty("chaos.seed", "6061");
        Path dir = Path.of("target", "chaos", "ChaosSmallIT-" + seed).toAbsolutePath();
        deleteRecursively(dir); // the previous run's evidence: record files are appended to
        ChaosOptions options = ChaosOptions.of("small", Args.parse(
                new String[] {"--seed", seed, "--jobs", "4000", "--faults-per-kind", "1", "--duration", "45",
                        "--drain-timeout", "60", "--dir", dir.toString()},
                ChaosOptions.FLAGS, ChaosOptions.NAMES));

        ChaosResult result = new ChaosRun(options, System.out).run();

        System.out.println(result.table());
        assertThat(result.accepted()).as("jobs accepted").isGreaterThan(3_000);
        assertThat(result.faults().values().stream().mapToInt(Integer::intValue).sum()).as("faults injected")
                .isEqualTo(FaultKind.STANDALONE.size());
        assertThat(result.lost())
                .as("accepted jobs never handled (seed %s, evidence in %s):%n%s", seed, dir, result.table())
                .isZero();
    }

    static void deleteRecursively(Path dir) throws java.io.IOException {
        if (java.nio.file.Files.exists(dir)) {
            try (var paths = java.nio.file.Files.walk(dir)) {
                paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
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
