package io.spillway.metrics;

import com.codahale.metrics.Gauge;
import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.health.HealthCheck;
import io.spillway.core.HealthState;
import io.spillway.core.MetricNames;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * A component's view of Redis: healthy while {@link HealthState#CONNECTED} or
 * {@link HealthState#RECOVERING} (Redis is back and the journal is being replayed), unhealthy while
 * {@link HealthState#DISCONNECTED} (enqueues are spooling to the local journal; no job is lost, but
 * none reaches a worker either) and once the component is {@link HealthState#CLOSED}.
 *
 * <p>Reads a {@code Supplier<HealthState>} (such as {@code producer::state}) or a connection-state gauge
 * ({@value MetricNames#CONNECTION_STATE}{@code .<component>}: 0 connected, 1 disconnected,
 * 2 recovering, 3 closed). Thread-safe if the source is.
 *
 * <pre>{@code
 * healthChecks.register("producer-connection", ConnectionStateHealthCheck.of("producer", producer::state));
 * }</pre>
 */
public final class ConnectionStateHealthCheck extends HealthCheck {
    private final String component;
    private final Supplier<HealthState> state;

    private ConnectionStateHealthCheck(String component, Supplier<HealthState> state) {
        this.component = Objects.requireNonNull(component, "component must not be null");
        this.state = Objects.requireNonNull(state, "state must not be null");
    }

    public static ConnectionStateHealthCheck of(String component, Supplier<HealthState> state) {
        return new ConnectionStateHealthCheck(component, state);
    }

    /**
     * From the gauge {@code spillway.redis.state.<component>} of {@code registry}, looked up at each
     * check (so it may be registered later). A missing gauge is unhealthy.
     */
    public static ConnectionStateHealthCheck fromRegistry(MetricRegistry registry, String component) {
        Objects.requireNonNull(registry, "registry must not be null");
        String name = MetricNames.perQueue(MetricNames.CONNECTION_STATE, component);
        return new ConnectionStateHealthCheck(component, () -> {
            Gauge<?> g = registry.getGauges().get(name);
            Object v = g == null ? null : g.getValue();
            if (!(v instanceof Number n)) {
                return null;
            }
            int i = n.intValue();
            return i >= 0 && i < HealthState.values().length ? HealthState.values()[i] : null;
        });
    }

    @Override
    protected Result check() {
        HealthState s = state.get();
        if (s == null) {
            return Result.unhealthy(component + ": connection state unknown (no gauge registered yet)");
        }
        return switch (s) {
            case CONNECTED -> Result.builder().healthy().withMessage(component + ": connected to Redis")
                    .withDetail("state", s.name()).build();
            case RECOVERING -> Result.builder().healthy()
                    .withMessage(component + ": Redis is back, replaying the journal").withDetail("state", s.name()).build();
            case DISCONNECTED -> Result.builder().unhealthy()
                    .withMessage(component + ": Redis unavailable, spooling to the local journal")
                    .withDetail("state", s.name()).build();
            case CLOSED -> Result.builder().unhealthy().withMessage(component + ": closed")
                    .withDetail("state", s.name()).build();
        };
    }
}
