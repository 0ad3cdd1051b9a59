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
import io.spillway.testing.ChildJvm;
import io.spillway.testing.RedisProcess;
import io.spillway.worker.internal.JobView;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.StreamEntryID;
import redis.clients.jedis.params.XClaimParams;
import redis.clients.jedis.params.XPendingParams;

/**
 * {@code Job.checkpoint} / {@code Job.lastCheckpoint}: a long job's later run resumes where an earlier one got to — after
 * a failure, after its worker was SIGKILLed — and a save never fails the run while Redis is frozen.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class JobCheckpointIT {
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

    private Worker worker(String queue, String type, JobHandler handler) {
        Worker w = Worker.builder()
                .redis(RedisConnection.builder(redis.uri()).socketTimeout(Duration.ofMillis(500)).build())
                .queue(queue).handler(type, handler).stateDir(dir.resolve("worker-" + queue))
                .retryPolicy(RetryPolicy.of(3, Duration.ofMillis(100), Duration.ofMillis(100)))
                .leaseDuration(Duration.ofSeconds(2)).fetchBlock(Duration.ofMillis(100)).build();
        open.add(w);
        w.start();
        return w;
    }

    private String stored(String queue, String jobId) {
        try (Jedis j = redis.jedis()) {
            return j.get(RedisKeys.checkpoint(QueueName.of(queue), JobId.of(jobId)));
        }
    }

    @Test
    void aRetryResumesFromTheLastCheckpointOfTheFailedRunAndCompletionDeletesIt() {
        String queue = "ckpt-retry";
        List<String> seen = new CopyOnWriteArrayList<>();
        List<Boolean> saved = new CopyOnWriteArrayList<>();
        JobProducer p = producer();
        worker(queue, "export", job -> {
            seen.add(job.attempt() + ":" + job.lastCheckpoint().orElse("none"));
            int from = job.lastCheckpoint().map(Integer::parseInt).orElse(0);
            for (int row = from + 1; row <= from + 3; row++) {
                saved.add(job.checkpoint(Integer.toString(row)));
            }
            seen.add(job.attempt() + ":" + job.lastCheckpoint().orElse("none")); // its own save, from memory
            if (job.attempt() == 1) {
                throw new IllegalStateException("the first run fails after row 3");
            }
        });
        Receipt r = p.enqueue(queue, "export", new byte[0]);
        await().atMost(Duration.ofSeconds(20)).until(() -> p.status(r).state() == JobState.COMPLETED);
        assertThat(seen).containsExactly("1:none", "1:3", "2:3", "2:6");
        assertThat(saved).as("each save, made while Redis is up, is in Redis when it returns").containsOnly(true).hasSize(6);
        await().atMost(Duration.ofSeconds(10)).until(() -> stored(queue, r.jobId()) == null);
    }

    @Test
    void aJobWithoutCheckpointsLeavesNoKeyAndAFailedRunsCheckpointIsKeptForDays() {
        String queue = "ckpt-ttl";
        CountDownLatch saved = new CountDownLatch(1);
        JobProducer p = producer();
        worker(queue, "export", job -> {
            if (job.payloadAsString().equals("saves")) {
                job.checkpoint("row 7");
                saved.countDown();
                throw new NonRetryableException("dead-lettered after row 7");
            }
        });
        Receipt plain = p.enqueue(queue, "export", new byte[0]);
        Receipt saving = p.enqueue(queue, "export", "saves".getBytes());
        await().atMost(Duration.ofSeconds(20)).until(() -> p.status(plain).state() == JobState.COMPLETED
                && p.status(saving).state() == JobState.DEAD);
        assertThat(stored(queue, plain.jobId())).isNull();
        assertThat(stored(queue, saving.jobId())).as("kept for a dead letter's retry").isEqualTo("row 7");
        try (Jedis j = redis.jedis()) {
            assertThat(j.ttl(RedisKeys.checkpoint(QueueName.of(queue), JobId.of(saving.jobId()))))
                    .isBetween(TimeUnit.DAYS.toSeconds(Job.CHECKPOINT_TTL_DAYS) - 60, TimeUnit.DAYS.toSeconds(Job.CHECKPOINT_TTL_DAYS));
        }
    }

    /**
     * The worker JVM running the job is SIGKILLed mid-run; another worker takes the job once its lease ends and resumes
     * from the last checkpoint the killed run saved (each save's return printed by the child, and read in Redis).
     */
    @Test
    void aWorkerKilledMidJobLeavesItsLastCheckpointToTheWorkerThatTakesItOver() {
        String queue = "ckpt-crash";
        try (Jobs jobs = new Jobs(redis.uri())) {
            ChildJvm child = ChildJvm.builder(WorkerMain.class)
                    .args(redis.uri().toString(), queue, dir.resolve("child.record").toString(),
                            dir.resolve("child-state").toString(), "1", "0", "2000", "0")
                    .jvmArgs("-Xmx256m", "-XX:TieredStopAtLevel=1")
                    .start();
            open.add(child);
            jobs.enqueue(queue, "work", "ckpt-1");
            child.awaitOutput("checkpoint ckpt-1 8 saved=true", Duration.ofSeconds(60));
            child.kill();
            int lastSaved = 0;
            Matcher m = Pattern.compile("checkpoint ckpt-1 (\\d+) saved=true").matcher(child.output());
            while (m.find()) {
                lastSaved = Integer.parseInt(m.group(1));
            }
            String inRedis = stored(queue, "ckpt-1");
            assertThat(Integer.parseInt(inRedis)).as("the last save that returned true (or one made as it died)")
                    .isBetween(lastSaved, lastSaved + 1);

            List<String> resumedFrom = new CopyOnWriteArrayList<>();
            worker(queue, "work", job -> resumedFrom.add(job.lastCheckpoint().orElse("none")));
            await().atMost(Duration.ofSeconds(30)).until(() -> !resumedFrom.isEmpty());
            assertThat(resumedFrom).containsExactly(inRedis);
            await().atMost(Duration.ofSeconds(10)).until(() -> stored(queue, "ckpt-1") == null);
        }
    }

    /**
     * Redis frozen (SIGSTOP) mid-run: a save returns false within about the socket timeout (500 ms), later ones at once,
     * the run goes on, and the latest state is written once Redis is back.
     */
    @Test
    void whileRedisIsFrozenASaveReturnsFalseWithoutFailingTheRunAndTheLatestIsWrittenOnceRedisIsBack() throws Exception {
        String queue = "ckpt-frozen";
        CountDownLatch first = new CountDownLatch(1);
        CountDownLatch frozen = new CountDownLatch(1);
        CountDownLatch savedWhileFrozen = new CountDownLatch(1);
        CountDownLatch finish = new CountDownLatch(1);
        List<Boolean> results = new CopyOnWriteArrayList<>();
        List<Long> callMillis = new CopyOnWriteArrayList<>();
        JobProducer p = producer();
        Worker w = worker(queue, "export", job -> {
            results.add(job.checkpoint("1"));
            first.countDown();
            frozen.await();
            for (int i = 2; i <= 10; i++) {
                long t = System.nanoTime();
                results.add(job.checkpoint(Integer.toString(i)));
                callMillis.add(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t));
            }
            savedWhileFrozen.countDown();
            finish.await();
        });
        Receipt r = p.enqueue(queue, "export", new byte[0]);
        assertThat(first.await(20, TimeUnit.SECONDS)).isTrue();
        assertThat(stored(queue, r.jobId())).isEqualTo("1");
        redis.hang();
        try {
            frozen.countDown();
            assertThat(savedWhileFrozen.await(30, TimeUnit.SECONDS)).isTrue();
        } finally {
            redis.resume();
        }
        assertThat(results).containsExactly(true, false, false, false, false, false, false, false, false, false);
        assertThat(callMillis.get(0)).as("the first save waits for Redis at most about the socket timeout").isLessThan(2_000);
        assertThat(callMillis.subList(1, callMillis.size())).as("later saves keep the state and return at once")
                .allMatch(ms -> ms < 250);
        await().atMost(Duration.ofSeconds(30)).until(() -> w.health() == HealthState.CONNECTED);
        await().atMost(Duration.ofSeconds(10)).until(() -> "10".equals(stored(queue, r.jobId())));
        finish.countDown();
        await().atMost(Duration.ofSeconds(30)).until(() -> p.status(r).state() == JobState.COMPLETED);
        assertThat(p.status(r).attempts()).as("the outage did not fail the run").isEqualTo(1);
        await().atMost(Duration.ofSeconds(10)).until(() -> stored(queue, r.jobId()) == null);
    }

    /**
     * The run's lease taken over by another worker (an XCLAIM to "other", standing in for a takeover after a stall)
     * before its own renewal noticed: the run then completes, but the job is the other worker's, and so is its
     * checkpoint, which the completed run must not delete.
     */
    @Test
    void aRunWhoseJobWasTakenOverLeavesTheNewHoldersCheckpointInPlace() throws Exception {
        String queue = "ckpt-taken";
        CountDownLatch saved = new CountDownLatch(1);
        CountDownLatch finish = new CountDownLatch(1);
        JobProducer p = producer();
        Worker w = Worker.builder()
                .redis(RedisConnection.builder(redis.uri()).socketTimeout(Duration.ofMillis(500)).build())
                .queue(queue).stateDir(dir.resolve("worker-" + queue)).fetchBlock(Duration.ofMillis(100))
                .leaseDuration(Duration.ofSeconds(30)) // renewed every 10 s: not before the run returns
                .handler("export", job -> {
                    job.checkpoint("a1");
                    saved.countDown();
                    finish.await();
                })
                .build();
        open.add(w);
        w.start();
        Receipt r = p.enqueue(queue, "export", new byte[0]);
        assertThat(saved.await(20, TimeUnit.SECONDS)).isTrue();
        String stream = RedisKeys.stream(QueueName.of(queue));
        try (Jedis j = redis.jedis()) {
            var pending = j.xpending(stream, "spillway", XPendingParams.xPendingParams()
                    .start(StreamEntryID.MINIMUM_ID).end(StreamEntryID.MAXIMUM_ID).count(10));
            assertThat(pending).hasSize(1);
            j.xclaim(stream, "spillway", "other", 0, XClaimParams.xClaimParams(),
                    pending.get(0).getID());
            j.set(RedisKeys.checkpoint(QueueName.of(queue), JobId.of(r.jobId())), "b5");
        }
        finish.countDown();
        await().atMost(Duration.ofSeconds(10)).until(() -> w.inFlight() == 0);
        Thread.sleep(2_500); // the checkpoint writer runs every second
        assertThat(stored(queue, r.jobId())).as("the new holder's checkpoint").isEqualTo("b5");
        assertThat(p.status(r).state()).as("the late ack did not settle the other worker's lease").isEqualTo(JobState.ACTIVE);
    }

    @Test
    void aStateThatIsNullOrTooLongIsRefusedNamingTheLimit() {
        JobRecord record = new JobRecord(JobId.of("j"), QueueName.of("q"), "t", new byte[0], Map.of(), 0, 0, 0);
        List<String> saved = new ArrayList<>();
        Job job = new JobView(record, () -> false, () -> false, x -> { }, new JobView.Checkpoints() {
            @Override
            public boolean save(String state) {
                saved.add(state);
                return true;
            }

            @Override
            public Optional<String> last() {
                return Optional.empty();
            }
        });
        assertThat(job.checkpoint("x".repeat(Job.MAX_CHECKPOINT_CHARS))).isTrue();
        assertThatThrownBy(() -> job.checkpoint("x".repeat(Job.MAX_CHECKPOINT_CHARS + 1)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("65537 characters").hasMessageContaining("at most 65536");
        assertThatThrownBy(() -> job.checkpoint(null)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("checkpoint state must not be null");
        assertThat(saved).hasSize(1);
    }
}
