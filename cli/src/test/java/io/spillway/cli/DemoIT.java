package io.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spillway.watchdog.Watchdog;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The demo end to end at a small size: Redis SIGKILLed twice and SIGSTOPped once, and nothing lost; on one redis-server,
 * and with {@code --cluster} on three masters.
 */
// First pass only (.ci/run's Redis 7.0 pass leaves out the tag first-pass-only, to keep CI under 30 minutes): the demo
// runs the paths that the producer's and worker's own tests run on Redis 7.0 in that pass, and its contract is the
// embedded Redis that the README's first command starts.
@Tag("first-pass-only")
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class DemoIT {

    @Test
    void smallDemoLosesNothing() throws Exception {
        long t0 = System.nanoTime();
        Cli c = Cli.run("demo", "--jobs", "600", "--rate", "100", "--hang-timeout", "1000", "--plain",
                "--drain-timeout", "30");
        long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t0);

        assertThat(c.exit()).as(c.toString()).isZero();
        assertThat(c.out()).contains("Fault 1/3: SIGKILL", "Fault 2/3: SIGSTOP", "Fault 3/3: SIGKILL",
                "Watchdog: redis-server back", "No accepted job was lost");
        assertThat(c.out()).containsPattern("lost\\s+0\\s");
        assertThat(c.out()).containsPattern("accepted\\s+600\\s");
        // No speed bound here (speed goals live in the benchmarks; @Timeout catches a hang), just the figure.
        System.out.printf("demo (600 jobs, 3 faults) took %d s%n", seconds);
    }

    @Test
    // Redis 7.0's cluster: ChaosClusterIT and ClusterIT in .ci/run's second pass
    @Timeout(value = 90, unit = TimeUnit.SECONDS)
    void clusterDemoLosesNothing() throws Exception {
        long t0 = System.nanoTime();
        Cli c = Cli.run("demo", "--cluster", "--jobs", "900", "--rate", "100", "--hang-timeout", "1000", "--plain",
                "--drain-timeout", "30");
        long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t0);

        assertThat(c.exit()).as(c.toString()).isZero();
        assertThat(c.out()).as(c.toString()).contains("a Redis Cluster of 3 masters, no replicas",
                "Redis Cluster formed in", "Fault 1/3: SIGKILL master 1 (127.0.0.1:", "Fault 2/3: SIGSTOP master 2 (127.0.0.1:",
                "Fault 3/3: SIGKILL master 3 (127.0.0.1:", "Watchdog: master 1 back", "Watchdog: master 2 silent for",
                "Watchdog: master 3 back", "Cluster: master 1 rejoined", "Cluster: master 2 rejoined", "Cluster: master 3 rejoined",
                "No accepted job was lost");
        // One queue on each master, each master named with its slots.
        assertThat(c.out()).containsPattern("Queues: demo-\\d+ on master 1 \\(127\\.0\\.0\\.1:\\d+, slots 0-5460\\), "
                + "demo-\\d+ on master 2 \\(127\\.0\\.0\\.1:\\d+, slots 5461-10921\\), "
                + "demo-\\d+ on master 3 \\(127\\.0\\.0\\.1:\\d+, slots 10922-16383\\)\\.");
        assertThat(c.out()).containsPattern("lost\\s+0\\s").containsPattern("accepted\\s+900\\s")
                .containsPattern("processed\\s+900\\s").contains("3 restart(s) by the watchdogs, summed over the 3 masters")
                .containsPattern("cluster not ok\\s+[0-9.]+ s\\s+from each fault until cluster_state ok on every master again");
        assertThat(ProcessHandle.current().descendants().filter(p -> p.info().command().orElse("").contains("redis-server")))
                .as("redis-servers left behind").isEmpty();
        System.out.printf("demo --cluster (900 jobs, 3 faults) took %d s%n", seconds);
    }

    @Test
    void aClusterMasterWhoseBusPortIsTakenIsStartedOnOtherPorts(@TempDir Path dir) throws Exception {
        // Another process holds master 2's cluster bus port (port + 10000), bound and listening before the demo picks that
        // port for it: its redis-server cannot bind the bus ("Failed listening on port … (cluster), aborting").
        try (ServerSocket squatter = listeningBusPort()) {
            int taken = squatter.getLocalPort() - 10_000;
            List<Integer> picked = new ArrayList<>();
            DemoCluster.PortPicker picker = ports -> {
                int port = picked.size() == 1 ? taken : DemoCluster.freePortPair(ports);
                picked.add(port);
                return port;
            };
            try (DemoCluster cluster = new DemoCluster(dir, true, picker)) {
                cluster.start((i, redis) -> Watchdog.builder().redis(redis).name("master-" + (i + 1)).build(),
                        Duration.ofSeconds(60));
                assertThat(cluster.healthy()).isTrue();
                assertThat(cluster.masters()).hasSize(3);
                assertThat(picked).as("ports picked").hasSize(4).element(1).isEqualTo(taken);
                assertThat(cluster.masters().get(1).redis().port()).isEqualTo(picked.get(3)).isNotEqualTo(taken);
                assertThat(cluster.uri().toString()).startsWith("redis-cluster://127.0.0.1:");
            }
        }
        assertThat(ProcessHandle.current().descendants().filter(p -> p.info().command().orElse("").contains("redis-server")))
                .as("redis-servers left behind").isEmpty();
    }

    /**
     * A socket listening on loopback port {@code b}, with {@code b - 10000} free, both below the ephemeral range: a
     * cluster bus port that a node on {@code b - 10000} cannot bind.
     */
    private static ServerSocket listeningBusPort() throws IOException {
        for (int attempt = 0; attempt < 100; attempt++) {
            int port = DemoCluster.freePortPair(List.of());
            ServerSocket s = new ServerSocket();
            try {
                s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port + 10_000));
                return s;
            } catch (java.net.BindException takenMeanwhile) {
                s.close();
            }
        }
        throw new IllegalStateException("no loopback port pair to squat after 100 attempts");
    }

    @Test
    void aClusterDemoRefusesADirWithTheClusterOfAnEarlierRun(@TempDir Path dir) throws Exception {
        Path nodes = Files.createDirectories(dir.resolve("cluster").resolve("master-1")).resolve("nodes.conf");
        Files.writeString(nodes, "an earlier run's cluster\n");
        Cli c = Cli.run("demo", "--cluster", "--dir", dir.toString(), "--jobs", "10");
        assertThat(c.exit()).as(c.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(c.oneLineError()).isEqualTo("spillway demo: --dir holds the Redis Cluster of an earlier demo run (" + nodes
                + "), whose masters were on other ports; give another --dir or delete " + dir.resolve("cluster"));
    }

    @Test
    void jobsStillInRedisWhenTheDrainTimeoutEndsAreNotCalledLost() throws Exception {
        // 20 jobs of 1 s each on one worker thread, and 1 s to drain: most are still queued at the end.
        Cli c = Cli.run("demo", "--jobs", "20", "--rate", "100", "--workers", "1", "--job-time", "1000", "--faults", "none",
                "--drain-timeout", "1", "--plain");
        assertThat(c.exit()).as("not lost, but not shown handled either: not a pass; " + c).isEqualTo(1);
        assertThat(c.out()).doesNotContain("LOST", "That is a bug").contains("were not handled within --drain-timeout 1 s but are"
                + " not lost: still held (");
        assertThat(c.out()).containsPattern("lost\\s+0\\s").containsPattern("not yet handled\\s+1[0-9]\\s");
    }

    @Test
    void aFaultAfterTheLastEnqueueIsRepairedBeforeTheResultAndItsDowntimeShown() throws Exception {
        // The enqueues take 0.5 s; Redis is killed at 1 s, when every job may be handled already.
        Cli json = Cli.run("demo", "--jobs", "50", "--rate", "100", "--faults", "kill@1s", "--json", "--drain-timeout", "30");
        assertThat(json.exit()).as(json.toString()).isZero();
        JsonNode r = new ObjectMapper().readTree(json.out());
        assertThat(r.get("redisRestarts").asInt()).as(json.out()).isEqualTo(1);
        assertThat(r.get("redisDowntimeMs").asLong()).as(json.out()).isPositive();

        Cli text = Cli.run("demo", "--jobs", "50", "--rate", "100", "--faults", "kill@1s", "--plain", "--drain-timeout", "30");
        assertThat(text.exit()).as(text.toString()).isZero();
        assertThat(text.out()).contains("50 jobs at 100/s (~1.0 s, to the last fault)", "Watchdog: redis-server back")
                .containsPattern("Redis downtime\\s+([1-9][0-9]* ms|[0-9]+\\.[0-9] s)\\s+1 restart\\(s\\)");
    }

    @Test
    void aRedisWithoutPersistenceLosesNothingWithAWriteAheadProducer() throws Exception {
        // One slow worker thread: jobs queue up in Redis, and each kill empties it.
        Cli c = Cli.run("demo", "--no-persistence", "--write-ahead", "--jobs", "400", "--rate", "100", "--workers", "1",
                "--job-time", "15", "--faults", "kill@30%,kill@70%", "--plain", "--drain-timeout", "60");
        assertThat(c.exit()).as(c.toString()).isZero();
        assertThat(c.out()).contains("Redis without persistence (a kill empties it); producer in write-ahead mode",
                "No accepted job was lost");
        assertThat(c.out()).containsPattern("lost\\s+0\\s").containsPattern("processed\\s+400\\s");
    }

    @Test
    void jsonResultHasEveryFigure() throws Exception {
        Cli c = Cli.run("demo", "--jobs", "200", "--rate", "200", "--faults", "kill@50%", "--json", "--drain-timeout", "30");
        assertThat(c.exit()).as(c.toString()).isZero();
        JsonNode r = new ObjectMapper().readTree(c.out());
        assertThat(r.get("accepted").asLong()).isEqualTo(200);
        assertThat(r.get("lost").asLong()).isZero();
        assertThat(r.get("processed").asLong()).isEqualTo(200);
        assertThat(r.get("redisRestarts").asInt()).isEqualTo(1);
        for (String field : new String[] {"duplicates", "spooled", "replayed", "worstEnqueueMs", "redisDowntimeMs"}) {
            assertThat(r.has(field)).as(field).isTrue();
        }
        assertThat(r.has("clusterNotOkMs")).as("a --cluster figure").isFalse();
    }
}
