package io.spillway.cli;

import io.spillway.backend.Schedule;
import java.io.PrintWriter;
import java.time.DateTimeException;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code schedule EXPRESSION}: the next ticks of a {@code RecurringJobs} schedule, as {@link Schedule} computes them, to
 * check a cron expression (or an interval) before deploying it. Needs no Redis.
 */
@Command(name = "schedule", mixinStandardHelpOptions = true,
        description = {"Show the next ticks of a recurring job's schedule, as RecurringJobs computes them: a five-field"
                + " Unix cron expression (minute hour day-of-month month day-of-week) read in --zone, or with --every an"
                + " interval (ISO-8601, such as PT5M), whose ticks are the multiples of it since 1970-01-01T00:00Z.",
                "Each tick's job id is <name>@<tick>. Needs no Redis."},
        footer = {"", "Examples:", "  spillway schedule '0 3 * * *' --zone Europe/Paris", "  spillway schedule --every PT5M --count 3"})
final class ScheduleCommand implements Callable<Integer> {
    @Parameters(arity = "0..1", paramLabel = "CRON", description = "A five-field Unix cron expression (quote it).")
    String cron;

    @Option(names = "--every", paramLabel = "DURATION", description = "An interval instead of a cron expression (ISO-8601: PT30S, PT5M, P1D).")
    String every;

    @Option(names = "--zone", paramLabel = "ZONE", description = "The cron expression's time zone (default: UTC).")
    String zone;

    @Option(names = "--count", paramLabel = "N", description = "How many ticks to show (default: 5, at most 1000).")
    int count = 5;

    @Option(names = "--from", paramLabel = "INSTANT", description = "Ticks after this instant (ISO-8601, default: now).")
    String from;

    @Option(names = "--json", description = "Print JSON.")
    boolean json;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        if ((cron == null) == (every == null)) {
            throw new CliException(ExitCodes.USAGE, "give either a cron expression or --every DURATION");
        }
        if (count < 1 || count > 1000) {
            throw new CliException(ExitCodes.USAGE, "--count must be 1 to 1000, but was " + count);
        }
        Schedule schedule;
        Instant start;
        try {
            if (every != null) {
                if (zone != null) {
                    throw new CliException(ExitCodes.USAGE, "--zone goes with a cron expression, not --every (its ticks are in UTC)");
                }
                schedule = Schedule.every(parsed("--every", every, Duration::parse));
            } else {
                schedule = Schedule.cron(cron, zone == null ? ZoneId.of("UTC") : ZoneId.of(zone));
            }
            start = from == null ? Instant.now().truncatedTo(java.time.temporal.ChronoUnit.MILLIS) : parsed("--from", from, Instant::parse);
        } catch (DateTimeException | IllegalArgumentException e) {
            throw new CliException(ExitCodes.USAGE, e.getMessage());
        }
        List<Instant> ticks = new ArrayList<>();
        List<String> lines = new ArrayList<>();
        ZoneId shown = zone == null ? null : ZoneId.of(zone);
        try {
            Instant t = start;
            for (int i = 0; i < count; i++) {
                Optional<Instant> next = schedule.nextTickAfter(t);
                if (next.isEmpty()) {
                    break;
                }
                if (!next.get().isAfter(t)) {
                    // An interval's next multiple past Long.MAX_VALUE ms wraps around instead of failing.
                    throw new ArithmeticException("the next tick is past the largest instant in epoch milliseconds");
                }
                ticks.add(next.get());
                lines.add("  " + next.get() + (shown == null ? ""
                        : "  (" + next.get().atZone(shown).toLocalDateTime() + " " + shown + ")"));
                t = next.get();
            }
        } catch (ArithmeticException | DateTimeException e) {
            // Instant.parse takes years up to ±1,000,000,000; ticks are epoch milliseconds (±292 million years) or a
            // zone's local date-time (±999,999,999).
            throw new CliException(ExitCodes.USAGE, "--from " + (from == null ? start : from) + " is out of range: the"
                    + " ticks after it cannot be computed (" + e.getMessage() + ")");
        }
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            Map<String, Object> doc = new LinkedHashMap<>();
            doc.put("schedule", schedule.toString());
            doc.put("ticks", ticks.stream().map(Instant::toString).toList());
            Output.json(out, doc);
        } else if (ticks.isEmpty()) {
            out.println(schedule + ": no tick after " + start + " (the expression never matches)");
        } else {
            out.println(schedule + ", the next " + ticks.size() + " after " + start + ":");
            lines.forEach(out::println);
        }
        return ExitCodes.OK;
    }

    /** {@code value} parsed, or bad input naming the option. */
    private static <T> T parsed(String option, String value, java.util.function.Function<String, T> parse) {
        try {
            return parse.apply(value);
        } catch (DateTimeParseException e) {
            throw new CliException(ExitCodes.USAGE, option + " must be ISO-8601 (" + (option.equals("--from")
                    ? "2026-12-04T03:00:00Z" : "PT30S, PT5M, P1D") + "), but was '" + value + "'");
        }
    }
}
