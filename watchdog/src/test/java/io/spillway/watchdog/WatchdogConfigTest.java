package io.spillway.watchdog;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(10)
class WatchdogConfigTest {

    @Test
    void defaultsAreDocumentedConstants() {
        WatchdogConfig c = WatchdogConfig.ofDefaults();
        assertThat(c.hangTimeout()).isEqualTo(WatchdogConfig.DEFAULT_HANG_TIMEOUT);
        assertThat(c.initialBackoff()).isEqualTo(Duration.ofMillis(100));
        assertThat(c.toBuilder().build().toString()).isEqualTo(c.toString());
    }

    @Test
    void badValuesFailFastWithTheValue() {
        assertThatThrownBy(() -> WatchdogConfig.custom().hangTimeout(Duration.ofMillis(-1)))
                .hasMessage("hangTimeout must be > 0, but was PT-0.001S");
        assertThatThrownBy(() -> WatchdogConfig.custom().initialBackoff(Duration.ofSeconds(5))
                .maxBackoff(Duration.ofSeconds(1)).build()).hasMessageContaining("maxBackoff must be >= initialBackoff");
        assertThatThrownBy(() -> RedisServerConfig.custom().port(70000)).hasMessage("port must be in 1..65535, but was 70000");
        assertThatThrownBy(() -> RedisServerConfig.custom().setting("dir", "/x")).hasMessageContaining("'dir'");
        assertThatThrownBy(() -> RedisServerConfig.custom().maxMemory("lots")).hasMessageContaining("'lots'");
    }

    @Test
    void nullIsBadInputLikeAnyOtherAnIllegalArgumentNamingTheArgument() {
        assertThatThrownBy(() -> WatchdogConfig.custom().hangTimeout(null))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("hangTimeout must not be null");
        assertThatThrownBy(() -> RedisServerConfig.custom().dataDir(null))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("dataDir must not be null");
        assertThatThrownBy(() -> RedisServerConfig.custom().setting("maxclients", null))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("value of maxclients must not be null");
        assertThatThrownBy(() -> Watchdog.builder().config(null))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("config must not be null");
    }

    @Test
    void redisConfigKeepsJobsByDefault() {
        RedisServerConfig r = RedisServerConfig.custom().port(6390).dataDir(Path.of("/tmp/x y")).maxMemory("64mb").build();
        assertThat(r.configText())
                .contains("port 6390\n", "bind 127.0.0.1\n", "dir \"/tmp/x y\"\n", "appendonly yes\n",
                        "appendfsync everysec\n", "save \"\"\n", "maxmemory-policy noeviction\n", "replica-lazy-flush yes\n", "maxmemory 64mb\n");
        assertThat(r.uri().toString()).isEqualTo("redis://127.0.0.1:6390");
        assertThat(r.defaultDataDir()).isFalse();
    }

    @Test
    void aRepeatableDirectiveKeepsEveryLineAndAnyOtherItsLastValue() {
        RedisServerConfig r = RedisServerConfig.custom()
                .setting("rename-command", "FLUSHALL \"\"")
                .setting("maxmemory-policy", "allkeys-lru")
                .setting("rename-command", "FLUSHDB \"\"")
                .setting("client-output-buffer-limit", "replica 512mb 128mb 60")
                .setting("client-output-buffer-limit", "pubsub 64mb 16mb 60")
                .setting("save", "900 1")
                .setting("maxmemory-policy", "noeviction")
                .build();
        String conf = r.configText();
        assertThat(conf).contains("rename-command FLUSHALL \"\"\nrename-command FLUSHDB \"\"\n",
                "client-output-buffer-limit replica 512mb 128mb 60\nclient-output-buffer-limit pubsub 64mb 16mb 60\n",
                "save \"\"\n", "save 900 1\n");
        assertThat(conf.indexOf("save \"\"")).isLessThan(conf.indexOf("save 900 1"));
        // Not repeatable: the later value, in the first one's place, once.
        assertThat(conf).contains("save \"\"\nmaxmemory-policy noeviction\n").doesNotContain("allkeys-lru");
        assertThat(r.settings()).containsEntry("rename-command", "FLUSHDB \"\"").containsEntry("maxmemory-policy", "noeviction");
        assertThat(r.toString()).contains("rename-command=FLUSHALL \"\", ", "rename-command=FLUSHDB \"\"");
    }

    @Test
    void clientHostIsLoopbackOfTheFamilyBoundAndTheUriBracketsIpv6() {
        // Redis listens on :: for IPv6 only (IPV6_V6ONLY): 127.0.0.1 is refused there.
        assertThat(host("::")).isEqualTo("::1");
        assertThat(host("::*")).isEqualTo("::1");
        assertThat(host("0.0.0.0")).isEqualTo("127.0.0.1");
        assertThat(host("*")).isEqualTo("127.0.0.1");
        assertThat(host("* -::*")).isEqualTo("127.0.0.1");
        // Redis 7: a leading '-' marks an address that may be missing; it is no part of the host.
        assertThat(host("-::1 127.0.0.1")).isEqualTo("::1");
        assertThat(host("-10.0.0.5")).isEqualTo("10.0.0.5");
        assertThat(host("192.168.1.2 127.0.0.1")).isEqualTo("192.168.1.2");

        assertThat(RedisServerConfig.custom().bind("::").port(6390).build().uri().toString()).isEqualTo("redis://[::1]:6390");
        assertThat(RedisServerConfig.custom().bind("-::1").port(6390).build().uri().getPort()).isEqualTo(6390);
        assertThat(RedisServerConfig.custom().bind("-::1").port(6390).build().uri().getHost()).isEqualTo("[::1]");
        assertThat(RedisServerConfig.custom().bind("0.0.0.0").port(6390).build().uri().toString()).isEqualTo("redis://127.0.0.1:6390");
    }

    private static String host(String bind) {
        return RedisServerConfig.custom().bind(bind).build().clientHost();
    }

    @Test
    void defaultDataDirIsAbsoluteAndSaysSo() {
        RedisServerConfig r = RedisServerConfig.custom().port(6391).build();
        assertThat(r.defaultDataDir()).isTrue();
        assertThat(r.dataDir()).isAbsolute().isEqualTo(Path.of("spillway-redis-6391").toAbsolutePath());
    }
}
