package io.spillway.core.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.spillway.core.Durability;
import io.spillway.core.JobId;
import io.spillway.core.QueueName;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CancelLogTest {
    @TempDir
    Path dir;

    private static final QueueName Q = QueueName.of("images");

    @Test
    void linesAppendedAreReadBackInOrderFromAGivenTime() {
        try (CancelLog log = CancelLog.open(dir, Durability.PROCESS_CRASH, 15_000)) {
            log.append(Q, JobId.of("a"), 1_000);
            log.append(Q, JobId.of("order-42"), 2_000);
            log.append(QueueName.of("mail"), JobId.of("x:y/z+1=2@3"), 3_000);
            assertThat(log.since(2_000)).containsExactly(new CancelLog.Entry(2_000, Q, JobId.of("order-42")),
                    new CancelLog.Entry(3_000, QueueName.of("mail"), JobId.of("x:y/z+1=2@3")));
        }
        try (CancelLog reopened = CancelLog.open(dir, Durability.POWER_LOSS, 15_000)) {
            assertThat(reopened.since(0)).extracting(CancelLog.Entry::id)
                    .containsExactly(JobId.of("a"), JobId.of("order-42"), JobId.of("x:y/z+1=2@3"));
        }
    }

    @Test
    void aSuccessorMakesAgainEveryCancellationSinceTheOldestWriteItSendsAgain() {
        // Predecessor: wrote job "j" at 1,000 and cancelled it at 1,100, then only cancelled other jobs, up to 9,000.
        // Its writes restored (sent again) reach back to 1,000, so the cancellation of "j" must be made again, though it
        // is more than the 5 s window older than the newest cancellation. Before: from 9,000 - 5,000 only ("j" ran).
        JobRecord j = new JobRecord(JobId.of("j"), Q, "t", new byte[0], java.util.Map.of(), 0, 1_000, 0);
        List<RecentWrites.Entry> writes = List.of(new RecentWrites.Entry(1_000, j, new byte[0]));
        try (CancelLog log = CancelLog.open(dir, Durability.PROCESS_CRASH, 15_000)) {
            log.append(Q, JobId.of("before-the-writes"), 500);
            log.append(Q, JobId.of("j"), 1_100);
            log.append(Q, JobId.of("other"), 9_000);
            assertThat(log.toMakeAgain(writes, 5_000, 60_000, 10_000)).extracting(CancelLog.Entry::id)
                    .containsExactly(JobId.of("j"), JobId.of("other"));
            // Without writes to send again: the window before the newest cancellation, as before.
            assertThat(log.toMakeAgain(List.of(), 5_000, 60_000, 10_000)).extracting(CancelLog.Entry::id)
                    .containsExactly(JobId.of("other"));
            // Never older than the maximum age.
            assertThat(log.toMakeAgain(writes, 5_000, 9_500, 10_000)).extracting(CancelLog.Entry::id)
                    .containsExactly(JobId.of("j"), JobId.of("other"));
            assertThat(log.toMakeAgain(writes, 5_000, 8_850, 10_000)).extracting(CancelLog.Entry::id)
                    .containsExactly(JobId.of("other"));
        }
    }

    @Test
    void aTornLastLineAndAFlippedByteAreSkipped() throws Exception {
        try (CancelLog log = CancelLog.open(dir, Durability.PROCESS_CRASH, 15_000)) {
            log.append(Q, JobId.of("first"), 1_000);
            log.append(Q, JobId.of("second"), 2_000);
        }
        Path file = dir.resolve(CancelLog.FILE);
        byte[] bytes = Files.readAllBytes(file);
        // The second line's id "second" becomes "secone": a valid id, which only the checksum tells apart.
        String text = new String(bytes, StandardCharsets.ISO_8859_1).replace("second", "secone");
        Files.writeString(file, text, StandardCharsets.ISO_8859_1);
        byte[] torn = CancelLog.line(new CancelLog.Entry(3_000, Q, JobId.of("third")));
        Files.write(file, java.util.Arrays.copyOf(torn, torn.length - 4), StandardOpenOption.APPEND);
        try (CancelLog log = CancelLog.open(dir, Durability.PROCESS_CRASH, 15_000)) {
            assertThat(log.since(0)).extracting(CancelLog.Entry::id).containsExactly(JobId.of("first"));
            // A line appended after the torn one is a line of its own.
            log.append(Q, JobId.of("fourth"), 4_000);
            assertThat(log.since(0)).extracting(CancelLog.Entry::id).containsExactly(JobId.of("first"), JobId.of("fourth"));
        }
    }

    @Test
    void pastItsSizeTheFileIsRewrittenWithTheLinesYoungEnoughToMatter() throws Exception {
        try (CancelLog log = CancelLog.open(dir, Durability.PROCESS_CRASH, 15_000)) {
            long at = 1_000_000;
            int n = 0;
            while (Files.size(dir.resolve(CancelLog.FILE)) < CancelLog.COMPACT_BYTES) {
                log.append(Q, JobId.of("old-" + n++), at);
            }
            // This append finds the file full: it is rewritten first, without the lines older than 15 s before it.
            log.append(Q, JobId.of("young"), at + 20_000);
            log.append(Q, JobId.of("new"), at + 25_000);
            List<CancelLog.Entry> left = log.since(0);
            assertThat(left).extracting(CancelLog.Entry::id).containsExactly(JobId.of("young"), JobId.of("new"));
            assertThat(Files.size(dir.resolve(CancelLog.FILE))).isLessThan(200);
            assertThat(Files.exists(dir.resolve(CancelLog.FILE + ".tmp"))).isFalse();
        }
    }

    @Test
    void parseRefusesWhatIsNotALine() {
        assertThat(CancelLog.parse("")).isNull();
        assertThat(CancelLog.parse("zzzzzzzz 1 q id")).isNull();
        assertThat(CancelLog.parse("0000000 1 q id")).isNull();
        String good = new String(CancelLog.line(new CancelLog.Entry(5, Q, JobId.of("id"))), StandardCharsets.ISO_8859_1)
                .trim();
        assertThat(CancelLog.parse(good)).isEqualTo(new CancelLog.Entry(5, Q, JobId.of("id")));
        assertThat(CancelLog.parse(good + " extra")).isNull();
    }
}
