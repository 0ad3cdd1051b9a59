package io.spillway.metrics.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.UnknownHostException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(10)
class HttpEndpointTest {

    /**
     * A client that never finishes its request does not block the others: with one serving thread, one such socket
     * made every /health time out (a liveness probe failing) for as long as it stayed open.
     */
    @Test
    void aClientThatNeverFinishesItsRequestDoesNotBlockTheOthers() throws Exception {
        try (HttpEndpoint endpoint = new HttpEndpoint(new java.net.InetSocketAddress("127.0.0.1", 0),
                new io.prometheus.metrics.model.registry.PrometheusRegistry(),
                new com.codahale.metrics.health.HealthCheckRegistry());
             java.net.Socket slow = new java.net.Socket("127.0.0.1", endpoint.port())) {
            slow.getOutputStream().write("GET /metrics HTTP/1.1\r\nHost: x\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            slow.getOutputStream().flush();
            Thread.sleep(200); // its exchange is being read on a serving thread now
            java.net.http.HttpClient client = java.net.http.HttpClient.newHttpClient();
            java.net.http.HttpResponse<String> health = client.send(java.net.http.HttpRequest.newBuilder(
                    endpoint.uri().resolve("/health")).timeout(java.time.Duration.ofSeconds(3)).build(),
                    java.net.http.HttpResponse.BodyHandlers.ofString());
            assertThat(health.statusCode()).isEqualTo(200);
        }
    }

    @Test
    void addressesBecomeTheirShortLiteral() throws UnknownHostException {
        assertThat(HttpEndpoint.literal(InetAddress.getByName("127.0.0.1"))).isEqualTo("127.0.0.1");
        assertThat(HttpEndpoint.literal(InetAddress.getByName("0:0:0:0:0:0:0:1"))).isEqualTo("::1");
        assertThat(HttpEndpoint.literal(InetAddress.getByName("::"))).isEqualTo("::");
        assertThat(HttpEndpoint.literal(InetAddress.getByName("fd00:0:0:0:0:0:0:2"))).isEqualTo("fd00::2");
        assertThat(HttpEndpoint.literal(InetAddress.getByName("2001:db8:0:0:1:0:0:1"))).as("the first of two runs")
                .isEqualTo("2001:db8::1:0:0:1");
        assertThat(HttpEndpoint.literal(InetAddress.getByName("2001:db8:0:1:1:1:1:1"))).as("one zero group stays")
                .isEqualTo("2001:db8:0:1:1:1:1:1");
        assertThat(HttpEndpoint.literal(InetAddress.getByName("1:0:0:2:0:0:0:3"))).as("the longest run")
                .isEqualTo("1:0:0:2::3");
        assertThat(HttpEndpoint.literal(InetAddress.getByName("fe80:0:0:0:0:0:0:1%1"))).isEqualTo("fe80::1%1");
    }
}
