package io.spillway.core.internal;

import static org.assertj.core.api.Assertions.assertThat;

import com.codahale.metrics.MetricRegistry;
import io.spillway.core.RedisConnection;
import io.spillway.testing.RedisProcess;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** A Redis that goes away must not leak pooled connections, whatever call found it gone. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class PoolLeakIT {
    @Test
    void failedCallsAndPipelinesGiveTheirConnectionsBack() {
        try (RedisProcess redis = RedisProcess.builder().start();
             RedisGateway g = new RedisGateway(RedisConnection.of(redis.uri()), "test", 4, Duration.ofSeconds(1), new MetricRegistry())) {
            g.close("start closed");
            g.execute(c -> c.ping());
            g.stream(LuaScript.ENQUEUE, () -> null, (call, reply) -> { }, 1, false);
            redis.kill();
            for (int i = 0; i < 20; i++) {
                try {
                    g.executeDirect(c -> c.ping());
                } catch (RuntimeException expected) {
                    // down
                }
                try {
                    g.pipelined(false, p -> {
                        var r = p.exists("k");
                        return r::get;
                    });
                } catch (RuntimeException expected) {
                    // down
                }
            }
            redis.restart();
            long t = System.nanoTime();
            for (int i = 0; i < 8; i++) {
                try {
                    g.pipelined(false, p -> {
                        var r = p.exists("k");
                        return r::get;
                    });
                } catch (RuntimeException stale) {
                    // a stale connection fails once
                }
            }
            // A leaked pool makes every borrow wait its max wait (connect + socket timeout, 700 ms): 8 calls
            // would take over 5.6 s. The bound leaves a busy machine room for reconnecting after the restart.
            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t)).isLessThan(3_000);
            String pong = g.executeDirect(c -> c.ping());
            assertThat(pong).isEqualTo("PONG");
        }
    }
}
