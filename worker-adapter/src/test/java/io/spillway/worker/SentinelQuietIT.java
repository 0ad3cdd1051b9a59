package io.spillway.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.spillway.backend.JobProducer;
import io.spillway.core.HealthState;
import io.spillway.testing.LogCapture;
import io.spillway.testing.RedisProcess;
import io.spillway.testing.SentinelGroup;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Spillway's Sentinel connections without Jedis's Sentinel client (session 19): a sentinel that is down costs no log
 * line above DEBUG and no stack trace (Jedis's listeners logged a WARN with a stack trace every 5 s for each), and an
 * operator tool, which no reconnect loop probes, follows a failover on its own. Real redis-server and sentinels.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
@org.junit.jupiter.api.Tag("first-pass-only") // about 22 s; what the sentinels stop saying is the same on 7.0
class SentinelQuietIT {
    @TempDir
    Path dir;

    @Test
    void aSentinelDownIsQuietAndAToolFollowsAFailover() throws Exception {
        try (SentinelGroup redis = SentinelGroup.builder().sentinels(3).start();
             LogCapture logs = new LogCapture();
             JobProducer producer = JobProducer.builder().redis(redis.uri()).journalDir(dir.resolve("journal")).build();
             Queues queues = Queues.connect(redis.uri())) {
            await().atMost(Duration.ofSeconds(20)).until(() -> producer.state() == HealthState.CONNECTED);
            String q = "quiet-" + System.nanoTime();
            assertThat(queues.pause(q, "before")).isTrue();

            // Two sentinels down for longer than Jedis's listeners waited between their stack traces (5 s).
            redis.killSentinel(0);
            redis.killSentinel(1);
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(7);
            int i = 0;
            while (System.nanoTime() < until) {
                assertThat(producer.enqueue(q, "t", ("job " + i++).getBytes()).spooled()).isFalse();
                Thread.sleep(50);
            }
            assertThat(producer.state()).isEqualTo(HealthState.CONNECTED);
            List<String> loud = logs.lines("").stream().filter(l -> l.contains(" WARN ") || l.contains(" ERROR ")
                    || l.startsWith("\tat ") || l.contains("Exception")).toList();
            assertThat(loud).as("no warning and no stack trace while two of three sentinels are down").isEmpty();
            redis.restartSentinel(0);
            redis.restartSentinel(1);
            redis.awaitFullStrength(Duration.ofSeconds(30));

            // The master dies and a replica is promoted: the tool's next calls reach the new master.
            RedisProcess old = redis.killMaster();
            redis.awaitFailover(old, Duration.ofSeconds(30));
            await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(200)).ignoreExceptions()
                    .until(() -> queues.resume(q));
            assertThat(queues.isPaused(q)).isFalse();
            assertThat(logs.lines("Redis master for " + redis.masterName() + " is now")).isNotEmpty();
            await().atMost(Duration.ofSeconds(30)).until(() -> producer.state() == HealthState.CONNECTED);
        }
    }
}
