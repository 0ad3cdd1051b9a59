package io.spillway.bench.chaos;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/**
 * The CI-sized run of one chaos scenario and its verdict, shared by the chaos ITs: 4,000 jobs, one fault of every kind
 * of {@code kinds} on the schedule of a fixed seed ({@code -Dchaos.seed=N} runs another), and a failure on a single lost
 * job. The run directory ({@code bench/target/chaos/<test>-<seed>}: record files, every child's output, the servers'
 * logs, {@code faults.log}, {@code lost.txt}) is kept as evidence; the previous run's is deleted first, since record
 * files are appended to.
 */
final class ChaosCheck {
    /**
     * The JUnit tag of the chaos runs that {@code .ci/run}'s second pass (the same suite on Redis 7.0) leaves out to keep
     * CI under its time limit: they run in its first pass, and by hand on 7.0 (docs/reliability.md).
     */
    static final String FIRST_PASS_ONLY = "first-pass-only";

    private ChaosCheck() {
    }

    /** Runs {@code scenario} for {@code durationSeconds} of faults and checks that no accepted job was lost. */
    static ChaosResult noneLost(String test, String scenario, String defaultSeed, int durationSeconds, Set<FaultKind> kinds,
                                String... moreArgs) throws IOException {
        String seed = System.getProperty("chaos.seed", defaultSeed);
        Path dir = Path.of("target", "chaos", test + "-" + seed).toAbsolutePath();
        deleteRecursively(dir);
        List<String> args = new ArrayList<>(List.of("--seed", seed, "--jobs", "4000", "--faults-per-kind", "1", "--duration",
                Integer.toString(durationSeconds), "--drain-timeout", "60", "--dir", dir.toString()));
        args.addAll(List.of(moreArgs));
        ChaosOptions options = ChaosOptions.of(scenario, Args.parse(args.toArray(String[]::new),
                ChaosOptions.FLAGS, ChaosOptions.NAMES));

        ChaosResult result = new ChaosRun(options, System.out).run();

        System.out.println(result.table());
        assertThat(result.accepted()).as("jobs accepted").isGreaterThan(3_000);
        assertThat(result.faults().values().stream().mapToInt(Integer::intValue).sum()).as("faults injected")
                .isEqualTo(kinds.size());
        assertThat(result.lost())
                .as("accepted jobs never handled (seed %s, evidence in %s):%n%s", seed, dir, result.table())
                .isZero();
        assertThat(result.handledWhilePaused())
                .as("jobs started while their queue was paused (seed %s, handled-while-paused.txt in %s):%n%s", seed, dir,
                        result.table())
                .isZero();
        return result;
    }

    /**
     * As {@link #noneLost}, and no batch refused either: a failure while a batch was in flight must spool it, never
     * refuse jobs that may have reached Redis.
     */
    static void noneLostNoneRefused(String test, String scenario, String defaultSeed, int durationSeconds,
                                    Set<FaultKind> kinds) throws IOException {
        ChaosResult result = noneLost(test, scenario, defaultSeed, durationSeconds, kinds);
        assertThat(result.rejected()).as("batches refused instead of spooled:%n%s", result.table()).isZero();
    }

    private static void deleteRecursively(Path dir) throws IOException {
        if (Files.exists(dir)) {
            try (Stream<Path> paths = Files.walk(dir)) {
                paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }
}
