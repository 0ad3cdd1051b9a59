package io.spillway.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.exceptions.JedisConnectionException;

@Timeout(value = 60, unit = TimeUnit.SECONDS)
class RedisProcessTlsIT {
    @TempDir
    Path dir;

    @Test
    void servesTlsOnlyAndItsOwnConnectionsWorkOverTlsAcrossKillAndRestart() {
        TestCertificates certs = TestCertificates.create(dir.resolve("certs"));
        try (RedisProcess redis = RedisProcess.builder().tls(certs).tlsAuthClients(true).start()) {
            assertThat(redis.uri().toString()).isEqualTo("rediss://127.0.0.1:" + redis.port());
            try (Jedis jedis = redis.jedis()) {
                System.out.println("TLS redis-server " + jedis.info("server").lines()
                        .filter(l -> l.startsWith("redis_version:")).findFirst().orElse("?"));
                jedis.set("k", "v");
                assertThat(jedis.configGet("tls-auth-clients")).containsEntry("tls-auth-clients", "yes");
                assertThat(jedis.configGet("port")).containsEntry("port", "0");
            }
            redis.configSet("maxmemory", "10mb");
            redis.kill();
            redis.restart();
            try (Jedis jedis = redis.jedis()) {
                assertThat(jedis.get("k")).as("AOF after restart (the SET is fsynced within a second or on restart)")
                        .isIn("v", null);
                assertThat(jedis.ping()).isEqualTo("PONG");
            }
            // A plain client on the TLS port gets no Redis reply.
            assertThatThrownBy(() -> {
                try (Jedis plain = new Jedis(new HostAndPort("127.0.0.1", redis.port()),
                        DefaultJedisClientConfig.builder().connectionTimeoutMillis(1000).socketTimeoutMillis(1000).build())) {
                    plain.ping();
                }
            }).isInstanceOf(JedisConnectionException.class);
            redis.shutdown();
            assertThat(redis.isAlive()).isFalse();
        }
    }
}
