package io.spillway.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.spillway.backend.JobProducer;
import io.spillway.backend.Receipt;
import io.spillway.core.RedisConnection;
import io.spillway.testing.RedisProcess;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

/**
 * An application that opens and closes Spillway's components many times in one JVM (a test suite, a service that
 * reconfigures, a worker pool that scales) must not pile up threads, file descriptors, mapped journal files or Redis
 * connections, whatever Redis was doing at the close: up, dead, or frozen.
 *
 * <p>Each test runs a few warm-up cycles (threads Chronicle Queue and commons-pool start once per JVM), takes the
 * counts, runs more cycles and compares: one thread or one descriptor kept per cycle fails it, and so does a mapped
 * journal file left after a GC (a closed component something still holds).
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
@org.junit.jupiter.api.Tag("first-pass-only") // about 25 s; what it counts is the JVM's, the same on Redis 7.0
class LifecycleLeakIT {
    static final int WARM_UP = 3;
    static final byte[] PAYLOAD = "leak-check".getBytes(StandardCharsets.UTF_8);

    @TempDir
    Path dir;
    RedisProcess redis;
    final String queue = "leak-" + System.nanoTime();
    final Set<String> handled = ConcurrentHashMap.newKeySet();

    @BeforeEach
    void startRedis() {
        redis = RedisProcess.builder().start();
    }

    @AfterEach
    void stopRedis() {
        redis.close();
    }

    @Test
    void openAndCloseWithRedisUpKeepsNothing() throws Exception {
        List<String> accepted = new ArrayList<>();
        Runnable cycle = () -> {
            try (JobProducer producer = producer(); Worker worker = worker()) {
                worker.start();
                for (int i = 0; i < 5; i++) {
                    Receipt r = producer.enqueue(queue, "render", PAYLOAD);
                    assertThat(r.spooled()).isFalse();
                    accepted.add(r.jobId());
                }
                await().atMost(Duration.ofSeconds(20)).until(() -> handled.containsAll(accepted));
            }
            try (DeadLetters dlq = DeadLetters.connect(uri()); Queues queues = Queues.connect(uri())) {
                dlq.list(queue, 10);
                queues.pause(queue, "leak check");
                queues.resume(queue);
            }
        };
        Counts warm = warmUp(cycle);
        for (int i = 0; i < 20; i++) {
            cycle.run();
        }
        assertNothingKept(warm, 20);
        // Every connection of the closed components is gone from Redis too: only the one asking is left.
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(redisClients()).isEqualTo(1));
    }

    @Test
    void openAndCloseWhileRedisIsDeadKeepsNothing() throws Exception {
        redis.kill();
        Runnable cycle = () -> {
            try (JobProducer producer = producer(); Worker worker = worker()) {
                worker.start();
                for (int i = 0; i < 5; i++) {
                    assertThat(producer.enqueue(queue, "render", PAYLOAD).spooled()).isTrue();
                }
                sleep(300); // the reconnect loops run a few rounds
            }
        };
        Counts warm = warmUp(cycle);
        for (int i = 0; i < 15; i++) {
            cycle.run();
        }
        assertNothingKept(warm, 15);
        // Nothing accepted was dropped on the way: every cycle's spooled jobs reach Redis from the shared journal.
        redis.restart();
        int expected = (WARM_UP + 15) * 5;
        try (JobProducer producer = producer()) {
            await().atMost(Duration.ofSeconds(30)).until(() -> producer.journalBacklog() == 0);
        }
        try (Jedis j = redis.jedis()) {
            assertThat(j.xlen(io.spillway.core.internal.RedisKeys.stream(io.spillway.core.QueueName.of(queue))))
                    .isEqualTo(expected);
        }
    }

    @Test
    void closeWhileRedisIsFrozenKeepsNothing() throws Exception {
        Runnable cycle = () -> {
            try (JobProducer producer = producer(); Worker worker = worker()) {
                worker.start();
                producer.enqueue(queue, "render", PAYLOAD);
                redis.hang();
                try {
                    for (int i = 0; i < 3; i++) {
                        producer.enqueue(queue, "render", PAYLOAD);
                    }
                } finally {
                    // close() runs against the frozen Redis; it is resumed only once both have closed
                    closeOrFail(worker);
                    closeOrFail(producer);
                    redis.resume();
                }
            }
        };
        Counts warm = warmUp(cycle);
        for (int i = 0; i < 4; i++) {
            cycle.run();
        }
        assertNothingKept(warm, 4);
    }

    JobProducer producer() {
        return JobProducer.builder()
                .redis(RedisConnection.builder(uri()).socketTimeout(Duration.ofMillis(300)).build())
                .journalDir(dir.resolve("journal"))
                .build();
    }

    Worker worker() {
        return Worker.builder()
                .redis(RedisConnection.builder(uri()).socketTimeout(Duration.ofMillis(300)).build())
                .queue(queue)
                .handler("render", job -> handled.add(job.id()))
                .concurrency(2)
                .fetchBlock(Duration.ofMillis(100))
                .stateDir(dir.resolve("worker"))
                .build();
    }

    java.net.URI uri() {
        return redis.uri();
    }

    Counts warmUp(Runnable cycle) {
        for (int i = 0; i < WARM_UP; i++) {
            cycle.run();
        }
        return settled(Counts.now(dir));
    }

    /** Threads end a moment after close (a pool's evictor, an executor's last task): wait for the counts to settle. */
    Counts settled(Counts before) {
        Counts[] last = {Counts.now(dir)};
        try {
            // No GC here: a socket or file its close() forgot is closed by a GC's cleaner, which would hide it. Polled
            // in this thread: Awaitility's own poll thread is not in the base, so the counts never fit (10 s each time).
            await().pollInSameThread().pollInterval(Duration.ofMillis(200)).atMost(Duration.ofSeconds(10)).until(() -> {
                last[0] = Counts.now(dir);
                return last[0].fitsWithin(before);
            });
        } catch (org.awaitility.core.ConditionTimeoutException notYet) {
            // the caller compares with its tolerance
        }
        return last[0];
    }

    void assertNothingKept(Counts warm, int cycles) {
        Counts after = settled(warm);
        Set<String> newThreads = after.threads.stream().filter(t -> !warm.threads.contains(t))
                .collect(Collectors.toCollection(java.util.TreeSet::new));
        // A few threads and descriptors may come and go (a JVM-wide timer, a log file): far fewer than one a cycle.
        assertThat(newThreads).as("threads alive after %d more open/close cycles that were not before them", cycles)
                .hasSizeLessThanOrEqualTo(2);
        List<String> newFds = after.fdTargets.stream().filter(t -> !warm.fdTargets.contains(t)).toList();
        assertThat(after.fdTargets.size() - warm.fdTargets.size()).as("file descriptors kept over %d cycles (new ones: %s)", cycles, newFds)
                .isLessThanOrEqualTo(3);
        // The journal's 16-byte positions file is a MappedByteBuffer, unmapped when collected: a GC unmaps those of
        // closed producers, unless something still holds a closed producer (a leak). Chronicle's cycle files and the
        // sent log's segments are unmapped by close itself.
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(100)).untilAsserted(() -> {
            System.gc();
            assertThat(Counts.now(dir).mappedFiles).as("files under %s still mapped after every close and a GC", dir)
                    .isEmpty();
        });
    }

    long redisClients() {
        try (Jedis j = redis.jedis()) {
            return j.clientList().lines().filter(l -> !l.isBlank()).count();
        }
    }

    static void closeOrFail(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception e) {
            throw new AssertionError("close threw", e);
        }
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /** Live threads (name#id), open descriptors (their targets), and mapped files under the test's directory. */
    record Counts(Set<String> threads, List<String> fdTargets, List<String> mappedFiles) {
        static Counts now(Path under) {
            Set<String> threads = Thread.getAllStackTraces().keySet().stream()
                    .filter(Thread::isAlive)
                    .map(t -> t.getName() + "#" + t.getId())
                    .collect(Collectors.toSet());
            List<String> targets = new ArrayList<>();
            try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
                for (Path fd : (Iterable<Path>) fds::iterator) {
                    try {
                        targets.add(Files.readSymbolicLink(fd).toString());
                    } catch (IOException gone) {
                        // closed since the listing
                    }
                }
            } catch (IOException e) {
                throw new AssertionError(e);
            }
            List<String> mapped;
            try (Stream<String> maps = Files.lines(Path.of("/proc/self/maps"))) {
                String prefix = under.toAbsolutePath().toString();
                mapped = maps.filter(l -> l.contains(prefix)).map(l -> l.substring(l.indexOf('/'))).distinct().toList();
            } catch (IOException e) {
                throw new AssertionError(e);
            }
            return new Counts(threads, targets, mapped);
        }

        /** No thread that {@code base} did not have, and no more descriptors. */
        boolean fitsWithin(Counts base) {
            return base.threads.containsAll(threads) && fdTargets.size() <= base.fdTargets.size();
        }
    }
}
