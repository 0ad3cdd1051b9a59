package io.spillway.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.codahale.metrics.MetricRegistry;
import io.spillway.core.JobId;
import io.spillway.core.QueueName;
import io.spillway.core.RedisConnection;
import io.spillway.testing.RedisProcess;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import redis.clients.jedis.Jedis;

/** What {@code enqueue.lua} does with the link a stream gives a call ({@link ScriptStream}). */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class EnqueueChainIT {
    private static final QueueName Q = QueueName.of("chained");

    private static RedisGateway.ScriptCall linked(ScriptStream stream, int from, int n, String link) {
        List<JobRecord> records = new ArrayList<>();
        List<byte[]> encoded = new ArrayList<>();
        for (int i = from; i < from + n; i++) {
            JobRecord r = new JobRecord(JobId.of("job-" + i), Q, "t", new byte[] {1}, Map.of(), 0, 1, 0);
            records.add(r);
            encoded.add(JobCodec.encode(r));
        }
        RedisGateway.ScriptCall call = EnqueueScript.call(Q, records, encoded, System.currentTimeMillis(), 0);
        stream.linkAll(List.of(call), false);
        call.args().set(call.args().size() - 1, link.getBytes(StandardCharsets.US_ASCII));
        return call;
    }

    /** What Redis refused the call with (Jedis's exception, under the gateway's translation), or null. */
    private static Throwable run(RedisGateway g, RedisGateway.ScriptCall call) {
        Throwable t = catchThrowable(() -> g.evalDirect(LuaScript.ENQUEUE, call.keys(), call.args()));
        while (t != null && !(t instanceof redis.clients.jedis.exceptions.JedisDataException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }

    @Test
    void aLinkedCallGoesThroughOnlyIfTheCallBeforeItDidAndThenSetsItsToken() {
        try (RedisProcess redis = RedisProcess.builder().start();
                RedisGateway g = new RedisGateway(RedisConnection.of(redis.uri()), "test", 4, Duration.ofSeconds(1),
                        new MetricRegistry());
                Jedis j = redis.jedis()) {
            ScriptStream stream = new ScriptStream(LuaScript.ENQUEUE, () -> null, (c, r) -> { }, 3);
            RedisGateway.ScriptCall first = linked(stream, 0, 3, ",6");
            String chainKey = new String(first.keys().get(first.keys().size() - 1), StandardCharsets.US_ASCII);

            // Behind a call that never went through: nothing written, a retryable refusal.
            Throwable refused = run(g, linked(stream, 100, 3, "5,7"));
            assertThat(refused).hasMessageStartingWith("SPILLWAY_CHAIN ");
            assertThat(Failures.isChainBroken(refused)).isTrue();
            assertThat(Failures.isRetryable(refused)).isTrue();
            assertThat(Failures.isUnavailable(refused)).isTrue();
            assertThat(j.xlen(RedisKeys.stream(Q))).isZero();
            assertThat(j.keys("spillway:{chained}:job:*")).isEmpty();

            // First in flight: unchecked; it sets its token, kept 60 s.
            assertThat(run(g, first)).isNull();
            assertThat(j.get(chainKey)).isEqualTo("6");
            assertThat(j.pttl(chainKey)).isBetween(1L, 60_000L);
            // Behind it: goes through, sets nothing when no call of the queue follows.
            assertThat(run(g, linked(stream, 3, 3, "6,"))).isNull();
            assertThat(j.get(chainKey)).isEqualTo("6");
            assertThat(j.xlen(RedisKeys.stream(Q))).isEqualTo(6);
            // Behind a call that did not go through (token 8 never set): refused again.
            assertThat(run(g, linked(stream, 6, 3, "8,9"))).hasMessageStartingWith("SPILLWAY_CHAIN ");
            assertThat(j.xlen(RedisKeys.stream(Q))).isEqualTo(6);
            // The unlinked layout (the single enqueue's, and raw callers') still works.
            List<JobRecord> one = List.of(new JobRecord(JobId.of("job-x"), Q, "t", new byte[] {1}, Map.of(), 0, 1, 0));
            RedisGateway.ScriptCall plain = EnqueueScript.call(Q, one, List.of(JobCodec.encode(one.get(0))), 0, 0);
            assertThat(run(g, plain)).isNull();
            assertThat(j.xlen(RedisKeys.stream(Q))).isEqualTo(7);
        }
    }
}
