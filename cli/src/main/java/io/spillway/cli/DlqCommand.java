package io.spillway.cli;

import io.spillway.core.JobId;
import io.spillway.core.JobState;
import io.spillway.core.JobStatus;
import io.spillway.core.QueueName;
import io.spillway.core.internal.RedisKeys;
import io.spillway.core.internal.StatusRecord;
import io.spillway.core.internal.Failures;
import io.spillway.worker.DeadLetter;
import io.spillway.worker.DeadLetters;
import java.io.PrintWriter;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import redis.clients.jedis.UnifiedJedis;

/** {@code dlq list|show|retry|purge}: the jobs that failed for good. */
@Command(name = "dlq", mixinStandardHelpOptions = true,
        description = "Dead letters (jobs that failed for good): list, show, retry, purge.",
        subcommands = {DlqCommand.ListDead.class, DlqCommand.Show.class, DlqCommand.Retry.class, DlqCommand.Purge.class})
final class DlqCommand implements Runnable {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new picocli.CommandLine.ParameterException(spec.commandLine(), "name a subcommand: list, show, retry or purge");
    }

    /** Options every dlq subcommand shares. */
    static final class Target {
        @Mixin
        RedisOptions redis;

        @Option(names = {"-q", "--queue"}, required = true, paramLabel = "NAME", description = "The queue.")
        String queue;

        /** Whether Redis knows the queue (see {@link StatusCommand#isKnown}); set by {@link #open}. */
        boolean known;

        /** Validates the queue and Redis (one-line errors), then opens the dead-letter API. */
        DeadLetters open() {
            return open(false);
        }

        /**
         * Runs {@code change} ({@code retry}, {@code purge}) on the dead letters: a queue Redis has never seen is an error
         * (most likely a typo, which "0 retried" would hide), and a Redis failure is one line, a refusal naming the
         * worker's ACL rules, whose scripts they run.
         */
        int changing(java.util.function.ToIntFunction<DeadLetters> change) {
            redis.needs(RedisOptions.AclRules.WORKER);
            try (DeadLetters dlq = open(true)) {
                return change.applyAsInt(dlq);
            } catch (CliException e) {
                throw e;
            } catch (RuntimeException e) {
                throw redis.failure(redis.connection(), e);
            }
        }

        /**
         * The {@code problem} of an id that is not a dead letter of the queue: {@link #NOT_FOUND}, or, when its status
         * record is a {@code PURGED} tombstone (kept {@link DeadLetters#PURGED_RETENTION} after a purge), that it was
         * purged already, and when.
         */
        String notDeadLetter(String id) {
            if (!JobId.VALID.matcher(id).matches()) {
                return NOT_FOUND;
            }
            QueueName q = QueueName.of(queue);
            JobStatus status;
            try (UnifiedJedis j = redis.connect()) {
                status = StatusRecord.decode(JobId.of(id), q, j.get(RedisKeys.job(q, JobId.of(id))));
            }
            if (status.state() != JobState.PURGED) {
                return NOT_FOUND;
            }
            return ALREADY_PURGED + status.updatedAt().map(t -> " at " + t).orElse("")
                    + " (its status record says PURGED for " + DeadLetters.PURGED_RETENTION.toHours() + " h after the purge)";
        }

        private DeadLetters open(boolean mustBeKnown) {
            QueueName name;
            try {
                name = QueueName.of(queue);
            } catch (IllegalArgumentException e) {
                throw new CliException(ExitCodes.USAGE, e.getMessage());
            }
            try (UnifiedJedis j = redis.connect()) {
                known = StatusCommand.isKnown(j, name);
            } catch (CliException e) {
                throw e;
            } catch (RuntimeException e) {
                throw redis.failure(redis.connection(), e);
            }
            if (mustBeKnown && !known) {
                // Exit 1 as for 'dlq show' of an id in a queue Redis does not know: nothing was changed.
                throw new CliException(ExitCodes.FAILED, StatusCommand.unknownQueues(List.of(queue)));
            }
            return DeadLetters.connect(redis.connection());
        }
    }

    record Row(String id, String queue, String type, int attempts, String reason, String enqueuedAt, String deadAt,
               int payloadBytes, String payload) {
        static Row of(DeadLetter d, boolean withPayload) {
            return new Row(d.id(), d.queue(), d.type(), d.attempts(), d.reason(),
                    d.enqueuedAt().map(Object::toString).orElse(null), d.deadAt().toString(), d.payload().length,
                    withPayload ? text(d.payload()) : null);
        }
    }

    /** UTF-8 text when the payload is text, else base64 with a prefix. */
    static String text(byte[] payload) {
        try {
            return StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(payload)).toString();
        } catch (CharacterCodingException e) {
            return "base64:" + java.util.Base64.getEncoder().encodeToString(payload);
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List the oldest dead letters of a queue.")
    static final class ListDead implements Callable<Integer> {
        @Mixin
        Target target;

        @Option(names = "--limit", defaultValue = "50", description = "At most this many (default: ${DEFAULT-VALUE}).")
        int limit;

        @Option(names = "--json", description = "Print JSON.")
        boolean json;

        @Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            if (limit < 1) {
                throw new CliException(ExitCodes.USAGE, "--limit must be >= 1, but was " + limit);
            }
            try (DeadLetters dlq = target.open()) {
                long total = dlq.count(target.queue);
                List<Row> rows = new ArrayList<>();
                for (DeadLetter d : dlq.list(target.queue, limit)) {
                    rows.add(Row.of(d, false));
                }
                PrintWriter out = spec.commandLine().getOut();
                if (json) {
                    Map<String, Object> doc = new LinkedHashMap<>();
                    doc.put("queue", target.queue);
                    doc.put("queueKnown", target.known);
                    doc.put("total", total);
                    doc.put("deadLetters", rows);
                    Output.json(out, doc);
                    return ExitCodes.OK;
                }
                if (!target.known) {
                    out.println(StatusCommand.unknownQueues(List.of(target.queue)));
                } else if (rows.isEmpty()) {
                    out.println("No dead letters in queue " + target.queue + ".");
                } else {
                    List<List<String>> table = new ArrayList<>();
                    for (Row r : rows) {
                        // One escaped line: a reason is a handler's message, which may carry payload text (line
                        // breaks, terminal escapes) that would break the table or the terminal.
                        String line = Failures.oneLine(r.reason());
                        String reason = line.length() > 60 ? line.substring(0, 59) + "…" : line;
                        table.add(List.of(r.id(), r.type(), Integer.toString(r.attempts()), r.deadAt(), reason));
                    }
                    Output.table(out, List.of("JOB ID", "TYPE", "ATTEMPTS", "DEAD AT", "REASON"), table);
                    out.println(rows.size() + " of " + total + " dead letter(s) in queue " + target.queue + ".");
                }
                out.flush();
                return ExitCodes.OK;
            }
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "Show one dead letter in full.")
    static final class Show implements Callable<Integer> {
        @Mixin
        Target target;

        @Parameters(index = "0", paramLabel = "JOB_ID", description = "The job id.")
        String id;

        @Option(names = "--payload", description = "Also print the payload (UTF-8 text, or base64).")
        boolean payload;

        @Option(names = "--json", description = "Print JSON.")
        boolean json;

        @Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            try (DeadLetters dlq = target.open()) {
                DeadLetter found = dlq.get(target.queue, id).orElseThrow(
                        () -> new CliException(ExitCodes.FAILED, "no dead letter " + id + " in queue " + target.queue
                                + (target.known ? "" : ": " + StatusCommand.unknownQueues(List.of(target.queue)))));
                Row r = Row.of(found, payload);
                PrintWriter out = spec.commandLine().getOut();
                if (json) {
                    Map<String, Object> doc = new LinkedHashMap<>();
                    doc.put("deadLetter", r);
                    doc.put("headers", found.headers());
                    Output.json(out, doc);
                    return ExitCodes.OK;
                }
                out.println("job id      " + r.id());
                out.println("queue       " + r.queue());
                out.println("type        " + r.type());
                out.println("attempts    " + r.attempts());
                out.println("enqueued at " + (r.enqueuedAt() == null ? "?" : r.enqueuedAt()));
                out.println("dead at     " + r.deadAt());
                // Text from jobs and handlers, each as one escaped line (--json gives it as it is).
                out.println("reason      " + Failures.oneLine(r.reason()));
                out.println("headers     " + Failures.oneLine(found.headers().toString()));
                out.println("payload     " + r.payloadBytes() + " bytes"
                        + (payload ? ": " + Failures.oneLine(r.payload()) : " (--payload prints it)"));
                out.flush();
                return ExitCodes.OK;
            }
        }
    }

    @Command(name = "retry", mixinStandardHelpOptions = true,
            description = {"Put dead letters back on their queue (attempts reset): the given ids, or --all.",
                    "A dead letter whose stored record cannot be decoded (damaged, or written by another version) cannot be"
                            + " retried: it stays, and the command says so (exit 1); look at it with 'dlq show --payload',"
                            + " then delete it with 'dlq purge'.",
                    "A queue Redis has never seen is an error (exit 1): most likely a typo."})
    static final class Retry implements Callable<Integer> {
        @Mixin
        Target target;

        @Parameters(paramLabel = "JOB_ID", arity = "0..*", description = "Job ids to retry.")
        List<String> ids;

        @Option(names = "--all", description = "Retry every dead letter of the queue.")
        boolean all;

        @Option(names = "--json", description = "Print JSON.")
        boolean json;

        @Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            requireIdsOrAll(ids, all);
            return target.changing(this::retry);
        }

        private int retry(DeadLetters dlq) {
            PrintWriter out = spec.commandLine().getOut();
            if (all) {
                long retried = dlq.retryAll(target.queue);
                // retryAll leaves the letters it cannot decode: say how many, or "retried" reads as "all".
                long undecodable = dlq.list(target.queue, (int) Math.min(Math.max(1, dlq.count(target.queue)), 10_000))
                        .stream().filter(DlqCommand::undecodable).count();
                if (json) {
                    Map<String, Object> doc = new LinkedHashMap<>();
                    doc.put("queue", target.queue);
                    doc.put("retried", retried);
                    doc.put("undecodable", undecodable);
                    Output.json(out, doc);
                } else {
                    out.println("Retried " + retried + " dead letter(s) of queue " + target.queue + ".");
                    out.flush();
                }
                if (undecodable > 0) {
                    throw new CliException(ExitCodes.FAILED, undecodable + " dead letter(s) stay: their records cannot be"
                            + " decoded (damaged, or written by another version). 'spillway dlq list -q " + target.queue
                            + "' shows them (type ?); " + advice(target.queue, "ID"));
                }
                return ExitCodes.OK;
            }
            return eachId(out, json, target.queue, ids, "retried", "retry", id -> {
                if (dlq.retry(target.queue, id)) {
                    return null;
                }
                // retry answers false both for an id that is not a dead letter and for one it cannot decode.
                java.util.Optional<DeadLetter> d = dlq.get(target.queue, id);
                if (d.isEmpty()) {
                    return target.notDeadLetter(id);
                }
                if (undecodable(d.get())) {
                    return "its record (" + d.get().payload().length + " bytes) cannot be decoded (damaged, or written"
                            + " by another version): " + advice(target.queue, id);
                }
                return "it changed while being retried; run the command again";
            });
        }
    }

    @Command(name = "purge", mixinStandardHelpOptions = true,
            description = {"Delete dead letters for good: the given ids, or --all --yes.",
                    "A queue Redis has never seen is an error (exit 1): most likely a typo."})
    static final class Purge implements Callable<Integer> {
        @Mixin
        Target target;

        @Parameters(paramLabel = "JOB_ID", arity = "0..*", description = "Job ids to delete.")
        List<String> ids;

        @Option(names = "--all", description = "Delete every dead letter of the queue (needs --yes).")
        boolean all;

        @Option(names = "--yes", description = "Confirm --all.")
        boolean yes;

        @Option(names = "--json", description = "Print JSON.")
        boolean json;

        @Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            requireIdsOrAll(ids, all);
            if (all && !yes) {
                throw new CliException(ExitCodes.USAGE, "--all deletes every dead letter of " + target.queue + " for good: add --yes");
            }
            return target.changing(this::purge);
        }

        private int purge(DeadLetters dlq) {
            PrintWriter out = spec.commandLine().getOut();
            if (all) {
                long purged = dlq.purgeAll(target.queue);
                if (json) {
                    Map<String, Object> doc = new LinkedHashMap<>();
                    doc.put("queue", target.queue);
                    doc.put("purged", purged);
                    Output.json(out, doc);
                } else {
                    out.println("Purged " + purged + " dead letter(s) of queue " + target.queue + ".");
                    out.flush();
                }
                return ExitCodes.OK;
            }
            return eachId(out, json, target.queue, ids, "purged", "purge",
                    id -> dlq.purge(target.queue, id) ? null : target.notDeadLetter(id));
        }
    }

    /** DeadLetters marks a letter it could not decode with type "?" and no enqueue time (see DeadLetter). */
    private static boolean undecodable(DeadLetter d) {
        return "?".equals(d.type()) && d.enqueuedAt().isEmpty();
    }

    private static String advice(String queue, String id) {
        return "see the raw bytes with 'spillway dlq show -q " + queue + " " + id + " --payload', delete with"
                + " 'spillway dlq purge -q " + queue + " " + id + "'.";
    }

    /** The {@code problem} of an id that is not a dead letter of the queue. */
    static final String NOT_FOUND = "not found";
    /** The start of the {@code problem} of an id whose dead letter was purged (its status record is a tombstone). */
    static final String ALREADY_PURGED = "already purged";

    /** One id's outcome in {@code --json}: done, or why not ({@code problem}: "not found" or the reason). */
    record IdOutcome(String queue, String jobId, boolean done, String problem) {
    }

    /**
     * Applies {@code action} to each id: a done id's line on stdout at once ({@code "retried  ID"}), or with
     * {@code json} every id's outcome at the end. {@code action} returns null when it is done, {@link #NOT_FOUND} for
     * an id that is not a dead letter of the queue, else why not. The ids not done make one error line
     * ({@code spillway dlq retry: …}) and exit code 1.
     */
    static int eachId(PrintWriter out, boolean json, String queue, List<String> ids, String done, String verb,
                      java.util.function.Function<String, String> action) {
        int width = done.length();
        List<IdOutcome> outcomes = new ArrayList<>();
        for (String id : ids) {
            String problem = action.apply(id);
            IdOutcome o = problem != null ? new IdOutcome(queue, id, false, problem) : new IdOutcome(queue, id, true, null);
            outcomes.add(o);
            if (!json && o.done()) {
                out.println(String.format("%-" + width + "s  %s", done, id));
                out.flush();
            }
        }
        if (json) {
            Output.json(out, outcomes);
        }
        List<IdOutcome> failed = outcomes.stream().filter(o -> !o.done()).toList();
        if (failed.isEmpty()) {
            return ExitCodes.OK;
        }
        if (failed.size() == 1) {
            IdOutcome f = failed.get(0);
            throw new CliException(ExitCodes.FAILED, NOT_FOUND.equals(f.problem()) ? "no dead letter " + f.jobId()
                    + " in queue " + queue : f.problem().startsWith(ALREADY_PURGED) ? "cannot " + verb + " " + f.jobId()
                    + ": its dead letter in queue " + queue + " was " + f.problem()
                    : "cannot " + verb + " " + f.jobId() + ": " + f.problem());
        }
        // Each with its reason's first clause (the advice after it is the same for all).
        List<String> named = failed.stream().limit(5).map(f -> f.jobId() + " (" + f.problem().split(": |; ", 2)[0] + ")")
                .toList();
        // And the advice of the first reason that has some ("see the raw bytes with …").
        String advice = failed.stream().filter(f -> !NOT_FOUND.equals(f.problem())).findFirst()
                .map(f -> f.problem().split(": |; ", 2)).filter(p -> p.length == 2).map(p -> "; " + p[1]).orElse("");
        throw new CliException(ExitCodes.FAILED, failed.size() + " of " + outcomes.size() + " id(s) not " + done + " in queue "
                + queue + ": " + String.join(", ", named) + (failed.size() > 5 ? ", …" : "") + advice);
    }

    static void requireIdsOrAll(List<String> ids, boolean all) {
        boolean some = ids != null && !ids.isEmpty();
        if (some == all) {
            throw new CliException(ExitCodes.USAGE, all ? "give job ids or --all, not both" : "give job ids, or --all");
        }
    }
}
