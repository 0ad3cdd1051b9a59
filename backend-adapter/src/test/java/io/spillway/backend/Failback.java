package io.spillway.backend;

import static org.assertj.core.api.Assertions.assertThat;

import io.spillway.testing.RedisProcess;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import redis.clients.jedis.Jedis;

/** What {@link SentinelFailbackIT} and {@link ClusterFailbackIT} read of one Redis, independently of the producer. */
final class Failback {
    private Failback() {
    }

    /** Redis's own {@code run_id} ({@code INFO server}), without the replication id Spillway adds to it. */
    static String runId(RedisProcess r) {
        try (Jedis j = r.jedis()) {
            for (String line : j.info("server").split("\r?\n")) {
                if (line.startsWith("run_id:")) {
                    return line.substring("run_id:".length()).trim();
                }
            }
        }
        throw new IllegalStateException("no run_id");
    }

    /** The lines of a receipts file a child producer appends to (0 before it exists). */
    static long lines(Path file) throws IOException {
        if (!Files.exists(file)) {
            return 0;
        }
        try (var s = Files.lines(file)) {
            return s.count();
        }
    }

    /** The accepted job ids that are not in {@code queue}'s stream on {@code r}. */
    static List<String> missing(RedisProcess r, String queue, List<String> accepted) {
        try (Jedis j = r.jedis(Duration.ofSeconds(10))) {
            Set<String> there = new HashSet<>(RedisJobs.ids(j, queue));
            return accepted.stream().filter(id -> !there.contains(id)).toList();
        }
    }

    /** Waits up to 30 s for every accepted job to be on {@code r}; fails saying how many are not. */
    static void awaitNoneMissing(RedisProcess r, String queue, List<String> accepted) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        int lost;
        while ((lost = missing(r, queue, accepted).size()) > 0 && System.nanoTime() < deadline) {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(200));
        }
        assertThat(lost).as("accepted jobs (of %d) missing on the master", accepted.size()).isZero();
    }
}
