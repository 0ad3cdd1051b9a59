package io.spillway.metrics;

import com.codahale.metrics.Counting;
import com.codahale.metrics.Gauge;
import com.codahale.metrics.Metric;
import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.health.HealthCheck;
import io.spillway.core.MetricNames;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.LongSupplier;

/**
 * Healthy unless jobs are waiting and the workers have not moved for {@link Builder#stallAfter(Duration)
 * stallAfter} (default 2 minutes, {@link #DEFAULT_STALL_AFTER}). "Connected" is not enough: a worker
 * whose fetch loop died, or whose handlers all hang, is connected and useless.
 *
 * <p>Progress is a count that moves whenever a worker does something: by default the sum of
 * {@value MetricNames#FETCHED}, {@value MetricNames#COMPLETED}, {@value MetricNames#FAILED} and
 * {@value MetricNames#LEASE_RENEWALS} (with their per-queue variants), so a single long job whose lease is
 * renewed counts as progress. Waiting is the number of jobs ready in Redis: by default the sum of the
 * {@value MetricNames#QUEUE_DEPTH} gauges that {@link QueueStats} registers. Nothing waiting is never a
 * stall.
 *
 * <p>The check compares what it sees with what it saw at its previous run, so it must run regularly (a
 * {@code /health} scrape, a scheduled health check) to notice a stall. Thread-safe.
 *
 * <pre>{@code
 * healthChecks.register("worker-progress", WorkerProgressHealthCheck.fromRegistry(registry).build());
 * }</pre>
 */
public final class WorkerProgressHealthCheck extends HealthCheck {
    public static final Duration DEFAULT_STALL_AFTER = Duration.ofMinutes(2);
    private static final List<String> PROGRESS = List.of(MetricNames.FETCHED, MetricNames.COMPLETED,
            MetricNames.FAILED, MetricNames.LEASE_RENEWALS);

    private final LongSupplier progress;
    private final LongSupplier waiting;
    private final long stallAfterNanos;
    private final LongSupplier nanoClock;
    private long lastProgress = Long.MIN_VALUE;
    private long lastMovedAt;

    WorkerProgressHealthCheck(Builder b, LongSupplier nanoClock) {
        this.progress = b.progress;
        this.waiting = b.waiting;
        this.stallAfterNanos = b.stallAfter.toNanos();
        this.nanoClock = nanoClock;
    }

    /** From two sources: a count that moves with work done, and the number of jobs waiting. */
    public static Builder builder(LongSupplier progress, LongSupplier waiting) {
        return new Builder(Objects.requireNonNull(progress, "progress must not be null"),
                Objects.requireNonNull(waiting, "waiting must not be null"));
    }

    /** Progress from the worker meters and waiting from the queue gauges of {@code registry}, read at each check. */
    public static Builder fromRegistry(MetricRegistry registry) {
        Objects.requireNonNull(registry, "registry must not be null");
        return builder(() -> sumCounts(registry, PROGRESS), () -> sumGauges(registry, MetricNames.QUEUE_DEPTH));
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

    static long sumGauges(MetricRegistry registry, String family) {
        long sum = 0;
        for (Map.Entry<String, Gauge> e : registry.getGauges().entrySet()) {
            if (inFamily(e.getKey(), List.of(family)) && e.getValue().getValue() instanceof Number n) {
                sum += Math.max(0, n.longValue());
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
        if (p != lastProgress || w <= 0) {
            lastProgress = p;
            lastMovedAt = now;
        }
        long stillFor = now - lastMovedAt;
        ResultBuilder r = Result.builder().withDetail("waiting", w).withDetail("progress", p)
                .withDetail("noProgressForMs", Duration.ofNanos(stillFor).toMillis())
                .withDetail("stallAfterMs", Duration.ofNanos(stallAfterNanos).toMillis());
        if (w > 0 && stillFor > stallAfterNanos) {
            return r.unhealthy().withMessage(w + " jobs waiting and no worker progress for "
                    + Duration.ofNanos(stillFor).toSeconds() + " s").build();
        }
        return r.healthy().withMessage(w > 0 ? "workers making progress, " + w + " jobs waiting" : "no jobs waiting").build();
    }

    /** Thresholds; setters fail fast. */
    public static final class Builder {
        private final LongSupplier progress;
        private final LongSupplier waiting;
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

        public WorkerProgressHealthCheck build() {
            return new WorkerProgressHealthCheck(this, System::nanoTime);
        }

        /** With a clock of our own, for tests. */
        WorkerProgressHealthCheck build(LongSupplier nanoClock) {
            return new WorkerProgressHealthCheck(this, nanoClock);
        }
    }
}
