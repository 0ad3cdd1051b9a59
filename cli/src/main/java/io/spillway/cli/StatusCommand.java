package io.spillway.cli;

import io.spillway.core.JobId;
import io.spillway.core.JobState;
import io.spillway.core.JobStatus;
import io.spillway.core.QueueName;
import io.spillway.core.internal.ClusterTopology;
import io.spillway.core.internal.Failures;
import io.spillway.core.internal.JobCodec;
import io.spillway.core.internal.JobRecord;
import io.spillway.core.internal.PauseFlag;
import io.spillway.core.internal.RedisKeys;
import io.spillway.core.internal.StatusRecord;
import io.spillway.metrics.internal.JournalReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Protocol;
import redis.clients.jedis.StreamEntryID;
import redis.clients.jedis.UnifiedJedis;
import redis.clients.jedis.params.XPendingParams;
import redis.clients.jedis.resps.StreamGroupInfo;
import redis.clients.jedis.resps.StreamPendingEntry;
import redis.clients.jedis.resps.StreamPendingSummary;
import redis.clients.jedis.resps.Tuple;
import redis.clients.jedis.util.JedisClusterCRC16;

/**
 * Per queue: waiting, in flight, delayed, dead, oldest waiting age, workers seen, and whether an operator paused it;
 * plus a local journal's backlog.
 */
@Command(name = "status", mixinStandardHelpOptions = true,
        description = {"Show each queue: waiting, in flight, delayed, dead, oldest waiting age, workers seen.",
                "The oldest waiting age is that of the job at the head of the queue (the next a worker takes), counted"
                        + " from when its producer accepted it (however long it was spooled in a journal before it reached"
                        + " Redis), or from its run-at for a delayed job, a retry or a dlq retry.",
                "A queue paused with 'spillway pause' (no worker takes a new job from it) is listed, even before its"
                        + " first job, and marked, with since when and why.",
                "With --journal DIR, also the backlog of a local journal, printed even when Redis cannot be reached"
                        + " (then exit 3); one a running producer holds is read read-only and said to be in use.",
                "A queue with jobs waiting and no worker seen in the last 60 s gets a line that says so (exit code"
                        + " unchanged).",
                "With one -q QUEUE and job ids, each job's state, attempts, last change, progress and last error"
                        + " instead (exit 1 if Redis does not know an id).",
                "With one -q QUEUE and --running, the jobs workers hold, with the progress their handlers reported.",
                "On a Redis Cluster with a master down, the queues of the other masters are shown, those of the down"
                        + " master are named as not read, and the exit code is 3."})
final class StatusCommand implements Callable<Integer> {
    /** A worker counts as seen if it reported within this many milliseconds (the gauges count the same way). */
    static final long WORKER_SEEN_WINDOW_MS = RedisKeys.WORKER_SEEN_WINDOW_MS;

    /** {@code paused} is null for a queue that is not paused. */
    record QueueStatus(String queue, long waiting, long inFlight, long delayed, long dead, long oldestWaitingAgeMs,
                       int workersSeen, List<String> workers, Paused paused) {
    }

    /**
     * An operator's pause ({@code spillway pause}): since when (ISO-8601) and why (null for no reason).
     *
     * @param since when it was paused; null if the key's value holds no time
     * @param reason what the operator said, or null
     */
    record Paused(String since, String reason) {
        /** The value of {@code spillway:{q}:paused}, {@code <epoch ms>|<reason>}, read as {@code Queues.paused} reads it. */
        static Paused parse(String value) {
            return new Paused(PauseFlag.since(value).map(Instant::toString).orElse(null),
                    PauseCommand.reasonOrNull(PauseFlag.reason(value)));
        }
    }

    /**
     * A queue whose figures could not be read: its Redis Cluster master ({@code master}, as the slot map names it)
     * cannot be reached, or, {@code error} {@code CLUSTERDOWN …}, a live node refused because the cluster is down.
     */
    record UnavailableQueue(String queue, String master, String error) {
    }

    /** {@code inUse}: a running producer holds the journal (read read-only all the same: figures as of now). */
    record JournalStatus(String dir, long backlog, long backlogBytes, long oldestAgeMs, long corruptRecords,
                         Map<String, Long> backlogByQueue, boolean inUse) {
    }

    @Mixin
    RedisOptions redis;

    @Option(names = {"-q", "--queue"}, paramLabel = "NAME", description = "Only these queues (repeatable); default: every known queue.")
    List<String> queues;

    @Option(names = "--journal", paramLabel = "DIR", description = "Also show the backlog of this journal directory,"
            + " first, even when Redis cannot be reached; one a running producer holds is read too (figures as of now),"
            + " and said to be in use.")
    Path journal;

    @Option(names = "--json", description = "Print JSON.")
    boolean json;

    @Option(names = "--running", description = "With one -q: list the jobs workers hold (running, or fetched and waiting"
            + " for a thread), oldest first, at most " + RUNNING_LIMIT + ": job id, worker, state, since when, attempts,"
            + " the progress its handler reported.")
    boolean running;

    @Parameters(arity = "0..*", paramLabel = "JOB_ID", description = "With one -q: show these jobs instead of the queue.")
    List<String> jobIds;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    /** One job's status record and progress; also its {@code --json} form ({@code updatedAt} ISO-8601 or null). */
    record JobRow(String queue, String jobId, JobState state, int attempts, String updatedAt, String progress,
                  String lastError) {
        static JobRow of(JobStatus s) {
            return new JobRow(s.queue().value(), s.id().value(), s.state(), s.attempts(),
                    s.updatedAt().map(Instant::toString).orElse(null), s.progress().orElse(null), s.lastError().orElse(null));
        }
    }

    /** The most jobs {@code --running} lists. */
    static final int RUNNING_LIMIT = 100;

    /**
     * One job a worker holds ({@code --running}); also its {@code --json} form. {@code since} (ISO-8601) is when its
     * status record last changed, which for an {@code ACTIVE} job is when its run started; null if unknown.
     */
    record RunningRow(String jobId, String entryId, String worker, JobState state, String since, int attempts,
                      long deliveries, String progress) {
    }

    @Override
    public Integer call() {
        if (running) {
            if (jobIds != null && !jobIds.isEmpty()) {
                throw new CliException(ExitCodes.USAGE, "--running does not go with job ids");
            }
            return running();
        }
        if (jobIds != null && !jobIds.isEmpty()) {
            return jobs();
        }
        List<QueueName> names = new ArrayList<>();
        if (queues != null) {
            for (String q : queues) {
                try {
                    names.add(QueueName.of(q));
                } catch (IllegalArgumentException e) {
                    throw new CliException(ExitCodes.USAGE, e.getMessage());
                }
            }
        }
        JournalStatus js = journal == null ? null : journalStatus(journal);
        try {
            return showQueues(names, js);
        } catch (CliException e) {
            if (js == null || e.exitCode() != ExitCodes.UNREACHABLE) {
                throw e;
            }
            // An outage is when the journal matters most: its figures first, then the error (exit 3 all the same).
            PrintWriter out = spec.commandLine().getOut();
            if (json) {
                Map<String, Object> doc = new LinkedHashMap<>();
                doc.put("redis", redis.connection().redacted());
                doc.put("redisUnreachable", e.getMessage());
                doc.put("journal", js);
                Output.json(out, doc);
            } else {
                printJournal(out, js);
                out.flush();
            }
            throw e;
        }
    }

    private int showQueues(List<QueueName> names, JournalStatus js) {
        List<QueueStatus> rows = new ArrayList<>();
        List<String> unknown = new ArrayList<>();
        List<UnavailableQueue> unavailable = new ArrayList<>();
        boolean cluster = redis.connection().cluster();
        try (UnifiedJedis j = redis.connect()) {
            ClusterMasters masters = cluster ? new ClusterMasters() : null;
            if (names.isEmpty()) {
                Set<String> known;
                try {
                    known = j.smembers(RedisKeys.QUEUES);
                } catch (RuntimeException e) {
                    if (masters == null || !Failures.isUnavailable(e)) {
                        throw e;
                    }
                    String clusterDown = RedisOptions.clusterDown(e);
                    if (clusterDown != null) {
                        // A live node refused: its master is up, the cluster is not.
                        throw new CliException(ExitCodes.UNREACHABLE, "cannot list the queues of " + redis.connection().redacted()
                                + ": the Redis Cluster refuses commands (" + clusterDown + "): "
                                + RedisOptions.CLUSTER_DOWN_FIX);
                    }
                    throw new CliException(ExitCodes.UNREACHABLE, "cannot list the queues of " + redis.connection().redacted()
                            + ": the master of " + RedisKeys.QUEUES + " (" + masters.of(RedisKeys.QUEUES) + ") cannot be"
                            + " reached: " + reason(e) + "; name the queues with -q to read those of the other masters");
                }
                for (String q : new TreeSet<>(known)) {
                    names.add(QueueName.of(q));
                }
            }
            for (QueueName q : names) {
                // On a cluster a master that cannot be reached costs one failure (a socket timeout if it hangs), not
                // one per queue of its slots: its other queues are listed as unavailable for the same reason.
                // The slot map is read at the first failure only.
                HostAndPort master = masters == null || masters.down.isEmpty() ? null : masters.of(RedisKeys.stream(q));
                String down = master == null ? null : masters.down.get(master);
                if (down != null) {
                    unavailable.add(new UnavailableQueue(q.value(), master.toString(), down));
                    continue;
                }
                try {
                    rows.add(queueStatus(j, q, serverTimeMillis(j, q)));
                } catch (RuntimeException e) {
                    master = masters == null || !Failures.isUnavailable(e) ? null : masters.of(RedisKeys.stream(q));
                    if (master == null) {
                        throw e;
                    }
                    String clusterDown = RedisOptions.clusterDown(e);
                    if (clusterDown == null) {
                        masters.down.put(master, reason(e));
                    } // else a live node refused for want of another master: this one is not down, nor known to be
                    unavailable.add(new UnavailableQueue(q.value(), master.toString(), clusterDown != null ? clusterDown
                            : reason(e)));
                    continue;
                }
                try {
                    if (!isKnown(j, q)) {
                        unknown.add(q.value());
                    }
                } catch (RuntimeException e) {
                    if (masters == null || !Failures.isUnavailable(e)) {
                        throw e;
                    }
                    // The master of spillway:queues is down: whether the name is known cannot be told, and its figures were read.
                }
            }
        } catch (CliException e) {
            throw e;
        } catch (RuntimeException e) {
            throw redis.failure(redis.connection(), e);
        }
        int exit = unavailable.isEmpty() ? ExitCodes.OK : ExitCodes.UNREACHABLE;
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            Map<String, Object> doc = new LinkedHashMap<>();
            doc.put("redis", redis.connection().redacted());
            doc.put("queues", rows);
            doc.put("unknownQueues", unknown);
            doc.put("unavailableQueues", unavailable);
            doc.put("hints", noWorkerLines(rows));
            if (js != null) {
                doc.put("journal", js);
            }
            Output.json(out, doc);
            return exit;
        }
        if (rows.isEmpty()) {
            if (unavailable.isEmpty()) {
                out.println("No queues in " + redis.connection().redacted() + " yet.");
            }
        } else {
            // A PAUSED column only when a queue is paused: the usual table stays as it was; the reasons go below it.
            boolean anyPaused = rows.stream().anyMatch(s -> s.paused() != null);
            List<List<String>> table = new ArrayList<>();
            for (QueueStatus s : rows) {
                List<String> cells = new ArrayList<>(List.of(s.queue(), Long.toString(s.waiting()), Long.toString(s.inFlight()),
                        Long.toString(s.delayed()), Long.toString(s.dead()), Output.age(s.oldestWaitingAgeMs()),
                        Integer.toString(s.workersSeen())));
                if (anyPaused) {
                    cells.add(s.paused() == null ? "-" : "yes");
                }
                table.add(cells);
            }
            List<String> header = new ArrayList<>(List.of("QUEUE", "WAITING", "IN FLIGHT", "DELAYED", "DEAD", "OLDEST WAITING",
                    "WORKERS"));
            if (anyPaused) {
                header.add("PAUSED");
            }
            Output.table(out, header, table);
            rows.stream().filter(s -> s.paused() != null).forEach(s -> out.println(pausedLine(s.queue(), s.paused())));
            noWorkerLines(rows).forEach(out::println);
        }
        // A queue the journal holds jobs of is not a typo: its jobs have not reached Redis yet.
        List<String> spooledOnly = js == null ? List.of()
                : unknown.stream().filter(q -> js.backlogByQueue().getOrDefault(q, 0L) > 0).toList();
        List<String> typos = unknown.stream().filter(q -> !spooledOnly.contains(q)).toList();
        if (!typos.isEmpty()) {
            out.println(unknownQueues(typos));
        }
        spooledOnly.forEach(q -> out.println("Queue " + q + " is not in Redis yet: " + js.backlogByQueue().get(q)
                + " job(s) of it wait in journal " + js.dir() + "."));
        unavailableLines(unavailable).forEach(out::println);
        if (js != null) {
            out.println();
            printJournal(out, js);
        }
        out.flush();
        return exit;
    }

    private static void printJournal(PrintWriter out, JournalStatus js) {
        out.println("Journal " + js.dir() + (js.inUse() ? " (" + JournalCommand.IN_USE_NOTE + ")" : "") + ": " + js.backlog()
                + " job(s) not yet replayed (" + js.backlogBytes() + " bytes), oldest "
                + Output.age(js.backlog() == 0 ? -1 : js.oldestAgeMs()) + ", corrupt records " + js.corruptRecords()
                + (js.corruptRecords() > 0 ? " (unreadable jobs: see spillway journal inspect)" : ""));
        js.backlogByQueue().forEach((q, n) -> out.println("  " + q + ": " + n));
    }

    /**
     * One line per queue with jobs waiting and no worker seen in the last {@link #WORKER_SEEN_WINDOW_MS} (a paused
     * queue has its own line): nothing takes its jobs. A hint only: the exit code stays as it is.
     */
    static List<String> noWorkerLines(List<QueueStatus> rows) {
        List<String> lines = new ArrayList<>();
        for (QueueStatus s : rows) {
            if (s.waiting() > 0 && s.workersSeen() == 0 && s.paused() == null) {
                lines.add("Queue " + s.queue() + ": " + s.waiting() + " job(s) waiting" + (s.oldestWaitingAgeMs() < 0 ? ""
                        : ", the oldest for " + Output.age(s.oldestWaitingAgeMs())) + ", and no worker seen in the last "
                        + WORKER_SEEN_WINDOW_MS / 1000 + " s: nothing takes its jobs; start workers for it, or find out why"
                        + " they stopped (their logs).");
            }
        }
        return lines;
    }

    /**
     * {@code status -q QUEUE JOB_ID...}: each job's status record, read as {@code JobProducer.status} reads it (one
     * {@code GET}, decoded by {@link StatusRecord}). An id with no record is {@code UNKNOWN}: exit 1, one line on stderr.
     */
    private int jobs() {
        QueueName q = singleQueue("job ids need");
        if (journal != null) {
            throw new CliException(ExitCodes.USAGE, "--journal does not go with job ids: 'spillway journal inspect --list N'"
                    + " lists the jobs a journal holds");
        }
        List<JobId> ids = new ArrayList<>();
        try {
            for (String id : jobIds) {
                ids.add(JobId.of(id));
            }
        } catch (IllegalArgumentException e) {
            throw new CliException(ExitCodes.USAGE, e.getMessage());
        }
        List<JobRow> rows = new ArrayList<>();
        try (UnifiedJedis j = redis.connect()) {
            for (JobId id : ids) {
                rows.add(JobRow.of(StatusRecord.decode(id, q, j.get(RedisKeys.job(q, id)))
                        .withProgress(j.get(RedisKeys.progress(q, id)))));
            }
        } catch (CliException e) {
            throw e;
        } catch (RuntimeException e) {
            throw redis.failure(redis.connection(), e);
        }
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            Output.json(out, rows);
        } else {
            List<List<String>> table = new ArrayList<>();
            for (JobRow r : rows) {
                String error = r.lastError() == null ? "-" : PauseCommand.oneLine(r.lastError());
                table.add(List.of(r.jobId(), r.state().toString(), Integer.toString(r.attempts()),
                        r.updatedAt() == null ? "-" : PauseCommand.display(r.updatedAt()), progressCell(r.progress()),
                        error.length() > 80 ? error.substring(0, 79) + "…" : error));
            }
            Output.table(out, List.of("JOB ID", "STATE", "ATTEMPTS", "UPDATED", "PROGRESS", "LAST ERROR"), table);
        }
        List<String> unknownIds = rows.stream().filter(r -> r.state() == JobState.UNKNOWN).map(JobRow::jobId).toList();
        if (!unknownIds.isEmpty()) {
            throw new CliException(ExitCodes.FAILED, unknownIds.size() + " of " + rows.size() + " job id(s) unknown to Redis in"
                    + " queue " + q.value() + " (" + String.join(", ", unknownIds.subList(0, Math.min(5, unknownIds.size())))
                    + (unknownIds.size() > 5 ? ", …" : "") + "): never enqueued, its record expired (a day after it"
                    + " completed), or still spooled in a producer's journal; check the queue and the id");
        }
        return ExitCodes.OK;
    }

    /**
     * {@code --running}: the queue's pending entries ({@code XPENDING} with its details: entry, worker, deliveries), each
     * entry's job ({@code XRANGE} of that one entry), its status record and its progress ({@code GET}s): the tools'
     * rules suffice. All keys are the queue's, so on a cluster every command goes to its slot's master.
     */
    private int running() {
        QueueName q = singleQueue("--running needs");
        if (journal != null) {
            throw new CliException(ExitCodes.USAGE, "--journal does not go with --running");
        }
        List<RunningRow> rows = new ArrayList<>();
        long total;
        try (UnifiedJedis j = redis.connect()) {
            String stream = RedisKeys.stream(q);
            if (!j.exists(stream)) {
                total = 0;
            } else {
                total = j.xpending(stream, RedisKeys.GROUP).getTotal();
                List<StreamPendingEntry> pending = total == 0 ? List.of()
                        : j.xpending(stream, RedisKeys.GROUP, XPendingParams.xPendingParams()
                                .start(StreamEntryID.MINIMUM_ID)
                                .end(StreamEntryID.MAXIMUM_ID).count(RUNNING_LIMIT));
                for (StreamPendingEntry p : pending) {
                    rows.add(runningRow(j, q, p));
                }
            }
        } catch (CliException e) {
            throw e;
        } catch (RuntimeException e) {
            throw redis.failure(redis.connection(), e);
        }
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            Output.json(out, rows);
        } else {
            List<List<String>> table = new ArrayList<>();
            for (RunningRow r : rows) {
                table.add(List.of(r.jobId(), r.worker(), r.state() == null ? "-" : r.state().toString(),
                        r.since() == null ? "-" : PauseCommand.display(r.since()), Integer.toString(r.attempts()),
                        progressCell(r.progress())));
            }
            if (rows.isEmpty()) {
                out.println("No job of queue " + q.value() + " is held by a worker.");
            } else {
                Output.table(out, List.of("JOB ID", "WORKER", "STATE", "SINCE", "ATTEMPTS", "PROGRESS"), table);
                if (total > rows.size()) {
                    out.println("(" + rows.size() + " of " + total + " shown, the oldest first)");
                }
            }
        }
        return ExitCodes.OK;
    }

    /** The one {@code -q} queue that {@code what} ("job ids need", "--running needs") needs; bad input otherwise. */
    private QueueName singleQueue(String what) {
        if (queues == null || queues.size() != 1) {
            throw new CliException(ExitCodes.USAGE, what + " exactly one -q QUEUE, but " + (queues == null ? "none"
                    : queues.size()) + " was given");
        }
        try {
            return QueueName.of(queues.get(0));
        } catch (IllegalArgumentException e) {
            throw new CliException(ExitCodes.USAGE, e.getMessage());
        }
    }

    /** A progress text in a table: one line, at most 40 characters; "-" for none. */
    private static String progressCell(String progress) {
        String p = progress == null ? "-" : PauseCommand.oneLine(progress);
        return p.length() > 40 ? p.substring(0, 39) + "…" : p;
    }

    /** One pending entry of {@code --running}; an entry gone from the stream (settled meanwhile) or undecodable shows as such. */
    private static RunningRow runningRow(UnifiedJedis j, QueueName q, StreamPendingEntry p) {
        String entry = p.getID().toString();
        String jobId = "?";
        List<Object> e = j.xrange(RedisKeys.bytes(RedisKeys.stream(q)), RedisKeys.bytes(entry), RedisKeys.bytes(entry), 1);
        if (e.isEmpty() || !(e.get(0) instanceof List<?> fields) || fields.size() != 2) {
            jobId = "(entry " + entry + " settled)";
        } else {
            byte[] bytes = jobField(fields.get(1));
            try {
                jobId = bytes == null ? "(entry " + entry + ": no job)" : JobCodec.decode(bytes).id().value();
            } catch (RuntimeException undecodable) {
                jobId = "(entry " + entry + ": not a job)";
            }
        }
        if (jobId.startsWith("(")) {
            return new RunningRow(jobId, entry, p.getConsumerName(), null, null, 0, p.getDeliveredTimes(), null);
        }
        JobId id = JobId.of(jobId);
        JobStatus st = StatusRecord.decode(id, q, j.get(RedisKeys.job(q, id)));
        return new RunningRow(jobId, entry, p.getConsumerName(), st.state(), st.updatedAt().map(Instant::toString).orElse(null),
                st.attempts(), p.getDeliveredTimes(), j.get(RedisKeys.progress(q, id)));
    }

    /** The queue's figures; every command touches only {@code q}'s keys, so on a cluster all go to its slot's master. */
    static QueueStatus queueStatus(UnifiedJedis j, QueueName q, long now) {
        String stream = RedisKeys.stream(q);
        long length = j.exists(stream) ? j.xlen(stream) : 0;
        long inFlight = 0;
        long oldestAge = -1;
        if (length > 0) {
            StreamEntryID lastDelivered = null;
            try {
                for (StreamGroupInfo g : j.xinfoGroups(stream)) {
                    if (RedisKeys.GROUP.equals(g.getName())) {
                        lastDelivered = g.getLastDeliveredId();
                    }
                }
                if (lastDelivered != null) {
                    StreamPendingSummary pending = j.xpending(stream, RedisKeys.GROUP);
                    inFlight = pending.getTotal();
                }
            } catch (RuntimeException noGroupYet) {
                if (Failures.isPermissionDenied(noGroupYet)) {
                    throw noGroupYet; // an ACL without XINFO or XPENDING: not "no group", which would show wrong figures
                }
                // No worker has created the group yet: every entry is waiting.
            }
            // Acked entries are deleted, so the stream holds exactly the waiting and the in-flight jobs: the first
            // entry after the last delivered one is the oldest waiting (the next a worker takes).
            String from = lastDelivered == null ? "-" : "(" + lastDelivered;
            List<Object> first = j.xrange(RedisKeys.bytes(stream), RedisKeys.bytes(from), RedisKeys.bytes("+"), 1);
            if (!first.isEmpty() && first.get(0) instanceof List<?> entry && entry.size() == 2
                    && entry.get(0) instanceof byte[] id) {
                long reachedRedis = new StreamEntryID(new String(id, StandardCharsets.US_ASCII)).getTime();
                oldestAge = Math.max(0, now - waitingSince(reachedRedis, jobField(entry.get(1))));
            }
        }
        long waiting = Math.max(0, length - inFlight);
        long delayed = j.zcard(RedisKeys.delayed(q));
        long dead = j.zcard(RedisKeys.dead(q));
        List<String> workers = new ArrayList<>();
        for (Tuple t : j.zrangeByScoreWithScores(RedisKeys.workers(q), now - WORKER_SEEN_WINDOW_MS, Double.POSITIVE_INFINITY)) {
            workers.add(t.getElement());
        }
        String pausedFlag = j.get(RedisKeys.paused(q));
        return new QueueStatus(q.value(), waiting, inFlight, delayed, dead, waiting == 0 ? -1 : oldestAge, workers.size(), workers,
                pausedFlag == null ? null : Paused.parse(pausedFlag));
    }

    /** The line under the table for a paused queue: since when, why, and how to resume it. */
    static String pausedLine(String queue, Paused p) {
        return "Queue " + queue + " is paused" + (p.since() == null ? "" : " since " + PauseCommand.display(p.since()))
                + (p.reason() == null ? "" : " (" + PauseCommand.oneLine(p.reason()) + ")")
                + ": workers take no new job from it until 'spillway resume " + queue + "'.";
    }

    /**
     * Since when a waiting job has waited, in epoch milliseconds: since it became ready to run, the later of
     * when its producer accepted it and its run-at (a delayed job, a retry), as its record says. Counting from
     * the stream entry's id (when it reached Redis) would call a job that waited an hour in a producer's journal
     * fresh. Never later than {@code reachedRedis} (a producer whose clock runs ahead), and {@code reachedRedis}
     * itself when the record cannot be decoded (damaged, another version).
     */
    static long waitingSince(long reachedRedis, byte[] record) {
        if (record == null) {
            return reachedRedis;
        }
        JobRecord r;
        try {
            r = JobCodec.decode(record);
        } catch (IllegalArgumentException e) {
            return reachedRedis;
        }
        long ready = Math.max(r.enqueuedAt(), r.runAt());
        return ready > 0 ? Math.min(reachedRedis, ready) : reachedRedis;
    }

    /** The job field of a raw stream entry's field list, or null. */
    private static byte[] jobField(Object fields) {
        if (fields instanceof List<?> f) {
            for (int i = 0; i + 1 < f.size(); i += 2) {
                if (f.get(i) instanceof byte[] name && RedisKeys.FIELD_JOB.equals(new String(name, StandardCharsets.UTF_8))
                        && f.get(i + 1) instanceof byte[] value) {
                    return value;
                }
            }
        }
        return null;
    }

    /**
     * One line per unreachable master: its queues that were not read, and why; and one for the queues a live node
     * refused because the cluster is down ({@code CLUSTERDOWN}: some slots have no master that answers), which says
     * so rather than call their master unreachable.
     */
    static List<String> unavailableLines(List<UnavailableQueue> unavailable) {
        Map<String, List<UnavailableQueue>> byMaster = new LinkedHashMap<>();
        List<UnavailableQueue> refused = new ArrayList<>();
        unavailable.forEach(u -> {
            if (u.error().startsWith("CLUSTERDOWN")) {
                refused.add(u);
            } else {
                byMaster.computeIfAbsent(u.master(), k -> new ArrayList<>()).add(u);
            }
        });
        List<String> lines = new ArrayList<>();
        byMaster.forEach((master, qs) -> lines.add(queues(qs) + " not read: " + (qs.size() == 1 ? "its" : "their")
                + " Redis Cluster master " + master + " cannot be reached (" + qs.get(0).error() + ")."));
        if (!refused.isEmpty()) {
            lines.add(queues(refused) + " not read: the Redis Cluster refuses commands (" + refused.get(0).error() + "): "
                    + RedisOptions.CLUSTER_DOWN_FIX + ".");
        }
        return lines;
    }

    /** "Queue a" or "Queues a, b". */
    private static String queues(List<UnavailableQueue> qs) {
        return qs.size() == 1 ? "Queue " + qs.get(0).queue()
                : "Queues " + String.join(", ", qs.stream().map(UnavailableQueue::queue).toList());
    }

    /** Why a master could not be reached: what the cluster client's last attempt met (not "No more cluster attempts left."). */
    private String reason(RuntimeException e) {
        Throwable last = Failures.lastAttempt(e);
        return redis.describe(last != null ? last : e);
    }

    /** A cluster's masters by slot, read once (at the first queue), and those found unreachable. */
    private final class ClusterMasters {
        final Map<HostAndPort, String> down = new LinkedHashMap<>();
        private ClusterTopology map;

        HostAndPort of(String key) {
            if (map == null) {
                map = redis.clusterMap();
            }
            int slot = JedisClusterCRC16.getSlot(key);
            for (ClusterTopology.Master m : map.masters()) {
                if (m.serves(slot)) {
                    return m.address();
                }
            }
            return null; // a slot no master serves: the command's own failure says so
        }
    }

    /**
     * Whether Redis has seen the queue: it is in {@code spillway:queues} (every queue ever enqueued to or paused), or, should
     * that set have been lost, it holds any of the queue's keys.
     */
    static boolean isKnown(UnifiedJedis j, QueueName q) {
        return j.sismember(RedisKeys.QUEUES, q.value())
                || j.exists(RedisKeys.stream(q), RedisKeys.delayed(q), RedisKeys.dead(q), RedisKeys.workers(q)) > 0;
    }

    /**
     * Whether Redis knows the queue ({@link #isKnown}), for a warning only: null when that cannot be told (the user's
     * ACL lacks {@code SISMEMBER}, as a producer's or a worker's does; the command itself is then told by what it does).
     */
    static Boolean knownOrNull(UnifiedJedis j, QueueName q) {
        try {
            return isKnown(j, q);
        } catch (RuntimeException e) {
            if (Failures.isPermissionDenied(e)) {
                return null;
            }
            throw e;
        }
    }

    /** The line that says a queue name given is unknown: most likely a typo. */
    static String unknownQueues(List<String> names) {
        return (names.size() == 1 ? "Queue " + names.get(0) + " is" : "Queues " + String.join(", ", names) + " are")
                + " unknown to Redis: no job was ever enqueued to " + (names.size() == 1 ? "it" : "them")
                + " (not in spillway:queues). Check the name; 'spillway status' lists the known queues.";
    }

    /**
     * Redis's clock, in epoch milliseconds: the clock that stamped {@code q}'s stream entry ids. On a cluster that of
     * the master serving {@code q}'s slot ({@code TIME} is sent with one of its keys as the sample key), since the
     * masters' clocks may differ.
     */
    static long serverTimeMillis(UnifiedJedis j, QueueName q) {
        List<?> t = (List<?>) j.sendCommand(RedisKeys.bytes(RedisKeys.stream(q)), Protocol.Command.TIME);
        return Long.parseLong(text(t.get(0))) * 1000 + Long.parseLong(text(t.get(1))) / 1000;
    }

    private static String text(Object reply) {
        return reply instanceof byte[] b ? new String(b, StandardCharsets.US_ASCII) : String.valueOf(reply);
    }

    static JournalStatus journalStatus(Path dir) {
        try (JournalReader j = JournalCommand.openForReading(dir)) {
            JournalReader.Backlog b = j.backlog();
            // The reader's backlog counts records; a corrupt one is not a job anyone can replay (reported apart).
            return new JournalStatus(dir.toAbsolutePath().toString(), b.jobs() - b.corrupt(), b.bytes(),
                    b.oldestAgeMillis(System.currentTimeMillis()), b.corrupt(), new LinkedHashMap<>(b.byQueue()), j.inUse());
        }
    }
}
