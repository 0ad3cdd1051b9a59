package io.spillway.bench.chaos;

import java.util.Arrays;

/**
 * A mergeable histogram of latencies in nanoseconds with about 3% resolution: bucket {@code 32·e + m}
 * holds values whose highest set bit is {@code e + 5} and whose next five bits are {@code m} (values
 * below 64 ns have their own buckets). Producers write their buckets to a summary file; the harness adds
 * the buckets of every producer incarnation and reads the percentiles of the whole run from the sum.
 *
 * <p>Not thread-safe: one writer, or external locking.
 */
final class LatencyHistogram {
    private static final int SUB_BITS = 5;
    private static final int SUB = 1 << SUB_BITS;
    static final int BUCKETS = SUB * 60;

    private final long[] counts;
    private long max;

    LatencyHistogram() {
        this(new long[BUCKETS], 0);
    }

    private LatencyHistogram(long[] counts, long max) {
        this.counts = counts;
        this.max = max;
    }

    /** Rebuilds a histogram from {@link #counts()} and {@link #max()}, as written to a summary file. */
    static LatencyHistogram of(long[] counts, long max) {
        if (counts.length != BUCKETS) {
            throw new IllegalArgumentException("counts must have " + BUCKETS + " buckets, but had " + counts.length);
        }
        return new LatencyHistogram(counts.clone(), max);
    }

    void record(long nanos) {
        long v = Math.max(0, nanos);
        counts[index(v)]++;
        max = Math.max(max, v);
    }

    void add(LatencyHistogram other) {
        for (int i = 0; i < BUCKETS; i++) {
            counts[i] += other.counts[i];
        }
        max = Math.max(max, other.max);
    }

    long count() {
        return Arrays.stream(counts).sum();
    }

    long max() {
        return max;
    }

    long[] counts() {
        return counts.clone();
    }

    /** The upper bound of the bucket holding the {@code q}-quantile (0 when empty). */
    long percentile(double q) {
        long total = count();
        if (total == 0) {
            return 0;
        }
        long rank = (long) Math.ceil(q * total);
        long seen = 0;
        for (int i = 0; i < BUCKETS; i++) {
            seen += counts[i];
            if (seen >= rank) {
                return Math.min(upperBound(i), max);
            }
        }
        return max;
    }

    static int index(long v) {
        if (v < 2L * SUB) {
            return (int) v;
        }
        int top = 63 - Long.numberOfLeadingZeros(v);
        int e = top - SUB_BITS;
        int m = (int) ((v >>> (top - SUB_BITS)) & (SUB - 1));
        return Math.min(BUCKETS - 1, SUB * (e + 1) + m);
    }

    static long upperBound(int index) {
        if (index < 2 * SUB) {
            return index;
        }
        int e = index / SUB - 1;
        int m = index % SUB;
        int top = e + SUB_BITS;
        long base = (1L << top) | ((long) m << (top - SUB_BITS));
        return base + (1L << (top - SUB_BITS)) - 1;
    }
}
