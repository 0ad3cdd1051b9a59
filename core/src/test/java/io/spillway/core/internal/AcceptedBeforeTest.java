package io.spillway.core.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.spillway.core.JobId;
import io.spillway.core.QueueName;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@link Replayer#acceptedBefore}, by which a successor merges its predecessor's direct writes with the journal's
 * records: by the time each was accepted, then within one millisecond by two minted ids' order; otherwise the write
 * first (the two parts of a call or an {@code enqueueAll} cut by a Redis failure).
 */
class AcceptedBeforeTest {
    private static JobRecord job(String id, long at) {
        return new JobRecord(JobId.of(id), QueueName.of("q"), "t", new byte[] {1}, Map.of(), 0, at, 0);
    }

    private static JobRecord minted(long at) {
        // As JobProducer does: the id minted from the same clock reading as enqueuedAt.
        return new JobRecord(JobId.mint(at), QueueName.of("q"), "t", new byte[] {1}, Map.of(), 0, at, 0);
    }

    @Test
    void byTheTimeEachWasAcceptedThenByMintedIdsWithinAMillisecond() {
        long t = System.currentTimeMillis();
        assertThat(Replayer.acceptedBefore(job("order-7", t), job("order-8", t + 1))).isTrue();
        assertThat(Replayer.acceptedBefore(job("order-8", t + 1), job("order-7", t))).isFalse();
        JobRecord first = minted(t);
        JobRecord second = minted(t);
        assertThat(Replayer.acceptedBefore(first, second)).isTrue();
        assertThat(Replayer.acceptedBefore(second, first)).isFalse();
        assertThat(Replayer.acceptedBefore(first, first)).as("the same job").isFalse();
    }

    @Test
    void aTieWithACallersIdPutsTheWriteFirst() {
        long t = System.currentTimeMillis();
        // An enqueueAll of caller ids cut by a failure: its answered part went straight to Redis, the rest spooled.
        assertThat(Replayer.acceptedBefore(job("order-1", t), job("order-2", t))).isTrue();
        assertThat(Replayer.acceptedBefore(minted(t), job("order-2", t))).isTrue();
    }

    /** Found by a review: a caller's id minted ahead of the call (kept for retries) says nothing of when it was accepted. */
    @Test
    void aCallersIdMintedAheadGoesByTheTimeItWasAccepted() {
        long t = System.currentTimeMillis();
        JobId early = JobId.mint(t - 5_000);
        JobRecord write = minted(t);
        JobRecord spooledLater = new JobRecord(early, QueueName.of("q"), "t", new byte[] {1}, Map.of(), 0, t + 3, 0);
        assertThat(Replayer.acceptedBefore(write, spooledLater)).isTrue();
    }
}
