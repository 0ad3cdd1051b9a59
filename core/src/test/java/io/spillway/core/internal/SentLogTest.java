package io.spillway.core.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.spillway.core.Durability;
import io.spillway.core.JobId;
import io.spillway.core.QueueName;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SentLogTest {
    @TempDir
    Path dir;

    private static byte[] job(int i) {
        return JobCodec.encode(new JobRecord(JobId.mint(), QueueName.of("q"), "t", new byte[] {(byte) i}, Map.of(), 0,
                System.currentTimeMillis(), 0));
    }

    @Test
    void aSuccessorReadsTheLastWindowOfWritesInOrderAndTheRunId() {
        List<byte[]> written = new ArrayList<>();
        try (SentLog log = SentLog.open(dir, Durability.PROCESS_CRASH)) {
            assertThat(log.redisRunId()).isNull();
            log.redisRunId("run-1");
            long t = 1_000_000;
            for (int i = 0; i < 100; i++) {
                byte[] e = job(i);
                written.add(e);
                log.append(List.of(e), t + i * 100L); // 100 ms apart: 10 s in all
            }
        }
        try (SentLog log = SentLog.open(dir, Durability.PROCESS_CRASH)) {
            assertThat(log.redisRunId()).isEqualTo("run-1");
            List<RecentWrites.Entry> recent = log.recent(5_000, Long.MAX_VALUE, 1_010_000);
            // Within 5 s of the newest (acknowledged at +9,900 ms): +4,900 ms onwards, 51 writes, oldest first.
            assertThat(recent).hasSize(51);
            for (int k = 0; k < 51; k++) {
                assertThat(recent.get(k).encoded()).isEqualTo(written.get(49 + k));
                assertThat(recent.get(k).job().payload()).containsExactly((byte) (49 + k));
            }
            // Too old to send again: nothing.
            assertThat(log.recent(5_000, 60_000, 1_000_000 + 3_600_000)).isEmpty();
        }
    }

    @Test
    void recordGoesToTheLogOnlyAndRememberToMemoryOnly() {
        byte[] a = job(1);
        byte[] b = job(2);
        try (SentLog log = SentLog.open(dir, Durability.PROCESS_CRASH)) {
            RecentWrites r = new RecentWrites(5_000, 1 << 20, log);
            SentLog.Pending pa = r.record(a, 1_000);
            assertThat(r.size()).isZero();
            r.remember(JobCodec.decode(a), a, 1_001, pa);
            assertThat(r.size()).isEqualTo(1);
            r.add(JobCodec.decode(b), b, 1_002);
            assertThat(r.size()).isEqualTo(2);
            List<RecentWrites.Entry> drained = r.drain();
            assertThat(drained).extracting(e -> e.job().id()).containsExactly(JobCodec.decode(a).id(), JobCodec.decode(b).id());
        }
        try (SentLog log = SentLog.open(dir, Durability.PROCESS_CRASH)) {
            List<RecentWrites.Entry> recent = log.recent(5_000, Long.MAX_VALUE, 2_000);
            assertThat(recent).extracting(RecentWrites.Entry::encoded).containsExactly(a, b);
        }
    }

    @Test
    void recordsHandedInFromManyThreadsAreAllWrittenOnceAwaited() throws Exception {
        int threads = 8;
        int each = 500;
        List<byte[]> all = java.util.Collections.synchronizedList(new ArrayList<>());
        try (SentLog log = SentLog.open(dir, Durability.PROCESS_CRASH)) {
            List<Thread> ts = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                Thread th = new Thread(() -> {
                    for (int i = 0; i < each; i++) {
                        byte[] e = job(i);
                        SentLog.Pending p = log.submit(e, 5_000);
                        log.await(p);
                        all.add(e);
                    }
                });
                ts.add(th);
                th.start();
            }
            for (Thread th : ts) {
                th.join();
            }
        }
        try (SentLog log = SentLog.open(dir, Durability.PROCESS_CRASH)) {
            List<RecentWrites.Entry> recent = log.recent(5_000, Long.MAX_VALUE, 5_000);
            assertThat(recent).hasSize(threads * each);
            assertThat(recent).extracting(RecentWrites.Entry::encoded).containsExactlyInAnyOrderElementsOf(all);
        }
    }

    private static byte[] job(int i, int payloadBytes) {
        byte[] payload = new byte[payloadBytes];
        java.nio.ByteBuffer.wrap(payload).putInt(i);
        return JobCodec.encode(new JobRecord(JobId.mint(), QueueName.of("q"), "t", payload, Map.of(), 0, 0, 0));
    }

    private static int idOf(RecentWrites.Entry e) {
        return java.nio.ByteBuffer.wrap(e.job().payload()).getInt();
    }

    @Test
    void aNewLogPreparesItsRingAndItsUnusedSegmentsHoldNoRecord() throws Exception {
        try (SentLog log = SentLog.open(dir, Durability.PROCESS_CRASH)) {
            assertThat(log.ringSegments()).isEqualTo(8); // the default 16 MiB buffer in 4 MiB segments, the current, 2 spares
            assertThat(log.segmentFiles()).isEqualTo(8);
            try (java.util.stream.Stream<Path> files = java.nio.file.Files.list(dir.resolve(SentLog.DIR))) {
                assertThat(files.filter(p -> p.getFileName().toString().startsWith("segment-")))
                        .allMatch(p -> p.toFile().length() == SentLog.SEGMENT_BYTES);
            }
            assertThat(log.recent(5_000, Long.MAX_VALUE, 2_000)).isEmpty();
            for (int i = 0; i < 3; i++) {
                log.append(List.of(job(i, 100)), 1_000 + i);
            }
        }
        try (SentLog log = SentLog.open(dir, Durability.PROCESS_CRASH)) {
            assertThat(log.segmentFiles()).isEqualTo(8); // nothing to add, nothing removed
            assertThat(log.recent(5_000, Long.MAX_VALUE, 2_000)).extracting(SentLogTest::idOf).containsExactly(0, 1, 2);
        }
    }

    @Test
    void aLargeResendBufferPreparesAtMostEightSegmentsAtOpen() {
        try (SentLog log = SentLog.open(dir, Durability.PROCESS_CRASH, 5_000, 1L << 30)) {
            // 1 GiB takes 257 segments of 4 MiB less a header; then the current one and the spares.
            assertThat(log.ringSegments()).isEqualTo(257 + 1 + SentLog.SPARE_SEGMENTS);
            assertThat(log.segmentFiles()).isEqualTo(SentLog.MAX_PREPARED);
        }
    }

    @Test
    void segmentsAreReusedOnceNewerOnesHoldTheResendBuffer() {
        // 1 KB jobs, a 1 MiB resend buffer, all in the same second: 20 MiB of writes go round two 4 MiB segments.
        try (SentLog log = SentLog.open(dir, Durability.PROCESS_CRASH, 5_000, 1 << 20)) {
            for (int i = 0; i < 20_000; i++) {
                log.append(List.of(job(i, 1_000)), 1_000_000);
            }
            // The ring prepared at open (the segments the buffer may need, the current one, two spares), no more.
            assertThat(log.segmentFiles()).isEqualTo(log.ringSegments()).isEqualTo(4);
        }
        try (SentLog log = SentLog.open(dir, Durability.PROCESS_CRASH, 5_000, 1 << 20)) {
            List<RecentWrites.Entry> recent = log.recent(5_000, Long.MAX_VALUE, 1_000_000);
            // At least the newest 1 MiB, in order, ending with the last write; nothing of an earlier use of a segment.
            assertThat(recent.size()).isGreaterThan(1_000);
            for (int k = 0; k < recent.size(); k++) {
                assertThat(idOf(recent.get(k))).isEqualTo(20_000 - recent.size() + k);
            }
            // A successor goes on after the newest of its predecessor, in another segment of the ring: the newest
            // one holds less than the buffer (0.7 MiB), so both of the predecessor's newest may still be needed.
            log.append(List.of(job(20_000, 1_000)), 1_000_001);
            assertThat(log.segmentFiles()).isEqualTo(4);
        }
        try (SentLog log = SentLog.open(dir, Durability.PROCESS_CRASH, 5_000, 1 << 20)) {
            List<RecentWrites.Entry> recent = log.recent(5_000, Long.MAX_VALUE, 1_000_001);
            assertThat(idOf(recent.get(recent.size() - 1))).isEqualTo(20_000);
            assertThat(idOf(recent.get(recent.size() - 2))).isEqualTo(19_999);
        }
    }

    @Test
    void segmentsAreReusedOnceTheirWritesAreOlderThanTheWindowAndAMargin() {
        // 16 MiB buffer (not the bound here); 1 KB jobs, 1 ms apart: a 4 MiB segment spans about 4 s.
        try (SentLog log = SentLog.open(dir, Durability.PROCESS_CRASH, 5_000, 16L << 20)) {
            for (int i = 0; i < 60_000; i++) {
                log.append(List.of(job(i, 1_000)), 1_000_000 + i);
            }
            // 60 s of writes, 15 s kept (window + margin): about 5 segments, not 15.
            assertThat(log.segmentFiles()).isBetween(4, 8);
            List<RecentWrites.Entry> recent = log.recent(5_000, Long.MAX_VALUE, 1_060_000);
            assertThat(recent).hasSize(5_001);
            assertThat(idOf(recent.get(0))).isEqualTo(60_000 - 5_001);
        }
    }

    @Test
    void writesNoReplicaConfirmedAreReadBackAcrossSegmentsPastTheWindow() {
        // 400-byte jobs 1 ms apart for 60 s: the window and margin would keep the last 15 s (about 7 MB).
        try (SentLog log = SentLog.open(dir, Durability.PROCESS_CRASH, 5_000, 16L << 20)) {
            log.keepSince(1_030_000); // a replica confirmed up to +30 s, then fell behind
            for (int i = 0; i < 60_000; i++) {
                log.append(List.of(job(i, 400)), 1_000_000 + i);
            }
            List<RecentWrites.Entry> recent = log.recent(5_000, Long.MAX_VALUE, 1_060_000);
            assertThat(idOf(recent.get(0))).as("kept from +30 s (the mark), not only the window").isEqualTo(30_000);
            assertThat(recent).hasSize(30_000);
        }
    }

    /**
     * Writes {@code count} records of 100-byte payloads (ids 0..count-1) into a fresh log, then overwrites
     * {@code bytes} at {@code offset} into the data of record {@code index} of its segment file.
     */
    private void writeThenDamage(int count, int index, int offset, byte[] bytes) throws java.io.IOException {
        try (SentLog log = SentLog.open(dir, Durability.PROCESS_CRASH)) {
            for (int i = 0; i < count; i++) {
                log.append(List.of(job(i, 100)), 1_000 + i);
            }
        }
        Path seg; // the segment of the ring (prepared at open) the records went to: the one with a header
        try (java.util.stream.Stream<Path> files = java.nio.file.Files.list(dir.resolve(SentLog.DIR))) {
            seg = files.filter(p -> p.getFileName().toString().startsWith("segment-")).filter(SentLogTest::hasHeader)
                    .findFirst().orElseThrow();
        }
        long recordBytes = SentLog.RECORD_HEADER + job(0, 100).length;
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(seg, java.nio.file.StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.wrap(bytes), SentLog.SEGMENT_HEADER + index * recordBytes + SentLog.RECORD_HEADER + offset);
        }
    }

    private static boolean hasHeader(Path segment) {
        try (java.io.DataInputStream in = new java.io.DataInputStream(java.nio.file.Files.newInputStream(segment))) {
            return in.readInt() != 0;
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void aCorruptRecordIsSkippedAndTheRestRead() throws Exception {
        writeThenDamage(10, 3, 40, new byte[] {(byte) 0xAB}); // a flipped byte in the data of the 4th record
        try (SentLog log = SentLog.open(dir, Durability.PROCESS_CRASH)) {
            List<RecentWrites.Entry> recent = log.recent(5_000, Long.MAX_VALUE, 2_000);
            assertThat(recent).extracting(SentLogTest::idOf).containsExactly(0, 1, 2, 4, 5, 6, 7, 8, 9);
        }
    }

    @Test
    void aRecordTornByACrashEndsTheLogAndEverythingBeforeItIsRead() throws Exception {
        // the 5th record's data zeroed from its middle on, as if the process died while copying it
        writeThenDamage(5, 4, 50, new byte[60]);
        try (SentLog log = SentLog.open(dir, Durability.PROCESS_CRASH)) {
            assertThat(log.recent(5_000, Long.MAX_VALUE, 2_000)).extracting(SentLogTest::idOf).containsExactly(0, 1, 2, 3);
            log.append(List.of(job(5, 100)), 1_005);
        }
        try (SentLog log = SentLog.open(dir, Durability.PROCESS_CRASH)) {
            assertThat(log.recent(5_000, Long.MAX_VALUE, 2_000)).extracting(SentLogTest::idOf).containsExactly(0, 1, 2, 3, 5);
        }
    }

    @Test
    void aRecordBiggerThanASegmentGetsOneOfItsOwnAndItIsDeletedWhenDone() {
        try (SentLog log = SentLog.open(dir, Durability.POWER_LOSS, 5_000, 16L << 20)) {
            log.append(List.of(job(1, 100)), 1_000);
            log.append(List.of(job(2, SentLog.SEGMENT_BYTES + 10)), 1_001);
            log.append(List.of(job(3, 5_000)), 1_002); // more than the big one's segment has left (under 4 KiB)
            assertThat(log.segmentFiles()).isEqualTo(log.ringSegments() + 1); // the ring, and the big one's own
        }
        try (SentLog log = SentLog.open(dir, Durability.POWER_LOSS, 5_000, 1 << 20)) {
            List<RecentWrites.Entry> recent = log.recent(5_000, Long.MAX_VALUE, 2_000);
            assertThat(recent).extracting(SentLogTest::idOf).containsExactly(1, 2, 3);
            assertThat(recent.get(1).job().payload()).hasSize(SentLog.SEGMENT_BYTES + 10);
            for (int i = 0; i < 5_000; i++) {
                log.append(List.of(job(i, 1_000)), 2_000);
            }
            // 5 MB newer than the big one, over the 1 MiB buffer: it went, and the ring shrank to this buffer's.
            assertThat(log.segmentFiles()).isEqualTo(log.ringSegments()).isEqualTo(4);
        }
    }

    @Test
    void filesOfTheEarlierChronicleFormatAreDeleted() throws Exception {
        Path sent = java.nio.file.Files.createDirectories(dir.resolve(SentLog.DIR));
        java.nio.file.Files.write(sent.resolve("20261130-0751.cq4"), new byte[] {1, 2, 3});
        java.nio.file.Files.write(sent.resolve("metadata.cq4t"), new byte[] {1, 2, 3});
        try (SentLog log = SentLog.open(dir, Durability.PROCESS_CRASH)) {
            assertThat(log.recent(5_000, Long.MAX_VALUE, 2_000)).isEmpty();
        }
        assertThat(sent.resolve("20261130-0751.cq4")).doesNotExist();
        assertThat(sent.resolve("metadata.cq4t")).doesNotExist();
    }

    @Test
    void restoredWritesGoAheadOfNewOnesAndRespectTheByteBound() {
        RecentWrites r = new RecentWrites(5_000, 1_000);
        byte[] small = new byte[100];
        JobRecord j = new JobRecord(JobId.mint(), QueueName.of("q"), "t", small, Map.of(), 0, 0, 0);
        List<RecentWrites.Entry> earlier = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            earlier.add(new RecentWrites.Entry(i, j, small));
        }
        r.restore(earlier);
        assertThat(r.size()).isEqualTo(10); // 1,000 bytes: the newest ten
        assertThat(r.overflowed()).isEqualTo(2);
        List<RecentWrites.Entry> drained = r.drain();
        assertThat(drained.get(0).ackedAtMillis()).isEqualTo(2);
        assertThat(drained.get(9).ackedAtMillis()).isEqualTo(11);
    }

    @Test
    void aSuccessorAlsoReadsTheWritesNoReplicaConfirmedHoweverOld() {
        try (SentLog log = SentLog.open(dir, Durability.PROCESS_CRASH)) {
            long t = 1_000_000;
            for (int i = 0; i < 100; i++) {
                log.append(List.of(job(i)), t + i * 100L); // 100 ms apart: 10 s in all
            }
            log.keepSince(1_002_000); // a replica has what was acknowledged before +2,000 ms
        }
        try (SentLog log = SentLog.open(dir, Durability.PROCESS_CRASH)) {
            assertThat(log.keepSince()).isEqualTo(1_002_000);
            List<RecentWrites.Entry> recent = log.recent(5_000, Long.MAX_VALUE, 1_010_000);
            assertThat(recent).as("+2,000 ms onwards, not only the window's +4,900 ms onwards").hasSize(80);
            assertThat(recent.get(0).ackedAtMillis()).isEqualTo(1_002_000);
            log.keepSince(Long.MIN_VALUE); // no replica confirmed anything (a master just promoted, a producer just started)
        }
        try (SentLog log = SentLog.open(dir, Durability.PROCESS_CRASH)) {
            assertThat(log.recent(5_000, Long.MAX_VALUE, 1_010_000)).hasSize(100);
            assertThat(log.recent(5_000, 8_000, 1_010_000)).as("none older than the maximum age (8 s here)").hasSize(80);
            log.keepSince(Long.MAX_VALUE); // not watched: the window alone
        }
        try (SentLog log = SentLog.open(dir, Durability.PROCESS_CRASH)) {
            assertThat(log.keepSince()).isEqualTo(Long.MAX_VALUE);
            assertThat(log.recent(5_000, Long.MAX_VALUE, 1_010_000)).hasSize(51);
        }
    }
}
