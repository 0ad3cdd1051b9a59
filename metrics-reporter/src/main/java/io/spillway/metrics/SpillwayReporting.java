package io.spillway.metrics;

import com.codahale.metrics.ConsoleReporter;
import com.codahale.metrics.CsvReporter;
import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.ScheduledReporter;
import com.codahale.metrics.Slf4jReporter;
import com.codahale.metrics.health.HealthCheckRegistry;
import com.codahale.metrics.jmx.JmxReporter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.spillway.core.internal.Arguments;
import io.spillway.metrics.internal.HttpEndpoint;
import io.spillway.metrics.internal.SpillwayCollector;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.slf4j.LoggerFactory;

/**
 * Sends the figures of a Dropwizard {@link MetricRegistry} where operators look: Dropwizard's own
 * console, CSV, SLF4J and JMX reporters, and an HTTP endpoint with {@code /metrics} (Prometheus text
 * format, through the Prometheus client library's Dropwizard bridge) and {@code /health} (the
 * {@link HealthCheckRegistry} as JSON; 200 when every check is healthy, 503 otherwise).
 *
 * <p>Per-queue and per-component variants of Spillway's metrics ({@code spillway.queue.waiting.emails})
 * are exported to Prometheus as one family with a label ({@code spillway_queue_waiting{queue="emails"}});
 * see {@code docs/metrics.md}.
 *
 * <p>Everything starts in {@link Builder#start()} and stops in {@link #close()}. The HTTP endpoint binds
 * to {@value #DEFAULT_HOST} unless told otherwise: metrics say a lot about a system, so exposing them
 * beyond the machine is a deliberate choice. Port 0 takes any free port; {@link #port()} tells which.
 * Thread-safe; reporters run on their own daemon threads.
 *
 * <pre>{@code
 * try (SpillwayReporting reporting = SpillwayReporting.builder(registry)
 *         .healthChecks(healthChecks)
 *         .prometheus(9477)
 *         .jmx()
 *         .slf4j(Duration.ofMinutes(1))
 *         .start()) {
 *     ... // curl http://127.0.0.1:9477/metrics
 * }
 * }</pre>
 */
public final class SpillwayReporting implements AutoCloseable {
    /** Where the HTTP endpoint binds unless {@link Builder#prometheus(String, int)} says otherwise. */
    public static final String DEFAULT_HOST = "127.0.0.1";
    /** A suggested port for the HTTP endpoint (an arbitrary free-looking one; the CLI uses it). */
    public static final int DEFAULT_PORT = 9477;
    /** The JMX domain unless {@link Builder#jmx(String)} says otherwise. */
    public static final String DEFAULT_JMX_DOMAIN = "io.spillway";
    /** The SLF4J logger the SLF4J reporter writes to. */
    public static final String SLF4J_LOGGER = "io.spillway.metrics";

    private final MetricRegistry registry;
    private final HealthCheckRegistry healthChecks;
    private final List<ScheduledReporter> scheduled;
    private final JmxReporter jmx;
    private final HttpEndpoint http;
    private final PrometheusRegistry prometheus;

    private SpillwayReporting(Builder b) {
        this.registry = b.registry;
        this.healthChecks = b.healthChecks;
        this.prometheus = new PrometheusRegistry();
        prometheus.register(new SpillwayCollector(registry));
        List<ScheduledReporter> started = new ArrayList<>();
        JmxReporter j = null;
        HttpEndpoint h = null;
        try {
            if (b.consolePeriod != null) {
                ConsoleReporter r = ConsoleReporter.forRegistry(registry).outputTo(b.consoleOut)
                        .convertRatesTo(TimeUnit.SECONDS).convertDurationsTo(TimeUnit.MILLISECONDS).build();
                r.start(b.consolePeriod.toMillis(), TimeUnit.MILLISECONDS);
                started.add(r);
            }
            if (b.csvPeriod != null) {
                try {
                    Files.createDirectories(b.csvDir);
                } catch (IOException e) {
                    throw new IllegalArgumentException("csv directory " + b.csvDir + " cannot be created: " + e.getMessage(), e);
                }
                CsvReporter r = CsvReporter.forRegistry(registry).formatFor(Locale.ROOT)
                        .convertRatesTo(TimeUnit.SECONDS).convertDurationsTo(TimeUnit.MILLISECONDS)
                        .build(b.csvDir.toFile());
                r.start(b.csvPeriod.toMillis(), TimeUnit.MILLISECONDS);
                started.add(r);
            }
            if (b.slf4jPeriod != null) {
                Slf4jReporter r = Slf4jReporter.forRegistry(registry).outputTo(LoggerFactory.getLogger(SLF4J_LOGGER))
                        .convertRatesTo(TimeUnit.SECONDS).convertDurationsTo(TimeUnit.MILLISECONDS).build();
                r.start(b.slf4jPeriod.toMillis(), TimeUnit.MILLISECONDS);
                started.add(r);
            }
            if (b.jmxDomain != null) {
                j = JmxReporter.forRegistry(registry).inDomain(b.jmxDomain)
                        .convertRatesTo(TimeUnit.SECONDS).convertDurationsTo(TimeUnit.MILLISECONDS).build();
                j.start();
            }
            if (b.httpHost != null) {
                h = new HttpEndpoint(new InetSocketAddress(b.httpHost, b.httpPort), prometheus, healthChecks);
            }
        } catch (RuntimeException e) {
            started.forEach(ScheduledReporter::stop);
            if (j != null) {
                j.stop();
            }
            throw e;
        }
        this.scheduled = List.copyOf(started);
        this.jmx = j;
        this.http = h;
    }

    /** Reporting for {@code registry}; health checks default to an empty registry. */
    public static Builder builder(MetricRegistry registry) {
        return new Builder(registry);
    }

    public MetricRegistry registry() {
        return registry;
    }

    public HealthCheckRegistry healthChecks() {
        return healthChecks;
    }

    /** The port of the HTTP endpoint (the real one when 0 was asked for), or -1 without an endpoint. */
    public int port() {
        return http == null ? -1 : http.port();
    }

    /**
     * {@code http://host:port/} of the endpoint, for a client on this machine; null without an endpoint. The host is
     * the address bound, an IPv6 one in brackets ({@code http://[::1]:9477/}); bound to every interface
     * ({@code "0.0.0.0"}, {@code "::"}) it is the loopback address of that family ({@code http://127.0.0.1:9477/},
     * {@code http://[::1]:9477/}), since a wildcard names no host to connect to.
     */
    public URI uri() {
        return http == null ? null : http.uri();
    }

    /** What a scrape of {@code /metrics} would return now (works without the HTTP endpoint too). */
    public String scrape() {
        return HttpEndpoint.scrape(prometheus);
    }

    /** Runs the scheduled reporters once now (console, CSV, SLF4J), e.g. before shutting down. */
    public void reportNow() {
        scheduled.forEach(ScheduledReporter::report);
    }

    /** Stops every reporter and the HTTP endpoint. Idempotent. */
    @Override
    public synchronized void close() {
        scheduled.forEach(ScheduledReporter::stop);
        if (jmx != null) {
            jmx.stop();
        }
        if (http != null) {
            http.close();
        }
    }

    /**
     * Chooses the reporters. Nothing is started until {@link #start()}; nothing is on by default.
     * Setters fail fast on bad values.
     */
    public static final class Builder {
        private final MetricRegistry registry;
        private HealthCheckRegistry healthChecks = new HealthCheckRegistry();
        private Duration consolePeriod;
        private PrintStream consoleOut = System.out;
        private Path csvDir;
        private Duration csvPeriod;
        private Duration slf4jPeriod;
        private String jmxDomain;
        private String httpHost;
        private int httpPort;

        private Builder(MetricRegistry registry) {
            this.registry = Arguments.notNull(registry, "registry");
        }

        /** The health checks {@code /health} runs. */
        public Builder healthChecks(HealthCheckRegistry checks) {
            this.healthChecks = Arguments.notNull(checks, "healthChecks");
            return this;
        }

        /** Prints every metric to standard output every {@code period}. */
        public Builder console(Duration period) {
            return console(System.out, period);
        }

        public Builder console(PrintStream out, Duration period) {
            this.consoleOut = Arguments.notNull(out, "console stream");
            this.consolePeriod = positive("console period", period);
            return this;
        }

        /** Appends one line per metric to {@code <dir>/<metric name>.csv} every {@code period}. */
        public Builder csv(Path dir, Duration period) {
            this.csvDir = Arguments.notNull(dir, "csv directory");
            this.csvPeriod = positive("csv period", period);
            return this;
        }

        /** Logs every metric at INFO to the logger {@value #SLF4J_LOGGER} every {@code period}. */
        public Builder slf4j(Duration period) {
            this.slf4jPeriod = positive("slf4j period", period);
            return this;
        }

        /** Registers every metric as an MBean in the platform MBean server, domain {@value #DEFAULT_JMX_DOMAIN}. */
        public Builder jmx() {
            return jmx(DEFAULT_JMX_DOMAIN);
        }

        public Builder jmx(String domain) {
            if (domain == null || domain.isBlank()) {
                throw new IllegalArgumentException("jmx domain must not be blank, but was '" + domain + "'");
            }
            this.jmxDomain = domain;
            return this;
        }

        /** Serves {@code /metrics} and {@code /health} on {@value #DEFAULT_HOST}:{@code port} (0 = any free port). */
        public Builder prometheus(int port) {
            return prometheus(DEFAULT_HOST, port);
        }

        /** As {@link #prometheus(int)} on another address ({@code "0.0.0.0"} for every interface). */
        public Builder prometheus(String host, int port) {
            if (host == null || host.isBlank()) {
                throw new IllegalArgumentException("http host must not be blank, but was '" + host + "'");
            }
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("http port must be 0..65535, but was " + port);
            }
            this.httpHost = host;
            this.httpPort = port;
            return this;
        }

        /** Starts what was chosen. If one part fails to start, those already started are stopped. */
        public SpillwayReporting start() {
            return new SpillwayReporting(this);
        }

        private static Duration positive(String name, Duration d) {
            if (d == null || d.isZero() || d.isNegative()) {
                throw new IllegalArgumentException(name + " must be > 0, but was " + d);
            }
            return d;
        }
    }
}
