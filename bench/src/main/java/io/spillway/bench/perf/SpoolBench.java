package io.spillway.bench.perf;

import com.codahale.metrics.MetricRegistry;
import io.spillway.backend.JobProducer;
import io.spillway.backend.Receipt;
import io.spillway.core.Durability;
import io.spillway.core.HealthState;
import io.spillway.core.JobId;
import io.spillway.core.QueueName;
import io.spillway.core.RedisConnection;
import io.spillway.core.internal.ChronicleJournal;
import io.spillway.core.internal.JobCodec;
import io.spillway.core.internal.JobRecord;
import io.spillway.core.internal.RedisGateway;
import io.spillway.core.internal.RedisKeys;
import io.spillway.core.internal.Replayer;
import io.spillway.testing.FreePorts;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.Socket;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import redis.clients.jedis.Jedis;

/**
 * Issue 2 figures about Redis being away:
 * <ol>
 *   <li>enqueue latency while spooling (Redis down from the start: a port nothing listens on);</li>
 *   <li>how long the caller waits when Redis starts refusing (SIGKILL) and when it hangs (SIGSTOP), and
 *       how long the producer takes to replay and be CONNECTED again after Redis is back;</li>
 *   <li>replay of a journal of {@code replayJobs} jobs: the Replayer alone, and a producer opened on it.</li>
 * </ol>
 */
final class SpoolBench {
    static final long BIG_JOURNAL = 64L << 30;
    private final Env env;
    private final Results results;

    SpoolBench(Env env, Results results) {
        this.env = env;
        this.results = results;
    }

    /** Percentiles in ns of {@code n} enqueues while Redis is down; returns the raw sorted latencies. */
    long[] spoolLatency() {
        int warm = env.scale(200_000, 50_000);
        int n = env.scale(1_000_000, 200_000);
        long[] last = new long[0];
        for (int rep = 0; rep < env.reps; rep++) {
            Path dir = env.freshDir("spool");
            URI dead = URI.create("redis://127.0.0.1:" + FreePorts.next());
            try (JobProducer p = JobProducer.builder().redis(dead).journalDir(dir).journalMaxBytes(BIG_JOURNAL).build()) {
                for (int i = 0; i < warm; i++) {
                    p.enqueue("bench-spool", "noop", env.payload);
                }
                long[] lat = new long[n];
                boolean allSpooled = true;
                for (int i = 0; i < n; i++) {
                    long t = System.nanoTime();
                    Receipt r = p.enqueue("bench-spool", "noop", env.payload);
                    lat[i] = System.nanoTime() - t;
                    allSpooled &= r.spooled();
                }
                long[] s = Samples.sortedCopy(lat, n);
                results.add("spool.p50", Samples.percentile(s, 50) / 1e3);
                results.add("spool.p99", Samples.percentile(s, 99) / 1e3);
                results.add("spool.p999", Samples.percentile(s, 99.9) / 1e3);
                results.add("spool.max", s[n - 1] / 1e3);
                double mean = 0;
                for (long v : lat) {
                    mean += v;
                }
                results.add("spool.throughput", n / (mean / 1e9));
                double spoolRate = MachineTail.slowPerSecond(lat);
                results.add("spool.slowPerSecond", spoolRate);
                Env.log("spool latency p50 %.2f p99 %.2f p99.9 %.2f max %.0f us (all spooled: %s); calls over %d us: %.0f per"
                                + " second of calls", Samples.percentile(s, 50) / 1e3, Samples.percentile(s, 99) / 1e3,
                        Samples.percentile(s, 99.9) / 1e3, s[n - 1] / 1e3, allSpooled, MachineTail.SLOW_NANOS / 1000, spoolRate);
                // The control: the same loop around pure CPU work of the same length as a spooled enqueue (CRC32
                // rounds over the payload, as many as take the spool's p50), no file, no allocation, no call. On a
                // VM the machine interrupts a running thread now and then (here about a thousand times a second, for
                // tens of microseconds): the longer each timed call, the larger the share of calls that such an
                // interruption lands in, so a control shorter than the enqueue would hide the floor it sets.
                int rounds = controlRounds(Samples.percentile(s, 50));
                lat = MachineTail.crcLoop(env.payload, rounds, n);
                long[] c = Samples.sortedCopy(lat, n);
                results.add("spool.control.rounds", rounds);
                results.add("spool.control.p50", Samples.percentile(c, 50) / 1e3);
                results.add("spool.control.p99", Samples.percentile(c, 99) / 1e3);
                results.add("spool.control.p999", Samples.percentile(c, 99.9) / 1e3);
                double controlRate = MachineTail.slowPerSecond(lat);
                results.add("spool.control.slowPerSecond", controlRate);
                Env.log("control loop (%d CRC32 rounds, no I/O) p50 %.2f p99 %.2f p99.9 %.2f max %.0f us; calls over %d us:"
                                + " %.0f per second of calls", rounds, Samples.percentile(c, 50) / 1e3,
                        Samples.percentile(c, 99) / 1e3, Samples.percentile(c, 99.9) / 1e3, c[n - 1] / 1e3,
                        MachineTail.SLOW_NANOS / 1000, controlRate);
                last = s;
            } finally {
                Env.deleteRecursively(dir);
            }
        }
        return last;
    }

    /** How long {@code rounds} CRC32 rounds over the payload take at p50. */
    private long controlRoundsNanos(int rounds) {
        int n = 200_000;
        return (long) Samples.percentile(Samples.sortedCopy(MachineTail.crcLoop(env.payload, rounds, n), n), 50);
    }

    /** How many CRC32 rounds over the payload take {@code targetNanos} (the spool's p50): measured, at least 1. */
    private int controlRounds(double targetNanos) {
        controlRoundsNanos(16); // JIT warm-up
        long per16 = Math.max(1, controlRoundsNanos(16));
        return (int) Math.max(1, Math.round(16.0 * targetNanos / per16));
    }

    /**
     * The caller's wait when Redis starts refusing (kill) or hangs (hang), then the way back: three faults of each
     * kind per repetition (at least nine), since one fault's figure moves by half a millisecond with whatever else
     * the 2 cores run at that moment, and the target is 1 ms.
     */
    void transitions() throws Exception {
        int reps = 3 * Math.max(3, env.reps);
        for (String kind : new String[] {"refused", "hang"}) {
            for (int rep = 0; rep < reps; rep++) {
                transition(kind);
            }
        }
    }

    private void transition(String kind) throws Exception {
        env.flush();
        Path dir = env.freshDir("transition");
        String queue = "bench-transition-" + System.nanoTime();
        try (JobProducer p = JobProducer.builder().redis(env.uri()).journalDir(dir)
                .reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(200)).build()) {
            AtomicBoolean stop = new AtomicBoolean();
            long[] firstSpooledStart = {-1};
            long[] firstSpooledLatency = {-1};
            long[] firstSpooledEnd = {-1};
            long[] firstSpooledCpu = {-1};
            long[] maxLatency = {0};
            long[] accepted = {0};
            long[] faultAt = {Long.MAX_VALUE};
            // When Redis began refusing: the moment an idle observer connection sees its end of stream (the
            // kernel closes the killed server's sockets, listening one included, together). The kill itself
            // (SIGKILL, the kernel tearing the process down, waitFor) takes milliseconds on either side of it.
            AtomicLong refusedAt = new AtomicLong(Long.MAX_VALUE);
            AtomicLong downUntil = new AtomicLong(Long.MAX_VALUE);
            long[] maxAfterRefused = {0};
            long[] callsAfterRefused = {0};
            Thread observer = null;
            Socket observed = null;
            if (kind.equals("refused")) {
                observed = new Socket("127.0.0.1", env.port());
                Socket s = observed;
                observer = new Thread(() -> {
                    try {
                        while (s.getInputStream().read() >= 0) {
                            // Redis never writes to a connection that sent nothing.
                        }
                    } catch (IOException e) {
                        // A reset is an end of stream too.
                    }
                    refusedAt.set(System.nanoTime());
                }, "transition-observer");
                observer.setDaemon(true);
                observer.start();
            }
            Thread load = new Thread(() -> {
                ThreadMXBean mx = ManagementFactory.getThreadMXBean();
                while (!stop.get()) {
                    long cpu0 = mx.getCurrentThreadCpuTime();
                    long t = System.nanoTime();
                    Receipt r = p.enqueue(queue, "noop", env.payload);
                    long end = System.nanoTime();
                    long cpu = mx.getCurrentThreadCpuTime() - cpu0;
                    accepted[0]++;
                    if (t >= refusedAt.get() && end < downUntil.get()) {
                        maxAfterRefused[0] = Math.max(maxAfterRefused[0], end - t);
                        callsAfterRefused[0]++;
                    }
                    if (end > faultAt[0]) {
                        maxLatency[0] = Math.max(maxLatency[0], end - t);
                        if (r.spooled() && firstSpooledStart[0] < 0) {
                            firstSpooledStart[0] = t;
                            firstSpooledEnd[0] = end;
                            firstSpooledLatency[0] = end - t;
                            firstSpooledCpu[0] = cpu;
                        }
                    }
                    LockSupport.parkNanos(200_000); // ~4,000 enqueues/s: a busy backend, not a flood the replay must outrun
                }
            }, "transition-load");
            load.start();
            Thread.sleep(500);
            long fault = System.nanoTime();
            faultAt[0] = fault;
            if (kind.equals("refused")) {
                env.redis.kill();
            } else {
                env.redis.hang();
            }
            long faultDone = System.nanoTime();
            if (observer != null) {
                observer.join(5_000);
                observed.close();
            } else {
                refusedAt.set(faultDone); // SIGSTOP: in effect once the signal was sent
            }
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (firstSpooledEnd[0] < 0 && System.nanoTime() < deadline) {
                Thread.sleep(1);
            }
            Thread.sleep(1_000);
            downUntil.set(System.nanoTime());
            long back = System.nanoTime();
            if (kind.equals("refused")) {
                env.redis.restart();
            } else {
                env.redis.resume();
            }
            long backUp = System.nanoTime();
            deadline = System.nanoTime() + 60_000_000_000L;
            while ((p.state() != HealthState.CONNECTED || p.journalBacklog() > 0) && System.nanoTime() < deadline) {
                Thread.sleep(1);
            }
            long recovered = System.nanoTime();
            stop.set(true);
            load.join();
            if (firstSpooledEnd[0] < 0) {
                env.log("transition %s: no enqueue spooled within 5 s", kind);
                results.note("transition." + kind, "no enqueue spooled within 5 s of the fault");
                return;
            }
            results.add("transition." + kind + ".firstSpooledCallMs", firstSpooledLatency[0] / 1e6);
            long refused = refusedAt.get();
            // From Redis refusing (SIGKILL) or stopped (SIGSTOP) to the first enqueue back from the journal; a call
            // in flight at the kill counts only from then on.
            results.add("transition." + kind + ".faultToJournalMs", (firstSpooledEnd[0] - refused) / 1e6);
            // The caller's wait for calls started after that, until Redis was started again.
            results.add("transition." + kind + ".maxCallAfterFaultMs", maxAfterRefused[0] / 1e6);
            results.add("transition." + kind + ".maxCallMs", maxLatency[0] / 1e6);
            results.add("transition." + kind + ".recoveryMs", (recovered - backUp) / 1e6);
            Env.log("transition %s: fault->journal %.3f ms; calls started after the fault (%d) waited at most %.3f ms;"
                            + " first spooled call %.3f ms (started %.3f ms before the fault took effect; kill/stop %.3f ms,"
                            + " took effect at +%.3f ms; its thread's CPU time %.3f ms); max call %.3f ms; Redis back -> CONNECTED+drained %.0f ms (%d jobs)",
                    kind, (firstSpooledEnd[0] - refused) / 1e6, callsAfterRefused[0], maxAfterRefused[0] / 1e6,
                    firstSpooledLatency[0] / 1e6, (refused - firstSpooledStart[0]) / 1e6, (faultDone - fault) / 1e6,
                    (refused - fault) / 1e6, firstSpooledCpu[0] / 1e6, maxLatency[0] / 1e6, (recovered - backUp) / 1e6, accepted[0]);
        } finally {
            if (!env.redis.isAlive()) {
                env.redis.restart();
            } else if (env.redis.isHung()) {
                env.redis.resume();
            }
            Env.deleteRecursively(dir);
        }
    }

    /** Replay of a journal of N jobs: the Replayer alone, then a producer opened on such a journal. */
    void replay() throws Exception {
        int n = env.scale(1_000_000, 200_000);
        int reps = env.quick ? 1 : Math.min(3, env.reps);
        QueueName q = QueueName.of("bench-replay");
        for (int rep = 0; rep < reps; rep++) {
            // 1. The Replayer alone.
            env.flush();
            Path dir = env.freshDir("replay");
            try {
                fill(dir, q, n);
                MetricRegistry reg = new MetricRegistry();
                try (ChronicleJournal j = ChronicleJournal.open(dir, BIG_JOURNAL, Durability.PROCESS_CRASH, reg);
                     RedisGateway g = new RedisGateway(RedisConnection.of(env.uri()), "bench", 4, Duration.ofSeconds(1), reg)) {
                    // Dedupe 0: the producer's default (no TTL on status records), as in part 2 below.
                    Replayer r = new Replayer(j, g, 0, Replayer.DEFAULT_READ_BATCH, reg);
                    g.loadScripts(io.spillway.core.internal.LuaScript.ENQUEUE);
                    long rewrites0 = env.aofRewrites();
                    long t0 = System.nanoTime();
                    long sent = 0;
                    int stalls = 0;
                    while (j.backlog() > 0) {
                        try {
                            sent += r.drain(false);
                        } catch (io.spillway.core.RedisUnavailableException stalled) {
                            // Redis did not answer within the socket timeout (200 ms): on this 2-core VM the fork of
                            // an AOF rewrite of a Redis holding ~1M jobs can block it that long. A producer would
                            // spool and replay again after its next health probe; here we go on at once. Counted.
                            stalls++;
                        }
                    }
                    double s = (System.nanoTime() - t0) / 1e9;
                    long xlen = xlen(q);
                    results.add("replay.replayer.jobsPerSec", n / s);
                    results.add("replay.replayer.seconds", s);
                    long rewrites1 = env.aofRewrites();
                    String rewrites = rewrites0 < 0 || rewrites1 < 0 ? "?" : Long.toString(rewrites1 - rewrites0);
                    Env.log("replay (Replayer.drain) %,d jobs in %.2f s = %,.0f jobs/s; XLEN %,d; %d drains cut short by a Redis"
                            + " stall over the socket timeout; %s AOF rewrites (forks) of Redis during the replay", n, s, n / s,
                            xlen, stalls, rewrites);
                    if (xlen != n) {
                        results.note("replay.replayer", "XLEN after replay " + xlen + " != " + n);
                    }
                }
            } finally {
                Env.deleteRecursively(dir);
            }
            // 2. A producer opened on a journal that holds n jobs, Redis up: build() to backlog 0.
            env.flush();
            dir = env.freshDir("replay-producer");
            try {
                fill(dir, q, n);
                long t0 = System.nanoTime();
                try (JobProducer p = JobProducer.builder().redis(env.uri()).journalDir(dir).journalMaxBytes(BIG_JOURNAL).build()) {
                    while (p.journalBacklog() > 0 || p.state() != HealthState.CONNECTED) {
                        Thread.sleep(1);
                    }
                    double s = (System.nanoTime() - t0) / 1e9;
                    results.add("replay.producer.jobsPerSec", n / s);
                    results.add("replay.producer.seconds", s);
                    Env.log("replay (producer opened on the journal) %,d jobs in %.2f s = %,.0f jobs/s; XLEN %,d", n, s, n / s, xlen(q));
                }
            } finally {
                Env.deleteRecursively(dir);
            }
        }
        env.flush();
    }

    private long xlen(QueueName q) {
        try (Jedis j = env.jedis()) {
            return j.xlen(RedisKeys.stream(q));
        }
    }

    private void fill(Path dir, QueueName q, int n) {
        try (ChronicleJournal j = ChronicleJournal.open(dir, BIG_JOURNAL, Durability.PROCESS_CRASH, new MetricRegistry())) {
            long now = System.currentTimeMillis();
            for (int i = 0; i < n; i++) {
                JobRecord r = new JobRecord(JobId.mint(), q, "noop", env.payload, Map.of(), 0, now, 0);
                j.append(r, JobCodec.encode(r));
            }
        }
    }
}
