package io.spillway.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.codahale.metrics.MetricRegistry;
import io.spillway.core.RedisConnection;
import io.spillway.core.RedisUnavailableException;
import io.spillway.testing.RedisProcess;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import redis.clients.jedis.Jedis;

/** The gateway's quick retries, its circuit, and running local work while a script call is on its way. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class RedisGatewayIT {
    private static List<byte[]> bytes(String... s) {
        List<byte[]> out = new ArrayList<>();
        for (String v : s) {
            out.add(v.getBytes(StandardCharsets.UTF_8));
        }
        return out;
    }

    private static Object enqueueOne(RedisGateway g, String id, Runnable whileWaiting) {
        JobRecord job = new JobRecord(io.spillway.core.JobId.of(id), io.spillway.core.QueueName.of("gw"), "t", new byte[8],
                java.util.Map.of(), 0, System.currentTimeMillis(), 0);
        RedisGateway.ScriptCall call = EnqueueScript.call(job.queue(), List.of(job), List.of(JobCodec.encode(job)),
                System.currentTimeMillis(), 0);
        return g.evalWhileWaiting(LuaScript.ENQUEUE, call.keys(), call.args(), whileWaiting);
    }

    @Test
    void refusedCredentialsAndDatabasesAreToldApartFromOutages() {
        try (RedisProcess redis = RedisProcess.builder().start()) {
            String hostPort = "127.0.0.1:" + redis.port();
            try (Jedis j = redis.jedis()) {
                j.configSet("requirepass", "secret");
            }
            for (String uri : List.of("redis://" + hostPort, "redis://:wrong@" + hostPort, "redis://:secret@" + hostPort + "/99",
                    "redis://bob:secret@" + hostPort)) {
                try (RedisGateway g = new RedisGateway(RedisConnection.of(java.net.URI.create(uri)), "t", 2,
                        Duration.ofMillis(1), null)) {
                    RedisGateway.Probe p = g.probe();
                    assertThat(p.healthy()).as(uri).isFalse();
                    assertThat(Failures.isMisconfiguration(p.problem())).as(uri + ": " + p.problem()).isTrue();
                }
            }
            try (RedisGateway g = new RedisGateway(RedisConnection.of(java.net.URI.create("redis://:secret@" + hostPort)), "t",
                    2, Duration.ofMillis(1), null)) {
                assertThat(g.probe().healthy()).isTrue();
            }
            redis.kill();
            try (RedisGateway g = new RedisGateway(RedisConnection.of(java.net.URI.create("redis://:secret@" + hostPort)), "t",
                    2, Duration.ofMillis(1), null)) {
                RedisGateway.Probe down = g.probe();
                assertThat(Failures.isMisconfiguration(down.problem())).as(down.problem()).isFalse();
            }
        }
    }

    /**
     * The heartbeat's INFO sections, in one pipeline: each section's fields come; a later section the user may not read
     * (a managed Redis filtering INFO) is left out, while a refused first section fails the call.
     */
    @Test
    void infoReadsItsSectionsInOnePipelineAndLeavesOutARefusedLaterOne() {
        try (RedisProcess redis = RedisProcess.builder().start();
             RedisGateway g = new RedisGateway(RedisConnection.of(redis.uri()), "test", 2, Duration.ofSeconds(1), new MetricRegistry())) {
            java.util.Map<String, String> info = g.serverAndReplicationInfo();
            assertThat(info).containsKeys("run_id", "redis_version", "role", "master_replid");
            assertThat(RedisInfo.runId(info)).isEqualTo(info.get("run_id") + "/" + info.get("master_replid"));
            try (Jedis j = redis.jedis()) {
                j.aclSetUser("serveronly", "on", ">pw", "+@all", "-info", "+info|server");
            }
            java.net.URI limited = java.net.URI.create("redis://serveronly:pw@127.0.0.1:" + redis.port());
            try (RedisGateway h = new RedisGateway(RedisConnection.of(limited), "test", 2, Duration.ofSeconds(1), new MetricRegistry())) {
                java.util.Map<String, String> some = h.serverAndReplicationInfo();
                assertThat(some).containsKey("run_id").doesNotContainKey("master_replid");
                assertThat(h.runId()).isEqualTo(some.get("run_id"));
                assertThatThrownBy(() -> h.info("replication", "server")).hasMessageContaining("NOPERM");
            }
        }
    }

    @Test
    void evalWhileWaitingRunsTheLocalWorkOnceAndReloadsAFlushedScript() {
        try (RedisProcess redis = RedisProcess.builder().start();
             RedisGateway g = new RedisGateway(RedisConnection.of(redis.uri()), "test", 2, Duration.ofSeconds(1), new MetricRegistry());
             Jedis j = redis.jedis()) {
            g.close("start closed");
            AtomicInteger ran = new AtomicInteger();
            assertThat(EnqueueScript.codes(enqueueOne(g, "a1", ran::incrementAndGet), 1)[0]).isEqualTo(EnqueueScript.ADDED);
            assertThat(ran).hasValue(1);
            j.scriptFlush();
            assertThat(EnqueueScript.codes(enqueueOne(g, "a2", ran::incrementAndGet), 1)[0]).isEqualTo(EnqueueScript.ADDED);
            assertThat(ran).as("NOSCRIPT reload does not run it again").hasValue(2);
            assertThat(EnqueueScript.codes(enqueueOne(g, "a2", ran::incrementAndGet), 1)[0]).isEqualTo(EnqueueScript.DUPLICATE);
            assertThat(j.xlen("spillway:{gw}:stream")).isEqualTo(2);
            assertThat(g.isOpen()).isFalse();
            assertThat(g.<String>execute(c -> c.echo("still usable"))).isEqualTo("still usable");
        }
    }

    @Test
    void staleConnectionsAfterARestartAreRetriedWithoutOpeningTheCircuit() {
        try (RedisProcess redis = RedisProcess.builder().start();
             RedisGateway g = new RedisGateway(RedisConnection.of(redis.uri()), "test", 4, Duration.ofSeconds(1), new MetricRegistry())) {
            g.close("start closed");
            List<Throwable> reported = new ArrayList<>();
            g.onUnavailable(reported::add);
            for (int i = 0; i < 4; i++) {
                g.execute(c -> c.ping());
            }
            redis.kill();
            redis.restart();
            AtomicInteger ran = new AtomicInteger();
            assertThat(EnqueueScript.codes(enqueueOne(g, "s1", ran::incrementAndGet), 1)[0]).isEqualTo(EnqueueScript.ADDED);
            assertThat(g.<String>execute(c -> c.ping())).isEqualTo("PONG");
            assertThat(g.isOpen()).isFalse();
            assertThat(reported).isEmpty();
            assertThat(ran.get()).as("once per attempt that reached a connection").isBetween(1, 2 * RedisGateway.DEFAULT_RETRY_ATTEMPTS);
        }
    }

    @Test
    void aRefusedCallOpensTheCircuitAndLaterCallsAreRefusedAtOnce() {
        try (RedisProcess redis = RedisProcess.builder().start();
             RedisGateway g = new RedisGateway(RedisConnection.of(redis.uri()), "test", 2, Duration.ofSeconds(1), new MetricRegistry())) {
            g.close("start closed");
            List<Throwable> reported = new ArrayList<>();
            g.onUnavailable(reported::add);
            g.execute(c -> c.ping());
            redis.kill();
            AtomicInteger ran = new AtomicInteger();
            assertThatThrownBy(() -> enqueueOne(g, "r1", ran::incrementAndGet)).isInstanceOf(RedisUnavailableException.class);
            assertThat(g.isOpen()).isTrue();
            assertThat(reported).hasSize(1);
            assertThatThrownBy(() -> g.execute(c -> c.ping()))
                    .isInstanceOf(RedisUnavailableException.class).hasMessageContaining("circuit open");
            assertThat(reported).as("a call refused by the open circuit reports nothing new").hasSize(1);
        }
    }
}
