package io.spillway.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.health.HealthCheckRegistry;
import io.spillway.backend.JobProducer;
import io.spillway.core.RedisConnection;
import io.spillway.testing.RedisProcess;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A producer under steady load through a Redis kill and restart, watched only through the HTTP endpoint
 * as Prometheus would: scrapes every 250 ms are parsed and kept, and the run is drawn as
 * {@code target/grafana-dashboard.png} (or the path in {@code -Dspillway.dashboard.png}) by
 * {@link DashboardPicture}.
 */
@org.junit.jupiter.api.Tag("first-pass-only") // the endpoint through an outage: the producer's side; Redis 7 outages run in JobProducerIT
class PrometheusOutageIT {
    private static final String STATE = "spillway_redis_state{component=\"producer\"}";
    private static final String CIRCUIT = "spillway_redis_circuit{component=\"producer\"}";

    /** One scrape of the run. */
    record Sample(double seconds, PrometheusText metrics, int health) {
    }

    @Test
    @Timeout(120)
    void spooledAndReplayedMoveCircuitOpensAndHealthTurns503AndBack(@TempDir Path tmp) throws Exception {
        List<Sample> samples = new CopyOnWriteArrayList<>();
        AtomicReference<Throwable> loadFailure = new AtomicReference<>();
        AtomicBoolean load = new AtomicBoolean(true);
        MetricRegistry registry = new MetricRegistry();
        HealthCheckRegistry checks = new HealthCheckRegistry();
        ScheduledExecutorService sched = Executors.newScheduledThreadPool(2);
        try (RedisProcess redis = RedisProcess.builder().build().start();
             JobProducer producer = JobProducer.builder().redis(redis.uri()).journalDir(tmp.resolve("journal"))
                     .metricRegistry(registry).build();
             QueueStats stats = QueueStats.of(RedisConnection.of(redis.uri())).registerGauges(registry, Duration.ofMillis(200));
             RedisHealthCheck redisCheck = RedisHealthCheck.of(RedisConnection.of(redis.uri()))) {
            checks.register("redis", redisCheck);
            checks.register("producer-connection", ConnectionStateHealthCheck.of("producer", producer::state));
            checks.register("journal", JournalHealthCheck.fromRegistry(registry).build());
            try (SpillwayReporting reporting = SpillwayReporting.builder(registry).healthChecks(checks).prometheus(0).start()) {
                URI base = reporting.uri();
                long t0 = System.nanoTime();
                sched.scheduleAtFixedRate(() -> {
                    try {
                        // Timed at the start of the scrape: a sample later than a moment saw nothing before it.
                        double at = (System.nanoTime() - t0) / 1e9;
                        PrometheusText m = PrometheusText.scrape(base);
                        int h = PrometheusText.get(base.resolve("/health")).statusCode();
                        samples.add(new Sample(at, m, h));
                    } catch (RuntimeException e) {
                        loadFailure.compareAndSet(null, e);
                    }
                }, 0, 250, TimeUnit.MILLISECONDS);
                Thread loader = new Thread(() -> {
                    int i = 0;
                    while (load.get()) {
                        try {
                            producer.enqueue(i % 3 == 0 ? "img.render" : "emails", "t", new byte[] {(byte) i});
                            i++;
                            Thread.sleep(15); // pacing the load, not waiting for a condition
                        } catch (InterruptedException e) {
                            return;
                        } catch (RuntimeException e) {
                            loadFailure.compareAndSet(null, e);
                            return;
                        }
                    }
                }, "load");
                loader.start();

                await().atMost(Duration.ofSeconds(20)).until(() -> last(samples).metrics().valueOr("spillway_producer_enqueued_total", 0) >= 60);
                PrometheusText before = last(samples).metrics();
                assertThat(before.value(STATE)).isEqualTo(0);
                assertThat(before.value(CIRCUIT)).isEqualTo(0);
                assertThat(before.value("spillway_producer_spooled_total")).isEqualTo(0);
                assertThat(last(samples).health()).isEqualTo(200);

                redis.kill();
                await().atMost(Duration.ofSeconds(20)).until(() -> {
                    Sample s = last(samples);
                    return s.metrics().value(STATE) == 1 && s.metrics().value(CIRCUIT) == 1 && s.health() == 503
                            && s.metrics().value("spillway_producer_spooled_total") >= 100
                            && s.metrics().value("spillway_journal_backlog_jobs") > 0;
                });
                assertThat(last(samples).metrics().value("spillway_redis_connection_lost_total{component=\"producer\"}")).isGreaterThanOrEqualTo(1);

                redis.restart();
                await().atMost(Duration.ofSeconds(30)).until(() -> {
                    Sample s = last(samples);
                    return s.metrics().value(STATE) == 0 && s.metrics().value(CIRCUIT) == 0 && s.health() == 200
                            && s.metrics().value("spillway_replay_replayed_total") >= 100
                            && s.metrics().value("spillway_journal_backlog_jobs") == 0;
                });
                // Let the dashboard show some steady state after recovery, then stop the load.
                double recoveredAt = last(samples).seconds();
                await().atMost(Duration.ofSeconds(10)).until(() -> last(samples).seconds() > recoveredAt + 2);
                load.set(false);
                loader.join(5_000);
                assertThat(loader.isAlive()).as("the load stopped").isFalse();
                assertThat(loadFailure.get()).isNull();
                double stoppedAt = (System.nanoTime() - t0) / 1e9;

                // Accounting, from the scrape only, once a scrape began after the load stopped (a scrape reads one
                // counter after another: during the load an enqueue could land between two of them): accepted -
                // duplicates = waiting + in flight + delayed + completed + dead + spooled locally (no worker runs here,
                // so completed is 0).
                await().atMost(Duration.ofSeconds(10)).until(() -> {
                    Sample last = last(samples);
                    PrometheusText m = last.metrics();
                    return last.seconds() > stoppedAt && accepted(m) == accountedFor(m)
                            && m.value("spillway_producer_accepted_total") > 0;
                });
                PrometheusText end = last(samples).metrics();
                assertThat(end.value("spillway_replay_replayed_total") + end.valueOr("spillway_replay_duplicates_total", 0))
                        .isEqualTo(end.value("spillway_producer_spooled_total"));
                assertThat(end.value("spillway_producer_enqueued_total") + end.value("spillway_producer_spooled_total"))
                        .isEqualTo(end.value("spillway_producer_accepted_total"));
            } finally {
                load.set(false);
                sched.shutdownNow();
                sched.awaitTermination(5, TimeUnit.SECONDS);
            }
        }
        Path png = Path.of(System.getProperty("spillway.dashboard.png", "target/grafana-dashboard.png"));
        DashboardPicture.render(samples, png);
        assertThat(png).exists();
    }

    /**
     * The "nothing lost" accounting with workers running: producer and worker share one registry; a Redis
     * kill in the middle; handlers that fail once (retried) and a job type nobody handles (dead-lettered).
     * After the load, from one scrape: accepted - duplicates = waiting + in flight + delayed + completed +
     * dead + spooled locally.
     */
    @Test
    @Timeout(120)
    void theAccountingHoldsWithWorkersThroughAnOutage(@TempDir Path tmp) throws Exception {
        MetricRegistry registry = new MetricRegistry();
        java.util.Set<String> failedOnce = java.util.concurrent.ConcurrentHashMap.newKeySet();
        try (RedisProcess redis = RedisProcess.builder().build().start();
             JobProducer producer = JobProducer.builder().redis(redis.uri()).journalDir(tmp.resolve("journal"))
                     .reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(200)).metricRegistry(registry).build();
             io.spillway.worker.Worker worker = io.spillway.worker.Worker.builder().redis(redis.uri()).queue("acct")
                     .stateDir(tmp.resolve("worker")).metricRegistry(registry).concurrency(4)
                     .retryPolicy(io.spillway.worker.RetryPolicy.of(3, Duration.ofMillis(20), Duration.ofMillis(50)))
                     .handler("work", job -> {
                         if (job.payload()[0] % 10 == 0 && failedOnce.add(job.id())) {
                             throw new IllegalStateException("first attempt fails");
                         }
                     }).build();
             QueueStats stats = QueueStats.of(RedisConnection.of(redis.uri())).registerGauges(registry, Duration.ofMillis(100));
             SpillwayReporting reporting = SpillwayReporting.builder(registry).prometheus(0).start()) {
            worker.start();
            for (int i = 0; i < 1_500; i++) {
                if (i == 500) {
                    redis.kill();
                }
                if (i == 1_000) {
                    redis.restart();
                }
                producer.enqueue("acct", i % 100 == 7 ? "nobody-handles-this" : "work", new byte[] {(byte) i});
                Thread.sleep(2); // pacing the load, not waiting for a condition
            }
            await().atMost(Duration.ofSeconds(60)).until(() -> {
                PrometheusText m = PrometheusText.scrape(reporting.uri());
                return m.valueOr("spillway_journal_backlog_jobs", 0) == 0
                        && sum(m, "spillway_queue_waiting{") + sum(m, "spillway_queue_inflight{") + sum(m, "spillway_queue_delayed{") == 0
                        && accepted(m) == accountedFor(m);
            });
            PrometheusText end = PrometheusText.scrape(reporting.uri());
            assertThat(end.value("spillway_producer_accepted_total")).isEqualTo(1_500);
            assertThat(end.value("spillway_producer_spooled_total")).isPositive();
            assertThat(sum(end, "spillway_queue_dead{")).isEqualTo(15);
            assertThat(end.value("spillway_worker_completed_total")).isEqualTo(1_485);
            assertThat(end.value("spillway_worker_retried_total")).isPositive();
        }
    }

    static Sample last(List<Sample> samples) {
        return samples.isEmpty() ? new Sample(0, PrometheusText.parse(""), 0) : samples.get(samples.size() - 1);
    }

    static double accepted(PrometheusText m) {
        return m.valueOr("spillway_producer_accepted_total", 0) - m.valueOr("spillway_producer_duplicates_total", 0);
    }

    static double accountedFor(PrometheusText m) {
        return sum(m, "spillway_queue_waiting{") + sum(m, "spillway_queue_inflight{") + sum(m, "spillway_queue_delayed{")
                + sum(m, "spillway_queue_dead{") + m.valueOr("spillway_worker_completed_total", 0)
                + m.valueOr("spillway_journal_backlog_jobs", 0);
    }

    static double sum(PrometheusText m, String prefix) {
        return m.series().entrySet().stream().filter(e -> e.getKey().startsWith(prefix)).mapToDouble(e -> e.getValue()).sum();
    }
}
