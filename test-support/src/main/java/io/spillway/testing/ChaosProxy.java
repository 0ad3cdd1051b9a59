package io.spillway.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A TCP proxy on a free loopback port in front of {@code 127.0.0.1:<target>}, whose behaviour can be
 * switched while clients are connected, to reproduce network faults between a client and Redis.
 *
 * <p>Modes:
 * <ul>
 *   <li>{@link #pass()} (the initial mode): forwards bytes both ways.</li>
 *   <li>{@link #cut()}: closes every open connection now, and each new one right after accepting it
 *       (clients see "connection reset" / "end of stream", never a timeout).</li>
 *   <li>{@link #blackhole()}: accepts connections and reads their bytes but never forwards or
 *       answers, on new and existing connections (clients see only timeouts, like a hung host).
 *       Bytes swallowed are gone: a connection that lived through a blackhole is out of step with
 *       Redis afterwards, as after real packet loss.</li>
 *   <li>{@link #slow(Duration)}: forwards, delaying every chunk read from either side.</li>
 * </ul>
 * Apart from the mode, {@link #stallOpenConnections()} silences the connections open at that moment for good while new
 * ones are forwarded: a connection that a firewall or NAT dropped without telling either end. {@link #holdRepliesTo}
 * holds back the reply to one command (a call in flight, for as long as the test wants), {@link #retarget} sends new
 * connections to another server (a Redis replaced behind an address) and {@link #dropOpenConnectionsExceptHeld} resets
 * the other open connections.
 *
 * <p>Threads: one acceptor plus two pump threads per connection, all daemon; at most
 * {@link #DEFAULT_MAX_CONNECTIONS} connections are open at once (more are closed at once). Mode
 * switches take effect for the next chunk of every connection. All methods are thread-safe.
 *
 * <pre>{@code
 * try (RedisProcess redis = RedisProcess.builder().start();
 *      ChaosProxy proxy = ChaosProxy.to(redis.port())) {
 *     // point the client at proxy.port()
 *     proxy.blackhole();   // the client's next call times out
 *     proxy.pass();
 * }
 * }</pre>
 */
public final class ChaosProxy implements AutoCloseable {

    /** Most connections open at once; further ones are closed on accept. */
    public static final int DEFAULT_MAX_CONNECTIONS = 128;

    private static final int CHUNK = 16 * 1024;
    private static final int CONNECT_TIMEOUT_MILLIS = 1_000;

    private enum Mode { PASS, CUT, BLACKHOLE, SLOW, MUTE }

    private volatile int targetPort;
    /** Armed by {@link #holdRepliesTo}: the next connection whose client sends these bytes has its replies held. */
    private volatile byte[] holdMarker;
    private final ServerSocket server;
    private final Thread acceptor;
    private final Set<Link> links = ConcurrentHashMap.newKeySet();
    private final AtomicLong accepted = new AtomicLong();
    private final AtomicLong refused = new AtomicLong();
    private final AtomicInteger threadIds = new AtomicInteger();
    private volatile Mode mode = Mode.PASS;
    private volatile Duration delay = Duration.ZERO;
    private volatile boolean closed;

    private ChaosProxy(int targetPort) throws IOException {
        this.targetPort = targetPort;
        this.server = new ServerSocket();
        server.setReuseAddress(true);
        // Binding port 0 ourselves leaves no window in which another process could take the port.
        server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
        this.acceptor = daemon(this::acceptLoop, "chaos-proxy-" + server.getLocalPort() + "-accept");
        acceptor.start();
    }

    /** Starts a proxy in {@code pass} mode forwarding to {@code 127.0.0.1:targetPort}. */
    public static ChaosProxy to(int targetPort) {
        if (targetPort < 1 || targetPort > 65535) {
            throw new IllegalArgumentException("targetPort must be in 1..65535, but was " + targetPort);
        }
        try {
            return new ChaosProxy(targetPort);
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot bind a loopback port for the chaos proxy", e);
        }
    }

    /** Forwards bytes both ways, without delay. */
    public void pass() {
        mode = Mode.PASS;
    }

    /** Closes every open connection now, and every new one as soon as it is accepted. */
    public void cut() {
        mode = Mode.CUT;
        for (Link link : links) {
            link.close();
        }
    }

    /** Accepts and reads, but never forwards or answers, on every connection. */
    public void blackhole() {
        mode = Mode.BLACKHOLE;
    }

    /**
     * Forwards the clients' bytes to the target but swallows every reply: the target runs the commands,
     * the clients never learn it (a write whose outcome is unknown to the client).
     */
    public void mute() {
        mode = Mode.MUTE;
    }

    /** Forwards, sleeping {@code perChunk} before each chunk in either direction. */
    public void slow(Duration perChunk) {
        if (perChunk.isNegative()) {
            throw new IllegalArgumentException("perChunk must be >= 0, but was " + perChunk);
        }
        delay = perChunk;
        mode = Mode.SLOW;
    }

    /**
     * From now on swallows every byte of each connection open at this moment, both ways, and never closes it (neither
     * end notices: a connection a firewall dropped silently); connections opened later are forwarded as the mode says.
     *
     * @return how many connections were stalled
     */
    public int stallOpenConnections() {
        int n = 0;
        for (Link link : links) {
            link.stalled = true;
            n++;
        }
        return n;
    }

    /**
     * Holds back the replies on the next connection whose client sends a chunk containing {@code marker} (its bytes in
     * UTF-8): the chunk reaches the target, which runs the command, and the client waits for the answer until {@link
     * #releaseReplies()} (a call in flight, for as long as a test needs). One connection per call.
     */
    public void holdRepliesTo(String marker) {
        if (marker == null || marker.isEmpty()) {
            throw new IllegalArgumentException("marker must not be empty");
        }
        holdMarker = marker.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    }

    /** Returns how many connections have their replies held ({@link #holdRepliesTo}). */
    public int heldConnections() {
        int n = 0;
        for (Link link : links) {
            n += link.held ? 1 : 0;
        }
        return n;
    }

    /** Lets every held connection's replies through, in order. */
    public void releaseReplies() {
        for (Link link : links) {
            link.held = false;
        }
    }

    /**
     * Connects new connections to {@code 127.0.0.1:port} from now on; open ones stay with the server they reached (a
     * server replaced behind an address, as a failover does for a client that asks where the master is).
     */
    public void retarget(int port) {
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("port must be in 1..65535, but was " + port);
        }
        targetPort = port;
    }

    /**
     * Closes the connections whose replies are held ({@link #holdRepliesTo}): the command ran, its reply is lost, the
     * client sees a reset; every other connection goes on.
     *
     * @return how many were closed
     */
    public int dropHeldConnections() {
        int n = 0;
        for (Link link : links) {
            if (link.held) {
                link.close();
                n++;
            }
        }
        return n;
    }

    /**
     * Closes every open connection whose replies are not held (their clients see a reset).
     *
     * @return how many were closed
     */
    public int dropOpenConnectionsExceptHeld() {
        int n = 0;
        for (Link link : links) {
            if (!link.held) {
                link.close();
                n++;
            }
        }
        return n;
    }

    /** Returns the port clients connect to. */
    public int port() {
        return server.getLocalPort();
    }

    /** Returns {@code redis://127.0.0.1:<port()>}, for pointing a Redis client at the proxy. */
    public URI uri() {
        return URI.create("redis://127.0.0.1:" + port());
    }

    /** Returns the port this proxy forwards to. */
    public int targetPort() {
        return targetPort;
    }

    /** Returns how many connections were accepted since start (including ones closed by cut). */
    public long acceptedConnections() {
        return accepted.get();
    }

    /** Returns how many connections are open now. */
    public int openConnections() {
        return links.size();
    }

    /** Returns how many connections were closed on accept because of {@code cut} or the connection limit. */
    public long refusedConnections() {
        return refused.get();
    }

    /** Stops accepting and closes every connection; threads end soon after. */
    @Override
    public void close() {
        closed = true;
        try {
            server.close();
        } catch (IOException e) {
            // Closing is best effort: the acceptor ends on the resulting SocketException either way.
        }
        for (Link link : links) {
            link.close();
        }
    }

    @Override
    public String toString() {
        return "ChaosProxy[" + port() + " -> " + targetPort + ", mode=" + mode + ", open=" + links.size() + "]";
    }

    private void acceptLoop() {
        while (!closed) {
            Socket client;
            try {
                client = server.accept();
            } catch (IOException e) {
                return;
            }
            accepted.incrementAndGet();
            if (mode == Mode.CUT || links.size() >= DEFAULT_MAX_CONNECTIONS) {
                refused.incrementAndGet();
                closeQuietly(client);
                continue;
            }
            Link link = new Link(client);
            links.add(link);
            // Connecting upstream may take up to the connect timeout: do it off the acceptor thread.
            daemon(link::open, "chaos-proxy-" + port() + "-link-" + threadIds.incrementAndGet()).start();
        }
    }

    private Thread daemon(Runnable task, String name) {
        Thread t = new Thread(task, name);
        t.setDaemon(true);
        return t;
    }

    private static void closeQuietly(Socket socket) {
        if (socket == null) {
            return;
        }
        try {
            socket.close();
        } catch (IOException e) {
            // Nothing to do: the socket is unusable either way.
        }
    }

    /** One client connection and its upstream connection; closing either side closes both. */
    private final class Link {
        private final Socket client;
        private volatile Socket upstream;
        private volatile boolean stalled;
        private volatile boolean held;

        Link(Socket client) {
            this.client = client;
        }

        void open() {
            try {
                client.setTcpNoDelay(true);
                Socket up = new Socket();
                try {
                    up.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), targetPort),
                            CONNECT_TIMEOUT_MILLIS);
                    up.setTcpNoDelay(true);
                    upstream = up;
                } catch (IOException e) {
                    closeQuietly(up);
                    if (mode != Mode.BLACKHOLE) {
                        // Target down: the client sees the connection end, much like a refused connect.
                        close();
                        return;
                    }
                    // In a blackhole nobody answers anyway: keep swallowing the client's bytes.
                }
                if (upstream != null) {
                    daemon(() -> pump(upstream, client), Thread.currentThread().getName() + "-down").start();
                }
                pump(client, upstream);
            } catch (IOException e) {
                close();
            }
        }

        private void pump(Socket from, Socket to) {
            byte[] buf = new byte[CHUNK];
            try {
                InputStream in = from.getInputStream();
                OutputStream out = to == null ? null : to.getOutputStream();
                int n;
                while ((n = in.read(buf)) >= 0) {
                    Mode m = mode;
                    if (m == Mode.CUT) {
                        break;
                    }
                    if (stalled || m == Mode.BLACKHOLE || out == null || (m == Mode.MUTE && from == upstream)) {
                        continue;
                    }
                    if (from == client && holdMarker != null && contains(buf, n, holdMarker)) {
                        holdMarker = null;
                        held = true;
                    }
                    while (from == upstream && held && !closed) {
                        // Held by the test until releaseReplies(): a condition the test sets, checked every millisecond.
                        Thread.sleep(1);
                    }
                    if (m == Mode.SLOW) {
                        // The delay is the fault being injected, not a wait for a condition.
                        Thread.sleep(delay.toMillis());
                    }
                    out.write(buf, 0, n);
                    out.flush();
                }
            } catch (IOException e) {
                // Either side went away: close both below.
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                close();
            }
        }

        private static boolean contains(byte[] buf, int n, byte[] marker) {
            outer:
            for (int i = 0; i + marker.length <= n; i++) {
                for (int k = 0; k < marker.length; k++) {
                    if (buf[i + k] != marker[k]) {
                        continue outer;
                    }
                }
                return true;
            }
            return false;
        }

        void close() {
            links.remove(this);
            closeQuietly(client);
            closeQuietly(upstream);
        }
    }
}
