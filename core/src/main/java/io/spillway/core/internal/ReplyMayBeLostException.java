package io.spillway.core.internal;

/**
 * A call sent once ({@link RedisGateway#executeUnretried}) met a dead pooled connection: Redis may have run it, and its
 * reply is lost. Not an outage (the circuit stays closed): the caller checks what the call may have done and goes on.
 */
public final class ReplyMayBeLostException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public ReplyMayBeLostException(String message, Throwable cause) {
        super("the connection dropped, the reply may be lost: " + message, cause, false, false);
    }
}
