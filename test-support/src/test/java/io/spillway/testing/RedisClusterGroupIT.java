package io.spillway.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.RedisClusterClient;
import redis.clients.jedis.exceptions.JedisDataException;
import redis.clients.jedis.util.JedisClusterCRC16;

// The harness's own checks: on Redis 7.0 every IT that uses it exercises it too, so .ci/run's second pass leaves these
// out (JUnit tag first-pass-only, as bench's ChaosCheck.FIRST_PASS_ONLY) to keep CI under 30 minutes.
@Tag("first-pass-only")
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class RedisClusterGroupIT {

    @Test
    void threeMastersFormAndAKeyLandsOnItsSlotsMaster() {
        long t0 = System.nanoTime();
        try (RedisClusterGroup cluster = RedisClusterGroup.builder().start();
             RedisClusterClient client = cluster.client()) {
            System.out.printf("3 masters formed in %d ms%n", (System.nanoTime() - t0) / 1_000_000);
            assertThat(cluster.nodes()).hasSize(3);
            assertThat(cluster.masters()).containsExactlyElementsOf(cluster.nodes());
            assertThat(cluster.replicas()).isEmpty();
            assertThat(cluster.uriString()).isEqualTo("redis-cluster://" + cluster.nodes().stream()
                    .map(n -> "127.0.0.1:" + n.port()).collect(Collectors.joining(",")));
            assertThat(cluster.seeds()).extracting(a -> a.getPort())
                    .containsExactlyElementsOf(cluster.nodes().stream().map(RedisProcess::port).toList());
            for (RedisProcess node : cluster.nodes()) {
                try (Jedis j = node.jedis()) {
                    assertThat(j.clusterInfo()).contains("cluster_state:ok", "cluster_slots_assigned:16384",
                            "cluster_known_nodes:3");
                    // Redis 6.2 does not show cluster-config-file in CONFIG GET: look for the file it wrote.
                    assertThat(node.dataDir().resolve("nodes.conf")).content().contains(j.clusterMyId() + " ");
                    assertThat(j.configGet("cluster-node-timeout")).containsEntry("cluster-node-timeout", "1000");
                    assertThat(j.configGet("appendonly")).containsEntry("appendonly", "yes");
                }
            }

            client.set("{q}a", "1");
            client.set("{q}b", "2");

            RedisProcess owner = cluster.masterFor("{q}a");
            assertThat(cluster.masterFor("{q}b")).isSameAs(owner);
            try (Jedis j = owner.jedis()) {
                assertThat(j.get("{q}a")).isEqualTo("1");
                assertThat(j.clusterKeySlot("{q}a")).isEqualTo(JedisClusterCRC16.getSlot("q"));
            }
            RedisProcess other = cluster.nodes().stream().filter(n -> n != owner).findFirst().orElseThrow();
            try (Jedis j = other.jedis()) {
                assertThatThrownBy(() -> j.get("{q}a")).isInstanceOf(JedisDataException.class).hasMessageContaining("MOVED");
            }
            // Keys spread over every master, each on the one masterFor names.
            Set<RedisProcess> used = new HashSet<>();
            for (int i = 0; i < 30; i++) {
                client.set("k" + i, "v" + i);
                RedisProcess m = cluster.masterFor("k" + i);
                used.add(m);
                try (Jedis j = m.jedis()) {
                    assertThat(j.get("k" + i)).isEqualTo("v" + i);
                }
            }
            assertThat(used).containsExactlyInAnyOrderElementsOf(cluster.nodes());
        }
    }

    @Test
    void killedMasterFailsOverToItsReplicaAndComesBackAsAReplica() {
        long s0 = System.nanoTime();
        try (RedisClusterGroup cluster = RedisClusterGroup.builder().replicasPerMaster(1).start();
             RedisClusterClient client = cluster.client()) {
            System.out.printf("3 masters + 3 replicas formed in %d ms%n", (System.nanoTime() - s0) / 1_000_000);
            assertThat(cluster.nodes()).hasSize(6);
            assertThat(cluster.masters()).hasSize(3);
            assertThat(cluster.replicas()).hasSize(3);
            client.set("{q}a", "before");
            RedisProcess old = cluster.masterFor("{q}a");
            try (Jedis j = old.jedis()) {
                assertThat(j.waitReplicas(1, 5_000)).isEqualTo(1);
            }

            long t0 = System.nanoTime();
            old.kill();
            RedisProcess now = cluster.awaitFailover(old, Duration.ofSeconds(15));
            long failoverMillis = (System.nanoTime() - t0) / 1_000_000;
            System.out.printf("failover after SIGKILL: %d ms%n", failoverMillis);

            assertThat(now).isNotSameAs(old);
            assertThat(cluster.masterFor("{q}a")).isSameAs(now);
            assertThat(cluster.masters()).hasSize(3).contains(now).doesNotContain(old);
            assertThat(failoverMillis).as("failover with a 1000 ms node timeout").isLessThan(10_000);
            long w0 = System.nanoTime();
            assertThat(client.get("{q}a")).isEqualTo("before");
            client.set("{q}a", "after");
            System.out.printf("first read+write through the old client after failover: %d ms%n",
                    (System.nanoTime() - w0) / 1_000_000);
            try (Jedis j = now.jedis()) {
                assertThat(j.get("{q}a")).isEqualTo("after");
            }

            long r0 = System.nanoTime();
            old.restart();
            cluster.awaitHealthy(Duration.ofSeconds(10));
            await().atMost(Duration.ofSeconds(10)).until(() -> cluster.replicas().contains(old));
            System.out.printf("old master rejoined as a replica in %d ms%n", (System.nanoTime() - r0) / 1_000_000);
            assertThat(cluster.masterFor("{q}a")).isSameAs(now);
            try (Jedis j = old.jedis()) {
                assertThat(j.info("replication")).contains("role:slave", "master_port:" + now.port());
            }
        }
    }

    @Test
    void killedMasterWithoutReplicasRejoinsAfterRestart() {
        try (RedisClusterGroup cluster = RedisClusterGroup.builder().start();
             RedisClusterClient client = cluster.client()) {
            client.set("{q}a", "kept");
            RedisProcess m = cluster.masterFor("{q}a");
            String id;
            try (Jedis j = m.jedis()) {
                id = j.clusterMyId();
            }
            // appendfsync everysec: wait until the AOF holds the key before the SIGKILL.
            await().atMost(Duration.ofSeconds(5)).until(() -> aofContains(m.dataDir(), "{q}a"));
            RedisProcess other = cluster.nodes().stream().filter(n -> n != m).findFirst().orElseThrow();

            long t0 = System.nanoTime();
            m.kill();
            await().atMost(Duration.ofSeconds(10)).until(() -> {
                try (Jedis j = other.jedis()) {
                    return j.clusterInfo().contains("cluster_state:fail");
                }
            });
            System.out.printf("cluster_state:fail %d ms after SIGKILL%n", (System.nanoTime() - t0) / 1_000_000);

            long r0 = System.nanoTime();
            m.restart();
            cluster.awaitHealthy(Duration.ofSeconds(15));
            System.out.printf("healthy again %d ms after restart%n", (System.nanoTime() - r0) / 1_000_000);

            try (Jedis j = m.jedis()) {
                assertThat(j.clusterMyId()).isEqualTo(id);
            }
            assertThat(cluster.masterFor("{q}a")).isSameAs(m);
            assertThat(cluster.masters()).containsExactlyElementsOf(cluster.nodes());
            assertThat(client.get("{q}a")).isEqualTo("kept");
            client.set("{q}a", "again");
            assertThat(client.get("{q}a")).isEqualTo("again");
        }
    }

    @Test
    void withoutFullCoverageTheLiveMastersServeTheirSlotsWhileOneIsDown() {
        try (RedisClusterGroup cluster = RedisClusterGroup.builder().requireFullCoverage(false).start();
             RedisClusterClient client = cluster.client()) {
            for (RedisProcess node : cluster.nodes()) {
                try (Jedis j = node.jedis()) {
                    assertThat(j.configGet("cluster-require-full-coverage")).containsEntry("cluster-require-full-coverage", "no");
                }
            }
            RedisProcess dead = cluster.masterFor("{q}a");
            String live = "k0";
            for (int i = 0; cluster.masterFor(live) == dead; i++) {
                live = "k" + i;
            }
            dead.kill();
            long t0 = System.nanoTime();
            cluster.awaitFlaggedFailed(dead, Duration.ofSeconds(10));
            System.out.printf("flagged failed %d ms after SIGKILL%n", (System.nanoTime() - t0) / 1_000_000);
            for (RedisProcess node : cluster.nodes()) {
                if (node != dead) {
                    try (Jedis j = node.jedis()) {
                        assertThat(j.clusterInfo()).contains("cluster_state:ok");
                    }
                }
            }
            client.set(live, "served");
            assertThat(client.get(live)).isEqualTo("served");

            dead.restart();
            cluster.awaitHealthy(Duration.ofSeconds(15));
            client.set("{q}a", "again");
            assertThat(client.get("{q}a")).isEqualTo("again");
        }
    }

    @Test
    void clusterSettingsAreManaged() {
        assertThatThrownBy(() -> RedisClusterGroup.builder().setting("cluster-node-timeout", "5000"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("nodeTimeout");
        assertThatThrownBy(() -> RedisClusterGroup.builder().setting("cluster-config-file", "x.conf"))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> RedisClusterGroup.builder().masters(0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("but was 0");
    }

    /** The AOF may be one file (6.2) or a directory of them (7.0). */
    private static boolean aofContains(Path dir, String text) {
        try (Stream<Path> files = Files.walk(dir)) {
            List<Path> aofs = files.filter(p -> p.getFileName().toString().contains(".aof")).toList();
            for (Path aof : aofs) {
                if (new String(Files.readAllBytes(aof), StandardCharsets.ISO_8859_1).contains(text)) {
                    return true;
                }
            }
            return false;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
