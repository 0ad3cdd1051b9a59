package io.spillway.bench.chaos;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The CI-sized chaos scenario on a Redis Cluster: 3 masters with a replica each (AOF everysec), 2 producer JVMs and
 * 2 worker JVMs on a {@code redis-cluster://} URI, queues on every master, and one fault of every cluster kind on a
 * seeded schedule (a master killed and restarted, a master killed until its replica takes over, a master hung,
 * CLIENT KILL on every node, worker and producer kills and restarts). Fails on any lost job, and on any batch the
 * producers had to refuse (a failure while a batch was in flight must spool it, never refuse jobs that may have
 * reached Redis).
 *
 * <p>{@code -Dchaos.seed=N} runs another schedule; the run directory ({@code bench/target/chaos/ChaosClusterIT-<seed>})
 * keeps the evidence, each node's log and AOF included.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class ChaosClusterIT {

    @Test
    void noAcceptedJobIsLostThroughOneFaultOfEveryClusterKind() throws Exception {
        String seed = System.getProperty("chaos.seed", "7071");
        Path dir = Path.of("target", "chaos", "ChaosClusterIT-" + seed).toAbsolutePath();
        ChaosSmallIT.deleteRecursively(dir); // the previous run's evidence: record files are appended to
        ChaosOptions options = ChaosOptions.of("cluster", Args.parse(
                new String[] {"--seed", seed, "--jobs", "4000", "--faults-per-kind", "1", "--duration", "45",
                        "--drain-timeout", "60", "--dir", dir.toString()},
                ChaosOptions.FLAGS, ChaosOptions.NAMES));

        ChaosResult result = new ChaosRun(options, System.out).run();

        System.out.println(result.table());
        assertThat(result.accepted()).as("jobs accepted").isGreaterThan(3_000);
        assertThat(result.faults().values().stream().mapToInt(Integer::intValue).sum()).as("faults injected")
                .isEqualTo(FaultKind.CLUSTER.size());
        assertThat(result.lost())
                .as("accepted jobs never handled (seed %s, evidence in %s):%n%s", seed, dir, result.table())
                .isZero();
        assertThat(result.rejected()).as("batches refused instead of spooled (seed %s):%n%s", seed, result.table()).isZero();
    }
}
