package io.spillway.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.codahale.metrics.Gauge;
import com.codahale.metrics.MetricRegistry;
import io.spillway.core.JobId;
import io.spillway.core.MetricNames;
import io.spillway.core.QueueName;
import io.spillway.core.internal.JobRecord;
import io.spillway.core.internal.RedisKeys;
import io.spillway.testing.RedisProcess;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

/**
 * What an idle worker costs Redis, from Redis's own count ({@code INFO commandstats} after {@code CONFIG RESETSTAT}),
 * and the workers set: a heartbeat every 15 s that trims the members of workers gone without closing, and gauges that
 * count only the workers seen in the last minute.
 *
 * <p>The idle-load test is also the measurement of docs/operations.md ("What an idle worker sends"): by default 20
 * queues over 8 s (at least one takeover round, every 7.5 s); {@code -Dspillway.idleLoad.queues=200
 * -Dspillway.idleLoad.seconds=60} measures the reviewer's case and prints the table into
 * {@code worker-adapter/target/surefire-reports/io.spillway.worker.IdleLoadIT-output.txt}.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
@org.junit.jupiter.api.Tag("first-pass-only") // counts the worker's own commands: about 21 s, the same on 7.0
class IdleLoadIT {
    @TempDir
    Path stateDir;

    @Test
    void anIdleWorkerSendsNoSchedulerCallsForEmptyQueuesAndNoHeartbeatWriteEverySecond() {
        int queues = Integer.getInteger("spillway.idleLoad.queues", 20);
        int seconds = Integer.getInteger("spillway.idleLoad.seconds", 8);
        try (RedisProcess redis = RedisProcess.builder().appendOnly(true).build().start();
             Jedis j = redis.jedis()) {
            List<String> names = new ArrayList<>();
            Worker.Builder b = Worker.builder().redis(redis.uri()).concurrency(8).stateDir(stateDir)
                    .handler("t", job -> { });
            for (int i = 0; i < queues; i++) {
                names.add("idle" + i);
                b.queue("idle" + i);
            }
            try (Worker w = b.build()) {
                w.start();
                // Started: every queue has its heartbeat (the first sample beats at once), groups made.
                await().atMost(Duration.ofSeconds(20)).until(() ->
                        j.zcard(RedisKeys.workers(QueueName.of(names.get(queues - 1)))) == 1);
                // The look for consumers gone without closing runs at start (then every 5 minutes): one call per queue.
                boolean lookedForGoneConsumers = true;
                try {
                    // "xinfo" on 6.2, "xinfo|consumers" on 7.0
                    await().atMost(Duration.ofSeconds(5)).until(() -> calls(j).entrySet().stream()
                            .filter(e -> e.getKey().startsWith("xinfo")).mapToLong(Map.Entry::getValue).sum() >= queues);
                } catch (org.awaitility.core.ConditionTimeoutException e) {
                    lookedForGoneConsumers = false;
                }
                j.configResetStat();
                long aofBefore = aofSize(j);
                long t0 = System.nanoTime();
                await().pollDelay(Duration.ofSeconds(seconds)).atMost(Duration.ofSeconds(seconds + 5)).until(() -> true);
                Map<String, Long> calls = calls(j);
                double minutes = (System.nanoTime() - t0) / 60e9;
                long aofGrowth = aofSize(j) - aofBefore;
                StringBuilder table = new StringBuilder(String.format("IdleLoadIT: one idle worker (concurrency 8, defaults)"
                        + " on %d queues, Redis %s, %.1f s; AOF grew %d bytes%n", queues, version(j), minutes * 60, aofGrowth));
                long total = 0;
                for (Map.Entry<String, Long> e : calls.entrySet()) {
                    table.append(String.format("  %-16s %8d calls  %9.0f /min%n", e.getKey(), e.getValue(), e.getValue() / minutes));
                    total += e.getValue();
                }
                table.append(String.format("  %-16s %8d calls  %9.0f /s%n", "total", total, total / minutes / 60));
                System.out.println(table);

                assertThat(lookedForGoneConsumers).as("XINFO CONSUMERS once per queue at start").isTrue();
                // No scheduler script on a queue whose delayed set is empty, and no takeover on a queue whose group has
                // no pending entry (the figures of the last second say so): no script at all.
                assertThat(calls.getOrDefault("evalsha", 0L)).isZero();
                assertThat(calls.getOrDefault("xdel", 0L)).isZero();
                assertThat(calls.getOrDefault("zrangebyscore", 0L)).isZero();
                assertThat(calls.getOrDefault("xautoclaim", 0L)).isZero();
                // The heartbeat is every 15 s, not every second.
                long beats = seconds / 15 + 1;
                assertThat(calls.getOrDefault("zadd", 0L)).isLessThanOrEqualTo(queues * beats);
            }
        }
    }

    @Test
    void delayedJobsAndRetriesOfAnIdleQueueRunOnTimeThoughItsSchedulerRestsWhileItsDelayedSetIsEmpty() {
        try (RedisProcess redis = RedisProcess.builder().build().start();
             Jobs jobs = new Jobs(redis.uri())) {
            String queue = "rests";
            Map<String, List<Long>> runs = new ConcurrentHashMap<>();
            Map<String, Long> ranAt = new ConcurrentHashMap<>();
            try (Worker w = Worker.builder().redis(redis.uri()).queue(queue).stateDir(stateDir)
                    .retryPolicy(RetryPolicy.of(4, Duration.ofMillis(50), Duration.ofMillis(50)))
                    .handler("t", job -> {
                        if (job.id().startsWith("retried")) {
                            runs.computeIfAbsent(job.id(), k -> new CopyOnWriteArrayList<>()).add(System.nanoTime());
                            if (job.attempt() < 2) {
                                throw new IllegalStateException("not yet");
                            }
                        }
                        ranAt.put(job.id(), System.currentTimeMillis());
                    })
                    .build()) {
                w.start();
                // A retry of this worker (50 ms backoff) is moved by its scheduler at its next tick, not after the next
                // sample of the queue's figures has seen it (up to a second later). Each job after 1.2 s idle, so that a
                // sample has found the delayed set empty again and the scheduler rests.
                for (int i = 0; i < 4; i++) {
                    String id = "retried-" + i;
                    await().pollDelay(Duration.ofMillis(1200)).atMost(Duration.ofSeconds(5)).until(() -> true);
                    jobs.enqueue(queue, "t", id);
                    await().atMost(Duration.ofSeconds(10)).until(() -> ranAt.containsKey(id));
                    long gapMs = TimeUnit.NANOSECONDS.toMillis(runs.get(id).get(1) - runs.get(id).get(0));
                    System.out.println("IdleLoadIT: " + id + " ran again " + gapMs + " ms after its first run failed");
                    // 50 ms backoff (jitter: 25-50) + at most one 250 ms tick + the fetch; resting until a sample saw
                    // the retry makes it up to 1.3 s, more than 600 ms about half the time
                    assertThat(gapMs).as(id).isLessThan(600);
                }

                // A producer's delayed job (run-at 1.5 s ahead) on the idle queue: seen by a sample before it is due.
                long runAt = System.currentTimeMillis() + 1500;
                jobs.enqueue(List.of(new JobRecord(JobId.of("delayed-1"), QueueName.of(queue), "t",
                        "p".getBytes(StandardCharsets.UTF_8), Map.of(), 0, System.currentTimeMillis(), runAt)));
                await().atMost(Duration.ofSeconds(10)).until(() -> ranAt.containsKey("delayed-1"));
                assertThat(ranAt.get("delayed-1") - runAt).isBetween(0L, 700L);
            }
        }
    }

    @Test
    void theHeartbeatTrimsWorkersGoneWithoutClosingAndTheGaugeCountsOnlyLiveOnes() {
        try (RedisProcess redis = RedisProcess.builder().build().start();
             Jedis j = redis.jedis()) {
            QueueName q = QueueName.of("beats");
            long now = System.currentTimeMillis();
            // Two workers SIGKILLed long ago (no close(), so no ZREM) and one seen 30 s ago (alive, between beats).
            j.zadd(RedisKeys.workers(q), now - 3_600_000, "killed-an-hour-ago");
            j.zadd(RedisKeys.workers(q), now - RedisKeys.WORKER_SEEN_WINDOW_MS - 5_000, "killed-a-minute-ago");
            j.zadd(RedisKeys.workers(q), now - 30_000, "alive");
            MetricRegistry metrics = new MetricRegistry();
            try (Worker w = Worker.builder().redis(redis.uri()).queue(q.value()).stateDir(stateDir).metricRegistry(metrics)
                    .handler("t", job -> { }).build()) {
                w.start();
                await().atMost(Duration.ofSeconds(10)).until(() -> j.zscore(RedisKeys.workers(q), w.name()) != null);
                assertThat(j.zrange(RedisKeys.workers(q), 0, -1)).containsExactlyInAnyOrder("alive", w.name());
                Gauge<?> workers = metrics.getGauges().get(MetricNames.perQueue(MetricNames.QUEUE_WORKERS, q.value()));
                await().atMost(Duration.ofSeconds(5)).until(() -> ((Number) workers.getValue()).longValue() == 2);

                // A member that ages past the window between this worker's beats no longer counts at the next sample.
                j.zadd(RedisKeys.workers(q), System.currentTimeMillis() - RedisKeys.WORKER_SEEN_WINDOW_MS + 1_500, "dying");
                await().atMost(Duration.ofSeconds(5)).until(() -> ((Number) workers.getValue()).longValue() == 3);
                await().atMost(Duration.ofSeconds(8)).until(() -> ((Number) workers.getValue()).longValue() == 2);
            }
        }
    }

    private static Map<String, Long> calls(Jedis j) {
        Map<String, Long> out = new TreeMap<>();
        for (String line : j.info("commandstats").split("\r?\n")) {
            if (line.startsWith("cmdstat_")) {
                String name = line.substring("cmdstat_".length(), line.indexOf(':'));
                String calls = line.substring(line.indexOf("calls=") + 6);
                out.put(name, Long.parseLong(calls.substring(0, calls.indexOf(','))));
            }
        }
        return out;
    }

    private static long aofSize(Jedis j) {
        for (String line : j.info("persistence").split("\r?\n")) {
            if (line.startsWith("aof_current_size:")) {
                return Long.parseLong(line.substring("aof_current_size:".length()).trim());
            }
        }
        return -1;
    }

    private static String version(Jedis j) {
        for (String line : j.info("server").split("\r?\n")) {
            if (line.startsWith("redis_version:")) {
                return line.substring("redis_version:".length()).trim();
            }
        }
        return "?";
    }
}
