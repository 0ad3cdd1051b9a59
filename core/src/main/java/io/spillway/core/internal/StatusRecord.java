package io.spillway.core.internal;

import io.spillway.core.JobId;
import io.spillway.core.JobState;
import io.spillway.core.JobStatus;
import io.spillway.core.QueueName;
import java.time.Instant;
import java.util.Optional;

/**
 * The value of {@code spillway:{q}:job:<id>}: {@code <state code>|<attempts>|<updated epoch ms>|<last error>}.
 * The last error may itself hold '|': it is everything after the third one. Written by the enqueue
 * script (Q or D) and by the worker's scripts afterwards.
 */
public final class StatusRecord {
    /** Longest error text kept in a status record or dead letter. */
    public static final int MAX_ERROR_CHARS = 1000;

    private StatusRecord() {
    }

    public static String encode(JobState state, int attempts, long updatedAt, String lastError) {
        return state.code() + "|" + attempts + "|" + updatedAt + "|" + (lastError == null ? "" : truncate(lastError));
    }

    public static String truncate(String error) {
        return error.length() <= MAX_ERROR_CHARS ? error : error.substring(0, MAX_ERROR_CHARS) + "…";
    }

    /** Decodes a status record; a null or malformed value gives {@link JobState#UNKNOWN}. */
    public static JobStatus decode(JobId id, QueueName queue, String value) {
        if (value == null || value.length() < 2 || value.charAt(1) != '|') {
            return JobStatus.unknown(id, queue);
        }
        String[] parts = value.split("\\|", 4);
        JobState state = JobState.ofCode(value.charAt(0));
        try {
            int attempts = parts.length > 1 ? Integer.parseInt(parts[1]) : 0;
            Optional<Instant> updated = parts.length > 2 && !parts[2].isEmpty()
                    ? Optional.of(Instant.ofEpochMilli(Long.parseLong(parts[2]))) : Optional.empty();
            Optional<String> error = parts.length > 3 && !parts[3].isEmpty() ? Optional.of(parts[3]) : Optional.empty();
            return new JobStatus(id, queue, state, attempts, updated, error);
        } catch (NumberFormatException e) {
            return new JobStatus(id, queue, state, 0, Optional.empty(), Optional.empty());
        }
    }
}
