package io.spillway.backend;

import com.codahale.metrics.Meter;
import io.spillway.core.MetricNames;
import io.spillway.core.QueueName;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Jobs enqueued on a {@link Schedule}, through a {@link JobProducer}: each tick of a recurring job becomes one job, with
 * the job id {@code <name>@<tick>} (for example {@code nightly-report@2026-12-04T02:00:00Z}) and the tick in the header
 * {@value #TICK_HEADER}.
 *
 * <pre>{@code
 * RecurringJobs recurring = RecurringJobs.builder(producer)
 *         .add("nightly-report", Schedule.cron("0 3 * * *", ZoneId.of("Europe/Paris")), "reports", "nightly", new byte[0])
 *         .add("sweep", Schedule.every(Duration.ofMinutes(5)), "maintenance", "sweep", new byte[0])
 *         .build();      // starts its thread
 * recurring.close();     // before producer.close()
 * }</pre>
 *
 * <p>Contract:
 * <ul>
 *   <li>Once per tick, with no leader and no lock: every backend instance may run the same recurring jobs (same names,
 *       same schedules). Each enqueues each tick under the same job id, and the enqueue is idempotent by job id, so the
 *       queue gets the tick once, whichever instance's enqueue comes first; the others get a {@link Receipt#duplicate()
 *       duplicate} receipt. The ids are remembered as long as the job exists, then for the workers' completed retention
 *       (24 hours by default), or for the producer's {@link JobProducer.Builder#dedupeWindow dedupe window} if one is
 *       set.</li>
 *   <li>Through Redis outages: a tick is enqueued like any job, so while Redis is down it is spooled to the producer's
 *       journal and replayed, in order, when Redis is back. A tick is not lost because Redis was away at its time.</li>
 *   <li>Late and missed ticks: a tick is enqueued when it is due and at most {@link Builder#catchUp catchUp} late
 *       (default 1 minute; a catchUp under 1 s acts as 1 s, as the thread wakes a little late): a process that starts,
 *       or a thread that wakes, within that time after a tick still enqueues it (again: a no-op if some instance
 *       already did). Ticks found later than that (no process ran the recurring job at the time) are skipped, counted
 *       in {@value MetricNames#RECURRING_MISSED} and logged; only the latest due tick is ever caught up, never a backlog
 *       of them.</li>
 *   <li>A tick the producer does not accept (Redis down and the journal full: {@link
 *       io.spillway.core.JournalFullException}) is tried again every second while it is within {@code catchUp}, with one
 *       WARN; then it is skipped and counted missed. Bad input cannot get that far: {@link Builder#add} checks the name,
 *       queue, type and payload as {@link JobProducer#enqueue} would, and that each tick's job can be enqueued with its
 *       {@value #TICK_HEADER} header: at most {@link #MAX_HEADERS} headers of the caller's, none of that name, and a
 *       job that fits one journal record.</li>
 *   <li>A tick's job is an ordinary job: {@code producer.status(queue, "nightly-report@2026-12-04T02:00:00Z")} and
 *       {@code cancel} work on it, and a handler reads its tick with {@code job.headers().get("spillway-tick")}.</li>
 * </ul>
 * One daemon thread ({@code spillway-recurring}), which wakes at each tick and at least once a second (so that a wall
 * clock set forward is noticed); between ticks it sends Redis nothing. It does not own the producer: close this first,
 * then the producer (a tick due after the producer closed stops the thread, with an INFO line). Thread-safe.
 */
public final class RecurringJobs implements AutoCloseable {
    /** The header that carries a job's tick, as an ISO-8601 instant ({@link Instant#toString()}). */
    public static final String TICK_HEADER = "spillway-tick";
    /** See {@link Builder#catchUp}. */
    public static final Duration DEFAULT_CATCH_UP = Duration.ofMinutes(1);
    /** The longest {@link Builder#catchUp}. */
    public static final Duration MAX_CATCH_UP = Duration.ofDays(30);
    /** The most headers {@link Builder#add} takes: each tick's job also carries {@value #TICK_HEADER}. */
    public static final int MAX_HEADERS = EnqueueOptions.MAX_HEADERS - 1;
    /** A recurring job's name: it starts each tick's job id, so it has the job id's characters, without {@code @}. */
    public static final Pattern VALID_NAME = Pattern.compile("[A-Za-z0-9._:/+=-]{1,100}");

    private static final Logger log = LoggerFactory.getLogger(RecurringJobs.class);
    private static final long MAX_SLEEP_NANOS = TimeUnit.SECONDS.toNanos(1);
    /**
     * The smallest catchUp in effect: the thread wakes at a tick some microseconds late, and up to a second under
     * load, so a smaller one (0 included) would find every tick too late and skip them all.
     */
    private static final Duration WAKE_SLACK = Duration.ofSeconds(1);
    /** A cron schedule's missed ticks are counted one by one, up to this many per wake-up (69 days of a per-minute one). */
    private static final int MAX_COUNTED_MISSES = 100_000;
    /** The longest tick as text (it is in the job id and the tick header), for the size check of {@link Builder#add}. */
    private static final String LONGEST_TICK = Instant.MAX.toString();

    private final JobProducer producer;
    private final List<Entry> entries;
    private final Duration catchUp;
    private final Meter enqueued;
    private final Meter missed;
    private final Thread thread;
    private volatile boolean closed;

    private RecurringJobs(Builder b) {
        this.producer = b.producer;
        this.entries = List.copyOf(b.entries.values());
        this.catchUp = b.catchUp.compareTo(WAKE_SLACK) < 0 ? WAKE_SLACK : b.catchUp;
        this.enqueued = producer.metrics().meter(MetricNames.RECURRING_ENQUEUED);
        this.missed = producer.metrics().meter(MetricNames.RECURRING_MISSED);
        this.thread = new Thread(this::run, "spillway-recurring");
        thread.setDaemon(true);
    }

    /** A builder of recurring jobs enqueued through {@code producer}. */
    public static Builder builder(JobProducer producer) {
        if (producer == null) {
            throw new IllegalArgumentException("producer must not be null");
        }
        return new Builder(producer);
    }

    /** The names of the recurring jobs, in the order they were added. */
    public List<String> names() {
        return entries.stream().map(e -> e.name).toList();
    }

    /** The next tick of the recurring job {@code name} after now; empty if its schedule has none. */
    public Optional<Instant> nextTick(String name) {
        for (Entry e : entries) {
            if (e.name.equals(name)) {
                return e.schedule.nextTickAfter(Instant.now());
            }
        }
        throw new IllegalArgumentException("no recurring job named '" + name + "'; there are " + names());
    }

    /** Stops the thread (a tick being enqueued is finished first). The producer stays open. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        LockSupport.unpark(thread);
        if (Thread.currentThread() != thread) {
            try {
                thread.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void run() {
        for (Entry e : entries) {
            log.info("Recurring job {}: {} into queue {} (type {}), next tick {}", e.name, e.schedule, e.queue, e.type,
                    e.schedule.nextTickAfter(Instant.now()).map(Instant::toString).orElse("never"));
        }
        while (!closed) {
            Instant now = Instant.now();
            long sleep = MAX_SLEEP_NANOS;
            for (Entry e : entries) {
                try {
                    // The schedule is asked again only once its next tick has come (a cron expression costs
                    // microseconds per question), or while a refused tick is tried again.
                    if (e.nextDue == null || e.pending != null || !now.isBefore(e.nextDue)) {
                        if (!fireIfDue(e, now)) {
                            return;
                        }
                        e.nextDue = e.schedule.nextTickAfter(now).orElse(Instant.MAX);
                    }
                    // A refused tick is tried again at the next wake-up: within a second (MAX_SLEEP_NANOS).
                    if (!e.nextDue.equals(Instant.MAX)) {
                        sleep = Math.min(sleep, Math.max(0, Duration.between(Instant.now(), e.nextDue).toNanos()));
                    }
                } catch (RuntimeException bug) {
                    // Not a refused enqueue (fireIfDue handles those): a defect. The thread goes on with the others.
                    if (!e.failing) {
                        log.error("Recurring job {}: unexpected failure; trying again every second", e.name, bug);
                    }
                    e.failing = true;
                }
            }
            if (sleep > 0 && !closed) {
                LockSupport.parkNanos(this, sleep);
            }
        }
    }

    /**
     * Enqueues {@code e}'s latest due tick if it is within catchUp and not done yet; false once the producer is closed.
     * Each tick is accounted once: enqueued, or counted missed when a later one is tried instead or it is found too late.
     */
    private boolean fireIfDue(Entry e, Instant now) {
        Optional<Instant> latest = e.schedule.lastTickAtOrBefore(now);
        if (latest.isEmpty() || (e.done != null && !latest.get().isAfter(e.done))) {
            return true;
        }
        Instant due = latest.get();
        Duration late = Duration.between(due, now);
        Instant last = e.pending != null ? e.pending : e.done; // the latest tick accounted for or being tried
        long lost = 0;
        if (e.pending == null || due.isAfter(e.pending)) {
            // Ticks between the last one and this one will never be tried; a refused one still pending is given up.
            lost = (last == null ? 0 : countBetween(e.schedule, last, due)) + (e.pending != null ? 1 : 0);
        }
        if (late.compareTo(catchUp) > 0) {
            // At start (nothing done or pending) the latest tick long past is no miss: no process was meant to run it now.
            if (last != null) {
                lost++;
                if (due.equals(e.pending)) {
                    log.warn("Recurring job {}: tick {} not accepted within catchUp {}: skipped", e.name, due, catchUp);
                } else if (e.refusing) {
                    e.missedWhileRefused += lost;
                } else {
                    log.info("Recurring job {}: tick {} found {} late, more than catchUp {}: skipped ({} missed since {})",
                            e.name, due, readable(late), catchUp, lost, last);
                }
            }
            missed.mark(lost);
            e.done = due;
            e.pending = null;
            return true;
        }
        if (lost > 0) {
            if (e.refusing) {
                e.missedWhileRefused += lost; // one line for them all once a tick is accepted again
            } else {
                log.info("Recurring job {}: {} ticks missed since {}; enqueuing the latest, {}", e.name, lost, last, due);
            }
            missed.mark(lost);
        }
        String id = e.name + "@" + due;
        try {
            Receipt r = producer.enqueue(e.queue.value(), e.type, e.payload,
                    EnqueueOptions.builder().jobId(id).headers(e.headers).header(TICK_HEADER, due.toString()).build());
            enqueued.mark();
            if (r.duplicate()) {
                log.debug("Recurring job {}: tick {} was already enqueued (by another instance, or before a restart)",
                        e.name, due);
            } else if (late.compareTo(WAKE_SLACK) > 0) {
                log.info("Recurring job {}: tick {} enqueued {} late (within catchUp {}){}", e.name, due, readable(late), catchUp,
                        r.spooled() ? " (spooled)" : "");
            } else {
                log.debug("Recurring job {}: enqueued tick {} as job {}{}", e.name, due, id, r.spooled() ? " (spooled)" : "");
            }
            if (e.refusing) {
                log.info("Recurring job {}: tick {} accepted again ({} ticks missed while refused)", e.name, due,
                        e.missedWhileRefused);
                e.missedWhileRefused = 0;
            }
            e.done = due;
            e.pending = null;
            e.refusing = false;
            e.failing = false;
        } catch (IllegalStateException closedProducer) {
            log.info("Recurring jobs stopped: their producer is closed (tick {} of {} not enqueued)", due, e.name);
            closed = true;
            return false;
        } catch (RuntimeException refused) {
            // JournalFullException, or another SpillwayException: not accepted; tried again within catchUp.
            if (!e.refusing) {
                log.warn("Recurring job {}: tick {} not accepted ({}); trying again every second, the latest tick each time",
                        e.name, due, refused.getMessage());
            }
            e.pending = due;
            e.refusing = true;
        }
        return true;
    }

    /** {@code PT43M32S} rather than {@code PT43M32.441972362S}: milliseconds under a minute, else seconds. */
    static String readable(Duration d) {
        return d.truncatedTo(d.compareTo(Duration.ofMinutes(1)) < 0 ? ChronoUnit.MILLIS : ChronoUnit.SECONDS).toString();
    }

    /** Ticks strictly between {@code after} and {@code before}. */
    static long countBetween(Schedule s, Instant after, Instant before) {
        return s.ticksBetween(after, before, MAX_COUNTED_MISSES);
    }

    /** One recurring job; its mutable fields are the thread's own. */
    private static final class Entry {
        final String name;
        final Schedule schedule;
        final QueueName queue;
        final String type;
        final byte[] payload;
        final Map<String, String> headers;
        /** Every tick up to this one is accounted for: enqueued, or counted missed. */
        Instant done;
        /** The first tick after the last look at the schedule (Instant.MAX: none); null before the first look. */
        Instant nextDue;
        /** A tick after {@code done} that the producer refused, tried again while it is the latest within catchUp. */
        Instant pending;
        /** Since the first refusal, until a tick is accepted: one WARN for the lot. */
        boolean refusing;
        long missedWhileRefused;
        boolean failing;

        Entry(String name, Schedule schedule, QueueName queue, String type, byte[] payload, Map<String, String> headers) {
            this.name = name;
            this.schedule = schedule;
            this.queue = queue;
            this.type = type;
            this.payload = payload;
            this.headers = headers;
        }
    }

    /** Collects the recurring jobs; {@link #build()} starts them. */
    public static final class Builder {
        private final JobProducer producer;
        private final Map<String, Entry> entries = new LinkedHashMap<>();
        private Duration catchUp = DEFAULT_CATCH_UP;

        private Builder(JobProducer producer) {
            this.producer = producer;
        }

        /** {@link #add(String, Schedule, String, String, byte[], EnqueueOptions)} without headers. */
        public Builder add(String name, Schedule schedule, String queue, String type, byte[] payload) {
            return add(name, schedule, queue, type, payload, EnqueueOptions.NONE);
        }

        /**
         * Adds a recurring job: at each tick of {@code schedule}, a job of {@code type} with {@code payload} (copied now)
         * into {@code queue}. {@code options} may carry headers (copied into each tick's job), at most {@link
         * #MAX_HEADERS}; its job id, delay and run-at are the recurring job's own and must not be set, nor its
         * {@value #TICK_HEADER} header.
         *
         * @throws IllegalArgumentException for a name not matching {@link #VALID_NAME} or already added, a null schedule,
         *     a bad queue, type or payload (as {@link JobProducer#enqueue} says), options with a job id or a run-at, with
         *     more than {@link #MAX_HEADERS} headers or a {@value #TICK_HEADER} header, or a tick's job too big for one
         *     journal record (as {@link JobProducer#enqueue} says)
         */
        public Builder add(String name, Schedule schedule, String queue, String type, byte[] payload,
                           EnqueueOptions options) {
            if (name == null || !VALID_NAME.matcher(name).matches()) {
                throw new IllegalArgumentException("name must match " + VALID_NAME.pattern() + ", but was '" + name + "'");
            }
            if (entries.containsKey(name)) {
                throw new IllegalArgumentException("name '" + name + "' is already a recurring job here");
            }
            if (schedule == null) {
                throw new IllegalArgumentException("schedule must not be null");
            }
            if (options == null) {
                throw new IllegalArgumentException("options must not be null");
            }
            if (options.jobId().isPresent()) {
                throw new IllegalArgumentException("options must not set a job id: a recurring job's id is <name>@<tick>");
            }
            if (options.delayed()) {
                throw new IllegalArgumentException("options must not set a delay or run-at: a recurring job runs at its ticks");
            }
            Map<String, String> headers = options.headers();
            if (headers.size() > MAX_HEADERS) {
                throw new IllegalArgumentException("options must set at most " + MAX_HEADERS + " headers (each tick's job"
                        + " also carries " + TICK_HEADER + "), but set " + headers.size());
            }
            if (headers.containsKey(TICK_HEADER)) {
                throw new IllegalArgumentException("options must not set the header " + TICK_HEADER
                        + " (each tick's job carries its tick in it), but set it to '" + headers.get(TICK_HEADER) + "'");
            }
            QueueName q = QueueName.of(queue);
            producer.validate(type, payload);
            Map<String, String> withTick = new LinkedHashMap<>(headers);
            withTick.put(TICK_HEADER, LONGEST_TICK);
            producer.validateSize(q, name.length() + 1 + LONGEST_TICK.length(), type, withTick, payload.length);
            entries.put(name, new Entry(name, schedule, q, type, payload.clone(), Map.copyOf(options.headers())));
            return this;
        }

        /**
         * How late a tick may be found and still be enqueued; default {@link #DEFAULT_CATCH_UP}, at most
         * {@link #MAX_CATCH_UP}. A process started (say, a deployment) up to this long after a tick enqueues it, so a
         * restart across a tick does not miss it. Keep it under the workers' completed retention (24 hours by default):
         * a tick caught up after its job's record expired runs again. A value under 1 s, 0 included, acts as 1 s: the
         * thread wakes at a tick a little late (more so on a loaded machine), and must still enqueue it; so 0 means
         * "no catch-up after a start" (beyond that second), not "skip every tick".
         */
        public Builder catchUp(Duration d) {
            if (d == null || d.isNegative() || d.compareTo(MAX_CATCH_UP) > 0) {
                throw new IllegalArgumentException("catchUp must be 0 to " + MAX_CATCH_UP + ", but was " + d);
            }
            this.catchUp = d;
            return this;
        }

        /**
         * Starts the thread that enqueues the ticks.
         *
         * @throws IllegalArgumentException if no recurring job was added
         * @throws IllegalStateException if the producer is closed
         */
        public RecurringJobs build() {
            if (entries.isEmpty()) {
                throw new IllegalArgumentException("no recurring job added: add(name, schedule, queue, type, payload)");
            }
            if (producer.isClosed()) {
                throw new IllegalStateException("producer is closed");
            }
            RecurringJobs r = new RecurringJobs(this);
            r.thread.start();
            return r;
        }
    }
}
