package io.spillway.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.github.f4b6a3.ulid.Ulid;
import io.spillway.core.JobId;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class WallClockTest {

    @Test
    void followsTheWallClockAcrossRecalibrations() throws InterruptedException {
        // 300 ms of readings: three recalibrations at least, and every reading between the wall clock's before and after.
        long end = System.nanoTime() + 300_000_000L;
        int n = 0;
        while (System.nanoTime() < end) {
            long before = System.currentTimeMillis();
            long derived = WallClock.millis(System.nanoTime());
            long after = System.currentTimeMillis();
            // One millisecond either way: currentTimeMillis truncates, the derived clock rounds down from nanoseconds.
            assertThat(derived).isBetween(before - 1, after + 1);
            if (++n % 1000 == 0) {
                Thread.sleep(1);
            }
        }
        assertThat(n).isGreaterThan(100);
    }

    @Test
    void aReadingTakenEarlierGivesNoEarlierTimeThanOneReturnedBefore() {
        long before = System.currentTimeMillis();
        long tick = System.nanoTime();
        long now = WallClock.millis(tick);
        assertThat(now).isBetween(before - 1, System.currentTimeMillis() + 1);
        assertThat(WallClock.millis(tick - 50_000_000L)).isGreaterThanOrEqualTo(now);
        assertThat(WallClock.millis()).isGreaterThanOrEqualTo(now);
    }

    /** A monotonic clock and a wall clock the test moves, and preemptions queued for the next reads of the wall clock. */
    private static final class Sources {
        long nanos = 1_000_000_000L;
        long epochNanos = 1_800_000_000_000L * 1_000_000L;
        /** Nanoseconds that pass while the wall clock is read, once each (a preemption between the two reads). */
        final java.util.ArrayDeque<Long> preemptions = new java.util.ArrayDeque<>();

        WallClock clock() {
            return new WallClock(() -> nanos, () -> {
                long e = epochNanos;
                Long wait = preemptions.poll();
                if (wait != null) {
                    advance(wait);
                }
                return e;
            });
        }

        void advance(long n) {
            nanos += n;
            epochNanos += n;
        }

        long epochMillis() {
            return Math.floorDiv(epochNanos, 1_000_000L);
        }
    }

    @Test
    void aWallClockSlewedBackNeverMakesTheTimeGoBack() {
        // chrony's fastest slew: the wall clock runs 8.3 % slower than the monotonic clock. Each recalibration (every
        // 100 ms) finds it ~8 ms behind the time extrapolated since the last one; followed, that is a step back.
        Sources s = new Sources();
        WallClock clock = s.clock();
        long last = Long.MIN_VALUE;
        for (int i = 0; i < 3_000; i++) {
            s.nanos += 1_000_000L;
            s.epochNanos += 917_000L;
            long m = clock.at(s.nanos);
            assertThat(m).as("reading %d", i).isGreaterThanOrEqualTo(last);
            assertThat(m - s.epochMillis()).as("ahead of the wall clock by at most the slew between two recalibrations")
                    .isBetween(0L, 10L);
            last = m;
        }
        assertThat(last - 3_000).as("it went on slower, not frozen").isGreaterThan(s.epochMillis() - 3_000 - 10);
    }

    @Test
    void aThreadPreemptedBetweenItsTwoClockReadsDoesNotShiftTheTime() {
        Sources s = new Sources();
        s.preemptions.add(5_000_000L); // the first read of the wall clock waits 5 ms before the monotonic read after it
        WallClock clock = s.clock();
        assertThat(clock.at(s.nanos)).as("the second read, not cut, is taken").isEqualTo(s.epochMillis());
        // Every read cut (a loaded machine): the middle of the closest pair, half the wait off, and never back.
        s.advance(200_000_000L);
        long before = clock.at(s.nanos - 150_000_000L);
        s.preemptions.addAll(List.of(4_000_000L, 4_000_000L, 4_000_000L));
        long wall = s.epochMillis();
        long m = clock.at(s.nanos);
        assertThat(m).isGreaterThanOrEqualTo(before).isBetween(wall - 2, wall);
        long last = m;
        for (int i = 0; i < 50; i++) {
            s.advance(100_000L);
            long next = clock.at(s.nanos);
            assertThat(next).isGreaterThanOrEqualTo(last);
            last = next;
        }
    }

    @Test
    void aStepBackIsHeldUpToTenSecondsAndFollowedBeyond() {
        Sources s = new Sources();
        WallClock clock = s.clock();
        long t0 = clock.at(s.nanos);
        s.epochNanos -= 3_000_000_000L; // 3 s back: held once seen (the next recalibration)
        s.advance(150_000_000L);
        assertThat(clock.at(s.nanos)).isEqualTo(t0);
        for (int i = 0; i < 2_800; i++) {
            s.advance(1_000_000L);
            assertThat(clock.at(s.nanos)).isEqualTo(t0);
        }
        s.advance(200_000_000L);
        assertThat(clock.at(s.nanos)).as("the wall clock caught up: it goes on from there").isEqualTo(s.epochMillis())
                .isGreaterThan(t0);
        long t1 = clock.at(s.nanos);
        s.epochNanos -= (WallClock.HOLD_BACK_MILLIS + 5_000) * 1_000_000L; // 15 s back: followed
        s.advance(200_000_000L);
        assertThat(clock.at(s.nanos)).isEqualTo(s.epochMillis()).isLessThan(t1 - 14_000);
        s.advance(1_000_000L);
        assertThat(clock.at(s.nanos)).isEqualTo(s.epochMillis());
        s.epochNanos += 60_000_000_000L; // a minute ahead: followed at the next recalibration
        s.advance(200_000_000L);
        assertThat(clock.at(s.nanos)).isEqualTo(s.epochMillis());
    }

    @Test
    void mintedIdsCarryTheGivenTimeAndStayInOrder() {
        long now = System.currentTimeMillis();
        JobId a = JobId.mint(now);
        assertThat(Ulid.from(a.value()).getTime()).isEqualTo(now);
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            // Times that step back (as two threads' readings may): the ids still come out in order.
            ids.add(JobId.mint(now - (i % 3)).value());
        }
        assertThat(ids).isSorted().doesNotHaveDuplicates();
        assertThat(ids.get(0)).isGreaterThan(a.value());
        assertThat(JobId.mint().value()).isGreaterThan(ids.get(999));
        assertThatThrownBy(() -> JobId.mint(-1)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("-1");
        assertThatThrownBy(() -> JobId.mint(1L << 48)).isInstanceOf(IllegalArgumentException.class);
    }
}
