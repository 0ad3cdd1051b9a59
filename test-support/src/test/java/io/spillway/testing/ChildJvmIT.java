package io.spillway.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ChildJvmIT {

    private static final Duration STARTUP = Duration.ofSeconds(30);

    @Test
    void runsAMainAndSeesItsOutputThenKillsIt() {
        try (ChildJvm child = ChildJvm.builder(HelloMain.class).start()) {
            String line = child.awaitOutput(Pattern.compile("hello from pid \\d+"), STARTUP);

            assertThat(line).contains("hello from pid " + child.pid()).contains("analytics=true");
            child.kill();
            assertThat(child.isAlive()).isFalse();
            assertThat(child.waitFor(Duration.ofSeconds(1))).isEqualTo(137);
        }
    }

    @Test
    void waitForReturnsTheExitCode() {
        try (ChildJvm child = ChildJvm.builder(HelloMain.class).args("3").start()) {
            assertThat(child.waitFor(STARTUP)).isEqualTo(3);
            assertThat(child.output()).contains("hello from pid");
        }
    }

    @Test
    void terminateSendsSigterm() {
        try (ChildJvm child = ChildJvm.builder(HelloMain.class).start()) {
            child.awaitOutput("hello", STARTUP);

            assertThat(child.terminate(Duration.ofSeconds(10))).isEqualTo(143);
        }
    }

    @Test
    void awaitOutputFailsFastWhenTheChildExits() {
        try (ChildJvm child = ChildJvm.builder(HelloMain.class).args("0").start()) {
            assertThatThrownBy(() -> child.awaitOutput("never printed", STARTUP))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("exited with 0");
        }
    }

    @Test
    void closeKillsAndDeletesTheOutputFile() {
        ChildJvm child = ChildJvm.builder(HelloMain.class).start();
        Path out = child.outputFile();
        long pid = child.pid();

        child.close();

        assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)).isFalse();
        assertThat(out).doesNotExist();
    }
}
