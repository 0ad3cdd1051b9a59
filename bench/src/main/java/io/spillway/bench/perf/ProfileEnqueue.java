package io.spillway.bench.perf;

import io.spillway.backend.JobProducer;
import io.spillway.testing.RedisProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;

/**
 * A profiling target, not part of the report: {@code enqueue} or {@code enqueueAll} in a loop for
 * {@code args[1]} seconds against its own redis-server. Run it under JFR
 * ({@code -XX:StartFlightRecording=filename=x.jfr,settings=profile}) to see where an enqueue's time goes.
 * {@code -DnoSentLog=true} turns the producer's sent log off ({@code resendAfterRestart(Duration.ZERO, 0)}) to
 * measure what it costs.
 */
public final class ProfileEnqueue {
    private ProfileEnqueue() {
    }

    public static void main(String[] args) throws Exception {
        boolean batch = args[0].equals("batch");
        long seconds = Long.parseLong(args[1]);
        byte[] payload = new byte[200];
        Path dir = Files.createTempDirectory("profile-journal");
        try (RedisProcess redis = RedisProcess.builder().start();
             JobProducer p = (Boolean.getBoolean("noSentLog") ? JobProducer.builder().resendAfterRestart(java.time.Duration.ZERO, 0) : JobProducer.builder()).redis(redis.uri()).journalDir(dir).build()) {
            List<byte[]> payloads = Collections.nCopies(500, payload);
            long end = System.nanoTime() + seconds * 1_000_000_000L;
            long n = 0;
            long redisPid;
            try (var j = redis.jedis()) {
                redisPid = Long.parseLong(j.info("server").lines().filter(l -> l.startsWith("process_id:"))
                        .findFirst().orElseThrow().substring(11).trim());
            }
            com.sun.management.OperatingSystemMXBean os = (com.sun.management.OperatingSystemMXBean)
                    java.lang.management.ManagementFactory.getOperatingSystemMXBean();
            long t0 = System.nanoTime();
            long cpu0 = 0;
            double rcpu0 = 0;
            long n0 = 0;
            long half = t0 + seconds * 500_000_000L;
            while (System.nanoTime() < end) {
                if (batch) {
                    p.enqueueAll("profile", "noop", payloads);
                    n += 500;
                } else {
                    p.enqueue("profile", "noop", payload);
                    n++;
                }
                if (n0 == 0 && System.nanoTime() > half) {
                    n0 = n; // the second half is measured for CPU per job: the JIT is done by then
                    cpu0 = os.getProcessCpuTime();
                    rcpu0 = ProfileReplay.redisCpuSeconds(redisPid);
                }
                if (n % 100_000 == 0) {
                    try (var j = redis.jedis()) {
                        j.flushAll();
                    }
                }
            }
            System.out.printf("%s: %,.0f jobs/s; second half CPU per job: java %.2f us, redis %.2f us%n", args[0],
                    n / ((System.nanoTime() - t0) / 1e9), (os.getProcessCpuTime() - cpu0) / 1e3 / (n - n0),
                    (ProfileReplay.redisCpuSeconds(redisPid) - rcpu0) * 1e6 / (n - n0));
        } finally {
            Env.deleteRecursively(dir);
        }
        System.exit(0);
    }
}
