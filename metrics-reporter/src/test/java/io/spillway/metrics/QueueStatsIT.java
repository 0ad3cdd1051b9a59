package io.spillway.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.codahale.metrics.Gauge;
import com.codahale.metrics.MetricRegistry;
import io.spillway.core.MetricNames;
import io.spillway.core.QueueName;
import io.spillway.core.RedisConnection;
import io.spillway.core.RedisUnavailableException;
import io.spillway.core.internal.RedisKeys;
import io.spillway.testing.LogCapture;
import io.spillway.testing.RedisClusterGroup;
import io.spillway.testing.RedisProcess;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.StreamEntryID;
import redis.clients.jedis.commands.JedisCommands;
import redis.clients.jedis.params.XReadGroupParams;

class QueueStatsIT {

    /** Lays out a queue the way producer and worker do: stream + group, pending entries, delayed, dead, workers. */
    static void plant(JedisCommands j, String queue, int added, int fetched, int delayed, int dead) {
        QueueName q = QueueName.of(queue);
        j.sadd(RedisKeys.QUEUES, queue);
        for (int i = 0; i < added; i++) {
            j.xadd(RedisKeys.stream(q), StreamEntryID.NEW_ENTRY, Map.of(RedisKeys.FIELD_JOB, "job" + i));
        }
        j.xgroupCreate(RedisKeys.stream(q), RedisKeys.GROUP, new StreamEntryID(), true);
        if (fetched > 0) {
            j.xreadGroup(RedisKeys.GROUP, "w1", XReadGroupParams.xReadGroupParams().count(fetched),
                    Map.of(RedisKeys.stream(q), StreamEntryID.XREADGROUP_UNDELIVERED_ENTRY));
        }
        for (int i = 0; i < delayed; i++) {
            j.zadd(RedisKeys.delayed(q), System.currentTimeMillis() + 60_000, "d" + i);
        }
        for (int i = 0; i < dead; i++) {
            j.zadd(RedisKeys.dead(q), System.currentTimeMillis(), "x" + i);
        }
        j.zadd(RedisKeys.workers(q), System.currentTimeMillis(), "w1");
    }

    @Test
    @Timeout(30)
    void countsOnlyTheWorkersSeenInTheLastMinuteAsSpillwayStatusDoes() {
        try (RedisProcess redis = RedisProcess.builder().build().start();
             Jedis j = redis.jedis()) {
            plant(j, "emails", 1, 0, 0, 0);
            QueueName q = QueueName.of("emails");
            // workers SIGKILLed (no close(), so no ZREM) an hour and 61 s ago, and one whose last beat was 30 s ago
            j.zadd(RedisKeys.workers(q), System.currentTimeMillis() - 3_600_000, "killed-long-ago");
            j.zadd(RedisKeys.workers(q), System.currentTimeMillis() - 61_000, "killed-just-now");
            j.zadd(RedisKeys.workers(q), System.currentTimeMillis() - 30_000, "between-beats");
            try (QueueStats stats = QueueStats.of(RedisConnection.of(redis.uri()))) {
                assertThat(stats.read("emails").workers()).isEqualTo(2); // w1 (just now) and between-beats
                MetricRegistry registry = new MetricRegistry();
                stats.registerGauges(registry, Duration.ofMillis(100));
                await().atMost(Duration.ofSeconds(10)).until(() -> registry.getGauges().containsKey("spillway.queue.workers.emails"));
                assertThat(gauge(registry, "spillway.queue.workers.emails")).isEqualTo(2);
            }
        }
    }

    @Test
    @Timeout(60)
    void readsEveryQueueAndRegistersGaugesThatKeepTheirValueWhileRedisIsAway() {
        try (RedisProcess redis = RedisProcess.builder().build().start();
             Jedis j = redis.jedis()) {
            plant(j, "emails", 10, 3, 2, 1);
            plant(j, "img.render", 4, 0, 0, 0);
            j.sadd(RedisKeys.QUEUES, "empty");

            try (QueueStats stats = QueueStats.of(RedisConnection.of(redis.uri()))) {
                assertThat(stats.queues()).containsExactly("emails", "empty", "img.render");
                QueueSnapshot emails = stats.read("emails");
                assertThat(emails).extracting(QueueSnapshot::waiting, QueueSnapshot::inFlight, QueueSnapshot::delayed,
                        QueueSnapshot::dead, QueueSnapshot::workers).containsExactly(7L, 3L, 2L, 1L, 1L);
                assertThat(stats.read("empty").unfinished()).isZero();

                MetricRegistry registry = new MetricRegistry();
                stats.registerGauges(registry, Duration.ofMillis(100));
                await().atMost(Duration.ofSeconds(10)).until(() -> gauge(registry, "spillway.queue.waiting.img.render") == 4);
                assertThat(gauge(registry, "spillway.queue.inflight.emails")).isEqualTo(3);
                assertThat(gauge(registry, "spillway.queue.delayed.emails")).isEqualTo(2);
                assertThat(gauge(registry, "spillway.queue.dead.emails")).isEqualTo(1);
                assertThat(gauge(registry, "spillway.queue.workers.emails")).isEqualTo(1);

                plant(j, "late", 2, 0, 0, 0);
                await().atMost(Duration.ofSeconds(10)).until(() -> registry.getGauges().containsKey("spillway.queue.waiting.late"));

                // A queue an operator removed from the list (a typo, a queue retired) is dropped, gauges and figures.
                j.srem(RedisKeys.QUEUES, "empty");
                await().atMost(Duration.ofSeconds(10)).until(() -> !registry.getGauges().containsKey("spillway.queue.waiting.empty"));
                assertThat(registry.getGauges().keySet()).noneMatch(n -> n.endsWith(".empty"));
                assertThat(stats.lastRead()).doesNotContainKey("empty");

                redis.kill();
                await().atMost(Duration.ofSeconds(10)).until(() -> gauge(registry, MetricNames.QUEUE_STATS_AGE) > 1_000);
                assertThat(gauge(registry, "spillway.queue.waiting.emails")).isEqualTo(7);

                redis.restart();
                await().atMost(Duration.ofSeconds(15)).until(() -> gauge(registry, MetricNames.QUEUE_STATS_AGE) < 1_000);
            }
        }
    }

    /** On a Redis Cluster each queue's figures come from the master of its slot, and the health check covers every master. */
    @Test
    @Timeout(60)
    void readsTheQueuesOfEveryMasterOfACluster() {
        try (RedisClusterGroup cluster = RedisClusterGroup.builder().masters(3).start();
             redis.clients.jedis.RedisClusterClient j = cluster.client()) {
            java.util.Set<Integer> ports = new java.util.HashSet<>();
            for (int i = 0; i < 6; i++) {
                String q = "q" + i;
                plant(j, q, 5 + i, 1, i % 2, 0);
                ports.add(cluster.masterFor(RedisKeys.stream(QueueName.of(q))).port());
            }
            assertThat(ports).as("the queues live on several masters").hasSizeGreaterThan(1);
            try (QueueStats stats = QueueStats.of(RedisConnection.of(cluster.uri()));
                 RedisHealthCheck health = RedisHealthCheck.of(RedisConnection.of(cluster.uri()))) {
                assertThat(stats.queues()).containsExactly("q0", "q1", "q2", "q3", "q4", "q5");
                for (QueueSnapshot s : stats.read()) {
                    int i = Integer.parseInt(s.queue().substring(1));
                    assertThat(s).extracting(QueueSnapshot::waiting, QueueSnapshot::inFlight, QueueSnapshot::delayed)
                            .containsExactly((long) 4 + i, 1L, (long) (i % 2));
                }
                assertThat(health.execute().isHealthy()).isTrue();
                // A master of some queue's slot, not the one holding the queue set: the read's pipeline meets it.
                int setsMaster = cluster.masterFor(RedisKeys.QUEUES).port();
                RedisProcess down = cluster.masters().stream()
                        .filter(m -> m.port() != setsMaster && ports.contains(m.port())).findFirst().orElseThrow();
                try (LogCapture log = new LogCapture()) {
                    down.kill(); // its pooled connection, used by the read above, meets the end of stream in the sync
                    assertThatThrownBy(stats::read).isInstanceOf(RedisUnavailableException.class);
                    assertThatThrownBy(stats::read).isInstanceOf(RedisUnavailableException.class);
                    // Jedis's ClusterPipeline logged "ERROR ... Error with connection to ..." with a stack trace here.
                    assertThat(log.lines("ERROR")).isEmpty();
                    assertThat(log.lines("\tat ")).isEmpty();
                }
                await().atMost(Duration.ofSeconds(10)).until(() -> !health.execute().isHealthy());
                assertThat(health.execute().getMessage()).contains(Integer.toString(down.port()));
            }
        }
    }

    static long gauge(MetricRegistry registry, String name) {
        Gauge<?> g = registry.getGauges().get(name);
        return g == null ? -1 : ((Number) g.getValue()).longValue();
    }
}
