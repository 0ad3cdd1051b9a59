package io.spillway.worker.internal;

import java.util.concurrent.atomic.AtomicLong;

/**
 * How many jobs a worker fetches ahead of its free handler threads, and when a job fetched ahead has
 * waited too long for a thread.
 *
 * <p>A fixed prefetch (set by the user) never changes, and nothing is handed back. The default adapts to
 * how long jobs take: it keeps about {@link #BUFFER_NANOS} of work fetched ahead, from an exponentially
 * weighted average of handler durations (weight 1/8), between 0 and {@code max(concurrency, }{@value #MAX}{@code )}:
 * <ul>
 *   <li>no-op or sub-millisecond jobs: the maximum, so that one fetch brings a batch and the round trip
 *       per job vanishes;</li>
 *   <li>1 ms jobs on 4 threads: about 80;</li>
 *   <li>jobs longer than 20 ms × concurrency (an image render, a GPU call): 0, so that no job waits
 *       here, leased, while another worker could run it. A freed thread then waits for one fetch round
 *       trip, which is nothing next to such a job.</li>
 * </ul>
 * The average learns of a long job only when it ends, too late for the jobs fetched with it behind
 * instant ones. So the runtime also reports, every few tens of milliseconds, how many threads are
 * {@linkplain #held held}: running a job for longer than {@link #slowNanos()}. Only the other threads
 * count for the prefetch (none free: 0), and while every thread is held a job fetched ahead that has
 * waited longer than {@link #HOLD_NANOS} is to be handed back to the queue ({@link #handsBack}), where an
 * idle worker can take it.
 *
 * <p>It starts at 0 (nothing known yet) and follows the first completed job. Thread-safe and lock-free;
 * a racing update of {@link #current()} is set right by the next one.
 */
public final class AdaptivePrefetch {
    /** Work kept fetched ahead by the adaptive default. */
    public static final long BUFFER_NANOS = 20_000_000L;
    /** Upper bound of the adaptive default (raised to {@code concurrency} when that is larger). */
    public static final int MAX = 200;
    /**
     * A job running longer than this (and than 4 × the average) holds its thread: five times the work the
     * whole buffer is meant to hold.
     */
    public static final long SLOW_NANOS = 5 * BUFFER_NANOS;
    /** How long a job fetched ahead may wait while every thread is held before it is handed back. */
    public static final long HOLD_NANOS = 5 * BUFFER_NANOS;

    private final int concurrency;
    private final int fixed;
    private final int max;
    private final AtomicLong averageNanos = new AtomicLong(-1);
    private volatile int held;
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

    /** How long a job must have been running to hold its thread: {@link #SLOW_NANOS}, or 4 × the average if longer. */
    public long slowNanos() {
        long avg = averageNanos.get();
        return avg > SLOW_NANOS / 4 ? (avg > Long.MAX_VALUE / 8 ? Long.MAX_VALUE / 2 : 4 * avg) : SLOW_NANOS;
    }

    /** Threads now running a job for longer than {@link #slowNanos()}: they drain nothing fetched ahead. */
    public void held(int threads) {
        if (fixed >= 0) {
            return;
        }
        held = Math.max(0, Math.min(concurrency, threads));
        long avg = averageNanos.get();
        if (avg >= 0) {
            current = forAverage(avg);
        }
    }

    /** Whether a job fetched ahead that has waited this long for a thread is to go back to the queue. */
    public boolean handsBack(long waitedNanos) {
        return fixed < 0 && held >= concurrency && waitedNanos > HOLD_NANOS;
    }

    int forAverage(long avgNanos) {
        int free = concurrency - held;
        if (free <= 0) {
            return 0;
        }
        if (avgNanos <= 0) {
            return max;
        }
        double jobs = (double) free * BUFFER_NANOS / avgNanos;
        return (int) Math.max(0, Math.min(max, Math.floor(jobs)));
    }
}
