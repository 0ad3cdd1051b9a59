package io.spillway.bench.perf;

import java.util.zip.CRC32;

/**
 * The machine's own latency tail, with no Spillway at all: a loop of pure CPU work (CRC32 rounds over a
 * 200-byte payload) timed call by call, for several lengths of work. A machine that stops running threads now
 * and then (timer interrupts, a hypervisor) hits a share of calls equal to its interruptions per second times
 * the call's length, so past some length the p99.9 of any code is the interruption. Prints p50, p99, p99.9 and
 * the calls over 20 us per second of calls for each length.
 *
 * <pre>java -cp bench/target/classes io.spillway.bench.perf.MachineTail [calls]</pre>
 */
public final class MachineTail {
    /** What a slow call is: over 20 us. */
    static final long SLOW_NANOS = 20_000;
    /** Keeps the JIT from dropping the CRC work. */
    private static long sink;

    private MachineTail() {
    }

    public static void main(String[] args) {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
        byte[] payload = new byte[200];
        for (int rounds : new int[] {3, 9, 18, 36}) {
            crcLoop(payload, rounds, n); // warms the JIT up; the second pass is reported
            long[] lat = crcLoop(payload, rounds, n);
            long[] s = Samples.sortedCopy(lat, n);
            System.out.printf("%2d CRC32 rounds: p50 %.2f us, p99 %.2f us, p99.9 %.2f us; calls over %d us: %,.0f per second of calls%n",
                    rounds, Samples.percentile(s, 50) / 1e3, Samples.percentile(s, 99) / 1e3,
                    Samples.percentile(s, 99.9) / 1e3, SLOW_NANOS / 1000, slowPerSecond(lat));
        }
        System.out.println(sink == 42 ? "" : "done");
    }

    /** Times {@code n} calls of {@code rounds} CRC32 rounds over {@code payload}: pure CPU work, nothing else. */
    static long[] crcLoop(byte[] payload, int rounds, int n) {
        CRC32 crc = new CRC32();
        long[] lat = new long[n];
        long s = 0;
        for (int i = 0; i < n; i++) {
            long t = System.nanoTime();
            for (int k = 0; k < rounds; k++) {
                crc.update(payload);
            }
            s += crc.getValue();
            lat[i] = System.nanoTime() - t;
        }
        sink += s;
        return lat;
    }

    /**
     * Calls over {@link #SLOW_NANOS} per second spent in the calls. An interruption of the machine (a timer, the
     * hypervisor) lands in calls at a rate per second, whatever the calls do; a slow path of the code at a rate
     * per call. Equal rates for some code and a CPU loop of the same length mean the code's slow calls are the
     * machine's.
     */
    static double slowPerSecond(long[] lat) {
        long slow = 0;
        long total = 0;
        for (long v : lat) {
            total += v;
            if (v > SLOW_NANOS) {
                slow++;
            }
        }
        return slow / (total / 1e9);
    }
}
