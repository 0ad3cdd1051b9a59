package io.spillway.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.spillway.core.RedisConnection;
import java.net.InetSocketAddress;
import java.net.URI;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.util.JedisClusterCRC16;

/** The {@code redis-cluster://} URI and the pure parts of the cluster probe: no Redis needed. */
@Timeout(10)
class ClusterConnectionTest {

    @Test
    void clusterUrisAreParsed() {
        RedisConnection c = RedisConnection.of(URI.create("redis-cluster://app:s%40cret@n1:7000,n2,10.0.0.3:7002"));
        assertThat(c.cluster()).isTrue();
        assertThat(c.sentinel()).isFalse();
        assertThat(c.masterName()).isNull();
        assertThat(c.sentinels()).isEmpty();
        assertThat(c.clusterNodes()).containsExactly(InetSocketAddress.createUnresolved("n1", 7000),
                InetSocketAddress.createUnresolved("n2", 6379), InetSocketAddress.createUnresolved("10.0.0.3", 7002));
        assertThat(c.user()).isEqualTo("app");
        assertThat(c.password()).isEqualTo("s@cret");
        assertThat(c.database()).isZero();
        assertThat(c.host()).isEqualTo("n1");
        assertThat(c.port()).isEqualTo(7000);
        assertThat(c.ssl()).isFalse();
        assertThat(c.toString()).isEqualTo("redis-cluster://app@n1:7000,n2:6379,10.0.0.3:7002");
        assertThat(RedisConnection.of("redis-cluster://[::1]:7000,[::1]:7001").clusterNodes())
                .containsExactly(InetSocketAddress.createUnresolved("::1", 7000), InetSocketAddress.createUnresolved("::1", 7001));
        assertThat(RedisConnection.of(URI.create("redis://h")).cluster()).isFalse();
        assertThat(RedisConnection.of(URI.create("redis-sentinel://h#m")).cluster()).isFalse();
    }

    @Test
    void tlsAndTheBuilder() {
        RedisConnection tls = RedisConnection.of("rediss-cluster://n1:7000");
        assertThat(tls.ssl()).isTrue();
        assertThat(tls.toString()).isEqualTo("rediss-cluster://n1:7000");
        RedisConnection built = RedisConnection.clusterBuilder("127.0.0.1:7000", "127.0.0.1:7001").tls(true)
                .credentials(null, "pw").build();
        assertThat(built.cluster()).isTrue();
        assertThat(built.ssl()).isTrue();
        assertThat(built.uri().getScheme()).isEqualTo("rediss-cluster");
        assertThat(built.clusterNodes()).hasSize(2);
        assertThat(built.toString()).doesNotContain("pw");
        assertThatThrownBy(() -> RedisConnection.builder("redis-cluster://n1:7000").trustedCertificates(java.nio.file.Path.of("x"))
                .build()).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("rediss-cluster://");
    }

    @Test
    void badClusterInputIsRefusedNamingTheValue() {
        for (String[] bad : List.of(
                new String[] {"redis-cluster://n1:7000#m", "fragment"},
                new String[] {"redis-cluster://n1:7000/2", "database"},
                new String[] {"redis-cluster://", "at least one cluster node host"},
                new String[] {"redis-cluster://n1:99999", "port"},
                new String[] {"redis-cluster://n1,,n2", "cluster node"},
                new String[] {"redis-cluster://n1?timeout=1", "query"},
                new String[] {"redis-cluster://::1:7000", "IPv6 address must be in brackets"})) {
            assertThatThrownBy(() -> RedisConnection.of(bad[0]), bad[0])
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(bad[1]);
        }
        assertThatThrownBy(() -> RedisConnection.clusterBuilder()).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("cluster node");
        assertThatThrownBy(() -> RedisConnection.clusterBuilder("n1:7000", "a/b")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'a/b'");
        assertThatThrownBy(() -> RedisConnection.clusterBuilder("n1:7000").database(1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("database 0");
        assertThatThrownBy(() -> RedisConnection.clusterBuilder("n1:7000").sentinelCredentials(null, "x"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("redis-sentinel");
        assertThatThrownBy(() -> RedisConnection.of("redis-clusters://n1")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("redis-cluster://");
    }

    @Test
    void probeKeysLandInTheirSlotAndRunIdsCombineInSlotOrder() {
        for (int slot : new int[] {0, 1, 5460, 5461, 10922, 16383}) {
            assertThat(JedisClusterCRC16.getSlot(ClusterTopology.probeKey(slot))).isEqualTo(slot);
        }
        List<Object> slots = List.of(
                List.of(5461L, 10922L, List.of("127.0.0.1".getBytes(), 7001L, "b".getBytes())),
                List.of(0L, 5460L, List.of("127.0.0.1".getBytes(), 7000L, "a".getBytes()),
                        List.of("127.0.0.1".getBytes(), 7003L, "r".getBytes())),
                List.of(10923L, 16383L, List.of("".getBytes(), 7002L, "c".getBytes())));
        ClusterTopology t = ClusterTopology.parse(new HostAndPort("10.0.0.9", 7002), "ok", slots);
        assertThat(t.masters()).extracting(m -> m.address().toString() + "@" + m.firstSlot())
                .containsExactly("127.0.0.1:7000@0", "127.0.0.1:7001@5461", "10.0.0.9:7002@10923");
        assertThat(t.nodes()).hasSize(4);
        assertThat(t.masters()).extracting(m -> m.replicas().toString()).containsExactly("[127.0.0.1:7003]", "[]", "[]");
        String id = ClusterTopology.combinedRunId(t.masters(), Map.of(new HostAndPort("127.0.0.1", 7000), "r0",
                new HostAndPort("127.0.0.1", 7001), "r1", new HostAndPort("10.0.0.9", 7002), "r2"));
        assertThat(id).isEqualTo("127.0.0.1:7000=r0,127.0.0.1:7001=r1,10.0.0.9:7002=r2");
    }

    @Test
    void aWorkersProbeSaysWhichSlotsNoHealthyMasterServes() {
        List<Object> slots = List.of(
                List.of(0L, 5460L, List.of("127.0.0.1".getBytes(), 7000L, "a".getBytes())),
                List.of(5461L, 10922L, List.of("127.0.0.1".getBytes(), 7001L, "b".getBytes())),
                List.of(10923L, 16000L, List.of("127.0.0.1".getBytes(), 7002L, "c".getBytes())));
        ClusterTopology t = ClusterTopology.parse(new HostAndPort("127.0.0.1", 7001), "ok", slots);
        RedisGateway.Probe p = new RedisGateway.Probe(true, true, null, Map.of(), t.masters(),
                Map.of(new HostAndPort("127.0.0.1", 7000), "master 127.0.0.1:7000: connection refused"));
        assertThat(p.unavailable(0)).isEqualTo("master 127.0.0.1:7000: connection refused");
        assertThat(p.unavailable(5460)).isEqualTo("master 127.0.0.1:7000: connection refused");
        assertThat(p.unavailable(5461)).isNull();
        assertThat(p.unavailable(16000)).isNull();
        assertThat(p.unavailable(16001)).isEqualTo("no master serves slot 16001");
        assertThat(new RedisGateway.Probe(true, true, null, Map.of()).unavailable(0)).as("not a cluster").isNull();
        assertThat(ClusterTopology.combinedRunId(t.masters(), Map.of(new HostAndPort("127.0.0.1", 7001), "r1",
                new HostAndPort("127.0.0.1", 7002), "r2")))
                .as("a master down at the probe").isEqualTo("127.0.0.1:7000=?,127.0.0.1:7001=r1,127.0.0.1:7002=r2");
    }

    @Test
    void aMasterThatWasDownWhenAWorkerStartedIsNoRestartWhenItReturns() {
        String all = "127.0.0.1:7000=a,127.0.0.1:7001=b,127.0.0.1:7002=c";
        String startedWithout7000 = "127.0.0.1:7000=?,127.0.0.1:7001=b,127.0.0.1:7002=c";
        assertThat(ClusterTopology.restartedMasters(startedWithout7000, all)).as("it only came back").isEmpty();
        assertThat(ClusterTopology.restartedMasters(all, "127.0.0.1:7000=a2,127.0.0.1:7001=b,127.0.0.1:7002=c"))
                .containsExactly("127.0.0.1:7000");
        assertThat(ClusterTopology.restartedMasters(all, "127.0.0.1:7003=d,127.0.0.1:7001=b,127.0.0.1:7002=c"))
                .as("a replica took over, at its own address").containsExactly("127.0.0.1:7003");
        // Down at a later probe: it keeps the run id last read, so its restart is still told when it answers again.
        String known = ClusterTopology.keepKnownRunIds(all, startedWithout7000);
        assertThat(known).isEqualTo(all);
        assertThat(ClusterTopology.restartedMasters(known, "127.0.0.1:7000=a2,127.0.0.1:7001=b,127.0.0.1:7002=c"))
                .containsExactly("127.0.0.1:7000");
        assertThat(ClusterTopology.keepKnownRunIds(null, startedWithout7000)).isEqualTo(startedWithout7000);
        assertThat(ClusterTopology.restartedMasters("abc", "def")).as("a standalone Redis's run ids").isEmpty();
    }
}
