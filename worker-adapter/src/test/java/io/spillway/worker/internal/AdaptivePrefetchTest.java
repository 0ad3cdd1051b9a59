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
    void aFixedPrefetchNeverChanges() {
        AdaptivePrefetch p = new AdaptivePrefetch(4, 7);
        assertThat(p.adaptive()).isFalse();
        after(p, 10_000, 50);
        assertThat(p.current()).isEqualTo(7);
        after(p, 500 * MS, 50);
        assertThat(p.current()).isEqualTo(7);
    }
}
