package io.spillway.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.codahale.metrics.MetricRegistry;
import io.spillway.core.Durability;
import io.spillway.core.JobId;
import io.spillway.core.JournalFullException;
import io.spillway.core.JournalLockedException;
import io.spillway.core.MetricNames;
import io.spillway.core.QueueName;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import io.spillway.testing.LogCapture;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import net.openhft.chronicle.core.time.SetTimeProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ChronicleJournalTest {
    @TempDir
    Path dir;

    private static JobRecord job(String queue, int i) {
        return new JobRecord(JobId.mint(), QueueName.of(queue), "t", ("payload-" + i).getBytes(StandardCharsets.UTF_8),
                Map.of(), 0, System.currentTimeMillis(), 0);
    }

    private static ChronicleJournal open(Path dir) {
        return ChronicleJournal.open(dir, ChronicleJournal.DEFAULT_MAX_BYTES, Durability.PROCESS_CRASH, new MetricRegistry());
    }

    private static List<String> drain(ChronicleJournal j) {
        List<String> ids = new ArrayList<>();
        List<ChronicleJournal.Entry> batch;
        while (!(batch = j.read(7)).isEmpty()) {
            for (ChronicleJournal.Entry e : batch) {
                if (e.job() != null) {
                    ids.add(e.job().id().value());
                }
            }
            j.commit(batch);
        }
        return ids;
    }

    @Test
    void appendsReadBackInOrderAndCountsBacklogPerQueue() {
        try (ChronicleJournal j = open(dir)) {
            List<String> ids = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                JobRecord r = job(i % 2 == 0 ? "a" : "b", i);
                j.append(r, JobCodec.encode(r));
                ids.add(r.id().value());
            }
            assertThat(j.backlog()).isEqualTo(20);
            assertThat(j.backlog(QueueName.of("a"))).isEqualTo(10);
            assertThat(j.backlogByQueue()).containsEntry(QueueName.of("b"), 10L);
            assertThat(drain(j)).containsExactlyElementsOf(ids);
            assertThat(j.backlog()).isZero();
            assertThat(j.backlogBytes()).isZero();
            assertThat(j.backlog(QueueName.of("a"))).isZero();
        }
    }

    /** The journal holds every spooled job's payload: a directory made here is its owner's only, whatever the umask. */
    @Test
    void aJournalDirectoryMadeHereIsPrivate() throws Exception {
        Path fresh = dir.resolve("made-here");
        try (ChronicleJournal j = open(fresh)) {
            assertThat(java.nio.file.attribute.PosixFilePermissions.toString(java.nio.file.Files.getPosixFilePermissions(fresh)))
                    .isEqualTo("rwx------");
        }
        try (SentLog s = SentLog.open(fresh, Durability.PROCESS_CRASH)) {
            assertThat(java.nio.file.attribute.PosixFilePermissions.toString(java.nio.file.Files.getPosixFilePermissions(
                    fresh.resolve(SentLog.DIR)))).isEqualTo("rwx------");
        }
    }

    @Test
    void theCurrentCycleFileExistsBeforeTheFirstAppend() {
        try (ChronicleJournal j = open(dir)) {
            assertThat(j.cycleFiles()).isEqualTo(1);
        }
    }

    @Test
    void cycleMarkersAreWrittenAtOpenAndEachNewHourAndAreNeverRecords() {
        SetTimeProvider clock = new SetTimeProvider(java.time.Instant.now());
        MetricRegistry registry = new MetricRegistry();
        List<String> ids = new ArrayList<>();
        try (ChronicleJournal j = ChronicleJournal.open(dir, ChronicleJournal.DEFAULT_MAX_BYTES, Durability.PROCESS_CRASH,
                registry, clock, 0)) {
            // The open wrote the cycle's marker: an entry, but no record.
            assertThat(j.lastIndex()).isNotEqualTo(-1);
            assertThat(j.backlog()).isZero();
            assertThat(j.read(10)).isEmpty();
            long afterOpen = j.lastIndex();
            j.prepareCycle(); // same hour: nothing to do
            assertThat(j.lastIndex()).isEqualTo(afterOpen);
            for (int i = 0; i < 3; i++) {
                JobRecord r = job("q", i);
                j.append(r, JobCodec.encode(r));
                ids.add(r.id().value());
            }
            clock.advanceMillis(TimeUnit.HOURS.toMillis(1));
            j.prepareCycle(); // a new hour: its file and marker come before its first record
            assertThat(j.cycleFiles()).isEqualTo(2);
            assertThat(j.backlog()).isEqualTo(3);
            long marked = j.lastIndex();
            j.prepareCycle();
            assertThat(j.lastIndex()).isEqualTo(marked);
            for (int i = 3; i < 5; i++) {
                JobRecord r = job("q", i);
                j.append(r, JobCodec.encode(r));
                ids.add(r.id().value());
            }
            List<String> seen = new ArrayList<>();
            j.forEachRecord((e, replayed) -> seen.add(e.job().id().value()));
            assertThat(seen).containsExactlyElementsOf(ids);
        }
        try (ChronicleJournal j = ChronicleJournal.open(dir, ChronicleJournal.DEFAULT_MAX_BYTES, Durability.PROCESS_CRASH,
                registry, clock, 0)) {
            assertThat(j.backlog()).isEqualTo(5);
            List<String> replayed = new ArrayList<>();
            List<ChronicleJournal.Entry> batch;
            while (!(batch = j.read(2)).isEmpty()) {
                batch.forEach(e -> replayed.add(e.job().id().value()));
                j.commit(batch);
            }
            assertThat(replayed).containsExactlyElementsOf(ids);
            assertThat(j.corruptRecords()).isZero();
            assertThat(j.backlog()).isZero();
            assertThat(j.backlogBytes()).isZero();
            // Idle hours: each new hour's marker file comes, and the files before it (nothing left to replay) go.
            for (int hour = 0; hour < 5; hour++) {
                clock.advanceMillis(TimeUnit.HOURS.toMillis(1));
                j.prepareCycle();
                assertThat(j.cycleFiles()).isEqualTo(1);
            }
            JobRecord r = job("q", 99);
            j.append(r, JobCodec.encode(r));
            List<ChronicleJournal.Entry> last = j.read(10);
            assertThat(last).extracting(e -> e.job().id().value()).containsExactly(r.id().value());
        }
    }

    @Test
    void theWarmUpJournalLeavesNothingBehindAndALeftOverOneIsDeleted() throws IOException {
        try (ChronicleJournal j = open(dir)) {
            assertThat(dir.resolve(ChronicleJournal.WARM_UP_DIR)).doesNotExist();
            assertThat(j.backlog()).isZero();
        }
        // As if a process had died while warming up: the next open deletes it.
        java.nio.file.Files.createDirectories(dir.resolve(ChronicleJournal.WARM_UP_DIR).resolve("x"));
        java.nio.file.Files.write(dir.resolve(ChronicleJournal.WARM_UP_DIR).resolve("x").resolve("y.cq4"), new byte[10]);
        try (ChronicleJournal j = open(dir)) {
            assertThat(dir.resolve(ChronicleJournal.WARM_UP_DIR)).doesNotExist();
            assertThat(j.backlog()).isZero();
        }
    }

    @Test
    void replayPositionSurvivesReopen() {
        List<String> ids = new ArrayList<>();
        try (ChronicleJournal j = open(dir)) {
            for (int i = 0; i < 10; i++) {
                JobRecord r = job("q", i);
                j.append(r, JobCodec.encode(r));
                ids.add(r.id().value());
            }
            j.commit(j.read(4)); // 4 replayed
            j.rewind(j.read(3)); // 3 read but not sent: must come again
        }
        try (ChronicleJournal j = open(dir)) {
            assertThat(j.backlog()).isEqualTo(6);
            assertThat(drain(j)).containsExactlyElementsOf(ids.subList(4, 10));
        }
        try (ChronicleJournal j = open(dir)) {
            assertThat(j.backlog()).isZero();
            assertThat(j.read(10)).isEmpty();
        }
    }

    @Test
    void aCorruptRecordIsCountedAndSkippedAndTheRestReplays() throws IOException {
        List<String> ids = new ArrayList<>();
        MetricRegistry registry = new MetricRegistry();
        try (ChronicleJournal j = ChronicleJournal.open(dir, 1 << 20, Durability.PROCESS_CRASH, registry)) {
            for (int i = 0; i < 5; i++) {
                JobRecord r = job("q", i);
                j.append(r, JobCodec.encode(r));
                ids.add(r.id().value());
            }
        }
        // Flip one byte inside the third record's payload, on disk.
        Path file;
        try (Stream<Path> files = Files.list(dir)) {
            file = files.filter(f -> f.toString().endsWith(".cq4")).findFirst().orElseThrow();
        }
        byte[] needle = "payload-2".getBytes(StandardCharsets.UTF_8);
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            byte[] head = new byte[(int) Math.min(raf.length(), 1 << 20)];
            raf.readFully(head);
            int at = indexOf(head, needle);
            assertThat(at).isPositive();
            raf.seek(at + 3);
            raf.write('X');
        }
        try (ChronicleJournal j = ChronicleJournal.open(dir, 1 << 20, Durability.PROCESS_CRASH, registry)) {
            assertThat(j.backlog()).isEqualTo(5);
            List<String> replayed = drain(j);
            assertThat(replayed).containsExactly(ids.get(0), ids.get(1), ids.get(3), ids.get(4));
            assertThat(registry.counter(MetricNames.JOURNAL_CORRUPT).getCount()).isEqualTo(1);
            assertThat(j.backlog()).isZero();
        }
    }

    @Test
    void aTruncatedRecordIsSkipped() {
        try (ChronicleJournal j = open(dir)) {
            JobRecord a = job("q", 1);
            j.append(a, JobCodec.encode(a));
            byte[] full = JobCodec.encode(job("q", 2));
            // A frame that claims more bytes than it holds, as a torn write would leave.
            java.nio.ByteBuffer torn = java.nio.ByteBuffer.allocate(ChronicleJournal.FRAME_HEADER + 10);
            torn.put(ChronicleJournal.FRAME_VERSION).putInt(0).putInt(full.length).put(full, 0, 10);
            j.appendRaw(torn.array());
            j.appendRaw(new byte[] {1, 2}); // shorter than a frame header
            JobRecord b = job("q", 3);
            j.append(b, JobCodec.encode(b));
            assertThat(drain(j)).containsExactly(a.id().value(), b.id().value());
            assertThat(j.corruptRecords()).isEqualTo(2);
        }
    }

    /** A read holds at most about 16 MiB of records: 1 MiB jobs come 16 to a batch, not 1,000 (2 GiB of heap). */
    @Test
    void aReadOfBigRecordsStopsAtItsByteCapAndAReadOfOneHugeRecordStillReturnsIt() {
        try (ChronicleJournal j = open(dir)) {
            byte[] mib = new byte[1 << 20];
            for (int i = 0; i < 40; i++) {
                JobRecord r = new JobRecord(JobId.mint(), QueueName.of("q"), "t", mib, Map.of(), 0, System.currentTimeMillis(), 0);
                j.append(r, JobCodec.encode(r));
            }
            int total = 0;
            List<ChronicleJournal.Entry> batch;
            while (!(batch = j.read(1_000)).isEmpty()) {
                long bytes = batch.stream().mapToLong(ChronicleJournal.Entry::frameBytes).sum();
                assertThat(bytes).isLessThan(ChronicleJournal.MAX_READ_BYTES + (2 << 20));
                assertThat(batch.size()).isLessThanOrEqualTo(16);
                total += batch.size();
                j.commit(batch);
            }
            assertThat(total).isEqualTo(40);
        }
    }

    /** A corrupt record read again (a failed replay rewinds the batch) is counted and said once. */
    @Test
    void aCorruptRecordReadAgainAfterARewindIsCountedOnce() {
        MetricRegistry registry = new MetricRegistry();
        try (ChronicleJournal j = ChronicleJournal.open(dir, ChronicleJournal.DEFAULT_MAX_BYTES, Durability.PROCESS_CRASH,
                registry)) {
            JobRecord a = job("q", 1);
            j.append(a, JobCodec.encode(a));
            j.appendRaw(new byte[] {1, 2}); // shorter than a frame header
            for (int i = 0; i < 3; i++) {
                List<ChronicleJournal.Entry> batch = j.read(10);
                assertThat(batch).hasSize(2);
                j.rewind(batch); // the replay failed: the same batch again
            }
            assertThat(registry.counter(MetricNames.JOURNAL_CORRUPT).getCount()).isEqualTo(1);
            assertThat(drain(j)).containsExactly(a.id().value());
            assertThat(j.corruptRecords()).isEqualTo(1);
        }
    }

    @Test
    void aSecondOpenerIsRefused() {
        try (ChronicleJournal j = open(dir)) {
            assertThatThrownBy(() -> open(dir)).isInstanceOf(JournalLockedException.class).hasMessageContaining(dir.toString());
        }
        try (ChronicleJournal j = open(dir)) {
            assertThat(j.backlog()).isZero(); // released on close
        }
    }

    @Test
    void aFullJournalSaysSoOnceAndOnceWhenItTakesJobsAgainAndAtOpenWhenOverItsCap() {
        JobRecord r = job("q", 1);
        byte[] enc = JobCodec.encode(r);
        long frame = ChronicleJournal.frameBytes(enc.length);
        try (LogCapture logs = new LogCapture();
             ChronicleJournal j = ChronicleJournal.open(dir, 3 * frame, Durability.PROCESS_CRASH, new MetricRegistry())) {
            for (int i = 0; i < 3; i++) {
                j.append(r, enc);
            }
            for (int i = 0; i < 5; i++) {
                assertThatThrownBy(() -> j.append(r, enc)).isInstanceOf(JournalFullException.class);
            }
            assertThatThrownBy(() -> j.reserve(frame)).isInstanceOf(JournalFullException.class);
            assertThat(logs.lines("is full")).hasSize(1).allMatch(l -> l.contains("WARN") && l.contains("journalMaxBytes"));
            j.commit(j.read(1));
            j.append(r, enc);
            assertThat(logs.lines("below its cap again")).hasSize(1).allMatch(l -> l.contains("6 jobs were not accepted"));
        }
        // Reopened with a lower cap than what it holds: said at the open, before any job is refused.
        try (LogCapture logs = new LogCapture();
             ChronicleJournal j = ChronicleJournal.open(dir, frame, Durability.PROCESS_CRASH, new MetricRegistry())) {
            assertThat(logs.lines("is full")).hasSize(1);
            assertThatThrownBy(() -> j.append(r, enc)).isInstanceOf(JournalFullException.class);
            assertThat(logs.lines("is full")).hasSize(1);
        }
    }

    @Test
    void roomSetAsideIsTakenForOtherAppendsAndGivenBackOnClose() {
        try (ChronicleJournal j = ChronicleJournal.open(dir, 2_000, Durability.PROCESS_CRASH, new MetricRegistry())) {
            JobRecord r = job("q", 1);
            byte[] enc = JobCodec.encode(r);
            long frame = ChronicleJournal.frameBytes(enc.length);
            int fit = (int) (2_000 / frame);
            assertThatThrownBy(() -> j.reserve(2_001)).isInstanceOf(JournalFullException.class);
            ChronicleJournal.Reservation room = j.reserve((fit - 1) * frame);
            j.append(r, enc); // the one frame of room left outside the reservation
            assertThatThrownBy(() -> j.append(r, enc)).isInstanceOf(JournalFullException.class);
            for (int i = 0; i < fit - 1; i++) {
                room.append(r, enc); // within the room set aside: never full
            }
            assertThatThrownBy(() -> room.append(r, enc)).isInstanceOf(JournalFullException.class);
            room.close();
            room.close();
            assertThat(j.backlog()).isEqualTo(fit);
            drain(j);
            ChronicleJournal.Reservation all = j.reserve(fit * frame);
            assertThatThrownBy(() -> j.append(r, enc)).isInstanceOf(JournalFullException.class);
            all.close();
            j.append(r, enc); // given back by close
        }
    }

    @Test
    void pastTheCapAppendThrowsAndNothingIsWritten() {
        try (ChronicleJournal j = ChronicleJournal.open(dir, 1_000, Durability.PROCESS_CRASH, new MetricRegistry())) {
            int accepted = 0;
            try {
                for (int i = 0; i < 1_000; i++) {
                    JobRecord r = job("q", i);
                    j.append(r, JobCodec.encode(r));
                    accepted++;
                }
            } catch (JournalFullException e) {
                assertThat(e).hasMessageContaining("not accepted");
            }
            assertThat(accepted).isBetween(5, 30);
            assertThat(j.backlog()).isEqualTo(accepted);
            assertThat(j.backlogBytes()).isLessThanOrEqualTo(1_000);
            drain(j);
            JobRecord r = job("q", -1);
            j.append(r, JobCodec.encode(r)); // room again after replay
        }
        assertThatThrownBy(() -> ChronicleJournal.open(dir, 0, Durability.PROCESS_CRASH, new MetricRegistry()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("0");
    }

    @Test
    void powerLossDurabilityWorks() {
        try (ChronicleJournal j = ChronicleJournal.open(dir, 1 << 20, Durability.POWER_LOSS, new MetricRegistry())) {
            JobRecord r = job("q", 0);
            j.append(r, JobCodec.encode(r));
            assertThat(drain(j)).containsExactly(r.id().value());
        }
    }

    @Test
    void aClockThatJumpsBackOrForwardLosesNothingAndKeepsTheOrder() {
        // An NTP step, a VM restored from a snapshot, an operator's date command: the journal's cycles follow the
        // wall clock, which may go back past a cycle already written, or jump hours ahead.
        SetTimeProvider clock = new SetTimeProvider(java.time.Instant.now());
        List<String> ids = new ArrayList<>();
        try (LogCapture logs = new LogCapture();
             ChronicleJournal j = ChronicleJournal.open(dir, ChronicleJournal.DEFAULT_MAX_BYTES, Durability.PROCESS_CRASH,
                new MetricRegistry(), clock, 0)) {
            for (long jump : new long[] {TimeUnit.HOURS.toMillis(1), -TimeUnit.HOURS.toMillis(3), TimeUnit.HOURS.toMillis(5),
                    -TimeUnit.MINUTES.toMillis(10)}) {
                for (int i = 0; i < 4; i++) {
                    JobRecord r = job("q", i);
                    j.append(r, JobCodec.encode(r));
                    ids.add(r.id().value());
                }
                clock.advanceMillis(jump);
                j.prepareCycle();
            }
            assertThat(j.backlog()).isEqualTo(16);
            List<ChronicleJournal.Entry> some = j.read(6);
            j.commit(some);
            assertThat(some).extracting(e -> e.job().id().value()).containsExactlyElementsOf(ids.subList(0, 6));
            clock.advanceMillis(-TimeUnit.HOURS.toMillis(2));
            j.prepareCycle();
            // One line per episode: back 3 h, caught up (5 h ahead), back 10 min (and 2 h more: the same episode).
            assertThat(logs.lines("the wall clock went back by")).hasSize(2).allMatch(l -> l.contains("WARN"));
            assertThat(logs.lines("the wall clock has caught up")).hasSize(1);
            JobRecord r = job("q", 99);
            j.append(r, JobCodec.encode(r));
            ids.add(r.id().value());
        }
        try (LogCapture logs = new LogCapture();
             ChronicleJournal j = ChronicleJournal.open(dir, ChronicleJournal.DEFAULT_MAX_BYTES, Durability.PROCESS_CRASH,
                new MetricRegistry(), clock, 0)) {
            // A restart with the clock still 2 h 10 min behind the newest cycle file.
            assertThat(logs.lines("behind the start of the newest cycle file")).hasSize(1);
            assertThat(j.backlog()).isEqualTo(11);
            assertThat(drain(j)).containsExactlyElementsOf(ids.subList(6, ids.size()));
            assertThat(j.corruptRecords()).isZero();
            clock.advanceMillis(TimeUnit.HOURS.toMillis(3));
            j.prepareCycle();
            JobRecord last = job("q", 100);
            j.append(last, JobCodec.encode(last));
            assertThat(drain(j)).containsExactly(last.id().value());
            assertThat(logs.lines("the wall clock has caught up")).hasSize(1);
            assertThat(logs.lines("the wall clock went back by")).isEmpty();
        }
    }

    @Test
    void whollyReplayedCycleFilesAreDeleted() {
        SetTimeProvider clock = new SetTimeProvider(java.time.Instant.now());
        List<String> ids = new ArrayList<>();
        try (ChronicleJournal j = ChronicleJournal.open(dir, ChronicleJournal.DEFAULT_MAX_BYTES, Durability.PROCESS_CRASH,
                new MetricRegistry(), clock, 0)) {
            for (int hour = 0; hour < 3; hour++) {
                for (int i = 0; i < 5; i++) {
                    JobRecord r = job("q", i);
                    j.append(r, JobCodec.encode(r));
                    ids.add(r.id().value());
                }
                clock.advanceMillis(TimeUnit.HOURS.toMillis(1));
            }
            assertThat(j.cycleFiles()).isEqualTo(3);
            assertThat(drain(j)).containsExactlyElementsOf(ids);
            assertThat(j.cycleFiles()).isLessThanOrEqualTo(1);
            JobRecord r = job("q", 99);
            j.append(r, JobCodec.encode(r));
            assertThat(drain(j)).containsExactly(r.id().value());
        }
        try (ChronicleJournal j = ChronicleJournal.open(dir, ChronicleJournal.DEFAULT_MAX_BYTES, Durability.PROCESS_CRASH,
                new MetricRegistry(), clock, 0)) {
            assertThat(j.backlog()).isZero();
        }
    }

    @Test
    void recentlyReplayedRecordsCanBeReplayedAgainAfterARedisRestart() {
        SetTimeProvider clock = new SetTimeProvider(java.time.Instant.now());
        List<String> ids = new ArrayList<>();
        try (ChronicleJournal j = ChronicleJournal.open(dir, ChronicleJournal.DEFAULT_MAX_BYTES, Durability.PROCESS_CRASH,
                new MetricRegistry(), clock, 5_000)) {
            for (int i = 0; i < 10; i++) {
                JobRecord r = job("q", i);
                j.append(r, JobCodec.encode(r));
                ids.add(r.id().value());
            }
            j.commit(j.read(3));
            clock.advanceMillis(6_000); // those 3 are now older than the hold-back window
            j.commit(j.read(4));
            assertThat(j.safeToDeleteIndex()).isLessThan(j.replayedIndex());
            long before = j.rewindRecent();
            assertThat(j.backlog()).isEqualTo(7);
            List<ChronicleJournal.Entry> again = j.read(100, before);
            assertThat(again).extracting(e -> e.job().id().value()).containsExactlyElementsOf(ids.subList(3, 7));
            j.commit(again);
            assertThat(drain(j)).containsExactlyElementsOf(ids.subList(7, 10));
        }
    }

    @Test
    void replayedRecordsAreSafeOnceRedisIsSeenUpForTheWindowAndNotSentAgainLongAfter() {
        SetTimeProvider clock = new SetTimeProvider(java.time.Instant.now());
        List<String> ids = new ArrayList<>();
        try (ChronicleJournal j = ChronicleJournal.open(dir, ChronicleJournal.DEFAULT_MAX_BYTES, Durability.PROCESS_CRASH,
                new MetricRegistry(), clock, 5_000)) {
            for (int i = 0; i < 10; i++) {
                JobRecord r = job("q", i);
                j.append(r, JobCodec.encode(r));
                ids.add(r.id().value());
            }
            j.commit(j.read(6)); // the last commit for a while: no replay moves the positions after it
            clock.advanceMillis(4_000);
            j.redisAlive(clock.currentTimeMillis()); // a heartbeat within the window: still replayable
            assertThat(j.safeToDeleteIndex()).isLessThan(j.replayedIndex());
            clock.advanceMillis(1_500);
            j.redisAlive(clock.currentTimeMillis());
            assertThat(j.safeToDeleteIndex()).isEqualTo(j.replayedIndex());
            clock.advanceMillis(600_000); // Redis restarts ten minutes later: nothing replayed is sent again
            long before = j.rewindRecent();
            assertThat(j.read(100, before)).isEmpty();
            assertThat(j.backlog()).isEqualTo(4);
            assertThat(drain(j)).containsExactlyElementsOf(ids.subList(6, 10));
        }
    }

    @Test
    void theClockAloneNeverMakesReplayedRecordsSafeNotEvenAcrossCycles() {
        SetTimeProvider clock = new SetTimeProvider(java.time.Instant.now());
        List<String> ids = new ArrayList<>();
        try (ChronicleJournal j = ChronicleJournal.open(dir, ChronicleJournal.DEFAULT_MAX_BYTES, Durability.PROCESS_CRASH,
                new MetricRegistry(), clock, 5_000)) {
            for (int i = 0; i < 5; i++) {
                JobRecord r = job("q", i);
                j.append(r, JobCodec.encode(r));
                ids.add(r.id().value());
            }
            j.commit(j.read(5)); // then Redis crashes, losing its last second, and stays down past the hour
            clock.advanceMillis(2 * 3_600_000L);
            j.prepareCycle(); // the new hour's cycle file: no heartbeat, so nothing became safe
            JobRecord r = job("q", 5);
            j.append(r, JobCodec.encode(r));
            assertThat(j.safeToDeleteIndex()).isLessThan(j.replayedIndex());
            long before = j.rewindRecent(); // Redis back with a new run id: the 5 are sent again
            assertThat(j.read(100, before)).extracting(e -> e.job().id().value()).containsExactlyElementsOf(ids);
        }
    }

    @Test
    void recordsAnEarlierProcessReplayedAreSentAgainAfterARestartAndSafeOnceRedisIsSeenUpForTheWindow() {
        SetTimeProvider clock = new SetTimeProvider(java.time.Instant.now());
        List<String> ids = new ArrayList<>();
        try (ChronicleJournal j = ChronicleJournal.open(dir, ChronicleJournal.DEFAULT_MAX_BYTES, Durability.PROCESS_CRASH,
                new MetricRegistry(), clock, 5_000)) {
            for (int i = 0; i < 8; i++) {
                JobRecord r = job("q", i);
                j.append(r, JobCodec.encode(r));
                ids.add(r.id().value());
            }
            j.commit(j.read(8)); // the process stops within the window: when it replayed them is not kept
        }
        clock.advanceMillis(600_000);
        try (ChronicleJournal j = ChronicleJournal.open(dir, ChronicleJournal.DEFAULT_MAX_BYTES, Durability.PROCESS_CRASH,
                new MetricRegistry(), clock, 5_000)) {
            long before = j.rewindRecent(); // Redis restarted before anyone saw it up: all 8 are sent again
            List<ChronicleJournal.Entry> again = j.read(100, before);
            assertThat(again).extracting(e -> e.job().id().value()).containsExactlyElementsOf(ids);
            j.commit(again);
        }
        clock.advanceMillis(600_000);
        try (ChronicleJournal j = ChronicleJournal.open(dir, ChronicleJournal.DEFAULT_MAX_BYTES, Durability.PROCESS_CRASH,
                new MetricRegistry(), clock, 5_000)) {
            clock.advanceMillis(5_000);
            j.redisAlive(clock.currentTimeMillis()); // Redis seen up for the window after the open: it has them
            assertThat(j.safeToDeleteIndex()).isEqualTo(j.replayedIndex());
        }
        clock.advanceMillis(600_000);
        try (ChronicleJournal j = ChronicleJournal.open(dir, ChronicleJournal.DEFAULT_MAX_BYTES, Durability.PROCESS_CRASH,
                new MetricRegistry(), clock, 5_000)) {
            long before = j.rewindRecent();
            assertThat(j.read(100, before)).isEmpty();
            assertThat(j.backlog()).isZero();
        }
    }

    @Test
    void writeAheadKeepsReplayedRecordsUntilConfirmedAcrossReopenRewindAndCycles() {
        SetTimeProvider clock = new SetTimeProvider(java.time.Instant.now());
        List<String> ids = new ArrayList<>();
        MetricRegistry registry = new MetricRegistry();
        try (ChronicleJournal j = ChronicleJournal.open(dir, ChronicleJournal.DEFAULT_MAX_BYTES, Durability.PROCESS_CRASH,
                registry, clock, ChronicleJournal.HOLD_UNTIL_CONFIRMED)) {
            assertThat(j.writeAhead()).isTrue();
            assertThat(ChronicleJournal.isWriteAhead(dir)).as("said on disk, for tools").isTrue();
            for (int hour = 0; hour < 3; hour++) {
                for (int i = 0; i < 4; i++) {
                    JobRecord r = job("q", i);
                    j.append(r, JobCodec.encode(r));
                    ids.add(r.id().value());
                }
                clock.advanceMillis(TimeUnit.HOURS.toMillis(1));
            }
            assertThat(drain(j)).containsExactlyElementsOf(ids);
            clock.advanceMillis(TimeUnit.HOURS.toMillis(5)); // no hold-back window: time alone confirms nothing
            j.prepareCycle();
            assertThat(j.backlog()).isZero();
            assertThat(j.unconfirmed()).isEqualTo(12);
            assertThat(registry.getGauges().get(MetricNames.JOURNAL_UNCONFIRMED).getValue()).isEqualTo(12L);
            assertThat(j.safeToDeleteIndex()).isEqualTo(-1);
            assertThat(j.cycleFiles()).as("nothing confirmed: every cycle file stays").isGreaterThanOrEqualTo(3);

            List<ChronicleJournal.Entry> first = j.readUnconfirmed(5);
            assertThat(first).extracting(e -> e.job().id().value()).containsExactlyElementsOf(ids.subList(0, 5));
            j.confirm(first.subList(0, 5));
            assertThat(j.unconfirmed()).isEqualTo(7);
            assertThat(j.readUnconfirmed(100)).extracting(e -> e.job().id().value())
                    .containsExactlyElementsOf(ids.subList(5, 12));
            assertThat(j.cycleFiles()).as("the first hour's file is wholly confirmed").isLessThan(4);
            j.confirm(first.subList(0, 2)); // stale (a rewind came between): ignored
            assertThat(j.unconfirmed()).isEqualTo(7);
        }
        try (ChronicleJournal j = ChronicleJournal.open(dir, ChronicleJournal.DEFAULT_MAX_BYTES, Durability.PROCESS_CRASH,
                new MetricRegistry(), clock, ChronicleJournal.HOLD_UNTIL_CONFIRMED)) {
            assertThat(j.backlog()).isZero();
            assertThat(j.unconfirmed()).as("counted again at open").isEqualTo(7);
            long before = j.rewindRecent(); // Redis restarted: every unconfirmed record is sent again
            assertThat(j.unconfirmed()).isZero();
            assertThat(j.backlog()).isEqualTo(7);
            List<ChronicleJournal.Entry> again = j.read(100, before);
            assertThat(again).extracting(e -> e.job().id().value()).containsExactlyElementsOf(ids.subList(5, 12));
            j.commit(again);
            assertThat(j.unconfirmed()).isEqualTo(7);
            j.confirm(j.readUnconfirmed(100));
            assertThat(j.unconfirmed()).isZero();
            assertThat(j.readUnconfirmed(100)).isEmpty();
            assertThat(j.safeToDeleteIndex()).isEqualTo(j.replayedIndex());
        }
        try (ChronicleJournal j = open(dir)) {
            assertThat(ChronicleJournal.isWriteAhead(dir)).as("opened in the default mode: no longer").isFalse();
        }
    }

    @Test
    void writeAheadCountsUnconfirmedRecordsAgainstTheCap() {
        try (ChronicleJournal j = ChronicleJournal.open(dir, 1_000, Durability.PROCESS_CRASH, new MetricRegistry(), null,
                ChronicleJournal.HOLD_UNTIL_CONFIRMED)) {
            int n = 0;
            while (true) {
                JobRecord r = job("q", n);
                try {
                    j.append(r, JobCodec.encode(r));
                    n++;
                } catch (JournalFullException full) {
                    break;
                }
            }
            drain(j);
            assertThat(j.backlog()).isZero();
            JobRecord r = job("q", 999);
            assertThatThrownBy(() -> j.append(r, JobCodec.encode(r))).isInstanceOf(JournalFullException.class)
                    .hasMessageContaining("waiting for their jobs to complete (write-ahead)");
            j.confirm(j.readUnconfirmed(1));
            j.append(r, JobCodec.encode(r));
            assertThat(j.backlog()).isEqualTo(1);
        }
    }

    private static int indexOf(byte[] hay, byte[] needle) {
        // ISO-8859-1 maps each byte to one char: String.indexOf finds the bytes.
        return new String(hay, java.nio.charset.StandardCharsets.ISO_8859_1)
                .indexOf(new String(needle, java.nio.charset.StandardCharsets.ISO_8859_1));
    }
}
