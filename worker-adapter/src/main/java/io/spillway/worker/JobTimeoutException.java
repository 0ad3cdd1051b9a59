package io.spillway.worker;

import io.spillway.core.SpillwayException;

/**
 * The failure recorded for a job whose handler ran past the worker's job timeout
 * ({@link Worker.Builder#jobTimeout}). It is never thrown into the handler (the handler's thread is
 * interrupted instead); it names the failure in the job's status and its dead letter.
 */
public class JobTimeoutException extends SpillwayException {
    private static final long serialVersionUID = 1L;

    public JobTimeoutException(String message) {
        super(message);
    }
}
