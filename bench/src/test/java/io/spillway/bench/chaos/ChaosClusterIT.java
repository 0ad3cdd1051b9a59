package io.spillway.bench.chaos;


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
// First pass only, to keep CI under 30 minutes: on Redis 7.0 a failover to a replica (scripts replicated as effects) is
// covered by SentinelFailoverIT, and the cluster's routing by SlotRoutedPipelineIT.
@org.junit.jupiter.api.Tag("first-pass-only")
class ChaosClusterIT {

    @Test
    void noAcceptedJobIsLostThroughOneFaultOfEveryClusterKind() throws Exception {
        ChaosCheck.noneLostNoneRefused("ChaosClusterIT", "cluster", "7071", 45, FaultKind.CLUSTER);
    }
}
