package io.spillway.watchdog.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

/** A program that cannot run, as each JDK words it: no restart loop on any of them. */
class CannotRunExceptionTest {

    @Test
    void badProgramsAreRecognisedInTheWordsOfEveryJdk() {
        // JDK 17
        assertThat(CannotRunException.badProgram("Cannot run program \"x\": error=2, No such file or directory"))
                .isEqualTo("No such file or directory");
        assertThat(CannotRunException.badProgram("Cannot run program \"/tmp/x\": error=13, Permission denied"))
                .isEqualTo("Permission denied");
        // JDK 21 and later (jspawnhelper)
        assertThat(CannotRunException.badProgram("Cannot run program \"x\": Exec failed, error: 2 (No such file or directory) "))
                .isEqualTo("No such file or directory");
        assertThat(CannotRunException.badProgram("Cannot run program \"/tmp/x\": Exec failed, error: 8 (Exec format error) "))
                .isEqualTo("Exec format error");
        // Not the program's fault: trying again may help.
        assertThat(CannotRunException.badProgram("Cannot run program \"x\": error=12, Cannot allocate memory")).isNull();
        assertThat(CannotRunException.badProgram("Cannot run program \"x\": Exec failed, error: 11 (Resource temporarily unavailable) ")).isNull();
        assertThat(CannotRunException.badProgram(null)).isNull();
    }

    @Test
    void aMissingProgramIsACannotRunOnThisJdk() {
        assertThatThrownBy(() -> CannotRunException.start(new ProcessBuilder(List.of("spillway-no-such-program-" + System.nanoTime()))))
                .isInstanceOf(CannotRunException.class).hasMessageContaining("No such file or directory");
    }
}
