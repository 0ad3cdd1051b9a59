package io.spillway.worker;

import io.spillway.core.SpillwayException;

/**
 * Thrown by a {@link JobHandler} for a failure that running the job again cannot fix: a payload that does not
 * parse, a record that no longer exists, a request the remote side refused for good. The job is dead-lettered at
 * once, whatever attempts its {@link RetryPolicy} has left, with this exception's class and message as the reason
 * ({@link DeadLetter#reason()}); {@link DeadLetters#retry} still runs it again, for when the cause has been fixed.
 *
 * <p>It is found anywhere in the cause chain of what the handler threw, so a framework or helper that wraps it does
 * not turn it back into a retryable failure; the reason is then still its class and message, followed by the
 * outermost wrapper's class ({@code "...NonRetryableException: not a PNG: GIF (wrapped in java.lang.RuntimeException)"}).
 * Every other exception is retried by the policy.
 *
 * <pre>{@code
 * .handler("render", job -> {
 *     Image img = Images.parse(job.payload());    // throws on a corrupt payload
 *     ...
 * })
 * // in Images.parse:  throw new NonRetryableException("not a PNG: " + header);
 * }</pre>
 */
public class NonRetryableException extends SpillwayException {
    private static final long serialVersionUID = 1L;

    public NonRetryableException(String message) {
        super(message);
    }

    public NonRetryableException(String message, Throwable cause) {
        super(message, cause);
    }
}
