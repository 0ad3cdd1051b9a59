package io.spillway.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Hands out free TCP ports on the loopback interface.
 *
 * <p>The ports come from below the kernel's ephemeral range ({@code /proc/sys/net/ipv4/ip_local_port_range}, 32768 up by
 * default), from {@value #LOWEST} up: the kernel never gives those to outgoing connections, so a port handed out here
 * cannot be taken by a client socket (a replica's link to its master, a sentinel's to its peers) between this call and
 * the server's bind, which ports from the ephemeral range could. Another process may still bind it first, so callers
 * that start a server should retry on "address in use" ({@link RedisProcess} does). A port is free on the IPv4
 * loopback, and on the IPv6 one where the machine has it. Within one JVM the same port is never handed out twice, so
 * parallel tests do not collide with each other. Thread-safe.
 *
 * <pre>{@code
 * int port = FreePorts.next();
 * }</pre>
 */
public final class FreePorts {
    /** The lowest port handed out. */
    public static final int LOWEST = 10_000;

    private static final Set<Integer> HANDED_OUT = ConcurrentHashMap.newKeySet();
    /** One past the highest port handed out: the start of the ephemeral range. */
    private static final int ABOVE = ephemeralStart();
    /** {@code ::1} if this machine has an IPv6 loopback, else null. */
    private static final InetAddress IPV6_LOOPBACK = ipv6Loopback();

    private FreePorts() {
    }

    /** Returns a loopback port that was free a moment ago and was not returned before in this JVM. */
    public static int next() {
        if (ABOVE - LOWEST < 1_000) {
            return nextEphemeral(); // an odd ephemeral range: no room below it
        }
        for (int attempt = 0; attempt < 1_000; attempt++) {
            int port = ThreadLocalRandom.current().nextInt(LOWEST, ABOVE);
            if (!HANDED_OUT.contains(port) && free(port) && HANDED_OUT.add(port)) {
                return port;
            }
        }
        throw new IllegalStateException("No fresh free loopback port in " + LOWEST + "-" + (ABOVE - 1) + " after 1000 attempts");
    }

    /**
     * Returns a port {@code p} such that {@code p} and {@code p + offset} were both free a moment ago, both lie below the
     * ephemeral range, and neither was returned before in this JVM (both count as handed out from now on). For a server
     * that also listens on a port derived from its own, like a Redis Cluster node's bus on port + 10000.
     *
     * @throws IllegalArgumentException if {@code offset} is not positive or leaves no room below the ephemeral range
     */
    public static int nextPair(int offset) {
        if (offset <= 0 || ABOVE - offset - LOWEST < 1_000) {
            throw new IllegalArgumentException("offset must be in 1.." + (ABOVE - LOWEST - 1_000) + ", but was " + offset);
        }
        for (int attempt = 0; attempt < 1_000; attempt++) {
            int port = ThreadLocalRandom.current().nextInt(LOWEST, ABOVE - offset);
            int other = port + offset;
            if (HANDED_OUT.contains(port) || HANDED_OUT.contains(other) || !free(port) || !free(other)) {
                continue;
            }
            if (HANDED_OUT.add(port)) {
                if (HANDED_OUT.add(other)) {
                    return port;
                }
                HANDED_OUT.remove(port); // another thread took the other one just now
            }
        }
        throw new IllegalStateException("No fresh free loopback port pair (offset " + offset + ") in " + LOWEST + "-"
                + (ABOVE - 1) + " after 1000 attempts");
    }

    private static boolean free(int port) {
        if (!bindable(InetAddress.getLoopbackAddress(), port)) {
            return false;
        }
        return IPV6_LOOPBACK == null || bindable(IPV6_LOOPBACK, port);
    }

    private static boolean bindable(InetAddress address, int port) {
        try (ServerSocket socket = new ServerSocket()) {
            socket.setReuseAddress(true);
            socket.bind(new InetSocketAddress(address, port));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static InetAddress ipv6Loopback() {
        try {
            InetAddress v6 = InetAddress.getByName("::1");
            try (ServerSocket probe = new ServerSocket()) {
                probe.bind(new InetSocketAddress(v6, 0));
            }
            return v6;
        } catch (IOException e) {
            return null; // no IPv6 loopback here
        }
    }

    private static int ephemeralStart() {
        try {
            // readAllLines: Files.readString reads a /proc file short (its size says 0; seen: 1 byte of "32768 60999").
            String[] range = Files.readAllLines(Path.of("/proc/sys/net/ipv4/ip_local_port_range")).get(0).trim().split("\\s+");
            return Math.min(65_536, Integer.parseInt(range[0]));
        } catch (IOException | RuntimeException e) {
            return 32_768; // Linux's default; other systems differ, and the bind check still applies
        }
    }

    private static int nextEphemeral() {
        for (int attempt = 0; attempt < 100; attempt++) {
            try (ServerSocket socket = new ServerSocket()) {
                socket.setReuseAddress(true);
                socket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
                int port = socket.getLocalPort();
                if (HANDED_OUT.add(port)) {
                    return port;
                }
            } catch (IOException e) {
                throw new UncheckedIOException("Cannot bind an ephemeral loopback port", e);
            }
        }
        throw new IllegalStateException("No fresh free loopback port after 100 attempts");
    }
}
