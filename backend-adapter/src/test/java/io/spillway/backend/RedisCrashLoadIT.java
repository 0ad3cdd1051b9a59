package io.spillway.backend;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.spillway.core.HealthState;
import io.spillway.core.MetricNames;
import io.spillway.testing.RedisProcess;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

/** The producer's guarantee under load: Redis (AOF everysec) SIGKILLed and restarted three times. */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class RedisCrashLoadIT {
    @TempDir
    Path dir;

    @Test
    void fiftyThousandEnqueuesThroughThreeRedisCrashesLoseNothingAndKeepOrder() throws Exception {
        int total = 50_000;
        String[] queues = {"alpha", "beta"};
        Map<String, List<String>> accepted = new HashMap<>();
        for (String q : queues) {
            accepted.put(q, new ArrayList<>());
        }
        try (RedisProcess redis = RedisProcess.builder().appendFsync("everysec").start();
             JobProducer p = JobProducer.builder().redis(redis.uri()).journalDir(dir.resolve("journal"))
                     .reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(300)).build()) {
            java.util.concurrent.atomic.AtomicInteger crashes = new java.util.concurrent.atomic.AtomicInteger();
            List<Long> acceptedAtCrash = new java.util.concurrent.CopyOnWriteArrayList<>();
            Thread chaos = new Thread(() -> {
                try {
                    for (int crash = 0; crash < 3; crash++) {
                        long target = (long) (crash + 1) * total / 4;
                        // Each crash hits a connected producer in the middle of direct writes.
                        await().atMost(Duration.ofSeconds(120)).until(() ->
                                p.metrics().meter(MetricNames.ACCEPTED).getCount() >= target && p.state() == HealthState.CONNECTED);
                        redis.kill();
                        acceptedAtCrash.add(p.metrics().meter(MetricNames.ACCEPTED).getCount());
                        crashes.incrementAndGet();
                        // Down long enough for part of the load to spool.
                        await().pollDelay(Duration.ofMillis(500)).atMost(Duration.ofSeconds(5)).until(() -> true);
                        redis.restart();
                    }
                } catch (RuntimeException e) {
                    throw e;
                }
            }, "chaos");
            chaos.start();
            long spooled = 0;
            for (int i = 0; i < total; i++) {
                String q = queues[i % 2];
                Receipt r = p.enqueue(q, "t", ("job " + i).getBytes(StandardCharsets.UTF_8));
                accepted.get(q).add(r.jobId());
                if (r.spooled()) {
                    spooled++;
                }
                if (i % 100 == 0) {
                    // Pace the load (about 5,000 jobs/s) so the crashes land among direct writes, not after them.
                    java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
                }
            }
            chaos.join();
            assertThat(crashes.get()).isEqualTo(3);
            // Each crash hit the load, not a producer done with it: a crash after the last enqueue tests nothing.
            assertThat(acceptedAtCrash).as("jobs accepted at each crash").allSatisfy(n -> assertThat(n).isLessThan(total));
            assertThat(spooled).as("some jobs went through the journal").isGreaterThan(0);
            try {
                await().atMost(Duration.ofSeconds(60)).until(() -> p.state() == HealthState.CONNECTED && p.journalBacklog() == 0);
            } catch (org.awaitility.core.ConditionTimeoutException e) {
                throw new AssertionError("not drained: state " + p.state() + ", backlog " + p.journalBacklog()
                        + ", metrics " + p.metrics().getGauges().keySet() + " " + p.metrics().getGauges().get(MetricNames.JOURNAL_BACKLOG).getValue(), e);
            }
            try (Jedis j = redis.jedis(Duration.ofSeconds(10))) {
                for (String q : queues) {
                    List<String> inRedis = RedisJobs.ids(j, q);
                    Map<String, Integer> copies = new HashMap<>();
                    inRedis.forEach(id -> copies.merge(id, 1, Integer::sum));
                    List<String> lost = accepted.get(q).stream().filter(id -> !copies.containsKey(id)).toList();
                    assertThat(lost).as("lost in " + q).isEmpty();
                    assertThat(copies.values()).as("copies per job in " + q).allMatch(n -> n == 1);
                    assertThat(inRedis).as("order in " + q).containsExactlyElementsOf(accepted.get(q));
                }
            }
        }
    }
}
