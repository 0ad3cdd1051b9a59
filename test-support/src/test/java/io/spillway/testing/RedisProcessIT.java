package io.spillway.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.exceptions.JedisConnectionException;
import redis.clients.jedis.exceptions.JedisDataException;

@Timeout(value = 60, unit = TimeUnit.SECONDS)
class RedisProcessIT {

    @Test
    void setAndGet() {
        try (RedisProcess redis = RedisProcess.builder().start(); Jedis jedis = redis.jedis()) {
            jedis.set("k", "v");

            assertThat(jedis.get("k")).isEqualTo("v");
            assertThat(redis.uri().toString()).isEqualTo("redis://127.0.0.1:" + redis.port());
            assertThat(jedis.info("server")).contains("process_id:" + redis.pid());
            assertThat(jedis.configGet("maxmemory-policy")).containsEntry("maxmemory-policy", "noeviction");
            assertThat(jedis.configGet("appendonly")).containsEntry("appendonly", "yes");
            assertThat(jedis.configGet("save")).containsEntry("save", "");
        }
    }

    @Test
    void killedServerRefusesConnections() {
        try (RedisProcess redis = RedisProcess.builder().start()) {
            long pid = redis.pid();
            redis.kill();

            assertThat(redis.isAlive()).isFalse();
            assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)).isFalse();
            // Jedis 7 connects (and handshakes) in its constructor, so that is where it fails.
            assertThatThrownBy(() -> pingOnce(redis.jedis()))
                    .isInstanceOf(JedisConnectionException.class)
                    .satisfies(e -> assertThat(e.getSuppressed()).hasAtLeastOneElementOfType(ConnectException.class));
        }
    }

    @Test
    void restartAfterKillKeepsAKeyTheAofFsynced() {
        try (RedisProcess redis = RedisProcess.builder().start()) {
            try (Jedis jedis = redis.jedis()) {
                jedis.set("durable", "yes");
            }
            // appendfsync everysec promises the key after at most ~1 s; wait that long, and also until
            // the AOF shows it, so a slow machine cannot make the test flaky.
            await().pollDelay(Duration.ofMillis(1100)).atMost(Duration.ofSeconds(10))
                    .until(() -> aofContains(redis.dataDir(), "durable"));
            int port = redis.port();
            long oldPid = redis.pid();

            redis.kill();
            redis.restart();

            assertThat(redis.port()).isEqualTo(port);
            assertThat(redis.pid()).isNotEqualTo(oldPid);
            try (Jedis jedis = redis.jedis()) {
                assertThat(jedis.get("durable")).isEqualTo("yes");
            }
        }
    }

    @Test
    void restartAfterCleanShutdownKeepsEverything() {
        try (RedisProcess redis = RedisProcess.builder().start()) {
            try (Jedis jedis = redis.jedis()) {
                jedis.set("k", "v");
            }
            redis.shutdown();
            assertThat(redis.isAlive()).isFalse();

            redis.restart();

            try (Jedis jedis = redis.jedis()) {
                assertThat(jedis.get("k")).isEqualTo("v");
            }
        }
    }

    @Test
    void restartEmptyLosesTheData() {
        try (RedisProcess redis = RedisProcess.builder().start()) {
            try (Jedis jedis = redis.jedis()) {
                jedis.set("durable", "yes");
            }
            await().atMost(Duration.ofSeconds(10)).until(() -> aofContains(redis.dataDir(), "durable"));
            redis.kill();

            redis.restartEmpty();

            try (Jedis jedis = redis.jedis()) {
                assertThat(jedis.get("durable")).isNull();
                assertThat(jedis.dbSize()).isZero();
            }
        }
    }

    @Test
    void hungServerTimesOutThenAnswersAfterResume() {
        try (RedisProcess redis = RedisProcess.builder().start();
             Jedis connectedBefore = redis.jedis(Duration.ofMillis(300))) {
            redis.hang();

            assertThat(redis.isAlive()).isTrue();
            long t0 = System.nanoTime();
            assertThatThrownBy(connectedBefore::ping).isInstanceOf(JedisConnectionException.class)
                    .hasRootCauseInstanceOf(SocketTimeoutException.class);
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).isGreaterThanOrEqualTo(Duration.ofMillis(250));
            // A hung server still accepts TCP (the kernel does it): a new client fails at the read timeout.
            assertThatThrownBy(() -> pingOnce(redis.jedis(Duration.ofMillis(300))))
                    .isInstanceOf(JedisConnectionException.class)
                    .hasRootCauseInstanceOf(SocketTimeoutException.class);

            redis.resume();

            // The point is that it answers again, not how fast: a thawed server on a busy machine may take
            // more than 300 ms to get to a new client.
            try (Jedis jedis = redis.jedis(Duration.ofSeconds(5))) {
                assertThat(jedis.ping()).isEqualTo("PONG");
            }
        }
    }

    @Test
    void closeOfAHungServerKillsItAndDeletesItsDirectory() {
        RedisProcess redis = RedisProcess.builder().start();
        long pid = redis.pid();
        Path dir = redis.dataDir();
        redis.hang();

        redis.close();

        assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)).isFalse();
        assertThat(dir).doesNotExist();
    }

    @Test
    void noevictionWithTinyMaxmemoryRefusesWritesWithOom() {
        try (RedisProcess redis = RedisProcess.builder().maxMemory("1mb").start(); Jedis jedis = redis.jedis()) {
            String big = "x".repeat(256 * 1024);

            assertThatThrownBy(() -> {
                for (int i = 0; i < 100; i++) {
                    jedis.set("big:" + i, big);
                }
            }).isInstanceOf(JedisDataException.class).hasMessageStartingWith("OOM");
        }
    }

    @Test
    void clientKillAllDropsOtherClients() {
        try (RedisProcess redis = RedisProcess.builder().start(); Jedis victim = redis.jedis()) {
            assertThat(victim.ping()).isEqualTo("PONG");

            assertThat(redis.clientKillAll()).isGreaterThanOrEqualTo(1);

            assertThatThrownBy(victim::ping).isInstanceOf(JedisConnectionException.class);
        }
    }

    @Test
    void configSetChangesTheRunningServer() {
        try (RedisProcess redis = RedisProcess.builder().start(); Jedis jedis = redis.jedis()) {
            redis.configSet("maxmemory", "2mb");

            assertThat(jedis.configGet("maxmemory")).containsEntry("maxmemory", "2097152");
        }
    }

    @Test
    void startFailureCarriesTheLog() {
        RedisProcess redis = RedisProcess.builder().setting("no-such-directive", "1")
                .startTimeout(Duration.ofSeconds(5)).build();
        try (redis) {
            assertThatThrownBy(redis::start)
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("no-such-directive");
        }
    }

    private static void pingOnce(Jedis jedis) {
        try (jedis) {
            jedis.ping();
        }
    }

    private static boolean aofContains(Path dir, String text) throws Exception {
        try (Stream<Path> files = Files.walk(dir)) {
            return files.filter(p -> p.getFileName().toString().contains(".aof"))
                    .anyMatch(p -> read(p).contains(text));
        }
    }

    private static String read(Path p) {
        try {
            return new String(Files.readAllBytes(p), StandardCharsets.ISO_8859_1);
        } catch (java.io.IOException e) {
            return "";
        }
    }
}
