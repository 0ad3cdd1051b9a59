package io.spillway.backend;

import static org.assertj.core.api.Assertions.assertThat;

import io.spillway.testing.ChildJvm;
import io.spillway.testing.RedisProcess;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

/** Producers as separate JVMs, killed for real. */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
@org.junit.jupiter.api.Tag("first-pass-only") // the producer process and its journal; its Redis calls are those every other test makes
class ProducerCrashIT {
    @TempDir
    Path dir;

    @Test
    void aProducerKilledWhileSpoolingLosesNothingOnceRestartedOnItsJournal() throws IOException {
        Path journal = dir.resolve("journal");
        Path receipts = dir.resolve("receipts.txt");
        try (RedisProcess redis = RedisProcess.builder().start()) {
            redis.kill(); // Redis is down: everything spools
            try (ChildJvm first = ChildJvm.builder(ProducerMain.class)
                    .args(redis.uri().toString(), journal.toString(), "crash", "1000000", receipts.toString()).start()) {
                first.awaitOutput("SPOOLED", Duration.ofSeconds(60));
                // Let it spool a good while, then SIGKILL it mid-append.
                org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(60))
                        .until(() -> Files.size(receipts) > 200_000);
                first.kill();
            }
            List<String> accepted = Files.readAllLines(receipts);
            assertThat(accepted).hasSizeGreaterThan(5_000);
            redis.restart();
            Path receipts2 = dir.resolve("receipts2.txt");
            try (ChildJvm second = ChildJvm.builder(ProducerMain.class)
                    .args(redis.uri().toString(), journal.toString(), "crash", "10", receipts2.toString()).start()) {
                second.awaitOutput("DONE", Duration.ofSeconds(120));
                assertThat(second.waitFor(Duration.ofSeconds(30))).isZero();
            }
            try (Jedis j = redis.jedis(Duration.ofSeconds(10))) {
                List<String> inRedis = RedisJobs.ids(j, "crash");
                Map<String, Integer> copies = new HashMap<>();
                inRedis.forEach(id -> copies.merge(id, 1, Integer::sum));
                List<String> lost = accepted.stream().filter(id -> !copies.containsKey(id)).toList();
                List<String> twice = copies.entrySet().stream().filter(e -> e.getValue() > 1).map(Map.Entry::getKey).toList();
                assertThat(lost).as("accepted by the killed producer but not in Redis").isEmpty();
                assertThat(twice).as("in Redis more than once").isEmpty();
                // In producer order: the accepted ids appear in Redis in the order they were accepted.
                java.util.Set<String> acceptedSet = new java.util.HashSet<>(accepted);
                assertThat(inRedis.stream().filter(acceptedSet::contains).toList()).containsExactlyElementsOf(accepted);
            }
        }
    }

    /**
     * The double fault the large chaos run found: Redis acknowledges writes, the producer is SIGKILLed, and
     * Redis loses those writes (AOF everysec, killed before its fsync; here: restarted empty, which has the
     * same effect on the recent writes and a new run id). The killed producer had them only in memory; its
     * successor on the same journal reads them from the sent log and sends them again.
     */
    @Test
    void aKilledProducersLastDirectWritesAreSentAgainByItsSuccessorWhenRedisLostThem() throws IOException {
        Path journal = dir.resolve("journal");
        Path receipts = dir.resolve("receipts.txt");
        try (RedisProcess redis = RedisProcess.builder().start()) {
            try (ChildJvm first = ChildJvm.builder(ProducerMain.class)
                    .args(redis.uri().toString(), journal.toString(), "lost", "2000", receipts.toString(), "hold").start()) {
                first.awaitOutput("DONE", Duration.ofSeconds(60));
                first.kill();
            }
            List<String> accepted = Files.readAllLines(receipts);
            assertThat(accepted).hasSize(2000);
            try (Jedis j = redis.jedis(Duration.ofSeconds(10))) {
                assertThat(RedisJobs.ids(j, "lost")).as("written directly, not spooled").hasSize(2000);
            }
            redis.kill();
            redis.restartEmpty();
            Path receipts2 = dir.resolve("receipts2.txt");
            try (ChildJvm second = ChildJvm.builder(ProducerMain.class)
                    .args(redis.uri().toString(), journal.toString(), "lost", "0", receipts2.toString()).start()) {
                second.awaitOutput("DONE", Duration.ofSeconds(60));
                assertThat(second.waitFor(Duration.ofSeconds(30))).isZero();
                assertThat(second.output()).contains("will be sent again if Redis restarted or failed over since")
                        .contains("Redis restarted since producer last saw it");
            }
            try (Jedis j = redis.jedis(Duration.ofSeconds(10))) {
                // All 2,000 were written within the 5 s resend window of the last one: all come back, once, in order.
                assertThat(RedisJobs.ids(j, "lost")).containsExactlyElementsOf(accepted);
            }
        }
    }

    /**
     * The write-ahead mode through a producer SIGKILL (its guarantee: "a producer opened on the journal of one that stopped
     * or was killed" re-sends what Redis lost): the first 1,000 jobs, written 6 s before the last ones and so outside the
     * 5 s re-send window that covers a producer without the mode, are sent again by the successor after Redis restarted
     * empty, because no worker completed them. (Without the mode, the successor restores only the last 1,000: checked
     * by hand, and by the control in WriteAheadIT.)
     */
    @Test
    void aKilledWriteAheadProducersJobsNotYetCompletedAreSentAgainByItsSuccessorAfterAnEmptyRestart() throws Exception {
        Path journal = dir.resolve("journal");
        Path receipts = dir.resolve("receipts.txt");
        try (RedisProcess redis = RedisProcess.builder().appendOnly(false).save("").start()) {
            try (ChildJvm first = ChildJvm.builder(ProducerMain.class)
                    .args(redis.uri().toString(), journal.toString(), "wa", "2000", receipts.toString(), "hold", "write-ahead",
                            "pause-at=1000:6000") // the first 1,000 outside the re-send window of the last ones
                    .start()) {
                first.awaitOutput("DONE", Duration.ofSeconds(60));
                first.kill();
            }
            List<String> accepted = Files.readAllLines(receipts);
            assertThat(accepted).hasSize(2000);
            redis.kill();
            redis.restartEmpty();
            try (Jedis j = redis.jedis(Duration.ofSeconds(10))) {
                assertThat(j.exists("spillway:{wa}:stream")).as("Redis restarted empty").isFalse();
            }
            try (ChildJvm second = ChildJvm.builder(ProducerMain.class)
                    .args(redis.uri().toString(), journal.toString(), "wa", "0", dir.resolve("receipts2.txt").toString(),
                            "write-ahead").start()) {
                second.awaitOutput("DONE", Duration.ofSeconds(60));
                assertThat(second.waitFor(Duration.ofSeconds(30))).isZero();
            }
            try (Jedis j = redis.jedis(Duration.ofSeconds(10))) {
                assertThat(RedisJobs.ids(j, "wa")).as("every job back, once, in order").containsExactlyElementsOf(accepted);
            }
        }
    }

    /**
     * The same with cancellations among those last writes: Redis lost them too, and the successor's re-send would bring
     * their jobs back (a worker would run a job whose cancel had answered CANCELLED). The successor makes them again from
     * the cancel log, before it sends the writes again.
     */
    @Test
    void aKilledProducersLastCancellationsAreMadeAgainByItsSuccessorBeforeItsWritesAreSentAgain() throws IOException {
        Path journal = dir.resolve("journal");
        Path receipts = dir.resolve("receipts.txt");
        try (RedisProcess redis = RedisProcess.builder().start()) {
            try (ChildJvm first = ChildJvm.builder(ProducerMain.class)
                    .args(redis.uri().toString(), journal.toString(), "lost", "2000", receipts.toString(), "hold",
                            "cancel-every=10").start()) {
                first.awaitOutput("DONE", Duration.ofSeconds(60));
                first.kill();
            }
            List<String> accepted = Files.readAllLines(receipts);
            List<String> cancelled = Files.readAllLines(Path.of(receipts + ".cancelled"));
            assertThat(accepted).hasSize(2000);
            assertThat(cancelled).hasSize(200);
            redis.kill();
            redis.restartEmpty();
            String output;
            try (ChildJvm second = ChildJvm.builder(ProducerMain.class)
                    .args(redis.uri().toString(), journal.toString(), "lost", "0", dir.resolve("r2.txt").toString()).start()) {
                second.awaitOutput("DONE", Duration.ofSeconds(60));
                assertThat(second.waitFor(Duration.ofSeconds(30))).isZero();
                output = second.output();
            }
            List<String> kept = accepted.stream().filter(id -> !cancelled.contains(id)).toList();
            try (Jedis j = redis.jedis(Duration.ofSeconds(10))) {
                assertThat(RedisJobs.ids(j, "lost")).as("the re-send brings back the jobs not cancelled, only")
                        .containsExactlyElementsOf(kept);
                for (String id : cancelled) {
                    assertThat(j.get("spillway:{lost}:job:" + id)).startsWith("K");
                }
            }
            assertThat(output).contains("200 cancellations made in the last 5000 ms before the previous producer stopped will"
                    + " be made again").contains("Cancelled 200 jobs again after the Redis restart");
        }
    }

    @Test
    void aRestartedProducerDoesNotSendAgainWhenRedisDidNotRestart() throws IOException {
        Path journal = dir.resolve("journal");
        Path receipts = dir.resolve("receipts.txt");
        try (RedisProcess redis = RedisProcess.builder().start()) {
            try (ChildJvm first = ChildJvm.builder(ProducerMain.class)
                    .args(redis.uri().toString(), journal.toString(), "kept", "500", receipts.toString(), "hold").start()) {
                first.awaitOutput("DONE", Duration.ofSeconds(60));
                first.kill();
            }
            try (ChildJvm second = ChildJvm.builder(ProducerMain.class)
                    .args(redis.uri().toString(), journal.toString(), "kept", "0", dir.resolve("r2.txt").toString()).start()) {
                second.awaitOutput("DONE", Duration.ofSeconds(60));
                assertThat(second.waitFor(Duration.ofSeconds(30))).isZero();
                assertThat(second.output()).doesNotContain("Redis restarted since producer last saw it");
            }
            try (Jedis j = redis.jedis(Duration.ofSeconds(10))) {
                assertThat(RedisJobs.ids(j, "kept")).containsExactlyElementsOf(Files.readAllLines(receipts));
            }
        }
    }

    @Test
    void aSecondProcessCannotOpenAJournalInUse() {
        Path journal = dir.resolve("journal");
        try (RedisProcess redis = RedisProcess.builder().start();
             ChildJvm holder = ChildJvm.builder(ProducerMain.class)
                     .args(redis.uri().toString(), journal.toString(), "held", "100000000", dir.resolve("r.txt").toString()).start()) {
            holder.awaitOutput("READY", Duration.ofSeconds(60));
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> JobProducer.builder().redis(redis.uri()).journalDir(journal).build())
                    .isInstanceOf(io.spillway.core.JournalLockedException.class)
                    .hasMessageContaining(journal.toAbsolutePath().toString());
            holder.kill();
            // The lock dies with its process: the journal opens now, and what the killed one spooled is kept.
            try (JobProducer p = JobProducer.builder().redis(redis.uri()).journalDir(journal).build()) {
                assertThat(p.enqueue("held", "t", new byte[1]).jobId()).isNotBlank();
            }
        }
    }
}
