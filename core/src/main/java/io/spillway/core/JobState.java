package io.spillway.core;

/** Where a job is in its life. */
public enum JobState {
    /** In this producer's local journal, waiting for Redis to come back. */
    SPOOLED,
    /** In Redis, waiting for a worker. */
    QUEUED,
    /** In Redis, scheduled to run at a later time. */
    DELAYED,
    /** Fetched by a worker that holds its lease. */
    ACTIVE,
    /** Failed, waiting for its retry backoff to pass. */
    RETRYING,
    /** Handled successfully. The record expires after the completed-job retention. */
    COMPLETED,
    /** Failed for good and kept in the dead-letter set. */
    DEAD,
    /**
     * A dead letter deleted by purge. Its id is remembered for two hours (so that a producer's re-send after a Redis
     * restart cannot bring it back), then the record expires.
     */
    PURGED,
    /**
     * Cancelled before it started ({@code JobProducer.cancel}): it will not run. Kept until a worker finds it (a
     * queued, delayed or retrying job) and then for the completed-job retention; for an id Redis did not know (a job
     * that may still be spooled in a producer's journal) for a day. An enqueue of the same id meanwhile is a
     * duplicate.
     */
    CANCELLED,
    /**
     * Its cancel was requested while a worker held it ({@code JobProducer.cancel} on an active job): a job still
     * waiting in the worker for a thread is dropped unrun at the worker's next lease renewal; a running handler
     * sees {@code Job.cancelRequested()} and may stop. The job is not retried, dead-lettered or handed back (it
     * becomes {@link #CANCELLED}); a run that succeeds all the same completes it ({@link #COMPLETED}).
     */
    CANCEL_REQUESTED,
    /** Not known: never accepted, or its record has expired. */
    UNKNOWN;

    /** The one-letter code stored in Redis. */
    public char code() {
        return switch (this) {
            case SPOOLED -> 'S';
            case QUEUED -> 'Q';
            case DELAYED -> 'D';
            case ACTIVE -> 'A';
            case RETRYING -> 'R';
            case COMPLETED -> 'C';
            case DEAD -> 'X';
            case PURGED -> 'P';
            case CANCELLED -> 'K';
            case CANCEL_REQUESTED -> 'N';
            case UNKNOWN -> 'U';
        };
    }

    /** The state of a one-letter code; {@link #UNKNOWN} for anything else. */
    public static JobState ofCode(char code) {
        for (JobState s : values()) {
            if (s.code() == code) {
                return s;
            }
        }
        return UNKNOWN;
    }
}
