package io.spillway.metrics;

import com.codahale.metrics.Gauge;
import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.health.HealthCheck;
import io.spillway.core.MetricNames;
import io.spillway.core.internal.Arguments;
import java.util.Map;
import java.util.TreeMap;

/**
 * Healthy when every process the watchdog supervises is up: each gauge
 * {@value MetricNames#WATCHDOG_UP} (or {@code spillway.watchdog.up.<process>}) reads 1. No such gauge at
 * all is unhealthy: whoever registers this check expects a watchdog. Thread-safe.
 *
 * <pre>{@code
 * healthChecks.register("watchdog", WatchdogHealthCheck.fromRegistry(registry));
 * }</pre>
 */
public final class WatchdogHealthCheck extends HealthCheck {
    private final MetricRegistry registry;

    private WatchdogHealthCheck(MetricRegistry registry) {
        this.registry = Arguments.notNull(registry, "registry");
    }

    public static WatchdogHealthCheck fromRegistry(MetricRegistry registry) {
        return new WatchdogHealthCheck(registry);
    }

    @Override
    protected Result check() {
        Map<String, Object> up = new TreeMap<>();
        for (Map.Entry<String, Gauge> e : registry.getGauges().entrySet()) {
            String n = e.getKey();
            if (n.equals(MetricNames.WATCHDOG_UP) || n.startsWith(MetricNames.WATCHDOG_UP + ".")) {
                String child = n.equals(MetricNames.WATCHDOG_UP) ? "child" : n.substring(MetricNames.WATCHDOG_UP.length() + 1);
                up.put(child, e.getValue().getValue());
            }
        }
        if (up.isEmpty()) {
            return Result.unhealthy("no watchdog gauge (" + MetricNames.WATCHDOG_UP + ") registered");
        }
        StringBuilder down = new StringBuilder();
        up.forEach((child, v) -> {
            boolean isUp = v instanceof Number n ? n.intValue() == 1 : Boolean.TRUE.equals(v);
            if (!isUp) {
                down.append(down.length() == 0 ? "" : ", ").append(child);
            }
        });
        ResultBuilder r = Result.builder().withDetail("up", up);
        return down.length() == 0
                ? r.healthy().withMessage("watchdog children up: " + String.join(", ", up.keySet())).build()
                : r.unhealthy().withMessage("watchdog children down: " + down).build();
    }
}
