package io.spillway.backend;

import com.codahale.metrics.Gauge;
import com.codahale.metrics.Meter;
import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.Timer;
import io.spillway.core.Durability;
import io.spillway.core.HealthState;
import io.spillway.core.JobId;
import io.spillway.core.JobState;
import io.spillway.core.JobStatus;
import io.spillway.core.JournalException;
import io.spillway.core.JournalFullException;
import io.spillway.core.JournalLockedException;
import io.spillway.core.MetricNames;
import io.spillway.core.QueueName;
import io.spillway.core.RedisConnection;
import io.spillway.core.RedisUnavailableException;
import io.spillway.core.SpillwayException;
import io.spillway.core.internal.Backoff;
import io.spillway.core.internal.ChronicleJournal;
import io.spillway.core.internal.EnqueueScript;
import io.spillway.core.internal.Failures;
import io.spillway.core.internal.HealthMonitor;
import io.spillway.core.internal.JobCancel;
import io.spillway.core.internal.JobCodec;
import io.spillway.core.internal.JobRecord;
import io.spillway.core.internal.LuaScript;
import io.spillway.core.internal.RedisGateway;
import io.spillway.core.internal.ScriptStream;
import io.spillway.core.internal.RedisKeys;
import io.spillway.core.internal.CancelLog;
import io.spillway.core.internal.RecentWrites;
import io.spillway.core.internal.ReplicaWatch;
import io.spillway.core.internal.SentLog;
import io.spillway.core.internal.Replayer;
import io.spillway.core.internal.StatusRecord;
import io.spillway.core.internal.TickMeter;
import io.spillway.core.internal.TickTimer;
import io.spillway.core.internal.WallClock;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.WeakHashMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.StampedLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a backend embeds to enqueue jobs. An accepted job is never lost: {@code enqueue} returns a
 * {@link Receipt} only once the job is in Redis or in the local journal on disk; otherwise it throws and
 * the job was not accepted.
 *
 * <pre>{@code
 * JobProducer producer = JobProducer.builder()
 *         .redis(URI.create("redis://127.0.0.1:6379"))
 *         .journalDir(Path.of("/var/lib/myapp/spillway"))
 *         .build();
 * Receipt receipt = producer.enqueue("images", "render", payloadBytes);
 * receipt.jobId();      // client-minted, time-ordered, unique
 * receipt.spooled();    // false: in Redis now; true: in the local journal, will be replayed
 * producer.close();     // never loses what it accepted
 * }</pre>
 *
 * <p>Contract:
 * <ul>
 *   <li>While Redis answers, a job goes straight to Redis (one idempotent Lua call).</li>
 *   <li>When Redis fails (refused, reset, timeout, OOM, LOADING, READONLY, MASTERDOWN …) the job is
 *       appended to the journal and the receipt says {@code spooled}. From then on, until a reconnect
 *       loop has confirmed Redis healthy and replayed the journal, every enqueue is a local append
 *       (microseconds; no network wait).</li>
 *   <li>An enqueue waits for Redis at most one socket timeout (default 200 ms) on a pooled connection,
 *       or connect timeout + socket timeout (default 700 ms) when it must open a new connection to a
 *       Redis that does not answer; quick retries happen only within the first socket timeout. Then it
 *       spools.</li>
 *   <li>Order: jobs from this producer to one queue reach Redis in the order enqueue returned (for calls
 *       made one after another); while the journal holds jobs of a queue, new ones go behind them.</li>
 *   <li>Idempotent by job id within the dedupe window: a second enqueue of the same id is a no-op.</li>
 *   <li>Thrown: {@link IllegalArgumentException} for bad input (a job too big for one journal record included,
 *       whether Redis is up or not); {@link JournalFullException} when Redis
 *       cannot take the job and the journal is at its cap; {@link IllegalStateException} after
 *       {@link #close()}; {@link SpillwayException} for anything else. In each case the job was not accepted.</li>
 * </ul>
 * Thread-safe; one instance per process and journal directory. Needs the Chronicle Queue JVM flags
 * (see the README).
 */
public final class JobProducer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(JobProducer.class);
    /**
     * The largest job record the journal holds, frame included ({@link ChronicleJournal#frameBytes}): 16 MiB, Chronicle
     * Queue's largest entry with its default 64 MiB blocks (a record one byte over fails to write, "write failed.
     * Length: 16777208 > writeRemaining: 16777207" for the 16,777,208 bytes of a job in a frame of 16,777,217).
     */
    static final int MAX_RECORD_BYTES = 16 << 20;

    private final Config config;
    private final MetricRegistry registry;
    private final RedisGateway gateway;
    private final ChronicleJournal journal;
    private final Replayer replayer;
    private final RecentWrites recent;
    /**
     * Held (shared) by each direct write, from its look at the circuit until Redis's answer is in {@link #recent} (and
     * by each cancel until it is remembered); taken and released at once by the reconnect loop before each probe, with
     * the circuit open. So a write that saw the circuit closed reaches the master its client was on, never a new
     * master the probe moved the client to (ahead of the re-send: out of order), and is among the recent writes before
     * the recovery re-sends them: a failover noticed by the heartbeat while a call was on its way to the old master
     * lost that job (SentinelFailoverIT, the manual failover, once in CI).
     */
    private final StampedLock directCalls = new StampedLock();
    /** What of this producer's direct writes a replica has confirmed; null if not watched (a cluster, no re-send). */
    private final ReplicaWatch replicaWatch;
    /**
     * The jobs this producer cancelled (oldest first, at most {@link #MAX_RECENT_CANCELS}), cancelled again before the
     * re-send when Redis comes back with a new run id: a Redis that lost its latest writes lost those cancellations with
     * them, and the re-send would bring their jobs back. Kept as the writes are ({@link RecentWrites#redisAlive}): until
     * Redis has been seen up, with the same run id, more than {@link #cancelWindowMillis} after the cancellation, so
     * that they reach as far back as the re-send (which reaches back the window from when Redis was last seen up, not
     * from the recovery: a cancellation made just before an outage longer than the window is still made again).
     * Guarded by itself.
     */
    private final java.util.ArrayDeque<RecentCancel> recentCancels = new java.util.ArrayDeque<>();
    private static final int MAX_RECENT_CANCELS = 10_000;

    /** A cancellation, at {@code atMillis} (epoch ms: the clock of the writes it must outlast). */
    private record RecentCancel(QueueName queue, JobId id, long atMillis) {
    }
    /** Recent direct writes on disk, for a producer started after this one; null with resending off. */
    private final SentLog sentLog;
    /** The cancellations on disk, for a producer started after this one; null with resending off, unless write-ahead. */
    private final CancelLog cancelLog;
    /**
     * A predecessor's last cancellations ({@link #cancelWindowMillis}, from {@link #cancelLog}): made again at the
     * first recovery if Redis restarted since, like its last writes; dropped after it. Guarded by {@link #recentCancels}.
     */
    private List<CancelLog.Entry> predecessorCancels = List.of();
    /** A predecessor's writes older than this are not sent again (completion markers live a day by default). */
    static final long SENT_LOG_MAX_AGE_MILLIS = 60L * 60 * 1000;
    /** How much longer than the re-send window the cancel log keeps a line when it is compacted. */
    private static final long CANCEL_LOG_MARGIN_MILLIS = 10_000;
    private final HealthMonitor monitor;
    private final Set<QueueName> registeredQueues = ConcurrentHashMap.newKeySet();
    private final Meter accepted;
    private final Meter enqueued;
    private final Meter spooled;
    private final Meter rejected;
    private final Meter duplicates;
    private final Timer latency;
    private final Semaphore replaySignal = new Semaphore(0);
    /** The run id of the Redis the last recovery completed with (jobs re-sent if it had restarted); null before. */
    private volatile String recoveredRunId;
    /** Write-ahead: the warning that Redis gives no run id was logged (once per producer). */
    private boolean noRunIdSaid;
    private final Thread replayThread;
    private volatile boolean closed;
    /** Open producers per registry (weak keys: a registry dropped by its owner is forgotten), to warn of a shared one. */
    private static final Map<MetricRegistry, Integer> OPEN_PER_REGISTRY = new WeakHashMap<>();

    private JobProducer(Config config) {
        this.config = config;
        this.registry = config.registry != null ? config.registry : new MetricRegistry();
        // Meters and a timer that take the enqueue's own clock readings (TickMeter): Dropwizard's read the clock
        // at each mark, which was a third of a spooled enqueue's time. The timer's sample is the same forward-decaying
        // one as Dropwizard's default, without its lock: every enqueue updates it, from many threads at once.
        this.accepted = TickMeter.in(registry, MetricNames.ACCEPTED);
        this.enqueued = TickMeter.in(registry, MetricNames.ENQUEUED);
        this.spooled = TickMeter.in(registry, MetricNames.SPOOLED);
        this.rejected = registry.meter(MetricNames.REJECTED);
        this.duplicates = registry.meter(MetricNames.DUPLICATES);
        this.latency = TickTimer.in(registry, MetricNames.ENQUEUE_LATENCY);
        this.journal = ChronicleJournal.open(config.journalDir, config.journalMaxBytes, config.durability, registry, null,
                config.writeAhead ? ChronicleJournal.HOLD_UNTIL_CONFIRMED : config.resendWindow.toMillis(),
                config.journalMinFreeDisk);
        boolean resend = config.resendWindow.toMillis() > 0 && config.resendBufferBytes > 0;
        try {
            // A write-ahead producer needs the sent log for the run id it keeps (a successor must tell whether Redis
            // restarted since), even with the resend window off: nothing is written to Redis directly then.
            this.sentLog = resend ? SentLog.open(config.journalDir, config.durability, config.resendWindow.toMillis(),
                    config.resendBufferBytes) : config.writeAhead ? SentLog.open(config.journalDir, config.durability) : null;
        } catch (RuntimeException e) {
            journal.close();
            throw e;
        }
        try {
            this.cancelLog = resend || config.writeAhead ? CancelLog.open(config.journalDir.resolve(SentLog.DIR),
                    config.durability, cancelWindowMillis() + CANCEL_LOG_MARGIN_MILLIS) : null;
        } catch (RuntimeException e) {
            closeQuietly(sentLog);
            journal.close();
            throw e;
        }
        this.recent = new RecentWrites(config.resendWindow.toMillis(), config.resendBufferBytes, sentLog);
        registry.remove(MetricNames.RESEND_OVERFLOWED);
        registry.register(MetricNames.RESEND_OVERFLOWED, (Gauge<Long>) recent::overflowed);
        List<RecentWrites.Entry> earlier = List.of();
        if (sentLog != null) {
            // A predecessor's last writes: sent again at the first connect if Redis restarted since it wrote them.
            earlier = sentLog.recent(config.resendWindow.toMillis(), SENT_LOG_MAX_AGE_MILLIS,
                    System.currentTimeMillis());
            recent.restore(earlier);
            if (!earlier.isEmpty()) {
                // The window, or longer: writes no replica had confirmed are kept too (SentLog.keepSince).
                long span = Math.max(config.resendWindow.toMillis(),
                        earlier.get(earlier.size() - 1).ackedAtMillis() - earlier.get(0).ackedAtMillis());
                log.info("Journal {}: {} jobs written to Redis in the last {} ms before the previous producer stopped will be"
                        + " sent again if Redis restarted or failed over since (it had run id {})", config.journalDir,
                        earlier.size(), span, sentLog.redisRunId());
            }
        }
        if (cancelLog != null) {
            // A predecessor's last cancellations: made again before its last writes are sent again.
            predecessorCancels = cancelLog.toMakeAgain(earlier, cancelWindowMillis(), SENT_LOG_MAX_AGE_MILLIS,
                    System.currentTimeMillis());
            if (!predecessorCancels.isEmpty()) {
                log.info("Journal {}: {} cancellations made in the last {} ms before the previous producer stopped will be"
                        + " made again if Redis restarted since", config.journalDir, predecessorCancels.size(),
                        cancelWindowMillis());
            }
        }
        try {
            this.gateway = new RedisGateway(config.redis, "producer", Math.max(2, config.poolSize), Duration.ofSeconds(1),
                    registry);
            gateway.proveEnqueueWrites();
        } catch (RuntimeException e) {
            closeQuietly(cancelLog);
            closeQuietly(sentLog);
            journal.close();
            throw e;
        }
        this.replayer = new Replayer(journal, gateway, config.dedupeWindow.toSeconds(), Replayer.DEFAULT_READ_BATCH, registry);
        this.monitor = new HealthMonitor(gateway, new Backoff(config.reconnectBase, config.reconnectCap), this::recover, registry);
        if (recent.enabled() && !config.redis.cluster()) {
            // Past the window, what no replica has confirmed yet: a failover to that replica would lose it.
            // Through Sentinel from the start: the master found may be one just promoted, with no replica in sync yet.
            this.replicaWatch = new ReplicaWatch(since -> {
                recent.keepSince(since);
                journal.keepSince(since);
                if (sentLog != null) {
                    sentLog.keepSince(since); // for a successor, should this process die before a replica has them
                }
            }, config.redis.sentinel());
            monitor.watchReplication(replicaWatch);
        } else {
            this.replicaWatch = null;
        }
        if (sentLog != null) {
            monitor.knownRunId(sentLog.redisRunId());
            if (sentLog.redisRunId() == null && (!earlier.isEmpty()
                    || journal.replayedIndex() != journal.safeToDeleteIndex())) {
                // Writes of a predecessor (a producer that died before it recorded the run id, the tool's replay) to a
                // Redis nobody recorded: if that Redis restarted since, only sending them again keeps them.
                monitor.runIdNotRecorded();
            }
        }
        // Redis up with the same run id: what was written or replayed more than the window before is kept by Redis,
        // and a later restart need not send it again (only the writes of the window before it was last seen up).
        monitor.onAlive(at -> {
            recent.redisAlive(at);
            journal.redisAlive(at);
            forgetCancelsKept(at);
        });
        monitor.writeAhead(config.writeAhead);
        monitor.sendsRecentWritesAgain(true);
        monitor.beforeEachProbe(() -> directCalls.unlockWrite(directCalls.writeLock()));
        monitor.addListener((from, to, cause) -> {
            if (to == HealthState.CONNECTED) {
                replaySignal.release();
            }
        });
        this.replayThread = new Thread(this::replayLoop, "spillway-replay");
        replayThread.setDaemon(true);
        replayThread.start();
        monitor.start();
        try {
            // A healthy Redis and an empty journal: be CONNECTED before the first enqueue. A Redis away: start at once
            // (the first attempt failed), spooling.
            monitor.awaitConnectedOrFailed(config.redis.connectTimeout().plus(config.redis.socketTimeout()).toMillis(),
                    TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        synchronized (OPEN_PER_REGISTRY) {
            if (OPEN_PER_REGISTRY.merge(registry, 1, Integer::sum) > 1) {
                // Its gauges (backlog, state) now read this producer only, while its meters add up both: figures that
                // do not match, and a "nothing lost" sum that comes out wrong.
                log.warn("This MetricRegistry already holds the metrics of another open producer: its gauges now read"
                        + " the producer of journal {} only, its meters count both; give each producer its own registry",
                        config.journalDir);
            }
        }
        if (monitor.state() == HealthState.DISCONNECTED) {
            log.warn("Not connected to Redis at start ({}): enqueues go to the journal {} and are replayed once connected",
                    config.redis.redacted(), config.journalDir);
        }
    }

    /** A builder with every default; {@code redis} and {@code journalDir} are required. */
    public static Builder builder() {
        return new Builder();
    }

    /** Enqueues a job with a minted id, at once. */
    public Receipt enqueue(String queue, String type, byte[] payload) {
        return enqueue(queue, type, payload, EnqueueOptions.NONE);
    }

    /** Enqueues a job with options (caller-chosen id, headers, delay or run-at). */
    public Receipt enqueue(String queue, String type, byte[] payload, EnqueueOptions options) {
        long start = System.nanoTime();
        try {
            JobRecord job = newRecord(queue, type, payload, options, start);
            byte[] encoded = JobCodec.encode(job);
            Receipt r = submit(job, encoded, start, options == null || options.jobIdOrNull() == null);
            TickMeter.mark(accepted, 1, start);
            return r;
        } catch (RuntimeException e) {
            rejected.mark();
            throw e;
        } finally {
            long end = System.nanoTime();
            TickTimer.update(latency, end - start, end);
        }
    }

    /**
     * Enqueues many jobs at once: the fast path for bulk work. Idempotent by job id like {@link #enqueue}. All
     * jobs are validated first: on bad input none is accepted. Receipts come back in input order.
     *
     * <p>Jobs of a queue with nothing in the journal go to Redis as script calls of 100 jobs, streamed (Redis
     * runs one call while the next is built); the order of each queue's jobs is kept, jobs of different queues
     * may be sent in another order. If Redis fails midway, the jobs of the calls it answered keep their direct
     * receipts and the rest are spooled behind them ({@link Receipt#spooled()}); the same id twice in one batch
     * is a duplicate the second time.
     *
     * <p>Room for the whole batch is set aside in the journal before anything is sent, so that Redis failing
     * midway cannot leave half a batch accepted: {@link JournalFullException} means none was accepted. One case
     * is different: a batch bigger than the room left in the journal is still sent while Redis takes it; if Redis
     * then fails midway and the journal cannot take the rest, the exception's message says how many of the batch
     * Redis had taken (those stay accepted). The calls Redis had not answered when it failed may have reached it
     * all the same: enqueue the rest again with caller-chosen ids to stay idempotent. The same message (how many in
     * Redis, how many in the journal) comes if the disk fills up under the room set aside.
     *
     * <p>Memory: the call holds the encoded form of every job of the batch until it returns (about the payloads' size
     * again, on top of the input), so split very large batches; an
     * {@link OutOfMemoryError} midway leaves the calls Redis had answered in Redis, without receipts.
     *
     * @throws IllegalArgumentException for bad input (a null list or job, a bad queue, type or payload, a job too big for
     *     one journal record): none accepted
     * @throws JournalFullException when the journal cannot take the jobs that must spool (see above)
     * @throws IllegalStateException after {@link #close()}
     */
    public List<Receipt> enqueueAll(List<NewJob> jobs) {
        if (closed) {
            throw new IllegalStateException("producer is closed");
        }
        if (jobs == null) {
            throw new IllegalArgumentException("jobs must not be null");
        }
        long start = System.nanoTime();
        Receipt[] out = new Receipt[jobs.size()];
        try {
            Batch batch = new Batch(jobs);
            submitAll(batch, out, start);
            TickMeter.mark(accepted, out.length, start);
            return List.of(out);
        } catch (RuntimeException e) {
            int taken = 0;
            for (Receipt r : out) {
                taken += r == null ? 0 : 1;
            }
            if (taken > 0) {
                TickMeter.mark(accepted, taken, start);
            }
            rejected.mark(out.length - taken);
            throw e;
        } finally {
            long end = System.nanoTime();
            TickTimer.update(latency, end - start, end);
        }
    }

    /**
     * The jobs of one {@code enqueueAll}: all validated up front (bad input: none accepted), each given its
     * id and encoded only when it is sent or spooled, so that this work overlaps Redis running the calls
     * before it.
     */
    private final class Batch {
        final List<NewJob> jobs;
        final QueueName[] queues;
        final JobRecord[] records;
        final byte[][] encoded;
        /** The room all of the batch would take in the journal. */
        long journalBytes;

        Batch(List<NewJob> jobs) {
            this.jobs = jobs;
            int n = jobs.size();
            this.queues = new QueueName[n];
            this.records = new JobRecord[n];
            this.encoded = new byte[n][];
            QueueName last = null;
            for (int i = 0; i < n; i++) {
                NewJob j = jobs.get(i);
                if (j == null) {
                    throw new IllegalArgumentException("jobs must not contain null, but job " + (i + 1) + " of " + n
                            + " was null");
                }
                try {
                    // Usually one queue for the whole batch: validate its name once.
                    queues[i] = last != null && last.value().equals(j.queue()) ? last : validQueue(j.queue());
                    validate(j.type(), j.payload());
                    EnqueueOptions o = j.options() == null ? EnqueueOptions.NONE : j.options();
                    validateSize(queues[i], idLength(o), j.type(), o.headers(), j.payload().length);
                } catch (IllegalArgumentException e) {
                    // In a batch of thousands the caller must be told which job is bad.
                    throw new IllegalArgumentException("job " + (i + 1) + " of " + n + ": " + e.getMessage(), e);
                }
                last = queues[i];
                EnqueueOptions o = j.options() == null ? EnqueueOptions.NONE : j.options();
                journalBytes += ChronicleJournal.frameBytes(
                        JobCodec.encodedLength(idLength(o), queues[i], j.type(), o.headers(), j.payload().length));
            }
        }

        int size() {
            return queues.length;
        }

        JobRecord record(int i) {
            JobRecord r = records[i];
            if (r == null) {
                NewJob j = jobs.get(i);
                EnqueueOptions o = j.options() == null ? EnqueueOptions.NONE : j.options();
                long now = WallClock.millis();
                JobId id = o.jobIdOrNull() != null ? o.jobIdOrNull() : JobId.mint(now);
                r = new JobRecord(id, queues[i], j.type(), j.payload(), o.headers(), 0, now, o.runAtMillis(now));
                records[i] = r;
                encoded[i] = JobCodec.encode(r);
            }
            return r;
        }

        byte[] encoded(int i) {
            record(i);
            return encoded[i];
        }
    }

    /** {@link #enqueueAll(List)} for jobs of one queue and type. */
    public List<Receipt> enqueueAll(String queue, String type, List<byte[]> payloads) {
        if (payloads == null) {
            throw new IllegalArgumentException("payloads must not be null");
        }
        List<NewJob> jobs = new ArrayList<>(payloads.size());
        for (byte[] p : payloads) {
            jobs.add(new NewJob(queue, type, p));
        }
        return enqueueAll(jobs);
    }

    /**
     * What is known of a job: spooled here, queued, delayed, active, retrying, completed or dead, with
     * attempts, the last error and the latest progress its handler reported.
     *
     * @throws RedisUnavailableException if Redis cannot be asked and the job is not in this producer's journal
     */
    public JobStatus status(String queue, String jobId) {
        if (closed) {
            throw new IllegalStateException("producer is closed");
        }
        QueueName q = QueueName.of(queue);
        JobId id = JobId.of(jobId);
        try {
            // One round trip: both keys are in the queue's slot.
            List<String> values = gateway.execute(c -> c.mget(RedisKeys.job(q, id), RedisKeys.progress(q, id)));
            JobStatus s = StatusRecord.decode(id, q, values.get(0));
            if (s.state() != JobState.UNKNOWN) {
                return s.withProgress(values.get(1));
            }
        } catch (RedisUnavailableException e) {
            if (journal.contains(q, id.value())) {
                return spooledStatus(q, id);
            }
            throw e;
        }
        return journal.contains(q, id.value()) ? spooledStatus(q, id) : JobStatus.unknown(id, q);
    }

    /**
     * Cancels a job that has not started, so that no worker runs it: a queued, delayed or retrying job, or one still
     * spooled in a producer's journal (this one's or another's: its replay skips it). The job is dropped by the
     * worker that fetches it next (a delayed one when it falls due), without running it. Cancelling again is
     * harmless.
     *
     * <p>A job a worker holds (fetched: running, or waiting in the worker for a thread) is asked to stop
     * ({@link JobState#CANCEL_REQUESTED}): the worker learns it at its next lease renewal (a third of the lease, 10 s
     * by default); a job still waiting is then dropped unrun, a running handler sees {@code Job.cancelRequested()} and
     * may stop; the job is not retried, dead-lettered or handed back, and a run that succeeds all the same completes
     * it. A job that has ended is not changed: the call returns its state ({@code COMPLETED}, {@code DEAD},
     * {@code PURGED}). An id Redis does not know is cancelled too (its job may be spooled somewhere), for 24 hours.
     * When Redis comes back with a new run id (a restart that may have lost its latest writes, a failover), this
     * producer cancels again what it cancelled within its re-send window, before it re-sends the jobs of that window.
     * While a job is cancelled, an enqueue of its id is a duplicate (it does nothing), as for any id Redis remembers.
     *
     * @return the job's status after the call: {@link JobState#CANCELLED} when it will not run,
     *     {@link JobState#CANCEL_REQUESTED} when a worker holds it
     * @throws IllegalArgumentException if {@code queue} or {@code jobId} is not valid
     * @throws RedisUnavailableException if Redis could not be reached or did not answer in time: the job may or may
     *     not be cancelled (a call that timed out may have reached Redis); repeat the call, which is idempotent
     */
    public JobStatus cancel(String queue, String jobId) {
        if (closed) {
            throw new IllegalStateException("producer is closed");
        }
        QueueName q = QueueName.of(queue);
        JobId id = JobId.of(jobId);
        long stamp = directCalls.readLock();
        try {
            JobStatus s = JobCancel.cancel(gateway, q, id, false);
            if (s.state() == JobState.CANCELLED || s.state() == JobState.CANCEL_REQUESTED) {
                log.debug("Job {} of queue {}: {}", id, q, s.state());
                if (cancelLog != null) {
                    cancelLog.append(q, id, System.currentTimeMillis());
                }
                remember(new RecentCancel(q, id, System.currentTimeMillis()));
            }
            return s;
        } finally {
            directCalls.unlockRead(stamp);
        }
    }

    /** {@link #cancel(String, String)} of a receipt's job. */
    public JobStatus cancel(Receipt receipt) {
        if (receipt == null) {
            throw new IllegalArgumentException("receipt must not be null");
        }
        return cancel(receipt.queue(), receipt.jobId());
    }

    /** {@link #status(String, String)} of a receipt's job. */
    public JobStatus status(Receipt receipt) {
        if (receipt == null) {
            throw new IllegalArgumentException("receipt must not be null");
        }
        return status(receipt.queue(), receipt.jobId());
    }

    private static JobStatus spooledStatus(QueueName q, JobId id) {
        return new JobStatus(id, q, JobState.SPOOLED, 0, Optional.empty(), Optional.empty());
    }

    /** The connection state: CONNECTED, DISCONNECTED (spooling), RECOVERING (replaying), or CLOSED after {@link #close()}. */
    public HealthState state() {
        return monitor.state();
    }

    /** Jobs in the local journal waiting for replay. */
    public long journalBacklog() {
        return journal.backlog();
    }

    /** The registry this producer's metrics are in (the one given to the builder, or its own). */
    public MetricRegistry metrics() {
        return registry;
    }

    /** This producer's configuration. */
    public Config config() {
        return config;
    }

    /**
     * Stops the producer. Enqueues already running finish first (their callers get receipts; a call after close, or one
     * that raced it, gets {@link IllegalStateException}). Jobs still in the journal stay there, on disk, and are
     * replayed by the next producer opened on the same directory; if Redis is connected, close first tries to replay
     * them. Then it waits, at most 3 s, until Redis keeps the jobs written in the last resend window, which no one
     * sends again once this producer is gone: its AOF buffer written to its file (one INFO round trip, usually) and, for
     * a Redis with replicas, a replica's confirmation (about a second: replicas acknowledge once a second). If that does
     * not come, a WARN says so; those jobs are then re-sent only by a producer opened on this journal directory.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return; // closed already (a second caller waits for the first to finish)
        }
        closed = true;
        // The enqueues already past their closed check finish first (each holds directCalls while it may write to
        // Redis): their callers get receipts, not a closed gateway's or journal's failure.
        directCalls.unlockWrite(directCalls.writeLock());
        replayThread.interrupt();
        try {
            replayThread.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (monitor.state() == HealthState.CONNECTED && journal.backlog() > 0) {
            try {
                replayer.drain(true);
            } catch (RuntimeException e) {
                log.debug("final replay stopped: {}", e.getMessage());
            }
        }
        awaitRecentWritesKept();
        replayer.stop(); // a recovery replaying a backlog ends at its next call, before the journal closes
        monitor.close();
        gateway.close();
        long left = journal.backlog();
        journal.close();
        closeQuietly(cancelLog);
        closeQuietly(sentLog);
        synchronized (OPEN_PER_REGISTRY) {
            OPEN_PER_REGISTRY.computeIfPresent(registry, (r, n) -> n > 1 ? n - 1 : null);
        }
        if (left > 0) {
            log.info("Producer closed with {} jobs in journal {}: they replay when a producer opens it again", left,
                    config.journalDir);
        }
    }

    /** The longest {@link #close()} waits for Redis to keep this producer's last direct writes. */
    static final long CLOSE_KEEP_WAIT_MILLIS = 3_000;

    /**
     * Close: waits (at most {@value #CLOSE_KEEP_WAIT_MILLIS} ms) until Redis keeps the direct writes of the last resend
     * window, which no one re-sends once this producer is gone (unless a producer is opened on its journal): its AOF
     * buffer written to the file (with {@code appendfsync everysec} Redis answers a write it postpones while a slow
     * fsync runs, and a SIGKILL then loses it: a review that killed Redis right after a close saw it), and, for a
     * Redis with replicas, a replica's confirmation ({@link ReplicaWatch}). Usually one INFO round trip; with replicas
     * up to a second or two, their acknowledgement period. Said at WARN if it does not come.
     */
    private void awaitRecentWritesKept() {
        long last = recent.newestMillis();
        if (last == Long.MIN_VALUE || config.redis.cluster() || monitor.state() != HealthState.CONNECTED
                || System.currentTimeMillis() - last > config.resendWindow.toMillis()) {
            return;
        }
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(CLOSE_KEEP_WAIT_MILLIS);
        String why;
        while (true) {
            try {
                long before = System.currentTimeMillis();
                Map<String, String> info = gateway.info("server", "persistence", "replication");
                boolean written = !"1".equals(info.get("aof_enabled")) || "0".equals(info.getOrDefault("aof_buffer_length", "0"));
                if (replicaWatch != null) {
                    replicaWatch.sample(before, info);
                }
                long safe = replicaWatch == null ? Long.MAX_VALUE : replicaWatch.safeBefore();
                boolean replicated = safe == Long.MAX_VALUE || safe > last;
                if (written && replicated) {
                    return;
                }
                why = !written ? "its AOF buffer still held writes" : "no replica had confirmed them";
            } catch (RuntimeException e) {
                why = Failures.describe(e);
                break;
            }
            if (System.nanoTime() - deadline > 0) {
                break;
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                why = "interrupted";
                break;
            }
        }
        log.warn("Producer closed before Redis was known to keep its last direct writes ({}): the jobs written in the last {}"
                + " ms are in journal {} (sent/), and a producer opened on it sends them again if Redis lost them", why,
                config.resendWindow.toMillis(), config.journalDir);
    }

    // ---- internals

    /**
     * {@code tick}: the caller's {@link System#nanoTime()} reading; the job's time (and its minted id's) is derived
     * from it ({@link WallClock}) rather than read again.
     */
    private JobRecord newRecord(String queue, String type, byte[] payload, EnqueueOptions options, long tick) {
        QueueName q = validQueue(queue);
        validate(type, payload);
        EnqueueOptions o = options == null ? EnqueueOptions.NONE : options;
        validateSize(q, idLength(o), type, o.headers(), payload.length);
        long now = WallClock.millis(tick);
        JobId id = o.jobIdOrNull() != null ? o.jobIdOrNull() : JobId.mint(now);
        return new JobRecord(id, q, type, payload, o.headers(), 0, now, o.runAtMillis(now));
    }

    private QueueName validQueue(String queue) {
        if (closed) {
            throw new IllegalStateException("producer is closed");
        }
        return QueueName.of(queue); // null, blank or a bad name: an IllegalArgumentException naming the field
    }

    /** Whether {@link #close()} has begun. */
    boolean isClosed() {
        return closed;
    }

    /** Checks an enqueue's type and payload (also {@link RecurringJobs}'s, when one is added). */
    void validate(String type, byte[] payload) {
        if (type == null) {
            throw new IllegalArgumentException("type must not be null");
        }
        if (type.isBlank()) {
            throw new IllegalArgumentException("type must not be blank, but was '" + type + "'");
        }
        if (type.length() > 200) {
            throw new IllegalArgumentException("type must be at most 200 characters, but was " + type.length());
        }
        for (int i = 0; i < type.length(); i++) {
            if (Character.isISOControl(type.charAt(i))) {
                // A type is matched to a handler and printed in logs and tools: a newline or a NUL in it is a bug.
                throw new IllegalArgumentException("type must not contain control characters, but was '"
                        + type.replaceAll("\\p{Cntrl}", "?") + "' (character " + i + " is U+"
                        + String.format("%04X", (int) type.charAt(i)) + ")");
            }
        }
        if (payload == null) {
            throw new IllegalArgumentException("payload must not be null");
        }
        if (payload.length > config.maxPayloadBytes) {
            throw new IllegalArgumentException("payload must be at most " + config.maxPayloadBytes + " bytes, but was "
                    + payload.length);
        }
    }

    /** The length of the job id {@code o} sets, or of a minted one. */
    private static int idLength(EnqueueOptions o) {
        return o.jobIdOrNull() != null ? o.jobIdOrNull().value().length() : JobId.MINTED_LENGTH;
    }

    /**
     * Checks that a job (valid by {@link #validate}, with valid headers) fits one journal record, {@link
     * #MAX_RECORD_BYTES}. A bigger one could not spool while Redis is down, so it is refused while Redis is up too:
     * whether a job is taken never depends on Redis's health. Arithmetic on lengths, on every enqueue: the headers are
     * measured only if their count allows a record near the limit (never with the default {@code maxPayloadBytes}).
     * Also {@link RecurringJobs}'s, when one is added.
     *
     * @param idLength the length of the job's id (ids are ASCII)
     */
    void validateSize(QueueName queue, int idLength, String type, Map<String, String> headers, int payloadLength) {
        // JobCodec's fixed fields, with at most 3 UTF-8 bytes per char of the type and the most bytes per header.
        long most = ChronicleJournal.frameBytes(payloadLength) + 33L + idLength + queue.value().length() + 3L * type.length()
                + headers.size() * (4L + 2L * EnqueueOptions.MAX_HEADER_BYTES);
        if (most <= MAX_RECORD_BYTES) {
            return;
        }
        long record = ChronicleJournal.frameBytes(JobCodec.encodedLength(idLength, queue, type, headers, payloadLength));
        if (record > MAX_RECORD_BYTES) {
            long headerBytes = record - ChronicleJournal.frameBytes(
                    JobCodec.encodedLength(idLength, queue, type, Map.of(), payloadLength));
            throw new IllegalArgumentException("job must fit one journal record of at most " + MAX_RECORD_BYTES
                    + " bytes (16 MiB), but was " + record + " bytes: payload " + payloadLength + " bytes, " + headers.size()
                    + " headers " + headerBytes + " bytes; make the payload or the headers smaller");
        }
    }

    /**
     * {@code tick}: the caller's {@link System#nanoTime()} reading, for the meters; {@code minted}: the job's id was minted
     * here (no caller-chosen id).
     */
    private Receipt submit(JobRecord job, byte[] encoded, long tick, boolean minted) {
        if (!config.writeAhead) {
            long stamp = directCalls.readLock();
            try {
                if (closed) {
                    throw new IllegalStateException("producer is closed"); // close() began while this call started
                }
                Receipt direct = submitDirect(job, encoded, tick, minted);
                if (direct != null) {
                    return direct;
                }
            } finally {
                directCalls.unlockRead(stamp);
            }
        }
        return spool(job, encoded, tick);
    }

    /** The job written to Redis, if the circuit is closed and its queue has no backlog; null if it must spool. */
    private Receipt submitDirect(JobRecord job, byte[] encoded, long tick, boolean minted) {
        if (!gateway.isOpen() && journal.backlog(job.queue()) == 0) {
            try {
                register(job.queue());
                long now = System.currentTimeMillis();
                RedisGateway.ScriptCall call = EnqueueScript.call(job.queue(), List.of(job), List.of(encoded),
                        now, config.dedupeWindow.toSeconds());
                // The sent log record is written while Redis runs the script, off the caller's clock (a
                // Chronicle append with cold caches after each round trip cost about 10 % of the enqueue rate,
                // and threads queued on its lock cost more), and is on disk before enqueue returns, as a
                // successor needs. Once per job, even if a stale connection makes the gateway try again.
                SentLog.Pending[] recorded = new SentLog.Pending[1];
                Object reply = gateway.evalWhileWaiting(LuaScript.ENQUEUE, call.keys(), call.args(), () -> {
                    if (recorded[0] == null) {
                        recorded[0] = recent.record(encoded, now);
                    }
                });
                boolean dup = duplicate(EnqueueScript.codes(reply, 1)[0], minted);
                Instant at = Instant.now();
                recent.remember(job, encoded, at.toEpochMilli(), recorded[0]);
                TickMeter.mark(enqueued, 1, tick);
                if (dup) {
                    duplicates.mark();
                }
                return new Receipt(job.id().value(), job.queue().value(), false, dup, at);
            } catch (RedisUnavailableException e) {
                // Spool. The gateway has opened the circuit and told the reconnect loop.
            } catch (SpillwayException e) {
                refusedOrThrow(e);
            }
        }
        return null;
    }

    /** Fills {@code out} with the batch's receipts, in input order. */
    private void submitAll(Batch batch, Receipt[] out, long tick) {
        if (config.writeAhead) {
            submitAllHeld(batch, out, tick);
            return;
        }
        // Held while the rest spools too: simpler, and the reconnect loop waits at most that long.
        long stamp = directCalls.readLock();
        try {
            if (closed) {
                throw new IllegalStateException("producer is closed"); // close() began while this call started
            }
            submitAllHeld(batch, out, tick);
        } finally {
            directCalls.unlockRead(stamp);
        }
    }

    /** {@link #submitAll}, with {@link #directCalls} held if direct writes are possible. */
    private void submitAllHeld(Batch batch, Receipt[] out, long tick) {
        int n = batch.size();
        // A queue goes direct only if it had no backlog when the batch started: then all its jobs of this
        // batch go one way, and their order holds.
        Map<QueueName, Boolean> direct = new HashMap<>();
        // Write-ahead: every job goes to the journal first, and from there to Redis (the replay thread).
        boolean open = gateway.isOpen() || config.writeAhead;
        for (QueueName q : batch.queues) {
            direct.computeIfAbsent(q, x -> !open && journal.backlog(x) == 0);
        }
        List<Integer> directIdx = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            if (direct.get(batch.queues[i])) {
                directIdx.add(i);
            }
        }
        ChronicleJournal.Reservation room = null;
        try {
            room = journal.reserve(batch.journalBytes);
        } catch (JournalFullException full) {
            if (directIdx.size() < n) {
                throw full; // some of the batch must spool now: none of it is accepted
            }
            // All of it goes to Redis, up as far as this producer knows: send it without room set aside (what
            // Redis does not take then spools only if all of that fits).
        }
        try {
            submitAll(batch, out, tick, directIdx, room);
        } catch (JournalFullException e) {
            int inRedis = 0;
            int inJournal = 0;
            for (Receipt r : out) {
                if (r != null) {
                    inJournal += r.spooled() ? 1 : 0;
                    inRedis += r.spooled() ? 0 : 1;
                }
            }
            if (inRedis + inJournal == 0) {
                throw e;
            }
            // Either Redis failed midway through a batch bigger than the room left in the journal, or the disk
            // filled up under the room set aside: say exactly which jobs are accepted.
            int rest = n - inRedis - inJournal;
            throw new JournalFullException("enqueueAll of " + n + " jobs stopped midway: " + (inRedis + inJournal)
                    + " of them were accepted (" + inRedis + " in Redis, " + inJournal + " in the journal), the other "
                    + rest + " were not, though up to " + Math.min(rest, BATCH_CALL_JOBS * BATCH_STREAM_DEPTH)
                    + " of those (the calls Redis had not answered) may have reached Redis: " + e.getMessage(), e);
        } finally {
            if (room != null) {
                room.close();
            }
        }
    }

    private void submitAll(Batch batch, Receipt[] out, long tick, List<Integer> directIdx, ChronicleJournal.Reservation room) {
        int n = batch.size();
        if (!directIdx.isEmpty()) {
            try {
                QueueName last = null;
                for (int i : directIdx) {
                    if (batch.queues[i] != last) {
                        last = batch.queues[i];
                        register(last);
                    }
                }
                streamDirect(batch, byQueue(batch.queues, directIdx), out);
            } catch (RedisUnavailableException e) {
                // The jobs without a receipt spool below, behind the ones Redis took. Those of the call that
                // failed may have been applied: their replay is idempotent.
            } catch (SpillwayException e) {
                refusedOrThrow(e); // then as above
            }
        }
        ChronicleJournal.Reservation forRest = room;
        if (forRest == null) {
            // Sent without room set aside, and Redis did not take all of it: the rest spools only if all of it fits.
            long rest = 0;
            for (int i = 0; i < n; i++) {
                rest += out[i] == null ? ChronicleJournal.frameBytes(batch.encoded(i).length) : 0;
            }
            if (rest == 0) {
                return;
            }
            forRest = journal.reserve(rest);
        }
        try {
            for (int i = 0; i < n; i++) {
                if (out[i] == null) {
                    out[i] = spool(batch.record(i), batch.encoded(i), tick, forRest);
                }
            }
        } finally {
            if (forRest != room) {
                forRest.close();
            }
        }
    }

    /**
     * The indexes grouped by queue, queues in order of first appearance, each queue's jobs in input order: the
     * order a queue keeps is its own, and one call takes jobs of one queue only.
     */
    private static List<Integer> byQueue(QueueName[] queues, List<Integer> idx) {
        Map<QueueName, List<Integer>> groups = new java.util.LinkedHashMap<>();
        for (int i : idx) {
            groups.computeIfAbsent(queues[i], q -> new ArrayList<>()).add(i);
        }
        if (groups.size() == 1) {
            return idx;
        }
        List<Integer> out = new ArrayList<>(idx.size());
        groups.values().forEach(out::addAll);
        return out;
    }

    /** Jobs per script call of {@code enqueueAll}: Redis runs one call while the next is built and sent. */
    private static final int BATCH_CALL_JOBS = 100;
    /** Calls of one {@code enqueueAll} in flight at a time. */
    private static final int BATCH_STREAM_DEPTH = 3;

    /**
     * Sends the jobs at {@code directIdx} (in that order) as streamed script calls of one queue each, and fills
     * {@code out} as the replies come: a job gets its receipt, and goes to the sent log, once Redis took it.
     */
    private void streamDirect(Batch batch, List<Integer> directIdx, Receipt[] out) {
        long now = System.currentTimeMillis();
        long dedupe = config.dedupeWindow.toSeconds();
        int[] next = {0};
        gateway.stream(LuaScript.ENQUEUE, ScriptStream.Source.of(() -> {
            int from = next[0];
            if (from >= directIdx.size()) {
                return null;
            }
            QueueName q = batch.queues[directIdx.get(from)];
            List<JobRecord> run = new ArrayList<>(BATCH_CALL_JOBS);
            List<byte[]> runBytes = new ArrayList<>(BATCH_CALL_JOBS);
            int to = from;
            while (to < directIdx.size() && to - from < BATCH_CALL_JOBS && batch.queues[directIdx.get(to)].equals(q)) {
                int i = directIdx.get(to);
                run.add(batch.record(i));
                runBytes.add(batch.encoded(i));
                to++;
            }
            next[0] = to;
            return EnqueueScript.call(q, run, runBytes, now, dedupe, new int[] {from, to});
        }, () -> next[0] < directIdx.size()), (call, reply) -> {
            int[] range = (int[]) call.tag();
            int n = range[1] - range[0];
            int[] codes = EnqueueScript.codes(reply, n);
            Instant at = Instant.now();
            List<byte[]> sentBytes = new ArrayList<>(n);
            for (int k = 0; k < n; k++) {
                int i = directIdx.get(range[0] + k);
                JobRecord r = batch.record(i);
                sentBytes.add(batch.encoded(i));
                boolean dup = duplicate(codes[k], batch.jobs.get(i).options().jobIdOrNull() == null);
                if (dup) {
                    duplicates.mark();
                }
                out[i] = new Receipt(r.id().value(), r.queue().value(), false, dup, at);
            }
            recent.addAll(sentBytes, at.toEpochMilli());
            TickMeter.mark(enqueued, n, System.nanoTime());
        }, BATCH_STREAM_DEPTH, true);
    }

    /**
     * Whether a job written directly was a duplicate, from the script's {@code code}. Never for an id {@code minted} here:
     * nothing else can have written it, so a duplicate reply means the gateway sent the call again after the first send
     * wrote the job and lost its reply with its connection (before, the receipt then said duplicate).
     */
    private static boolean duplicate(int code, boolean minted) {
        return code == EnqueueScript.DUPLICATE && !minted;
    }

    /**
     * Appends to the journal. The receipt's time is the job's own enqueue time (its record's), which the caller
     * had already read: a spooled enqueue reads the clock as few times as it can (see {@link TickMeter}).
     */
    private Receipt spool(JobRecord job, byte[] encoded, long tick) {
        return spool(job, encoded, tick, null);
    }

    /** {@link #spool(JobRecord, byte[], long)} within room set aside in the journal, if {@code room} is not null. */
    private Receipt spool(JobRecord job, byte[] encoded, long tick, ChronicleJournal.Reservation room) {
        try {
            if (room != null) {
                room.append(job, encoded);
            } else {
                journal.append(job, encoded);
            }
        } catch (JournalException e) {
            if (closed) {
                // The journal closed under a call that raced close(): not accepted, and said as for any call after it.
                throw new IllegalStateException("producer is closed", e);
            }
            throw e;
        }
        TickMeter.mark(spooled, 1, tick);
        if (!gateway.isOpen()) {
            // Spooled behind a backlog while connected: make sure someone drains it.
            replaySignal.release();
        }
        return new Receipt(job.id().value(), job.queue().value(), true, false, Instant.ofEpochMilli(job.enqueuedAt()));
    }

    /**
     * An enqueue that Redis's ACL refused (NOPERM: this user may not run a command the enqueue needs, or touch its
     * keys) is not bad input and not a defect of the job: Redis cannot take it now, so the job spools as in an outage.
     * Opening the circuit makes the jobs after it queue behind it (order) and hands the reconnect loop the ERROR line
     * and the retries, which replay the journal once the permission is granted. Anything else is rethrown.
     */
    private void refusedOrThrow(SpillwayException e) {
        if (!Failures.isPermissionDenied(e)) {
            throw e;
        }
        gateway.markUnavailable(e);
    }

    private void register(QueueName q) {
        if (!registeredQueues.contains(q)) {
            gateway.execute(c -> c.sadd(RedisKeys.QUEUES, q.value()));
            registeredQueues.add(q);
        }
    }

    /** {@link CancelLog#windowMillis}: the re-send window, or at least an hour in the write-ahead mode. */
    private long cancelWindowMillis() {
        return CancelLog.windowMillis(config.writeAhead, config.resendWindow.toMillis(), SENT_LOG_MAX_AGE_MILLIS);
    }

    /** Keeps a cancellation until Redis is known to keep it ({@link #forgetCancelsKept}; nothing when the window is 0). */
    private void remember(RecentCancel c) {
        if (cancelWindowMillis() <= 0) {
            return;
        }
        synchronized (recentCancels) {
            while (recentCancels.size() >= MAX_RECENT_CANCELS) {
                recentCancels.pollFirst();
            }
            recentCancels.addLast(c);
        }
    }

    /**
     * Redis was up, with the same run id, at {@code aliveAtMillis}: the cancellations made more than the window before
     * are Redis's to keep, as the writes of that time are ({@link RecentWrites#keptBefore}: not those no replica has
     * confirmed yet).
     */
    private void forgetCancelsKept(long aliveAtMillis) {
        long before = recent.keptBefore(aliveAtMillis, cancelWindowMillis());
        synchronized (recentCancels) {
            recentCancels.removeIf(c -> c.atMillis() < before);
        }
    }

    /**
     * After Redis came back with a new run id, before the re-send: the cancellations kept ({@link #recentCancels}: as
     * far back as the re-send reaches) and a predecessor's ({@link #predecessorCancels}), made again (a Redis that lost
     * its latest writes lost them too; the re-send would then bring their jobs back, and a worker would run them).
     * Idempotent: a cancellation Redis kept is found and left as it is.
     */
    private void cancelAgain() {
        List<RecentCancel> again = new ArrayList<>();
        List<CancelLog.Entry> predecessor;
        synchronized (recentCancels) {
            predecessor = predecessorCancels;
            for (CancelLog.Entry e : predecessor) {
                again.add(new RecentCancel(e.queue(), e.id(), e.atMillis()));
            }
            again.addAll(recentCancels);
        }
        if (again.isEmpty()) {
            return;
        }
        int lost = 0;
        for (RecentCancel c : again) {
            String before = gateway.executeDirect(j -> j.get(RedisKeys.job(c.queue(), c.id())));
            if (before == null) {
                lost++;
            }
            JobCancel.cancel(gateway, c.queue(), c.id(), true);
        }
        long now = System.currentTimeMillis();
        if (cancelLog != null) {
            // On disk too, as made now, like the writes sent again in the sent log: a successor sends those again if
            // this Redis loses them, and must make their cancellations again with them.
            for (RecentCancel c : again) {
                cancelLog.append(c.queue(), c.id(), now);
            }
        }
        synchronized (recentCancels) {
            if (predecessorCancels == predecessor) {
                predecessorCancels = List.of(); // made again: a failure above leaves them for the next recovery
            }
            // Kept again as made now, like the writes sent again: the Redis that took them may lose them too.
            Set<RecentCancel> made = new HashSet<>(again);
            recentCancels.removeIf(made::contains);
            while (recentCancels.size() + again.size() > MAX_RECENT_CANCELS && !recentCancels.isEmpty()) {
                recentCancels.pollFirst();
            }
            for (RecentCancel c : again.subList(Math.max(0, again.size() - MAX_RECENT_CANCELS), again.size())) {
                recentCancels.addLast(new RecentCancel(c.queue(), c.id(), now));
            }
        }
        log.info("Cancelled {} jobs again after the Redis restart (cancelled here{} within {} ms before Redis was last"
                + " seen up, or since): {} of the cancellations had been lost", again.size(), predecessor.isEmpty() ? ""
                : " or by the producer before this one on its journal", cancelWindowMillis(), lost);
    }

    /** Recovery (on the reconnect loop's thread, circuit still open): replay everything. */
    private void recover() {
        gateway.loadScripts(LuaScript.ENQUEUE, LuaScript.CANCEL);
        if (monitor.redisRestarted()) {
            // Redis may have lost the list of queues with the rest: name every queue this producer has used again, or
            // `spillway status` and the queue gauges would miss them until the next producer process.
            Set<QueueName> known = new HashSet<>(registeredQueues);
            known.addAll(replayer.registeredQueues());
            if (!known.isEmpty()) {
                String[] names = known.stream().map(QueueName::value).toArray(String[]::new);
                gateway.executeDirect(c -> c.sadd(RedisKeys.QUEUES, names));
            }
            cancelAgain();
        } else {
            synchronized (recentCancels) {
                predecessorCancels = List.of(); // Redis kept what the predecessor cancelled
            }
        }
        if (sentLog != null && !monitor.redisRestarted()) {
            // Before the first record is replayed: a successor must be able to tell whether the Redis they went to
            // restarted (with nothing recorded it could not, and would not send them again).
            sentLog.redisRunId(monitor.runId());
        }
        replayer.recover(monitor.redisRestarted(), recent, config.resendWindow.toMillis());
        if (sentLog != null) {
            // After a restart only now: had this process died during the resend, its successor must still see the old
            // run id.
            sentLog.redisRunId(monitor.runId());
        }
        recoveredRunId = monitor.runId();
    }

    private static void closeQuietly(AutoCloseable c) {
        if (c == null) {
            return;
        }
        try {
            c.close();
        } catch (Exception e) {
            log.debug("close failed", e);
        }
    }

    private void replayLoop() {
        long lastConfirm = System.nanoTime();
        while (!closed) {
            try {
                if (config.writeAhead && System.nanoTime() - lastConfirm >= CONFIRM_INTERVAL_NANOS) {
                    lastConfirm = System.nanoTime();
                    confirmCompleted();
                }
                if (!replaySignal.tryAcquire(1, TimeUnit.SECONDS)) {
                    // Idle: keep the journal's current cycle file ready for the next spool (see prepareCycle).
                    journal.prepareCycle();
                    continue;
                }
                replaySignal.drainPermits();
                if (monitor.state() == HealthState.CONNECTED && journal.backlog() > 0) {
                    replayer.drain(true);
                }
            } catch (InterruptedException e) {
                if (closed) {
                    return;
                }
            } catch (RedisUnavailableException e) {
                // The gateway told the reconnect loop; it replays on recovery.
            } catch (RuntimeException e) {
                if (Failures.isPermissionDenied(e)) {
                    // An ACL refusal: the reconnect loop says so and replays once it is granted.
                    gateway.markUnavailable(e);
                } else {
                    log.error("Replay failed (will retry on the next signal): {}", e.getMessage());
                }
            } catch (Error e) {
                // An OutOfMemoryError and the like: this thread must outlive it, or jobs spooled behind a backlog while
                // connected wait for the next outage's recovery (as HealthMonitor's loop does).
                log.error("Replay failed (will retry on the next signal): {}", e.toString());
            }
        }
    }

    /** Write-ahead mode: how often the replay thread looks for jobs whose completion it can confirm. */
    private static final long CONFIRM_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(1);
    /** Write-ahead mode: status records looked up per pipeline, and the most pipelines per look. */
    private static final int CONFIRM_BATCH = 2_000;
    private static final int CONFIRM_ROUNDS = 50;

    /**
     * Write-ahead mode, on the replay thread while connected: lets the journal forget the jobs that completed (or
     * were dead-lettered), oldest first. A Redis that answers with another run id than the one this producer
     * recovered with restarted: the reconnect loop is told, and its recovery sends every unconfirmed job again.
     */
    private void confirmCompleted() {
        // The run id of the Redis this producer last recovered with, i.e. re-sent its unfinished jobs to: not the one
        // last probed, which the reconnect loop updates before the re-send, when a status record that is missing means
        // nothing yet.
        String runId = recoveredRunId;
        if (monitor.state() != HealthState.CONNECTED || journal.unconfirmed() == 0) {
            return;
        }
        if (runId == null) {
            if (!noRunIdSaid) {
                noRunIdSaid = true;
                log.warn("Write-ahead: Redis gave no run id (INFO server refused or without run_id), so a restart cannot be"
                        + " told from a completion: the {} jobs sent stay in journal {} until it does ({})",
                        journal.unconfirmed(), config.journalDir, config.redis);
            }
            return;
        }
        for (int round = 0; round < CONFIRM_ROUNDS && !closed; round++) {
            Replayer.Confirmation c = replayer.confirm(runId, CONFIRM_BATCH);
            if (c == Replayer.Confirmation.RESTARTED) {
                gateway.markUnavailable(new SpillwayException("Redis restarted (new run id)"));
                return;
            }
            if (journal.backlog() > 0) {
                replaySignal.release(); // records carried to the end of the journal: replay them
            }
            if (c == Replayer.Confirmation.DONE) {
                return;
            }
        }
    }

    /** The producer's settings. Immutable. */
    public static final class Config {
        private final RedisConnection redis;
        private final Path journalDir;
        private final long journalMaxBytes;
        private final long journalMinFreeDisk;
        private final Durability durability;
        private final int maxPayloadBytes;
        private final Duration dedupeWindow;
        private final Duration reconnectBase;
        private final Duration reconnectCap;
        private final int poolSize;
        private final MetricRegistry registry;
        private final Duration resendWindow;
        private final long resendBufferBytes;
        private final boolean writeAhead;

        private Config(Builder b) {
            this.writeAhead = b.writeAhead;
            this.resendWindow = b.resendWindow;
            this.resendBufferBytes = b.resendBufferBytes;
            this.redis = b.redis;
            this.journalDir = b.journalDir;
            this.journalMaxBytes = b.journalMaxBytes;
            this.journalMinFreeDisk = b.journalMinFreeDisk;
            this.durability = b.durability;
            this.maxPayloadBytes = b.maxPayloadBytes;
            this.dedupeWindow = b.dedupeWindow;
            this.reconnectBase = b.reconnectBase;
            this.reconnectCap = b.reconnectCap;
            this.poolSize = b.poolSize;
            this.registry = b.registry;
        }

        public RedisConnection redis() {
            return redis;
        }

        public Path journalDir() {
            return journalDir;
        }

        public long journalMaxBytes() {
            return journalMaxBytes;
        }

        /** The free disk space the journal leaves ({@link Builder#journalMinFreeDisk}). */
        public long journalMinFreeDisk() {
            return journalMinFreeDisk;
        }

        public Durability durability() {
            return durability;
        }

        public int maxPayloadBytes() {
            return maxPayloadBytes;
        }

        public Duration dedupeWindow() {
            return dedupeWindow;
        }

        public Duration resendWindow() {
            return resendWindow;
        }

        /** Whether every job is journaled before it is sent and kept until it completes ({@link Builder#writeAhead}). */
        public boolean writeAhead() {
            return writeAhead;
        }
    }

    /**
     * Builds a {@link JobProducer}. Defaults: journal cap {@value #DEFAULT_JOURNAL_MAX_BYTES} bytes,
     * durability {@link Durability#PROCESS_CRASH}, payloads up to {@value #DEFAULT_MAX_PAYLOAD_BYTES} bytes,
     * no dedupe expiry (a job id is remembered while its job exists), reconnect backoff 100 ms doubling to 5 s with full jitter (forever), jobs of the
     * last 5 s (up to 16 MiB) sent again after a Redis restart, write-ahead off, a pool of
     * {@value #DEFAULT_POOL_SIZE} connections, Redis timeouts of {@link RedisConnection}.
     */
    public static final class Builder {
        public static final int DEFAULT_POOL_SIZE = RedisGateway.DEFAULT_POOL_SIZE;
        public static final long DEFAULT_JOURNAL_MAX_BYTES = ChronicleJournal.DEFAULT_MAX_BYTES;
        /** 64 MiB: see {@link #journalMinFreeDisk}. */
        public static final long DEFAULT_JOURNAL_MIN_FREE_DISK = ChronicleJournal.DEFAULT_MIN_FREE_DISK_BYTES;
        public static final int DEFAULT_MAX_PAYLOAD_BYTES = 1 << 20;
        /** The largest {@link #maxPayloadBytes(int)}: 15 MiB, under the journal's 16 MiB per record. */
        public static final int MAX_PAYLOAD_BYTES = 15 << 20;
        /** No expiry at enqueue: a job id is remembered while the job exists, then for the completed retention. */
        public static final Duration DEFAULT_DEDUPE_WINDOW = Duration.ZERO;
        public static final Duration DEFAULT_RECONNECT_BASE = Duration.ofMillis(100);
        public static final Duration DEFAULT_RECONNECT_CAP = Duration.ofSeconds(5);
        public static final Duration DEFAULT_RESEND_WINDOW = Duration.ofSeconds(5);
        public static final long DEFAULT_RESEND_BUFFER_BYTES = 16L << 20;

        private RedisConnection redis;
        private Path journalDir;
        private long journalMaxBytes = DEFAULT_JOURNAL_MAX_BYTES;
        private long journalMinFreeDisk = DEFAULT_JOURNAL_MIN_FREE_DISK;
        private Durability durability = Durability.PROCESS_CRASH;
        private int maxPayloadBytes = DEFAULT_MAX_PAYLOAD_BYTES;
        private Duration dedupeWindow = DEFAULT_DEDUPE_WINDOW;
        private Duration reconnectBase = DEFAULT_RECONNECT_BASE;
        private Duration reconnectCap = DEFAULT_RECONNECT_CAP;
        private int poolSize = DEFAULT_POOL_SIZE;
        private MetricRegistry registry;
        private Duration resendWindow = DEFAULT_RESEND_WINDOW;
        private long resendBufferBytes = DEFAULT_RESEND_BUFFER_BYTES;
        private boolean writeAhead;

        private Builder() {
        }

        /**
         * Write-ahead mode, for a Redis that keeps nothing on disk (no AOF, no RDB: a restart empties it). Off by
         * default. When on, every job is appended to the journal before it is sent, and sent from there by the replay
         * thread (in order, idempotently, pipelined: a millisecond or two later), so every receipt is
         * {@link Receipt#spooled() spooled}. The journal keeps each job until a worker has completed it or
         * dead-lettered it (the producer looks at the jobs' status records about once a second, oldest first); when
         * Redis comes back with a new run id (it restarted, maybe empty) every job not confirmed yet is sent again.
         * So a job is never lost by Redis, at the cost of disk: the journal holds every job not completed yet, and
         * {@link #journalMaxBytes} caps those too (past it, enqueue throws {@link JournalFullException}). Jobs
         * completed before a restart whose completion the producer had not seen yet run again (at-least-once). A
         * delayed or long job keeps its record in the journal until it has run; once it is an hour old and jobs after it
         * have finished, it is copied to the end of the journal so the older file can be deleted. Needs
         * {@link #dedupeWindow} 0, the default.
         */
        public Builder writeAhead(boolean on) {
            this.writeAhead = on;
            return this;
        }

        /**
         * How far back to send jobs again when Redis comes back with a new run id (it restarted). With
         * {@code appendfsync everysec} Redis can lose about two seconds of acknowledged writes in a crash; the
         * jobs written in this window are kept (direct writes in memory, up to {@code bufferBytes}; replayed
         * ones in the journal) and sent again, idempotently. {@code Duration.ZERO} turns it off (for a Redis
         * with {@code appendfsync always}).
         */
        public Builder resendAfterRestart(Duration window, long bufferBytes) {
            if (window == null || window.isNegative() || window.toMillis() > SENT_LOG_MAX_AGE_MILLIS) {
                // A successor producer ignores sent-log writes older than an hour (they may have completed and
                // lost their completion marker since), so a longer window would hold only for a live producer.
                throw new IllegalArgumentException("resend window must be 0 to 1 hour, but was " + window);
            }
            if (bufferBytes < 0) {
                throw new IllegalArgumentException("resend bufferBytes must be >= 0, but was " + bufferBytes);
            }
            this.resendWindow = window;
            this.resendBufferBytes = bufferBytes;
            return this;
        }

        /** Redis to use, with default timeouts ({@code redis://}, {@code rediss://}, {@code user:password@}). */
        public Builder redis(URI uri) {
            this.redis = RedisConnection.of(uri);
            return this;
        }

        /** Redis to use, with chosen timeouts. */
        public Builder redis(RedisConnection connection) {
            if (connection == null) {
                throw new IllegalArgumentException("redis must not be null");
            }
            this.redis = connection;
            return this;
        }

        /** The journal directory: one per producer process (locked while open). Created if missing. */
        public Builder journalDir(Path dir) {
            if (dir == null) {
                throw new IllegalArgumentException("journalDir must not be null");
            }
            this.journalDir = dir;
            return this;
        }

        /**
         * Most bytes of jobs waiting in the journal (and, in the {@link #writeAhead} mode, of jobs sent and not completed
         * yet); past it enqueue throws {@link JournalFullException}.
         */
        public Builder journalMaxBytes(long bytes) {
            if (bytes <= 0) {
                throw new IllegalArgumentException("journalMaxBytes must be > 0, but was " + bytes);
            }
            this.journalMaxBytes = bytes;
            return this;
        }

        /**
         * The free space the journal leaves on its disk; default {@value #DEFAULT_JOURNAL_MIN_FREE_DISK} bytes (64 MiB).
         * A job that must go to the journal (Redis unavailable, or the {@link #writeAhead} mode) and would leave less is
         * not accepted: enqueue throws {@link JournalFullException}, as at {@link #journalMaxBytes}. The journal is a
         * memory-mapped file, and a write into it that the disk cannot hold is not an error the JVM can report at the
         * write: it is a fault (SIGBUS) that surfaces as an {@code InternalError} somewhere later in the thread. The
         * free space is read every 100 ms at most while jobs spool, and whenever the journal's own writes near the limit,
         * so the margin must hold what other processes write to that disk within 100 ms. At least 1 MiB.
         */
        public Builder journalMinFreeDisk(long bytes) {
            if (bytes < (1L << 20)) {
                throw new IllegalArgumentException("journalMinFreeDisk must be >= 1048576 (1 MiB), but was " + bytes);
            }
            this.journalMinFreeDisk = bytes;
            return this;
        }

        public Builder durability(Durability d) {
            if (d == null) {
                throw new IllegalArgumentException("durability must not be null");
            }
            this.durability = d;
            return this;
        }

        /**
         * The largest payload enqueue takes; default {@value #DEFAULT_MAX_PAYLOAD_BYTES} bytes, at most
         * {@value #MAX_PAYLOAD_BYTES} (15 MiB): a journal record holds up to 16 MiB, and a job that Redis takes must
         * be one the journal can take too, or it would be refused only while Redis is away. Redis itself takes
         * up to its {@code proto-max-bulk-len} (512 MiB by default).
         */
        public Builder maxPayloadBytes(int bytes) {
            if (bytes <= 0 || bytes > MAX_PAYLOAD_BYTES) {
                throw new IllegalArgumentException("maxPayloadBytes must be 1 to " + MAX_PAYLOAD_BYTES
                        + " (15 MiB: the journal's largest record is 16 MiB), but was " + bytes);
            }
            this.maxPayloadBytes = bytes;
            return this;
        }

        /**
         * How long after enqueue Redis remembers a job id at most (so a repeated enqueue is a no-op).
         * {@code Duration.ZERO}, the default, sets no expiry: the id is remembered while the job is queued,
         * running, retrying or dead, and for the worker's completed retention (24 h) after it completed. A
         * window bounds the memory of jobs nobody ever runs, at a cost: with it, enqueue does about 40 % more
         * work in Redis (a TTL per job). Redis keeps it in whole seconds: a window with a fraction of a second is
         * rounded up (1.5 s is 2 s).
         */
        public Builder dedupeWindow(Duration window) {
            if (window == null || window.isNegative() || (!window.isZero() && window.compareTo(Duration.ofSeconds(1)) < 0)) {
                throw new IllegalArgumentException("dedupeWindow must be 0 (no expiry) or >= 1 s, but was " + window);
            }
            this.dedupeWindow = window.getNano() == 0 ? window : Duration.ofSeconds(window.getSeconds() + 1);
            return this;
        }

        /** Reconnect backoff: attempt n waits a random time up to min(cap, base * 2^n). */
        public Builder reconnectBackoff(Duration base, Duration cap) {
            Backoff check = new Backoff(base, cap);
            this.reconnectBase = check.base();
            this.reconnectCap = check.cap();
            return this;
        }

        /**
         * Redis connections in the producer's pool; default 16. The pool
         * holds at least 2 whatever is set here: a replay streams on one connection while it registers a new
         * queue on another.
         */
        public Builder poolSize(int size) {
            if (size < 1) {
                throw new IllegalArgumentException("poolSize must be >= 1, but was " + size);
            }
            this.poolSize = size;
            return this;
        }

        public Builder metricRegistry(MetricRegistry r) {
            if (r == null) {
                throw new IllegalArgumentException("metricRegistry must not be null");
            }
            this.registry = r;
            return this;
        }

        /**
         * Opens the journal, starts the reconnect loop and replays anything a previous process left.
         *
         * <p>It blocks while it opens the journal (Chronicle Queue maps its files: about a second on a cold start)
         * and until its first connection attempt has succeeded or failed (with Redis refusing, about a millisecond;
         * with Redis silent, at most the connect timeout plus the socket timeout); a Redis away is not an error: the
         * producer starts and spools (a WARN line names the Redis and the journal).
         *
         * @throws IllegalStateException if redis or journalDir is missing
         * @throws IllegalArgumentException if journalMaxBytes is smaller than maxPayloadBytes, or writeAhead is on with a
         *     dedupeWindow
         * @throws JournalLockedException if another producer holds the journal directory
         */
        /**
         * The socket timeout below which {@link #build} warns for a payload limit: 100 ms and 20 ms per MiB (a payload
         * crosses the network once and is written to the AOF once; 15 MiB: 400 ms). The default 1 MiB needs 120 ms.
         */
        static long suggestedSocketTimeoutMillis(int maxPayloadBytes) {
            return 100 + (long) Math.ceil(maxPayloadBytes / (double) (1 << 20)) * 20;
        }

        public JobProducer build() {
            if (redis == null) {
                throw new IllegalStateException("redis must be set: JobProducer.builder().redis(URI.create(\"redis://host:6379\"))");
            }
            if (journalDir == null) {
                throw new IllegalStateException("journalDir must be set: one local directory per producer process");
            }
            if (writeAhead && !dedupeWindow.isZero()) {
                // A status record that expires while its job still waits would read as finished: the journal would let
                // go of a job Redis may still lose.
                throw new IllegalArgumentException("writeAhead needs dedupeWindow 0 (no expiry), but dedupeWindow was "
                        + dedupeWindow + ": the write-ahead journal keeps each job until its status record says it finished,"
                        + " and a record that expires earlier would read as finished");
            }
            if (journalMaxBytes < maxPayloadBytes) {
                throw new IllegalArgumentException("journalMaxBytes (" + journalMaxBytes + ") must be at least maxPayloadBytes ("
                        + maxPayloadBytes + "): a job of the largest payload allowed could never spool; raise journalMaxBytes"
                        + " or lower maxPayloadBytes");
            }
            long suggested = suggestedSocketTimeoutMillis(maxPayloadBytes);
            if (redis.socketTimeout().toMillis() < suggested) {
                // Not refused: the payloads may all be small. But one near the maximum that times out opens the circuit.
                log.warn("maxPayloadBytes {} with a socketTimeout of {} ms: a payload near the maximum may take longer than"
                        + " that to reach Redis and be answered (15 MiB took up to 198 ms on loopback), and an enqueue that"
                        + " times out opens the circuit, so every queue spools until Redis answers in time; give the"
                        + " RedisConnection a socketTimeout of at least {} ms", maxPayloadBytes,
                        redis.socketTimeout().toMillis(), suggested);
            }
            return new JobProducer(new Config(this));
        }
    }
}
