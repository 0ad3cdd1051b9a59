package io.spillway.core.internal;

import com.codahale.metrics.Meter;
import com.codahale.metrics.MetricRegistry;
import io.spillway.core.JobState;
import io.spillway.core.JournalFullException;
import io.spillway.core.MetricNames;
import io.spillway.core.QueueName;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import redis.clients.jedis.Protocol;
import redis.clients.jedis.Response;

/**
 * Drains a journal into Redis.
 *
 * <p>What {@link #drain} does, until the journal is empty:
 * <ol>
 *   <li>Read up to {@code readBatch} records after the replay position.</li>
 *   <li>Cut them into enqueue-script calls: runs of one queue, at most {@value #JOBS_PER_CALL} jobs each, in
 *       journal order (so a queue's order is kept).</li>
 *   <li>Stream the calls ({@link ScriptStream}: up to {@value #STREAM_DEPTH} in flight, Redis runs one while
 *       the next batch is read and built). The script is idempotent by job id: a job whose first send timed
 *       out but had succeeded is counted as a duplicate, not written twice.</li>
 *   <li>Advance the replay position over a batch once every call built from it, and from the batches before
 *       it, has its reply. A failure rewinds the reader to the first batch not wholly answered and
 *       propagates: nothing is skipped, and the next drain sends those records again (idempotently).</li>
 * </ol>
 * One drain at a time (synchronized).
 */
public final class Replayer {
    private static final Logger log = LoggerFactory.getLogger(Replayer.class);
    public static final int DEFAULT_READ_BATCH = 1_000;

    private final ChronicleJournal journal;
    private final RedisGateway gateway;
    private final long dedupeSeconds;
    private final int readBatch;
    private final Meter replayed;
    private final Meter duplicates;
    private final Meter restored;
    private final Meter resent;
    private final Meter carriedMeter;
    private final Set<QueueName> registered = new HashSet<>();
    /**
     * Write-ahead mode: the records past the confirmed prefix whose jobs the last {@link #confirm} found finished (a job
     * still running ahead of them holds the prefix back). A re-send after a Redis restart skips them: they ran.
     */
    private Set<Long> finishedAhead = Set.of();

    public Replayer(ChronicleJournal journal, RedisGateway gateway, long dedupeSeconds, int readBatch,
                    MetricRegistry registry) {
        this.journal = journal;
        this.gateway = gateway;
        this.dedupeSeconds = dedupeSeconds;
        this.readBatch = readBatch;
        this.replayed = registry.meter(MetricNames.REPLAYED);
        this.duplicates = registry.meter(MetricNames.REPLAY_DUPLICATES);
        this.restored = registry.meter(MetricNames.RESTORED);
        this.resent = registry.meter(MetricNames.RESENT);
        this.carriedMeter = registry.meter(MetricNames.JOURNAL_CARRIED);
    }

    /**
     * Replays everything after the replay position.
     *
     * @param guarded false on the recovery path (the circuit is still open), true otherwise
     * @return jobs sent (new plus duplicates; corrupt records skipped are not counted)
     * @throws io.spillway.core.RedisUnavailableException if Redis fails midway (already-sent batches stay
     *     replayed; the rest waits for the next drain)
     */
    public synchronized long drain(boolean guarded) {
        return drainThrough(Long.MAX_VALUE, guarded);
    }

    /** {@link #drain} of the records with an index up to {@code lastIndex} only. */
    public synchronized long drainThrough(long lastIndex, boolean guarded) {
        return drainThrough(lastIndex, guarded, false, 0);
    }

    /**
     * {@code resend}: the records were replayed once already and are sent again because Redis restarted and may
     * have lost them; they count as restored (the ones Redis had lost) and resent, not as replayed or replay
     * duplicates, and the line logged says so.
     */
    private long drainThrough(long lastIndex, boolean guarded, boolean resend, long windowMillis) {
        long start = System.nanoTime();
        Drain d = run(new Drain(lastIndex, guarded, resend, null), start);
        if (resend) {
            logResent(d.sent, d.fresh, d.skipped, windowMillis);
        } else if (d.sent > 0) {
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            // A recovery always says what it replayed. Catching up while connected (jobs spooled behind a backlog)
            // can mean many small drains in a row: those are worth a line only when they are big.
            if (!guarded || d.sent >= QUIET_DRAIN_JOBS) {
                log.info("Replayed {} jobs from journal in {} ms ({} already in Redis, skipped as duplicates)", d.sent, ms,
                        d.sent - d.fresh);
            } else {
                log.debug("Replayed {} jobs from journal in {} ms ({} already in Redis, skipped as duplicates)", d.sent, ms,
                        d.sent - d.fresh);
            }
        }
        return d.sent;
    }

    private void logResent(long sent, long fresh, long skipped, long windowMillis) {
        if ((sent > 0 || skipped > 0) && journal.writeAhead()) {
            log.info("Sent {} jobs not yet confirmed completed again after the Redis restart: {} had been lost and are"
                    + " restored, {} were still there; {} known to have finished were not sent", sent, fresh,
                    sent - fresh, skipped);
        } else if (sent > 0) {
            log.info("Sent {} jobs replayed in the last {} ms again after the Redis restart: {} had been lost and are"
                    + " restored, {} were still there", sent, windowMillis, fresh, sent - fresh);
        }
    }

    /** Streams a drain; on a failure, rewinds the reader to its first batch not wholly answered and propagates. */
    private Drain run(Drain d, long start) {
        try {
            gateway.stream(LuaScript.ENQUEUE, d::next, d::reply, STREAM_DEPTH, d.guarded);
            d.commitFinished();
        } catch (RuntimeException e) {
            d.commitFinished();
            if (!d.pending.isEmpty()) {
                journal.rewind(d.pending.peekFirst().entries);
            }
            if (d.sent > 0) {
                log.info("Replayed {} jobs from journal in {} ms before {}; {} left", d.sent,
                        TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start),
                        e instanceof Stopped ? "the producer closed" : "Redis failed again", journal.backlog());
            }
            throw e;
        }
        return d;
    }

    private volatile boolean stopped;

    /** Thrown into a drain when its producer closes: the drain ends after its calls in flight. */
    public static final class Stopped extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Stopped() {
            super("the producer is closing: replay stopped", null, false, false);
        }
    }

    /**
     * Ends every drain at its next call (its producer closes): what Redis answered is committed, the rest stays in the
     * journal for the next producer on it. A recovery replaying a big backlog otherwise went on writing to Redis and
     * to the journal's positions after close() had returned and released the journal's lock.
     */
    public void stop() {
        stopped = true;
    }

    /** Catch-up drains (guarded, while connected) smaller than this are logged at debug level only. */
    static final int QUIET_DRAIN_JOBS = 1_000;

    /** Calls in flight per drain: Redis runs one while the next is read from the journal and built. */
    static final int STREAM_DEPTH = 3;

    /** Jobs per script call while draining: small enough that Redis starts on a call soon after reading. */
    static final int JOBS_PER_CALL = 250;

    /** A batch read from the journal: committed once every call built from it has its reply, in journal order. */
    private static final class Batch {
        final List<ChronicleJournal.Entry> entries;
        int callsLeft;

        Batch(List<ChronicleJournal.Entry> entries) {
            this.entries = entries;
        }
    }

    private record Tag(Batch batch, int jobs) {
    }

    /** One drain's state: batches read and not yet committed, oldest first, and the calls not yet sent. */
    private final class Drain {
        final long lastIndex;
        final boolean guarded;
        final boolean resend;
        /** A re-send's: when each record first reached Redis, kept as its batch's order on commit; or null (now). */
        final ChronicleJournal.Rewind firstOrder;
        final ArrayDeque<Batch> pending = new ArrayDeque<>();
        final ArrayDeque<RedisGateway.ScriptCall> calls = new ArrayDeque<>();
        long sent;
        long fresh;
        /** Records not sent again because their jobs were known to have finished. */
        long skipped;

        Drain(long lastIndex, boolean guarded, boolean resend, ChronicleJournal.Rewind firstOrder) {
            this.lastIndex = lastIndex;
            this.guarded = guarded;
            this.resend = resend;
            this.firstOrder = firstOrder;
        }

        RedisGateway.ScriptCall next() {
            if (stopped) {
                throw new Stopped();
            }
            while (calls.isEmpty()) {
                List<ChronicleJournal.Entry> entries = journal.read(readBatch, lastIndex);
                if (entries.isEmpty()) {
                    return null;
                }
                Batch b = new Batch(entries);
                pending.addLast(b);
                build(b);
                commitFinished();
            }
            return calls.pollFirst();
        }

        void reply(RedisGateway.ScriptCall call, Object reply) {
            Tag tag = (Tag) call.tag();
            int dups = 0;
            for (int code : EnqueueScript.codes(reply, tag.jobs())) {
                if (code == EnqueueScript.DUPLICATE) {
                    dups++;
                }
            }
            if (resend) {
                restored.mark(tag.jobs() - dups);
                resent.mark(tag.jobs());
            } else {
                replayed.mark(tag.jobs() - dups);
                duplicates.mark(dups);
            }
            fresh += tag.jobs() - dups;
            sent += tag.jobs();
            tag.batch().callsLeft--;
            commitFinished();
        }

        /** Commits, in order, the oldest batches whose calls all have their reply. */
        void commitFinished() {
            while (!pending.isEmpty() && pending.peekFirst().callsLeft == 0) {
                List<ChronicleJournal.Entry> entries = pending.pollFirst().entries;
                journal.commit(entries, firstOrder == null ? -1 : orderOf(firstOrder, entries.get(entries.size() - 1).index()));
            }
        }

        private void build(Batch b) {
            long now = System.currentTimeMillis();
            Set<Long> skip = resend ? finishedAhead : Set.of();
            registerQueues(cut(b.entries, skip, (run, runBytes) -> add(b, run, runBytes, now)), guarded);
            if (!skip.isEmpty()) {
                for (ChronicleJournal.Entry e : b.entries) {
                    skipped += skip.contains(e.index()) ? 1 : 0;
                }
            }
        }

        private void add(Batch b, List<JobRecord> run, List<byte[]> runBytes, long now) {
            calls.addLast(EnqueueScript.call(run.get(0).queue(), run, runBytes, now, dedupeSeconds, new Tag(b, run.size())));
            b.callsLeft++;
        }
    }

    /**
     * The recovery step of a producer, on the still-open circuit, atomically with respect to other
     * drains: if Redis restarted, send again what was replayed within the hold-back window and the recent direct
     * writes, merged in the order they first reached Redis ({@link WriteOrder}): a queue's direct writes and replayed
     * jobs alternate when its producer spooled part of the time; then replay what is in the journal now.
     */
    public synchronized void recover(boolean redisRestarted, RecentWrites recent, long windowMillis) {
        if (redisRestarted) {
            ChronicleJournal.Rewind again = withUnfinished(journal.rewindRecentOrdered());
            unfinished = null;
            List<RecentWrites.Entry> writes = recent.drain();
            // A predecessor's writes (order unknown, at the front) once each, in the order they were accepted. Its sent
            // log holds a write it sent again after a restart twice, and its window may have cut the first copy of one
            // and kept the first of the next: the last copies are in order (a re-send writes them again in order, after
            // every earlier copy); several threads' records can be out of it. A job is a queue and an id.
            int u = 0;
            while (u < writes.size() && writes.get(u).order() == WriteOrder.UNKNOWN) {
                u++;
            }
            if (u > 1) {
                java.util.Map<String, Integer> lastCopy = new java.util.HashMap<>();
                for (int i = 0; i < u; i++) {
                    lastCopy.put(jobKey(writes.get(i).job()), i);
                }
                List<RecentWrites.Entry> once = new ArrayList<>(writes.size());
                for (int i = 0; i < writes.size(); i++) {
                    if (i >= u || lastCopy.get(jobKey(writes.get(i).job())) == i) {
                        once.add(writes.get(i));
                    }
                }
                u -= writes.size() - once.size();
                writes = once;
                writes.subList(0, u).sort(java.util.Comparator.comparing(RecentWrites.Entry::job, ACCEPTED));
            }
            long[] replays = {0, 0, 0}; // sent, restored, skipped
            long[] backlog = {0, 0}; // sent, new in Redis
            long backlogStart = System.nanoTime();
            int[] c = {0, 0};
            long[] lastIndexes = again.lastIndexes();
            long[] orders = again.orders();
            int w = u;
            try {
                resendPredecessors(again, writes, u, replays, backlog, c);
                for (int i = 0, sentUpTo = 0; i <= orders.length; i++) {
                    // The direct writes acknowledged before batch i (all that are left, after the last) go before it; the
                    // batches ahead of them go first. A predecessor's writes (order unknown) were placed just above.
                    int from = w;
                    while (w < writes.size() && (i == orders.length || writes.get(w).order() < orders[i])) {
                        w++;
                    }
                    if (w == from) {
                        continue;
                    }
                    if (i > sentUpTo) {
                        add(replays, resendJournal(lastIndexes[i - 1], again));
                        sentUpTo = i;
                    }
                    add(c, resend(writes.subList(from, w)));
                }
                add(replays, resendJournal(again.before(), again));
            } catch (RuntimeException e) {
                // Kept for the next recovery, which counts as after a restart too (HealthMonitor's restartPending), with
                // the order of the records not sent again yet.
                recent.resent(writes, System.currentTimeMillis());
                unfinished = notSentAgain(again, journal.replayedIndex());
                throw e;
            }
            finishedAhead = Set.of();
            logResent(replays[0], replays[1], replays[2], windowMillis);
            if (backlog[0] > 0) {
                log.info("Replayed {} jobs from journal in {} ms ({} already in Redis, skipped as duplicates)", backlog[0],
                        TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - backlogStart), backlog[0] - backlog[1]);
            }
            if (!writes.isEmpty()) {
                // Kept again: this Redis may lose them as well (its AOF's last second, or a failover before a replica
                // has them).
                recent.resent(writes, System.currentTimeMillis());
                long span = System.currentTimeMillis() - writes.get(0).ackedAtMillis();
                log.info("Sent {} jobs written in the last {} ms again after the Redis restart or failover: {} had been lost and"
                        + " are restored, {} were still there", writes.size(), Math.max(windowMillis, span), c[0], c[1]);
                // Write-ahead: the journal sends every unconfirmed job again. A buffer that never let a write go holds back to
                // this producer's first one: nothing older was lost.
                if (c[1] == 0 && c[0] > 1 && !journal.writeAhead() && recent.droppedAny()) {
                    // Not even the oldest was there: Redis lost more than these, and what it lost before them (a Redis
                    // without persistence restarted empty, or a replica far behind was promoted) is not in memory.
                    log.warn("None of the {} jobs sent again was still in Redis: it lost writes older than {} ms ago as well,"
                            + " which this producer no longer holds (jobs accepted before then may be lost); see"
                            + " docs/guarantees.md for the Redis settings that keep them", writes.size(), Math.max(windowMillis, span));
                }
            }
        } else {
            unfinished = null;
        }
        // Up to what is in the journal now: a producer spooling faster than Redis takes jobs must not keep
        // the circuit open forever. What comes after drains on the replay thread, ahead of new jobs of its queue.
        drainThrough(journal.lastIndex(), false);
    }

    /**
     * A re-send Redis failed in the middle of: the records it had not sent again yet (after the replay position, up to
     * {@code before}), with when they first reached Redis, for the next recovery; or null.
     */
    private ChronicleJournal.Rewind unfinished;

    /** The records of a re-send sent again, up to {@code lastIndex}, each batch committed with its first order. */
    private long[] resendJournal(long lastIndex, ChronicleJournal.Rewind again) {
        Drain d = run(new Drain(lastIndex, false, true, again), System.nanoTime());
        return new long[] {d.sent, d.fresh, d.skipped};
    }

    /**
     * The first part of a successor's re-send (a producer opened on the journal of one that died, the tool's replay):
     * its predecessor's direct writes (the first {@code u} of {@code writes}), whose {@link WriteOrder} died with it,
     * merged with the journal's records by when each job was accepted ({@link #acceptedBefore}), which for calls made
     * one after another is the order they first reached Redis. The journal is walked from the replay position on, not
     * only over what the predecessor had replayed: one that died during its own re-send had moved that position back,
     * so records it replayed before a later direct write are backlog now. Per queue: a write goes before the first
     * record of its queue accepted after it (another queue's records do not cut the journal's calls); once a record
     * is accepted after every write left, those go before it and the walk stops; writes accepted after every record go
     * behind them all. Records past {@code again.before()} (never replayed in this process) count as replayed.
     */
    private void resendPredecessors(ChronicleJournal.Rewind again, List<RecentWrites.Entry> writes, int u,
                                    long[] replays, long[] backlog, int[] c) {
        if (u == 0) {
            return;
        }
        java.util.Map<QueueName, ArrayDeque<Integer>> pending = new java.util.HashMap<>();
        for (int i = 0; i < u; i++) {
            pending.computeIfAbsent(writes.get(i).job().queue(), q -> new ArrayDeque<>()).addLast(i);
        }
        boolean[] placed = new boolean[u];
        int[] latest = {u - 1}; // the latest write not placed yet
        List<Run> runs = new ArrayList<>();
        long[] visited = {Long.MIN_VALUE};
        journal.visit(journal.replayedIndex(), journal.lastIndex(), e -> {
            visited[0] = e.index();
            if (e.job() == null) {
                return true;
            }
            List<Integer> run = new ArrayList<>();
            if (acceptedBefore(writes.get(latest[0]).job(), e.job())) {
                for (int i = 0; i < u; i++) {
                    if (!placed[i]) {
                        run.add(i);
                    }
                }
                latest[0] = -1;
            } else {
                ArrayDeque<Integer> mine = pending.get(e.job().queue());
                while (mine != null && !mine.isEmpty() && acceptedBefore(writes.get(mine.peekFirst()).job(), e.job())) {
                    int i = mine.pollFirst();
                    placed[i] = true;
                    run.add(i);
                }
                while (latest[0] >= 0 && placed[latest[0]]) {
                    latest[0]--;
                }
            }
            if (!run.isEmpty()) {
                runs.add(new Run(e.index() - 1, run));
            }
            return latest[0] >= 0;
        });
        if (latest[0] >= 0) {
            // Accepted after every record there was: behind them all.
            List<Integer> run = new ArrayList<>();
            for (int i = 0; i < u; i++) {
                if (!placed[i]) {
                    run.add(i);
                }
            }
            runs.add(new Run(visited[0] == Long.MIN_VALUE ? journal.replayedIndex() : visited[0], run));
        }
        for (Run r : runs) {
            add(replays, resendJournal(Math.min(r.journalUpTo(), again.before()), again));
            if (r.journalUpTo() > again.before()) {
                Drain d = run(new Drain(r.journalUpTo(), false, false, null), System.nanoTime());
                backlog[0] += d.sent;
                backlog[1] += d.fresh;
            }
            List<RecentWrites.Entry> some = new ArrayList<>(r.writes().size());
            r.writes().forEach(i -> some.add(writes.get(i)));
            add(c, resend(some));
        }
    }

    /** Writes (indexes) to send once the journal is sent up to {@code journalUpTo} (an index). */
    private record Run(long journalUpTo, List<Integer> writes) {
    }

    /**
     * Whether a predecessor's direct write goes before a journal record of the same producer: accepted in an earlier
     * millisecond, or in the same one with two minted ids in that order (one process mints them in order). In the
     * same millisecond otherwise (a caller's id): the write first, as for the two parts of an {@code enqueueAll}, or of a
     * direct write and the next call that spooled, cut by a Redis failure, which is where writes get lost. Not the
     * ids alone: a caller may pass an id it minted ahead of the call.
     */
    static boolean acceptedBefore(JobRecord write, JobRecord record) {
        if (write.enqueuedAt() != record.enqueuedAt()) {
            return write.enqueuedAt() < record.enqueuedAt();
        }
        if (minted(write) && minted(record)) {
            return write.id().value().compareTo(record.id().value()) < 0;
        }
        return true;
    }

    private static boolean minted(JobRecord r) {
        return com.github.f4b6a3.ulid.Ulid.isValid(r.id().value());
    }

    private static String jobKey(JobRecord r) {
        return r.queue().value() + '\n' + r.id().value();
    }

    /** The order a producer's jobs were accepted in, to the millisecond (a stable sort keeps the rest as it was). */
    static final java.util.Comparator<JobRecord> ACCEPTED = java.util.Comparator.comparingLong(JobRecord::enqueuedAt);

    private static void add(int[] to, int[] what) {
        to[0] += what[0];
        to[1] += what[1];
    }

    private static void add(long[] to, long[] what) {
        for (int i = 0; i < to.length; i++) {
            to[i] += what[i];
        }
    }

    /** When the record at {@code index} first reached Redis: its batch's order; -1 (now) past the last batch. */
    static long orderOf(ChronicleJournal.Rewind again, long index) {
        int i = java.util.Arrays.binarySearch(again.lastIndexes(), index);
        if (i < 0) {
            i = -i - 1;
        }
        return i < again.orders().length ? again.orders()[i] : -1;
    }

    /** The batches of {@code again} not wholly sent again once the replay position is {@code replayed}. */
    private static ChronicleJournal.Rewind notSentAgain(ChronicleJournal.Rewind again, long replayed) {
        int i = java.util.Arrays.binarySearch(again.lastIndexes(), replayed);
        int first = i >= 0 ? i + 1 : -i - 1;
        long[] idx = again.lastIndexes();
        return new ChronicleJournal.Rewind(again.before(), java.util.Arrays.copyOfRange(idx, first, idx.length),
                java.util.Arrays.copyOfRange(again.orders(), first, idx.length));
    }

    /**
     * A rewind after a re-send that failed midway: the batches it sent again (committed with their first orders), then
     * those it had not, up to where the failed one was to go.
     */
    private ChronicleJournal.Rewind withUnfinished(ChronicleJournal.Rewind again) {
        ChronicleJournal.Rewind rest = unfinished;
        if (rest == null || rest.before() <= again.before()) {
            return again;
        }
        int keep = again.lastIndexes().length;
        long[] idx = java.util.Arrays.copyOf(again.lastIndexes(), keep + rest.lastIndexes().length);
        long[] ord = java.util.Arrays.copyOf(again.orders(), keep + rest.orders().length);
        int n = keep;
        long last = keep == 0 ? again.before() : again.lastIndexes()[keep - 1];
        for (int i = 0; i < rest.lastIndexes().length; i++) {
            if (rest.lastIndexes()[i] > last) {
                idx[n] = rest.lastIndexes()[i];
                ord[n++] = rest.orders()[i];
            }
        }
        return new ChronicleJournal.Rewind(rest.before(), java.util.Arrays.copyOf(idx, n), java.util.Arrays.copyOf(ord, n));
    }

    /**
     * Sends jobs that were written once already and may have been lost by a restarted Redis, in order,
     * idempotently.
     *
     * @return {new in Redis (restored), already there}
     */
    public synchronized int[] resend(List<RecentWrites.Entry> writes) {
        List<ChronicleJournal.Entry> asEntries = new ArrayList<>(writes.size());
        for (RecentWrites.Entry w : writes) {
            asEntries.add(new ChronicleJournal.Entry(-1, w.job(), w.encoded(), 0));
        }
        List<RedisGateway.ScriptCall> calls = new ArrayList<>();
        long now = System.currentTimeMillis();
        registerQueues(cut(asEntries, Set.of(), (run, runBytes) -> calls.add(
                EnqueueScript.call(run.get(0).queue(), run, runBytes, now, dedupeSeconds, run.size()))), false);
        int[] out = {0, 0};
        java.util.Iterator<RedisGateway.ScriptCall> next = calls.iterator();
        gateway.stream(LuaScript.ENQUEUE, ScriptStream.Source.of(() -> next.hasNext() ? next.next() : null, next::hasNext), (call, reply) -> {
            for (int code : EnqueueScript.codes(reply, (Integer) call.tag())) {
                out[code == EnqueueScript.DUPLICATE ? 1 : 0]++;
            }
        }, STREAM_DEPTH, false);
        restored.mark(out[0]);
        resent.mark(writes.size());
        return out;
    }

    /** What {@link #confirm} found. */
    public enum Confirmation {
        /** Every unconfirmed record it read was confirmed: call again for the next ones (if any are left). */
        MORE,
        /** It stopped at a job not completed yet, or there is nothing left to confirm. */
        DONE,
        /** Redis answered with another run id than {@code runId}: it restarted; nothing was confirmed. */
        RESTARTED
    }

    /**
     * Write-ahead mode: looks up the status records of the oldest records sent and not yet confirmed (up to
     * {@code max}) and confirms, in journal order, those whose job is completed, dead or purged,
     * up to the first that is not. A status record that is gone counts as confirmed (its retention ran out after
     * completion, or a dead letter was purged): the lookups run in one pipeline with {@code INFO server}, so if the
     * Redis answering is not the one with {@code runId} (it restarted, maybe empty) nothing is confirmed.
     *
     * @throws io.spillway.core.RedisUnavailableException if Redis fails
     */
    public synchronized Confirmation confirm(String runId, int max) {
        List<ChronicleJournal.Entry> entries = journal.readUnconfirmed(max);
        if (entries.isEmpty()) {
            return Confirmation.DONE;
        }
        boolean cluster = gateway.connection().cluster();
        Object[] answer = gateway.pipelined(true, p -> {
            // A pipeline has no info(): the raw command, whose reply is the bulk string's bytes. A cluster's pipeline
            // cannot send a command without a key: its masters' run ids are read after the lookups instead (a master
            // that restarted before answering still shows a new run id then).
            Response<Object> info = cluster ? null : p.sendCommand(Protocol.Command.INFO, "server");
            Response<Object> replication = cluster ? null : p.sendCommand(Protocol.Command.INFO, "replication");
            List<Response<String>> states = new ArrayList<>(entries.size());
            for (ChronicleJournal.Entry e : entries) {
                states.add(e.job() == null ? null : p.get(RedisKeys.job(e.job().queue(), e.job().id())));
            }
            return () -> new Object[] {info == null ? null : info.get(), states,
                    replication == null ? null : replication.get()};
        });
        String answeredBy = cluster ? gateway.runId() : answer[0] instanceof byte[] b ? RedisInfo.runId(infoOf(b, answer[2])) : null;
        if (runId == null || !RedisInfo.sameRunId(runId, answeredBy)) {
            return Confirmation.RESTARTED;
        }
        @SuppressWarnings("unchecked")
        List<Response<String>> states = (List<Response<String>>) answer[1];
        boolean[] done = new boolean[entries.size()];
        int lastDone = -1;
        for (int i = 0; i < done.length; i++) {
            Response<String> state = states.get(i);
            String value = state == null ? null : state.get(); // a corrupt record (no lookup) counts as done
            done[i] = value == null || finished(value);
            lastDone = done[i] ? i : lastDone;
        }
        int n = 0;
        int carried = 0;
        while (n < done.length) {
            if (!done[n]) {
                // A job still to run that holds back jobs finished after it: if its file is an hour old (a delayed or
                // very long job), copy it to the end of the journal and go on, so the old file can go.
                ChronicleJournal.Entry e = entries.get(n);
                if (n > lastDone || carried == MAX_CARRIED || !journal.inOldCycle(e.index())) {
                    break;
                }
                try {
                    journal.carry(e);
                } catch (JournalFullException full) {
                    break;
                }
                carried++;
            }
            n++;
        }
        if (carried > 0) {
            carriedMeter.mark(carried);
            log.debug("Journal {}: {} jobs not finished after an hour carried to the end of the journal", journal.dir(),
                    carried);
        }
        journal.confirm(entries.subList(0, n));
        Set<Long> ahead = new HashSet<>();
        for (int i = n; i < done.length; i++) {
            if (done[i]) {
                ahead.add(entries.get(i).index());
            }
        }
        finishedAhead = ahead;
        return n == entries.size() && n == max ? Confirmation.MORE : Confirmation.DONE;
    }

    /** Most records {@link #confirm} carries forward in one call. */
    static final int MAX_CARRIED = 100;

    /** A status record of a job that will not run again by itself: completed, dead, purged or cancelled. */
    private static boolean finished(String status) {
        if (status.isEmpty()) {
            return false;
        }
        JobState s = JobState.ofCode(status.charAt(0));
        return s == JobState.COMPLETED || s == JobState.DEAD || s == JobState.PURGED || s == JobState.CANCELLED;
    }

    /**
     * Cuts entries (one read batch) into enqueue-script calls of one queue each, at most {@link #JOBS_PER_CALL} jobs:
     * each queue's jobs in journal order, and a queue's calls in the order of its jobs. Jobs of different queues are
     * not kept in journal order against each other (the guarantee is per queue), so a journal whose queues interleave
     * job by job (single enqueues to many queues spooled in an outage) still makes full calls, not one per job: 6-8x
     * faster to replay (docs/benchmarks.md, session 14). A call is made when its queue has {@link #JOBS_PER_CALL}
     * jobs, the rest at the end, in the order their queues first appear. Corrupt entries (reported by the journal) and
     * those in {@code skip} are left out.
     *
     * @return the queues of the entries
     */
    private static Set<QueueName> cut(List<ChronicleJournal.Entry> entries, Set<Long> skip,
                                      java.util.function.BiConsumer<List<JobRecord>, List<byte[]>> call) {
        Map<QueueName, List<ChronicleJournal.Entry>> runs = new java.util.LinkedHashMap<>();
        Set<QueueName> queues = new HashSet<>();
        for (ChronicleJournal.Entry e : entries) {
            if (e.job() == null || skip.contains(e.index())) {
                continue;
            }
            QueueName q = e.job().queue();
            queues.add(q);
            List<ChronicleJournal.Entry> run = runs.computeIfAbsent(q, k -> new ArrayList<>());
            run.add(e);
            if (run.size() == JOBS_PER_CALL) {
                emit(runs.remove(q), call);
            }
        }
        for (List<ChronicleJournal.Entry> run : runs.values()) {
            emit(run, call);
        }
        return queues;
    }

    private static void emit(List<ChronicleJournal.Entry> run, java.util.function.BiConsumer<List<JobRecord>, List<byte[]>> call) {
        List<JobRecord> jobs = new ArrayList<>(run.size());
        List<byte[]> bytes = new ArrayList<>(run.size());
        for (ChronicleJournal.Entry e : run) {
            jobs.add(e.job());
            bytes.add(e.encoded());
        }
        call.accept(jobs, bytes);
    }

    /** The queues this replayer has named in {@link RedisKeys#QUEUES}. */
    public synchronized Set<QueueName> registeredQueues() {
        return Set.copyOf(registered);
    }

    private void registerQueues(Set<QueueName> queues, boolean guarded) {
        queues.removeAll(registered);
        if (queues.isEmpty()) {
            return;
        }
        String[] names = queues.stream().map(QueueName::value).toArray(String[]::new);
        if (guarded) {
            gateway.execute(c -> c.sadd(RedisKeys.QUEUES, names));
        } else {
            gateway.executeDirect(c -> c.sadd(RedisKeys.QUEUES, names));
        }
        registered.addAll(queues);
    }

    /** {@code INFO server} (bytes) and {@code INFO replication} (bytes, or null), parsed into one map. */
    private static Map<String, String> infoOf(byte[] server, Object replication) {
        Map<String, String> info = RedisInfo.parse(new String(server, java.nio.charset.StandardCharsets.UTF_8));
        if (replication instanceof byte[] r) {
            info.putAll(RedisInfo.parse(new String(r, java.nio.charset.StandardCharsets.UTF_8)));
        }
        return info;
    }
}
