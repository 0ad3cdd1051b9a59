package io.spillway.core.internal;

import com.codahale.metrics.Meter;
import com.codahale.metrics.MetricRegistry;
import io.spillway.core.MetricNames;
import io.spillway.core.QueueName;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Drains a journal into Redis.
 *
 * <p>What {@link #drain} does, until the journal is empty:
 * <ol>
 *   <li>Read up to {@code readBatch} records after the replay position.</li>
 *   <li>Cut them into enqueue-script calls: runs of one queue, at most {@link EnqueueScript#MAX_JOBS_PER_CALL}
 *       each, in journal order (so a queue's order is kept).</li>
 *   <li>Send every call in one pipeline. The script is idempotent by job id: a job whose first send
 *       timed out but had succeeded is counted as a duplicate, not written twice.</li>
 *   <li>Only then advance the replay position. A failure rewinds the reader and propagates: nothing is
 *       skipped, and the next drain sends the same records again (idempotently).</li>
 * </ol>
 * One drain at a time (synchronized).
 */
public final class Replayer {
    private static final Logger log = LoggerFactory.getLogger(Replayer.class);
    public static final int DEFAULT_READ_BATCH = 5_000;

    private final ChronicleJournal journal;
    private final RedisGateway gateway;
    private final long dedupeSeconds;
    private final int readBatch;
    private final Meter replayed;
    private final Meter duplicates;
    private final Meter restored;
    private final Set<QueueName> registered = new HashSet<>();

    public Replayer(ChronicleJournal journal, RedisGateway gateway, long dedupeSeconds, int readBatch,
                    MetricRegistry registry) {
        this.journal = journal;
        this.gateway = gateway;
        this.dedupeSeconds = dedupeSeconds;
        this.readBatch = readBatch;
        this.replayed = registry.meter(MetricNames.REPLAYED);
        this.duplicates = registry.meter(MetricNames.REPLAY_DUPLICATES);
        this.restored = registry.meter(MetricNames.RESTORED);
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
        long start = System.nanoTime();
        long sent = 0;
        long fresh = 0;
        while (true) {
            List<ChronicleJournal.Entry> batch = journal.read(readBatch, lastIndex);
            if (batch.isEmpty()) {
                break;
            }
            try {
                int[] counts = send(batch, guarded);
                replayed.mark(counts[0]);
                duplicates.mark(counts[1]);
                fresh += counts[0];
                sent += counts[0] + counts[1];
            } catch (RuntimeException e) {
                journal.rewind(batch);
                if (sent > 0) {
                    log.info("Replayed {} jobs from journal in {} ms before Redis failed again; {} left", sent,
                            TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start), journal.backlog());
                }
                throw e;
            }
            journal.commit(batch);
        }
        if (sent > 0) {
            log.info("Replayed {} jobs from journal in {} ms ({} already in Redis, skipped as duplicates)", sent,
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start), sent - fresh);
        }
        return sent;
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
        int[] out = {0, 0};
        for (int from = 0; from < asEntries.size(); from += readBatch) {
            int[] c = send(asEntries.subList(from, Math.min(asEntries.size(), from + readBatch)), false);
            out[0] += c[0];
            out[1] += c[1];
        }
        restored.mark(out[0]);
        return out;
    }

    /** Returns {new, duplicates}. */
    private int[] send(List<ChronicleJournal.Entry> batch, boolean guarded) {
        List<RedisGateway.ScriptCall> calls = new ArrayList<>();
        List<Integer> sizes = new ArrayList<>();
        List<JobRecord> run = new ArrayList<>();
        List<byte[]> runBytes = new ArrayList<>();
        long now = System.currentTimeMillis();
        Set<QueueName> queues = new HashSet<>();
        for (ChronicleJournal.Entry e : batch) {
            if (e.job() == null) {
                continue;
            }
            if (!run.isEmpty() && (!run.get(0).queue().equals(e.job().queue()) || run.size() == EnqueueScript.MAX_JOBS_PER_CALL)) {
                calls.add(EnqueueScript.call(run.get(0).queue(), run, runBytes, now, dedupeSeconds));
                sizes.add(run.size());
                run = new ArrayList<>();
                runBytes = new ArrayList<>();
            }
            run.add(e.job());
            runBytes.add(e.encoded());
            queues.add(e.job().queue());
        }
        if (!run.isEmpty()) {
            calls.add(EnqueueScript.call(run.get(0).queue(), run, runBytes, now, dedupeSeconds));
            sizes.add(run.size());
        }
        if (calls.isEmpty()) {
            return new int[] {0, 0};
        }
        registerQueues(queues, guarded);
        List<Object> replies = gateway.evalPipelined(LuaScript.ENQUEUE, calls, guarded);
        int fresh = 0;
        int dups = 0;
        for (int i = 0; i < replies.size(); i++) {
            for (int code : EnqueueScript.codes(replies.get(i), sizes.get(i))) {
                if (code == EnqueueScript.DUPLICATE) {
                    dups++;
                } else {
                    fresh++;
                }
            }
        }
        return new int[] {fresh, dups};
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
}
