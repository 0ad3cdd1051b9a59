package io.spillway.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.codahale.metrics.Gauge;
import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.health.HealthCheck;
import com.codahale.metrics.health.HealthCheckRegistry;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spillway.core.MetricNames;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

class SpillwayReportingIT {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    @Timeout(30)
    void prometheusEndpointExportsFamiliesWithLabelsAndHealthTurnsWith503() throws Exception {
        MetricRegistry registry = new MetricRegistry();
        AtomicLong waiting = new AtomicLong(3);
        registry.register(MetricNames.perQueue(MetricNames.QUEUE_DEPTH, "emails"), (Gauge<Long>) waiting::get);
        registry.register(MetricNames.perQueue(MetricNames.QUEUE_DEPTH, "img.render"), (Gauge<Long>) () -> 7L);
        registry.register(MetricNames.perQueue(MetricNames.CONNECTION_STATE, "producer"), (Gauge<Integer>) () -> 1);
        registry.meter(MetricNames.SPOOLED).mark(5);
        registry.meter(MetricNames.perQueue(MetricNames.ACCEPTED, "emails")).mark(2);
        registry.meter(MetricNames.perQueue(MetricNames.ACCEPTED, "img.render")).mark(4);
        registry.meter(MetricNames.ACCEPTED).mark(6);
        registry.timer(MetricNames.ENQUEUE_LATENCY).update(3, TimeUnit.MILLISECONDS);
        registry.counter("other.thing").inc(9);
        HealthCheckRegistry checks = new HealthCheckRegistry();
        AtomicBoolean ok = new AtomicBoolean(true);
        checks.register("switch", new HealthCheck() {
            @Override
            protected Result check() {
                return ok.get() ? Result.healthy("on") : Result.unhealthy("off");
            }
        });

        try (SpillwayReporting reporting = SpillwayReporting.builder(registry).healthChecks(checks).prometheus(0).start()) {
            assertThat(reporting.port()).isPositive();
            assertThat(reporting.uri().getHost()).isEqualTo("127.0.0.1");

            PrometheusText scrape = PrometheusText.scrape(reporting.uri());
            assertThat(scrape.value("spillway_queue_waiting{queue=\"emails\"}")).isEqualTo(3.0);
            assertThat(scrape.value("spillway_queue_waiting{queue=\"img.render\"}")).isEqualTo(7.0);
            assertThat(scrape.value("spillway_redis_state{component=\"producer\"}")).isEqualTo(1.0);
            assertThat(scrape.value("spillway_producer_spooled_total")).isEqualTo(5.0);
            assertThat(scrape.value("spillway_producer_accepted_total")).isEqualTo(6.0);
            assertThat(scrape.value("spillway_producer_accepted_total{queue=\"emails\"}")).isEqualTo(2.0);
            assertThat(scrape.value("spillway_producer_enqueue_latency_count")).isEqualTo(1.0);
            assertThat(scrape.value("spillway_producer_enqueue_latency{quantile=\"0.5\"}")).isEqualTo(0.003);
            assertThat(scrape.value("other_thing_total")).isEqualTo(9.0);
            assertThat(scrape.types()).containsEntry("spillway_queue_waiting", "gauge")
                    .containsEntry("spillway_producer_accepted_total", "counter")
                    .containsEntry("spillway_producer_enqueue_latency", "summary");

            waiting.set(11);
            assertThat(PrometheusText.scrape(reporting.uri()).value("spillway_queue_waiting{queue=\"emails\"}")).isEqualTo(11.0);

            HttpResponse<String> healthy = PrometheusText.get(reporting.uri().resolve("/health"));
            assertThat(healthy.statusCode()).isEqualTo(200);
            JsonNode h = JSON.readTree(healthy.body());
            assertThat(h.get("healthy").asBoolean()).isTrue();
            assertThat(h.at("/checks/switch/message").asText()).isEqualTo("on");

            ok.set(false);
            HttpResponse<String> unhealthy = PrometheusText.get(reporting.uri().resolve("/health"));
            assertThat(unhealthy.statusCode()).isEqualTo(503);
            JsonNode u = JSON.readTree(unhealthy.body());
            assertThat(u.get("healthy").asBoolean()).isFalse();
            assertThat(u.at("/checks/switch/healthy").asBoolean()).isFalse();
            assertThat(u.at("/checks/switch/message").asText()).isEqualTo("off");

            ok.set(true);
            assertThat(PrometheusText.get(reporting.uri().resolve("/health")).statusCode()).isEqualTo(200);
            assertThat(PrometheusText.get(reporting.uri().resolve("/nothing")).statusCode()).isEqualTo(404);
        }
    }

    @Test
    @Timeout(30)
    void csvReporterWritesParseableFiles(@TempDir Path dir) throws Exception {
        MetricRegistry registry = new MetricRegistry();
        registry.register(MetricNames.perQueue(MetricNames.QUEUE_DEPTH, "emails"), (Gauge<Long>) () -> 42L);
        registry.meter(MetricNames.SPOOLED).mark(3);
        Path csv = dir.resolve("csv");
        try (SpillwayReporting reporting = SpillwayReporting.builder(registry).csv(csv, Duration.ofMillis(100)).start()) {
            Path gauge = csv.resolve("spillway.queue.waiting.emails.csv");
            Path meter = csv.resolve("spillway.producer.spooled.csv");
            await().atMost(Duration.ofSeconds(10)).until(() -> lines(gauge).size() >= 3 && lines(meter).size() >= 2);
            List<String> g = lines(gauge);
            assertThat(g.get(0)).isEqualTo("t,value");
            for (String row : g.subList(1, g.size())) {
                String[] cols = row.split(",");
                assertThat(Long.parseLong(cols[0])).isPositive();
                assertThat(Long.parseLong(cols[1])).isEqualTo(42);
            }
            List<String> m = lines(meter);
            assertThat(m.get(0)).startsWith("t,count,mean_rate,m1_rate");
            String[] cols = m.get(1).split(",");
            assertThat(Long.parseLong(cols[1])).isEqualTo(3);
            assertThat(Double.parseDouble(cols[2])).isPositive();
        }
    }

    @Test
    @Timeout(30)
    void jmxBeansAreVisibleInThePlatformMBeanServerUntilClose() throws Exception {
        MetricRegistry registry = new MetricRegistry();
        registry.register(MetricNames.perQueue(MetricNames.QUEUE_DEPTH, "emails"), (Gauge<Long>) () -> 8L);
        registry.meter(MetricNames.REPLAYED).mark(4);
        String domain = "io.spillway.test" + System.nanoTime();
        MBeanServer mbeans = ManagementFactory.getPlatformMBeanServer();
        try (SpillwayReporting reporting = SpillwayReporting.builder(registry).jmx(domain).start()) {
            Set<ObjectName> names = mbeans.queryNames(new ObjectName(domain + ":*"), null);
            assertThat(names).hasSize(2);
            ObjectName gauge = names.stream().filter(n -> n.toString().contains("spillway.queue.waiting.emails"))
                    .findFirst().orElseThrow();
            assertThat(mbeans.getAttribute(gauge, "Value")).isEqualTo(8L);
            ObjectName meter = names.stream().filter(n -> n.toString().contains(MetricNames.REPLAYED))
                    .findFirst().orElseThrow();
            assertThat(mbeans.getAttribute(meter, "Count")).isEqualTo(4L);
            registry.meter(MetricNames.REPLAYED).mark();
            assertThat(mbeans.getAttribute(meter, "Count")).isEqualTo(5L);
        }
        assertThat(mbeans.queryNames(new ObjectName(domain + ":*"), null)).isEmpty();
    }

    @Test
    @Timeout(10)
    void settersFailFastWithTheBadValue() {
        SpillwayReporting.Builder b = SpillwayReporting.builder(new MetricRegistry());
        assertThatThrownBy(() -> b.prometheus(70000)).hasMessage("http port must be 0..65535, but was 70000");
        assertThatThrownBy(() -> b.console(Duration.ZERO)).hasMessage("console period must be > 0, but was PT0S");
        assertThatThrownBy(() -> b.jmx(" ")).hasMessage("jmx domain must not be blank, but was ' '");
    }

    /** Bound to every interface or to an IPv6 address, the endpoint's URI still names a host and port a client can use. */
    @Test
    @Timeout(30)
    void theUriOfAWildcardOrIpv6EndpointIsOneToConnectTo() throws Exception {
        MetricRegistry registry = new MetricRegistry();
        registry.register(MetricNames.perQueue(MetricNames.QUEUE_DEPTH, "emails"), (Gauge<Long>) () -> 3L);
        Map<String, String> hostFor = new LinkedHashMap<>();
        hostFor.put("0.0.0.0", "127.0.0.1");
        hostFor.put("::", "[::1]");
        hostFor.put("::1", "[::1]");
        hostFor.put("127.0.0.1", "127.0.0.1");
        for (Map.Entry<String, String> e : hostFor.entrySet()) {
            try (SpillwayReporting reporting = SpillwayReporting.builder(registry).prometheus(e.getKey(), 0).start()) {
                URI uri = reporting.uri();
                assertThat(uri.getHost()).as(e.getKey()).isEqualTo(e.getValue());
                assertThat(uri.getPort()).as(e.getKey()).isEqualTo(reporting.port());
                assertThat(uri.toString()).isEqualTo("http://" + e.getValue() + ":" + reporting.port() + "/");
                assertThat(PrometheusText.scrape(uri).value("spillway_queue_waiting{queue=\"emails\"}")).isEqualTo(3.0);
            }
        }
    }

    private static List<String> lines(Path p) throws java.io.IOException {
        return Files.exists(p) ? Files.readAllLines(p) : List.of();
    }
}
