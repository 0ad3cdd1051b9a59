package io.spillway.worker;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Map;

/**
 * One job as a {@link JobHandler} sees it. Immutable and safe to share between threads; the
 * {@link #payload()} array is the worker's own copy, so a handler may keep it.
 */
public interface Job {
    /** The job's id: the idempotency key the producer enqueued it with. */
    String id();

    /** The queue it was fetched from. */
    String queue();

    /** Its type: it selected the handler. */
    String type();

    /** The opaque bytes the producer enqueued. */
    byte[] payload();

    /** The payload decoded as UTF-8. */
    default String payloadAsString() {
        return new String(payload(), StandardCharsets.UTF_8);
    }

    /** Small string metadata from the producer (trace ids and the like); never null. */
    Map<String, String> headers();

    /** This run's number: 1 on the first run, 2 on the first retry, and so on. */
    int attempt();

    /** When the producer accepted the job. */
    Instant enqueuedAt();
}
