package io.spillway.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.codahale.metrics.Gauge;
import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.health.HealthCheck.Result;
import io.spillway.core.HealthState;
import io.spillway.core.MetricNames;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(10)
class HealthChecksTest {

    @Test
    void connectionStateIsUnhealthyWhileDisconnectedAndOnceClosed() {
        AtomicReference<HealthState> s = new AtomicReference<>(HealthState.CONNECTED);
        ConnectionStateHealthCheck check = ConnectionStateHealthCheck.of("producer", s::get);
        assertThat(check.execute().isHealthy()).isTrue();
        s.set(HealthState.DISCONNECTED);
        Result down = check.execute();
        assertThat(down.isHealthy()).isFalse();
        assertThat(down.getMessage()).isEqualTo("producer: Redis unavailable, spooling to the local journal");
        s.set(HealthState.RECOVERING);
        assertThat(check.execute().isHealthy()).isTrue();
        s.set(HealthState.CLOSED);
        Result closed = check.execute();
        assertThat(closed.isHealthy()).as("a closed producer takes no jobs").isFalse();
        assertThat(closed.getMessage()).isEqualTo("producer: closed");
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
        v.set(3);
        assertThat(check.execute().getDetails()).containsEntry("state", "CLOSED");
        assertThat(check.execute().isHealthy()).isFalse();
    }

    @Test
    void connectionStateSaysWhatAWorkerDoesWhileRedisIsAway() {
        MetricRegistry registry = new MetricRegistry();
        AtomicInteger v = new AtomicInteger(HealthState.DISCONNECTED.gaugeValue());
        registry.register("spillway.redis.state.worker", (Gauge<Integer>) v::get);
        ConnectionStateHealthCheck check = ConnectionStateHealthCheck.fromRegistry(registry, "worker");
        // A worker has no journal: it stops fetching and keeps the outcomes of the jobs still running.
        assertThat(check.execute().getMessage()).isEqualTo(
                "worker: Redis unavailable, fetching paused; running jobs go on and their outcomes are kept locally");
        v.set(HealthState.RECOVERING.gaugeValue());
        assertThat(check.execute().getMessage()).isEqualTo(
                "worker: Redis is back, sending the outcomes kept locally before fetching again");
        AtomicReference<HealthState> s = new AtomicReference<>(HealthState.DISCONNECTED);
        assertThat(ConnectionStateHealthCheck.of("emails-worker", s::get).execute().getMessage())
                .startsWith("emails-worker: Redis unavailable, fetching paused");
        assertThat(ConnectionStateHealthCheck.of("cache", s::get).execute().getMessage())
                .as("no claim about a component we cannot tell").isEqualTo("cache: Redis unavailable");
        s.set(HealthState.RECOVERING);
        assertThat(ConnectionStateHealthCheck.of("producer", s::get).execute().getMessage())
                .isEqualTo("producer: Redis is back, replaying the journal");
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
    void nullIsBadInputLikeAnyOtherAnIllegalArgumentNamingTheArgument() {
        assertThatThrownBy(() -> JournalHealthCheck.fromRegistry(null))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("registry must not be null");
        assertThatThrownBy(() -> JournalHealthCheck.builder(null, () -> 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("backlog must not be null");
        assertThatThrownBy(() -> ConnectionStateHealthCheck.of("producer", null))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("state must not be null");
        assertThatThrownBy(() -> SpillwayReporting.builder(new MetricRegistry()).csv(null, Duration.ofSeconds(1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("csv directory must not be null");
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
    void journalFromRegistryTurnsUnhealthyNearItsSizeCap() {
        MetricRegistry registry = new MetricRegistry();
        AtomicLong bytes = new AtomicLong();
        registry.register(MetricNames.JOURNAL_BACKLOG, (Gauge<Long>) () -> 900L);
        registry.register(MetricNames.JOURNAL_OLDEST_AGE, (Gauge<Long>) () -> 1_000L);
        registry.register(MetricNames.JOURNAL_BACKLOG_BYTES, (Gauge<Long>) bytes::get);
        registry.register(MetricNames.JOURNAL_MAX_BYTES, (Gauge<Long>) () -> 1L << 30);
        JournalHealthCheck check = JournalHealthCheck.fromRegistry(registry).build();
        // 900 jobs of about 1 MiB: few jobs, young, but close to the 1 GiB cap where enqueues start to throw.
        bytes.set(900L << 20);
        assertThat(check.execute().isHealthy()).isTrue();
        bytes.set((long) (0.9 * (1L << 30)) + 1);
        Result full = check.execute();
        assertThat(full.isHealthy()).isFalse();
        assertThat(full.getMessage()).isEqualTo("journal backlog is 90 % of its size cap (966367642 of 1073741824 bytes;"
                + " limit 90 %): at the cap, enqueues that must spool throw JournalFullException");
        assertThat(full.getDetails()).containsEntry("maxBytes", 1L << 30).containsEntry("backlogBytes", 966367642L);
    }

    @Test
    void journalFromRegistryCountsTheJobsAWriteAheadProducerKeepsUntilTheyComplete() {
        MetricRegistry registry = new MetricRegistry();
        AtomicLong unconfirmed = new AtomicLong();
        registry.register(MetricNames.JOURNAL_BACKLOG, (Gauge<Long>) () -> 0L);
        registry.register(MetricNames.JOURNAL_OLDEST_AGE, (Gauge<Long>) () -> 0L);
        registry.register(MetricNames.JOURNAL_BACKLOG_BYTES, (Gauge<Long>) () -> 100L);
        registry.register(MetricNames.JOURNAL_UNCONFIRMED_BYTES, (Gauge<Long>) unconfirmed::get);
        registry.register(MetricNames.JOURNAL_MAX_BYTES, (Gauge<Long>) () -> 1_000L);
        JournalHealthCheck check = JournalHealthCheck.fromRegistry(registry).build();
        assertThat(check.execute().isHealthy()).isTrue();
        unconfirmed.set(800); // sent to Redis, not completed: they hold room in the journal too
        Result full = check.execute();
        assertThat(full.isHealthy()).isFalse();
        assertThat(full.getDetails()).containsEntry("backlogBytes", 900L);
    }

    @Test
    void journalFillThresholdIsConfigurableAndOffWithoutACap() {
        AtomicLong bytes = new AtomicLong(60);
        AtomicLong cap = new AtomicLong(100);
        JournalHealthCheck check = JournalHealthCheck.builder(() -> 1, () -> 0).bytes(bytes::get, cap::get).maxFill(0.5).build();
        assertThat(check.execute().getMessage()).startsWith("journal backlog is 60 % of its size cap (60 of 100 bytes; limit 50 %)");
        cap.set(-1);
        assertThat(check.execute().isHealthy()).isTrue();
        assertThat(JournalHealthCheck.builder(() -> 1, () -> 0).build().execute().isHealthy()).isTrue();
        assertThat(JournalHealthCheck.DEFAULT_MAX_FILL).isEqualTo(0.9);
        assertThatThrownBy(() -> JournalHealthCheck.builder(() -> 1, () -> 0).maxFill(0))
                .hasMessage("journal maxFill must be in (0, 1], but was 0.0");
        assertThatThrownBy(() -> JournalHealthCheck.builder(() -> 1, () -> 0).maxFill(1.5))
                .hasMessage("journal maxFill must be in (0, 1], but was 1.5");
    }

    @Test
    void aJournalDiskUnderTwiceTheFreeSpaceFloorIsUnhealthyBeforeJobsAreRefused() {
        MetricRegistry registry = new MetricRegistry();
        AtomicLong free = new AtomicLong(200L << 20);
        registry.register(MetricNames.JOURNAL_BACKLOG, (Gauge<Long>) () -> 0L);
        registry.register(MetricNames.JOURNAL_OLDEST_AGE, (Gauge<Long>) () -> 0L);
        registry.register(MetricNames.JOURNAL_DISK_FREE, (Gauge<Long>) free::get);
        registry.register(MetricNames.JOURNAL_DISK_MIN_FREE, (Gauge<Long>) () -> 64L << 20);
        JournalHealthCheck check = JournalHealthCheck.fromRegistry(registry).build();
        assertThat(check.execute().isHealthy()).isTrue();
        free.set(100L << 20); // jobs are still accepted (above 64 MiB), but the margin is going
        Result low = check.execute();
        assertThat(low.isHealthy()).isFalse();
        assertThat(low.getMessage()).isEqualTo("the journal's disk has 100.0 MB free; below 64.0 MB (journalMinFreeDisk)"
                + " enqueues that must spool throw JournalFullException");
        assertThat(low.getDetails()).containsEntry("diskFreeBytes", 100L << 20).containsEntry("diskMinFreeBytes", 64L << 20);
        assertThat(JournalHealthCheck.fromRegistry(registry).minDiskHeadroom(1.5).build().execute().isHealthy()).isTrue();
        free.set(-1); // the file system cannot tell: not checked
        assertThat(check.execute().isHealthy()).isTrue();
        assertThatThrownBy(() -> JournalHealthCheck.builder(() -> 1, () -> 0).minDiskHeadroom(0.5))
                .hasMessage("journal minDiskHeadroom must be >= 1, but was 0.5");
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
    void workerProgressGivenTheWorkersQueuesIgnoresOtherQueues() {
        MetricRegistry registry = new MetricRegistry();
        AtomicLong clock = new AtomicLong();
        AtomicLong mine = new AtomicLong();
        registry.register(MetricNames.perQueue(MetricNames.QUEUE_DEPTH, "mine"), (Gauge<Long>) mine::get);
        // Another team's queue, read by a QueueStats sharing the registry: not this worker's work.
        registry.register(MetricNames.perQueue(MetricNames.QUEUE_DEPTH, "theirs"), (Gauge<Long>) () -> 50L);
        WorkerProgressHealthCheck check = WorkerProgressHealthCheck.fromRegistry(registry, List.of("mine"))
                .stallAfter(Duration.ofSeconds(1)).build(clock::get);
        WorkerProgressHealthCheck everyQueue = WorkerProgressHealthCheck.fromRegistry(registry)
                .stallAfter(Duration.ofSeconds(1)).build(clock::get);
        assertThat(check.execute().getDetails()).containsEntry("waiting", 0L);
        everyQueue.execute();
        clock.addAndGet(Duration.ofSeconds(2).toNanos());
        assertThat(check.execute().getMessage()).isEqualTo("no jobs waiting");
        assertThat(everyQueue.execute().isHealthy()).as("summing every queue, as before").isFalse();
        mine.set(4);
        check.execute();
        clock.addAndGet(Duration.ofSeconds(2).toNanos());
        assertThat(check.execute().getMessage()).isEqualTo("4 jobs waiting and no worker progress for 2 s");

        assertThatThrownBy(() -> WorkerProgressHealthCheck.fromRegistry(registry, List.of()))
                .hasMessage("worker queues must not be empty, but was []");
        assertThatThrownBy(() -> WorkerProgressHealthCheck.fromRegistry(registry, List.of("no spaces")))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void workerProgressDoesNotCountThePausedQueuesJobs() {
        MetricRegistry registry = new MetricRegistry();
        AtomicLong clock = new AtomicLong();
        AtomicLong a = new AtomicLong(5);
        AtomicLong b = new AtomicLong();
        AtomicInteger held = new AtomicInteger(1);
        AtomicInteger clusterPaused = new AtomicInteger();
        registry.register(MetricNames.perQueue(MetricNames.QUEUE_DEPTH, "a"), (Gauge<Long>) a::get);
        registry.register(MetricNames.perQueue(MetricNames.QUEUE_DEPTH, "b"), (Gauge<Long>) b::get);
        registry.register(MetricNames.QUEUES_HELD, (Gauge<Integer>) held::get);
        registry.register(MetricNames.QUEUES_PAUSED, (Gauge<Integer>) clusterPaused::get);
        WorkerProgressHealthCheck check = WorkerProgressHealthCheck.fromRegistry(registry, List.of("a", "b"))
                .stallAfter(Duration.ofSeconds(1)).build(clock::get);
        check.execute();
        clock.addAndGet(Duration.ofSeconds(2).toNanos());
        // An operator paused a: its 5 jobs wait by design, and b has none.
        Result paused = check.execute();
        assertThat(paused.isHealthy()).isTrue();
        assertThat(paused.getMessage()).isEqualTo("no jobs waiting (1 queue paused: their jobs are not counted)");
        assertThat(paused.getDetails()).containsEntry("waiting", 0L).containsEntry("pausedQueues", 1L);
        // Which queue is paused is not in the registry: the fullest is left out, so jobs in b still count.
        b.set(2);
        check.execute();
        clock.addAndGet(Duration.ofSeconds(2).toNanos());
        assertThat(check.execute().getMessage())
                .isEqualTo("2 jobs waiting and no worker progress for 2 s (1 queue paused: their jobs are not counted)");
        // Both paused (one by an operator, one by a Redis Cluster master that cannot serve it): nothing counts.
        clusterPaused.set(1);
        assertThat(check.execute().getDetails()).containsEntry("waiting", 0L).containsEntry("pausedQueues", 2L);
        // Resumed: all 7 count again.
        held.set(0);
        clusterPaused.set(0);
        assertThat(check.execute().getDetails()).containsEntry("waiting", 7L).doesNotContainKey("pausedQueues");
    }

    /**
     * With the worker's per-queue pause gauges the check knows which queues are paused: it leaves out exactly their
     * jobs (a stall of another queue shows while the paused one is empty) and names them.
     */
    @Test
    void workerProgressNamesThePausedQueuesAndLeavesOutExactlyTheirJobs() {
        MetricRegistry registry = new MetricRegistry();
        AtomicLong clock = new AtomicLong();
        AtomicLong a = new AtomicLong();
        AtomicLong b = new AtomicLong(2);
        AtomicInteger aHeld = new AtomicInteger(1);
        AtomicInteger bClusterPaused = new AtomicInteger();
        registry.register(MetricNames.perQueue(MetricNames.QUEUE_DEPTH, "a"), (Gauge<Long>) a::get);
        registry.register(MetricNames.perQueue(MetricNames.QUEUE_DEPTH, "b.x"), (Gauge<Long>) b::get);
        registry.register(MetricNames.QUEUES_HELD, (Gauge<Integer>) aHeld::get);
        registry.register(MetricNames.QUEUES_PAUSED, (Gauge<Integer>) bClusterPaused::get);
        registry.register(MetricNames.perQueue(MetricNames.QUEUES_HELD, "a"), (Gauge<Integer>) aHeld::get);
        registry.register(MetricNames.perQueue(MetricNames.QUEUES_HELD, "b.x"), (Gauge<Integer>) () -> 0);
        registry.register(MetricNames.perQueue(MetricNames.QUEUES_PAUSED, "a"), (Gauge<Integer>) () -> 0);
        registry.register(MetricNames.perQueue(MetricNames.QUEUES_PAUSED, "b.x"), (Gauge<Integer>) bClusterPaused::get);
        WorkerProgressHealthCheck check = WorkerProgressHealthCheck.fromRegistry(registry, List.of("a", "b.x"))
                .stallAfter(Duration.ofSeconds(1)).build(clock::get);
        check.execute();
        clock.addAndGet(Duration.ofSeconds(2).toNanos());
        // a is paused and empty, b.x is not paused and stalls: from the counts alone the fullest queue (b.x) would be
        // left out and the stall missed.
        Result stalled = check.execute();
        assertThat(stalled.isHealthy()).isFalse();
        assertThat(stalled.getMessage())
                .isEqualTo("2 jobs waiting and no worker progress for 2 s (queue a paused: its jobs are not counted)");
        assertThat(stalled.getDetails()).containsEntry("waiting", 2L).containsEntry("pausedQueues", 1L)
                .containsEntry("pausedQueueNames", List.of("a"));
        // b.x's master cannot serve it (Redis Cluster) as well: both named, nothing counts.
        bClusterPaused.set(1);
        Result both = check.execute();
        assertThat(both.isHealthy()).isTrue();
        assertThat(both.getMessage()).isEqualTo("no jobs waiting (queues a, b.x paused: their jobs are not counted)");
        // The check for every queue of the registry names them too.
        assertThat(WorkerProgressHealthCheck.fromRegistry(registry).build(clock::get).execute().getDetails())
                .containsEntry("pausedQueueNames", List.of("a", "b.x"));
        aHeld.set(0);
        bClusterPaused.set(0);
        assertThat(check.execute().getDetails()).containsEntry("waiting", 2L)
                .doesNotContainKeys("pausedQueues", "pausedQueueNames");
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
