package io.spillway.cli;

import com.codahale.metrics.MetricRegistry;
import io.spillway.core.MetricNames;
import io.spillway.core.RedisConnection;
import io.spillway.core.RedisUnavailableException;
import io.spillway.core.internal.ChronicleJournal;
import io.spillway.core.internal.Failures;
import io.spillway.core.internal.RedisGateway;
import io.spillway.core.internal.Replayer;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * Drains a journal into Redis by hand, idempotently by job id: for a journal left behind by a producer
 * that will not run again. A running producer replays its own journal (and holds its lock).
 */
@Command(name = "replay", mixinStandardHelpOptions = true,
        description = {"Drain a journal into Redis by hand, idempotently (a job Redis already holds is not added twice).",
                "For a journal whose producer is gone; a running producer replays its own."})
final class JournalReplayCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "DIR", description = "The journal directory.")
    Path dir;

    @Mixin
    RedisOptions redis;

    @Option(names = "--dedupe-window", paramLabel = "SECONDS", defaultValue = "0",
            description = "A TTL for the replayed jobs' ids; match your producers' setting"
                    + " (default: ${DEFAULT-VALUE}: no expiry, the id lives as long as its job).")
    long dedupeSeconds;

    @Option(names = "--json", description = "Print the result as JSON.")
    boolean json;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        if (dedupeSeconds < 0) {
            throw new CliException(ExitCodes.USAGE, "--dedupe-window must be >= 0, but was " + dedupeSeconds);
        }
        RedisConnection connection = redis.connection();
        MetricRegistry registry = new MetricRegistry();
        long t0 = System.nanoTime();
        long before;
        long after;
        try (ChronicleJournal journal = JournalCommand.open(dir);
             RedisGateway gateway = new RedisGateway(connection, "cli", 4, Duration.ofSeconds(1), registry)) {
            RedisGateway.Probe probe = gateway.probe();
            if (!probe.healthy()) {
                boolean unreachable = probe.info().isEmpty();
                throw new CliException(unreachable ? ExitCodes.UNREACHABLE : ExitCodes.FAILED,
                        (unreachable ? "cannot reach Redis at " : "Redis at ") + connection.redacted()
                                + (unreachable ? ": " : " cannot take jobs now: ") + probe.problem());
            }
            before = journal.backlog();
            try {
                new Replayer(journal, gateway, dedupeSeconds, Replayer.DEFAULT_READ_BATCH, registry).drain(false);
            } catch (RedisUnavailableException e) {
                throw new CliException(ExitCodes.UNREACHABLE, "Redis at " + connection.redacted() + " failed during replay ("
                        + Failures.describe(e) + "); " + journal.backlog() + " job(s) left in the journal, run again to resume");
            }
            after = journal.backlog();
        }
        long added = registry.meter(MetricNames.REPLAYED).getCount();
        long duplicates = registry.meter(MetricNames.REPLAY_DUPLICATES).getCount();
        long ms = Duration.ofNanos(System.nanoTime() - t0).toMillis();
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            Map<String, Object> doc = new LinkedHashMap<>();
            doc.put("journal", dir.toAbsolutePath().toString());
            doc.put("redis", connection.redacted());
            doc.put("backlogBefore", before);
            doc.put("replayed", added);
            doc.put("alreadyInRedis", duplicates);
            doc.put("backlogAfter", after);
            doc.put("millis", ms);
            Output.json(out, doc);
        } else {
            out.println("Replayed " + (added + duplicates) + " job(s) from " + dir + " into " + connection.redacted() + " in "
                    + ms + " ms: " + added + " new, " + duplicates + " already in Redis; " + after + " left.");
            out.flush();
        }
        return after == 0 ? ExitCodes.OK : ExitCodes.FAILED;
    }
}
