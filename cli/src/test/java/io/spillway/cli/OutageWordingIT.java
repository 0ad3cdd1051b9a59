package io.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.spillway.backend.JobProducer;
import io.spillway.core.QueueName;
import io.spillway.core.internal.RedisKeys;
import io.spillway.testing.RedisProcess;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.exceptions.JedisDataException;

/**
 * What the tool says in the states an on-call engineer meets in an outage, against a real redis-server: a Redis out of
 * memory, a queue nobody works, a Redis that is stopped (SIGSTOP).
 */
// First pass only (.ci/run's Redis 7.0 pass leaves out the tag first-pass-only): the tool's own words for states both
// versions show alike (INFO memory, a worker's heartbeat, a read that times out).
@Tag("first-pass-only")
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class OutageWordingIT {
    @TempDir
    Path tmp;

    @Test
    void doctorSaysARedisAtItsMaxmemoryIsRefusingWritesNow() {
        try (RedisProcess redis = RedisProcess.builder().start(); Jedis j = redis.jedis()) {
            redis.configSet("maxmemory", "100000"); // below what an empty Redis uses: full at once
            assertThatThrownBy(() -> j.set("spillway:probe-oom", "x")).isInstanceOf(JedisDataException.class)
                    .hasMessageStartingWith("OOM");

            Cli doctor = Cli.run("doctor", "--redis", redis.uri().toString(), "--pings", "1");
            assertThat(doctor.out()).as(doctor.toString()).containsPattern("warn +memory +[0-9.]+ MB of 0\\.1 MB used \\(\\d+%\\):"
                    + " at the limit: Redis is refusing writes now \\(OOM\\), so producers spool new jobs to their journals"
                    + " and workers drain the queues");
            assertThat(doctor.out()).doesNotContain("near the limit");
            // Nothing is lost meanwhile: a warning, as doctor's other "refuses writes now" findings are.
            assertThat(doctor.exit()).as(doctor.toString()).isEqualTo(ExitCodes.OK);
        }
    }

    @Test
    void statusSaysNoWorkerIsSeenOnAQueueWithJobsWaiting() {
        String idle = "idle-" + System.nanoTime();
        String worked = "worked-" + System.nanoTime();
        try (RedisProcess redis = RedisProcess.builder().start(); Jedis j = redis.jedis();
             JobProducer producer = JobProducer.builder().redis(redis.uri()).journalDir(tmp.resolve("j")).build()) {
            for (int i = 0; i < 3; i++) {
                producer.enqueue(idle, "t", new byte[] {1});
                producer.enqueue(worked, "t", new byte[] {1});
            }
            // A worker's heartbeat on one of the two queues only.
            j.zadd(RedisKeys.workers(QueueName.of(worked)), System.currentTimeMillis(), "gpu-1");

            Cli status = Cli.run("status", "--redis", redis.uri().toString(), "-q", idle, "-q", worked);
            assertThat(status.exit()).as(status.toString()).isEqualTo(ExitCodes.OK);
            assertThat(status.out()).as(status.toString()).containsPattern("Queue " + idle + ": 3 job\\(s\\) waiting, the oldest"
                    + " for [0-9.]+ m?s, and no worker seen in the last 60 s: nothing takes its jobs; start workers for it, or"
                    + " find out why they stopped \\(their logs\\)\\.");
            assertThat(status.out()).doesNotContain("Queue " + worked + ":");
            assertThat(Cli.run("status", "--redis", redis.uri().toString(), "-q", idle, "--json").out())
                    .contains("\"hints\"", "no worker seen in the last 60 s");
        }
    }

    @Test
    void aStoppedRedisIsSaidToAcceptConnectionsButNotAnswer() {
        try (RedisProcess redis = RedisProcess.builder().start()) {
            redis.hang();
            try {
                Cli status = Cli.run("status", "--redis", redis.uri().toString(), "--timeout", "300");
                assertThat(status.exit()).as(status.toString()).isEqualTo(ExitCodes.UNREACHABLE);
                assertThat(status.oneLineError()).isEqualTo("spillway status: Redis at " + redis.uri() + " accepts connections"
                        + " but does not answer within 300 ms (--timeout); hung or overloaded? (stopped with SIGSTOP, a long"
                        + " command or script: SLOWLOG GET, a slow disk or fork)");
            } finally {
                redis.resume();
            }
        }
    }
}
