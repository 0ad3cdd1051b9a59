package io.spillway.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.codahale.metrics.Gauge;
import io.spillway.backend.JobProducer;
import io.spillway.backend.Receipt;
import io.spillway.core.MetricNames;
import io.spillway.testing.FreePorts;
import io.spillway.testing.RedisProcess;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

class StandaloneReporterIT {

    @Test
    @Timeout(90)
    void exportsQueuesFromRedisAndTheBacklogOfAJournalLeftBehind(@TempDir Path tmp) {
        Path orphan = tmp.resolve("orphan-journal");
        Path live = tmp.resolve("live-journal");
        // A producer that spools while no Redis is there, then goes away leaving its journal behind.
        URI nowhere = URI.create("redis://127.0.0.1:" + FreePorts.next());
        try (JobProducer p = JobProducer.builder().redis(nowhere).journalDir(orphan).build()) {
            for (int i = 0; i < 3; i++) {
                Receipt r = p.enqueue("emails", "send", ("m" + i).getBytes(StandardCharsets.UTF_8));
                assertThat(r.spooled()).isTrue();
            }
            p.enqueue("img.render", "render", new byte[] {1});
        }

        try (RedisProcess redis = RedisProcess.builder().build().start();
             Jedis j = redis.jedis();
             JobProducer holder = JobProducer.builder().redis(redis.uri()).journalDir(live).build()) {
            QueueStatsIT.plant(j, "emails", 6, 2, 1, 0);
            try (StandaloneReporter reporter = StandaloneReporter.builder(redis.uri())
                    .journalDir(orphan).journalDir(live).journalDir(tmp.resolve("nothing-here"))
                    .refreshEvery(Duration.ofMillis(200)).journalRefreshEvery(Duration.ofMillis(500))
                    .reporting(r -> r.prometheus(0)).start()) {
                URI base = reporter.reporting().uri();
                // One scrape with every figure: the refresh threads publish the totals first and register
                // the per-queue gauges (journal backlog by queue, queue in flight/delayed) just after.
                await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
                    PrometheusText s = PrometheusText.scrape(base);
                    assertThat(s.valueOr("spillway_journal_backlog_jobs", -1)).isEqualTo(4);
                    assertThat(s.valueOr("spillway_queue_waiting{queue=\"emails\"}", -1)).isEqualTo(4);
                    assertThat(s.valueOr("spillway_journal_backlog_jobs{queue=\"emails\"}", -1)).isEqualTo(3);
                    assertThat(s.valueOr("spillway_journal_backlog_jobs{queue=\"img.render\"}", -1)).isEqualTo(1);
                    assertThat(s.valueOr("spillway_journal_oldest_age_ms", -1)).isPositive();
                    assertThat(s.valueOr("spillway_report_journals_locked", -1)).isEqualTo(1);
                    assertThat(s.valueOr("spillway_queue_inflight{queue=\"emails\"}", -1)).isEqualTo(2);
                    assertThat(s.valueOr("spillway_queue_delayed{queue=\"emails\"}", -1)).isEqualTo(1);
                });
                assertThat(reporter.journals().get(orphan.toAbsolutePath())).isEqualTo("ok, backlog 4 jobs");
                assertThat(reporter.journals().get(live.toAbsolutePath())).isEqualTo("in use by a running producer, backlog 0 jobs");
                assertThat(reporter.journals().get(tmp.resolve("nothing-here").toAbsolutePath())).isEqualTo("missing");
                assertThat(tmp.resolve("nothing-here")).doesNotExist();
                // A directory the reporter cannot read is not an empty journal: its jobs would go unseen.
                assertThat(PrometheusText.get(base.resolve("/health")).statusCode()).isEqualTo(503);
                assertThat(reporter.healthChecks().runHealthCheck("journal").getMessage()).isEqualTo(
                        "1 of 3 journal directories not read, backlog unknown: " + tmp.resolve("nothing-here").toAbsolutePath()
                                + ": missing (no such directory)");
                assertThat(reporter.healthChecks().runHealthCheck("redis").isHealthy()).isTrue();
                assertThat(reporter.queues()).extracting(QueueSnapshot::queue).contains("emails");
            }
        }
    }

    /**
     * A live producer spooling through an outage holds its journal's lock: the reporter reads it read-only all the
     * same and tells its real backlog, never "journal empty" (an on-call engineer was told that of ~1,100 jobs). Its
     * jobs stay out of the gauge sums: that producer exports them itself.
     */
    @Test
    @Timeout(90)
    void aJournalALiveProducerHoldsIsReadReadOnlyAndItsBacklogToldNotCalledEmpty(@TempDir Path tmp) throws Exception {
        Path live = tmp.resolve("live-journal");
        URI nowhere = URI.create("redis://127.0.0.1:" + FreePorts.next());
        try (RedisProcess redis = RedisProcess.builder().build().start();
             JobProducer spooling = JobProducer.builder().redis(nowhere).journalDir(live).build()) {
            for (int i = 0; i < 25; i++) {
                assertThat(spooling.enqueue("emails", "send", new byte[] {(byte) i}).spooled()).isTrue();
            }
            // Names only: the producer itself may touch its files meanwhile.
            java.util.Set<String> before = io.spillway.testing.DirSnapshot.of(live).keySet();
            try (StandaloneReporter reporter = StandaloneReporter.builder(redis.uri()).journalDir(live)
                    .journalRefreshEvery(Duration.ofHours(1)).start()) {
                com.codahale.metrics.health.HealthCheck.Result r = reporter.healthChecks().runHealthCheck("journal");
                assertThat(r.isHealthy()).as(r.toString()).isTrue();
                assertThat(r.getMessage()).as(r.toString()).isEqualTo("journal holds 25 jobs in 1 directory in use by a"
                        + " running producer (read read-only, as of the last read): that producer replays them itself once"
                        + " Redis is healthy");
                assertThat(r.getDetails().get("backlog")).isEqualTo(25L);
                assertThat(r.getDetails().get("inUse")).isEqualTo(java.util.Map.of(live.toAbsolutePath().toString(), 25L));
                assertThat(reporter.journals().get(live.toAbsolutePath())).isEqualTo("in use by a running producer, backlog 25 jobs");
                assertThat(reporter.registry().getGauges().get(MetricNames.REPORT_JOURNALS_LOCKED).getValue()).isEqualTo(1L);
                assertThat(reporter.registry().getGauges().get(MetricNames.JOURNAL_BACKLOG).getValue())
                        .as("the producer exports its own backlog: not counted twice").isEqualTo(0L);
            }
            assertThat(io.spillway.testing.DirSnapshot.of(live).keySet()).as("no file created by the reporter").isEqualTo(before);
            // The producer is not disturbed: it still spools.
            assertThat(spooling.enqueue("emails", "send", new byte[] {1}).spooled()).isTrue();
        }
    }

    @Test
    @Timeout(90)
    void journalCheckNamesADirectoryItCannotReadAndWatchesTheSizeCap(@TempDir Path tmp) throws Exception {
        Path typo = tmp.resolve("typo");
        URI nowhere = URI.create("redis://127.0.0.1:" + FreePorts.next());
        try (RedisProcess redis = RedisProcess.builder().build().start()) {
            try (StandaloneReporter reporter = StandaloneReporter.builder(redis.uri()).journalDir(typo)
                    .journalRefreshEvery(Duration.ofMillis(200)).reporting(r -> r.prometheus(0)).start()) {
                // At once, not after the first scheduled read: the reporter reads its journals before it serves.
                assertThat(PrometheusText.get(reporter.reporting().uri().resolve("/health")).statusCode()).isEqualTo(503);
                assertThat(reporter.healthChecks().runHealthCheck("journal").getMessage())
                        .contains(typo.toAbsolutePath() + ": missing (no such directory)");

                // The directory appears: a producer spooled 20 jobs there and went away.
                try (JobProducer p = JobProducer.builder().redis(nowhere).journalDir(typo).build()) {
                    for (int i = 0; i < 20; i++) {
                        assertThat(p.enqueue("files", "t", new byte[1_000]).spooled()).isTrue();
                    }
                }
                await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(
                        reporter.healthChecks().runHealthCheck("journal").getMessage()).startsWith("journal holds 20 jobs that no running"
                        + " producer has open"));
            }
            // Told the producers' cap, the reporter exports it and fails the check near it (20 kB of 16 KiB).
            try (StandaloneReporter reporter = StandaloneReporter.builder(redis.uri()).journalDir(typo).journalMaxBytes(16 * 1024)
                    .reporting(r -> r.prometheus(0)).start()) {
                assertThat(PrometheusText.scrape(reporter.reporting().uri()).valueOr("spillway_journal_max_bytes", -1)).isEqualTo(16 * 1024);
                assertThat(reporter.healthChecks().runHealthCheck("journal").getMessage())
                        .startsWith("journal backlog is 1").contains("% of its size cap (", " of 16384 bytes; limit 90 %)");
            }
            assertThatThrownBy(() -> StandaloneReporter.builder(redis.uri()).journalMaxBytes(0))
                    .hasMessage("journalMaxBytes must be > 0, but was 0");
        }
    }

    @Test
    @Timeout(60)
    void theOldestJobOfAJournalLeftBehindAgesBetweenReads(@TempDir Path tmp) {
        Path orphan = tmp.resolve("orphan-journal");
        URI nowhere = URI.create("redis://127.0.0.1:" + FreePorts.next());
        try (JobProducer p = JobProducer.builder().redis(nowhere).journalDir(orphan).build()) {
            assertThat(p.enqueue("emails", "send", new byte[] {1}).spooled()).isTrue();
        }
        try (RedisProcess redis = RedisProcess.builder().build().start();
             // One read, at the start: the gauge must not wait for the next one to move.
             StandaloneReporter reporter = StandaloneReporter.builder(redis.uri()).journalDir(orphan)
                     .journalRefreshEvery(Duration.ofHours(1)).start()) {
            Gauge<?> oldest = reporter.registry().getGauges().get(MetricNames.JOURNAL_OLDEST_AGE);
            long first = ((Number) oldest.getValue()).longValue();
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
                    assertThat(((Number) oldest.getValue()).longValue()).isGreaterThanOrEqualTo(first + 500));
            assertThat(reporter.healthChecks().runHealthCheck("journal").getDetails().get("oldestAgeMs"))
                    .as("the journal check reads the age now too").isInstanceOfSatisfying(Number.class,
                            n -> assertThat(n.longValue()).isGreaterThanOrEqualTo(first + 500));
        }
    }
}
