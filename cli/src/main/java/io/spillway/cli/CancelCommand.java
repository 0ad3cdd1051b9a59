package io.spillway.cli;

import io.spillway.core.JobId;
import io.spillway.core.JobState;
import io.spillway.core.JobStatus;
import io.spillway.core.QueueName;
import io.spillway.core.RedisConnection;
import io.spillway.core.internal.JobCancel;
import io.spillway.core.internal.RedisGateway;
import io.spillway.core.internal.RedisKeys;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import redis.clients.jedis.UnifiedJedis;

/**
 * {@code cancel QUEUE JOB_ID...}: cancels jobs that have not started, as {@code JobProducer.cancel} does
 * ({@link JobCancel}, outside any circuit breaker). A job that has started or ended is left as it is and makes the exit
 * code 1.
 */
@Command(name = "cancel", mixinStandardHelpOptions = true,
        description = {"Cancel jobs that have not started, so that no worker runs them.",
                "A job queued, delayed, retrying, or not in Redis yet (still spooled in a producer's journal) is cancelled."
                        + " A job a worker holds is asked to stop (CANCEL_REQUESTED: dropped unrun if it waits for a thread,"
                        + " its handler told if it runs, never retried); a job that has ended (completed, dead, purged) is"
                        + " not changed. Either way its state is printed and the exit code is 1.",
                "An id Redis does not know is kept cancelled for 24 h, so that a producer's replay of its journal skips it."
                        + " Cancelling again is harmless."},
        footer = {"", "Examples:", "  spillway cancel --redis redis://10.0.0.5:6379 orders order-42 order-43"})
final class CancelCommand implements Callable<Integer> {
    /** One id's outcome; also its {@code --json} form. */
    record Row(String queue, String jobId, JobState state, boolean cancelled) {
    }

    @Mixin
    RedisOptions redis;

    @Parameters(index = "0", paramLabel = "QUEUE", description = "The queue.")
    String queue;

    @Parameters(index = "1..*", arity = "1..*", paramLabel = "JOB_ID", description = "Job ids to cancel.")
    List<String> ids;

    @Option(names = "--json", description = "Print JSON.")
    boolean json;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        // Every name first: bad input cancels nothing.
        QueueName q;
        List<JobId> jobIds = new ArrayList<>();
        try {
            q = QueueName.of(queue);
            for (String id : ids) {
                jobIds.add(JobId.of(id));
            }
        } catch (IllegalArgumentException e) {
            throw new CliException(ExitCodes.USAGE, e.getMessage());
        }
        RedisConnection connection = redis.needs(RedisOptions.AclRules.PRODUCER).connection();
        // One line now if Redis cannot be reached or refuses the credentials.
        try (UnifiedJedis j = redis.connect()) {
            if (Boolean.FALSE.equals(StatusCommand.knownOrNull(j, q))) {
                // Cancelled all the same: its jobs may still be spooled in a journal. But most likely a typo.
                PrintWriter err = spec.commandLine().getErr();
                err.println(spec.qualifiedName() + ": warning: queue " + q.value() + " is unknown to Redis (no job was ever"
                        + " enqueued to it); cancelling anyway, in case a journal still holds its jobs. Check the name.");
                err.flush();
            }
        } catch (CliException e) {
            throw e;
        } catch (RuntimeException e) {
            throw redis.failure(connection, e);
        }
        PrintWriter out = spec.commandLine().getOut();
        int width = ids.stream().mapToInt(String::length).max().orElse(0);
        List<Row> rows = new ArrayList<>();
        try (RedisGateway gateway = new RedisGateway(connection, "cancel", 2, Duration.ofMillis(1), null)) {
            for (JobId id : jobIds) {
                Row row;
                boolean known;
                try {
                    // Only for the line printed: an id Redis does not know may be a typo.
                    known = gateway.executeDirect(c -> c.exists(RedisKeys.job(q, id)));
                    JobStatus s = JobCancel.cancel(gateway, q, id, true);
                    row = new Row(q.value(), id.value(), s.state(), s.state() == JobState.CANCELLED);
                } catch (RuntimeException e) {
                    throw redis.failurePartWay(connection, e, "cancelling", rows.size(), jobIds.size(), "job(s)");
                }
                rows.add(row);
                if (!json) {
                    out.println(String.format("%-" + width + "s  %s", row.jobId(), row.state()) + note(row, known));
                    out.flush();
                }
            }
        }
        if (json) {
            Output.json(out, rows);
        }
        List<String> late = rows.stream().filter(r -> !r.cancelled()).map(r -> r.jobId() + " " + r.state()).toList();
        if (!late.isEmpty()) {
            throw new CliException(ExitCodes.FAILED, late.size() + " of " + rows.size() + " job(s) not cancelled: a worker"
                    + " holds them (asked to stop) or they ended already (" + String.join(", ", late.subList(0, Math.min(5, late.size())))
                    + (late.size() > 5 ? ", …" : "") + ")");
        }
        return ExitCodes.OK;
    }

    /** What follows an id's state on its line: why it was not cancelled, or that Redis did not know the id. */
    private static String note(Row row, boolean known) {
        return switch (row.state()) {
            case CANCELLED -> known ? "" : " (not in Redis yet: cancelled for " + JobCancel.UNKNOWN_ID_RETENTION.toHours()
                    + " h in case a journal still holds it; check the id)";
            case CANCEL_REQUESTED -> " (a worker holds it: asked to stop; dropped if it has not started, its handler sees"
                    + " job.cancelRequested() if it has; not retried)";
            case ACTIVE -> " (started: not cancelled)";
            case COMPLETED, DEAD, PURGED -> " (ended: not cancelled)";
            default -> " (not cancelled)";
        };
    }
}
