package io.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.spillway.testing.ChildJvm;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Ctrl-C in the middle of a demo: what it started is stopped and its temp dir deleted, as its help promises. */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class DemoInterruptIT {
    @TempDir
    Path tmp;

    @Test
    void ctrlCStopsRedisAndDeletesTheTempDir() throws Exception {
        try (ChildJvm demo = ChildJvm.builder(SpillwayCli.class).systemProperty("java.io.tmpdir", tmp.toString())
                .args("demo", "--jobs", "100000", "--rate", "200", "--faults", "none", "--plain").start()) {
            demo.awaitOutput(Pattern.compile("accepted \\d+/100000"), Duration.ofSeconds(45));
            assertThat(demoDirs()).hasSize(1);
            List<ProcessHandle> children = ProcessHandle.of(demo.pid()).orElseThrow().descendants().toList();
            assertThat(children).as("redis-server").isNotEmpty();

            signal(demo.pid(), sigintIgnored(demo.pid()) ? "TERM" : "INT");
            demo.waitFor(Duration.ofSeconds(30));

            await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(children).noneMatch(ProcessHandle::isAlive));
            assertThat(demoDirs()).as(demo.output()).isEmpty();
        }
    }

    @Test
    void aDirThatIsAFileIsBadInput() throws IOException {
        Path file = Files.writeString(tmp.resolve("passwd"), "x");
        Cli c = Cli.run("demo", "--dir", file.toString());
        assertThat(c.exit()).as(c.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(c.oneLineError()).isEqualTo("spillway demo: --dir " + file + " is not a directory");

        Cli under = Cli.run("demo", "--dir", file.resolve("sub").toString());
        assertThat(under.exit()).as(under.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(under.oneLineError()).startsWith("spillway demo: --dir " + file.resolve("sub") + " cannot be created: ");
    }

    private List<Path> demoDirs() throws IOException {
        try (Stream<Path> files = Files.list(tmp)) {
            return files.filter(p -> p.getFileName().toString().startsWith("spillway-demo-") && Files.isDirectory(p)).toList();
        }
    }

    /**
     * A process started in the background of a shell without job control inherits SIGINT ignored, and a JVM then
     * never sees Ctrl-C: SIGTERM runs the same shutdown hooks.
     */
    private static boolean sigintIgnored(long pid) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (line.startsWith("SigIgn:")) {
                return (Long.parseUnsignedLong(line.substring(7).trim(), 16) & 0x2) != 0;
            }
        }
        return false;
    }

    private static void signal(long pid, String sig) throws Exception {
        Process kill = new ProcessBuilder("kill", "-" + sig, Long.toString(pid)).inheritIO().start();
        assertThat(kill.waitFor()).isZero();
    }
}
