package io.spillway.metrics.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.codahale.metrics.MetricRegistry;
import io.spillway.core.Durability;
import io.spillway.core.JobId;
import io.spillway.core.JournalLockedException;
import io.spillway.core.QueueName;
import io.spillway.core.internal.ChronicleJournal;
import io.spillway.core.internal.JobCodec;
import io.spillway.core.internal.JobRecord;
import io.spillway.testing.DirSnapshot;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import net.openhft.chronicle.core.time.SetTimeProvider;
import net.openhft.chronicle.queue.ExcerptAppender;
import net.openhft.chronicle.queue.RollCycles;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueue;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueueBuilder;
import net.openhft.chronicle.wire.DocumentContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The read-only journal reader: same figures as the producer's own journal, and not a byte written. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class JournalReaderTest {
    @TempDir
    Path tmp;

    /**
     * A journal written three hours ago (so its only cycle file is not the current hour's): 5 jobs, 2 replayed, 1 torn,
     * and two cycle markers.
     */
    private Path oldJournal() {
        Path dir = tmp.resolve("journal");
        long threeHoursAgo = System.currentTimeMillis() - TimeUnit.HOURS.toMillis(3);
        SetTimeProvider clock = new SetTimeProvider(java.time.Instant.ofEpochMilli(threeHoursAgo));
        // Opened twice: each open writes a cycle marker (an entry that is not a record), one of them between records.
        for (int[] range : new int[][] {{0, 3}, {3, 5}}) {
            try (ChronicleJournal j = ChronicleJournal.open(dir, 1L << 30, Durability.PROCESS_CRASH, new MetricRegistry(), clock, 0)) {
                for (int i = range[0]; i < range[1]; i++) {
                    JobRecord r = new JobRecord(JobId.of("job-" + i), QueueName.of(i < 3 ? "emails" : "images"), "t",
                            new byte[10 + i], Map.of(), 0, 0, threeHoursAgo + i);
                    j.append(r, JobCodec.encode(r));
                }
                if (range[0] == 0) {
                    j.commit(j.read(2));
                }
            }
        }
        // A record that fails its frame checks, as a flipped byte would leave it.
        try (SingleChronicleQueue q = SingleChronicleQueueBuilder.single(dir.toFile()).rollCycle(RollCycles.FAST_HOURLY)
                .timeProvider(clock).build(); ExcerptAppender a = q.createAppender();
             DocumentContext dc = a.writingDocument()) {
            dc.wire().bytes().write(new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
        }
        return dir;
    }

    @Test
    void readsWhatTheJournalHoldsAndWritesNothing() throws IOException {
        Path dir = oldJournal();
        Map<String, String> before = DirSnapshot.of(dir);

        JournalReader.Backlog b;
        List<Boolean> replayedFlags = new ArrayList<>();
        try (JournalReader r = JournalReader.open(dir)) {
            b = r.backlog();
            r.forEachRecord((e, replayed) -> replayedFlags.add(replayed));
            assertThat(r.cycleFiles()).isEqualTo(1);
        }
        assertThat(DirSnapshot.of(dir)).as("files, sizes and times after reading").isEqualTo(before);
        assertThat(replayedFlags).containsExactly(true, true, false, false, false, false);
        assertThat(b.jobs()).isEqualTo(4);
        assertThat(b.corrupt()).isEqualTo(1);
        assertThat(b.byQueue()).isEqualTo(Map.of("emails", 1L, "images", 2L));

        // The producer's own reading of the same journal agrees (it writes: so it comes last).
        try (ChronicleJournal j = ChronicleJournal.open(dir, 1L << 30, Durability.PROCESS_CRASH, new MetricRegistry())) {
            assertThat(b.jobs()).isEqualTo(j.backlog());
            assertThat(b.bytes()).isEqualTo(j.backlogBytes());
            Map<String, Long> byQueue = new TreeMap<>();
            j.backlogByQueue().forEach((q, n) -> byQueue.put(q.value(), n));
            assertThat(b.byQueue()).isEqualTo(byQueue);
            assertThat(b.oldestAgeMillis(System.currentTimeMillis())).isCloseTo(j.oldestAgeMillis(),
                    org.assertj.core.data.Offset.offset(1_000L));
        }
    }

    @Test
    void refusesADirectoryThatIsNotAJournalAndOneAProducerHolds() throws IOException {
        Path notes = Files.createDirectories(tmp.resolve("notes"));
        Files.writeString(notes.resolve("notes.txt"), "not a journal");
        assertThat(JournalReader.isJournal(notes)).isFalse();
        assertThatThrownBy(() -> JournalReader.open(notes)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("is not a Spillway journal");
        try (Stream<Path> files = Files.list(notes)) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactly("notes.txt");
        }

        Path live = tmp.resolve("live");
        try (ChronicleJournal j = ChronicleJournal.open(live, 1L << 30, Durability.PROCESS_CRASH, new MetricRegistry())) {
            assertThatThrownBy(() -> JournalReader.open(live)).isInstanceOf(JournalLockedException.class);
            assertThat(JournalReader.isInUse(live)).isTrue();
            // Read read-only all the same when asked: a live producer's backlog is what an operator needs in an outage.
            JournalInspector.Look look = JournalInspector.look(live);
            assertThat(look.status()).isEqualTo("ok");
            assertThat(look.inUse()).isTrue();
            assertThat(look.locked()).isTrue();
            assertThat(look.failed()).isFalse();
            try (JournalReader r = JournalReader.openEvenInUse(live)) {
                assertThat(r.inUse()).isTrue();
                assertThat(r.backlog().jobs()).isZero();
            }
            // All those looks from the producer's own JVM (a reporter beside it) left its lock in place for other
            // processes: a second producer or `journal replay` elsewhere is still refused.
            assertThat(io.spillway.testing.LockProbe.anotherProcessCanLock(live.resolve("spillway.lock"))).isFalse();
        }
        // Once the producer is gone the reader may look, and the reader's shared lock is gone after close.
        assertThat(JournalReader.isInUse(live)).isFalse();
        try (JournalReader r = JournalReader.open(live)) {
            assertThat(r.inUse()).isFalse();
            assertThat(r.backlog().jobs()).isZero();
        }
        ChronicleJournal.open(live, 1L << 30, Durability.PROCESS_CRASH, new MetricRegistry()).close();
    }

    @Test
    void inspectorSaysWhatItFound() throws IOException {
        Path dir = oldJournal();
        Map<String, String> before = DirSnapshot.of(dir);
        JournalInspector.Look ok = JournalInspector.look(dir);
        assertThat(ok.status()).isEqualTo("ok");
        assertThat(ok.backlog()).isEqualTo(4);
        // The reporter looks every 30 s: a look that opened the journal as a producer does created the
        // current hour's cycle file (80 MB sparse) and appended to the metadata each time.
        assertThat(DirSnapshot.of(dir)).as("files, sizes and times after a look").isEqualTo(before);

        JournalInspector.Look missing = JournalInspector.look(tmp.resolve("typo"));
        assertThat(missing.status()).isEqualTo("missing");
        assertThat(missing.failed()).isTrue();
        assertThat(tmp.resolve("typo")).doesNotExist();

        Path notes = Files.createDirectories(tmp.resolve("notes"));
        Files.writeString(notes.resolve("notes.txt"), "x");
        JournalInspector.Look notAJournal = JournalInspector.look(notes);
        assertThat(notAJournal.status()).startsWith("error: not a Spillway journal");
        assertThat(notAJournal.failed()).isTrue();
        try (Stream<Path> files = Files.list(notes)) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactly("notes.txt");
        }

        JournalInspector.Look empty = JournalInspector.look(Files.createDirectories(tmp.resolve("empty")));
        assertThat(empty.status()).isEqualTo("empty");
        assertThat(empty.ok()).isTrue();
        try (Stream<Path> files = Files.list(tmp.resolve("empty"))) {
            assertThat(files).isEmpty();
        }
    }
}
