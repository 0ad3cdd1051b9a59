package io.spillway.worker.internal;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class AdaptivePrefetchTest {
    private static final long MS = 1_000_000L;

    private static AdaptivePrefetch after(AdaptivePrefetch p, long nanos, int runs) {
        for (int i = 0; i < runs; i++) {
            p.record(nanos);
        }
        return p;
    }

    @Test
    void startsAtZeroAndFollowsTheFirstJob() {
        AdaptivePrefetch p = new AdaptivePrefetch(4, -1);
        assertThat(p.adaptive()).isTrue();
        assertThat(p.current()).isZero();
        p.record(MS);
        assertThat(p.current()).isEqualTo(80);
    }

    @Test
    void shortJobsFetchAheadUpToTheCap() {
        assertThat(after(new AdaptivePrefetch(4, -1), 10_000, 50).current()).isEqualTo(AdaptivePrefetch.MAX);
        assertThat(after(new AdaptivePrefetch(4, -1), 0, 5).current()).isEqualTo(AdaptivePrefetch.MAX);
        // Many threads: the cap is at least the thread count.
        assertThat(after(new AdaptivePrefetch(500, -1), 10_000, 50).current()).isEqualTo(500);
    }

    @Test
    void longJobsAreNotFetchedAhead() {
        assertThat(after(new AdaptivePrefetch(4, -1), 100 * MS, 50).current()).isZero();
        assertThat(after(new AdaptivePrefetch(4, -1), 80 * MS, 50).current()).isEqualTo(1);
        assertThat(after(new AdaptivePrefetch(1, -1), 10 * 60_000 * MS, 3).current()).isZero();
    }

    @Test
    void theAverageMovesWithTheWorkload() {
        AdaptivePrefetch p = after(new AdaptivePrefetch(4, -1), 10_000, 50);
        after(p, 500 * MS, 60);
        assertThat(p.current()).isZero();
        after(p, 10_000, 200);
        assertThat(p.current()).isEqualTo(AdaptivePrefetch.MAX);
    }

    @Test
    void threadsHeldByALongJobDrainNothingFetchedAhead() {
        AdaptivePrefetch p = after(new AdaptivePrefetch(4, -1), MS, 50);
        assertThat(p.current()).isEqualTo(80);
        p.held(1);
        assertThat(p.current()).isEqualTo(60);
        assertThat(p.handsBack(10 * AdaptivePrefetch.HOLD_NANOS)).as("one thread still free").isFalse();
        p.held(4);
        assertThat(p.current()).isZero();
        assertThat(p.handsBack(AdaptivePrefetch.HOLD_NANOS / 2)).as("waited briefly").isFalse();
        assertThat(p.handsBack(AdaptivePrefetch.HOLD_NANOS + 1)).isTrue();
        p.held(0);
        assertThat(p.current()).isEqualTo(80);
        assertThat(p.handsBack(10 * AdaptivePrefetch.HOLD_NANOS)).isFalse();
        // Instant jobs: all threads held drops even the cap to 0.
        AdaptivePrefetch instant = after(new AdaptivePrefetch(2, -1), 0, 5);
        instant.held(2);
        assertThat(instant.current()).isZero();
    }

    @Test
    void aJobIsSlowPastAFloorOrFourTimesTheAverage() {
        AdaptivePrefetch p = new AdaptivePrefetch(2, -1);
        assertThat(p.slowNanos()).isEqualTo(AdaptivePrefetch.SLOW_NANOS);
        after(p, 10_000, 10);
        assertThat(p.slowNanos()).isEqualTo(AdaptivePrefetch.SLOW_NANOS);
        after(p, 1_000 * MS, 100);
        assertThat(p.slowNanos()).isBetween(3_900 * MS, 4_000 * MS);
        after(p, Long.MAX_VALUE / 2, 100);
        assertThat(p.slowNanos()).isPositive();
    }

    @Test
    void aFixedPrefetchNeverChanges() {
        AdaptivePrefetch p = new AdaptivePrefetch(4, 7);
        assertThat(p.adaptive()).isFalse();
        after(p, 10_000, 50);
        assertThat(p.current()).isEqualTo(7);
        after(p, 500 * MS, 50);
        assertThat(p.current()).isEqualTo(7);
        p.held(4);
        assertThat(p.current()).isEqualTo(7);
        assertThat(p.handsBack(Long.MAX_VALUE)).as("a fixed prefetch keeps what it fetched").isFalse();
    }
}
