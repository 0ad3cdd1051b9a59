package io.spillway.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.spillway.backend.JobProducer;
import io.spillway.backend.Receipt;
import io.spillway.core.HealthState;
import io.spillway.core.JobId;
import io.spillway.core.JobState;
import io.spillway.core.QueueName;
import io.spillway.core.RedisConnection;
import io.spillway.core.internal.JobRecord;
import io.spillway.core.internal.RedisKeys;
import io.spillway.testing.RedisProcess;
import io.spillway.worker.internal.JobView;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

/** {@code Job.progress}: what a long handler reports shows in the job's status, through a Redis kill too. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class JobProgressIT {
    @TempDir
    Path dir;
    RedisProcess redis;
    final List<AutoCloseable> open = new ArrayList<>();

    @BeforeEach
    void startRedis() {
        redis = RedisProcess.builder().start();
    }

    @AfterEach
    void stop() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
        redis.close();
    }

    private JobProducer producer() {
        JobProducer p = JobProducer.builder().redis(redis.uri()).journalDir(dir.resolve("journal"))
                .reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(200)).build();
        open.add(p);
        return p;
    }

    private Worker worker(String queue, JobHandler handler) {
        Worker w = Worker.builder()
                .redis(RedisConnection.builder(redis.uri()).socketTimeout(Duration.ofMillis(500)).build())
                .queue(queue).handler("long", handler).stateDir(dir.resolve("worker"))
                .leaseDuration(Duration.ofSeconds(3)).fetchBlock(Duration.ofMillis(100)).build();
        open.add(w);
        w.start();
        return w;
    }

    private static Optional<String> progress(JobProducer p, Receipt r) {
        return p.status(r).progress();
    }

    @Test
    void aHandlersProgressShowsInTheJobsStatusWhileItRunsAndItsLastAfterItCompletes() throws Exception {
        String queue = "progress";
        CountDownLatch step = new CountDownLatch(1);
        CountDownLatch finish = new CountDownLatch(1);
        JobProducer p = producer();
        worker(queue, job -> {
            job.progress("step 1 of 3");
            step.await();
            for (int i = 0; i < 1_000; i++) {
                job.progress("item " + i); // many calls: the latest wins, about one write a second
            }
            job.progress("step 2 of 3");
            finish.await();
            job.progress("done");
        });
        Receipt r = p.enqueue(queue, "long", new byte[0]);
        assertThat(progress(p, r)).isEmpty();
        await().atMost(Duration.ofSeconds(10)).until(() -> progress(p, r).equals(Optional.of("step 1 of 3")));
        assertThat(p.status(r).state()).isEqualTo(JobState.ACTIVE);
        step.countDown();
        await().atMost(Duration.ofSeconds(10)).until(() -> progress(p, r).equals(Optional.of("step 2 of 3")));
        finish.countDown();
        await().atMost(Duration.ofSeconds(10)).until(() -> p.status(r).state() == JobState.COMPLETED);
        // The last progress, reported just before the handler returned, is written after it: within about a second.
        await().atMost(Duration.ofSeconds(10)).until(() -> progress(p, r).equals(Optional.of("done")));
        try (Jedis j = redis.jedis()) {
            long ttl = j.ttl(RedisKeys.progress(QueueName.of(queue), JobId.of(r.jobId())));
            assertThat(ttl).as("kept as long as the completed job's status (24 h), plus the job timeout (1 h)")
                    .isBetween(Duration.ofHours(25).toSeconds() - 60, Duration.ofHours(25).toSeconds());
        }
    }

    /**
     * Redis frozen (SIGSTOP), where a call that waited for Redis would wait out the socket timeout (500 ms here): each
     * progress call returns at once, the run is not failed, and the last text is written once Redis is back.
     */
    @Test
    void progressReportedWhileRedisIsFrozenNeitherWaitsNorFailsTheJobAndIsWrittenOnceRedisIsBack() throws Exception {
        String queue = "progress-outage";
        CountDownLatch down = new CountDownLatch(1);
        CountDownLatch reported = new CountDownLatch(1);
        CountDownLatch finish = new CountDownLatch(1);
        AtomicLong slowestCallNanos = new AtomicLong();
        JobProducer p = producer();
        Worker w = worker(queue, job -> {
            job.progress("started");
            down.await();
            for (int i = 1; i <= 50; i++) {
                long t = System.nanoTime();
                job.progress("while Redis was frozen " + i);
                slowestCallNanos.accumulateAndGet(System.nanoTime() - t, Math::max);
                Thread.sleep(20); // a handler at work between its reports; the timer meanwhile tries to write them
            }
            reported.countDown();
            finish.await();
        });
        Receipt r = p.enqueue(queue, "long", new byte[0]);
        await().atMost(Duration.ofSeconds(10)).until(() -> progress(p, r).equals(Optional.of("started")));
        redis.hang();
        try {
            down.countDown();
            assertThat(reported.await(30, TimeUnit.SECONDS)).as("the 50 reports made while Redis is frozen").isTrue();
            await().atMost(Duration.ofSeconds(10)).until(() -> w.health() != HealthState.CONNECTED);
        } finally {
            redis.resume();
        }
        assertThat(slowestCallNanos.get()).as("a progress call never waits for Redis (socket timeout 500 ms)")
                .isLessThan(TimeUnit.MILLISECONDS.toNanos(250));
        await().atMost(Duration.ofSeconds(30)).until(() -> w.health() == HealthState.CONNECTED);
        await().atMost(Duration.ofSeconds(10)).until(() -> progress(p, r).equals(Optional.of("while Redis was frozen 50")));
        finish.countDown();
        await().atMost(Duration.ofSeconds(30)).until(() -> p.status(r).state() == JobState.COMPLETED);
        assertThat(p.status(r).attempts()).as("the outage did not fail the run").isEqualTo(1);
    }

    @Test
    void progressIsCutAtItsLimitAndNullIsRefused() {
        JobRecord record = new JobRecord(JobId.of("j"), QueueName.of("q"), "t", new byte[0], Map.of(), 0, 0, 0);
        List<String> reported = new ArrayList<>();
        Job job = new JobView(record, () -> false, () -> false, reported::add);
        job.progress("x".repeat(Job.MAX_PROGRESS_CHARS));
        job.progress("y".repeat(Job.MAX_PROGRESS_CHARS + 1));
        assertThat(reported.get(0)).hasSize(Job.MAX_PROGRESS_CHARS);
        assertThat(reported.get(1)).hasSize(Job.MAX_PROGRESS_CHARS).endsWith("y…");
        assertThatThrownBy(() -> job.progress(null)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("progress must not be null");
        Job testDouble = new Job() {
            public String id() {
                return "j";
            }

            public String queue() {
                return "q";
            }

            public String type() {
                return "t";
            }

            public byte[] payload() {
                return new byte[0];
            }

            public Map<String, String> headers() {
                return Map.of();
            }

            public int attempt() {
                return 1;
            }

            public java.time.Instant enqueuedAt() {
                return java.time.Instant.EPOCH;
            }
        };
        testDouble.progress("a test double's progress goes nowhere");
        assertThatThrownBy(() -> testDouble.progress(null)).isInstanceOf(IllegalArgumentException.class);
    }
}
