package io.spillway.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.codahale.metrics.MetricRegistry;
import io.spillway.core.Durability;
import io.spillway.core.JournalLockedException;
import io.spillway.testing.LockProbe;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A lock this JVM holds stays held for every other process whatever else this JVM does with the file: on Linux,
 * closing any descriptor of a file drops the process's POSIX locks on it, so a second opener or a probe in the same
 * JVM that opened and closed the file used to hand a live journal to the next process. Checked from a child JVM.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class FileLocksTest {
    @TempDir
    Path tmp;

    @Test
    void aSecondProducerOrAProbeInTheSameJvmLeavesTheJournalLockedForOtherProcesses() throws Exception {
        Path dir = tmp.resolve("journal");
        try (ChronicleJournal j = ChronicleJournal.open(dir, 1L << 30, Durability.PROCESS_CRASH, new MetricRegistry())) {
            Path lockFile = dir.resolve("spillway.lock");
            assertThatThrownBy(() -> ChronicleJournal.open(dir, 1L << 30, Durability.PROCESS_CRASH, new MetricRegistry()))
                    .isInstanceOf(JournalLockedException.class);
            assertThat(FileLocks.isLocked(lockFile)).isTrue();
            assertThat(FileLocks.tryLockShared(lockFile)).isNull();
            assertThat(FileLocks.tryLockExclusive(lockFile, false, false)).isNull();
            assertThat(LockProbe.anotherProcessCanLock(lockFile)).as("another process after the same-JVM attempts").isFalse();
        }
        assertThat(LockProbe.anotherProcessCanLock(dir.resolve("spillway.lock"))).as("after close").isTrue();
    }

    @Test
    void aLockIsReleasedOnceAndAFileNoneHoldsIsNotLocked() throws Exception {
        Path f = tmp.resolve("a.lock");
        assertThat(FileLocks.isLocked(f)).as("a file that does not exist").isFalse();
        FileLocks.Held held = FileLocks.tryLockExclusive(f, true, true);
        assertThat(held).isNotNull();
        assertThat(Files.exists(f)).isTrue();
        assertThat(FileLocks.isLocked(f)).isTrue();
        held.close();
        held.close(); // idempotent
        assertThat(FileLocks.isLocked(f)).isFalse();
        try (FileLocks.Held shared = FileLocks.tryLockShared(f)) {
            assertThat(shared).isNotNull();
            assertThat(shared.isShared()).isTrue();
            assertThat(LockProbe.anotherProcessCanLock(f)).as("a reader's shared lock keeps writers out").isFalse();
        }
        assertThatThrownBy(() -> FileLocks.tryLockExclusive(tmp.resolve("none"), false, false))
                .isInstanceOf(java.nio.file.NoSuchFileException.class);
    }
}
