package io.spillway.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.codahale.metrics.MetricRegistry;
import io.spillway.core.MetricNames;
import io.spillway.core.RedisConnection;
import io.spillway.testing.LogCapture;
import io.spillway.testing.RedisProcess;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link Queues#pause}: a paused queue gets no new job taken from it by any worker (one started meanwhile included)
 * while the worker's other queues go on; resumed, it drains. Against a real redis-server; "ran" is the handlers' own
 * record.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class QueuePauseIT {
    static RedisProcess redis;
    static Jobs jobs;

    @TempDir
    Path dir;
    String a;
    String b;
    final List<AutoCloseable> open = new ArrayList<>();
    final Map<String, AtomicInteger> handled = new ConcurrentHashMap<>();
    final MetricRegistry metrics = new MetricRegistry();

    @BeforeAll
    static void startRedis() {
        redis = RedisProcess.builder().start();
        jobs = new Jobs(redis.uri());
    }

    @AfterAll
    static void stopRedis() {
        jobs.close();
        redis.close();
    }

    @BeforeEach
    void queues(TestInfo info) {
        String base = info.getTestMethod().orElseThrow().getName().substring(0, 20) + "-" + System.nanoTime();
        a = base + "-a";
        b = base + "-b";
    }

    @AfterEach
    void closeAll() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
    }

    Queues queues() {
        Queues q = Queues.connect(redis.uri());
        open.add(q);
        return q;
    }

    Worker worker(String... names) {
        Worker w = Worker.builder()
                .redis(RedisConnection.builder(redis.uri()).socketTimeout(Duration.ofMillis(500)).build())
                .queues(names)
                .stateDir(dir.resolve("worker-" + open.size()))
                .fetchBlock(Duration.ofMillis(100))
                .stuckAfter(Duration.ofSeconds(1))
                .metricRegistry(metrics)
                .handler("t", job -> handled.computeIfAbsent(job.queue(), k -> new AtomicInteger()).incrementAndGet())
                .build();
        open.add(w);
        w.start();
        return w;
    }

    int ran(String queue) {
        AtomicInteger n = handled.get(queue);
        return n == null ? 0 : n.get();
    }

    static List<String> ids(String prefix, int n) {
        return IntStream.range(0, n).mapToObj(i -> prefix + "-" + i).toList();
    }

    long held() {
        return ((Number) metrics.getGauges().get(MetricNames.QUEUES_HELD).getValue()).longValue();
    }

    @Test
    void aQueuePausedBeforeTheWorkerStartsGetsNoJobWhileItsOtherQueueRuns() {
        Queues queues = queues();
        Instant before = Instant.now().minusMillis(1);
        assertThat(queues.pause(a, "  thumbnail service down, INC-1234 ")).isTrue();
        assertThat(queues.pause(a, "again")).as("already paused: kept as it was").isFalse();
        Queues.Pause p = queues.paused(a).orElseThrow();
        assertThat(p.reason()).isEqualTo("thumbnail service down, INC-1234");
        assertThat(p.since()).isAfter(before).isBeforeOrEqualTo(Instant.now());
        assertThat(queues.isPaused(b)).isFalse();
        jobs.enqueue(a, "t", ids("a", 20));
        jobs.enqueue(b, "t", ids("b", 20));

        try (LogCapture logs = new LogCapture()) {
            worker(a, b);
            await().atMost(Duration.ofSeconds(20)).until(() -> ran(b) == 20);
            // Past a few of the worker's readings of the flag, and past its stuck watch (1 s): nothing from a.
            await().pollDelay(Duration.ofMillis(2500)).atMost(Duration.ofSeconds(5)).until(() -> true);
            assertThat(ran(a)).isZero();
            assertThat(held()).isEqualTo(1);
            assertThat(logs.lines("queue " + a + " is paused (thumbnail service down, INC-1234): no new job is taken"))
                    .hasSize(1);
            assertThat(logs.lines("stuck")).as("waiting jobs of a paused queue are not a stuck fetch").isEmpty();

            assertThat(queues.resume(a)).isTrue();
            assertThat(queues.resume(a)).isFalse();
            await().atMost(Duration.ofSeconds(20)).until(() -> ran(a) == 20);
            assertThat(held()).isZero();
            assertThat(logs.lines("queue " + a + " is resumed")).hasSize(1);
        }
    }

    @Test
    void aPauseWhileTheWorkerRunsStopsNewJobsWithinAboutASecond() {
        Queues queues = queues();
        worker(a);
        jobs.enqueue(a, "t", ids("first", 10));
        await().atMost(Duration.ofSeconds(20)).until(() -> ran(a) == 10);

        assertThat(queues.pause(a)).isTrue();
        assertThat(queues.paused(a).orElseThrow().reason()).isEmpty();
        await().atMost(Duration.ofSeconds(5)).until(() -> held() == 1);
        jobs.enqueue(a, "t", ids("second", 10));
        await().pollDelay(Duration.ofMillis(1500)).atMost(Duration.ofSeconds(5)).until(() -> true);
        assertThat(ran(a)).isEqualTo(10);

        queues.resume(a);
        await().atMost(Duration.ofSeconds(20)).until(() -> ran(a) == 20);
    }

    @Test
    void badInputIsRefusedByName() {
        Queues queues = queues();
        assertThatThrownBy(() -> queues.pause(" ")).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("queue");
        assertThatThrownBy(() -> queues.pause(a, "x".repeat(Queues.MAX_REASON_CHARS + 1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("reason must be at most 500");
        assertThatThrownBy(() -> queues.pause(a, "maint\n2026 ERROR forged\u001b[31m")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("one line of text without control characters").hasMessageNotContaining("\n");
        assertThatThrownBy(() -> queues.resume("bad queue")).isInstanceOf(IllegalArgumentException.class);
        assertThat(queues.isPaused(a)).isFalse();
    }
}
