package io.spillway.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.spillway.core.RedisConnection;
import io.spillway.testing.TestCertificates;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Function;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocketFactory;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.JedisClientConfig;

/**
 * {@code rediss-sentinel://} (TLS to the sentinels and the master alike) and IPv6 sentinel addresses: parsing, the
 * refusals, and what reaches the Jedis configs of the sentinels and of the master. No Redis.
 */
@Timeout(10)
class SentinelTlsSettingsTest {
    @TempDir
    Path dir;
    TestCertificates certs;

    @BeforeEach
    void certificates() {
        certs = TestCertificates.create(dir.resolve("certs"));
    }

    @Test
    void redissSentinelIsTlsToTheSentinelsAndToTheMaster() {
        RedisConnection c = RedisConnection.builder(URI.create("rediss-sentinel://alice:s%40cret@s1:26380,s2/1#my-master"))
                .trustedCertificates(certs.caCertificate())
                .clientCertificate(certs.clientCertificate(), certs.clientKey())
                .sentinelCredentials(null, "sentinel-pw")
                .build();
        assertThat(c.sentinel()).isTrue();
        assertThat(c.ssl()).isTrue();
        assertThat(c.masterName()).isEqualTo("my-master");
        assertThat(c.user()).isEqualTo("alice");
        assertThat(c.password()).isEqualTo("s@cret");
        assertThat(c.database()).isEqualTo(1);
        assertThat(c.sentinels()).containsExactly(InetSocketAddress.createUnresolved("s1", 26380),
                InetSocketAddress.createUnresolved("s2", 26379));
        assertThat(c.toString()).isEqualTo("rediss-sentinel://alice@s1:26380,s2:26379/1#my-master");
        assertThat(c.sslSocketFactory()).isNotNull();
        assertThat(c.sslParameters().getEndpointIdentificationAlgorithm()).isEqualTo("HTTPS");

        JedisClientConfig sentinels = Sentinels.config(c, "test-sentinel");
        assertThat(sentinels.isSsl()).as("TLS to the sentinels").isTrue();
        assertThat(sentinels.getSslSocketFactory()).isSameAs(c.sslSocketFactory());
        assertThat(sentinels.getSslParameters().getEndpointIdentificationAlgorithm()).isEqualTo("HTTPS");
        assertThat(sentinels.getPassword()).isEqualTo("sentinel-pw");
        JedisClientConfig master = Tls.configure(DefaultJedisClientConfig.builder(), c).build();
        assertThat(master.isSsl()).as("TLS to the master").isTrue();
        assertThat(master.getSslSocketFactory()).isSameAs(c.sslSocketFactory());

        RedisConnection plain = RedisConnection.of(URI.create("redis-sentinel://s1#m"));
        assertThat(plain.ssl()).isFalse();
        assertThat(Sentinels.config(plain, "x").isSsl()).isFalse();
    }

    @Test
    void everyTlsOptionWorksWithRedissSentinelAndTheBuilder() {
        SSLSocketFactory factory = certs.clientSocketFactory();
        SSLParameters mine = new SSLParameters();
        mine.setProtocols(new String[] {"TLSv1.3"});
        RedisConnection c = RedisConnection.sentinelBuilder("orders", "10.0.0.1:26379", "10.0.0.2")
                .tls(true)
                .sslSocketFactory(factory)
                .sslParameters(mine)
                .hostnameVerifier((h, s) -> true)
                .build();
        assertThat(c.ssl()).isTrue();
        assertThat(c.uri().getScheme()).isEqualTo("rediss-sentinel");
        assertThat(c.toString()).isEqualTo("rediss-sentinel://10.0.0.1:26379,10.0.0.2:26379#orders");
        JedisClientConfig sentinels = Sentinels.config(c, "s");
        assertThat(sentinels.getSslSocketFactory()).isSameAs(factory);
        assertThat(sentinels.getSslParameters().getProtocols()).containsExactly("TLSv1.3");
        assertThat(sentinels.getHostnameVerifier()).isNotNull();
        assertThat(sentinels.getSslParameters().getEndpointIdentificationAlgorithm()).as("the verifier decides").isNull();

        assertThat(RedisConnection.builder(URI.create("rediss-sentinel://h#m")).tls(false).build().ssl()).isFalse();
        assertThat(RedisConnection.builder(URI.create("rediss-sentinel://h#m")).tls(false).build().toString())
                .isEqualTo("redis-sentinel://h:26379#m");
        assertThat(RedisConnection.builder(URI.create("redis://h:6379")).tls(true).build().uri())
                .isEqualTo(URI.create("rediss://h:6379"));
    }

    @Test
    void tlsOptionsOnAPlainRedisSentinelUriAreRefusedNamingTheOption() {
        URI plain = URI.create("redis-sentinel://:secret@s1:26379#m");
        SSLSocketFactory f = (SSLSocketFactory) SSLSocketFactory.getDefault();
        List<Function<RedisConnection.Builder, RedisConnection.Builder>> options = List.of(
                b -> b.trustedCertificates(certs.caCertificate()),
                b -> b.clientCertificate(certs.clientCertificate(), certs.clientKey()),
                b -> b.sslSocketFactory(f),
                b -> b.sslParameters(new SSLParameters()),
                b -> b.hostnameVerifier((h, s) -> true));
        List<String> names = List.of("trustedCertificates", "clientCertificate", "sslSocketFactory", "sslParameters",
                "hostnameVerifier");
        for (int i = 0; i < options.size(); i++) {
            Function<RedisConnection.Builder, RedisConnection.Builder> option = options.get(i);
            assertThatThrownBy(() -> option.apply(RedisConnection.builder(plain)).build())
                    .as(names.get(i)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining(names.get(i) + " is a TLS setting")
                    .hasMessageContaining("rediss-sentinel://")
                    .hasMessageNotContaining("secret");
            assertThatThrownBy(() -> option.apply(RedisConnection.sentinelBuilder("m", "s1")).build())
                    .as(names.get(i) + " on sentinelBuilder without tls(true)").isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining(names.get(i));
            assertThat(option.apply(RedisConnection.sentinelBuilder("m", "s1").tls(true)).build().ssl()).isTrue();
        }
    }

    @Test
    void ipv6SentinelAddressesInBracketsAreParsedAndShownWithTheirBrackets() {
        RedisConnection c = RedisConnection.of("redis-sentinel://u:secret@[::1]:26379,[fe80::1%25eth0]:26380,s3,10.0.0.3:5/2#m");
        assertThat(c.sentinels()).containsExactly(InetSocketAddress.createUnresolved("::1", 26379),
                InetSocketAddress.createUnresolved("fe80::1%eth0", 26380), InetSocketAddress.createUnresolved("s3", 26379),
                InetSocketAddress.createUnresolved("10.0.0.3", 5));
        assertThat(c.user()).isEqualTo("u");
        assertThat(c.password()).isEqualTo("secret");
        assertThat(c.database()).isEqualTo(2);
        assertThat(c.toString()).isEqualTo("redis-sentinel://u@[::1]:26379,[fe80::1%25eth0]:26380,s3:26379,10.0.0.3:5/2#m");
        assertThat(Sentinels.addresses(c)).extracting(h -> h.getHost() + " " + h.getPort())
                .containsExactly("::1 26379", "fe80::1%eth0 26380", "s3 26379", "10.0.0.3 5");
        // URI cannot hold this authority as it is: uri() holds the brackets percent-encoded, and reads back the same.
        RedisConnection again = RedisConnection.of(c.uri());
        assertThat(again.sentinels()).isEqualTo(c.sentinels());
        assertThat(again.password()).isEqualTo("secret");
        assertThat(again.toString()).isEqualTo(c.toString());

        RedisConnection one = RedisConnection.of(URI.create("rediss-sentinel://[::1]#m"));
        assertThat(one.sentinels()).containsExactly(InetSocketAddress.createUnresolved("::1", 26379));
        assertThat(one.toString()).isEqualTo("rediss-sentinel://[::1]:26379#m");
        assertThat(RedisConnection.of(URI.create("redis-sentinel://[fe80::1%25eth0]:26380#m")).sentinels())
                .containsExactly(InetSocketAddress.createUnresolved("fe80::1%eth0", 26380));

        RedisConnection built = RedisConnection.sentinelBuilder("m", "[::1]:26379", "[fe80::1%eth0]:26380", "[fe80::2%25eth1]")
                .tls(true).build();
        assertThat(built.sentinels()).containsExactly(InetSocketAddress.createUnresolved("::1", 26379),
                InetSocketAddress.createUnresolved("fe80::1%eth0", 26380), InetSocketAddress.createUnresolved("fe80::2%eth1", 26379));
        assertThat(built.toString()).isEqualTo("rediss-sentinel://[::1]:26379,[fe80::1%25eth0]:26380,[fe80::2%25eth1]:26379#m");
    }

    @Test
    void aBadIpv6SentinelAddressIsRefusedNamingIt() {
        for (String[] bad : List.of(
                new String[] {"redis-sentinel://:secret@[::1:26379#m", "'[::1:26379'"},
                new String[] {"redis-sentinel://:secret@[::1]x#m", "'[::1]x'"},
                new String[] {"redis-sentinel://:secret@[::g]:1,[::1]#m", "'::g'"},
                new String[] {"redis-sentinel://:secret@[]:1#m", "'[]:1'"},
                new String[] {"redis-sentinel://:secret@[1:2]:1#m", "'1:2'"},
                new String[] {"redis-sentinel://:secret@[::1]:,[::2]#m", "''"},
                new String[] {"redis-sentinel://:secret@[::1]:99999#m", "'99999'"},
                new String[] {"redis-sentinel://:secret@[fe80::1%eth0]:1,[::1]#m", "%25"},
                new String[] {"redis-sentinel://:secret@[fe80::1%25]:1#m", "zone"},
                new String[] {"redis-sentinel://:secret@::1:26379#m", "must be in brackets"},
                new String[] {"redis-sentinel://:secret@h1,fe80::1#m", "'fe80::1'"},
                new String[] {"redis-sentinel://:secret@h<1>#m", "'h<1>'"},
                new String[] {"rediss-sentinel://:secret@[::1],[::2]?x=1#m", "query"},
                new String[] {"rediss-sentinel://:se%zzcret@[::1],[::2]#m", "%-escape"})) {
            assertThatThrownBy(() -> RedisConnection.of(bad[0]))
                    .as(bad[0]).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining(bad[1]).hasMessageNotContaining("secret");
        }
        assertThatThrownBy(() -> RedisConnection.sentinelBuilder("m", "[::1]:26379", "[::zz]"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'::zz'");
        assertThatThrownBy(() -> RedisConnection.sentinelBuilder("m", "::1"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'::1'").hasMessageContaining("brackets");
        assertThatThrownBy(() -> RedisConnection.of("redis://:secret@h:6379/ x"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not a valid URI")
                .hasMessageNotContaining("secret");
        assertThat(RedisConnection.of("redis://:pw@h:6380/3").toString()).isEqualTo("redis://h:6380/3");
    }
}
