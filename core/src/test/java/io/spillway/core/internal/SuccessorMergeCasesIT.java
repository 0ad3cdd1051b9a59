package io.spillway.core.internal;

import static org.assertj.core.api.Assertions.assertThat;

import com.codahale.metrics.MetricRegistry;
import io.spillway.core.Durability;
import io.spillway.core.JobId;
import io.spillway.core.QueueName;
import io.spillway.core.RedisConnection;
import io.spillway.testing.RedisProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

/**
 * The successor's merge (Replayer.resendPredecessors, acceptedBefore, the dedupe at the start of recover), in cases a
 * third review found wrong (each failed on the code it reviewed). Each test builds what one predecessor producer left (its journal, its sent log or its restored writes), in the order
 * one of its threads accepted the jobs, and checks that a successor's recovery against an empty Redis (it lost them)
 * puts each queue back in that order.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
@org.junit.jupiter.api.Tag("first-pass-only") // client-side logic: the same whatever the Redis version
class SuccessorMergeCasesIT {
    private static final long GB = 1L << 30;

    @TempDir
    Path dir;

    RedisProcess redis;
    ChronicleJournal journal;
    RedisGateway g;
    Jedis j;
    MetricRegistry reg = new MetricRegistry();

    @BeforeEach
    void setUp() throws Exception {
        redis = RedisProcess.builder().start();
        journal = ChronicleJournal.open(Files.createDirectories(dir.resolve("journal")), GB, Durability.PROCESS_CRASH,
                reg, null, 5_000);
        g = new RedisGateway(RedisConnection.of(redis.uri()), "test", 4, Duration.ofSeconds(1), new MetricRegistry());
        g.loadScripts(LuaScript.ENQUEUE);
        j = redis.jedis();
    }

    @AfterEach
    void tearDown() {
        j.close();
        g.close();
        journal.close();
        redis.close();
    }

    private static JobRecord job(String id, String queue, long at) {
        return new JobRecord(JobId.of(id), QueueName.of(queue), "t", new byte[] {1}, Map.of(), 0, at, 0);
    }

    private static JobRecord minted(String queue, long at) {
        return new JobRecord(JobId.mint(at), QueueName.of(queue), "t", new byte[] {1}, Map.of(), 0, at, 0);
    }

    private static RecentWrites.Entry write(JobRecord r) {
        return new RecentWrites.Entry(r.enqueuedAt(), r, JobCodec.encode(r));
    }

    private void spool(JobRecord r) {
        journal.append(r, JobCodec.encode(r));
    }

    private void recoverWith(List<RecentWrites.Entry> predecessorWrites) {
        RecentWrites recent = new RecentWrites(5_000, 1L << 30);
        recent.restore(predecessorWrites);
        new Replayer(journal, g, 0, 1_000, reg).recover(true, recent, 5_000);
    }

    private static List<String> idsOf(JobRecord... rs) {
        List<String> out = new ArrayList<>();
        for (JobRecord r : rs) {
            out.add(r.id().value());
        }
        return out;
    }

    /**
     * One thread writes A then B straight to Redis (queue q); Redis restarts and the producer sends both again
     * (RecentWrites.resent appends them to the sent log a second time, stamped now); it writes C and dies. By then A's
     * first copy is older than the window counted back from C, B's is not: the sent log gives B, A, B, C. Keeping the
     * first copy of each gave B, A, C; the last copies (and the sort by accept time) give A, B, C.
     */
    @Test
    void aSentLogWindowThatCutsAReSentPairPutsTheSecondWriteFirst() {
        long now = System.currentTimeMillis();
        JobRecord a = minted("q", now - 8_300);
        JobRecord b = minted("q", now - 4_800);
        JobRecord c = minted("q", now);
        try (SentLog sent = SentLog.open(dir, Durability.PROCESS_CRASH, 5_000, 16L << 20)) {
            sent.append(List.of(JobCodec.encode(a)), now - 8_300);
            sent.append(List.of(JobCodec.encode(b)), now - 4_800);
            // the predecessor's own re-send after a Redis restart 1 s later (RecentWrites.resent: both, stamped now)
            sent.append(List.of(JobCodec.encode(a), JobCodec.encode(b)), now - 3_800);
            sent.append(List.of(JobCodec.encode(c)), now);
            List<RecentWrites.Entry> earlier = sent.recent(5_000, 3_600_000, now);
            recoverWith(earlier);
        }
        assertThat(SuccessorMergeIT.ids(j, "q")).as("queue q: the order the thread wrote them").containsExactlyElementsOf(
                idsOf(a, b, c));
    }

    /**
     * A caller that mints its job's id ahead (JobId.mint(), kept for retries: the idempotency-key pattern) and
     * enqueues it after another job: the accept order is B (direct) then A (spooled), though A's id is the older ULID.
     * Comparing the ids first put B behind A.
     */
    @Test
    void aCallerIdMintedAheadIsNotWhenTheJobWasAccepted() {
        long now = System.currentTimeMillis();
        JobId early = JobId.mint(now - 3_000); // minted by the caller, enqueued (retried) later
        JobRecord b = minted("q", now - 2_000); // direct
        JobRecord a = new JobRecord(early, QueueName.of("q"), "t", new byte[] {1}, Map.of(), 0, now - 1_000, 0); // spooled
        spool(a);
        recoverWith(List.of(write(b)));
        assertThat(SuccessorMergeIT.ids(j, "q")).containsExactlyElementsOf(idsOf(b, a));
    }

    /**
     * enqueueAll with caller-chosen ids that Redis failed in the middle of: the jobs of the calls it answered are
     * direct writes (sent log), the rest spooled behind them, all accepted in the same millisecond. A tie puts the write
     * first; putting the journal's first sent the whole direct part behind the spooled part.
     */
    @Test
    void anEnqueueAllSplitByAFailureWithCallerIdsInOneMillisecond() {
        long t = System.currentTimeMillis() - 1_000;
        List<RecentWrites.Entry> writes = new ArrayList<>();
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            JobRecord r = job("order-" + i, "q", t);
            writes.add(write(r));
            expected.add(r.id().value());
        }
        for (int i = 100; i < 200; i++) {
            JobRecord r = job("order-" + i, "q", t);
            spool(r);
            expected.add(r.id().value());
        }
        JobRecord later = job("order-later", "q", t + 5);
        spool(later);
        expected.add(later.id().value());
        recoverWith(writes);
        assertThat(SuccessorMergeIT.ids(j, "q")).containsExactlyElementsOf(expected);
    }

    /**
     * Two threads. Thread 1 enqueues R (spooled, queue q) then W (direct, q). Thread 2 had accepted X (queue x)
     * before both, but its sent-log record landed after W's (descheduled between minting the id and sending). The
     * "latest write not yet placed" was taken in sent-log order (X), R is accepted after X, so every write left (W too)
     * went before R. Sorted by accept time first, q gets R, W.
     */
    @Test
    void theLatestWriteInSentLogOrderIsNotTheLatestAcceptedWithTwoThreads() {
        long now = System.currentTimeMillis();
        JobRecord x = minted("x", now - 3_000); // thread 2
        JobRecord r = minted("q", now - 2_000); // thread 1, spooled
        JobRecord w = minted("q", now - 1_000); // thread 1, direct
        spool(r);
        recoverWith(List.of(write(w), write(x))); // sent-log order: W, X
        assertThat(SuccessorMergeIT.ids(j, "q")).containsExactlyElementsOf(idsOf(r, w));
        assertThat(SuccessorMergeIT.ids(j, "x")).containsExactlyElementsOf(idsOf(x));
    }

    /**
     * A job id is per queue (the status record is spillway:{q}:job:<id>): the same caller-chosen id enqueued to two
     * queues is two jobs. The predecessor wrote "order-42" to images and then to emails, straight to Redis; Redis lost
     * both. A dedupe keyed on the id alone dropped the second: emails' job was lost.
     */
    @Test
    void theSameCallerIdInTwoQueuesIsTwoJobs() {
        long now = System.currentTimeMillis();
        JobRecord images = job("order-42", "images", now - 2_000);
        JobRecord emails = job("order-42", "emails", now - 1_999);
        JobRecord other = job("order-43", "emails", now - 1_998);
        recoverWith(List.of(write(images), write(emails), write(other)));
        assertThat(SuccessorMergeIT.ids(j, "images")).containsExactly("order-42");
        assertThat(SuccessorMergeIT.ids(j, "emails")).as("emails: both of its jobs").containsExactly("order-42", "order-43");
    }

    /**
     * A predecessor's writes restored out of their accept order (its sent log's ring let the first copies of some go
     * and kept the copies it wrote again after a restart, which come after later writes): merged in accept order all
     * the same, w1-w4 before the journal's record, w5-w9 after it.
     */
    @Test
    void writesRestoredOutOfTheirAcceptOrderAreMergedInIt() {
        long base = System.currentTimeMillis() - 60_000;
        List<JobRecord> w = new ArrayList<>();
        for (int i = 1; i <= 9; i++) {
            w.add(minted("a", base + i * 10L));
        }
        JobRecord s = job("spooled", "a", base + 45);
        spool(s);
        List<RecentWrites.Entry> restored = new ArrayList<>();
        w.subList(4, 9).forEach(r -> restored.add(write(r)));
        w.subList(0, 4).forEach(r -> restored.add(write(r)));
        recoverWith(restored);
        List<JobRecord> expected = new ArrayList<>(w.subList(0, 4));
        expected.add(s);
        expected.addAll(w.subList(4, 9));
        assertThat(SuccessorMergeIT.ids(j, "a")).containsExactlyElementsOf(idsOf(expected.toArray(JobRecord[]::new)));
    }

    /** Control: the same with the sent log in accept order holds. */
    @Test
    void controlOneThreadInAcceptOrder() {
        long now = System.currentTimeMillis();
        JobRecord x = minted("x", now - 3_000);
        JobRecord r = minted("q", now - 2_000);
        JobRecord w = minted("q", now - 1_000);
        spool(r);
        recoverWith(List.of(write(x), write(w)));
        assertThat(SuccessorMergeIT.ids(j, "q")).containsExactlyElementsOf(idsOf(r, w));
    }
}
