package io.spillway.bench.perf;

import com.codahale.metrics.MetricRegistry;
import io.spillway.core.Durability;
import io.spillway.core.JobId;
import io.spillway.core.QueueName;
import io.spillway.core.RedisConnection;
import io.spillway.core.internal.ChronicleJournal;
import io.spillway.core.internal.JobCodec;
import io.spillway.core.internal.JobRecord;
import io.spillway.core.internal.LuaScript;
import io.spillway.core.internal.RedisGateway;
import io.spillway.core.internal.Replayer;
import io.spillway.testing.RedisProcess;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * A profiling target, not part of the report: fills a journal with {@code args[0]} jobs and drains it into its
 * own redis-server with {@code Replayer.drain}, {@code args[2]} times, printing jobs/s and the CPU time per job
 * of this JVM and of redis-server (CPU per job holds up on a busy machine; wall time does not).
 * {@code args[1]} is the dedupe window in seconds (0, the producer's default: no TTL on status records).
 */
public final class ProfileReplay {
    private ProfileReplay() {
    }

    public static void main(String[] args) throws Exception {
        int n = Integer.parseInt(args[0]);
        long dedupe = Long.parseLong(args[1]);
        int reps = args.length > 2 ? Integer.parseInt(args[2]) : 3;
        byte[] payload = new byte[200];
        QueueName q = QueueName.of("profile-replay");
        com.sun.management.OperatingSystemMXBean os =
                (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        try (RedisProcess redis = RedisProcess.builder().start()) {
            long redisPid;
            try (var j = redis.jedis()) {
                redisPid = Long.parseLong(j.info("server").lines().filter(l -> l.startsWith("process_id:"))
                        .findFirst().orElseThrow().substring(11).trim());
            }
            for (int rep = 0; rep < reps; rep++) {
                Path dir = Files.createTempDirectory("profile-replay");
                try {
                    try (ChronicleJournal j = ChronicleJournal.open(dir, 1L << 34, Durability.PROCESS_CRASH, new MetricRegistry())) {
                        long now = System.currentTimeMillis();
                        for (int i = 0; i < n; i++) {
                            JobRecord r = new JobRecord(JobId.mint(), q, "noop", payload, Map.of(), 0, now, 0);
                            j.append(r, JobCodec.encode(r));
                        }
                    }
                    try (var jd = redis.jedis()) {
                        jd.flushAll();
                    }
                    MetricRegistry reg = new MetricRegistry();
                    try (ChronicleJournal j = ChronicleJournal.open(dir, 1L << 34, Durability.PROCESS_CRASH, reg);
                         RedisGateway g = new RedisGateway(RedisConnection.of(redis.uri()), "profile", 4, Duration.ofSeconds(1), reg)) {
                        Replayer r = new Replayer(j, g, dedupe, Replayer.DEFAULT_READ_BATCH, reg);
                        g.loadScripts(LuaScript.ENQUEUE);
                        long cpu0 = os.getProcessCpuTime();
                        double rcpu0 = redisCpuSeconds(redisPid);
                        long flt0 = redisMinorFaults(redisPid);
                        long t0 = System.nanoTime();
                        long sent = r.drain(false);
                        double s = (System.nanoTime() - t0) / 1e9;
                        double javaUs = (os.getProcessCpuTime() - cpu0) / 1e3 / sent;
                        double redisUs = (redisCpuSeconds(redisPid) - rcpu0) * 1e6 / sent;
                        double faults = (redisMinorFaults(redisPid) - flt0) / (double) sent;
                        System.out.printf("replay %,d jobs: %,.0f jobs/s; CPU per job: java %.2f us, redis %.2f us;"
                                + " redis page faults per job %.3f%n", sent, sent / s, javaUs, redisUs, faults);
                    }
                } finally {
                    Env.deleteRecursively(dir);
                }
            }
        }
        System.exit(0);
    }

    /** The fields of {@code /proc/<pid>/stat} after the command name: [0] is field 3 (state). */
    static String[] procStat(long pid) throws java.io.IOException {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        return stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    }

    /** The minor page faults of a process so far (field 10). */
    static long redisMinorFaults(long pid) throws java.io.IOException {
        return Long.parseLong(procStat(pid)[7]);
    }

    /** The user + system CPU seconds of a process so far (fields 14 and 15, in clock ticks of 1/100 s). */
    static double redisCpuSeconds(long pid) throws java.io.IOException {
        String[] f = procStat(pid);
        return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / 100.0;
    }
}
