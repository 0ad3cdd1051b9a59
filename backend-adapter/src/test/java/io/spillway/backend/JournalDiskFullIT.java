package io.spillway.backend;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.spillway.core.HealthState;
import io.spillway.core.JournalFullException;
import io.spillway.core.MetricNames;
import io.spillway.testing.FreePorts;
import io.spillway.testing.LogCapture;
import io.spillway.testing.RedisProcess;
import io.spillway.testing.SmallDisk;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

/**
 * The journal's disk filling up, on a real small file system (a tmpfs of its own): a job that must spool and finds the
 * disk short of room is refused with {@link JournalFullException}, before anything is written into the memory-mapped
 * journal (a write there that the disk cannot back is a SIGBUS, which the JVM throws as an {@code InternalError} at some
 * later point of the thread: before the fix, in this very loop, outside {@code enqueue}). Every job accepted before
 * replays once Redis is back, and jobs are accepted again once there is room.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class JournalDiskFullIT {
    private static final long FLOOR = 4L << 20;

    @TempDir
    Path tmp;

    @Test
    void aJobThatFindsTheDiskFullIsRefusedTypedAndEveryAcceptedJobReplays() throws Exception {
        int port = FreePorts.next();
        String queue = "disk-full";
        byte[] payload = new byte[1000];
        Set<String> accepted = new LinkedHashSet<>();
        try (SmallDisk disk = SmallDisk.mount(tmp.resolve("disk"), 64L << 20);
             LogCapture logs = new LogCapture()) {
            try (JobProducer p = JobProducer.builder().redis(URI.create("redis://127.0.0.1:" + port))
                    .journalDir(disk.dir().resolve("journal")).journalMinFreeDisk(FLOOR).build()) {
                // Redis is not there: every job spools. Leave about 6 MiB: some 2,000 jobs fit above the floor.
                disk.fill(FLOOR + (2L << 20));
                // Another process's writes are seen within 100 ms (journalMinFreeDisk's contract): wait that out.
                Thread.sleep(200);
                JournalFullException refused = null;
                for (int i = 0; i < 20_000 && refused == null; i++) {
                    try {
                        accepted.add(p.enqueue(queue, "t", payload).jobId());
                    } catch (JournalFullException e) {
                        refused = e;
                    }
                }
                assertThat(refused).as("a refusal once the disk nears full").isNotNull();
                assertThat(refused.getMessage()).contains("kept free (journalMinFreeDisk)", "was not accepted");
                assertThat(accepted).hasSizeBetween(500, 4_000);
                assertThat(disk.usable()).as("the floor is kept").isGreaterThanOrEqualTo(FLOOR - (64L << 10));
                // Refused again, at once, while it is short; counted as rejected.
                assertThatThrownBy(() -> p.enqueue(queue, "t", payload)).isInstanceOf(JournalFullException.class);
                assertThat(p.metrics().meter(MetricNames.REJECTED).getCount()).isEqualTo(2);
                // What an operator's alert reads: the disk's free space now, and the floor.
                assertThat((Long) p.metrics().getGauges().get(MetricNames.JOURNAL_DISK_FREE).getValue())
                        .isBetween(0L, FLOOR + (1L << 20));
                assertThat(p.metrics().getGauges().get(MetricNames.JOURNAL_DISK_MIN_FREE).getValue()).isEqualTo(FLOOR);
                assertThat(p.journalBacklog()).isEqualTo(accepted.size());

                // Room again: accepted again.
                disk.free();
                for (int i = 0; i < 100; i++) {
                    Receipt r = p.enqueue(queue, "t", payload);
                    assertThat(r.spooled()).isTrue();
                    accepted.add(r.jobId());
                }

                // Redis comes: every accepted job replays, once, in order.
                try (RedisProcess redis = RedisProcess.builder().port(port).start();
                     Jedis jedis = redis.jedis()) {
                    await().atMost(Duration.ofSeconds(60)).until(() -> p.state() == HealthState.CONNECTED
                            && p.journalBacklog() == 0);
                    assertThat(RedisJobs.ids(jedis, queue)).containsExactlyElementsOf(accepted);

                    // With Redis up the disk filling up again does not stop direct enqueues (the sent log, which
                    // keeps their copies for a Redis restart, is best effort and says so).
                    disk.fill(FLOOR / 2);
                    List<String> direct = new ArrayList<>();
                    for (int i = 0; i < 3_000; i++) {
                        Receipt r = p.enqueue(queue, "t", payload);
                        assertThat(r.spooled()).isFalse();
                        direct.add(r.jobId());
                    }
                    assertThat(jedis.xlen("spillway:{" + queue + "}:stream")).isEqualTo(accepted.size() + direct.size());
                    disk.free();
                }
            }
            assertThat(logs.lines("less than the 4.00 MB kept free")).hasSize(1);
            assertThat(logs.lines("its disk has room again")).hasSize(1);
            assertThat(logs.lines("InternalError")).isEmpty();
        }
    }

    @Test
    void aProducerRestartedOnAFullDiskReplaysItsJournalAndRefusesOnlyWhatMustSpool() throws Exception {
        int port = FreePorts.next();
        String queue = "restart-full";
        Path journal = tmp.resolve("disk").resolve("journal");
        List<String> spooled = new ArrayList<>();
        try (SmallDisk disk = SmallDisk.mount(tmp.resolve("disk"), 48L << 20);
             LogCapture logs = new LogCapture()) {
            try (JobProducer p = JobProducer.builder().redis(URI.create("redis://127.0.0.1:" + port)).journalDir(journal)
                    .journalMinFreeDisk(FLOOR).build()) {
                for (int i = 0; i < 200; i++) {
                    spooled.add(p.enqueue(queue, "t", new byte[100]).jobId());
                }
            }
            // The disk fills up while the service is down; it starts again with Redis there.
            disk.fill(0);
            try (RedisProcess redis = RedisProcess.builder().port(port).start();
                 Jedis jedis = redis.jedis();
                 JobProducer p = JobProducer.builder().redis(redis.uri()).journalDir(journal).journalMinFreeDisk(FLOOR).build()) {
                await().atMost(Duration.ofSeconds(30)).until(() -> p.state() == HealthState.CONNECTED && p.journalBacklog() == 0);
                assertThat(RedisJobs.ids(jedis, queue)).containsExactlyElementsOf(spooled);
                assertThat(p.enqueue(queue, "t", new byte[10]).spooled()).isFalse();
                redis.kill();
                assertThatThrownBy(() -> {
                    for (int i = 0; i < 100; i++) {
                        p.enqueue(queue, "t", new byte[10]);
                    }
                }).isInstanceOf(JournalFullException.class).hasMessageContaining("kept free");
                disk.free();
                Thread.sleep(200); // the free space is read again within 100 ms
                assertThat(p.enqueue(queue, "t", new byte[10]).spooled()).isTrue();
                redis.restart();
                await().atMost(Duration.ofSeconds(30)).until(() -> p.state() == HealthState.CONNECTED && p.journalBacklog() == 0);
            }
            assertThat(logs.lines("less than the 4.00 MB kept free")).isNotEmpty();
            assertThat(logs.lines("InternalError")).isEmpty();
        }
    }
}
