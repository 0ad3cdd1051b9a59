package io.spillway.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.spillway.core.RedisConnection;
import java.net.InetSocketAddress;
import java.net.URI;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(10)
class SentinelConnectionTest {

    @Test
    void sentinelUrisAreParsed() {
        RedisConnection c = RedisConnection.of(URI.create("redis-sentinel://alice:s%40cret@s1:26380,s2,10.0.0.3:5000/3#my-master"));
        assertThat(c.sentinel()).isTrue();
        assertThat(c.masterName()).isEqualTo("my-master");
        assertThat(c.sentinels()).containsExactly(InetSocketAddress.createUnresolved("s1", 26380),
                InetSocketAddress.createUnresolved("s2", 26379), InetSocketAddress.createUnresolved("10.0.0.3", 5000));
        assertThat(c.user()).isEqualTo("alice");
        assertThat(c.password()).isEqualTo("s@cret");
        assertThat(c.database()).isEqualTo(3);
        assertThat(c.sentinelPassword()).isNull();
        assertThat(c.toString()).isEqualTo("redis-sentinel://alice@s1:26380,s2:26379,10.0.0.3:5000/3#my-master");
        RedisConnection p = RedisConnection.of(URI.create("redis-sentinel://pw@h#m"));
        assertThat(p.user()).isNull();
        assertThat(p.password()).isEqualTo("pw");
        assertThat(p.database()).isZero();
        assertThat(p.sentinels()).containsExactly(InetSocketAddress.createUnresolved("h", 26379));
        assertThat(RedisConnection.of(URI.create("redis://h")).sentinel()).isFalse();
    }

    @Test
    void builderMethodsSetSentinelsAndSeparateCredentials() {
        RedisConnection c = RedisConnection.sentinelBuilder("orders", "127.0.0.1:26379", "127.0.0.1:26380")
                .credentials("app", "master-pw")
                .sentinelCredentials(null, "sentinel-pw")
                .database(2)
                .build();
        assertThat(c.masterName()).isEqualTo("orders");
        assertThat(c.sentinels()).hasSize(2);
        assertThat(c.user()).isEqualTo("app");
        assertThat(c.password()).isEqualTo("master-pw");
        assertThat(c.sentinelUser()).isNull();
        assertThat(c.sentinelPassword()).isEqualTo("sentinel-pw");
        assertThat(c.database()).isEqualTo(2);
        assertThat(c.toString()).doesNotContain("pw");
        assertThat(Sentinels.addresses(c)).extracting(Object::toString).containsExactly("127.0.0.1:26379", "127.0.0.1:26380");
        assertThatThrownBy(() -> RedisConnection.builder(URI.create("redis://h")).sentinelCredentials(null, "x"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("redis-sentinel");
    }

    @Test
    void badSentinelInputIsRefusedNamingTheValue() {
        for (String[] bad : List.of(
                new String[] {"redis-sentinel://:pw@h1,h2", "master"},
                new String[] {"redis-sentinel://:pw@h1#", "master"},
                new String[] {"redis-sentinel://:pw@/0#m", "host"},
                new String[] {"redis-sentinel://:pw@h1,,h2#m", "host"},
                new String[] {"redis-sentinel://:pw@h1:0#m", "'0'"},
                new String[] {"redis-sentinel://:pw@h1:70000#m", "'70000'"},
                new String[] {"redis-sentinel://:pw@h1:x#m", "'x'"},
                new String[] {"redis-sentinel://:pw@h1/x#m", "'x'"},
                new String[] {"redis-sentinel://:pw@h1?a=1#m", "query"})) {
            assertThatThrownBy(() -> RedisConnection.of(URI.create(bad[0])))
                    .as(bad[0]).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining(bad[1]).hasMessageNotContaining("pw");
        }
        assertThatThrownBy(() -> RedisConnection.sentinelBuilder(" ", "h")).hasMessageContaining("master name");
        assertThatThrownBy(() -> RedisConnection.sentinelBuilder("m")).hasMessageContaining("sentinel address");
        assertThatThrownBy(() -> RedisConnection.sentinelBuilder("m", "h:99999")).hasMessageContaining("99999");
    }
}
