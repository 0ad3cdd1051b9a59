package io.spillway.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.spillway.backend.JobProducer;
import io.spillway.backend.Receipt;
import io.spillway.core.HealthState;
import io.spillway.core.JobId;
import io.spillway.core.JobState;
import io.spillway.core.QueueName;
import io.spillway.core.RedisConnection;
import io.spillway.core.internal.RedisKeys;
import io.spillway.core.internal.StatusRecord;
import io.spillway.testing.RedisProcess;
import io.spillway.testing.SentinelGroup;
import io.spillway.worker.internal.AckLog;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

/**
 * A worker handling jobs through a Sentinel failover (master SIGKILLed, replica promoted): every accepted job is
 * handled at least once, counted from the handler's own record against the producer's receipts; afterwards nothing
 * is pending on the new master, every job is COMPLETED there (outcomes kept locally during the failover were sent to
 * it), and the worker's ack log stayed one file, named after the master name and not the host.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class WorkerSentinelIT {
    @TempDir
    Path dir;

    @Test
    void everyJobEnqueuedThroughAFailoverIsHandledAndNothingIsLeftPending() throws Exception {
        String queue = "failover-" + System.nanoTime();
        int total = 3_000;
        Map<String, AtomicInteger> handled = new ConcurrentHashMap<>();
        List<String> accepted = new ArrayList<>();
        try (SentinelGroup redis = SentinelGroup.builder().start();
             JobProducer producer = JobProducer.builder().redis(redis.uri()).journalDir(dir.resolve("journal"))
                     .reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(300)).build();
             Worker worker = Worker.builder()
                     .redis(RedisConnection.builder(redis.uri()).socketTimeout(Duration.ofMillis(300)).build())
                     .queue(queue)
                     .handler("render", job -> {
                         // Long enough that jobs are running when the master dies: their outcomes wait locally.
                         LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
                         handled.computeIfAbsent(job.id(), k -> new AtomicInteger()).incrementAndGet();
                     })
                     .concurrency(8)
                     .leaseDuration(Duration.ofSeconds(3))
                     .fetchBlock(Duration.ofMillis(100))
                     .stateDir(dir.resolve("state"))
                     .build()) {
            worker.start();
            await().atMost(Duration.ofSeconds(20)).until(() -> worker.health() == HealthState.CONNECTED
                    && producer.state() == HealthState.CONNECTED);
            String ackLog = "acks-" + AckLog.scopeOf(RedisConnection.of(redis.uri())) + "-0.log";
            assertThat(dir.resolve("state").resolve(ackLog)).exists();
            RedisProcess old = null;
            long localMax = 0;
            for (int i = 0; i < total; i++) {
                Receipt r = producer.enqueue(queue, "render", ("job " + i).getBytes());
                accepted.add(r.jobId());
                if (i == total / 3) {
                    await().atMost(Duration.ofSeconds(20)).until(() -> handled.size() > total / 6);
                    old = redis.killMaster();
                }
                localMax = Math.max(localMax, worker.acksPendingLocally());
                if (i % 50 == 0) {
                    LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
                }
            }
            RedisProcess now = redis.awaitFailover(old, Duration.ofSeconds(30));
            await().atMost(Duration.ofSeconds(90)).until(() -> accepted.stream().allMatch(handled::containsKey));
            QueueName q = QueueName.of(queue);
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
                assertThat(worker.acksPendingLocally()).isZero();
                try (Jedis j = now.jedis()) {
                    assertThat(j.xpending(RedisKeys.stream(q), RedisKeys.GROUP).getTotal()).as("pending on the new master").isZero();
                    List<String> notCompleted = accepted.stream().filter(id -> StatusRecord.decode(JobId.of(id), q,
                            j.get(RedisKeys.job(q, JobId.of(id)))).state() != JobState.COMPLETED).toList();
                    assertThat(notCompleted).as("jobs not COMPLETED on the new master").isEmpty();
                }
            });
            long twice = handled.values().stream().filter(n -> n.get() > 1).count();
            System.out.printf("handled %d jobs, %d more than once; most outcomes waiting locally: %d; worker reconnects: %s%n",
                    handled.size(), twice, localMax, worker.health());
            assertThat(handled.keySet()).containsAll(accepted);
            try (Stream<Path> files = Files.list(dir.resolve("state"))) {
                assertThat(files.map(f -> f.getFileName().toString()).filter(n -> n.startsWith("acks-")).toList())
                        .as("one ack log, the same through the failover").containsExactly(ackLog);
            }
        }
    }
}
