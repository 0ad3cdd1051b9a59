package io.spillway.backend;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.spillway.core.JournalException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Builder settings that could not work are refused when set or at build(), before anything is opened. */
class ProducerBuilderTest {
    private static final URI NOWHERE = URI.create("redis://127.0.0.1:1");

    @Test
    void aPayloadLimitTheJournalCannotHoldIsRefused() {
        // The journal holds records up to 16 MiB: a larger job would be taken by Redis and refused only while spooling.
        assertThatThrownBy(() -> JobProducer.builder().maxPayloadBytes(JobProducer.Builder.MAX_PAYLOAD_BYTES + 1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("maxPayloadBytes")
                .hasMessageContaining(String.valueOf(JobProducer.Builder.MAX_PAYLOAD_BYTES + 1));
        assertThat(JobProducer.builder().maxPayloadBytes(JobProducer.Builder.MAX_PAYLOAD_BYTES)).isNotNull();
    }

    @Test
    void aPayloadLimitTheSocketTimeoutMayNotCoverIsAWarningAtBuild(@TempDir Path tmp) {
        try (io.spillway.testing.LogCapture logs = new io.spillway.testing.LogCapture()) {
            JobProducer.builder().redis(NOWHERE).journalDir(tmp.resolve("small")).build().close();
            assertThat(logs.lines("socketTimeout")).isEmpty(); // the default 1 MiB and 200 ms
            JobProducer.builder().redis(NOWHERE).journalDir(tmp.resolve("big")).maxPayloadBytes(15 << 20).build().close();
            assertThat(logs.lines("socketTimeout")).hasSize(1)
                    .allMatch(l -> l.contains("WARN") && l.contains("of 200 ms") && l.contains("at least 400 ms"));
            JobProducer.builder().redis(io.spillway.core.RedisConnection.builder(NOWHERE)
                    .socketTimeout(Duration.ofMillis(400)).build()).journalDir(tmp.resolve("fits"))
                    .maxPayloadBytes(15 << 20).build().close();
            assertThat(logs.lines("socketTimeout")).hasSize(1);
        }
    }

    @Test
    void aJournalSmallerThanTheLargestPayloadIsRefusedAtBuild(@TempDir Path tmp) {
        assertThatThrownBy(() -> JobProducer.builder().redis(NOWHERE).journalDir(tmp.resolve("j")).journalMaxBytes(1).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("journalMaxBytes (1)")
                .hasMessageContaining("maxPayloadBytes (" + JobProducer.Builder.DEFAULT_MAX_PAYLOAD_BYTES + ")");
        assertThat(tmp.resolve("j")).doesNotExist();
    }

    @Test
    void writeAheadWithADedupeWindowIsRefusedAtBuild(@TempDir Path tmp) {
        // A status record that expires while its job waits would read as finished: the journal would drop the job.
        assertThatThrownBy(() -> JobProducer.builder().redis(NOWHERE).journalDir(tmp.resolve("j")).writeAhead(true)
                .dedupeWindow(Duration.ofHours(1)).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("writeAhead needs dedupeWindow 0")
                .hasMessageContaining("PT1H");
        assertThat(tmp.resolve("j")).doesNotExist();
    }

    @Test
    void aResendWindowPastTheSentLogsHourIsRefused() {
        assertThatThrownBy(() -> JobProducer.builder().resendAfterRestart(Duration.ofHours(2), 1_000))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("resend window").hasMessageContaining("PT2H");
        assertThat(JobProducer.builder().resendAfterRestart(Duration.ofHours(1), 1_000)).isNotNull();
    }

    @Test
    void aFreeDiskMarginUnderOneMebibyteIsRefused() {
        assertThatThrownBy(() -> JobProducer.builder().journalMinFreeDisk(1_000))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("journalMinFreeDisk").hasMessageContaining("1000");
        assertThat(JobProducer.builder().journalMinFreeDisk(1L << 20)).isNotNull();
        assertThat(JobProducer.Builder.DEFAULT_JOURNAL_MIN_FREE_DISK).isEqualTo(64L << 20);
    }

    @Test
    void aJournalDirThatIsAFileSaysSo(@TempDir Path tmp) throws Exception {
        Path file = Files.writeString(tmp.resolve("not-a-dir"), "x");
        assertThatThrownBy(() -> JobProducer.builder().redis(NOWHERE).journalDir(file).build())
                .isInstanceOf(JournalException.class).hasMessageContaining("not a directory");
    }
}
