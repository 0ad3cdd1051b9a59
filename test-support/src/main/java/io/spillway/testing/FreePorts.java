package io.spillway.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Hands out free TCP ports on the loopback interface.
 *
 * <p>A port is free when asked for; another process may still take it before the caller binds it,
 * so callers that start a server should retry on "address in use" ({@link RedisProcess} does).
 * Within one JVM the same port is never handed out twice, so parallel tests do not collide with
 * each other. Thread-safe.
 *
 * <pre>{@code
 * int port = FreePorts.next();
 * }</pre>
 */
public final class FreePorts {

    private static final Set<Integer> HANDED_OUT = ConcurrentHashMap.newKeySet();

    private FreePorts() {
    }

    /** Returns a loopback port that was free a moment ago and was not returned before in this JVM. */
    public static int next() {
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
