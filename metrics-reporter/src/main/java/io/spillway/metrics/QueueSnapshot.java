package io.spillway.metrics;

import io.spillway.core.internal.Arguments;
import java.time.Instant;

/**
 * One queue's figures as Redis held them at {@code readAt}.
 *
 * @param queue the queue name
 * @param waiting jobs ready in the stream and not yet fetched by any worker
 * @param inFlight jobs fetched by a worker and not yet acknowledged (the consumer group's pending entries)
 * @param delayed jobs waiting for their run-at time (delays and retries with backoff)
 * @param dead dead-lettered jobs
 * @param workers workers seen on the queue in the last 60 s ({@code ZCOUNT} of the workers set over that window, as
 *     {@code spillway status} counts them): a worker killed without a graceful close drops out within a minute
 * @param readAt when the figures were read
 */
public record QueueSnapshot(String queue, long waiting, long inFlight, long delayed, long dead, long workers,
                            Instant readAt) {
    public QueueSnapshot {
        Arguments.notNull(queue, "queue");
        Arguments.notNull(readAt, "readAt");
        if (waiting < 0 || inFlight < 0 || delayed < 0 || dead < 0 || workers < 0) {
            throw new IllegalArgumentException("queue figures must be >= 0, but were waiting=" + waiting + " inFlight="
                    + inFlight + " delayed=" + delayed + " dead=" + dead + " workers=" + workers);
        }
    }

    /** Jobs of this queue in Redis that are not finished: waiting + in flight + delayed. */
    public long unfinished() {
        return waiting + inFlight + delayed;
    }
}
