package io.spillway.cli;

import io.spillway.core.QueueName;
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
                throw RedisOptions.failure(redis.connection(), e);
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
                        String reason = r.reason().length() > 60 ? r.reason().substring(0, 59) + "…" : r.reason();
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
                out.println("reason      " + r.reason());
                out.println("headers     " + found.headers());
                out.println("payload     " + r.payloadBytes() + " bytes" + (payload ? ": " + r.payload() : " (--payload prints it)"));
                out.flush();
                return ExitCodes.OK;
            }
        }
    }

    @Command(name = "retry", mixinStandardHelpOptions = true,
            description = {"Put dead letters back on their queue (attempts reset): the given ids, or --all.",
                    "A dead letter whose stored record cannot be decoded (damaged, or written by another version) cannot be"
                            + " retried: it stays, and the command says so (exit 1); look at it with 'dlq show --payload',"
                            + " then delete it with 'dlq purge'."})
    static final class Retry implements Callable<Integer> {
        @Mixin
        Target target;

        @Parameters(paramLabel = "JOB_ID", arity = "0..*", description = "Job ids to retry.")
        List<String> ids;

        @Option(names = "--all", description = "Retry every dead letter of the queue.")
        boolean all;

        @Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            requireIdsOrAll(ids, all);
            try (DeadLetters dlq = target.open()) {
                PrintWriter out = spec.commandLine().getOut();
                if (all) {
                    out.println("Retried " + dlq.retryAll(target.queue) + " dead letter(s) of queue " + target.queue + ".");
                    // retryAll leaves the letters it cannot decode: say how many, or "retried" reads as "all".
                    long undecodable = dlq.list(target.queue, (int) Math.min(Math.max(1, dlq.count(target.queue)), 10_000))
                            .stream().filter(DlqCommand::undecodable).count();
                    if (undecodable > 0) {
                        out.println(undecodable + " dead letter(s) stay: their records cannot be decoded (damaged, or written by"
                                + " another version). 'spillway dlq list -q " + target.queue + "' shows them (type ?); "
                                + advice(target.queue, "ID"));
                    }
                    out.flush();
                    return undecodable == 0 ? ExitCodes.OK : ExitCodes.FAILED;
                }
                int failed = 0;
                for (String id : ids) {
                    if (dlq.retry(target.queue, id)) {
                        out.println("retried  " + id);
                        continue;
                    }
                    failed++;
                    // retry answers false both for an id that is not a dead letter and for one it cannot decode.
                    java.util.Optional<DeadLetter> d = dlq.get(target.queue, id);
                    if (d.isEmpty()) {
                        out.println("not found " + id);
                    } else if (undecodable(d.get())) {
                        out.println("cannot retry " + id + ": its record (" + d.get().payload().length + " bytes) cannot be"
                                + " decoded (damaged, or written by another version): " + advice(target.queue, id));
                    } else {
                        out.println("not retried " + id + ": it changed while being retried; run the command again");
                    }
                }
                out.flush();
                return failed == 0 ? ExitCodes.OK : ExitCodes.FAILED;
            }
        }
    }

    @Command(name = "purge", mixinStandardHelpOptions = true,
            description = "Delete dead letters for good: the given ids, or --all --yes.")
    static final class Purge implements Callable<Integer> {
        @Mixin
        Target target;

        @Parameters(paramLabel = "JOB_ID", arity = "0..*", description = "Job ids to delete.")
        List<String> ids;

        @Option(names = "--all", description = "Delete every dead letter of the queue (needs --yes).")
        boolean all;

        @Option(names = "--yes", description = "Confirm --all.")
        boolean yes;

        @Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            requireIdsOrAll(ids, all);
            if (all && !yes) {
                throw new CliException(ExitCodes.USAGE, "--all deletes every dead letter of " + target.queue + " for good: add --yes");
            }
            try (DeadLetters dlq = target.open()) {
                PrintWriter out = spec.commandLine().getOut();
                if (all) {
                    out.println("Purged " + dlq.purgeAll(target.queue) + " dead letter(s) of queue " + target.queue + ".");
                    out.flush();
                    return ExitCodes.OK;
                }
                return eachId(out, ids, "purged    ", id -> dlq.purge(target.queue, id));
            }
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

    /** Applies {@code action} to each id, one line each; exit code FAILED if any id was not a dead letter. */
    static int eachId(PrintWriter out, List<String> ids, String doneLabel, java.util.function.Predicate<String> action) {
        int missing = 0;
        for (String id : ids) {
            boolean ok = action.test(id);
            out.println((ok ? doneLabel : "not found ") + id);
            missing += ok ? 0 : 1;
        }
        out.flush();
        return missing == 0 ? ExitCodes.OK : ExitCodes.FAILED;
    }

    static void requireIdsOrAll(List<String> ids, boolean all) {
        boolean some = ids != null && !ids.isEmpty();
        if (some == all) {
            throw new CliException(ExitCodes.USAGE, all ? "give job ids or --all, not both" : "give job ids, or --all");
        }
    }
}
