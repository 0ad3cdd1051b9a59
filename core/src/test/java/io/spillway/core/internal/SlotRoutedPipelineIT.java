package io.spillway.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.codahale.metrics.MetricRegistry;
import io.spillway.core.RedisConnection;
import io.spillway.core.RedisUnavailableException;
import io.spillway.testing.LogCapture;
import io.spillway.testing.RedisClusterGroup;
import io.spillway.testing.RedisProcess;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import redis.clients.jedis.Response;
import redis.clients.jedis.exceptions.JedisDataException;

/** {@link RedisGateway#pipelined} on a real 3-master Redis Cluster: routing, error replies, a master that dies. */
class SlotRoutedPipelineIT {

    @Test
    @Timeout(90)
    void commandsGoToTheirSlotsMastersInOrderAndADeadMasterIsAnOutageNotAnErrorLog() {
        try (RedisClusterGroup cluster = RedisClusterGroup.builder().masters(3).start();
             RedisGateway g = new RedisGateway(RedisConnection.of(cluster.uri()), "test", 4, Duration.ofSeconds(1),
                     new MetricRegistry())) {
            List<String> keys = new ArrayList<>();
            Set<Integer> masters = new HashSet<>();
            for (int i = 0; i < 30; i++) {
                keys.add("k" + i);
                masters.add(cluster.masterFor("k" + i).port());
            }
            assertThat(masters).as("the keys span every master").hasSize(3);

            // The probe's run id and the heartbeat's are the same value (each master's run_id/master_replid): were they
            // not, every heartbeat would take the cluster for restarted.
            RedisGateway.Probe probe = g.probe();
            assertThat(probe.healthy()).isTrue();
            assertThat(RedisInfo.runId(probe.info())).isEqualTo(g.runId()).contains("/");

            // Writes then reads of the same keys in one pipeline: each master runs its commands in the order queued.
            assertThat(writeThenRead(g, keys, "v-")).containsExactlyElementsOf(keys.stream().map(k -> "v-" + k).toList());

            // An error reply is set on its own response; the others are read.
            Object[] mixed = g.pipelined(false, p -> {
                Response<Long> bad = p.incr("k0");
                Response<String> good = p.get("k1");
                return () -> new Object[] {bad, good.get()};
            });
            assertThat(mixed[1]).isEqualTo("v-k1");
            assertThatThrownBy(((Response<?>) mixed[0])::get).isInstanceOf(JedisDataException.class)
                    .hasMessageContaining("not an integer");

            assertThatThrownBy(() -> g.pipelined(false, p -> {
                p.sendCommand(redis.clients.jedis.Protocol.Command.INFO, "server");
                return () -> null;
            })).hasMessageContaining("need a key");

            // A master dies under a pooled connection the pipeline above used.
            RedisProcess victim = cluster.masterFor("k3");
            try (LogCapture log = new LogCapture()) {
                victim.kill();
                for (int round = 0; round < 3; round++) {
                    assertThatThrownBy(() -> g.pipelined(false, p -> {
                        List<Response<String>> rs = new ArrayList<>();
                        keys.forEach(k -> rs.add(p.get(k)));
                        return () -> rs.stream().map(Response::get).toList();
                    })).isInstanceOf(RedisUnavailableException.class);
                }
                assertThat(log.lines("ERROR")).as("Jedis's ClusterPipeline logged the dead master at ERROR").isEmpty();
                assertThat(log.lines("\tat ")).as("no stack trace").isEmpty();
            }

            // Back: the connections that met the failure were dropped, not pooled, so no stale reply is read in place of
            // a new one.
            victim.restart();
            cluster.awaitHealthy(Duration.ofSeconds(30));
            assertThat(writeThenRead(g, keys, "again-")).containsExactlyElementsOf(keys.stream().map(k -> "again-" + k).toList());
        }
    }

    /** One pipeline: SET of each key to {@code prefix + key}, each followed by its GET; the values read. */
    private static List<String> writeThenRead(RedisGateway g, List<String> keys, String prefix) {
        return g.pipelined(false, p -> {
            List<Response<String>> rs = new ArrayList<>();
            for (String k : keys) {
                p.set(k, prefix + k);
                rs.add(p.get(k));
            }
            return () -> rs.stream().map(Response::get).toList();
        });
    }
}
