package io.spillway.cli;

import io.spillway.core.QueueName;
import io.spillway.core.RedisConnection;
import io.spillway.worker.Queues;
import java.io.PrintWriter;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.function.BiFunction;
import java.util.function.Function;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import redis.clients.jedis.UnifiedJedis;

/**
 * {@code pause QUEUE...}: pauses queues, as {@link Queues#pause(String, String)} does: workers take no new job from
 * them until {@code spillway resume} ({@link ResumeCommand}). A queue paused already keeps its first time and reason;
 * either way the exit code is 0, the queue being paused as asked. Also holds what both commands share.
 */
@Command(name = "pause", mixinStandardHelpOptions = true,
        description = {"Pause queues: no worker takes a new job from them until 'spillway resume'.",
                "Workers notice within about a second, and a worker started meanwhile before its first fetch. Jobs"
                        + " already running finish and settle; delayed jobs and retries still fall due into the queue; producers"
                        + " still enqueue: the jobs wait. The pause is a key in Redis, so it holds for every worker and"
                        + " across their restarts until the queue is resumed.",
                "A queue paused already keeps its first time and reason (its line shows them). Exit code 0 either way."},
        footer = {"", "Examples:", "  spillway pause --redis redis://10.0.0.5:6379 images --reason 'INC-1234'",
                "  spillway status --redis redis://10.0.0.5:6379 -q images"})
final class PauseCommand implements Callable<Integer> {
    /** One queue after the call; also its {@code --json} form ({@code since} ISO-8601, null when not paused). */
    record Row(String queue, boolean paused, boolean changed, String since, String reason) {
        static Row of(String queue, boolean changed, Optional<Queues.Pause> pause) {
            return pause.map(p -> new Row(queue, true, changed, p.since().toString(), reasonOrNull(p.reason())))
                    .orElseGet(() -> new Row(queue, false, changed, null, null));
        }
    }

    @Mixin
    RedisOptions redis;

    @Parameters(arity = "1..*", paramLabel = "QUEUE", description = "Queues to pause.")
    List<String> queues;

    @Option(names = "--reason", paramLabel = "TEXT", description = "Why, shown by 'spillway status' and in the workers'"
            + " log line (at most " + Queues.MAX_REASON_CHARS + " characters, one line).")
    String reason;

    @Option(names = "--json", description = "Print JSON.")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        // Every name and the reason first: bad input pauses nothing.
        List<String> names = validNames(queues);
        String why = reason == null ? "" : reason.strip();
        if (why.length() > Queues.MAX_REASON_CHARS) {
            throw new CliException(ExitCodes.USAGE, "--reason must be at most " + Queues.MAX_REASON_CHARS
                    + " characters, but was " + why.length());
        }
        if (why.chars().anyMatch(Character::isISOControl)) {
            throw new CliException(ExitCodes.USAGE, "--reason must be one line of text, but has a control character"
                    + " (a line break or tab)");
        }
        run(redis, names, json, spec, "pausing", true,
                (qs, q) -> {
                    boolean changed = qs.pause(q, why);
                    return Row.of(q, changed, qs.paused(q)); // the state after the call, for its line
                },
                PauseCommand::line);
        return ExitCodes.OK;
    }

    private static String line(Row row) {
        if (!row.paused()) {
            return "not paused: resumed meanwhile by another command";
        }
        if (row.changed()) {
            return "paused";
        }
        return "already paused since " + display(row.since()) + (row.reason() == null ? "" : " (" + oneLine(row.reason()) + ")");
    }

    /** The queue names, validated: an invalid one is bad input (exit 2), before anything is changed. */
    static List<String> validNames(List<String> queues) {
        List<String> names = new ArrayList<>();
        try {
            for (String q : queues) {
                names.add(QueueName.of(q).value());
            }
        } catch (IllegalArgumentException e) {
            throw new CliException(ExitCodes.USAGE, e.getMessage());
        }
        return names;
    }

    /**
     * Connects (one line now if Redis cannot be reached or refuses the credentials), runs {@code action} for each queue
     * in turn, printing its line at once (or, with {@code json}, all rows at the end), and returns the rows. With
     * {@code warnUnknown} (pause), a queue Redis does not know is acted on all the same (workers may start on it later),
     * with a warning on stderr: most likely a typo.
     */
    static List<Row> run(RedisOptions redis, List<String> names, boolean json, CommandSpec spec, String doing,
                         boolean warnUnknown, BiFunction<Queues, String, Row> action, Function<Row, String> line) {
        RedisConnection connection = redis.needs(RedisOptions.AclRules.WORKER).connection(); // SET NX, GET, DEL
        PrintWriter out = spec.commandLine().getOut();
        try (UnifiedJedis j = redis.connect()) {
            if (warnUnknown) {
                PrintWriter err = spec.commandLine().getErr();
                for (String q : names) {
                    if (Boolean.FALSE.equals(StatusCommand.knownOrNull(j, QueueName.of(q)))) {
                        err.println(spec.qualifiedName() + ": warning: queue " + q + " is unknown to Redis (no job was ever"
                                + " enqueued to it); pausing it anyway, for workers that start on it later ('spillway"
                                + " status' lists it from now on, after a resume too). Check the name.");
                    }
                }
                err.flush();
            }
        } catch (CliException e) {
            throw e;
        } catch (RuntimeException e) {
            throw redis.failure(connection, e);
        }
        int width = names.stream().mapToInt(String::length).max().orElse(0);
        List<Row> rows = new ArrayList<>();
        try (Queues qs = Queues.connect(connection)) {
            for (String q : names) {
                Row row;
                try {
                    row = action.apply(qs, q);
                } catch (RuntimeException e) {
                    throw redis.failurePartWay(connection, e, doing, rows.size(), names.size(), "queue(s)");
                }
                rows.add(row);
                if (!json) {
                    out.println(String.format("%-" + width + "s  %s", q, line.apply(row)));
                    out.flush();
                }
            }
        }
        if (json) {
            Output.json(out, rows);
        }
        return rows;
    }

    /** A pause's reason as JSON gives it: null for none. */
    static String reasonOrNull(String reason) {
        return reason == null || reason.isEmpty() ? null : reason;
    }

    /** A reason for a text line: control characters (a reason set through the API may hold line breaks) as spaces. */
    static String oneLine(String reason) {
        return reason.replaceAll("\\p{Cntrl}", " ");
    }

    /** An ISO-8601 instant for a text line: to the second. */
    static String display(String since) {
        return Instant.parse(since).truncatedTo(ChronoUnit.SECONDS).toString();
    }
}
