package io.spillway.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.spillway.backend.JobProducer;
import io.spillway.backend.Receipt;
import io.spillway.core.HealthState;
import io.spillway.core.JobState;
import io.spillway.core.QueueName;
import io.spillway.core.RedisConnection;
import io.spillway.testing.RedisProcess;
import io.spillway.worker.internal.AckLog;
import io.spillway.worker.internal.Outcome;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Outcomes kept on disk (or left in the state directory by a worker that is gone) for a queue that has no consumer
 * group in Redis any more -- lost in a restart without its data, or the queue removed: no job is leased there, so
 * there is nothing to settle. Before, NOGROUP failed every recovery, and the worker never fetched again.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class KeptOutcomesOfAGoneQueueIT {
    @TempDir
    Path dir;

    @Test
    void aWorkerWhoseStateDirectoryHoldsOutcomesOfAQueueWithNoGroupStartsAndRunsItsJobs() {
        try (RedisProcess redis = RedisProcess.builder().start();
             JobProducer p = JobProducer.builder().redis(redis.uri()).journalDir(dir.resolve("journal")).build()) {
            Path state = dir.resolve("worker");
            RedisConnection connection = RedisConnection.of(redis.uri());
            try (AckLog left = AckLog.open(state, AckLog.scopeOf(connection))) {
                left.append(List.of(Outcome.ack(QueueName.of("retired"), "1-0", "old-job", 1, System.currentTimeMillis(),
                        "a-worker-that-is-gone")));
            }
            try (Worker w = Worker.builder().redis(connection).queue("current").stateDir(state)
                    .fetchBlock(Duration.ofMillis(100)).handler("t", job -> { }).build()) {
                w.start();
                Receipt r = p.enqueue("current", "t", new byte[0]);
                await().atMost(Duration.ofSeconds(20)).until(() -> p.status(r).state() == JobState.COMPLETED);
                assertThat(w.health()).isEqualTo(HealthState.CONNECTED);
                assertThat(w.acksPendingLocally()).isZero();
            }
        }
    }
}
