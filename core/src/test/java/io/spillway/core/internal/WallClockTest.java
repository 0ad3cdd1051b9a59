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
    void aReadingTakenEarlierGivesThatEarlierTime() {
        // The tick is bracketed by wall-clock readings: a thread preempted between two readings cannot fail the test.
        long before = System.currentTimeMillis();
        long tick = System.nanoTime();
        long after = System.currentTimeMillis();
        assertThat(WallClock.millis(tick - 5_000_000_000L)).isBetween(before - 5_002, after - 4_998);
        assertThat(WallClock.millis(tick - 50_000_000L)).isBetween(before - 52, after - 48);
        assertThat(WallClock.millis()).isBetween(before - 1, System.currentTimeMillis() + 1);
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
