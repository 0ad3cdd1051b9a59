package io.spillway.core;

/** The local journal could not be opened, read or written (I/O error, unreadable directory). */
public final class JournalException extends SpillwayException {
    private static final long serialVersionUID = 1L;

    public JournalException(String message, Throwable cause) {
        super(message, cause);
    }
}
