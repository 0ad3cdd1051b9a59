package io.spillway.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 10, unit = TimeUnit.SECONDS)
class FreePortsTest {

    @Test
    void portsAreBindableAndNeverRepeated() throws Exception {
        String ephemeral = java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/sys/net/ipv4/ip_local_port_range"))
                .get(0).trim();
        Set<Integer> seen = new HashSet<>();
        for (int i = 0; i < 20; i++) {
            int port = FreePorts.next();
            assertThat(seen.add(port)).isTrue();
            assertThat(port).as("below the ephemeral range (%s), where client sockets cannot take it", ephemeral)
                    .isGreaterThanOrEqualTo(FreePorts.LOWEST).isLessThan(Integer.parseInt(ephemeral.split("\\s+")[0]));
            try (ServerSocket s = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
                assertThat(s.getLocalPort()).isEqualTo(port);
            }
        }
    }

    @Test
    void pairsAreBindableBelowTheEphemeralRangeAndNeverRepeated() throws Exception {
        int ephemeralStart = Integer.parseInt(java.nio.file.Files.readAllLines(
                java.nio.file.Path.of("/proc/sys/net/ipv4/ip_local_port_range")).get(0).trim().split("\\s+")[0]);
        Set<Integer> seen = new HashSet<>();
        for (int i = 0; i < 20; i++) {
            int port = FreePorts.nextPair(10_000);
            assertThat(seen.add(port)).isTrue();
            assertThat(seen.add(port + 10_000)).isTrue();
            assertThat(port).isGreaterThanOrEqualTo(FreePorts.LOWEST);
            assertThat(port + 10_000).isLessThan(ephemeralStart);
            try (ServerSocket a = new ServerSocket(port, 1, InetAddress.getLoopbackAddress());
                 ServerSocket b = new ServerSocket(port + 10_000, 1, InetAddress.getLoopbackAddress())) {
                assertThat(a.getLocalPort()).isEqualTo(port);
                assertThat(b.getLocalPort()).isEqualTo(port + 10_000);
            }
        }
        assertThat(seen).doesNotContain(FreePorts.next()); // a pair's ports count as handed out
    }
}
