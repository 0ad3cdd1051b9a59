package io.spillway.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.codahale.metrics.MetricRegistry;
import io.spillway.core.Durability;
import io.spillway.core.JobId;
import io.spillway.core.MetricNames;
import io.spillway.core.QueueName;
import io.spillway.core.RedisConnection;
import io.spillway.core.RedisUnavailableException;
import io.spillway.testing.RedisProcess;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.Protocol;

/**
 * The replayer streams script calls (several in flight on one connection) and commits journal batches in
 * order as their replies come: everything lands once, in order, also across NOSCRIPT and a Redis that dies
 * midway.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ReplayerIT {
    private static final long GB = 1L << 30;

    @TempDir
    Path dir;

    @Test
    void drainsEveryJobOnceInJournalOrderAcrossQueues() {
        try (RedisProcess redis = RedisProcess.builder().start();
             ChronicleJournal journal = ChronicleJournal.open(dir, GB, Durability.PROCESS_CRASH, new MetricRegistry());
             RedisGateway g = gateway(redis)) {
            MetricRegistry reg = new MetricRegistry();
            List<String> a = append(journal, "qa", 0, 2_600);
            List<String> b = append(journal, "qb", 0, 1_700);
            List<String> a2 = append(journal, "qa", 2_600, 900);
            // One id twice: the second copy is a duplicate, skipped.
            journal.append(job("qb", b.get(5)), JobCodec.encode(job("qb", b.get(5))));
            Replayer r = new Replayer(journal, g, 0, 1_000, reg);
            g.loadScripts(LuaScript.ENQUEUE);

            long sent = r.drain(false);

            assertThat(sent).isEqualTo(2_600 + 1_700 + 900 + 1);
            assertThat(journal.backlog()).isZero();
            assertThat(reg.meter(MetricNames.REPLAYED).getCount()).isEqualTo(5_200);
            assertThat(reg.meter(MetricNames.REPLAY_DUPLICATES).getCount()).isEqualTo(1);
            List<String> all = new ArrayList<>(a);
            all.addAll(a2);
            assertThat(streamIds(redis, "qa")).containsExactlyElementsOf(all);
            assertThat(streamIds(redis, "qb")).containsExactlyElementsOf(b);
            assertThat(r.drain(false)).isZero();
        }
    }

    /**
     * Single enqueues to many queues spooled in an outage interleave job by job in the journal: each read batch still
     * makes one call per queue (up to 250 jobs), not one per job, and each queue keeps its order.
     */
    @Test
    void aJournalWhoseQueuesInterleaveJobByJobIsSentInFullCallsInEachQueuesOrder() {
        try (RedisProcess redis = RedisProcess.builder().start();
             ChronicleJournal journal = ChronicleJournal.open(dir, GB, Durability.PROCESS_CRASH, new MetricRegistry());
             RedisGateway g = gateway(redis); Jedis j = redis.jedis()) {
            Map<String, List<String>> ids = new java.util.LinkedHashMap<>();
            for (int i = 0; i < 3_000; i++) {
                String q = "q" + (i % 3);
                ids.computeIfAbsent(q, k -> new ArrayList<>()).addAll(append(journal, q, i, 1));
            }
            Replayer r = new Replayer(journal, g, 0, 1_000, new MetricRegistry());
            g.loadScripts(LuaScript.ENQUEUE);
            j.configResetStat();

            assertThat(r.drain(false)).isEqualTo(3_000);

            for (Map.Entry<String, List<String>> e : ids.entrySet()) {
                assertThat(streamIds(redis, e.getKey())).as(e.getKey()).containsExactlyElementsOf(e.getValue());
            }
            String stats = j.info("commandstats");
            long calls = Long.parseLong(stats.replaceAll("(?s).*cmdstat_evalsha:calls=(\\d+).*", "$1"));
            // 3 read batches of 1,000: per queue 333-334 jobs, so 2 calls each (250 + the rest): 18 calls.
            assertThat(calls).as("script calls for 3,000 interleaved jobs").isLessThanOrEqualTo(18);
        }
    }

    @Test
    void reloadsTheScriptWhenRedisLostItsCache() {
        try (RedisProcess redis = RedisProcess.builder().start();
             ChronicleJournal journal = ChronicleJournal.open(dir, GB, Durability.PROCESS_CRASH, new MetricRegistry());
             RedisGateway g = gateway(redis)) {
            List<String> ids = append(journal, "q", 0, 3_000);
            Replayer r = new Replayer(journal, g, 0, 1_000, new MetricRegistry());
            try (Jedis j = redis.jedis()) {
                j.scriptFlush();
            }

            assertThat(r.drain(false)).isEqualTo(3_000);

            assertThat(streamIds(redis, "q")).containsExactlyElementsOf(ids);
            assertThat(journal.backlog()).isZero();
        }
    }

    @Test
    void aRedisThatDiesMidwayLeavesTheRestInTheJournalAndNothingIsWrittenTwice() throws Exception {
        // appendfsync always: what Redis acknowledged survives its crash (the hold-back window that covers
        // everysec is the producer's business, tested with it).
        try (RedisProcess redis = RedisProcess.builder().appendFsync("always").start();
             ChronicleJournal journal = ChronicleJournal.open(dir, GB, Durability.PROCESS_CRASH, new MetricRegistry());
             RedisGateway g = gateway(redis)) {
            List<String> ids = append(journal, "q", 0, 200_000);
            Replayer r = new Replayer(journal, g, 0, 1_000, new MetricRegistry());
            g.loadScripts(LuaScript.ENQUEUE);
            Thread killer = new Thread(() -> {
                try (Jedis j = redis.jedis()) {
                    while (j.xlen(RedisKeys.stream(QueueName.of("q"))) < 20_000) {
                        java.util.concurrent.locks.LockSupport.parkNanos(200_000); // poll, without flooding Redis
                    }
                }
                redis.kill();
            });
            killer.start();

            assertThatThrownBy(() -> r.drain(false)).isInstanceOf(RedisUnavailableException.class);
            killer.join();
            long left = journal.backlog();
            assertThat(left).isPositive().isLessThan(200_000);

            redis.restart();
            g.resetConnections();
            g.loadScripts(LuaScript.ENQUEUE);
            while (journal.backlog() > 0) {
                try {
                    r.drain(false);
                } catch (RedisUnavailableException stale) {
                    // a stale pooled connection fails once
                }
            }
            // Everything not committed before the crash was sent again: what the AOF kept plus the rest is
            // every job, in order, each once.
            assertThat(streamIds(redis, "q")).containsExactlyElementsOf(ids);
        }
    }

    @Test
    void aGuardedStreamOnADeadPooledConnectionIsRetriedOnAFreshOneAndEveryCallGetsOneReply() {
        try (RedisProcess redis = RedisProcess.builder().start(); RedisGateway g = gateway(redis)) {
            g.close("start closed");
            QueueName q = QueueName.of("s");
            List<Integer> replies = new ArrayList<>();
            List<String> ids = new ArrayList<>();
            runStream(g, q, 0, 3, replies, ids); // leaves an idle pooled connection
            redis.kill();
            redis.restart(); // same data dir; every pooled connection is dead now

            runStream(g, q, 3, 10, replies, ids);

            assertThat(replies).as("one reply per call, in call order").containsExactly(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
            assertThat(streamIds(redis, "s")).containsAll(ids.subList(3 * 50, ids.size()));
            assertThat(g.isOpen()).as("a dead pooled connection is not an outage").isFalse();
        }
    }

    /** Streams calls {@code from..to-1} of 50 jobs each through the guarded path. */
    private static void runStream(RedisGateway g, QueueName q, int from, int to, List<Integer> replies, List<String> ids) {
        int[] next = {from};
        g.stream(LuaScript.ENQUEUE, () -> {
            if (next[0] == to) {
                return null;
            }
            List<JobRecord> jobs = new ArrayList<>();
            List<byte[]> enc = new ArrayList<>();
            for (int k = 0; k < 50; k++) {
                JobRecord r = job(q.value(), "c" + next[0] + "-" + k);
                jobs.add(r);
                enc.add(JobCodec.encode(r));
                ids.add(r.id().value());
            }
            return EnqueueScript.call(q, jobs, enc, System.currentTimeMillis(), 0, next[0]++);
        }, (call, reply) -> {
            EnqueueScript.codes(reply, 50);
            replies.add((Integer) call.tag());
        }, 3, true);
    }

    @Test
    void writeAheadConfirmsFinishedJobsInOrderCarriesOldUnfinishedOnesAndTrustsOnlyTheRedisItRecoveredWith() {
        net.openhft.chronicle.core.time.SetTimeProvider clock =
                new net.openhft.chronicle.core.time.SetTimeProvider(java.time.Instant.now());
        MetricRegistry reg = new MetricRegistry();
        try (RedisProcess redis = RedisProcess.builder().start();
             ChronicleJournal journal = ChronicleJournal.open(dir, GB, Durability.PROCESS_CRASH, reg, clock,
                     ChronicleJournal.HOLD_UNTIL_CONFIRMED);
             RedisGateway g = gateway(redis); Jedis j = redis.jedis()) {
            g.loadScripts(LuaScript.ENQUEUE);
            Replayer r = new Replayer(journal, g, 0, 1_000, reg);
            String runId = runId(j);
            List<String> ids = append(journal, "q", 0, 10);
            r.drain(true);
            assertThat(journal.unconfirmed()).isEqualTo(10);
            assertThat(r.confirm(runId, 100)).isEqualTo(Replayer.Confirmation.DONE);
            assertThat(journal.unconfirmed()).as("all queued: nothing finished").isEqualTo(10);

            // Jobs 0-3 finished (completed, dead, purged; job 3's record expired after completion), 4 still queued,
            // 5-9 completed: confirmed up to 4, in journal order.
            finish(j, ids.get(0), "C");
            finish(j, ids.get(1), "X");
            finish(j, ids.get(2), "P");
            j.del(RedisKeys.job(QueueName.of("q"), JobId.of(ids.get(3))));
            for (String id : ids.subList(5, 10)) {
                finish(j, id, "C");
            }
            assertThat(r.confirm(runId, 100)).isEqualTo(Replayer.Confirmation.DONE);
            assertThat(journal.unconfirmed()).isEqualTo(6);
            assertThat(journal.readUnconfirmed(100)).extracting(e -> e.job().id().value()).containsExactlyElementsOf(ids.subList(4, 10));

            // A Redis that restarted (another run id) is not trusted: nothing is confirmed.
            assertThat(r.confirm("another-run-id", 100)).isEqualTo(Replayer.Confirmation.RESTARTED);
            assertThat(journal.unconfirmed()).isEqualTo(6);

            // Two hours later job 4 still waits (delayed, or a very long job) while the jobs after it finished: it is
            // copied to the end of the journal and the rest are confirmed, so the old file can go.
            clock.advanceMillis(TimeUnit.HOURS.toMillis(2));
            assertThat(r.confirm(runId, 100)).isEqualTo(Replayer.Confirmation.DONE);
            assertThat(journal.unconfirmed()).isZero();
            assertThat(journal.backlog()).as("the copy, to be replayed").isEqualTo(1);
            assertThat(reg.meter(MetricNames.JOURNAL_CARRIED).getCount()).isEqualTo(1);
            r.drain(true);
            assertThat(reg.meter(MetricNames.REPLAY_DUPLICATES).getCount()).as("Redis has it: a duplicate").isEqualTo(1);
            assertThat(journal.readUnconfirmed(100)).extracting(e -> e.job().id().value()).containsExactly(ids.get(4));
            assertThat(streamIds(redis, "q")).containsExactlyElementsOf(ids);
            // Not carried again while its copy's file is young, even with nothing after it.
            assertThat(r.confirm(runId, 100)).isEqualTo(Replayer.Confirmation.DONE);
            assertThat(reg.meter(MetricNames.JOURNAL_CARRIED).getCount()).isEqualTo(1);
            finish(j, ids.get(4), "C");
            r.confirm(runId, 100);
            assertThat(journal.unconfirmed()).isZero();
            assertThat(journal.safeToDeleteIndex()).isEqualTo(journal.replayedIndex());
        }
    }

    @Test
    void writeAheadResendAfterAnEmptyRestartLeavesOutTheJobsKnownToHaveFinished() {
        MetricRegistry reg = new MetricRegistry();
        try (RedisProcess redis = RedisProcess.builder().start();
             ChronicleJournal journal = ChronicleJournal.open(dir, GB, Durability.PROCESS_CRASH, reg, null,
                     ChronicleJournal.HOLD_UNTIL_CONFIRMED);
             RedisGateway g = gateway(redis); Jedis j = redis.jedis()) {
            g.loadScripts(LuaScript.ENQUEUE);
            Replayer r = new Replayer(journal, g, 0, 1_000, reg);
            String runId = runId(j);
            List<String> ids = append(journal, "q", 0, 10);
            r.drain(true);
            // Job 2 still runs; jobs 0-1 and 3-9 finished. Confirmed: 0-1; 3-9 are known finished, not confirmed.
            for (String id : ids) {
                if (!id.equals(ids.get(2))) {
                    finish(j, id, "C");
                }
            }
            r.confirm(runId, 100);
            assertThat(journal.unconfirmed()).isEqualTo(8);

            j.flushAll(); // Redis came back empty
            g.loadScripts(LuaScript.ENQUEUE);
            r.recover(true, new RecentWrites(5_000, 1 << 20), 5_000);

            assertThat(streamIds(redis, "q")).as("only the job that had not finished is sent again").containsExactly(ids.get(2));
            assertThat(reg.meter(MetricNames.RESENT).getCount()).isEqualTo(1);
            assertThat(journal.unconfirmed()).isEqualTo(8);
            // Their status records are gone with the rest: once job 2 finishes, all are confirmed.
            finish(j, ids.get(2), "C");
            r.confirm(runId(j), 100);
            assertThat(journal.unconfirmed()).isZero();
        }
    }

    private static String runId(Jedis j) {
        Map<String, String> info = RedisInfo.parse(j.info("server"));
        info.putAll(RedisInfo.parse(j.info("replication")));
        return RedisInfo.runId(info);
    }

    private static void finish(Jedis j, String id, String code) {
        j.set(RedisKeys.job(QueueName.of("q"), JobId.of(id)), code + "|1|" + System.currentTimeMillis() + "|");
    }

    private static RedisGateway gateway(RedisProcess redis) {
        return new RedisGateway(RedisConnection.of(redis.uri()), "test", 4, Duration.ofSeconds(1), new MetricRegistry());
    }

    private static JobRecord job(String queue, String id) {
        return new JobRecord(JobId.of(id), QueueName.of(queue), "t", new byte[] {1, 2, 3}, Map.of(), 0, 1, 0);
    }

    private static List<String> append(ChronicleJournal journal, String queue, int from, int n) {
        List<String> ids = new ArrayList<>(n);
        for (int i = from; i < from + n; i++) {
            String id = queue + "-" + String.format("%07d", i);
            JobRecord r = job(queue, id);
            journal.append(r, JobCodec.encode(r));
            ids.add(id);
        }
        return ids;
    }

    /** The job ids in a queue's stream, in stream order, read independently of the replayer. */
    @SuppressWarnings("unchecked")
    private static List<String> streamIds(RedisProcess redis, String queue) {
        List<String> out = new ArrayList<>();
        byte[] key = RedisKeys.bytes(RedisKeys.stream(QueueName.of(queue)));
        String start = "-";
        try (Jedis j = redis.jedis()) {
            while (true) {
                List<Object> entries = (List<Object>) j.sendCommand(Protocol.Command.XRANGE, key, ascii(start), ascii("+"),
                        ascii("COUNT"), ascii("10000"));
                if (entries.isEmpty()) {
                    return out;
                }
                for (Object e : entries) {
                    List<?> entry = (List<?>) e;
                    start = "(" + new String((byte[]) entry.get(0), StandardCharsets.US_ASCII);
                    List<?> fields = (List<?>) entry.get(1);
                    out.add(JobCodec.decode((byte[]) fields.get(1)).id().value());
                }
            }
        }
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }
}
