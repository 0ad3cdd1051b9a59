package io.spillway.metrics;

import com.codahale.metrics.Gauge;
import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.health.HealthCheck;
import io.spillway.core.HealthState;
import io.spillway.core.MetricNames;
import io.spillway.core.internal.Arguments;
import java.util.Locale;
import java.util.function.Supplier;

/**
 * A component's view of Redis: healthy while {@link HealthState#CONNECTED} or
 * {@link HealthState#RECOVERING} (Redis is back and the component is catching up), unhealthy while
 * {@link HealthState#DISCONNECTED} and once the component is {@link HealthState#CLOSED}.
 *
 * <p>The message says what the component does meanwhile, going by its name (the gauges' components are
 * {@code producer} and {@code worker}; a name that contains either word counts as that one):
 * <ul>
 *   <li>a producer, disconnected: {@code producer: Redis unavailable, spooling to the local journal} (no job is
 *       lost, but none reaches a worker either); recovering: {@code Redis is back, replaying the journal};
 *   <li>a worker, disconnected: {@code worker: Redis unavailable, fetching paused; running jobs go on and their
 *       outcomes are kept locally}; recovering: {@code Redis is back, sending the outcomes kept locally before
 *       fetching again} (see {@code docs/worker.md}, "Redis outages");
 *   <li>any other name: {@code Redis unavailable}, {@code Redis is back, recovering}.
 * </ul>
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
    private final String whileDisconnected;
    private final String whileRecovering;

    private ConnectionStateHealthCheck(String component, Supplier<HealthState> state) {
        this.component = Arguments.notNull(component, "component");
        this.state = Arguments.notNull(state, "state");
        String name = component.toLowerCase(Locale.ROOT);
        if (name.contains("worker")) {
            // A worker has no journal: docs/worker.md, "Redis outages".
            this.whileDisconnected = "Redis unavailable, fetching paused; running jobs go on and their outcomes are kept locally";
            this.whileRecovering = "Redis is back, sending the outcomes kept locally before fetching again";
        } else if (name.contains("producer")) {
            this.whileDisconnected = "Redis unavailable, spooling to the local journal";
            this.whileRecovering = "Redis is back, replaying the journal";
        } else {
            this.whileDisconnected = "Redis unavailable";
            this.whileRecovering = "Redis is back, recovering";
        }
    }

    public static ConnectionStateHealthCheck of(String component, Supplier<HealthState> state) {
        return new ConnectionStateHealthCheck(component, state);
    }

    /**
     * From the gauge {@code spillway.redis.state.<component>} of {@code registry}, looked up at each
     * check (so it may be registered later). A missing gauge is unhealthy.
     */
    public static ConnectionStateHealthCheck fromRegistry(MetricRegistry registry, String component) {
        Arguments.notNull(registry, "registry");
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
                    .withMessage(component + ": " + whileRecovering).withDetail("state", s.name()).build();
            case DISCONNECTED -> Result.builder().unhealthy()
                    .withMessage(component + ": " + whileDisconnected)
                    .withDetail("state", s.name()).build();
            case CLOSED -> Result.builder().unhealthy().withMessage(component + ": closed")
                    .withDetail("state", s.name()).build();
        };
    }
}
