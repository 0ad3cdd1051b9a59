package io.spillway.bench.chaos;


import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The CI-sized chaos scenario under Redis Sentinel: a master with 2 replicas and 3 sentinels (AOF everysec everywhere),
 * 2 producer JVMs and 2 worker JVMs on a {@code redis-sentinel://} URI (through a proxy per sentinel), and one fault of every Sentinel kind on a seeded
 * schedule (the master killed and restarted, the master killed until a replica is promoted and then restarted to be
 * demoted, a manual {@code SENTINEL FAILOVER}, the same after every connection to the sentinels was stalled (Jedis's
 * {@code +switch-master} subscriptions hear nothing), the master hung until it is failed over and then woken, CLIENT KILL on
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
    @Tag(ChaosCheck.FIRST_PASS_ONLY)
    void noAcceptedJobIsLostThroughOneFaultOfEverySentinelKind() throws Exception {
        ChaosCheck.noneLostNoneRefused("ChaosSentinelIT", "sentinel", "8081", 75, FaultKind.SENTINEL);
    }
}
