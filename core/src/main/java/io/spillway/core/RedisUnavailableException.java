package io.spillway.core;

/**
 * An operation that needs Redis now (a status look-up, a dead-letter command) could not reach it, or
 * Redis refused the command (out of memory, loading, read-only replica). Enqueue never throws this: it
 * spools instead.
 */
public final class RedisUnavailableException extends SpillwayException {
    private static final long serialVersionUID = 1L;

    public RedisUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
