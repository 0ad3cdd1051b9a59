package io.spillway.core.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.spillway.core.JobId;
import io.spillway.core.QueueName;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@link Replayer#acceptedBefore}, by which a successor merges its predecessor's direct writes with the journal's
 * records: minted ids by their order, even when the wall clock stepped back between two calls (found by a review).
 */
class AcceptedBeforeTest {
    private static JobRecord job(long at) {
        // As JobProducer.newRecord: the id minted from the same reading as enqueuedAt.
        return new JobRecord(JobId.mint(at), QueueName.of("q"), "t", new byte[] {1}, Map.of(), 0, at, at);
    }

    @Test
    void aJobAcceptedAfterAWallClockStepBackIsTakenAsAcceptedBefore() {
        long t = System.currentTimeMillis();
        JobRecord first = job(t);          // e.g. a direct write (predecessor's sent log)
        JobRecord second = job(t - 2_000); // the next call, after NTP stepped the clock back 2 s (e.g. spooled)
        // The ids keep the order (JobId.mint is monotonic across steps back of up to 10 s) ...
        assertThat(first.id().value()).isLessThan(second.id().value());
        // ... but acceptedBefore compares enqueuedAt first and says the opposite.
        assertThat(Replayer.acceptedBefore(first, second)).as("first accepted before second").isTrue();
    }

    @Test
    void callerChosenIdsGoByTheTimeTheyWereAcceptedAndATieIsNotBefore() {
        JobRecord a = new JobRecord(JobId.of("order-7"), QueueName.of("q"), "t", new byte[] {1}, Map.of(), 0, 1_000, 0);
        JobRecord b = new JobRecord(JobId.of("order-8"), QueueName.of("q"), "t", new byte[] {1}, Map.of(), 0, 1_001, 0);
        JobRecord c = new JobRecord(JobId.of("order-9"), QueueName.of("q"), "t", new byte[] {1}, Map.of(), 0, 1_001, 0);
        assertThat(Replayer.acceptedBefore(a, b)).isTrue();
        assertThat(Replayer.acceptedBefore(b, a)).isFalse();
        assertThat(Replayer.acceptedBefore(b, c)).as("same millisecond, caller ids: not known").isFalse();
        assertThat(Replayer.acceptedBefore(c, b)).isFalse();
        JobRecord minted = job(1_001);
        assertThat(Replayer.acceptedBefore(a, minted)).as("one minted, one not: by time").isTrue();
    }
}
