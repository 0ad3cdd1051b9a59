package io.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.spillway.backend.JobProducer;
import io.spillway.testing.ChildJvm;
import io.spillway.testing.FreePorts;
import io.spillway.testing.RedisProcess;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(value = 90, unit = TimeUnit.SECONDS)
class ReportCommandIT {
    @TempDir
    Path dir;

    @Test
    void servesQueueFiguresAsPrometheusTextUntilStopped() throws Exception {
        try (RedisProcess redis = RedisProcess.builder().start()) {
            try (JobProducer p = JobProducer.builder().redis(redis.uri()).journalDir(dir.resolve("j")).build()) {
                for (int i = 0; i < 7; i++) {
                    p.enqueue("reports", "t", new byte[] {1});
                }
            }
            int port = FreePorts.next();
            try (ChildJvm cli = ChildJvm.builder(SpillwayCli.class)
                    .args("report", "--redis", redis.uri().toString(), "--listen", "127.0.0.1:" + port, "--refresh", "200").start()) {
                cli.awaitOutput("Ctrl-C stops", Duration.ofSeconds(30));
                HttpClient http = HttpClient.newHttpClient();
                URI metrics = URI.create("http://127.0.0.1:" + port + "/metrics");
                await().atMost(Duration.ofSeconds(20)).until(() -> http.send(HttpRequest.newBuilder(metrics).build(),
                        HttpResponse.BodyHandlers.ofString()).body().contains("spillway_queue_waiting{queue=\"reports\"} 7.0"));
                HttpResponse<String> health = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/health")).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertThat(health.statusCode()).isEqualTo(200);
                assertThat(cli.terminate(Duration.ofSeconds(20))).isEqualTo(143);
            }
        }
    }

    /** {@code --listen 0.0.0.0:0}: the line says a URL that works, and that the endpoint listens on every interface. */
    @Test
    void onEveryInterfaceItPrintsAUrlToUse() throws Exception {
        try (RedisProcess redis = RedisProcess.builder().start();
             ChildJvm cli = ChildJvm.builder(SpillwayCli.class)
                     .args("report", "--redis", redis.uri().toString(), "--listen", "0.0.0.0:0").start()) {
            String line = cli.awaitOutput("Ctrl-C stops", Duration.ofSeconds(30));
            Matcher m = Pattern.compile("^Serving (http://127\\.0\\.0\\.1:\\d+/metrics) and /health \\(listening on every"
                    + " interface\\) for redis://").matcher(line);
            assertThat(m.find()).as(line).isTrue();
            HttpResponse<String> metrics = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(m.group(1))).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(metrics.statusCode()).isEqualTo(200);
            assertThat(cli.terminate(Duration.ofSeconds(20))).isEqualTo(143);
        }
    }

    @Test
    void aJournalDirectoryThatIsNotThereOrNotAJournalIsBadInput() throws Exception {
        String nowhere = "redis://127.0.0.1:" + FreePorts.next();
        Path typo = dir.resolve("typo");
        Cli missing = Cli.run("report", "--redis", nowhere, "--journal", typo.toString());
        assertThat(missing.exit()).as(missing.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(missing.oneLineError()).isEqualTo("spillway report: no journal directory at " + typo);
        assertThat(typo).doesNotExist();

        Path notes = java.nio.file.Files.createDirectories(dir.resolve("notes"));
        java.nio.file.Files.writeString(notes.resolve("notes.txt"), "x");
        Cli notAJournal = Cli.run("report", "--redis", nowhere, "--journal", notes.toString());
        assertThat(notAJournal.exit()).as(notAJournal.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(notAJournal.oneLineError()).contains("not a Spillway journal directory");

        Cli nothing = Cli.run("report", "--redis", nowhere, "--no-http");
        assertThat(nothing.exit()).as(nothing.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(nothing.oneLineError()).isEqualTo("spillway report: --no-http leaves no reporter: add --console, --csv,"
                + " --slf4j or --jmx");

        Cli badCap = Cli.run("report", "--redis", nowhere, "--journal-max-bytes", "0");
        assertThat(badCap.exit()).as(badCap.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(badCap.oneLineError()).contains("--journal-max-bytes must be > 0");
    }

    @Test
    void aCsvDirectoryThatIsAFileOrCannotBeMadeIsBadInput() throws Exception {
        String nowhere = "redis://127.0.0.1:" + FreePorts.next();
        Path file = java.nio.file.Files.writeString(dir.resolve("hostname"), "x");
        Cli onAFile = Cli.run("report", "--redis", nowhere, "--no-http", "--csv", file.toString());
        assertThat(onAFile.exit()).as(onAFile.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(onAFile.oneLineError()).isEqualTo("spillway report: --csv " + file + " is a file, not a directory");

        Path under = file.resolve("metrics");
        Cli underAFile = Cli.run("report", "--redis", nowhere, "--no-http", "--csv", under.toString());
        assertThat(underAFile.exit()).as(underAFile.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(underAFile.oneLineError()).startsWith("spillway report: --csv " + under + " cannot be created");
    }

    @Test
    void aListenAddressThatIsNotOfThisMachineIsBadInput() {
        try (RedisProcess redis = RedisProcess.builder().start()) {
            Cli unknown = Cli.run("report", "--redis", redis.uri().toString(), "--listen", "nohost.invalid:1");
            assertThat(unknown.exit()).as(unknown.toString()).isEqualTo(ExitCodes.USAGE);
            assertThat(unknown.oneLineError()).isEqualTo("spillway report: --listen: unknown host 'nohost.invalid'");

            Cli foreign = Cli.run("report", "--redis", redis.uri().toString(), "--listen", "192.0.2.1:9477"); // TEST-NET-1
            assertThat(foreign.exit()).as(foreign.toString()).isEqualTo(ExitCodes.USAGE);
            assertThat(foreign.oneLineError()).contains("192.0.2.1", "not an address of this machine");
        }
    }

    @Test
    void aListenPortInUseIsBadInput() throws Exception {
        try (RedisProcess redis = RedisProcess.builder().start();
             java.net.ServerSocket taken = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            String listen = "127.0.0.1:" + taken.getLocalPort();
            Cli c = Cli.run("report", "--redis", redis.uri().toString(), "--listen", listen);
            assertThat(c.exit()).as(c.toString()).isEqualTo(ExitCodes.USAGE);
            assertThat(c.oneLineError()).isEqualTo("spillway report: --listen " + listen + ": the address is already in use");
        }
    }

    @Test
    void badInputIsAOneLineError() {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = SpillwayCli.run(new String[] {"report", "--listen", "nonsense"}, new PrintWriter(out), new PrintWriter(err));
        assertThat(code).isEqualTo(ExitCodes.USAGE);
        assertThat(err.toString()).contains("--listen").doesNotContain("Exception");
    }

    /**
     * An exporter run by systemd or Kubernetes must not exit (and restart-loop) while Redis is down: that outage is
     * when its /health and the journal backlogs matter.
     */
    @Test
    void startsWhileRedisIsDownAndPicksItUpWhenItComes() throws Exception {
        int redisPort = FreePorts.next();
        URI redisUri = URI.create("redis://127.0.0.1:" + redisPort);
        Path journal = dir.resolve("left-behind");
        try (JobProducer p = JobProducer.builder().redis(redisUri).journalDir(journal).build()) {
            for (int i = 0; i < 3; i++) {
                assertThat(p.enqueue("outage", "t", new byte[] {1}).spooled()).isTrue();
            }
        }
        int port = FreePorts.next();
        HttpClient http = HttpClient.newHttpClient();
        URI metrics = URI.create("http://127.0.0.1:" + port + "/metrics");
        URI health = URI.create("http://127.0.0.1:" + port + "/health");
        try (ChildJvm cli = ChildJvm.builder(SpillwayCli.class).args("report", "--redis", redisUri.toString(),
                "--journal", journal.toString(), "--listen", "127.0.0.1:" + port, "--refresh", "200").start()) {
            cli.awaitOutput("Ctrl-C stops", Duration.ofSeconds(30));
            HttpResponse<String> down = http.send(HttpRequest.newBuilder(health).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(down.statusCode()).isEqualTo(503);
            assertThat(down.body()).contains("Redis " + redisUri + " unreachable: connection refused");
            HttpResponse<String> journalOnly = http.send(HttpRequest.newBuilder(metrics).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(journalOnly.statusCode()).isEqualTo(200);
            assertThat(journalOnly.body()).contains("spillway_journal_backlog_jobs{queue=\"outage\"} 3.0")
                    .doesNotContain("spillway_queue_waiting");
            cli.awaitOutput("Redis not reachable yet (connection refused)", Duration.ofSeconds(10));

            try (RedisProcess redis = RedisProcess.builder().port(redisPort).start();
                 JobProducer p = JobProducer.builder().redis(redis.uri()).journalDir(dir.resolve("live")).build()) {
                p.enqueue("arrived", "t", new byte[] {1});
                p.enqueue("arrived", "t", new byte[] {2});
                await().atMost(Duration.ofSeconds(20)).until(() ->
                        http.send(HttpRequest.newBuilder(health).build(), HttpResponse.BodyHandlers.ofString()).statusCode() == 200);
                await().atMost(Duration.ofSeconds(20)).until(() -> http.send(HttpRequest.newBuilder(metrics).build(),
                        HttpResponse.BodyHandlers.ofString()).body().contains("spillway_queue_waiting{queue=\"arrived\"} 2.0"));
                cli.awaitOutput("Redis answers: reading queue figures", Duration.ofSeconds(10));
                assertThat(cli.terminate(Duration.ofSeconds(20))).isEqualTo(143);
            }
            // One line for the outage, however many reads were retried; no stack traces.
            assertThat(cli.output().lines().filter(l -> l.contains("not reachable"))).hasSize(1);
            assertThat(cli.output()).doesNotContain("Exception", "\tat ");
        }
    }
}
