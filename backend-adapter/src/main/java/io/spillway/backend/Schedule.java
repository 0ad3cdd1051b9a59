package io.spillway.backend;

import com.cronutils.model.CronType;
import com.cronutils.model.definition.CronDefinitionBuilder;
import com.cronutils.model.time.ExecutionTime;
import com.cronutils.parser.CronParser;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.Optional;

/**
 * When a {@link RecurringJobs recurring job} is due: its ticks, instants that every process computes alike from the
 * schedule alone (no state, no clock of its own), so that several backend instances running the same schedule agree
 * on each tick and enqueue it once between them.
 *
 * <pre>{@code
 * Schedule nightly = Schedule.cron("0 3 * * *", ZoneId.of("Europe/Paris"));   // 03:00 Paris time, every day
 * Schedule sweep = Schedule.every(Duration.ofMinutes(5));                      // 10:00, 10:05, 10:10 ... (UTC)
 * }</pre>
 *
 * Immutable and thread-safe.
 */
public final class Schedule {
    /** The shortest {@link #every} interval. */
    public static final Duration MIN_INTERVAL = Duration.ofMillis(10);
    /**
     * The longest {@link #every} interval: 100 years (36,500 days). Longer ticks are past any deployment, and a
     * {@link RecurringJobs} thread counts its wait for the next tick in nanoseconds, which reach 292 years at most.
     */
    public static final Duration MAX_INTERVAL = Duration.ofDays(36_500);

    private static final CronParser UNIX = new CronParser(CronDefinitionBuilder.instanceDefinitionFor(CronType.UNIX));

    private final long intervalMillis; // 0 for a cron schedule
    private final ExecutionTime cron;  // null for an interval
    private final ZoneId zone;
    private final String text;

    private Schedule(long intervalMillis, ExecutionTime cron, ZoneId zone, String text) {
        this.intervalMillis = intervalMillis;
        this.cron = cron;
        this.zone = zone;
        this.text = text;
    }

    /**
     * Ticks at every multiple of {@code interval} since the epoch (1970-01-01T00:00Z): {@code every(5 minutes)} ticks at
     * :00, :05, :10 ... of each hour, {@code every(1 day)} at midnight UTC, whenever the process started.
     *
     * @throws IllegalArgumentException if {@code interval} is null, shorter than {@link #MIN_INTERVAL} or longer than
     *     {@link #MAX_INTERVAL}
     */
    public static Schedule every(Duration interval) {
        if (interval == null || interval.compareTo(MIN_INTERVAL) < 0) {
            throw new IllegalArgumentException("interval must be at least " + MIN_INTERVAL + ", but was " + interval);
        }
        if (interval.compareTo(MAX_INTERVAL) > 0) {
            // Checked before toMillis(), which throws ArithmeticException past Long.MAX_VALUE ms.
            throw new IllegalArgumentException("interval must be at most " + MAX_INTERVAL + " (100 years), but was "
                    + interval);
        }
        return new Schedule(interval.toMillis(), null, ZoneOffset.UTC, "every " + interval);
    }

    /** {@link #cron(String, ZoneId)} in UTC. */
    public static Schedule cron(String expression) {
        return cron(expression, ZoneOffset.UTC);
    }

    /**
     * Ticks when a standard five-field Unix cron expression matches (minute, hour, day of month, month, day of week;
     * {@code *}, lists, ranges, steps and names such as {@code MON} or {@code JAN}), read in {@code zone}. A time that
     * the zone skips (the hour a daylight-saving change jumps over) has no tick that day.
     *
     * @throws IllegalArgumentException if the expression is null or not a valid five-field cron expression (the
     *     message says why), or {@code zone} is null
     */
    public static Schedule cron(String expression, ZoneId zone) {
        if (expression == null) {
            throw new IllegalArgumentException("cron expression must not be null");
        }
        if (zone == null) {
            throw new IllegalArgumentException("zone must not be null");
        }
        ExecutionTime time;
        try {
            time = ExecutionTime.forCron(UNIX.parse(expression.trim()).validate());
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw new IllegalArgumentException("cron expression '" + expression
                    + "' is not a five-field Unix cron expression (minute hour day-of-month month day-of-week): "
                    + e.getMessage(), e);
        }
        return new Schedule(0, time, zone, "cron '" + expression.trim() + "' (" + zone.getId() + ")");
    }

    /** The latest tick at or before {@code t}; empty if there is none (a cron expression that never matches). */
    public Optional<Instant> lastTickAtOrBefore(Instant t) {
        if (t == null) {
            throw new IllegalArgumentException("t must not be null");
        }
        if (cron == null) {
            long ms = t.toEpochMilli();
            return Optional.of(Instant.ofEpochMilli(Math.floorDiv(ms, intervalMillis) * intervalMillis));
        }
        // lastExecution is strictly before the instant it is given.
        return cron.lastExecution(t.plusNanos(1).atZone(zone)).map(z -> z.toInstant());
    }

    /** The first tick strictly after {@code t}; empty if there is none (a cron expression that never matches). */
    public Optional<Instant> nextTickAfter(Instant t) {
        if (t == null) {
            throw new IllegalArgumentException("t must not be null");
        }
        if (cron == null) {
            long ms = t.toEpochMilli();
            long next = (Math.floorDiv(ms, intervalMillis) + 1) * intervalMillis;
            return Optional.of(Instant.ofEpochMilli(next));
        }
        return cron.nextExecution(t.atZone(zone)).map(z -> z.toInstant());
    }

    /**
     * The ticks strictly between {@code after} and {@code before}: exact for an interval, counted one by one up to
     * {@code cap} for a cron expression.
     */
    long ticksBetween(Instant after, Instant before, long cap) {
        if (!before.isAfter(after)) {
            return 0;
        }
        if (cron == null) {
            // Multiples of the interval in (after, before): those up to before - 1 ms, less those up to after.
            long n = Math.floorDiv(before.toEpochMilli() - 1, intervalMillis) - Math.floorDiv(after.toEpochMilli(), intervalMillis);
            return Math.max(0, n);
        }
        long n = 0;
        Instant t = after;
        while (n < cap) {
            Optional<Instant> next = nextTickAfter(t);
            if (next.isEmpty() || !next.get().isBefore(before)) {
                return n;
            }
            n++;
            t = next.get();
        }
        return n;
    }

    /** {@code every PT5M} or {@code cron '0 3 * * *' (Europe/Paris)}. */
    @Override
    public String toString() {
        return text;
    }
}
