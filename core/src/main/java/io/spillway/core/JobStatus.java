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
 */
public record JobStatus(JobId id, QueueName queue, JobState state, int attempts, Optional<Instant> updatedAt,
                        Optional<String> lastError) {
    public static JobStatus unknown(JobId id, QueueName queue) {
        return new JobStatus(id, queue, JobState.UNKNOWN, 0, Optional.empty(), Optional.empty());
    }
}
