package io.spillway.core;

import java.time.Instant;
import java.util.Optional;

/**
 * What is known of one job.
 *
 * @param id the job
 * @param queue its queue
 * @param state where it is
 * @param attempts handler runs so far: those that ended and, while {@link JobState#ACTIVE}, the one in progress (1 on
 *     the first run, as {@code Job.attempt()} in its handler); 0 before the first. A run handed back is not counted
 * @param updatedAt when the state last changed, if known
 * @param lastError the last failure ("ExceptionClass: message"), if any
 * @param progress the latest progress its handler reported with {@code Job.progress(…)}, in any run of it: written to
 *     Redis within about a second of the call, and kept as long as a completed job's status (empty if never reported,
 *     or where only the status record was read)
 */
public record JobStatus(JobId id, QueueName queue, JobState state, int attempts, Optional<Instant> updatedAt,
                        Optional<String> lastError, Optional<String> progress) {
    /** A status without progress. */
    public JobStatus(JobId id, QueueName queue, JobState state, int attempts, Optional<Instant> updatedAt,
                     Optional<String> lastError) {
        this(id, queue, state, attempts, updatedAt, lastError, Optional.empty());
    }

    public static JobStatus unknown(JobId id, QueueName queue) {
        return new JobStatus(id, queue, JobState.UNKNOWN, 0, Optional.empty(), Optional.empty());
    }

    /** This status with {@code progress} (empty if null). */
    public JobStatus withProgress(String progress) {
        return new JobStatus(id, queue, state, attempts, updatedAt, lastError, Optional.ofNullable(progress));
    }
}
