package io.spillway.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.spillway.core.QueueName;
import io.spillway.core.internal.RedisKeys;
import io.spillway.testing.RedisProcess;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

/**
 * Redis loses its scripts while the worker stays connected (SCRIPT FLUSH): the heartbeat, sent in a pipeline whose
 * reply it did not read, stopped for good, and other workers took this live one for gone. It now loads the script
 * again and beats on.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
@Tag("first-pass-only") // a 15 s heartbeat: the same whatever the Redis version
class HeartbeatAfterScriptFlushIT {
    @TempDir
    Path dir;

    @Test
    void theHeartbeatGoesOnAfterRedisLostItsScripts() {
        try (RedisProcess redis = RedisProcess.builder().start(); Jedis j = redis.jedis();
             Worker w = Worker.builder().redis(redis.uri()).queue("beats").stateDir(dir).fetchBlock(Duration.ofMillis(100))
                     .handler("t", job -> { }).build()) {
            w.start();
            String workers = RedisKeys.workers(QueueName.of("beats"));
            await().atMost(Duration.ofSeconds(10)).until(() -> j.zscore(workers, w.name()) != null);
            double first = j.zscore(workers, w.name());
            j.scriptFlush();
            await().atMost(Duration.ofSeconds(25)).until(() -> j.zscore(workers, w.name()) > first);
            assertThat(j.zscore(workers, w.name())).isGreaterThan(first);
        }
    }
}
