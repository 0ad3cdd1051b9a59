package io.spillway.core;

/**
 * The job was <b>not accepted</b>: Redis could not take it and the local journal is at its size cap
 * (or its disk is full). The caller still owns the job and must decide what to do with it.
 */
public final class JournalFullException extends SpillwayException {
    private static final long serialVersionUID = 1L;

    public JournalFullException(String message) {
        super(message);
    }

    public JournalFullException(String message, Throwable cause) {
        super(message, cause);
    }
}
