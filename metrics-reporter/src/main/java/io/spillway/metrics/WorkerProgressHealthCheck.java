package io.spillway.metrics;

import com.codahale.metrics.Counting;
import com.codahale.metrics.Gauge;
import com.codahale.metrics.Metric;
import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.health.HealthCheck;
import io.spillway.core.MetricNames;
import io.spillway.core.QueueName;
import io.spillway.core.internal.Arguments;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * Healthy unless jobs are waiting and the workers have not moved for {@link Builder#stallAfter(Duration)
 * stallAfter} (default 2 minutes, {@link #DEFAULT_STALL_AFTER}). "Connected" is not enough: a worker
 * whose fetch loop died, or whose handlers all hang, is connected and useless.
 *
 * <p>Progress is a count that moves whenever a worker does something: by default the sum of
 * {@value MetricNames#FETCHED}, {@value MetricNames#COMPLETED}, {@value MetricNames#FAILED} and
 * {@value MetricNames#LEASE_RENEWALS} (with their per-queue variants), so a single long job whose lease is
 * renewed counts as progress. Waiting is the number of jobs ready in Redis that the worker would fetch. Nothing
 * waiting is never a stall.
 *
 * <p>From a registry, waiting is read from the {@value MetricNames#QUEUE_DEPTH}{@code .<queue>} gauges, which the
 * worker registers for its own queues and {@link QueueStats} for every queue of its Redis:
 * <ul>
 *   <li>{@link #fromRegistry(MetricRegistry, Collection)} reads those of the worker's queues only (pass
 *       {@code worker.queues()}): a backlog in another team's queue, read by a {@code QueueStats} in the same
 *       registry, is not this worker's stall. Use it whenever the registry may hold other queues' gauges.
 *   <li>{@link #fromRegistry(MetricRegistry)} sums every such gauge: right only for a registry that holds the
 *       worker's queues alone (a worker with its own registry and no {@code QueueStats}).
 * </ul>
 * Either way the jobs of the worker's paused queues are not counted: an operator's pause
 * ({@value MetricNames#QUEUES_HELD}, {@code Queues.pause}) and a Redis Cluster master that cannot serve a queue
 * ({@value MetricNames#QUEUES_PAUSED}) stop fetching by design, so their jobs wait without a stall. The worker names
 * them with the per-queue variants of those gauges ({@code .<queue>}, 1 while paused): the check leaves out exactly
 * those queues and names them in its message ({@code no jobs waiting (queue images paused: its jobs are not counted)})
 * and in the detail {@code pausedQueueNames}. A registry with the totals only (gauges registered by other code) counts
 * paused queues without naming them: the check then leaves out as many queues as are paused, those with the most jobs
 * waiting, so a pause never reads as a stall, but a stall of the other queues can go unseen while a paused queue is
 * empty. ({@code docs/metrics.md}, "Health checks".)
 *
 * <p>The check compares what it sees with what it saw at its previous run, so it must run regularly (a
 * {@code /health} scrape, a scheduled health check) to notice a stall. Thread-safe.
 *
 * <pre>{@code
 * healthChecks.register("worker-progress",
 *         WorkerProgressHealthCheck.fromRegistry(registry, worker.queues()).build());
 * }</pre>
 */
public final class WorkerProgressHealthCheck extends HealthCheck {
    public static final Duration DEFAULT_STALL_AFTER = Duration.ofMinutes(2);
    private static final List<String> PROGRESS = List.of(MetricNames.FETCHED, MetricNames.COMPLETED,
            MetricNames.FAILED, MetricNames.LEASE_RENEWALS);

    private final LongSupplier progress;
    private final LongSupplier waiting;
    private final Supplier<Paused> paused;
    private final long stallAfterNanos;
    private final LongSupplier nanoClock;
    private long lastProgress = Long.MIN_VALUE;
    private long lastMovedAt;

    WorkerProgressHealthCheck(Builder b, LongSupplier nanoClock) {
        this.progress = b.progress;
        this.waiting = b.waiting;
        this.paused = b.paused;
        this.stallAfterNanos = b.stallAfter.toNanos();
        this.nanoClock = nanoClock;
    }

    /** From two sources: a count that moves with work done, and the number of jobs waiting. */
    public static Builder builder(LongSupplier progress, LongSupplier waiting) {
        return new Builder(Arguments.notNull(progress, "progress"),
                Arguments.notNull(waiting, "waiting"));
    }

    /**
     * Progress from the worker meters and waiting from every queue gauge of {@code registry}, read at each check: for
     * a registry holding the worker's queues alone (see the class comment; else use
     * {@link #fromRegistry(MetricRegistry, Collection)}).
     */
    public static Builder fromRegistry(MetricRegistry registry) {
        Arguments.notNull(registry, "registry");
        return builder(() -> sumCounts(registry, PROGRESS), () -> waitingOutsidePauses(registry, null))
                .pausedFrom(() -> paused(registry, null));
    }

    /**
     * Progress from the worker meters and waiting from the gauges of the worker's own queues, {@code queues}
     * (such as {@code worker.queues()}), read at each check; the registry may hold other queues' gauges too.
     *
     * @throws IllegalArgumentException when {@code queues} is empty or holds an invalid queue name
     */
    public static Builder fromRegistry(MetricRegistry registry, Collection<String> queues) {
        Arguments.notNull(registry, "registry");
        Arguments.notNull(queues, "queues");
        if (queues.isEmpty()) {
            throw new IllegalArgumentException("worker queues must not be empty, but was " + queues);
        }
        Set<String> names = new HashSet<>();
        for (String q : queues) {
            names.add(QueueName.of(q).value());
        }
        return builder(() -> sumCounts(registry, PROGRESS), () -> waitingOutsidePauses(registry, names))
                .pausedFrom(() -> paused(registry, names));
    }

    /**
     * The worker's paused queues: {@code names} (sorted) when the registry names them (the worker's per-queue
     * gauges), with {@code count} their number; else {@code names} empty and {@code count} from the totals.
     */
    record Paused(long count, List<String> names) {
        static final Paused NONE = new Paused(0, List.of());
    }

    /**
     * The paused queues among {@code queues} (every queue when null), by name when the registry has the worker's
     * per-queue pause gauges, else counted from its totals.
     */
    static Paused paused(MetricRegistry registry, Set<String> queues) {
        Set<String> named = pausedByName(registry, queues);
        if (named == null) {
            return new Paused(pausedQueues(registry), List.of());
        }
        return new Paused(named.size(), List.copyOf(named));
    }

    /**
     * The queues among {@code queues} (all when null) whose per-queue {@value MetricNames#QUEUES_HELD} or
     * {@value MetricNames#QUEUES_PAUSED} gauge reads more than 0, sorted; null when the registry has no such gauge (a
     * registry with the totals only cannot tell which queues are paused).
     */
    static Set<String> pausedByName(MetricRegistry registry, Set<String> queues) {
        Set<String> out = null;
        for (Map.Entry<String, Gauge> e : registry.getGauges().entrySet()) {
            String queue = suffix(e.getKey(), MetricNames.QUEUES_HELD);
            if (queue == null) {
                queue = suffix(e.getKey(), MetricNames.QUEUES_PAUSED);
            }
            if (queue == null) {
                continue;
            }
            if (out == null) {
                out = new TreeSet<>();
            }
            if ((queues == null || queues.contains(queue)) && e.getValue().getValue() instanceof Number n && n.longValue() > 0) {
                out.add(queue);
            }
        }
        return out;
    }

    /** The queue of a per-queue variant of {@code family} ({@code family.<queue>}), or null for another name. */
    private static String suffix(String name, String family) {
        return name.length() > family.length() + 1 && name.startsWith(family + ".") ? name.substring(family.length() + 1) : null;
    }

    /**
     * The jobs waiting in the queue gauges of {@code queues} (every queue when null), less those of the queues the
     * worker has paused: left out by name when the registry names them, else (totals only) as many of the fullest
     * as are paused (never a false stall).
     */
    static long waitingOutsidePauses(MetricRegistry registry, Set<String> queues) {
        Set<String> named = pausedByName(registry, queues);
        List<Long> waiting = new ArrayList<>();
        for (Map.Entry<String, Gauge> e : registry.getGauges().entrySet()) {
            String queue = suffix(e.getKey(), MetricNames.QUEUE_DEPTH);
            boolean counted = queue != null && (queues == null || queues.contains(queue))
                    && (named == null || !named.contains(queue));
            if (counted && e.getValue().getValue() instanceof Number n) {
                waiting.add(Math.max(0, n.longValue()));
            }
        }
        waiting.sort(Comparator.reverseOrder());
        long skip = named != null ? 0 : Math.min(waiting.size(), pausedQueues(registry));
        long sum = 0;
        for (int i = (int) skip; i < waiting.size(); i++) {
            sum += waiting.get(i);
        }
        return sum;
    }

    /** The worker's queues paused by an operator or by a Redis Cluster master that cannot serve them; 0 without a worker. */
    static long pausedQueues(MetricRegistry registry) {
        return gaugeValue(registry, MetricNames.QUEUES_HELD) + gaugeValue(registry, MetricNames.QUEUES_PAUSED);
    }

    private static long gaugeValue(MetricRegistry registry, String name) {
        Gauge<?> g = registry.getGauges().get(name);
        return g != null && g.getValue() instanceof Number n ? Math.max(0, n.longValue()) : 0;
    }

    static long sumCounts(MetricRegistry registry, List<String> families) {
        long sum = 0;
        for (Map.Entry<String, Metric> e : registry.getMetrics().entrySet()) {
            if (e.getValue() instanceof Counting c && inFamily(e.getKey(), families)) {
                sum += c.getCount();
            }
        }
        return sum;
    }

    private static boolean inFamily(String name, List<String> families) {
        for (String f : families) {
            if (name.equals(f) || name.startsWith(f + ".")) {
                return true;
            }
        }
        return false;
    }

    @Override
    protected synchronized Result check() {
        long now = nanoClock.getAsLong();
        long p = progress.getAsLong();
        long w = waiting.getAsLong();
        Paused held = paused.get();
        if (p != lastProgress || w <= 0) {
            lastProgress = p;
            lastMovedAt = now;
        }
        long stillFor = now - lastMovedAt;
        ResultBuilder r = Result.builder().withDetail("waiting", w).withDetail("progress", p)
                .withDetail("noProgressForMs", Duration.ofNanos(stillFor).toMillis())
                .withDetail("stallAfterMs", Duration.ofNanos(stallAfterNanos).toMillis());
        String pausedNote = "";
        if (held.count() > 0) {
            r.withDetail("pausedQueues", held.count());
            pausedNote = " (" + held.count() + (held.count() == 1 ? " queue" : " queues") + " paused: their jobs are not counted)";
        }
        if (!held.names().isEmpty()) {
            r.withDetail("pausedQueueNames", held.names());
            pausedNote = " (" + (held.names().size() == 1 ? "queue " : "queues ") + shown(held.names()) + " paused: "
                    + (held.names().size() == 1 ? "its" : "their") + " jobs are not counted)";
        }
        if (w > 0 && stillFor > stallAfterNanos) {
            return r.unhealthy().withMessage(w + " jobs waiting and no worker progress for "
                    + Duration.ofNanos(stillFor).toSeconds() + " s" + pausedNote).build();
        }
        return r.healthy().withMessage((w > 0 ? "workers making progress, " + w + " jobs waiting" : "no jobs waiting")
                + pausedNote).build();
    }

    /** At most {@value #NAMES_SHOWN} queue names for a message, then how many more. */
    private static final int NAMES_SHOWN = 10;

    private static String shown(List<String> names) {
        return names.size() <= NAMES_SHOWN ? String.join(", ", names)
                : String.join(", ", names.subList(0, NAMES_SHOWN)) + " and " + (names.size() - NAMES_SHOWN) + " more";
    }

    /** Thresholds; setters fail fast. */
    public static final class Builder {
        private final LongSupplier progress;
        private final LongSupplier waiting;
        private Supplier<Paused> paused = () -> Paused.NONE;
        private Duration stallAfter = DEFAULT_STALL_AFTER;

        private Builder(LongSupplier progress, LongSupplier waiting) {
            this.progress = progress;
            this.waiting = waiting;
        }

        public Builder stallAfter(Duration d) {
            if (d == null || d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException("worker stallAfter must be > 0, but was " + d);
            }
            this.stallAfter = d;
            return this;
        }

        /** The queues paused, for the details and message (waiting already leaves their jobs out). */
        private Builder pausedFrom(Supplier<Paused> queues) {
            this.paused = queues;
            return this;
        }

        public WorkerProgressHealthCheck build() {
            return new WorkerProgressHealthCheck(this, System::nanoTime);
        }

        /** With a clock of our own, for tests. */
        WorkerProgressHealthCheck build(LongSupplier nanoClock) {
            return new WorkerProgressHealthCheck(this, nanoClock);
        }
    }
}
