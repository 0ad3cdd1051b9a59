package io.spillway.worker;

import static org.assertj.core.api.Assertions.assertThat;

import io.spillway.core.QueueName;
import io.spillway.worker.internal.AckLog;
import io.spillway.worker.internal.Outcome;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(value = 10, unit = TimeUnit.SECONDS)
class AckLogTest {
    @TempDir
    Path dir;

    private static Outcome retry(String id) {
        return new Outcome(Outcome.Kind.RETRY, QueueName.of("q"), "1-" + id.length(), id, 2, 10, 20, new byte[] {1, 2, 3}, "E: boom",
                "worker-1");
    }

    @Test
    void keepsOutcomesAcrossReopenAndClears() {
        try (AckLog log = AckLog.open(dir)) {
            log.append(List.of(Outcome.ack(QueueName.of("q"), "1-0", "a", 1, 5, "worker-1"), retry("bb"),
                    new Outcome(Outcome.Kind.DROP, QueueName.of("q"), "1-2", "c", 0, 6, 0, null, null, "worker-1")));
        }
        try (AckLog log = AckLog.open(dir)) {
            List<Outcome> read = log.readAll();
            assertThat(read).hasSize(3);
            assertThat(read.get(0).kind()).isEqualTo(Outcome.Kind.ACK);
            assertThat(read.get(2).kind()).isEqualTo(Outcome.Kind.DROP);
            assertThat(read.get(2).jobId()).isEqualTo("c");
            assertThat(read.get(2).consumer()).isEqualTo("worker-1");
            assertThat(read.get(1).error()).isEqualTo("E: boom");
            assertThat(read.get(1).job()).containsExactly(1, 2, 3);
            log.clear();
        }
        try (AckLog log = AckLog.open(dir)) {
            assertThat(log.readAll()).isEmpty();
        }
    }

    @Test
    void aTornTailIsCutOffAndTheRestKept() throws IOException {
        Path file;
        try (AckLog log = AckLog.open(dir)) {
            log.append(List.of(retry("a"), retry("b")));
            file = log.file();
        }
        Files.write(file, new byte[] {0, 0, 0, 50, 1, 2}, StandardOpenOption.APPEND);
        try (AckLog log = AckLog.open(dir)) {
            assertThat(log.readAll()).extracting(Outcome::jobId).containsExactly("a", "b");
            log.append(List.of(retry("c")));
            assertThat(log.readAll()).extracting(Outcome::jobId).containsExactly("a", "b", "c");
        }
    }

    @Test
    void theLeaseHolderIsKeptAndRecordsOfEarlierVersionsStillDecode() {
        Outcome o = retry("a");
        assertThat(Outcome.decode(o.encode()).consumer()).isEqualTo("worker-1");
        // An earlier version's record ends after the job bytes: no consumer, which the scripts read as "any lease".
        Outcome old = new Outcome(Outcome.Kind.RETRY, QueueName.of("q"), "1-1", "a", 2, 10, 20, new byte[] {1, 2, 3}, "E: boom", "");
        byte[] bytes = old.encode();
        byte[] earlier = java.util.Arrays.copyOf(bytes, bytes.length - 2); // writeUTF("") is its 2-byte length
        Outcome decoded = Outcome.decode(earlier);
        assertThat(decoded.consumer()).isEmpty();
        assertThat(decoded.job()).containsExactly(1, 2, 3);
    }

    @Test
    void aWorkerTakesOverEveryFileLeftByWorkersThatAreGoneButNotALiveOnesFile() {
        try (AckLog a = AckLog.open(dir); AckLog b = AckLog.open(dir); AckLog c = AckLog.open(dir)) {
            a.append(List.of(retry("a")));
            b.append(List.of(retry("b1"), retry("b2")));
            c.append(List.of(retry("c")));
            a.close();
            b.close();
            // c stays open (alive). A new worker takes acks-0 (a's) and must also take b's, not c's.
            try (AckLog fresh = AckLog.open(dir)) {
                assertThat(fresh.file()).isEqualTo(a.file());
                List<Outcome> mine = fresh.readAll();
                mine.addAll(fresh.adoptOrphans());
                assertThat(mine).extracting(Outcome::jobId).containsExactlyInAnyOrder("a", "b1", "b2");
                assertThat(fresh.readAll()).extracting(Outcome::jobId).containsExactlyInAnyOrder("a", "b1", "b2");
                assertThat(c.readAll()).extracting(Outcome::jobId).containsExactly("c");
            }
            // b's file was emptied once its outcomes were in the adopter's.
            assertThat(b.file()).isEmptyFile();
        }
    }

    @Test
    void logsOfAnotherRedisAreNeverTakenOverButThoseOfEarlierVersionsAre() {
        String mine = AckLog.scopeOf("10.0.0.1", 6379, 0);
        String theirs = AckLog.scopeOf("10.0.0.2", 6379, 0);
        assertThat(mine).hasSize(8).isNotEqualTo(theirs).isEqualTo(AckLog.scopeOf("10.0.0.1", 6379, 0));
        assertThat(AckLog.scopeOf("10.0.0.1", 6379, 1)).isNotEqualTo(mine);
        try (AckLog other = AckLog.open(dir, theirs); AckLog legacy = AckLog.open(dir)) {
            other.append(List.of(retry("other-redis")));
            legacy.append(List.of(retry("earlier-version")));
            assertThat(other.file().getFileName().toString()).isEqualTo("acks-" + theirs + "-0.log");
            assertThat(legacy.file().getFileName().toString()).isEqualTo("acks-0.log");
        }
        try (AckLog log = AckLog.open(dir, mine)) {
            assertThat(log.file().getFileName().toString()).isEqualTo("acks-" + mine + "-0.log");
            assertThat(log.adoptOrphans()).extracting(Outcome::jobId).containsExactly("earlier-version");
        }
        try (AckLog other = AckLog.open(dir, theirs)) {
            assertThat(other.readAll()).extracting(Outcome::jobId).containsExactly("other-redis");
        }
    }

    @Test
    void twoOpenLogsInOneDirectoryUseTwoFiles() {
        try (AckLog a = AckLog.open(dir); AckLog b = AckLog.open(dir)) {
            assertThat(a.file()).isNotEqualTo(b.file());
        }
    }

    /**
     * Two workers of one JVM on one state directory: the second's open and its look for orphans pass over the
     * first's file without opening it, so its lock holds for other processes (closing a second descriptor of the file
     * would drop it on Linux, and a worker process started later would take or empty a live worker's outcomes).
     */
    @Test
    void aSecondWorkerOfTheSameJvmLeavesTheFirstsFileLockedForOtherProcesses() {
        try (AckLog a = AckLog.open(dir)) {
            a.append(List.of(retry("a")));
            try (AckLog b = AckLog.open(dir)) {
                assertThat(b.adoptOrphans()).isEmpty();
                assertThat(io.spillway.testing.LockProbe.anotherProcessCanLock(a.file())).isFalse();
                assertThat(io.spillway.testing.LockProbe.anotherProcessCanLock(b.file())).isFalse();
            }
            assertThat(a.readAll()).hasSize(1);
        }
    }
}
