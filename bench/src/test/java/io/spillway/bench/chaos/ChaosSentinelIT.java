package io.spillway.bench.chaos;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The CI-sized chaos scenario under Redis Sentinel: a master with 2 replicas and 3 sentinels (AOF everysec everywhere),
 * 2 producer JVMs and 2 worker JVMs on a {@code redis-sentinel://} URI, and one fault of every Sentinel kind on a seeded
 * schedule (the master killed and restarted, the master killed until a replica is promoted and then restarted to be
 * demoted, a manual {@code SENTINEL FAILOVER}, the master hung until it is failed over and then woken, CLIENT KILL on
 * the master, a replica and a sentinel killed and restarted, worker and producer kills and restarts). Fails on any lost
 * job, and on any batch the producers had to refuse, as {@link ChaosClusterIT} does.
 *
 * <p>{@code -Dchaos.seed=N} runs another schedule; the run directory
 * ({@code bench/target/chaos/ChaosSentinelIT-<seed>}) keeps the evidence, each server's and sentinel's log, rewritten
 * config and AOF included.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class ChaosSentinelIT {

    @Test
    void noAcceptedJobIsLostThroughOneFaultOfEverySentinelKind() throws Exception {
        String seed = System.getProperty("chaos.seed", "8081");
        Path dir = Path.of("target", "chaos", "ChaosSentinelIT-" + seed).toAbsolutePath();
        ChaosSmallIT.deleteRecursively(dir); // the previous run's evidence: record files are appended to
        ChaosOptions options = ChaosOptions.of("sentinel", Args.parse(
                new String[] {"--seed", seed, "--jobs", "4000", "--faults-per-kind", "1", "--duration", "75",
                        "--drain-timeout", "60", "--dir", dir.toString()},
                ChaosOptions.FLAGS, ChaosOptions.NAMES));

        ChaosResult result = new ChaosRun(options, System.out).run();

        System.out.println(result.table());
        assertThat(result.accepted()).as("jobs accepted").isGreaterThan(3_000);
        assertThat(result.faults().values().stream().mapToInt(Integer::intValue).sum()).as("faults injected")
                .isEqualTo(FaultKind.SENTINEL.size());
        assertThat(result.lost())
                .as("accepted jobs never handled (seed %s, evidence in %s):%n%s", seed, dir, result.table())
                .isZero();
        assertThat(result.rejected()).as("batches refused instead of spooled (seed %s):%n%s", seed, result.table()).isZero();
    }
}
