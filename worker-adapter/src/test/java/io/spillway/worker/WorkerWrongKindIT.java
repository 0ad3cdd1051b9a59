package io.spillway.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.codahale.metrics.Counter;
import io.spillway.backend.JobProducer;
import io.spillway.backend.Receipt;
import io.spillway.core.HealthState;
import io.spillway.core.MetricNames;
import io.spillway.testing.LogCapture;
import io.spillway.testing.RedisProcess;
import io.spillway.testing.SentinelGroup;
import java.net.URI;
import java.nio.charset.StandardCharsets;
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

/**
 * A worker given a URI of the wrong kind for the server (a sentinel as {@code redis://}, a Redis as
 * {@code redis-sentinel://}) says so in one ERROR line naming the URI to write, fetches nothing, and a worker given that
 * URI handles every job, those a producer with the same wrong URI spooled meanwhile too.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
@org.junit.jupiter.api.Tag("first-pass-only") // the client's question and its log line: the same whatever the Redis version
class WorkerWrongKindIT {
    private static final int JOBS = 20;

    @TempDir
    Path dir;

    private final Map<String, AtomicInteger> handled = new ConcurrentHashMap<>();

    @Test
    void aSentinelGivenAsARedisIsNamedOnceAndTheJobsSpooledMeanwhileAreHandled() {
        try (SentinelGroup redis = SentinelGroup.builder().start()) {
            String sentinel = "127.0.0.1:" + redis.sentinelPorts().get(0);
            URI wrong = URI.create("redis://" + sentinel);
            URI right = URI.create("redis-sentinel://" + sentinel + "#" + redis.masterName());
            String queue = "as-redis";
            List<String> ids = new ArrayList<>();
            try (JobProducer p = producer(wrong)) {
                for (int i = 0; i < JOBS; i++) {
                    Receipt r = p.enqueue(queue, "t", bytes(i));
                    assertThat(r.spooled()).isTrue();
                    ids.add(r.jobId());
                }
            }
            fetchesNothingAndSaysSoOnce(wrong, queue, "wrong kind of server: redis://" + sentinel + " is a Redis Sentinel"
                    + " (it monitors " + redis.masterName() + "): write " + right);
            handledOnce(right, queue, ids);
        }
    }

    @Test
    void aRedisGivenAsASentinelIsNamedOnceAndItsJobsAreHandledWithTheRightUri() {
        try (RedisProcess redis = RedisProcess.builder().start()) {
            String at = "127.0.0.1:" + redis.port();
            URI right = URI.create("redis://" + at);
            String queue = "as-sentinel";
            List<String> ids = new ArrayList<>();
            try (JobProducer p = producer(right)) {
                await().atMost(Duration.ofSeconds(10)).until(() -> p.state() == HealthState.CONNECTED);
                for (int i = 0; i < JOBS; i++) {
                    ids.add(p.enqueue(queue, "t", bytes(i)).jobId());
                }
            }
            fetchesNothingAndSaysSoOnce(URI.create("redis-sentinel://" + at + "#jobs"), queue, "wrong kind of server:"
                    + " redis-sentinel://" + at + "#jobs: " + at + " is not a Redis Sentinel but a Redis: write " + right);
            handledOnce(right, queue, ids);
        }
    }

    private JobProducer producer(URI uri) {
        return JobProducer.builder().redis(uri).journalDir(dir.resolve("journal"))
                .reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(100)).build();
    }

    private Worker worker(URI uri, String queue) {
        return Worker.builder().redis(uri).queue(queue)
                .handler("t", job -> handled.computeIfAbsent(job.id(), k -> new AtomicInteger()).incrementAndGet())
                .fetchBlock(Duration.ofMillis(100)).stateDir(dir.resolve("state")).build();
    }

    /** A worker given {@code wrong}: after 4 reconnect attempts it has said {@code expected} in one ERROR line. */
    private void fetchesNothingAndSaysSoOnce(URI wrong, String queue, String expected) {
        try (LogCapture logs = new LogCapture(); Worker w = worker(wrong, queue)) {
            w.start();
            Counter attempts = w.metrics().counter(MetricNames.RECONNECT_ATTEMPTS + ".worker");
            await().atMost(Duration.ofSeconds(15)).until(() -> attempts.getCount() >= 4);
            assertThat(w.health()).isEqualTo(HealthState.DISCONNECTED);
            assertThat(logs.lines("Reconnect attempt")).as("one line, not one per attempt").singleElement()
                    .satisfies(l -> assertThat(l).contains("ERROR", "Reconnect attempt 1 failed: ", expected, "(worker)",
                            "fetches nothing"));
            assertThat(logs.lines("\tat ")).as("no stack trace").isEmpty();
        }
        assertThat(handled).isEmpty();
    }

    /** A producer on the journal and a worker, both given {@code right}: each job is handled once. */
    private void handledOnce(URI right, String queue, List<String> ids) {
        try (JobProducer p = producer(right); Worker w = worker(right, queue)) {
            w.start();
            await().atMost(Duration.ofSeconds(20)).until(() -> p.journalBacklog() == 0 && handled.size() == ids.size());
        }
        assertThat(handled.keySet()).containsExactlyInAnyOrderElementsOf(ids);
        assertThat(handled.values()).allSatisfy(n -> assertThat(n.get()).isEqualTo(1));
    }

    private static byte[] bytes(int i) {
        return ("job " + i).getBytes(StandardCharsets.UTF_8);
    }
}
