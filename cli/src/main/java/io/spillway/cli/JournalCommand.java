package io.spillway.cli;

import com.codahale.metrics.MetricRegistry;
import io.spillway.core.Durability;
import io.spillway.core.JournalLockedException;
import io.spillway.core.internal.ChronicleJournal;
import io.spillway.metrics.internal.JournalReader;
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

    /**
     * Checks that {@code dir} is a Spillway journal before a tool opens it: a missing directory, an empty one
     * or one holding other files is bad input (one line, exit 2), and nothing is created in it.
     */
    static void requireJournal(Path dir) {
        requireJournal(dir, false);
    }

    /**
     * {@link #requireJournal(Path)}, optionally letting an empty directory pass: one a producer has not
     * opened yet, which a reporter may watch before the producer's first start.
     */
    static void requireJournal(Path dir, boolean emptyIsFine) {
        if (!Files.isDirectory(dir)) {
            throw new CliException(ExitCodes.USAGE, (Files.exists(dir) ? dir + " is not a directory" : "no journal directory at " + dir));
        }
        if (JournalReader.isJournal(dir)) {
            return;
        }
        boolean empty;
        try {
            empty = JournalReader.isEmptyDirectory(dir);
        } catch (IOException e) {
            throw new CliException(ExitCodes.FAILED, "cannot read " + dir + ": " + e.getMessage());
        }
        if (empty && emptyIsFine) {
            return;
        }
        throw new CliException(ExitCodes.USAGE, dir + (empty ? " is empty" : " holds no " + JournalReader.METADATA_FILE
                + " or " + JournalReader.POSITIONS_FILE) + ": not a Spillway journal directory");
    }

    /**
     * Opens a journal for writing (replay): it must be a journal (one-line error otherwise).
     *
     * @throws JournalLockedException if a running producer holds it (it replays it itself)
     * @param holdBackMillis as the producers' resend window: replayed records stay replayable this long (a journal
     *     of a write-ahead producer keeps them until their jobs finish, whatever is given here)
     */
    static ChronicleJournal open(Path dir, long holdBackMillis) {
        requireJournal(dir);
        return ChronicleJournal.open(dir, ChronicleJournal.DEFAULT_MAX_BYTES, Durability.PROCESS_CRASH, new MetricRegistry(),
                null, ChronicleJournal.isWriteAhead(dir) ? ChronicleJournal.HOLD_UNTIL_CONFIRMED : holdBackMillis);
    }

    /**
     * Opens a journal for reading only: unlike {@link #open} it creates no file (no lock or positions file,
     * no cycle file for the current hour), so inspecting a journal leaves it as it was. A journal a running producer
     * holds is read too ({@link JournalReader#inUse()}): stopping that producer in the middle of an outage, to look,
     * would make its application refuse jobs.
     */
    static JournalReader openForReading(Path dir) {
        requireJournal(dir);
        return JournalReader.openEvenInUse(dir);
    }

    /** What inspect and status --journal say of a journal a running producer holds. */
    static final String IN_USE_NOTE = "in use by a running producer: figures as of now; that producer replays its"
            + " backlog itself once Redis is healthy";


    /** Most corrupt record indexes an inspect lists. */
    static final int MAX_CORRUPT_INDEXES = 20;

    /**
     * What {@code journal inspect} found. {@code backlog} counts the readable jobs not yet replayed;
     * {@code backlogCorrupt} the corrupt records among the not yet replayed ones, which a replay skips (their
     * jobs cannot be read); {@code corruptRecords} every corrupt record on disk, the first of them at
     * {@code corruptIndexes}.
     */
    record Summary(String dir, long records, long replayed, long backlog, long backlogBytes, long corruptRecords,
                   long backlogCorrupt, List<Long> corruptIndexes, String oldest, String newest, String oldestBacklog,
                   Map<String, Long> backlogByQueue, Map<String, Long> recordsByQueue, int cycleFiles, List<RecordLine> list,
                   boolean writeAhead, long keptUntilFinished, boolean inUse) {
    }

    record RecordLine(long index, String queue, String id, String type, int bytes, String enqueuedAt, boolean replayed) {
    }

    @Command(name = "inspect", mixinStandardHelpOptions = true,
            description = {"Counts, oldest and newest job, backlog per queue, and corrupt records of a journal directory.",
                    "Read-only: creates and changes nothing in the directory. A journal held by a running producer is read"
                            + " too, without stopping it: the figures are those of the moment (it goes on spooling and"
                            + " replaying), and it says so.",
                    "Exits 1 if the journal holds a corrupt record (an accepted job that cannot be read)."})
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
            long[] counts = new long[4]; // records, replayed, corrupt seen, replayed and kept (after safe to delete)
            long[] times = {Long.MAX_VALUE, Long.MIN_VALUE, Long.MAX_VALUE}; // oldest, newest, oldest backlog
            Map<String, Long> byQueue = new TreeMap<>();
            List<RecordLine> lines = new ArrayList<>();
            List<Long> corruptIndexes = new ArrayList<>();
            Summary s;
            boolean writeAhead = ChronicleJournal.isWriteAhead(dir);
            try (JournalReader j = openForReading(dir)) {
                boolean inUse = j.inUse();
                long safe = j.safeToDeleteIndex();
                j.forEachRecord((e, replayed) -> {
                    counts[0]++;
                    if (replayed) {
                        counts[1]++;
                        if (e.index() > safe && e.job() != null) {
                            counts[3]++;
                        }
                    }
                    if (e.job() == null) {
                        counts[2]++;
                        if (corruptIndexes.size() < MAX_CORRUPT_INDEXES) {
                            corruptIndexes.add(e.index());
                        }
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
                JournalReader.Backlog b = j.backlog();
                // The reader's backlog counts records; a corrupt one is not a job anyone can replay.
                s = new Summary(dir.toAbsolutePath().toString(), counts[0], counts[1], b.jobs() - b.corrupt(), b.bytes(),
                        counts[2], b.corrupt(), corruptIndexes, instant(times[0]), instant(times[1]), instant(times[2]),
                        new TreeMap<>(b.byQueue()), byQueue, j.cycleFiles(), lines, writeAhead, writeAhead ? counts[3] : 0, inUse);
            }
            // A corrupt record is an accepted job nobody can read any more: a problem, whether replayed past or not.
            int exit = s.corruptRecords() > 0 ? ExitCodes.FAILED : ExitCodes.OK;
            PrintWriter out = spec.commandLine().getOut();
            if (json) {
                Output.json(out, s);
                return exit;
            }
            out.println("Journal " + s.dir() + (s.inUse() ? " (" + IN_USE_NOTE + ")" : ""));
            out.println("  records on disk   " + s.records() + " (" + s.replayed() + " replayed, in " + s.cycleFiles() + " file(s))");
            out.println("  not yet replayed  " + s.backlog() + " job(s), " + s.backlogBytes() + " bytes"
                    + (s.oldestBacklog() == null ? "" : ", oldest " + s.oldestBacklog()));
            if (s.writeAhead()) {
                out.println("  kept until done   " + s.keptUntilFinished() + " job(s) sent to Redis and kept until a worker"
                        + " finishes them (write-ahead: sent again if Redis restarts)");
            }
            out.println("  corrupt records   " + s.corruptRecords() + (s.corruptRecords() == 0 ? ""
                    : " (not yet replayed: " + s.backlogCorrupt() + "; skipped on replay: unreadable, so those accepted jobs"
                    + " cannot be replayed), at index " + indexes(s)));
            out.println("  oldest / newest   " + (s.oldest() == null ? "-" : s.oldest() + " / " + s.newest()));
            if (!s.backlogByQueue().isEmpty()) {
                out.println("  backlog by queue");
                s.backlogByQueue().forEach((q, n) -> out.println("    " + q + "  " + n));
            }
            if (!lines.isEmpty()) {
                List<List<String>> rows = new ArrayList<>();
                for (RecordLine r : lines) {
                    rows.add(List.of(Long.toString(r.index()), r.queue(), r.id(), r.type(), Integer.toString(r.bytes()), r.enqueuedAt()));
                }
                out.println();
                Output.table(out, List.of("INDEX", "QUEUE", "JOB ID", "TYPE", "BYTES", "ENQUEUED"), rows);
            }
            out.flush();
            return exit;
        }

        private static String indexes(Summary s) {
            List<String> parts = new ArrayList<>();
            s.corruptIndexes().forEach(i -> parts.add(Long.toString(i)));
            return String.join(", ", parts) + (s.corruptRecords() > s.corruptIndexes().size() ? ", …" : "");
        }

        private static String instant(long millis) {
            return millis == Long.MAX_VALUE || millis == Long.MIN_VALUE ? null : Instant.ofEpochMilli(millis).toString();
        }
    }
}
