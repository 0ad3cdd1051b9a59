package io.spillway.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.codahale.metrics.Gauge;
import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.health.HealthCheck.Result;
import io.spillway.core.HealthState;
import io.spillway.core.MetricNames;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(10)
class HealthChecksTest {

    @Test
    void connectionStateIsUnhealthyOnlyWhileDisconnected() {
        AtomicReference<HealthState> s = new AtomicReference<>(HealthState.CONNECTED);
        ConnectionStateHealthCheck check = ConnectionStateHealthCheck.of("producer", s::get);
        assertThat(check.execute().isHealthy()).isTrue();
        s.set(HealthState.DISCONNECTED);
        Result down = check.execute();
        assertThat(down.isHealthy()).isFalse();
        assertThat(down.getMessage()).isEqualTo("producer: Redis unavailable, spooling to the local journal");
        s.set(HealthState.RECOVERING);
        assertThat(check.execute().isHealthy()).isTrue();
    }

    @Test
    void connectionStateFromGaugeIsUnhealthyWithoutTheGauge() {
        MetricRegistry registry = new MetricRegistry();
        ConnectionStateHealthCheck check = ConnectionStateHealthCheck.fromRegistry(registry, "worker");
        assertThat(check.execute().isHealthy()).isFalse();
        AtomicInteger v = new AtomicInteger(1);
        registry.register("spillway.redis.state.worker", (Gauge<Integer>) v::get);
        assertThat(check.execute().getDetails()).containsEntry("state", "DISCONNECTED");
        v.set(0);
        assertThat(check.execute().isHealthy()).isTrue();
    }

    @Test
    void journalTurnsUnhealthyPastEitherThreshold() {
        AtomicLong backlog = new AtomicLong();
        AtomicLong age = new AtomicLong();
        JournalHealthCheck check = JournalHealthCheck.builder(backlog::get, age::get)
                .maxBacklog(100).maxOldestAge(Duration.ofSeconds(60)).build();
        assertThat(check.execute().getMessage()).isEqualTo("journal empty");
        backlog.set(100);
        age.set(60_000);
        assertThat(check.execute().isHealthy()).isTrue();
        backlog.set(101);
        assertThat(check.execute().getMessage()).isEqualTo("journal holds 101 jobs not yet replayed (limit 100)");
        backlog.set(5);
        age.set(61_000);
        Result old = check.execute();
        assertThat(old.isHealthy()).isFalse();
        assertThat(old.getMessage()).isEqualTo("oldest spooled job waits for replay since 61 s (limit 60 s)");
        assertThatThrownBy(() -> JournalHealthCheck.builder(backlog::get, age::get).maxBacklog(-1))
                .hasMessage("journal maxBacklog must be >= 0, but was -1");
    }

    @Test
    void journalFromRegistryReadsTheJournalGaugesAndIsHealthyWithoutThem() {
        MetricRegistry registry = new MetricRegistry();
        JournalHealthCheck check = JournalHealthCheck.fromRegistry(registry).maxBacklog(10).build();
        assertThat(check.execute().getMessage()).isEqualTo("no journal in this process");
        registry.register(MetricNames.JOURNAL_BACKLOG, (Gauge<Long>) () -> 11L);
        registry.register(MetricNames.JOURNAL_OLDEST_AGE, (Gauge<Long>) () -> 5L);
        assertThat(check.execute().isHealthy()).isFalse();
        assertThat(JournalHealthCheck.DEFAULT_MAX_BACKLOG).isEqualTo(100_000);
        assertThat(JournalHealthCheck.DEFAULT_MAX_OLDEST_AGE).isEqualTo(Duration.ofMinutes(5));
    }

    @Test
    void workerProgressIsAStallOnlyWhileWorkWaitsAndNothingMoves() {
        AtomicLong clock = new AtomicLong();
        AtomicLong progress = new AtomicLong();
        AtomicLong waiting = new AtomicLong();
        WorkerProgressHealthCheck check = WorkerProgressHealthCheck.builder(progress::get, waiting::get)
                .stallAfter(Duration.ofSeconds(30)).build(clock::get);
        assertThat(check.execute().isHealthy()).isTrue();
        clock.addAndGet(Duration.ofMinutes(10).toNanos());
        assertThat(check.execute().getMessage()).isEqualTo("no jobs waiting");
        waiting.set(4);
        clock.addAndGet(Duration.ofSeconds(29).toNanos());
        assertThat(check.execute().isHealthy()).isTrue();
        clock.addAndGet(Duration.ofSeconds(2).toNanos());
        Result stalled = check.execute();
        assertThat(stalled.isHealthy()).isFalse();
        assertThat(stalled.getMessage()).isEqualTo("4 jobs waiting and no worker progress for 31 s");
        progress.incrementAndGet();
        assertThat(check.execute().isHealthy()).isTrue();
    }

    @Test
    void workerProgressFromRegistrySumsWorkerMetersAndQueueGauges() {
        MetricRegistry registry = new MetricRegistry();
        AtomicLong clock = new AtomicLong();
        WorkerProgressHealthCheck check = WorkerProgressHealthCheck.fromRegistry(registry)
                .stallAfter(Duration.ofSeconds(1)).build(clock::get);
        registry.register(MetricNames.perQueue(MetricNames.QUEUE_DEPTH, "a"), (Gauge<Long>) () -> 2L);
        registry.register(MetricNames.perQueue(MetricNames.QUEUE_DEPTH, "b"), (Gauge<Long>) () -> 3L);
        assertThat(check.execute().getDetails()).containsEntry("waiting", 5L).containsEntry("progress", 0L);
        clock.addAndGet(Duration.ofSeconds(2).toNanos());
        assertThat(check.execute().isHealthy()).isFalse();
        registry.meter(MetricNames.perQueue(MetricNames.LEASE_RENEWALS, "a")).mark();
        assertThat(check.execute().isHealthy()).isTrue();
        registry.counter(MetricNames.COMPLETED).inc(2);
        assertThat(check.execute().getDetails()).containsEntry("progress", 3L);
    }

    @Test
    void watchdogNeedsEveryChildUp() {
        MetricRegistry registry = new MetricRegistry();
        WatchdogHealthCheck check = WatchdogHealthCheck.fromRegistry(registry);
        assertThat(check.execute().isHealthy()).isFalse();
        AtomicInteger redis = new AtomicInteger(1);
        registry.register("spillway.watchdog.up.redis", (Gauge<Integer>) redis::get);
        registry.register("spillway.watchdog.up.sentinel", (Gauge<Boolean>) () -> true);
        assertThat(check.execute().getMessage()).isEqualTo("watchdog children up: redis, sentinel");
        redis.set(0);
        assertThat(check.execute().getMessage()).isEqualTo("watchdog children down: redis");
    }
}
