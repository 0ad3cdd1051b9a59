package io.spillway.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.spillway.core.QueueName;
import io.spillway.core.internal.RedisKeys;
import io.spillway.testing.RedisProcess;
import io.spillway.worker.internal.WorkerScripts;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.StreamEntryID;
import redis.clients.jedis.params.XReadGroupParams;
import redis.clients.jedis.resps.StreamConsumerInfo;

/**
 * forget.lua, which removes from a queue's group the consumers of workers gone without a graceful close: only those
 * with no pending entry (removing one that holds entries would drop them from the pending list: jobs leased to no one,
 * never delivered again). The worker runs it with an idle time of an hour or ten leases; here 300 ms, so that the test
 * does not wait an hour. On Redis 6.2 and, with {@code SPILLWAY_REDIS_SERVER}, 7.0.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class ForgetConsumersIT {

    @Test
    void removesLongIdleConsumersWithNoPendingEntryAndNeverOneThatHoldsJobs() {
        try (RedisProcess redis = RedisProcess.builder().build().start();
             Jedis j = redis.jedis()) {
            System.out.println("ForgetConsumersIT on Redis " + j.info("server").lines()
                    .filter(l -> l.startsWith("redis_version:")).findFirst().orElse("?"));
            String stream = RedisKeys.stream(QueueName.of("forget"));
            for (int i = 0; i < 5; i++) {
                j.xadd(stream, StreamEntryID.NEW_ENTRY, Map.of(RedisKeys.FIELD_JOB, "job" + i));
            }
            j.xgroupCreate(stream, RedisKeys.GROUP, new StreamEntryID(), false);
            // killed mid-job: two jobs leased to it, never settled
            read(j, stream, "killed-busy", 2);
            // killed after its jobs were acked: nothing pending
            List<StreamEntryID> done = read(j, stream, "killed-idle", 1);
            j.xack(stream, RedisKeys.GROUP, done.toArray(new StreamEntryID[0]));
            // killed before it fetched anything
            j.xgroupCreateConsumer(stream, RedisKeys.GROUP, "killed-empty");
            // the caller itself, idle too and holding nothing: never removed by its own call
            j.xgroupCreateConsumer(stream, RedisKeys.GROUP, "me");
            // a live worker of a quiet queue: idle as long (on Redis 7 a read that delivers nothing leaves the idle time),
            // but its heartbeat is recent; and one whose last heartbeat is older than the window (gone)
            j.xgroupCreateConsumer(stream, RedisKeys.GROUP, "beating");
            j.xgroupCreateConsumer(stream, RedisKeys.GROUP, "stopped-beating");
            String workers = RedisKeys.workers(QueueName.of("forget"));
            long now = System.currentTimeMillis();
            j.zadd(workers, now, "beating");
            j.zadd(workers, now - RedisKeys.WORKER_SEEN_WINDOW_MS - 1_000, "stopped-beating");
            await().pollDelay(Duration.ofMillis(400)).atMost(Duration.ofSeconds(2)).until(() -> true);
            // a live one, seen just now
            j.xgroupCreateConsumer(stream, RedisKeys.GROUP, "live");

            assertThat(forget(j, stream, 3_600_000)).as("idle less than an hour: none").isEmpty();
            assertThat(forget(j, stream, 300)).containsExactlyInAnyOrder("killed-idle", "killed-empty", "stopped-beating");

            Map<String, Long> left = consumers(j, stream);
            assertThat(left).containsOnlyKeys("killed-busy", "me", "live", "beating");
            assertThat(left.get("killed-busy")).isEqualTo(2);
            assertThat(j.xpending(stream, RedisKeys.GROUP).getTotal()).isEqualTo(2);
            // however long idle, a consumer holding jobs stays until a takeover has claimed them
            assertThat(forget(j, stream, 0)).containsExactlyInAnyOrder("live");
            assertThat(consumers(j, stream)).containsOnlyKeys("killed-busy", "me", "beating");

            // No group, no stream: nothing to do, no error.
            assertThat(forget(j, RedisKeys.stream(QueueName.of("never-used")), 0)).isEmpty();
        }
    }

    private static List<StreamEntryID> read(Jedis j, String stream, String consumer, int count) {
        return j.xreadGroup(RedisKeys.GROUP, consumer, XReadGroupParams.xReadGroupParams().count(count),
                Map.of(stream, StreamEntryID.XREADGROUP_UNDELIVERED_ENTRY)).get(0).getValue().stream()
                .map(e -> e.getID()).toList();
    }

    @SuppressWarnings("unchecked")
    private static List<String> forget(Jedis j, String stream, long idleMs) {
        String workers = stream.replace(":stream", ":workers");
        return (List<String>) j.eval(WorkerScripts.FORGET.source(), List.of(stream, workers), List.of(RedisKeys.GROUP,
                Long.toString(idleMs), "me", Long.toString(System.currentTimeMillis() - RedisKeys.WORKER_SEEN_WINDOW_MS)));
    }

    private static Map<String, Long> consumers(Jedis j, String stream) {
        return j.xinfoConsumers(stream, RedisKeys.GROUP).stream()
                .collect(Collectors.toMap(StreamConsumerInfo::getName, StreamConsumerInfo::getPending));
    }
}
