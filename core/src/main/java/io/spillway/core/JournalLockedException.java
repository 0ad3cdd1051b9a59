package io.spillway.core;

/**
 * The journal directory is held by another live process. One journal belongs to one producer process:
 * give each process its own directory.
 */
public final class JournalLockedException extends SpillwayException {
    private static final long serialVersionUID = 1L;

    public JournalLockedException(String message) {
        super(message);
    }

    public JournalLockedException(String message, Throwable cause) {
        super(message, cause);
    }
}
