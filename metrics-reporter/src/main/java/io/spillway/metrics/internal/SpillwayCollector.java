package io.spillway.metrics.internal;

import com.codahale.metrics.Metric;
import com.codahale.metrics.MetricFilter;
import com.codahale.metrics.MetricRegistry;
import io.prometheus.metrics.instrumentation.dropwizard.DropwizardExports;
import io.prometheus.metrics.instrumentation.dropwizard5.labels.CustomLabelMapper;
import io.prometheus.metrics.instrumentation.dropwizard5.labels.MapperConfig;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricMetadata;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import io.prometheus.metrics.model.snapshots.SummarySnapshot;
import io.spillway.core.MetricNames;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Turns a Dropwizard registry into Prometheus snapshots with the maintained bridge
 * ({@link DropwizardExports}), adding one thing: the per-queue and per-component variants of a Spillway
 * metric ({@code spillway.queue.waiting.emails}, {@code spillway.redis.state.worker}) become one family
 * with a label ({@code spillway_queue_waiting{queue="emails"}}) instead of one family per queue.
 *
 * <p>Invariants:
 * <ul>
 *   <li>A family is any constant of {@link MetricNames}; a registry name equal to it is the family's
 *       unlabelled series (a total), a name {@code <constant>.<suffix>} is a labelled series, the longest
 *       matching constant wins. Everything else goes through the bridge untouched.</li>
 *   <li>The bridge refuses two snapshots with one name, so each family member is converted on its own
 *       (a one-metric registry) and the data points are merged here. Only the data points are merged;
 *       the bridge still does every conversion (meters to counters, timers to summaries in seconds).</li>
 *   <li>Label: {@code component} for {@code spillway.redis.*}, {@code process} for
 *       {@code spillway.watchdog.*}, {@code queue} for everything else.</li>
 * </ul>
 * Thread-safe: {@link #collect()} holds no state between calls.
 */
public final class SpillwayCollector implements MultiCollector {
    private final MetricRegistry registry;
    private final List<String> families;

    public SpillwayCollector(MetricRegistry registry) {
        this.registry = registry;
        this.families = familyNames();
    }

    /** Every metric-name constant of {@link MetricNames}, longest first. */
    static List<String> familyNames() {
        List<String> out = new ArrayList<>();
        for (Field f : MetricNames.class.getFields()) {
            if (Modifier.isStatic(f.getModifiers()) && f.getType() == String.class) {
                try {
                    String v = (String) f.get(null);
                    if (v != null && v.startsWith("spillway.")) {
                        out.add(v);
                    }
                } catch (IllegalAccessException e) {
                    throw new IllegalStateException("MetricNames." + f.getName() + " cannot be read", e);
                }
            }
        }
        out.sort(Comparator.comparingInt(String::length).reversed());
        return List.copyOf(out);
    }

    /** The family a registry name belongs to, or null. */
    String familyOf(String name) {
        for (String f : families) {
            if (name.equals(f) || (name.startsWith(f) && name.length() > f.length() + 1 && name.charAt(f.length()) == '.')) {
                return f;
            }
        }
        return null;
    }

    static String labelNameOf(String family) {
        if (family.startsWith("spillway.redis.")) {
            return "component";
        }
        if (family.startsWith("spillway.watchdog.")) {
            return "process";
        }
        return "queue";
    }

    @Override
    public MetricSnapshots collect() {
        Set<String> labelled = new HashSet<>();
        Map<String, String> familyOf = new LinkedHashMap<>();
        for (String name : registry.getNames()) {
            String f = familyOf(name);
            if (f != null) {
                labelled.add(name);
                familyOf.put(name, f);
            }
        }
        MetricSnapshots.Builder out = MetricSnapshots.builder();
        MetricFilter plain = (name, metric) -> !labelled.contains(name);
        for (MetricSnapshot s : new DropwizardExports(registry, plain).collect()) {
            out.metricSnapshot(s);
        }
        Map<String, List<MetricSnapshot>> byName = new LinkedHashMap<>();
        Map<String, String> sourceFamily = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : familyOf.entrySet()) {
            Metric m = registry.getMetrics().get(e.getKey());
            if (m == null) {
                continue; // removed since getNames()
            }
            MetricRegistry one = new MetricRegistry();
            one.register(e.getKey(), m);
            CustomLabelMapper mapper = new FamilyMapper(e.getValue());
            for (MetricSnapshot s : new DropwizardExports(one, MetricFilter.ALL, mapper).collect()) {
                byName.computeIfAbsent(s.getMetadata().getPrometheusName(), k -> new ArrayList<>()).add(s);
                sourceFamily.putIfAbsent(s.getMetadata().getPrometheusName(), e.getValue());
            }
        }
        byName.forEach((name, parts) -> {
            MetricSnapshot merged = merge(parts, sourceFamily.get(name));
            if (merged != null) {
                out.metricSnapshot(merged);
            }
        });
        return out.build();
    }

    private static MetricSnapshot merge(List<MetricSnapshot> parts, String family) {
        MetricSnapshot first = parts.get(0);
        MetricMetadata meta = new MetricMetadata(first.getMetadata().getName(),
                "Spillway " + family + " (see docs/metrics.md); label " + labelNameOf(family)
                        + " absent on the total");
        if (first instanceof GaugeSnapshot) {
            List<GaugeSnapshot.GaugeDataPointSnapshot> points = new ArrayList<>();
            for (MetricSnapshot p : parts) {
                if (p instanceof GaugeSnapshot g) {
                    points.addAll(g.getDataPoints());
                }
            }
            return new GaugeSnapshot(meta, points);
        }
        if (first instanceof CounterSnapshot) {
            List<CounterSnapshot.CounterDataPointSnapshot> points = new ArrayList<>();
            for (MetricSnapshot p : parts) {
                if (p instanceof CounterSnapshot c) {
                    points.addAll(c.getDataPoints());
                }
            }
            return new CounterSnapshot(meta, points);
        }
        if (first instanceof SummarySnapshot) {
            List<SummarySnapshot.SummaryDataPointSnapshot> points = new ArrayList<>();
            for (MetricSnapshot p : parts) {
                if (p instanceof SummarySnapshot s) {
                    points.addAll(s.getDataPoints());
                }
            }
            return new SummarySnapshot(meta, points);
        }
        return first;
    }

    /**
     * Names a family member after its family and labels it with its suffix. The bridge asks for the name
     * of a meter with {@code _total} appended, so that suffix is carried over.
     */
    private static final class FamilyMapper extends CustomLabelMapper {
        private final String family;
        private final String label;

        FamilyMapper(String family) {
            // The superclass insists on one config; it is never consulted since both methods are overridden.
            super(List.of(new MapperConfig("spillway.unused.*", "spillway_unused", Map.of())));
            this.family = family;
            this.label = labelNameOf(family);
        }

        @Override
        public String getName(String dropwizardName) {
            return dropwizardName.endsWith("_total") ? family + "_total" : family;
        }

        @Override
        public Labels getLabels(String dropwizardName, List<String> additionalLabelNames,
                                List<String> additionalLabelValues) {
            // The bridge passes the plain Dropwizard name here (no _total).
            if (!dropwizardName.startsWith(family + ".")) {
                return Labels.EMPTY;
            }
            return Labels.of(label, dropwizardName.substring(family.length() + 1));
        }
    }
}
