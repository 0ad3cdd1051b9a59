package io.spillway.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.spillway.backend.JobProducer;
import io.spillway.backend.Receipt;
import io.spillway.core.JobState;
import io.spillway.core.JobStatus;
import io.spillway.core.RedisConnection;
import io.spillway.testing.RedisProcess;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** {@link HandlerOptions}: each job type runs under its own timeout and retry policy, the others under the worker's. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class HandlerOptionsIT {
    @TempDir
    Path dir;

    @Test
    void eachTypeRunsUnderItsOwnTimeoutAndRetryPolicyAndTheOthersUnderTheWorkers() {
        Map<String, AtomicInteger> runs = new ConcurrentHashMap<>();
        try (RedisProcess redis = RedisProcess.builder().start();
             JobProducer p = JobProducer.builder().redis(redis.uri()).journalDir(dir.resolve("journal")).build();
             Worker w = Worker.builder()
                     .redis(RedisConnection.builder(redis.uri()).socketTimeout(Duration.ofMillis(500)).build())
                     .queue("typed").stateDir(dir.resolve("worker")).fetchBlock(Duration.ofMillis(100)).concurrency(4)
                     .jobTimeout(Duration.ofSeconds(30))
                     .retryPolicy(RetryPolicy.of(4, Duration.ofMillis(50), Duration.ofMillis(50)))
                     // Its own timeout (300 ms) and policy (2 runs): times out twice, then dead-lettered.
                     .handler("hangs", job -> {
                         runs.computeIfAbsent("hangs", k -> new AtomicInteger()).incrementAndGet();
                         Thread.sleep(20_000);
                     }, HandlerOptions.builder().jobTimeout(Duration.ofMillis(300))
                             .retryPolicy(RetryPolicy.of(2, Duration.ofMillis(50), Duration.ofMillis(50))).build())
                     // The worker's timeout (30 s): a 1.5 s run completes.
                     .handler("slow", job -> Thread.sleep(1_500))
                     // The worker's policy (4 runs): fails 3 times, completes on the 4th.
                     .handler("flaky", job -> {
                         if (runs.computeIfAbsent("flaky", k -> new AtomicInteger()).incrementAndGet() < 4) {
                             throw new IllegalStateException("not yet");
                         }
                     })
                     // Its own policy (no retry), the worker's timeout: dead-lettered after one run.
                     .handler("once", job -> {
                         runs.computeIfAbsent("once", k -> new AtomicInteger()).incrementAndGet();
                         throw new IllegalStateException("fails");
                     }, HandlerOptions.builder().retryPolicy(RetryPolicy.noRetry()).build())
                     .build()) {
            w.start();
            Receipt hangs = p.enqueue("typed", "hangs", new byte[0]);
            Receipt slow = p.enqueue("typed", "slow", new byte[0]);
            Receipt flaky = p.enqueue("typed", "flaky", new byte[0]);
            Receipt once = p.enqueue("typed", "once", new byte[0]);
            await().atMost(Duration.ofSeconds(40)).until(() -> terminal(p.status(hangs)) && terminal(p.status(slow))
                    && terminal(p.status(flaky)) && terminal(p.status(once)));

            JobStatus h = p.status(hangs);
            assertThat(h.state()).isEqualTo(JobState.DEAD);
            assertThat(h.attempts()).isEqualTo(2);
            assertThat(h.lastError()).hasValueSatisfying(e -> assertThat(e).contains("timeout of PT0.3S"));
            assertThat(runs.get("hangs")).hasValue(2);

            assertThat(p.status(slow).state()).as("the worker's 30 s timeout, not the other type's 300 ms")
                    .isEqualTo(JobState.COMPLETED);
            assertThat(p.status(flaky).state()).isEqualTo(JobState.COMPLETED);
            assertThat(runs.get("flaky")).as("the worker's 4 runs").hasValue(4);
            assertThat(p.status(once).state()).isEqualTo(JobState.DEAD);
            assertThat(runs.get("once")).as("its own policy: no retry").hasValue(1);
        }
    }

    private static boolean terminal(JobStatus s) {
        return s.state() == JobState.COMPLETED || s.state() == JobState.DEAD;
    }
}
