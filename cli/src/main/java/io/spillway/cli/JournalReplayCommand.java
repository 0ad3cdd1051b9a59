package io.spillway.cli;

import com.codahale.metrics.MetricRegistry;
import io.spillway.core.MetricNames;
import io.spillway.core.RedisConnection;
import io.spillway.core.RedisUnavailableException;
import io.spillway.core.Durability;
import io.spillway.core.JournalLockedException;
import io.spillway.metrics.internal.JournalReader;
import io.spillway.core.internal.ChronicleJournal;
import io.spillway.core.internal.CancelLog;
import io.spillway.core.internal.Failures;
import io.spillway.core.internal.JobCancel;
import io.spillway.core.internal.RecentWrites;
import io.spillway.core.internal.RedisGateway;
import io.spillway.core.internal.RedisInfo;
import io.spillway.core.internal.Replayer;
import io.spillway.core.internal.SentLog;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
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
 *
 * <p>What it does, as a producer restarted on the journal would:
 * <ol>
 *   <li>Open the journal (with the producers' hold-back window) and, if there is one, its sent log
 *       ({@code sent/}: the jobs the dead producer wrote straight to Redis in its last seconds, and the run id
 *       of the Redis that acknowledged them).</li>
 *   <li>Ask Redis its run id. If it differs from the recorded one, Redis restarted since and may have lost
 *       those last writes: replay again the records replayed within the hold-back window, send the sent log's
 *       recent writes again (both idempotent), then record the new run id.</li>
 *   <li>Replay everything not yet replayed.</li>
 * </ol>
 * Without a recorded run id (no sent log, or the producer never reached Redis) a restart cannot be told,
 * and steps 2's re-sends are skipped, as a producer would.
 */
@Command(name = "replay", mixinStandardHelpOptions = true,
        description = {"Drain a journal into Redis by hand, idempotently (a job Redis already holds is not added twice).",
"For a journal whose producer is gone. A journal a running producer holds is left alone: that producer"
                        + " replays it itself once Redis is healthy, so there is nothing to do (exit 0, whether Redis"
                        + " answers or not); stopping the producer to replay by hand would make its application refuse"
                        + " jobs.",
                "If Redis restarted since the producer's last write (its run id changed), the jobs the producer wrote or"
                        + " replayed in its last --resend-window are sent again first, as a restarted producer would.",
                "Exits 1 if jobs are left in the journal or a corrupt record (an unreadable job) was skipped."})
final class JournalReplayCommand implements Callable<Integer> {
    /** As JobProducer: a predecessor's writes older than this are not sent again (they may have completed). */
    static final long SENT_LOG_MAX_AGE_MILLIS = 60L * 60 * 1000;
    /** As JobProducer's default resendAfterRestart buffer. */
    static final long RESEND_BUFFER_BYTES = 16L << 20;

    @Parameters(index = "0", paramLabel = "DIR", description = "The journal directory.")
    Path dir;

    @Mixin
    RedisOptions redis;

    @Option(names = "--dedupe-window", paramLabel = "SECONDS", defaultValue = "0",
            description = "A TTL for the replayed jobs' ids; match your producers' setting"
                    + " (default: ${DEFAULT-VALUE}: no expiry, the id lives as long as its job).")
    long dedupeSeconds;

    @Option(names = "--resend-window", paramLabel = "MS", defaultValue = "5000",
            description = "The producers' resendAfterRestart window: after a Redis restart, jobs written or replayed this"
                    + " recently are sent again (default: ${DEFAULT-VALUE}, the producers' default; 0: never).")
    long resendWindowMs;

    @Option(names = "--json", description = "Print the result as JSON.")
    boolean json;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        if (dedupeSeconds < 0) {
            throw new CliException(ExitCodes.USAGE, "--dedupe-window must be >= 0, but was " + dedupeSeconds);
        }
        if (resendWindowMs < 0) {
            throw new CliException(ExitCodes.USAGE, "--resend-window must be >= 0, but was " + resendWindowMs);
        }
        RedisConnection connection = redis.needs(RedisOptions.AclRules.PRODUCER).connection();
        MetricRegistry registry = new MetricRegistry();
        long t0 = System.nanoTime();
        long before;
        long after;
        long corrupt;
        String restartedFrom = null;
        String runIdNow = null;
        boolean resentUnrecorded = false;
        int resent = 0;
        int recancelled = 0;
        JournalCommand.requireJournal(dir);
        // Before Redis is asked anything: in an outage Redis does not answer, and the producer needs nobody's help.
        if (JournalReader.isInUse(dir)) {
            return nothingToDo(connection);
        }
        redis.connect().close(); // one line now if Redis cannot be reached or refuses the credentials
        // Only a sent log that is there: opening one creates it (32 MiB of segments) in a journal without.
        boolean hasSentLog = resendWindowMs > 0 && Files.isDirectory(dir.resolve(SentLog.DIR));
        try (ChronicleJournal journal = JournalCommand.open(dir, resendWindowMs);
             SentLog sentLog = hasSentLog ? SentLog.open(dir, Durability.PROCESS_CRASH, resendWindowMs, RESEND_BUFFER_BYTES) : null;
             CancelLog cancelLog = hasSentLog ? CancelLog.open(dir.resolve(SentLog.DIR), Durability.PROCESS_CRASH,
                     resendWindowMs + 10_000) : null;
             RedisGateway gateway = new RedisGateway(connection, "cli", 4, Duration.ofSeconds(1), registry)) {
            gateway.proveEnqueueWrites();
            RedisGateway.Probe probe = gateway.probe();
            if (!probe.healthy()) {
                throw probeFailure(connection, probe);
            }
            before = journal.backlog();
            String runId = RedisInfo.runId(probe.info());
            String recorded = sentLog == null ? null : sentLog.redisRunId();
            long now = System.currentTimeMillis();
            List<RecentWrites.Entry> earlier = sentLog == null ? List.of()
                    : sentLog.recent(resendWindowMs, SENT_LOG_MAX_AGE_MILLIS, now);
            // No run id recorded while the journal holds writes that Redis may have lost (a producer that died before it
            // recorded one, an earlier run of this tool on a journal without a sent log): as the producer does, count it
            // as a restart and send them again, idempotently.
            boolean unknown = sentLog != null && recorded == null && (journal.replayedIndex() != journal.safeToDeleteIndex()
                    || !earlier.isEmpty());
            boolean restarted = unknown || recorded != null && runId != null && !RedisInfo.sameRunId(recorded, runId);
            if (sentLog != null && !restarted) {
                // Before the first record is replayed, as the producer does: its successor can then tell a restart.
                sentLog.redisRunId(runId);
            }
            Replayer replayer = new Replayer(journal, gateway, dedupeSeconds, Replayer.DEFAULT_READ_BATCH, registry);
            try {
                if (restarted) {
                    // What a producer restarted on this journal does at its first connect (JobProducer.recover).
                    // With the sent log: what it sends again is recorded as written now, for the producer after it.
                    RecentWrites recent = new RecentWrites(resendWindowMs, RESEND_BUFFER_BYTES, sentLog);
                    recent.restore(earlier);
                    resent = recent.size();
                    // Its last cancellations first: Redis lost them with its last writes, and the re-send would bring
                    // their jobs back (a write-ahead journal's of the last hour, as JobProducer does).
                    long cancelWindow = CancelLog.windowMillis(journal.writeAhead(), resendWindowMs, SENT_LOG_MAX_AGE_MILLIS);
                    for (CancelLog.Entry c : cancelLog.toMakeAgain(earlier, cancelWindow, SENT_LOG_MAX_AGE_MILLIS, now)) {
                        JobCancel.cancel(gateway, c.queue(), c.id(), true);
                        recancelled++;
                    }
                    replayer.recover(true, recent, resendWindowMs);
                    restartedFrom = unknown ? null : recorded;
                    runIdNow = runId;
                    resentUnrecorded = unknown;
                }
                replayer.drain(false);
            } catch (RedisUnavailableException e) {
                throw new CliException(ExitCodes.UNREACHABLE, "Redis at " + connection.redacted() + " failed during replay ("
                        + Failures.describe(e) + "); " + journal.backlog() + " job(s) left in the journal, run again to resume");
            }
            if (restarted) {
                // Only now, as the producer does: had this run died during the re-sends, the next must still see the old id.
                sentLog.redisRunId(runId);
            }
            after = journal.backlog();
            // Counted (and logged at WARN) by the journal as the replay skips them; this journal was opened by this run.
            corrupt = journal.corruptRecords();
        } catch (JournalLockedException e) {
            return nothingToDo(connection); // a producer started on it since the check above
        }
        long added = registry.meter(MetricNames.REPLAYED).getCount();
        long duplicates = registry.meter(MetricNames.REPLAY_DUPLICATES).getCount();
        long restored = registry.meter(MetricNames.RESTORED).getCount();
        long resentAll = registry.meter(MetricNames.RESENT).getCount();
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
            doc.put("corruptSkipped", corrupt);
            doc.put("redisRestarted", restartedFrom != null);
            doc.put("runIdNotRecorded", resentUnrecorded);
            doc.put("recentWritesResent", resent);
            doc.put("cancellationsMadeAgain", recancelled);
            doc.put("resent", resentAll);
            doc.put("restored", restored);
            doc.put("millis", ms);
            Output.json(out, doc);
        } else {
            if (resentUnrecorded) {
                out.println("The run id of the Redis the producer last wrote to was not recorded, so a restart since could not"
                        + " be ruled out: sent its last " + resendWindowMs + " ms of writes again, and what it replayed in that"
                        + " window: " + resentAll + " job(s) (" + resent + " written straight to Redis), " + restored
                        + " restored, the rest still there" + (recancelled > 0 ? "; made its last " + recancelled
                        + " cancellation(s) again first." : "."));
            }
            if (restartedFrom != null) {
                out.println("Redis restarted or failed over since the producer's last write (run id " + restartedFrom + ", now "
                        + runIdNow + "): sent its last " + resendWindowMs + " ms of writes again (and any older one no"
                        + " replica had confirmed), and what it replayed in that window: " + resentAll + " job(s) ("
                        + resent + " written straight to Redis), " + restored + " restored, the rest still there"
                        + (recancelled > 0 ? "; made its last " + recancelled + " cancellation(s) again first." : "."));
            }
            out.println("Replayed " + (added + duplicates) + " job(s) from " + dir + " into " + connection.redacted() + " in "
                    + ms + " ms: " + added + " new, " + duplicates + " already in Redis; " + after + " left.");
            if (corrupt > 0) {
                out.println(corrupt + " corrupt record(s) skipped: unreadable, so those accepted jobs cannot be replayed"
                        + "; 'spillway journal inspect " + dir + "' lists their indexes.");
            }
            out.flush();
        }
        // A skipped corrupt record is an accepted job that did not reach Redis: the operator must hear of it.
        return after == 0 && corrupt == 0 ? ExitCodes.OK : ExitCodes.FAILED;
    }

    /**
     * A journal a running producer holds: that producer replays it itself once Redis is healthy (its lock keeps any
     * other writer out), so there is nothing to do; exit 0, as for a journal with nothing left to replay. The backlog
     * is read read-only, for the operator's information.
     */
    private int nothingToDo(RedisConnection connection) {
        long backlog = -1;
        try (JournalReader r = JournalReader.openEvenInUse(dir)) {
            JournalReader.Backlog b = r.backlog();
            backlog = b.jobs() - b.corrupt();
        } catch (RuntimeException e) {
            // Only information: the producer may have deleted a file under the reader; the answer is the same.
        }
        PrintWriter out = spec.commandLine().getOut();
        String said = "Nothing to do: journal " + dir + " is in use by a running producer, which replays it itself once"
                + " Redis is healthy" + (backlog < 0 ? "" : " (" + backlog + " job(s) wait in it now)")
                + "; see that producer's metrics, or 'spillway journal inspect " + dir + "'.";
        if (json) {
            Map<String, Object> doc = new LinkedHashMap<>();
            doc.put("journal", dir.toAbsolutePath().toString());
            doc.put("redis", connection.redacted());
            doc.put("inUse", true);
            doc.put("backlog", backlog < 0 ? null : backlog);
            doc.put("replayed", 0);
            doc.put("message", said);
            Output.json(out, doc);
        } else {
            out.println(said);
            out.flush();
        }
        return ExitCodes.OK;
    }

    /**
     * A health check that failed, classified as the other commands' failures are: a command the ACL refuses (the
     * probe's {@code SET}, say) is bad input with the producer's rules as the hint, an unreachable Redis
     * {@link ExitCodes#UNREACHABLE}, anything else (loading, a replica, memory full) {@link ExitCodes#FAILED}.
     */
    private CliException probeFailure(RedisConnection connection, RedisGateway.Probe probe) {
        if (Failures.isPermissionDenied(probe.problem())) {
            String user = connection.user() != null ? "user '" + connection.user() + "'" : "the default user";
            return new CliException(ExitCodes.USAGE, "Redis at " + connection.redacted() + " refused a command to " + user
                    + ": " + probe.problem() + "; grant it " + RedisOptions.AclRules.PRODUCER.hint());
        }
        if (!probe.reachable()) {
            return new CliException(ExitCodes.UNREACHABLE, "cannot reach Redis at " + connection.redacted() + ": "
                    + probe.problem());
        }
        return new CliException(ExitCodes.FAILED, "Redis at " + connection.redacted() + " cannot take jobs now: "
                + probe.problem());
    }
}
