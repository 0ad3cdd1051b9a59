package io.spillway.core.internal;

import io.spillway.core.JobId;
import io.spillway.core.QueueName;
import java.util.Map;
import java.util.Objects;

/**
 * One job as it travels: in the journal, in a Redis stream entry, in the delayed set and in the dead
 * letters. Immutable; the payload array is not copied (callers hand it over).
 *
 * @param id idempotency key
 * @param queue target queue
 * @param type the job type that selects the worker's handler
 * @param payload opaque bytes
 * @param headers small string metadata (trace ids and the like)
 * @param attempt handler runs that have ended for this job (0 when new)
 * @param enqueuedAt epoch millis when the producer accepted it
 * @param runAt epoch millis before which it must not run (0: at once)
 */
public record JobRecord(JobId id, QueueName queue, String type, byte[] payload, Map<String, String> headers,
                        int attempt, long enqueuedAt, long runAt) {
    public JobRecord {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(queue, "queue");
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(payload, "payload");
        headers = headers == null ? Map.of() : headers;
    }

    public JobRecord withAttempt(int next, long newRunAt) {
        return new JobRecord(id, queue, type, payload, headers, next, enqueuedAt, newRunAt);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof JobRecord r && r.id.equals(id) && r.queue.equals(queue) && r.type.equals(type)
                && java.util.Arrays.equals(r.payload, payload) && r.headers.equals(headers) && r.attempt == attempt
                && r.enqueuedAt == enqueuedAt && r.runAt == runAt;
    }

    @Override
    public int hashCode() {
        return Objects.hash(id, queue, type, java.util.Arrays.hashCode(payload), headers, attempt, enqueuedAt, runAt);
    }

    @Override
    public String toString() {
        return "JobRecord[" + queue + "/" + id + " type=" + type + " attempt=" + attempt + " bytes=" + payload.length + "]";
    }
}
