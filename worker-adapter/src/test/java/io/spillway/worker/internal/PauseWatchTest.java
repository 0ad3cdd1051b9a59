package io.spillway.worker.internal;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class PauseWatchTest {
    private static final long MS = 1_000_000L;

    /** The thread runs while a worker uses the watch and ends when the last one is closed (no thread left behind). */
    @Test
    void theThreadRunsWhileAWorkerUsesTheWatchAndEndsAfterTheLast() throws Exception {
        PauseWatch w = new PauseWatch(System.nanoTime());
        w.start();
        w.start();
        assertThat(w.running()).isTrue();
        w.release();
        assertThat(w.running()).as("one worker still uses it").isTrue();
        w.release();
        assertThat(w.running()).isFalse();
        long deadline = System.nanoTime() + 5_000 * MS;
        while (watchThreads() > baseline && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertThat(watchThreads()).as("its thread ended").isEqualTo(baseline);
        w.release(); // more releases than starts: nothing
        w.start();
        assertThat(w.running()).as("started again").isTrue();
        w.release();
    }

    private final long baseline = watchThreads();

    private static long watchThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().equals("spillway-pause-watch")).count();
    }

    @Test
    void aLateWakeUpIsAPauseReportedOnceToEachWindowThatItEnded() {
        long t0 = 1_000_000_000_000L;
        PauseWatch w = new PauseWatch(t0);
        for (int i = 1; i <= 30; i++) {
            w.tick(t0 + i * 100 * MS); // on time
        }
        assertThat(w.pausedAfter(t0, t0 + 3_050 * MS)).as("ticks on time").isZero();
        // Frozen for 11 s: the watch thread wakes 11 s late.
        long thaw = t0 + 3_000 * MS + 11_000 * MS;
        w.tick(thaw);
        assertThat(w.pausedAfter(t0 + 2_000 * MS, thaw + 5 * MS)).isBetween(10_800 * MS, 11_000 * MS);
        assertThat(w.pausedAfter(thaw + 5 * MS, thaw + 1_005 * MS)).as("a window begun after it").isZero();
    }

    @Test
    void aCallerThatWakesBeforeTheWatchThreadSeesThePauseToo() {
        long t0 = 5_000_000_000_000L;
        PauseWatch w = new PauseWatch(t0);
        long thaw = t0 + 12_000 * MS; // no tick since t0: the watch thread has not run yet
        assertThat(w.pausedAfter(t0 - 500 * MS, thaw)).isBetween(11_800 * MS, 12_000 * MS);
        w.tick(thaw + MS); // the watch thread, just after
        assertThat(w.pausedAfter(thaw, thaw + 1_000 * MS)).as("not again to the window that starts at the thaw").isZero();
    }

    @Test
    void aSlowTickUnderTwoSecondsIsNoPause() {
        long t0 = 9_000_000_000_000L;
        PauseWatch w = new PauseWatch(t0);
        w.tick(t0 + 1_900 * MS);
        assertThat(w.pausedAfter(t0 - MS, t0 + 1_950 * MS)).isZero();
    }
}
