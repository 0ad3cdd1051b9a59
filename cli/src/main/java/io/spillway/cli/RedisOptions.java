package io.spillway.cli;

import io.spillway.core.RedisConnection;
import io.spillway.core.internal.Failures;
import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import picocli.CommandLine.Option;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;

/** {@code --redis URI} and {@code --timeout}, shared by every command that talks to Redis. */
final class RedisOptions {
    static final String DEFAULT_URI = "redis://127.0.0.1:6379";

    @Option(names = "--redis", paramLabel = "URI", defaultValue = DEFAULT_URI,
            description = "Redis to use: redis://[user:password@]host:port[/db] (default: ${DEFAULT-VALUE}).")
    String uri;

    @Option(names = "--timeout", paramLabel = "MS", defaultValue = "2000",
            description = "Connect and command timeout in milliseconds (default: ${DEFAULT-VALUE}).")
    int timeoutMs;

    RedisConnection connection() {
        URI parsed;
        try {
            parsed = new URI(uri);
        } catch (URISyntaxException e) {
            throw new CliException(ExitCodes.USAGE, "--redis is not a URI: '" + uri + "'");
        }
        if (timeoutMs <= 0) {
            throw new CliException(ExitCodes.USAGE, "--timeout must be > 0, but was " + timeoutMs);
        }
        try {
            return RedisConnection.builder(parsed)
                    .connectTimeout(Duration.ofMillis(timeoutMs))
                    .socketTimeout(Duration.ofMillis(timeoutMs))
                    .clientName("spillway-cli")
                    .build();
        } catch (IllegalArgumentException e) {
            throw new CliException(ExitCodes.USAGE, e.getMessage());
        }
    }

    /** A connected client; an unreachable Redis becomes a one-line {@link CliException}. */
    Jedis connect() {
        RedisConnection c = connection();
        DefaultJedisClientConfig.Builder cfg = DefaultJedisClientConfig.builder()
                .connectionTimeoutMillis(timeoutMs).socketTimeoutMillis(timeoutMs).blockingSocketTimeoutMillis(timeoutMs)
                .database(c.database()).ssl(c.ssl()).clientName("spillway-cli");
        if (c.user() != null) {
            cfg.user(c.user());
        }
        if (c.password() != null) {
            cfg.password(c.password());
        }
        try {
            Jedis j = new Jedis(new HostAndPort(c.host(), c.port()), cfg.build());
            j.ping();
            return j;
        } catch (RuntimeException e) {
            throw unreachable(c, e);
        }
    }

    static CliException unreachable(RedisConnection c, RuntimeException e) {
        if (Failures.isUnavailable(e)) {
            return new CliException(ExitCodes.UNREACHABLE, "cannot reach Redis at " + c.redacted() + ": " + Failures.describe(e));
        }
        return new CliException(ExitCodes.FAILED, "Redis at " + c.redacted() + " refused: " + Failures.describe(e));
    }
}
