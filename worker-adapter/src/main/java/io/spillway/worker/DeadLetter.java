package io.spillway.worker;

import java.time.Instant;
import java.util.Map;
import java.util.Optional;

/**
 * A job that failed for good, as {@link DeadLetters#list} returns it.
 *
 * @param id the job id
 * @param queue its queue
 * @param type its type ("?" when the record could not be decoded)
 * @param payload its payload (the raw stored bytes when the record could not be decoded)
 * @param headers its headers
 * @param attempts handler runs it had. For a job dead-lettered because it was delivered too often without finishing
 *     (reason {@code "delivered <n> times without finishing: ..."}), its runs that ended plus the {@code n - 1}
 *     deliveries that never finished, each most likely a run its worker did not survive (a worker can also die while
 *     the job still waits for a thread). 0 for a job never run (unknown type, undecodable record)
 * @param reason why it died: "ExceptionClass: message" of the last failure, or the reason it was never
 *     run (unknown type, undecodable record)
 * @param enqueuedAt when the producer accepted it, if known
 * @param deadAt when it was dead-lettered
 */
public record DeadLetter(String id, String queue, String type, byte[] payload, Map<String, String> headers, int attempts,
                         String reason, Optional<Instant> enqueuedAt, Instant deadAt) {
    /** The exception class of {@link #reason()} ("ExceptionClass: message"), if it names one. */
    public Optional<String> exceptionClass() {
        int colon = reason.indexOf(": ");
        String head = colon > 0 ? reason.substring(0, colon) : "";
        return head.matches("[A-Za-z_$][\\w$]*(\\.[A-Za-z_$][\\w$]*)*") && head.contains(".") ? Optional.of(head) : Optional.empty();
    }
}
