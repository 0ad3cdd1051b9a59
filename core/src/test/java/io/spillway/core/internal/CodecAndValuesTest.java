package io.spillway.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.spillway.core.JobId;
import io.spillway.core.JobState;
import io.spillway.core.JobStatus;
import io.spillway.core.QueueName;
import io.spillway.core.RedisConnection;
import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import redis.clients.jedis.exceptions.JedisConnectionException;
import redis.clients.jedis.exceptions.JedisDataException;

@Timeout(value = 30, unit = TimeUnit.SECONDS)
class CodecAndValuesTest {
    @Test
    void codecRoundTrips() {
        JobRecord r = new JobRecord(JobId.of("order-7"), QueueName.of("images"), "render", new byte[] {0, 1, -1, 42},
                Map.of("trace", "t-1", "ü", "ñ"), 3, 1_700_000_000_000L, 1_700_000_005_000L);
        JobRecord back = JobCodec.decode(JobCodec.encode(r));
        assertThat(back).isEqualTo(r);
        assertThat(back.headers()).containsEntry("ü", "ñ");
    }

    /**
     * The v1 layout, byte for byte, as the class comment gives it (written with a ByteBuffer, as the codec itself was
     * until session 7): journals and streams written before hold these bytes.
     */
    @Test
    void codecWritesTheV1LayoutByteForByte() {
        JobRecord[] records = {
            new JobRecord(JobId.of("01JDXABCDEFGHJKMNPQRSTVWXY"), QueueName.of("images"), "render",
                    "payload".getBytes(StandardCharsets.UTF_8), Map.of(), 0, 1_732_000_000_123L, 0),
            new JobRecord(JobId.of("order-42"), QueueName.of("mail:eu"), "sende-grüße \u2603",
                    new byte[0], new java.util.LinkedHashMap<>(Map.of("trace", "abc")), 7, -1L, Long.MAX_VALUE),
            new JobRecord(JobId.of("x"), QueueName.of("q"), "t", new byte[300],
                    new java.util.LinkedHashMap<>(Map.of("k", "välue", "", "")), Integer.MAX_VALUE, 5, 6),
        };
        for (JobRecord r : records) {
            assertThat(JobCodec.encode(r)).as(r.id().value()).isEqualTo(referenceV1(r));
            assertThat(JobCodec.decode(JobCodec.encode(r))).isEqualTo(r);
            assertThat(JobCodec.encodedLength(r.id().value().length(), r.queue(), r.type(), r.headers(), r.payload().length))
                    .isEqualTo(JobCodec.encode(r).length);
        }
    }

    private static byte[] referenceV1(JobRecord r) {
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        java.io.DataOutputStream out = new java.io.DataOutputStream(bytes);
        try {
            out.writeByte(1);
            for (String s : new String[] {r.id().value(), r.queue().value(), r.type()}) {
                byte[] b = s.getBytes(StandardCharsets.UTF_8);
                out.writeShort(b.length);
                out.write(b);
            }
            out.writeLong(r.enqueuedAt());
            out.writeLong(r.runAt());
            out.writeInt(r.attempt());
            out.writeShort(r.headers().size());
            for (Map.Entry<String, String> e : r.headers().entrySet()) {
                for (String s : new String[] {e.getKey(), e.getValue()}) {
                    byte[] b = s.getBytes(StandardCharsets.UTF_8);
                    out.writeShort(b.length);
                    out.write(b);
                }
            }
            out.writeInt(r.payload().length);
            out.write(r.payload());
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
        return bytes.toByteArray();
    }

    @Test
    void codecRejectsGarbage() {
        byte[] ok = JobCodec.encode(new JobRecord(JobId.mint(), QueueName.of("q"), "t", new byte[10], Map.of(), 0, 1, 0));
        assertThatThrownBy(() -> JobCodec.decode(Arrays.copyOf(ok, ok.length - 3))).isInstanceOf(IllegalArgumentException.class);
        ok[0] = 9;
        assertThatThrownBy(() -> JobCodec.decode(ok)).hasMessageContaining("version 9");
    }

    @Test
    void idsAndQueuesValidate() {
        assertThat(JobId.mint().value()).hasSize(26);
        assertThat(JobId.mint().value()).isLessThan(JobId.mint().value());
        assertThatThrownBy(() -> QueueName.of("a{b}")).hasMessageContaining("a{b}");
        assertThatThrownBy(() -> QueueName.of("")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> JobId.of("a b")).hasMessageContaining("a b");
        assertThatThrownBy(() -> JobId.of("x".repeat(201))).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void idsAndQueuesAreValuesByTheirString() {
        assertThat(QueueName.of("q1")).isEqualTo(QueueName.of("q1")).hasSameHashCodeAs(QueueName.of("q1"))
                .isNotEqualTo(QueueName.of("q2")).isNotEqualTo(JobId.of("q1")).isNotEqualTo(null);
        assertThat(JobId.of("a-1")).isEqualTo(JobId.of("a-1")).hasSameHashCodeAs(JobId.of("a-1"))
                .isNotEqualTo(JobId.of("a-2")).isNotEqualTo(QueueName.of("a-1"));
        assertThat(QueueName.of("q1").hashCode()).isEqualTo("q1".hashCode());
        assertThat(QueueName.of("q1")).hasToString("q1");
    }

    @Test
    void keysShareTheQueueHashTag() {
        QueueName q = QueueName.of("images");
        assertThat(RedisKeys.stream(q)).isEqualTo("spillway:{images}:stream");
        assertThat(RedisKeys.job(q, JobId.of("a"))).isEqualTo("spillway:{images}:job:a");
        assertThat(RedisKeys.delayed(q)).startsWith("spillway:{images}:");
        assertThat(RedisKeys.dead(q)).startsWith("spillway:{images}:");
    }

    @Test
    void statusRecordsRoundTrip() {
        String v = StatusRecord.encode(JobState.RETRYING, 2, 1234, "IOException: a|b");
        JobStatus s = StatusRecord.decode(JobId.of("j"), QueueName.of("q"), v);
        assertThat(s.state()).isEqualTo(JobState.RETRYING);
        assertThat(s.attempts()).isEqualTo(2);
        assertThat(s.lastError()).contains("IOException: a|b");
        assertThat(StatusRecord.decode(JobId.of("j"), QueueName.of("q"), "Q|0|5|").state()).isEqualTo(JobState.QUEUED);
        assertThat(StatusRecord.decode(JobId.of("j"), QueueName.of("q"), null).state()).isEqualTo(JobState.UNKNOWN);
        assertThat(StatusRecord.decode(JobId.of("j"), QueueName.of("q"), "garbage").state()).isEqualTo(JobState.UNKNOWN);
    }

    @Test
    void backoffIsCappedWithFullJitter() {
        Backoff b = new Backoff(Duration.ofMillis(100), Duration.ofSeconds(5));
        assertThat(b.ceilingMillis(0)).isEqualTo(100);
        assertThat(b.ceilingMillis(3)).isEqualTo(800);
        assertThat(b.ceilingMillis(40)).isEqualTo(5_000);
        for (int i = 0; i < 1_000; i++) {
            assertThat(b.delayMillis(10)).isBetween(0L, 5_000L);
        }
        assertThatThrownBy(() -> new Backoff(Duration.ZERO, Duration.ofSeconds(1))).hasMessageContaining("PT0S");
    }

    @Test
    void failuresAreClassified() {
        JedisConnectionException refused = new JedisConnectionException("Failed to connect");
        refused.addSuppressed(new ConnectException("Connection refused"));
        assertThat(Failures.isUnavailable(refused)).isTrue();
        assertThat(Failures.isRefused(refused)).isTrue();
        assertThat(Failures.isRetryable(refused)).isFalse();
        JedisConnectionException timeout = new JedisConnectionException(new SocketTimeoutException("Read timed out"));
        assertThat(Failures.isTimeout(timeout)).isTrue();
        assertThat(Failures.isRetryable(timeout)).isFalse();
        JedisConnectionException eos = new JedisConnectionException("Unexpected end of stream.");
        assertThat(Failures.isRetryable(eos)).isTrue();
        assertThat(Failures.isUnavailable(new JedisDataException("OOM command not allowed when used memory > 'maxmemory'."))).isTrue();
        assertThat(Failures.isUnavailable(new JedisDataException(
                "ERR Error running script (call to f_x): @user_script:1: -OOM command not allowed"))).isTrue();
        assertThat(Failures.isUnavailable(new JedisDataException("LOADING Redis is loading the dataset in memory"))).isTrue();
        assertThat(Failures.isUnavailable(new JedisDataException("READONLY You can't write against a read only replica."))).isTrue();
        assertThat(Failures.isUnavailable(new JedisDataException("MASTERDOWN Link with MASTER is down"))).isTrue();
        assertThat(Failures.isUnavailable(new JedisDataException("WRONGTYPE Operation against a key"))).isFalse();
        assertThat(Failures.describe(refused)).isEqualTo("connection refused");
    }

    @Test
    void redisUrisAreParsed() {
        RedisConnection c = RedisConnection.of(URI.create("rediss://alice:s%40cret@cache.local:6380/2"));
        assertThat(c.host()).isEqualTo("cache.local");
        assertThat(c.port()).isEqualTo(6380);
        assertThat(c.user()).isEqualTo("alice");
        assertThat(c.password()).isEqualTo("s@cret");
        assertThat(c.database()).isEqualTo(2);
        assertThat(c.ssl()).isTrue();
        assertThat(c.redacted()).doesNotContain("cret");
        RedisConnection p = RedisConnection.of(URI.create("redis://:pw@h"));
        assertThat(p.user()).isNull();
        assertThat(p.password()).isEqualTo("pw");
        assertThat(p.port()).isEqualTo(6379);
        assertThatThrownBy(() -> RedisConnection.of(URI.create("http://h"))).hasMessageContaining("http://h");
        assertThatThrownBy(() -> RedisConnection.of(URI.create("redis://127.0.0.1:abc"))).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("redis URI port must be a number 1-65535, but was 'abc' in 'redis://127.0.0.1:abc'");
        assertThatThrownBy(() -> RedisConnection.of(URI.create("redis://u:secret@h:6x79"))).hasMessageContaining("'6x79'")
                .hasMessageNotContaining("secret");
        // Malformed URIs are echoed in the error without their password (a review saw it in both).
        assertThatThrownBy(() -> RedisConnection.builder("redis:u:SECRET@127.0.0.1")).hasMessageNotContaining("SECRET");
        assertThatThrownBy(() -> RedisConnection.builder("redis://127.0.0.1:6379/0?user=u&password=SECRET"))
                .hasMessageNotContaining("SECRET");
        assertThatThrownBy(() -> RedisConnection.builder("redis://u:p@ssSECRET@h")).hasMessageNotContaining("SECRET")
                .hasMessageNotContaining("ssSE").hasMessageContaining("must be written %40");
        assertThatThrownBy(() -> RedisConnection.of(URI.create("redis://my_host:6379"))).hasMessageContaining("must name a host")
                .hasMessageContaining("underscore");
        assertThatThrownBy(() -> RedisConnection.builder(URI.create("redis://h")).socketTimeout(Duration.ZERO))
                .hasMessageContaining("socketTimeout");
        // Jedis takes whole milliseconds and reads 0 as "wait forever": half a millisecond must not become that.
        assertThatThrownBy(() -> RedisConnection.builder(URI.create("redis://h")).socketTimeout(Duration.ofNanos(500_000)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("socketTimeout").hasMessageContaining("PT0.0005S");
        assertThatThrownBy(() -> RedisConnection.builder(URI.create("redis://h")).connectTimeout(Duration.ofMillis(1_500).plusNanos(1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("whole number of milliseconds");
        // Past Integer.MAX_VALUE ms the int Jedis takes would turn negative.
        assertThatThrownBy(() -> RedisConnection.builder(URI.create("redis://h")).connectTimeout(Duration.ofDays(30)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("connectTimeout");
        assertThat(RedisConnection.builder(URI.create("redis://h")).socketTimeout(Duration.ofMillis(1))
                .connectTimeout(Duration.ofHours(1)).build().socketTimeout()).isEqualTo(Duration.ofMillis(1));
        // Settings in a query would be silently ignored: refused, with the password masked.
        assertThatThrownBy(() -> RedisConnection.of(URI.create("redis://:pw@h:6379?timeout=5")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("query")
                .hasMessageContaining("?timeout=5").hasMessageNotContaining("pw");
        assertThatThrownBy(() -> RedisConnection.of(URI.create("redis://h:6379/0#x")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("fragment");
        assertThat(new String(RedisKeys.bytes("x"), StandardCharsets.UTF_8)).isEqualTo("x");
    }

    @Test
    void redisUriPasswordsKeepPlusSignsAndColons() {
        RedisConnection c = RedisConnection.of(URI.create("redis://app:ab+cd%2B%3Aef@h:6379"));
        assertThat(c.user()).isEqualTo("app");
        assertThat(c.password()).isEqualTo("ab+cd+:ef");
    }

    @Test
    void badRedisUrisAreTypedErrorsThatNameTheFieldAndHideThePassword() {
        assertThatThrownBy(() -> RedisConnection.builder((URI) null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("redis URI");
        assertThatThrownBy(() -> RedisConnection.of(URI.create("redis://h:70000")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("port").hasMessageContaining("70000");
        assertThatThrownBy(() -> RedisConnection.of(URI.create("redis://h:6379/-1")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("database").hasMessageContaining("-1");
        assertThatThrownBy(() -> RedisConnection.of(URI.create("redis://h:6379/x")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("database").hasMessageContaining("'x'");
        assertThatThrownBy(() -> RedisConnection.of(URI.create("redis://redis_1:6379")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("underscore");
        for (String leaky : new String[] {"http://:s3cret@h:6379", "redis://:s3c#ret@h", "redis://u:s3c/ret@h_x"}) {
            assertThatThrownBy(() -> RedisConnection.of(URI.create(leaky)))
                    .as(leaky).isInstanceOf(IllegalArgumentException.class).message().doesNotContain("s3c");
        }
        assertThat(RedisConnection.of(URI.create("redis://h:6379/0")).database()).isZero();
        assertThat(RedisConnection.of(URI.create("redis://h:65535/15")).port()).isEqualTo(65535);
    }
}
