package io.spillway.cli;

import com.codahale.metrics.MetricRegistry;
import io.spillway.core.Durability;
import io.spillway.core.JournalLockedException;
import io.spillway.core.internal.ChronicleJournal;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code journal inspect DIR} and {@code journal replay DIR}. */
@Command(name = "journal", mixinStandardHelpOptions = true,
        description = "Inspect a producer's local journal, or drain it into Redis by hand.",
        subcommands = {JournalCommand.Inspect.class, JournalReplayCommand.class})
final class JournalCommand implements Runnable {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new picocli.CommandLine.ParameterException(spec.commandLine(), "name a subcommand: inspect or replay");
    }

    /** Opens an existing journal directory for a tool; a missing or locked one is a one-line error. */
    static ChronicleJournal open(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new CliException(ExitCodes.USAGE, "no journal directory at " + dir);
        }
        try (Stream<Path> files = Files.list(dir)) {
            if (files.findAny().isEmpty()) {
                throw new CliException(ExitCodes.USAGE, dir + " is empty: not a journal directory");
            }
        } catch (IOException e) {
            throw new CliException(ExitCodes.FAILED, "cannot read " + dir + ": " + e.getMessage());
        }
        try {
            return ChronicleJournal.open(dir, ChronicleJournal.DEFAULT_MAX_BYTES, Durability.PROCESS_CRASH, new MetricRegistry());
        } catch (JournalLockedException e) {
            throw new CliException(ExitCodes.FAILED, "journal " + dir + " is in use by a running producer: stop it first"
                    + " (a running producer replays its own journal)");
        }
    }

    record Summary(String dir, long records, long replayed, long backlog, long backlogBytes, long corruptRecords,
                   String oldest, String newest, String oldestBacklog, Map<String, Long> backlogByQueue,
                   Map<String, Long> recordsByQueue, int cycleFiles, List<RecordLine> list) {
    }

    record RecordLine(long index, String queue, String id, String type, int bytes, String enqueuedAt, boolean replayed) {
    }

    @Command(name = "inspect", mixinStandardHelpOptions = true,
            description = "Counts, oldest and newest job, backlog per queue, and corrupt records of a journal directory.")
    static final class Inspect implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "DIR", description = "The journal directory.")
        Path dir;

        @Option(names = "--json", description = "Print JSON.")
        boolean json;

        @Option(names = "--list", paramLabel = "N", defaultValue = "0",
                description = "Also list up to N records not yet replayed (ids, queues, types; never payloads).")
        int list;

        @Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            if (list < 0) {
                throw new CliException(ExitCodes.USAGE, "--list must be >= 0, but was " + list);
            }
            long[] counts = new long[3]; // records, replayed, corrupt seen
            long[] times = {Long.MAX_VALUE, Long.MIN_VALUE, Long.MAX_VALUE}; // oldest, newest, oldest backlog
            Map<String, Long> byQueue = new TreeMap<>();
            List<RecordLine> lines = new ArrayList<>();
            Summary s;
            try (ChronicleJournal j = open(dir)) {
                j.forEachRecord((e, replayed) -> {
                    counts[0]++;
                    if (replayed) {
                        counts[1]++;
                    }
                    if (e.job() == null) {
                        counts[2]++;
                        return;
                    }
                    long at = e.job().enqueuedAt();
                    times[0] = Math.min(times[0], at);
                    times[1] = Math.max(times[1], at);
                    if (!replayed) {
                        times[2] = Math.min(times[2], at);
                        if (lines.size() < list) {
                            lines.add(new RecordLine(e.index(), e.job().queue().value(), e.job().id().value(), e.job().type(),
                                    e.job().payload().length, Instant.ofEpochMilli(at).toString(), false));
                        }
                    }
                    byQueue.merge(e.job().queue().value(), 1L, Long::sum);
                });
                Map<String, Long> backlogByQueue = new TreeMap<>();
                j.backlogByQueue().forEach((q, n) -> backlogByQueue.put(q.value(), n));
                s = new Summary(dir.toAbsolutePath().toString(), counts[0], counts[1], j.backlog(), j.backlogBytes(),
                        Math.max(j.corruptRecords(), counts[2]), instant(times[0]), instant(times[1]), instant(times[2]),
                        backlogByQueue, byQueue, j.cycleFiles(), lines);
            }
            PrintWriter out = spec.commandLine().getOut();
            if (json) {
                Output.json(out, s);
                return ExitCodes.OK;
            }
            out.println("Journal " + s.dir());
            out.println("  records on disk   " + s.records() + " (" + s.replayed() + " replayed, in " + s.cycleFiles() + " file(s))");
            out.println("  not yet replayed  " + s.backlog() + " job(s), " + s.backlogBytes() + " bytes"
                    + (s.oldestBacklog() == null ? "" : ", oldest " + s.oldestBacklog()));
            out.println("  corrupt records   " + s.corruptRecords() + (s.corruptRecords() > 0 ? " (skipped on replay)" : ""));
            out.println("  oldest / newest   " + (s.oldest() == null ? "-" : s.oldest() + " / " + s.newest()));
            if (!s.backlogByQueue().isEmpty()) {
                out.println("  backlog by queue");
                s.backlogByQueue().forEach((q, n) -> out.println("    " + q + "  " + n));
            }
            if (!lines.isEmpty()) {
                List<List<String>> rows = new ArrayList<>();
                for (RecordLine r : lines) {
                    rows.add(List.of(Long.toHexString(r.index()), r.queue(), r.id(), r.type(), Integer.toString(r.bytes()), r.enqueuedAt()));
                }
                out.println();
                Output.table(out, List.of("INDEX", "QUEUE", "JOB ID", "TYPE", "BYTES", "ENQUEUED"), rows);
            }
            out.flush();
            return ExitCodes.OK;
        }

        private static String instant(long millis) {
            return millis == Long.MAX_VALUE || millis == Long.MIN_VALUE ? null : Instant.ofEpochMilli(millis).toString();
        }
    }
}
