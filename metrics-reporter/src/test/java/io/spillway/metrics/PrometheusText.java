package io.spillway.metrics;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/** A scrape parsed into {@code series -> value}, where a series is {@code name} or {@code name{labels}} as written. */
record PrometheusText(String text, Map<String, Double> series, Map<String, String> types) {
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    static PrometheusText parse(String text) {
        Map<String, Double> series = new LinkedHashMap<>();
        Map<String, String> types = new LinkedHashMap<>();
        for (String line : text.split("\n")) {
            if (line.isBlank()) {
                continue;
            }
            if (line.startsWith("# TYPE ")) {
                String[] p = line.substring(7).split(" ");
                types.put(p[0], p[1]);
                continue;
            }
            if (line.startsWith("#")) {
                continue;
            }
            int space = line.lastIndexOf(' ');
            if (space < 0) {
                throw new IllegalArgumentException("not a sample line: " + line);
            }
            String key = line.substring(0, space);
            if (series.put(key, Double.parseDouble(line.substring(space + 1))) != null) {
                throw new IllegalArgumentException("duplicate series: " + key);
            }
        }
        return new PrometheusText(text, series, types);
    }

    static PrometheusText scrape(URI base) {
        HttpResponse<String> r = get(base.resolve("/metrics"));
        if (r.statusCode() != 200) {
            throw new IllegalStateException("scrape answered " + r.statusCode() + ": " + r.body());
        }
        if (!r.headers().firstValue("Content-Type").orElse("").startsWith("text/plain")) {
            throw new IllegalStateException("scrape content type " + r.headers().firstValue("Content-Type"));
        }
        return parse(r.body());
    }

    static HttpResponse<String> get(URI uri) {
        try {
            return HTTP.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(5)).GET().build(),
                    HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new IllegalStateException("GET " + uri + " failed: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    double value(String series) {
        Double v = this.series.get(series);
        if (v == null) {
            throw new AssertionError("no series " + series + " in scrape:\n" + text);
        }
        return v;
    }

    double valueOr(String series, double dflt) {
        return this.series.getOrDefault(series, dflt);
    }
}
