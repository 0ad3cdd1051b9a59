package io.spillway.worker.internal;

import java.util.concurrent.atomic.AtomicLong;

/**
 * How many jobs a worker fetches ahead of its free handler threads.
 *
 * <p>A fixed prefetch (set by the user) never changes. The default adapts to how long jobs take: it keeps
 * about {@link #BUFFER_NANOS} of work fetched ahead, from an exponentially weighted average of handler
 * durations (weight 1/8), between 0 and {@code max(concurrency, }{@value #MAX}{@code )}:
 * <ul>
 *   <li>no-op or sub-millisecond jobs: the maximum, so that one fetch brings a batch and the round trip
 *       per job vanishes;</li>
 *   <li>1 ms jobs on 4 threads: about 80;</li>
 *   <li>jobs longer than 20 ms × concurrency (an image render, a GPU call): 0, so that no job waits
 *       here, leased, while another worker could run it. A freed thread then waits for one fetch round
 *       trip, which is nothing next to such a job.</li>
 * </ul>
 * It starts at 0 (nothing known yet) and follows the first completed job. Thread-safe and lock-free.
 */
public final class AdaptivePrefetch {
    /** Work kept fetched ahead by the adaptive default. */
    public static final long BUFFER_NANOS = 20_000_000L;
    /** Upper bound of the adaptive default (raised to {@code concurrency} when that is larger). */
    public static final int MAX = 200;

    private final int concurrency;
    private final int fixed;
    private final int max;
    private final AtomicLong averageNanos = new AtomicLong(-1);
    private volatile int current;

    /** @param fixed a prefetch set by the user, or a negative number for the adaptive default */
    public AdaptivePrefetch(int concurrency, int fixed) {
        this.concurrency = concurrency;
        this.fixed = fixed;
        this.max = Math.max(concurrency, MAX);
        this.current = fixed >= 0 ? fixed : 0;
    }

    public boolean adaptive() {
        return fixed < 0;
    }

    /** The prefetch to use now. */
    public int current() {
        return current;
    }

    /** The average handler duration seen so far, or -1 before the first job. */
    public long averageNanos() {
        return averageNanos.get();
    }

    /** Records one handler run (success or failure) and adapts. */
    public void record(long durationNanos) {
        if (fixed >= 0) {
            return;
        }
        long d = Math.max(0, durationNanos);
        long avg = averageNanos.updateAndGet(a -> a < 0 ? d : a + (d - a) / 8);
        current = forAverage(avg);
    }

    int forAverage(long avgNanos) {
        if (avgNanos <= 0) {
            return max;
        }
        double jobs = (double) concurrency * BUFFER_NANOS / avgNanos;
        return (int) Math.max(0, Math.min(max, Math.floor(jobs)));
    }
}
