package io.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.spillway.core.internal.ClusterTopology;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import redis.clients.jedis.HostAndPort;

/** How status and doctor word a Redis Cluster that is down, or has a master that does not answer. */
@Timeout(value = 10, unit = TimeUnit.SECONDS)
class ClusterDownWordingTest {
    private static final HostAndPort A = new HostAndPort("10.0.0.5", 6379);
    private static final HostAndPort B = new HostAndPort("10.0.0.6", 6379);

    @Test
    void queuesRefusedWithClusterdownAreNotSaidToHaveAnUnreachableMaster() {
        List<String> lines = StatusCommand.unavailableLines(List.of(
                new StatusCommand.UnavailableQueue("a", A.toString(), "CLUSTERDOWN The cluster is down"),
                new StatusCommand.UnavailableQueue("b", B.toString(), "CLUSTERDOWN The cluster is down"),
                new StatusCommand.UnavailableQueue("c", B.toString(), "connection refused")));
        assertThat(lines).containsExactly(
                "Queue c not read: its Redis Cluster master " + B + " cannot be reached (connection refused).",
                "Queues a, b not read: the Redis Cluster refuses commands (CLUSTERDOWN The cluster is down): "
                        + RedisOptions.CLUSTER_DOWN_FIX + ".");
    }

    @Test
    void theClusterFindingNamesTheMastersThatDoNotAnswerAndTheirSlots() {
        ClusterTopology.Master a = new ClusterTopology.Master(A, List.of(new ClusterTopology.SlotRange(0, 8191)), List.of());
        ClusterTopology.Master b = new ClusterTopology.Master(B, List.of(new ClusterTopology.SlotRange(8192, 16383)),
                List.of());
        ClusterTopology map = new ClusterTopology(B, "fail", List.of(a, b), Set.of(A, B));
        Map<ClusterTopology.Master, String> silent = new LinkedHashMap<>();
        silent.put(a, "connection refused");
        List<DoctorCommand.Finding> f = DoctorCommand.checkCluster(map, silent);
        assertThat(f).hasSize(1);
        assertThat(f.get(0).severity()).isEqualTo(DoctorCommand.Severity.WARN);
        assertThat(f.get(0).found()).contains("cluster_state fail (as " + B + " sees it)",
                "master(s) that do not answer: " + A + " (slots 0-8191), 1 of 2 answer");

        DoctorCommand.Finding m = DoctorCommand.silentMaster(a, "connection refused", List.of());
        assertThat(m.found()).contains("could not check this master", "(connection refused)", "8192 slot(s) 0-8191");
        assertThat(DoctorCommand.summary(List.of(f.get(0), m), List.of())).startsWith("Nothing found that loses jobs, but");

        ClusterTopology ok = new ClusterTopology(B, "ok", List.of(a, b), Set.of(A, B));
        assertThat(DoctorCommand.checkCluster(ok, silent).get(0).found()).startsWith("cluster_state ok (as " + B
                + " sees it); master(s) that do not answer: " + A);
        assertThat(DoctorCommand.checkCluster(ok, Map.of()).get(0).severity()).isEqualTo(DoctorCommand.Severity.OK);
    }
}
