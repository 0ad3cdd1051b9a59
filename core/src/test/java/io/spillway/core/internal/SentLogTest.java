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
}
