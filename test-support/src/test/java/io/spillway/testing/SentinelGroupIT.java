package io.spillway.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import redis.clients.jedis.Jedis;

@Timeout(90)
class SentinelGroupIT {

    @Test
    void aKilledMasterIsReplacedByItsReplica() {
        try (SentinelGroup g = SentinelGroup.builder().start()) {
            RedisProcess first = g.master();
            assertThat(g.uri().toString()).startsWith("redis-sentinel://127.0.0.1:").endsWith("#spillway");
            try (Jedis j = first.jedis()) {
                j.set("k", "v");
                j.waitReplicas(1, 2000);
            }
            long t0 = System.nanoTime();
            RedisProcess old = g.killMaster();
            RedisProcess now = g.awaitFailover(old, Duration.ofSeconds(30));
            System.out.printf("failover took %d ms (%s)%n", (System.nanoTime() - t0) / 1_000_000, first.binary());
            assertThat(now).isNotSameAs(old);
            assertThat(g.masterPort()).isEqualTo(now.port());
            try (Jedis j = now.jedis()) {
                assertThat(j.get("k")).isEqualTo("v");
            }
        }
    }

    @Test
    void threeSentinelsFailOverToo() {
        try (SentinelGroup g = SentinelGroup.builder().sentinels(3).start()) {
            RedisProcess old = g.killMaster();
            assertThat(g.awaitFailover(old, Duration.ofSeconds(30))).isNotSameAs(old);
        }
    }
}
