package io.spillway.metrics.internal;

import static org.assertj.core.api.Assertions.assertThat;

import com.codahale.metrics.Gauge;
import com.codahale.metrics.MetricRegistry;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.spillway.core.MetricNames;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(10)
class SpillwayCollectorTest {

    @Test
    void longestFamilyWinsAndOtherNamesStayPlain() {
        SpillwayCollector c = new SpillwayCollector(new MetricRegistry());
        assertThat(c.familyOf("spillway.journal.backlog.jobs")).isEqualTo(MetricNames.JOURNAL_BACKLOG);
        assertThat(c.familyOf("spillway.journal.backlog.jobs.a.b:c")).isEqualTo(MetricNames.JOURNAL_BACKLOG);
        assertThat(c.familyOf("spillway.queue.dead.data")).isEqualTo(MetricNames.QUEUE_DEAD);
        assertThat(c.familyOf("spillway.queue.waitingx")).isNull();
        assertThat(c.familyOf("jvm.memory.heap")).isNull();
        assertThat(SpillwayCollector.labelNameOf(MetricNames.CIRCUIT_STATE)).isEqualTo("component");
        assertThat(SpillwayCollector.labelNameOf(MetricNames.WATCHDOG_UP)).isEqualTo("process");
        assertThat(SpillwayCollector.labelNameOf(MetricNames.QUEUE_DEPTH)).isEqualTo("queue");
    }

    @Test
    void queueNamesWithDotsAndColonsBecomeLabelValues() {
        MetricRegistry r = new MetricRegistry();
        r.register("spillway.queue.waiting.a.b:c-d", (Gauge<Long>) () -> 1L);
        r.register("spillway.queue.waiting.x", (Gauge<Long>) () -> 2L);
        PrometheusRegistry p = new PrometheusRegistry();
        p.register(new SpillwayCollector(r));
        String text = HttpEndpoint.scrape(p);
        assertThat(text).contains("spillway_queue_waiting{queue=\"a.b:c-d\"} 1.0").contains("spillway_queue_waiting{queue=\"x\"} 2.0");
        assertThat(text.lines().filter(l -> l.startsWith("# TYPE spillway_queue_waiting ")).count()).isEqualTo(1);
    }

    /** Every spillway_* series the Grafana dashboard queries is one a Spillway registry can export. */
    @Test
    void grafanaDashboardQueriesOnlyKnownFamilies() throws Exception {
        JsonNode d = new ObjectMapper().readTree(Path.of("../docs/grafana-dashboard.json").toFile());
        Set<String> known = new HashSet<>();
        for (String f : SpillwayCollector.familyNames()) {
            String n = f.replace('.', '_');
            known.add(n);
            known.add(n + "_total");
            known.add(n + "_count");
        }
        Set<String> used = new TreeSet<>();
        Pattern metric = Pattern.compile("spillway_[a-z_]+");
        for (JsonNode panel : d.get("panels")) {
            for (JsonNode t : panel.path("targets")) {
                Matcher m = metric.matcher(t.get("expr").asText());
                while (m.find()) {
                    used.add(m.group());
                }
            }
        }
        assertThat(used).isNotEmpty().allSatisfy(u -> assertThat(known).contains(u));
        assertThat(d.get("panels").size()).isGreaterThanOrEqualTo(15);
    }

    /** A state gauge's panel names every value it can take (title or legend), as docs/metrics.md does. */
    @Test
    void grafanaDashboardNamesEveryValueOfTheStateGauges() throws Exception {
        JsonNode d = new ObjectMapper().readTree(Path.of("../docs/grafana-dashboard.json").toFile());
        Map<String, List<String>> values = Map.of(
                "spillway_redis_state", List.of("0 connected", "1 disconnected", "2 recovering", "3 closed"),
                "spillway_redis_circuit", List.of("0 closed", "1 open", "2 half-open"));
        int seen = 0;
        for (JsonNode panel : d.get("panels")) {
            for (JsonNode t : panel.path("targets")) {
                for (Map.Entry<String, List<String>> e : values.entrySet()) {
                    if (t.get("expr").asText().contains(e.getKey())) {
                        String said = panel.path("title").asText() + " " + t.path("legendFormat").asText();
                        assertThat(said).as(e.getKey()).contains(e.getValue());
                        seen++;
                    }
                }
            }
        }
        assertThat(seen).isEqualTo(2);
    }
}
