package io.spillway.core;

/**
 * Root of every exception Spillway throws through its public API. Unchecked.
 *
 * <p>Subclasses name what the caller can act on ({@link JournalFullException}, {@link
 * JournalLockedException}, {@link RedisUnavailableException}). Exceptions of Jedis, Chronicle Queue
 * and Resilience4j never cross the public API: they are translated and kept as the cause.
 */
public class SpillwayException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public SpillwayException(String message) {
        super(message);
    }

    public SpillwayException(String message, Throwable cause) {
        super(message, cause);
    }
}
