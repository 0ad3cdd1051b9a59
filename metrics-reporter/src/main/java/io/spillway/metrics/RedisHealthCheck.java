package io.spillway.metrics;

import com.codahale.metrics.health.HealthCheck;
import io.spillway.core.RedisConnection;
import io.spillway.core.internal.Arguments;
import io.spillway.core.internal.RedisGateway;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * Healthy when Redis answers PING, is not LOADING its data, is a master and accepts a write (not OOM,
 * not read-only) — the same probe the reconnect loop uses before it replays the journal. Each check
 * opens a fresh connection (never a pooled one, which may be stale) and costs one or two round trips;
 * a hung Redis costs the socket timeout of the {@link RedisConnection}. The message says
 * {@code Redis <uri> unreachable: <why>} when Redis did not answer at all (refused, timed out; detail
 * {@code reachable: false}), and {@code Redis <uri> unhealthy: <why>} when it answered but is not fit for
 * jobs (LOADING, a replica, a refused write).
 *
 * <p>Details: {@code redis_version}, {@code role}, and {@code warnings} for settings that lose jobs
 * (an eviction policy other than noeviction, no persistence at all) — those do not make the check
 * unhealthy, since Redis works, but an operator must see them.
 *
 * <p>Thread-safe. Close it to release its client.
 *
 * <pre>{@code
 * healthChecks.register("redis", RedisHealthCheck.of(RedisConnection.of(URI.create("redis://127.0.0.1:6379"))));
 * }</pre>
 */
public final class RedisHealthCheck extends HealthCheck implements AutoCloseable {
    private final RedisGateway gateway;

    private RedisHealthCheck(RedisConnection connection) {
        this.gateway = new RedisGateway(Arguments.notNull(connection, "connection"),
                "health", 1, Duration.ofSeconds(1), null);
    }

    public static RedisHealthCheck of(RedisConnection connection) {
        return new RedisHealthCheck(connection);
    }

    @Override
    protected Result check() {
        RedisGateway.Probe p = gateway.probe();
        String where = gateway.connection().redacted();
        if (!p.healthy()) {
            return Result.builder().unhealthy()
                    .withMessage("Redis " + where + (p.reachable() ? " unhealthy: " : " unreachable: ") + p.problem())
                    .withDetail("reachable", p.reachable()).build();
        }
        Map<String, String> info = p.info();
        List<String> warnings = RedisGateway.configurationWarnings(info);
        ResultBuilder r = Result.builder().healthy()
                .withMessage("Redis " + where + " reachable and writable")
                .withDetail("redis_version", info.getOrDefault("redis_version", "?"))
                .withDetail("role", info.getOrDefault("role", "?"));
        if (!warnings.isEmpty()) {
            r.withDetail("warnings", warnings);
        }
        List<String> unchecked = RedisGateway.uncheckedSettings(info);
        if (!unchecked.isEmpty()) {
            r.withDetail("unchecked", unchecked); // CONFIG disabled (managed Redis): what the operator must make sure of
        }
        return r.build();
    }

    @Override
    public void close() {
        gateway.close();
    }
}
