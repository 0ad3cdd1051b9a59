package io.spillway.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.health.HealthCheck.Result;
import io.spillway.backend.JobProducer;
import io.spillway.core.MetricNames;
import io.spillway.core.RedisConnection;
import io.spillway.testing.RedisProcess;
import io.spillway.worker.Queues;
import io.spillway.worker.Worker;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** A real worker sharing its registry with a QueueStats that reads every queue of its Redis. */
class WorkerProgressHealthCheckIT {

    @Test
    @Timeout(60)
    void anotherTeamsBacklogAndAPauseOfTheWorkersOwnQueueAreNoStall(@TempDir Path tmp) {
        MetricRegistry registry = new MetricRegistry();
        AtomicLong clock = new AtomicLong();
        try (RedisProcess redis = RedisProcess.builder().build().start();
             JobProducer producer = JobProducer.builder().redis(redis.uri()).journalDir(tmp.resolve("journal")).build();
             Queues queues = Queues.connect(redis.uri());
             Worker worker = Worker.builder().redis(redis.uri()).queue("progress.mine").stateDir(tmp.resolve("worker"))
                     .metricRegistry(registry).handler("t", job -> { }).build();
             QueueStats stats = QueueStats.of(RedisConnection.of(redis.uri())).registerGauges(registry, Duration.ofMillis(100))) {
            worker.start();
            WorkerProgressHealthCheck check = WorkerProgressHealthCheck.fromRegistry(registry, worker.queues())
                    .stallAfter(Duration.ofSeconds(1)).build(clock::get);
            // Another team's queue, nobody working it here.
            for (int i = 0; i < 5; i++) {
                producer.enqueue("progress.theirs", "t", new byte[] {1});
            }
            await().atMost(Duration.ofSeconds(10)).until(() -> waiting(registry, "progress.theirs") == 5);
            check.execute();
            clock.addAndGet(Duration.ofSeconds(2).toNanos());
            assertThat(check.execute().getMessage()).isEqualTo("no jobs waiting");

            // An operator pauses the worker's own queue, and jobs come in: they wait, by design.
            assertThat(queues.pause("progress.mine", "test")).isTrue();
            await().atMost(Duration.ofSeconds(10)).until(() -> gauge(registry, MetricNames.QUEUES_HELD) == 1);
            for (int i = 0; i < 3; i++) {
                producer.enqueue("progress.mine", "t", new byte[] {1});
            }
            await().atMost(Duration.ofSeconds(10)).until(() -> waiting(registry, "progress.mine") == 3);
            check.execute();
            clock.addAndGet(Duration.ofSeconds(2).toNanos());
            Result paused = check.execute();
            assertThat(paused.isHealthy()).as(paused.toString()).isTrue();
            assertThat(paused.getDetails()).containsEntry("waiting", 0L).containsEntry("pausedQueues", 1L)
                    .containsEntry("pausedQueueNames", List.of("progress.mine"));
            // The worker names the queue it holds (a per-queue gauge), and the check's message names it.
            assertThat(paused.getMessage()).isEqualTo("no jobs waiting (queue progress.mine paused: its jobs are not counted)");
            assertThat(gauge(registry, MetricNames.perQueue(MetricNames.QUEUES_HELD, "progress.mine"))).isEqualTo(1);
            assertThat(gauge(registry, MetricNames.perQueue(MetricNames.QUEUES_PAUSED, "progress.mine"))).isZero();

            // Resumed: the worker takes them.
            assertThat(queues.resume("progress.mine")).isTrue();
            await().atMost(Duration.ofSeconds(10)).until(() -> registry.meter(MetricNames.COMPLETED).getCount() == 3);
            clock.addAndGet(Duration.ofSeconds(2).toNanos());
            Result resumed = check.execute();
            assertThat(resumed.isHealthy()).isTrue();
            assertThat(resumed.getDetails()).doesNotContainKeys("pausedQueues", "pausedQueueNames");
            assertThat(gauge(registry, MetricNames.perQueue(MetricNames.QUEUES_HELD, "progress.mine"))).isZero();
        }
    }

    private static long waiting(MetricRegistry registry, String queue) {
        return gauge(registry, MetricNames.perQueue(MetricNames.QUEUE_DEPTH, queue));
    }

    /** The gauge's value, -1 while it is not registered. */
    private static long gauge(MetricRegistry registry, String name) {
        var g = registry.getGauges().get(name);
        return g != null && g.getValue() instanceof Number n ? n.longValue() : -1;
    }
}
