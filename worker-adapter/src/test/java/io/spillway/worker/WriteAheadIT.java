package io.spillway.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.spillway.backend.JobProducer;
import io.spillway.backend.Receipt;
import io.spillway.core.HealthState;
import io.spillway.core.JournalFullException;
import io.spillway.core.MetricNames;
import io.spillway.core.QueueName;
import io.spillway.core.internal.RedisKeys;
import io.spillway.testing.LogCapture;
import io.spillway.testing.RedisProcess;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

/**
 * The write-ahead mode, for a Redis that keeps nothing on disk: a restart that empties Redis loses no accepted job,
 * because the producer keeps every job in its journal until a worker has completed it, and sends the unconfirmed ones
 * again when Redis comes back with a new run id. Each test runs a real redis-server without AOF or RDB and restarts
 * it empty; the first also shows that without the mode the same restart loses the jobs.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
@org.junit.jupiter.api.Tag("first-pass-only") // Redis restarts empty (no persistence): the producer's journal is what is tested
class WriteAheadIT {
    @TempDir
    Path dir;

    private static RedisProcess noPersistence() {
        return RedisProcess.builder().appendOnly(false).save("").start();
    }

    private static JobProducer.Builder producer(RedisProcess redis, Path journal) {
        return JobProducer.builder().redis(redis.uri()).journalDir(journal)
                .reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(200));
    }

    private Worker worker(RedisProcess redis, String q, String name, Map<String, AtomicInteger> handled) {
        return Worker.builder().redis(redis.uri()).queue(q).stateDir(dir.resolve(name)).fetchBlock(Duration.ofMillis(50))
                .handler("t", job -> handled.computeIfAbsent(job.id(), k -> new AtomicInteger()).incrementAndGet())
                .build();
    }

    private static long unconfirmed(JobProducer p) {
        return (Long) p.metrics().getGauges().get(MetricNames.JOURNAL_UNCONFIRMED).getValue();
    }

    @Test
    void aRedisRestartedEmptyLosesNoJobAndCompletedJobsAreNotSentAgain() throws Exception {
        String q = "wa-" + System.nanoTime();
        String stream = RedisKeys.stream(QueueName.of(q));
        byte[] payload = new byte[200];
        Map<String, AtomicInteger> handled = new ConcurrentHashMap<>();
        try (RedisProcess redis = noPersistence(); Jedis admin = redis.jedis(); LogCapture logs = new LogCapture();
             JobProducer producer = producer(redis, dir.resolve("journal")).writeAhead(true).build()) {
            await().atMost(10, TimeUnit.SECONDS).until(() -> producer.state() == HealthState.CONNECTED);
            assertThat(producer.config().writeAhead()).isTrue();
            assertThat(logs.lines("producer keeps every job in its write-ahead journal until it completes"))
                    .as("the connect check says the mode covers a Redis without persistence").isNotEmpty();
            List<String> done = new ArrayList<>();
            try (Worker w = worker(redis, q, "worker-1", handled)) {
                w.start();
                for (int i = 0; i < 500; i++) {
                    Receipt r = producer.enqueue(q, "t", payload);
                    assertThat(r.spooled()).as("write-ahead: journaled first").isTrue();
                    done.add(r.jobId());
                }
                await().atMost(30, TimeUnit.SECONDS).until(() -> handled.size() == 500);
                await().atMost(10, TimeUnit.SECONDS).until(() -> unconfirmed(producer) == 0);
            }
            List<String> waiting = new ArrayList<>();
            List<Receipt> batch = producer.enqueueAll(q, "t", java.util.Collections.nCopies(1000, payload));
            batch.forEach(r -> waiting.add(r.jobId()));
            assertThat(batch).allSatisfy(r -> assertThat(r.spooled()).isTrue());
            await().atMost(10, TimeUnit.SECONDS).until(() -> admin.xlen(stream) == 1000 && producer.journalBacklog() == 0);
            assertThat(unconfirmed(producer)).as("queued, not completed").isEqualTo(1000);

            redis.kill();
            redis.restartEmpty();
            try (Jedis after = redis.jedis()) {
                await().atMost(20, TimeUnit.SECONDS).until(() -> after.xlen(stream) == 1000);
                // The line comes once the re-send's last reply is in: a moment after the stream is whole.
                await().atMost(10, TimeUnit.SECONDS).until(() -> !logs.lines("again after the Redis restart").isEmpty());
                assertThat(logs.lines("not yet confirmed completed again after the Redis restart"))
                        .anySatisfy(l -> assertThat(l).contains("Sent 1000 jobs", "1000 had been lost and are restored"));
            }
            try (Worker w = worker(redis, q, "worker-2", handled)) {
                w.start();
                await().atMost(30, TimeUnit.SECONDS).until(() -> handled.size() == 1500);
                await().atMost(10, TimeUnit.SECONDS).until(() -> unconfirmed(producer) == 0);
            }
            assertThat(handled.keySet()).containsAll(done).containsAll(waiting).hasSize(1500);
            assertThat(handled.values()).as("each job ran once: completed jobs were not sent again")
                    .allSatisfy(n -> assertThat(n.get()).isEqualTo(1));
        }

        // The same restart without the mode (and without the resend window, which covers only the last 5 s): lost.
        String q2 = q + "-plain";
        try (RedisProcess redis = noPersistence();
             JobProducer producer = producer(redis, dir.resolve("journal-plain")).resendAfterRestart(Duration.ZERO, 0).build()) {
            await().atMost(10, TimeUnit.SECONDS).until(() -> producer.state() == HealthState.CONNECTED);
            producer.enqueueAll(q2, "t", java.util.Collections.nCopies(100, payload));
            redis.kill();
            redis.restartEmpty();
            await().atMost(10, TimeUnit.SECONDS).until(() -> producer.state() == HealthState.CONNECTED);
            try (Jedis after = redis.jedis()) {
                // The control loses its jobs: for a whole second after it reconnected, its stream stays gone.
                await().during(1, TimeUnit.SECONDS).atMost(3, TimeUnit.SECONDS)
                        .until(() -> !after.exists(RedisKeys.stream(QueueName.of(q2))));
            }
        }
    }

    @Test
    void aProducerReopenedOnItsJournalSendsAgainWhatARedisRestartedMeanwhileLost() throws Exception {
        String q = "wa-reopen-" + System.nanoTime();
        String stream = RedisKeys.stream(QueueName.of(q));
        Path journal = dir.resolve("journal");
        List<String> accepted = new ArrayList<>();
        try (RedisProcess redis = noPersistence(); Jedis admin = redis.jedis()) {
            // The resend window off: the mode does not depend on it (it keeps the run id on its own).
            try (JobProducer first = producer(redis, journal).writeAhead(true).resendAfterRestart(Duration.ZERO, 0).build()) {
                await().atMost(10, TimeUnit.SECONDS).until(() -> first.state() == HealthState.CONNECTED);
                for (int i = 0; i < 300; i++) {
                    accepted.add(first.enqueue(q, "t", ("job-" + i).getBytes()).jobId());
                }
                await().atMost(10, TimeUnit.SECONDS).until(() -> admin.xlen(stream) == 300);
            }
            redis.kill();
            redis.restartEmpty();
            Map<String, AtomicInteger> handled = new ConcurrentHashMap<>();
            try (JobProducer second = producer(redis, journal).writeAhead(true).resendAfterRestart(Duration.ZERO, 0).build();
                 Worker w = worker(redis, q, "worker", handled)) {
                assertThat(unconfirmed(second) + second.journalBacklog()).isEqualTo(300);
                w.start();
                await().atMost(30, TimeUnit.SECONDS).until(() -> handled.size() == 300);
                await().atMost(10, TimeUnit.SECONDS).until(() -> unconfirmed(second) == 0);
            }
            assertThat(handled.keySet()).containsExactlyInAnyOrderElementsOf(accepted);
        }
    }

    @Test
    void jobsNotCompletedCountAgainstTheJournalCapUntilAWorkerCompletesThem() throws Exception {
        String q = "wa-cap-" + System.nanoTime();
        Map<String, AtomicInteger> handled = new ConcurrentHashMap<>();
        try (RedisProcess redis = noPersistence();
             JobProducer producer = producer(redis, dir.resolve("journal")).writeAhead(true).journalMaxBytes(64 << 10)
                     .maxPayloadBytes(1024).build()) {
            await().atMost(10, TimeUnit.SECONDS).until(() -> producer.state() == HealthState.CONNECTED);
            byte[] payload = new byte[1000];
            int accepted = 0;
            while (true) {
                try {
                    producer.enqueue(q, "t", payload);
                    accepted++;
                } catch (JournalFullException full) {
                    assertThat(accepted).isBetween(40, 70);
                    break;
                }
            }
            await().atMost(10, TimeUnit.SECONDS).until(() -> producer.journalBacklog() == 0);
            assertThatThrownBy(() -> producer.enqueue(q, "t", payload)).as("in Redis, not completed: still held")
                    .isInstanceOf(JournalFullException.class).hasMessageContaining("write-ahead");
            try (Worker w = worker(redis, q, "worker", handled)) {
                w.start();
                int n = accepted;
                await().atMost(30, TimeUnit.SECONDS).until(() -> handled.size() == n);
                await().atMost(10, TimeUnit.SECONDS).until(() -> unconfirmed(producer) == 0);
            }
            assertThat(producer.enqueue(q, "t", payload).spooled()).isTrue();
        }
    }

    @Test
    void aCancelledJobLeavesTheWriteAheadJournalAndIsNotSentAgainAfterAnEmptyRestart() throws Exception {
        String q = "wa-cancel-" + System.nanoTime();
        String stream = RedisKeys.stream(QueueName.of(q));
        Map<String, AtomicInteger> handled = new ConcurrentHashMap<>();
        try (RedisProcess redis = noPersistence(); Jedis admin = redis.jedis();
             JobProducer producer = producer(redis, dir.resolve("journal")).writeAhead(true).build()) {
            await().atMost(10, TimeUnit.SECONDS).until(() -> producer.state() == HealthState.CONNECTED);
            // The first job: the journal confirms jobs in its order, so a finished one leaves the count at once only
            // when no earlier job is still unfinished.
            String cancelled = producer.enqueue(q, "t", new byte[10]).jobId();
            List<String> kept = new ArrayList<>();
            kept.add(producer.enqueue(q, "t", new byte[10]).jobId());
            kept.add(producer.enqueue(q, "t", new byte[10]).jobId());
            await().atMost(10, TimeUnit.SECONDS).until(() -> admin.xlen(stream) == 3 && unconfirmed(producer) == 3);

            assertThat(producer.cancel(q, cancelled).state()).isEqualTo(io.spillway.core.JobState.CANCELLED);
            await().atMost(10, TimeUnit.SECONDS).until(() -> unconfirmed(producer) == 2);

            // Redis comes back empty: the producer sends again what is not completed, and the cancelled job is not
            // among it (the tombstone went with Redis's data; the journal no longer holds the job).
            redis.kill();
            redis.restartEmpty();
            await().atMost(20, TimeUnit.SECONDS).ignoreExceptions().until(() -> {
                try (Jedis fresh = redis.jedis()) {
                    return producer.state() == HealthState.CONNECTED && fresh.xlen(stream) == 2;
                }
            });
            try (Worker w = worker(redis, q, "worker", handled)) {
                w.start();
                await().atMost(20, TimeUnit.SECONDS).until(() -> handled.size() == 2 && unconfirmed(producer) == 0);
            }
            assertThat(handled.keySet()).containsExactlyInAnyOrderElementsOf(kept);
        }
    }

    /**
     * A cancelled job behind one still unfinished stays in the write-ahead journal (confirmation goes in journal order).
     * A producer reopened on the journal after Redis restarted empty sends every unconfirmed job again: it must make the
     * cancellation again first (from the journal directory's cancel log), however long ago it was made, or the
     * cancelled job runs. The resend window is off: the mode does not depend on it.
     */
    @Test
    void aCancelledJobBehindAnUnfinishedOneIsNotSentAgainByAProducerReopenedAfterAnEmptyRestart() throws Exception {
        String q = "wa-cancel-reopen-" + System.nanoTime();
        String stream = RedisKeys.stream(QueueName.of(q));
        Path journal = dir.resolve("journal");
        String kept;
        String cancelled;
        String cancelledLater;
        try (RedisProcess redis = noPersistence(); Jedis admin = redis.jedis()) {
            try (JobProducer first = producer(redis, journal).writeAhead(true).resendAfterRestart(Duration.ZERO, 0).build()) {
                await().atMost(10, TimeUnit.SECONDS).until(() -> first.state() == HealthState.CONNECTED);
                kept = first.enqueue(q, "t", new byte[10]).jobId();
                cancelled = first.enqueue(q, "t", new byte[10]).jobId();
                await().atMost(10, TimeUnit.SECONDS).until(() -> admin.xlen(stream) == 2 && unconfirmed(first) == 2);
                assertThat(first.cancel(q, cancelled).state()).isEqualTo(io.spillway.core.JobState.CANCELLED);
                // Longer than the producers' default resend window before the last cancellation: only the write-ahead
                // cancel window reaches back to the first one.
                Thread.sleep(6_000);
                cancelledLater = first.enqueue(q, "t", new byte[10]).jobId();
                await().atMost(10, TimeUnit.SECONDS).until(() -> admin.xlen(stream) == 3);
                assertThat(first.cancel(q, cancelledLater).state()).isEqualTo(io.spillway.core.JobState.CANCELLED);
                assertThat(unconfirmed(first)).as("the cancelled jobs wait behind the unfinished one").isEqualTo(3);
            }
            redis.kill();
            redis.restartEmpty();
            Map<String, AtomicInteger> handled = new ConcurrentHashMap<>();
            try (JobProducer second = producer(redis, journal).writeAhead(true).resendAfterRestart(Duration.ZERO, 0).build()) {
                await().atMost(20, TimeUnit.SECONDS).until(() -> second.state() == HealthState.CONNECTED);
                try (Jedis fresh = redis.jedis()) {
                    assertThat(fresh.xlen(stream)).as("only the job not cancelled is sent again").isEqualTo(1);
                    assertThat(fresh.get(RedisKeys.job(QueueName.of(q), io.spillway.core.JobId.of(cancelled)))).startsWith("K");
                    assertThat(fresh.get(RedisKeys.job(QueueName.of(q), io.spillway.core.JobId.of(cancelledLater))))
                            .startsWith("K");
                }
                try (Worker w = worker(redis, q, "worker", handled)) {
                    w.start();
                    await().atMost(20, TimeUnit.SECONDS).until(() -> handled.size() == 1 && unconfirmed(second) == 0);
                }
            }
            assertThat(handled.keySet()).containsExactly(kept);
        }
    }
}
