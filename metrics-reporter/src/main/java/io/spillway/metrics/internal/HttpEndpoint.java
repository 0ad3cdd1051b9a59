package io.spillway.metrics.internal;

import com.codahale.metrics.health.HealthCheck;
import com.codahale.metrics.health.HealthCheckRegistry;
import com.codahale.metrics.json.HealthCheckModule;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;
import java.util.SortedMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The JDK's {@link HttpServer} serving {@code GET /metrics} (Prometheus text format 0.0.4, written by
 * the client library's {@link PrometheusTextFormatWriter}) and {@code GET /health} (the health checks as
 * JSON, 200 when all are healthy, 503 otherwise).
 *
 * <p>Invariants: up to {@value #THREADS} daemon threads serve requests (the JDK server reads a request's headers on
 * the serving thread, so with one thread a single client that never finished its request blocked every scrape and
 * health probe; a slow health check still cannot pile up more threads than that), and a request still unread after
 * {@value #MAX_REQUEST_SECONDS} s has its connection closed (the JDK server's {@code sun.net.httpserver.maxReqTime},
 * set to that unless the JVM sets it); a failing scrape answers 500 and is logged, it never stops the server. {@link #uri()} is a URI a client on this machine can use: the bound address
 * (an IPv6 one in brackets), or the loopback address of the family asked for when bound to a wildcard
 * ({@code 0.0.0.0}, {@code ::}), which names no host to connect to.
 */
public final class HttpEndpoint implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(HttpEndpoint.class);
    /** Threads serving requests. */
    static final int THREADS = 4;
    /** Seconds a client may take to send its request before its connection is closed. */
    static final int MAX_REQUEST_SECONDS = 10;

    static {
        // Read once, when the JDK's server first loads its settings: a JVM that sets its own keeps it.
        if (System.getProperty("sun.net.httpserver.maxReqTime") == null) {
            System.setProperty("sun.net.httpserver.maxReqTime", Integer.toString(MAX_REQUEST_SECONDS));
        }
    }

    private final HttpServer server;
    private final ExecutorService executor;
    private final PrometheusRegistry prometheus;
    private final HealthCheckRegistry healthChecks;
    private final PrometheusTextFormatWriter writer = PrometheusTextFormatWriter.create();
    private final ObjectMapper json = new ObjectMapper().registerModule(new HealthCheckModule());
    private final URI uri;

    public HttpEndpoint(InetSocketAddress address, PrometheusRegistry prometheus, HealthCheckRegistry healthChecks) {
        this.prometheus = prometheus;
        this.healthChecks = healthChecks;
        try {
            this.server = HttpServer.create(address, 16);
        } catch (IOException e) {
            throw new IllegalStateException("Metrics endpoint cannot bind " + address + ": " + e.getMessage(), e);
        }
        this.executor = Executors.newFixedThreadPool(THREADS, r -> {
            Thread t = new Thread(r, "spillway-metrics-http");
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(executor);
        server.createContext("/metrics", this::metrics);
        server.createContext("/health", this::health);
        server.start();
        InetSocketAddress bound = server.getAddress();
        boolean wildcard = bound.getAddress().isAnyLocalAddress();
        // Java binds 0.0.0.0 as the IPv6 wildcard on a dual-stack host: the address asked for says which loopback fits.
        String host = !wildcard ? literal(bound.getAddress())
                : address.getAddress() instanceof Inet6Address ? "::1" : "127.0.0.1";
        try {
            this.uri = new URI("http", null, host, bound.getPort(), "/", null, null);
        } catch (URISyntaxException e) {
            server.stop(0);
            executor.shutdownNow();
            throw new IllegalStateException("Metrics endpoint: no URI for " + bound + ": " + e.getMessage(), e);
        }
        if (wildcard) {
            log.info("Metrics endpoint listening on {} port {} (every interface): {}metrics and /health",
                    literal(address.getAddress()), bound.getPort(), uri);
        } else {
            log.info("Metrics endpoint listening on {}metrics and /health", uri);
        }
    }

    public int port() {
        return server.getAddress().getPort();
    }

    /** {@code http://host:port/}, usable from this machine (see the class comment). */
    public URI uri() {
        return uri;
    }

    /** An address as a URI host: IPv6 in its short form ({@code ::1}, RFC 5952), which the URI constructor brackets. */
    static String literal(InetAddress a) {
        String s = a.getHostAddress();
        if (!(a instanceof Inet6Address)) {
            return s;
        }
        int pct = s.indexOf('%');
        String scope = pct < 0 ? "" : s.substring(pct);
        String[] g = (pct < 0 ? s : s.substring(0, pct)).split(":");
        // The longest run of two or more zero groups becomes "::" (the first, if two are as long).
        int runAt = -1;
        int runLength = 1;
        for (int i = 0; i < g.length; ) {
            int j = i;
            while (j < g.length && g[j].equals("0")) {
                j++;
            }
            if (j - i > runLength) {
                runAt = i;
                runLength = j - i;
            }
            i = Math.max(j, i + 1);
        }
        if (runAt < 0) {
            return s;
        }
        return String.join(":", Arrays.copyOfRange(g, 0, runAt)) + "::"
                + String.join(":", Arrays.copyOfRange(g, runAt + runLength, g.length)) + scope;
    }

    /** The text a scrape of {@code /metrics} returns now. */
    public String scrape() {
        return scrape(prometheus);
    }

    /** A scrape of {@code registry} in the Prometheus text format. */
    public static String scrape(PrometheusRegistry registry) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(8192);
        try {
            PrometheusTextFormatWriter.create().write(out, registry.scrape());
        } catch (IOException e) {
            throw new IllegalStateException("Prometheus text format could not be written", e);
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    private byte[] scrapeBytes() {
        ByteArrayOutputStream out = new ByteArrayOutputStream(8192);
        try {
            writer.write(out, prometheus.scrape());
        } catch (IOException e) {
            throw new IllegalStateException("Prometheus text format could not be written", e);
        }
        return out.toByteArray();
    }

    /** The JSON {@code /health} returns now, and whether every check is healthy. */
    public Map.Entry<Boolean, String> healthJson() {
        SortedMap<String, HealthCheck.Result> results = healthChecks.runHealthChecks();
        boolean healthy = results.values().stream().allMatch(HealthCheck.Result::isHealthy);
        ObjectNode root = json.createObjectNode();
        root.put("healthy", healthy);
        root.set("checks", json.valueToTree(results));
        try {
            return Map.entry(healthy, json.writerWithDefaultPrettyPrinter().writeValueAsString(root));
        } catch (IOException e) {
            throw new IllegalStateException("Health JSON could not be written", e);
        }
    }

    private void metrics(HttpExchange ex) throws IOException {
        try (ex) {
            if (!allowed(ex)) {
                return;
            }
            byte[] body;
            try {
                body = scrapeBytes();
            } catch (RuntimeException | LinkageError e) {
                // A LinkageError here is a broken class path (a mismatched jar): answer 500 rather than drop the connection.
                log.warn("Metrics endpoint: scrape failed: {}", e.toString());
                send(ex, 500, "text/plain; charset=utf-8", ("scrape failed: " + e).getBytes(StandardCharsets.UTF_8));
                return;
            }
            send(ex, 200, writer.getContentType(), body);
        }
    }

    private void health(HttpExchange ex) throws IOException {
        try (ex) {
            if (!allowed(ex)) {
                return;
            }
            Map.Entry<Boolean, String> h;
            try {
                h = healthJson();
            } catch (RuntimeException | LinkageError e) {
                log.warn("Metrics endpoint: health checks failed: {}", e.toString());
                send(ex, 500, "text/plain; charset=utf-8", ("health failed: " + e).getBytes(StandardCharsets.UTF_8));
                return;
            }
            send(ex, h.getKey() ? 200 : 503, "application/json", h.getValue().getBytes(StandardCharsets.UTF_8));
        }
    }

    private static boolean allowed(HttpExchange ex) throws IOException {
        String m = ex.getRequestMethod();
        if (m.equals("GET") || m.equals("HEAD")) {
            return true;
        }
        ex.getResponseHeaders().set("Allow", "GET, HEAD");
        ex.sendResponseHeaders(405, -1);
        return false;
    }

    private static void send(HttpExchange ex, int status, String type, byte[] body) throws IOException {
        ex.getResponseHeaders().set("Content-Type", type);
        ex.getResponseHeaders().set("Cache-Control", "no-store");
        if (ex.getRequestMethod().equals("HEAD")) {
            ex.sendResponseHeaders(status, -1);
            return;
        }
        ex.sendResponseHeaders(status, body.length);
        try (OutputStream os = ex.getResponseBody()) {
            os.write(body);
        }
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
        try {
            executor.awaitTermination(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
