package io.spillway.metrics.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.UnknownHostException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(10)
class HttpEndpointTest {

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
