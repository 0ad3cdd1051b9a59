package io.spillway.bench.perf;

import io.spillway.testing.RedisProcess;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.RedisClient;

/** What every section shares: the one Redis, the scale of the run, scratch space, the payload. */
final class Env {
    final RedisProcess redis;
    final boolean quick;
    final int reps;
    final Path scratch;
    /** 200 random bytes: the payload of every job in every system. */
    final byte[] payload = new byte[200];

    Env(RedisProcess redis, boolean quick, int reps, Path scratch) {
        this.redis = redis;
        this.quick = quick;
        this.reps = reps;
        this.scratch = scratch;
        new Random(42).nextBytes(payload);
    }

    /** {@code full} on a full run, {@code quick} on a quick one. */
    int scale(int full, int quick) {
        return this.quick ? quick : full;
    }

    URI uri() {
        return redis.uri();
    }

    int port() {
        return redis.port();
    }

    /** A pooled Jedis client of {@code size} connections, 5 s timeouts (a plain user's setup). */
    RedisClient client(int size) {
        var pool = new org.apache.commons.pool2.impl.GenericObjectPoolConfig<redis.clients.jedis.Connection>();
        pool.setMaxTotal(size);
        pool.setMaxIdle(size);
        return RedisClient.builder()
                .hostAndPort("127.0.0.1", port())
                .clientConfig(DefaultJedisClientConfig.builder().socketTimeoutMillis(5_000).build())
                .poolConfig(pool)
                .build();
    }

    Jedis jedis() {
        return new Jedis(new HostAndPort("127.0.0.1", port()),
                DefaultJedisClientConfig.builder().socketTimeoutMillis(30_000).build());
    }

    /** redis-server's CPU time so far (user + system, INFO cpu), in microseconds. */
    long redisCpuMicros() {
        try (Jedis j = jedis()) {
            double total = 0;
            for (String line : j.info("cpu").split("\r?\n")) {
                if (line.startsWith("used_cpu_sys:") || line.startsWith("used_cpu_user:")) {
                    total += Double.parseDouble(line.substring(line.indexOf(':') + 1).trim());
                }
            }
            return Math.round(total * 1e6);
        }
    }

    /** Empties Redis between runs so that no run pays for the memory of the one before. */
    void flush() {
        try (Jedis j = jedis()) {
            j.flushAll();
        }
    }

    /**
     * Redis's automatic AOF rewrites off (the enqueue measurements) or back at its default of 100 % growth. With them on,
     * every run of 300,000 jobs after a {@link #flush()} forked one to three rewrites (past the 64 MB minimum, at each
     * doubling), at points that differ from system to system: the batch figures swung by 2-3x from one repetition to
     * the next with them.
     */
    void autoAofRewrite(boolean on) {
        try (Jedis j = jedis()) {
            j.configSet("auto-aof-rewrite-percentage", on ? "100" : "0");
        }
    }

    /** {@link #flush()}, then an AOF rewrite, awaited: the next measurement starts on an empty AOF (not timed). */
    void flushAndCompactAof() {
        flush();
        try (Jedis j = jedis()) {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            awaitNoRewrite(j, deadline); // BGREWRITEAOF is refused while one runs
            j.bgrewriteaof();
            awaitNoRewrite(j, deadline);
        }
    }

    private static void awaitNoRewrite(Jedis j, long deadlineNanos) {
        while (System.nanoTime() < deadlineNanos) {
            String info = j.info("persistence");
            if (!info.contains("aof_rewrite_in_progress:1") && !info.contains("aof_rewrite_scheduled:1")) {
                return;
            }
            sleepMillis(20);
        }
    }

    private static void sleepMillis(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Redis's count of AOF rewrites since it started (INFO persistence, Redis 7+), or -1 where it has none. */
    long aofRewrites() {
        try (Jedis j = jedis()) {
            return j.info("persistence").lines().filter(l -> l.startsWith("aof_rewrites:")).findFirst()
                    .map(l -> Long.parseLong(l.substring("aof_rewrites:".length()).trim())).orElse(-1L);
        }
    }

    Path freshDir(String name) {
        try {
            Path d = scratch.resolve(name + "-" + System.nanoTime());
            Files.createDirectories(d);
            return d;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static void deleteRecursively(Path dir) {
        if (dir == null || !Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // scratch space; the run goes on
        }
    }

    static void log(String fmt, Object... args) {
        System.out.printf("[bench %tT] %s%n", System.currentTimeMillis(), String.format(fmt, args));
    }
}
