package io.spillway.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.exceptions.JedisConnectionException;

@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ChaosProxyIT {

    private static Jedis through(ChaosProxy proxy, int timeoutMillis) {
        return new Jedis(new HostAndPort("127.0.0.1", proxy.port()), DefaultJedisClientConfig.builder()
                .connectionTimeoutMillis(timeoutMillis).socketTimeoutMillis(timeoutMillis)
                .blockingSocketTimeoutMillis(timeoutMillis).build());
    }

    private static void pingOnce(Jedis jedis) {
        try (jedis) {
            jedis.ping();
        }
    }

    @Test
    void passForwardsBothWays() {
        try (RedisProcess redis = RedisProcess.builder().start();
             ChaosProxy proxy = ChaosProxy.to(redis.port());
             Jedis jedis = through(proxy, 1000)) {
            jedis.set("k", "v");

            assertThat(jedis.get("k")).isEqualTo("v");
            assertThat(proxy.acceptedConnections()).isEqualTo(1);
            assertThat(proxy.openConnections()).isEqualTo(1);
            assertThat(proxy.uri().toString()).isEqualTo("redis://127.0.0.1:" + proxy.port());
        }
    }

    @Test
    void cutClosesOpenAndNewConnections() {
        try (RedisProcess redis = RedisProcess.builder().start();
             ChaosProxy proxy = ChaosProxy.to(redis.port())) {
            try (Jedis open = through(proxy, 1000)) {
                assertThat(open.ping()).isEqualTo("PONG");

                proxy.cut();

                assertThatThrownBy(open::ping).isInstanceOf(JedisConnectionException.class);
            }
            await().atMost(Duration.ofSeconds(5)).until(() -> proxy.openConnections() == 0);
            // Jedis 7 handshakes in its constructor, so a closed connection fails right there.
            assertThatThrownBy(() -> pingOnce(through(proxy, 1000))).isInstanceOf(JedisConnectionException.class);
            assertThat(proxy.refusedConnections()).isGreaterThanOrEqualTo(1);

            proxy.pass();

            try (Jedis again = through(proxy, 1000)) {
                assertThat(again.ping()).isEqualTo("PONG");
            }
        }
    }

    @Test
    void blackholeTimesOutOpenAndNewConnections() {
        try (RedisProcess redis = RedisProcess.builder().start();
             ChaosProxy proxy = ChaosProxy.to(redis.port())) {
            try (Jedis open = through(proxy, 300)) {
                assertThat(open.ping()).isEqualTo("PONG");

                proxy.blackhole();

                assertThatThrownBy(open::ping).isInstanceOf(JedisConnectionException.class)
                        .hasStackTraceContaining("SocketTimeoutException");
            }
            // The TCP connect succeeds (the proxy accepts); only the handshake's reply never comes.
            assertThatThrownBy(() -> pingOnce(through(proxy, 300))).isInstanceOf(JedisConnectionException.class)
                    .hasStackTraceContaining("SocketTimeoutException");

            proxy.pass();

            try (Jedis again = through(proxy, 1000)) {
                assertThat(again.ping()).isEqualTo("PONG");
            }
        }
    }

    @Test
    void slowDelaysEveryChunk() {
        try (RedisProcess redis = RedisProcess.builder().start();
             ChaosProxy proxy = ChaosProxy.to(redis.port());
             Jedis jedis = through(proxy, 5000)) {
            assertThat(jedis.ping()).isEqualTo("PONG");

            proxy.slow(Duration.ofMillis(200));
            long t0 = System.nanoTime();
            assertThat(jedis.ping()).isEqualTo("PONG");
            Duration took = Duration.ofNanos(System.nanoTime() - t0);

            // One chunk up and one chunk down, 200 ms each.
            assertThat(took).isGreaterThanOrEqualTo(Duration.ofMillis(380));
            proxy.pass();
            assertThat(jedis.ping()).isEqualTo("PONG");
        }
    }

    @Test
    void closeEndsEveryConnection() {
        try (RedisProcess redis = RedisProcess.builder().start()) {
            ChaosProxy proxy = ChaosProxy.to(redis.port());
            try (Jedis jedis = through(proxy, 1000)) {
                assertThat(jedis.ping()).isEqualTo("PONG");

                proxy.close();

                assertThat(proxy.openConnections()).isZero();
                assertThatThrownBy(jedis::ping).isInstanceOf(JedisConnectionException.class);
            }
        }
    }
}
