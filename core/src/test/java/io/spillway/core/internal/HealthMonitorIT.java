package io.spillway.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.codahale.metrics.MetricRegistry;
import io.spillway.core.HealthState;
import io.spillway.core.MetricNames;
import io.spillway.core.RedisConnection;
import io.spillway.testing.LogCapture;
import io.spillway.testing.RedisProcess;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The reconnect loop: what it says after a Redis restart, how it survives an Error, its state once closed. */
// First pass only (.ci/run's Redis 7.0 pass leaves out the tag first-pass-only): client-side behaviour, the same whatever
// the Redis version.
@org.junit.jupiter.api.Tag("first-pass-only")
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class HealthMonitorIT {
    private static final Backoff QUICK = new Backoff(Duration.ofMillis(20), Duration.ofMillis(200));
    private final List<HealthMonitor> monitors = new ArrayList<>();

    private HealthMonitor closeLater(HealthMonitor m) {
        monitors.add(m);
        return m;
    }

    /** Each test's loops end with it: one left running would write into the next test's captured lines. */
    @AfterEach
    void closeMonitors() {
        monitors.forEach(HealthMonitor::close);
    }

    @Test
    void aRestartIsReportedWithWhatTheComponentDoesAboutIt() throws Exception {
        try (RedisProcess redis = RedisProcess.builder().start(); LogCapture logs = new LogCapture();
             RedisGateway wg = new RedisGateway(RedisConnection.of(redis.uri()), "worker", 2, Duration.ofSeconds(1), new MetricRegistry());
             RedisGateway pg = new RedisGateway(RedisConnection.of(redis.uri()), "producer", 2, Duration.ofSeconds(1), new MetricRegistry())) {
            HealthMonitor worker = closeLater(new HealthMonitor(wg, QUICK, () -> { }, new MetricRegistry(), 100));
            HealthMonitor producer = closeLater(new HealthMonitor(pg, QUICK, () -> { }, new MetricRegistry(), 100));
            producer.sendsRecentWritesAgain(true);
            worker.start();
            producer.start();
            assertThat(worker.awaitConnected(10, TimeUnit.SECONDS)).isTrue();
            assertThat(producer.awaitConnected(10, TimeUnit.SECONDS)).isTrue();
            redis.kill();
            redis.restartEmpty();
            await().atMost(Duration.ofSeconds(20)).until(() -> logs.lines("last saw it (new run id)").size() >= 2);
            // A worker sends nothing again: its line must not say it does.
            assertThat(logs.lines("Redis restarted since worker last saw it")).singleElement().asString()
                    .endsWith("Redis restarted since worker last saw it (new run id): recent writes may be lost");
            assertThat(logs.lines("Redis restarted since producer last saw it")).singleElement().asString()
                    .endsWith("recent writes may be lost; sending them again");
            worker.close();
            producer.close();
        }
    }

    @Test
    void anErrorInARecoveryDoesNotEndTheLoop() throws Exception {
        AtomicInteger recoveries = new AtomicInteger();
        try (RedisProcess redis = RedisProcess.builder().start(); LogCapture logs = new LogCapture();
             RedisGateway g = new RedisGateway(RedisConnection.of(redis.uri()), "producer", 2, Duration.ofSeconds(1), new MetricRegistry())) {
            HealthMonitor m = closeLater(new HealthMonitor(g, QUICK, () -> {
                if (recoveries.incrementAndGet() == 1) {
                    // What a jar replaced under a running JVM throws.
                    throw new NoClassDefFoundError("io/spillway/Missing");
                }
            }, new MetricRegistry(), 100));
            m.start();
            assertThat(m.awaitConnected(10, TimeUnit.SECONDS)).as("connected after the Error, by the next attempt").isTrue();
            assertThat(recoveries.get()).isEqualTo(2);
            assertThat(logs.lines("Reconnect loop error (it keeps running)")).singleElement().asString()
                    .contains("java.lang.NoClassDefFoundError: io/spillway/Missing");
            m.close();
        }
    }

    @Test
    void aMonitorOfARefusingRedisStopsWaitingAtTheFirstFailedAttemptAndSaysClosedOnceClosed() throws Exception {
        try (RedisProcess redis = RedisProcess.builder().start()) {
            RedisConnection c = RedisConnection.of(redis.uri());
            redis.kill();
            MetricRegistry registry = new MetricRegistry();
            try (LogCapture logs = new LogCapture();
                 RedisGateway g = new RedisGateway(c, "producer", 2, Duration.ofSeconds(1), registry)) {
                // A long backoff: a wait that went on to the second attempt would take seconds.
                HealthMonitor m = closeLater(new HealthMonitor(g, new Backoff(Duration.ofSeconds(5), Duration.ofSeconds(5)),
                        () -> { }, registry, 100));
                m.start();
                assertThat(m.awaitConnectedOrFailed(30, TimeUnit.SECONDS)).isFalse();
                assertThat(logs.lines("Reconnect attempt 1 failed")).as("said before the wait ends").singleElement()
                        .asString().contains("connection refused (producer, " + c.redacted() + ")");
                assertThat(m.state()).isEqualTo(HealthState.DISCONNECTED);
                m.close();
                assertThat(m.state()).isEqualTo(HealthState.CLOSED);
                assertThat(registry.getGauges().get(MetricNames.CONNECTION_STATE + ".producer").getValue()).isEqualTo(3);
            }
        }
    }
}
