package io.spillway.backend;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.codahale.metrics.Counter;
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
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

/**
 * A URI of the wrong kind for the server it reaches (a sentinel given as {@code redis://} or {@code redis-cluster://},
 * a Redis given as {@code redis-sentinel://} or {@code redis-cluster://}): the producer says so in one ERROR line that
 * names the URI to write, repeated only with the running total every tenth attempt, and keeps accepting: every job is
 * spooled, and a producer opened on the journal with the URI the line names delivers them all, in order.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
@org.junit.jupiter.api.Tag("first-pass-only") // the client's question and its log line: the same whatever the Redis version
class WrongKindIT {
    private static final int JOBS = 40;

    @TempDir
    Path dir;

    @Test
    void aSentinelGivenAsARedisOrAClusterIsNamedOnceAndItsSpooledJobsAreDelivered() {
        try (SentinelGroup redis = SentinelGroup.builder().start()) {
            String sentinel = "127.0.0.1:" + redis.sentinelPorts().get(0);
            URI right = URI.create("redis-sentinel://" + sentinel + "#" + redis.masterName());
            List<String> asRedis = spoolThrough(URI.create("redis://" + sentinel), "as-redis",
                    "wrong kind of server: redis://" + sentinel + " is a Redis Sentinel (it monitors " + redis.masterName()
                            + "): write " + right);
            List<String> asCluster = spoolThrough(URI.create("redis-cluster://" + sentinel), "as-cluster",
                    "wrong kind of server: redis-cluster://" + sentinel + " is not a Redis Cluster: " + sentinel
                            + " is a Redis Sentinel (it monitors " + redis.masterName() + "): write " + right);
            deliver(right, "as-redis", asRedis, redis.master());
            deliver(right, "as-cluster", asCluster, redis.master());
        }
    }

    @Test
    void aRedisGivenAsASentinelOrAClusterIsNamedOnceAndItsSpooledJobsAreDelivered() {
        try (RedisProcess redis = RedisProcess.builder().start()) {
            String at = "127.0.0.1:" + redis.port();
            URI right = URI.create("redis://" + at);
            List<String> asSentinel = spoolThrough(URI.create("redis-sentinel://" + at + "#jobs"), "as-sentinel",
                    "wrong kind of server: redis-sentinel://" + at + "#jobs: " + at + " is not a Redis Sentinel but a Redis:"
                            + " write " + right + ", or give the sentinels' addresses");
            // The probe itself sees this one (cluster support disabled): one line all the same.
            List<String> asCluster = spoolThrough(URI.create("redis-cluster://" + at), "as-cluster",
                    "is not a Redis Cluster", "connect with " + right);
            deliver(right, "as-sentinel", asSentinel, redis);
            deliver(right, "as-cluster", asCluster, redis);
        }
    }

    /**
     * Enqueues {@value #JOBS} jobs through a producer given {@code wrong}, each spooled; once it has made 12 reconnect
     * attempts, its log holds the ERROR line with {@code expected} for the first one and the tenth only. Returns the ids.
     */
    private List<String> spoolThrough(URI wrong, String name, String... expected) {
        List<String> ids = new ArrayList<>();
        try (LogCapture logs = new LogCapture();
             JobProducer p = JobProducer.builder().redis(wrong).journalDir(dir.resolve(name))
                     .reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(100)).build()) {
            for (int i = 0; i < JOBS; i++) {
                Receipt r = p.enqueue(name, "t", (name + "-" + i).getBytes(StandardCharsets.UTF_8));
                assertThat(r.spooled()).as("%s: accepted into the journal", name).isTrue();
                ids.add(r.jobId());
            }
            Counter attempts = p.metrics().counter(MetricNames.RECONNECT_ATTEMPTS + ".producer");
            await().atMost(Duration.ofSeconds(15)).until(() -> attempts.getCount() >= 12);
            assertThat(p.state()).isEqualTo(HealthState.DISCONNECTED);
            assertThat(p.journalBacklog()).isEqualTo(JOBS);
            List<String> said = logs.lines("Reconnect attempt");
            assertThat(said).as("%s: one line, then one every tenth attempt", name)
                    .allSatisfy(l -> assertThat(l).containsPattern("Reconnect attempt (1|[0-9]*0) failed: "));
            assertThat(said).filteredOn(l -> l.contains("Reconnect attempt 1 failed: ")).singleElement()
                    .satisfies(l -> assertThat(l).contains("ERROR", "(producer)", "jobs are spooled to the journal")
                            .contains(expected));
            assertThat(said).filteredOn(l -> l.contains("Reconnect attempt 10 failed: ")).singleElement()
                    .satisfies(l -> assertThat(l).contains("ERROR", "Redis away for").contains(expected));
            assertThat(logs.lines("\tat ")).as("no stack trace").isEmpty();
        }
        return ids;
    }

    /** Opens a producer on the journal of {@code name} with {@code right}: every spooled job reaches Redis, in order. */
    private void deliver(URI right, String name, List<String> ids, RedisProcess redis) {
        try (JobProducer p = JobProducer.builder().redis(right).journalDir(dir.resolve(name)).build()) {
            await().atMost(Duration.ofSeconds(20)).until(() -> p.state() == HealthState.CONNECTED && p.journalBacklog() == 0);
        }
        try (Jedis j = redis.jedis()) {
            assertThat(RedisJobs.ids(j, name)).as(name).containsExactlyElementsOf(ids);
        }
    }
}
