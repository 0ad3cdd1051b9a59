package io.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spillway.backend.JobProducer;
import io.spillway.core.HealthState;
import io.spillway.testing.ChildJvm;
import io.spillway.testing.FreePorts;
import io.spillway.testing.RedisProcess;
import io.spillway.testing.SentinelGroup;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The CLI and the standalone reporter given a redis-sentinel:// URI, before and after a failover. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
@org.junit.jupiter.api.Tag("first-pass-only") // the tool following the sentinels' master: Redis 7's failover is in SentinelFailoverIT
class SentinelCliIT {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    @Test
    void statusDlqDoctorAndReportFollowTheMasterTheSentinelsName() throws Exception {
        String q = "sentinel-cli";
        try (SentinelGroup redis = SentinelGroup.builder().start();
             JobProducer p = JobProducer.builder().redis(redis.uri()).journalDir(dir.resolve("j")).build()) {
            String uri = redis.uri().toString();
            await().atMost(Duration.ofSeconds(20)).until(() -> p.state() == HealthState.CONNECTED);
            for (int i = 0; i < 5; i++) {
                p.enqueue(q, "t", new byte[] {1});
            }
            Cli status = Cli.run("status", "--redis", uri, "-q", q, "--json");
            assertThat(status.exit()).as(status.toString()).isZero();
            assertThat(JSON.readTree(status.out()).get("queues").get(0).get("waiting").asLong()).isEqualTo(5);
            Cli dlq = Cli.run("dlq", "list", "--redis", uri, "-q", q);
            assertThat(dlq.exit()).as(dlq.toString()).isZero();
            Cli doctor = Cli.run("doctor", "--redis", uri, "--json");
            assertThat(doctor.exit()).as(doctor.toString()).isZero();
            // The sentinels learn of the replica from the master's INFO, within seconds of its start.
            await().atMost(Duration.ofSeconds(30)).until(() -> JSON.readTree(Cli.run("doctor", "--redis", uri, "--json").out())
                    .get("replicas").size() == 1);
            JsonNode replicas = JSON.readTree(Cli.run("doctor", "--redis", uri, "--json").out()).get("replicas");
            assertThat(replicas.get(0).get("replica").asText()).isEqualTo("127.0.0.1:" + redis.replica().port());
            assertThat(replicas.get(0).get("losesJobs").asBoolean()).isFalse();
            // The replica is the master after a failover: an evicting policy there loses jobs, and doctor says where.
            redis.replica().configSet("maxmemory-policy", "allkeys-lru");
            Cli evicting = Cli.run("doctor", "--redis", uri);
            assertThat(evicting.exit()).as(evicting.toString()).isEqualTo(ExitCodes.FAILED);
            assertThat(evicting.out()).contains("Replica 127.0.0.1:" + redis.replica().port() + " (version ",
                    "1 finding(s) lose jobs (on replica 127.0.0.1:" + redis.replica().port() + ")");
            redis.replica().configSet("maxmemory-policy", "noeviction");

            int port = FreePorts.next();
            int oldMasterPort = redis.masterPort();
            try (ChildJvm report = ChildJvm.builder(SpillwayCli.class)
                    .args("report", "--redis", uri, "--listen", "127.0.0.1:" + port, "--refresh", "200").start()) {
                report.awaitOutput("Ctrl-C stops", Duration.ofSeconds(30));
                HttpClient http = HttpClient.newHttpClient();
                URI metrics = URI.create("http://127.0.0.1:" + port + "/metrics");
                await().atMost(Duration.ofSeconds(20)).until(() -> http.send(HttpRequest.newBuilder(metrics).build(),
                        HttpResponse.BodyHandlers.ofString()).body().contains("spillway_queue_waiting{queue=\"" + q + "\"} 5.0"));

                RedisProcess old = redis.killMaster();
                redis.awaitFailover(old, Duration.ofSeconds(30));
                for (int i = 0; i < 2; i++) {
                    p.enqueue(q, "t", new byte[] {2}); // spooled or direct: either way it reaches the new master
                }
                await().atMost(Duration.ofSeconds(30)).until(() -> p.state() == HealthState.CONNECTED && p.journalBacklog() == 0);
                await().atMost(Duration.ofSeconds(30)).until(() -> http.send(HttpRequest.newBuilder(metrics).build(),
                        HttpResponse.BodyHandlers.ofString()).body().contains("spillway_queue_waiting{queue=\"" + q + "\"} 7.0"));
                await().atMost(Duration.ofSeconds(30)).until(() -> http.send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + port + "/health")).build(), HttpResponse.BodyHandlers.ofString()).statusCode() == 200);
                assertThat(report.terminate(Duration.ofSeconds(20))).isEqualTo(143);
            }
            JsonNode after = JSON.readTree(Cli.run("status", "--redis", uri, "-q", q, "--json").out());
            assertThat(after.get("queues").get(0).get("waiting").asLong()).as("status after the failover").isEqualTo(7);
            Cli doctorAfter = Cli.run("doctor", "--redis", uri);
            assertThat(doctorAfter.exit()).as(doctorAfter.toString()).isZero();
            // The sentinels now list the dead old master as the new master's replica: a warning, not a failure.
            assertThat(doctorAfter.out()).as(doctorAfter.toString()).contains("Replica 127.0.0.1:" + oldMasterPort + " (version ?;",
                    "could not be checked: ");
        }
    }
}
