package io.spillway.testing;

import io.spillway.watchdog.RedisBinary;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.exceptions.JedisConnectionException;
import redis.clients.jedis.exceptions.JedisException;

/**
 * A real Sentinel deployment on loopback ports, for failover tests: a master and one replica ({@link Builder#replicas}
 * for more; {@link RedisProcess}es with their defaults: AOF everysec, {@code noeviction}) and one or three sentinels,
 * all run by the same {@code redis-server} binary (the sentinels as {@code redis-server sentinel.conf --sentinel}).
 *
 * <p>Contract:
 * <ul>
 *   <li>{@link Builder#start()} returns once every replica is in sync and every sentinel names the master and
 *       knows every replica (and, with three, the other sentinels): a failover can happen from then on.</li>
 *   <li>Sentinel settings: {@code down-after-milliseconds} {@link Builder#downAfter} (default 1000 ms),
 *       {@code failover-timeout} {@link Builder#failoverTimeout} (default 2000 ms), quorum 1 of one sentinel or 2 of
 *       three. Each sentinel's config file lives, writable, in its own directory (sentinels rewrite it).</li>
 *   <li>{@link #master()} asks a sentinel which server is the master now; {@link #killMaster()} SIGKILLs it;
 *       {@link #awaitFailover} waits until the sentinels name another server and it answers with the master role.</li>
 *   <li>Servers are plain {@link RedisProcess}es ({@code kill()}, {@code hang()}, {@code resume()}, {@code restart()})
 *       that keep their rewritten config ({@link RedisProcess.Builder#keepRewrittenConfig}): Sentinel saves every
 *       {@code REPLICAOF} it sends with {@code CONFIG REWRITE}, so a restarted server comes back in the role it last
 *       had, as in a real deployment (a master that was failed over meanwhile comes back as a master and is demoted by
 *       the sentinels some seconds later). {@link #killSentinel} and {@link #restartSentinel} do the same for a
 *       sentinel, which restarts on its own rewritten config (same id, current master, known replicas and sentinels).
 *       {@link #whyNotAtFullStrength()} tells whether everything is back.</li>
 *   <li>{@link #close()} kills every process and deletes their directories.</li>
 *   <li>With {@link Builder#tls(TestCertificates)} every process speaks TLS only ({@code port 0}, {@code tls-port}):
 *       master and replica as {@link RedisProcess#builder()}{@code .tls(certs)}, plus {@code tls-replication yes}
 *       (the replica syncs over TLS) and the client certificate as {@code tls-client-cert-file} (what a server or
 *       sentinel presents when it connects to another); the sentinels with the same settings (they reach the
 *       servers and each other over TLS). {@code tls-auth-clients} as {@link Builder#tlsAuthClients} (default yes, as
 *       in Redis). {@link #uri()} is then {@code rediss-sentinel://}; the group's own connections trust the test CA,
 *       present the client certificate and check no host name.</li>
 *   <li>With {@link Builder#sentinelPassword(String)} every sentinel requires that password of its clients
 *       ({@code requirepass}) and gives it to the other sentinels ({@code sentinel sentinel-pass}); the servers
 *       require none. The group's own connections to the sentinels give it.</li>
 *   <li>With {@link Builder#ipv6Sentinels(boolean)} the sentinels listen on {@code ::1} as well, and
 *       {@link #uriString()} names them {@code [::1]:port} (as {@link #uri()} cannot once there are several).</li>
 * </ul>
 * Works with the embedded Redis 6.2 and with 7.0 ({@code SPILLWAY_REDIS_SERVER}). Not thread-safe for lifecycle calls.
 *
 * <pre>{@code
 * try (SentinelGroup redis = SentinelGroup.builder().start()) {
 *     URI uri = redis.uri();                 // redis-sentinel://127.0.0.1:<port>#spillway
 *     RedisProcess old = redis.killMaster(); // SIGKILL
 *     RedisProcess now = redis.awaitFailover(old, Duration.ofSeconds(30));
 * }
 * }</pre>
 */
public final class SentinelGroup implements AutoCloseable {
    public static final String DEFAULT_MASTER_NAME = "spillway";
    private static final String HOST = "127.0.0.1";
    private static final String HOST6 = "::1";
    private static final Duration PROBE_TIMEOUT = Duration.ofSeconds(1);

    private final String masterName;
    private final TestCertificates tls;
    private final boolean tlsAuthClients;
    private final boolean ipv6;
    private final String sentinelPassword;
    private final List<RedisProcess> servers = new ArrayList<>();
    private final List<Sentinel> sentinels = new ArrayList<>();
    private final Path binary;
    private final Duration startTimeout;

    private SentinelGroup(Builder b) {
        this.masterName = b.masterName;
        this.tls = b.tls;
        this.tlsAuthClients = b.tlsAuthClients;
        this.ipv6 = b.ipv6;
        this.sentinelPassword = b.sentinelPassword;
        this.binary = b.binary != null ? b.binary : RedisBinary.locate();
        this.startTimeout = b.startTimeout;
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * {@code redis-sentinel://127.0.0.1:<s1>[,127.0.0.1:<s2>...]#<masterName>} ({@code rediss-sentinel://} with TLS).
     * With {@link Builder#ipv6Sentinels} and more than one sentinel {@link URI} cannot hold it: use {@link #uriString()}.
     */
    public URI uri() {
        return URI.create(uriString());
    }

    /** {@link #uri()} as text; with {@link Builder#ipv6Sentinels} the sentinels as {@code [::1]:<port>}. */
    public String uriString() {
        StringBuilder s = new StringBuilder(tls != null ? "rediss-sentinel://" : "redis-sentinel://");
        for (int i = 0; i < sentinels.size(); i++) {
            s.append(i == 0 ? "" : ",").append(ipv6 ? "[" + HOST6 + "]" : HOST).append(':').append(sentinels.get(i).port);
        }
        return s.append('#').append(masterName).toString();
    }

    /** The certificates of a TLS group, or null. */
    public TestCertificates certificates() {
        return tls;
    }

    public String masterName() {
        return masterName;
    }

    /** The master and the replicas, in start order (the first was the master at start). */
    public List<RedisProcess> servers() {
        return List.copyOf(servers);
    }

    /** The password the sentinels require ({@link Builder#sentinelPassword}), or null. */
    public String sentinelPassword() {
        return sentinelPassword;
    }

    /** The ports of the sentinels. */
    public List<Integer> sentinelPorts() {
        return sentinels.stream().map(s -> s.port).toList();
    }

    /** The server the first sentinel that answers names as master now. */
    public RedisProcess master() {
        int port = masterPort();
        return servers.stream().filter(s -> s.port() == port).findFirst()
                .orElseThrow(() -> new IllegalStateException("the sentinels name port " + port + ", not one of ours"));
    }

    /** The port of the master the sentinels name now. */
    public int masterPort() {
        RuntimeException last = null;
        for (Sentinel s : sentinels) {
            try (Jedis j = s.jedis()) {
                List<String> addr = j.sentinelGetMasterAddrByName(masterName);
                if (addr != null && addr.size() == 2) {
                    return Integer.parseInt(addr.get(1));
                }
            } catch (RuntimeException e) {
                last = e;
            }
        }
        throw new IllegalStateException("no sentinel names a master for " + masterName, last);
    }

    /** The first server, in start order, that is not the master now (with one replica: the replica). */
    public RedisProcess replica() {
        return replicas().get(0);
    }

    /** The servers that are not the master now, in start order. */
    public List<RedisProcess> replicas() {
        int port = masterPort();
        return servers.stream().filter(s -> s.port() != port).toList();
    }

    /**
     * Asks the first sentinel that answers for a failover now ({@code SENTINEL FAILOVER}): a replica is promoted and the
     * old master, still running, is demoted to a replica of it. Returns the old master.
     *
     * @throws redis.clients.jedis.exceptions.JedisDataException if the sentinel refuses ({@code INPROG}: a failover is
     *     under way; {@code NOGOODSLAVE}: no replica it can promote, still so after 30 s of asking again)
     */
    public RedisProcess failover() {
        RedisProcess m = master();
        // A replica that just resynced (a demoted master) is not a candidate until the sentinel has read its INFO again,
        // which it does every 10 s: NOGOODSLAVE until then (the failover did not start). Asked again for up to 30 s.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            RuntimeException last = null;
            for (Sentinel s : sentinels) {
                Jedis j;
                try {
                    j = s.jedis();
                } catch (JedisConnectionException down) {
                    last = down;
                    continue;
                }
                try (j) {
                    j.sentinelFailover(masterName);
                    return m;
                } catch (redis.clients.jedis.exceptions.JedisDataException refused) {
                    if (!String.valueOf(refused.getMessage()).startsWith("NOGOODSLAVE") || System.nanoTime() > deadline) {
                        throw refused;
                    }
                    last = refused;
                    break;
                }
            }
            if (!(last instanceof redis.clients.jedis.exceptions.JedisDataException)) {
                throw new IllegalStateException("no sentinel answered to SENTINEL FAILOVER " + masterName, last);
            }
            try {
                Thread.sleep(250);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while asking for a failover", e);
            }
        }
    }

    /** SIGKILLs sentinel {@code index} (in {@link #sentinelPorts()} order) and waits until it is dead. */
    public void killSentinel(int index) {
        sentinels.get(index).kill();
    }

    /**
     * Starts sentinel {@code index} again, on its config file as it rewrote it, and waits until it answers PING.
     *
     * @throws IllegalStateException if it is still running, or does not answer within the start timeout
     */
    public void restartSentinel(int index) {
        Sentinel s = sentinels.get(index);
        if (s.isAlive()) {
            throw new IllegalStateException("sentinel " + s.port + " is still running: killSentinel first");
        }
        s.start();
        await(System.nanoTime() + startTimeout.toNanos(), "sentinel " + s.port + " answering after its restart", () -> {
            try (Jedis j = s.jedis()) {
                return "PONG".equals(j.ping());
            }
        });
    }

    /** Whether sentinel {@code index} is running. */
    public boolean isSentinelAlive(int index) {
        return sentinels.get(index).isAlive();
    }

    /** Each sentinel's directory (its rewritten {@code sentinel.conf} and {@code sentinel.log}), in port order. */
    public List<Path> sentinelDirectories() {
        return sentinels.stream().map(s -> s.dir).toList();
    }

    /**
     * What keeps the group from full strength now, in words, or null at full strength: every server and every sentinel
     * running (no server hung); every sentinel out of TILT mode, naming the same master, flagging it neither down nor
     * failing over, and seeing every other server as a replica and every other sentinel without a down or disconnected
     * flag; that master answering with the master role, and every other server as its replica with the link up and no
     * sync in progress. From then on the sentinels can fail over again, to any replica. Asks every process once (with
     * 1 s timeouts); never throws for a process that does not answer.
     */
    public String whyNotAtFullStrength() {
        for (RedisProcess r : servers) {
            if (!r.isAlive() || r.isHung()) {
                return "server " + r.port() + (r.isHung() ? " is hung" : " is down");
            }
        }
        for (Sentinel s : sentinels) {
            if (!s.isAlive()) {
                return "sentinel " + s.port + " is down";
            }
        }
        int master = -1;
        for (Sentinel s : sentinels) {
            try (Jedis j = s.jedis()) {
                if (!j.info("sentinel").contains("sentinel_tilt:0")) {
                    return "sentinel " + s.port + " is in TILT mode";
                }
                List<String> addr = j.sentinelGetMasterAddrByName(masterName);
                int port = addr == null || addr.size() != 2 ? -1 : Integer.parseInt(addr.get(1));
                if (master == -1) {
                    master = port;
                }
                if (port != master || port == -1) {
                    return "sentinel " + s.port + " names master " + port + ", an earlier one " + master;
                }
                String flags = j.sentinelMaster(masterName).get("flags");
                if (!"master".equals(flags)) {
                    return "sentinel " + s.port + " flags master " + port + " " + flags;
                }
                Map<Integer, String> replicaFlags = new HashMap<>();
                j.sentinelReplicas(masterName).forEach(r -> replicaFlags.put(Integer.parseInt(r.get("port")), r.get("flags")));
                for (RedisProcess r : servers) {
                    if (r.port() != port && !"slave".equals(replicaFlags.get(r.port()))) {
                        return "sentinel " + s.port + " flags replica " + r.port() + " " + replicaFlags.get(r.port());
                    }
                }
                Map<Integer, String> sentinelFlags = new HashMap<>();
                j.sentinelSentinels(masterName).forEach(o -> sentinelFlags.put(Integer.parseInt(o.get("port")), o.get("flags")));
                for (Sentinel o : sentinels) {
                    if (o != s && !"sentinel".equals(sentinelFlags.get(o.port))) {
                        return "sentinel " + s.port + " flags sentinel " + o.port + " " + sentinelFlags.get(o.port);
                    }
                }
            } catch (RuntimeException e) {
                return "sentinel " + s.port + " does not answer: " + e;
            }
        }
        for (RedisProcess r : servers) {
            try (Jedis j = r.jedis(PROBE_TIMEOUT)) {
                String info = j.info("replication");
                if (r.port() == master) {
                    if (!info.contains("role:master")) {
                        return "master " + master + " answers " + infoField(info, "role");
                    }
                } else if (!info.contains("role:slave") || !infoField(info, "master_port").equals(String.valueOf(master))
                        || !info.contains("master_link_status:up") || info.contains("master_sync_in_progress:1")) {
                    return "server " + r.port() + " is not a replica of " + master + " in sync: role "
                            + infoField(info, "role") + ", master_port " + infoField(info, "master_port") + ", link "
                            + infoField(info, "master_link_status");
                }
            } catch (RuntimeException e) {
                return "server " + r.port() + " does not answer: " + e;
            }
        }
        return null;
    }

    /**
     * Waits until {@link #whyNotAtFullStrength()} is null.
     *
     * @throws IllegalStateException if that does not happen within {@code timeout}, with the last reason and
     *     {@link #diagnostics()}
     */
    public void awaitFullStrength(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        String why = whyNotAtFullStrength();
        while (why != null) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("SentinelGroup not at full strength within " + timeout + ": " + why
                        + "\n" + diagnostics());
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(100));
            why = whyNotAtFullStrength();
        }
    }

    /**
     * Each server's replication state, what each sentinel says of the master, its replicas and the other sentinels,
     * then every server's and sentinel's log tail: for failure messages and run evidence.
     */
    public String diagnostics() {
        StringBuilder s = new StringBuilder();
        for (RedisProcess r : servers) {
            s.append("--- server ").append(r.port()).append(r.isAlive() ? r.isHung() ? " (hung)" : "" : " (dead)")
                    .append(" ---\n");
            if (r.isAlive() && !r.isHung()) {
                try (Jedis j = r.jedis(PROBE_TIMEOUT)) {
                    String info = j.info("replication");
                    for (String f : List.of("role", "master_port", "master_link_status", "connected_slaves",
                            "master_replid", "master_repl_offset")) {
                        s.append(f).append(':').append(infoField(info, f)).append('\n');
                    }
                } catch (RuntimeException e) {
                    s.append("(no answer: ").append(e).append(")\n");
                }
            }
        }
        for (Sentinel st : sentinels) {
            s.append("--- sentinel ").append(st.port).append(st.isAlive() ? "" : " (dead)").append(" ---\n");
            if (st.isAlive()) {
                try (Jedis j = st.jedis()) {
                    s.append("tilt:").append(infoField(j.info("sentinel"), "sentinel_tilt")).append('\n')
                            .append("master: ").append(j.sentinelGetMasterAddrByName(masterName)).append(' ')
                            .append(j.sentinelMaster(masterName).get("flags")).append('\n');
                    j.sentinelReplicas(masterName).forEach(r -> s.append("replica ").append(r.get("port")).append(' ')
                            .append(r.get("flags")).append(" link ").append(r.get("master-link-status"))
                            .append(" master-port ").append(r.get("master-port")).append('\n'));
                    j.sentinelSentinels(masterName).forEach(o -> s.append("sentinel ").append(o.get("port")).append(' ')
                            .append(o.get("flags")).append('\n'));
                } catch (RuntimeException e) {
                    s.append("(no answer: ").append(e).append(")\n");
                }
            }
        }
        for (RedisProcess r : servers) {
            s.append("=== log of server ").append(r.port()).append(" ===\n").append(r.logTail());
        }
        return s.append(logTails()).toString();
    }

    /** SIGKILLs the current master and returns it. */
    public RedisProcess killMaster() {
        RedisProcess m = master();
        m.kill();
        return m;
    }

    /**
     * Waits until the sentinels name a server other than {@code old} and that server answers with the master role.
     *
     * @return the new master
     * @throws IllegalStateException if that does not happen within {@code timeout}, with the sentinels' log tails
     */
    public RedisProcess awaitFailover(RedisProcess old, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            try {
                RedisProcess m = master();
                if (m != old) {
                    try (Jedis j = m.jedis()) {
                        if (j.info("replication").contains("role:master")) {
                            return m;
                        }
                    }
                }
            } catch (RuntimeException notYet) {
                // A sentinel mid-failover, or the new master not answering yet: ask again.
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50));
        }
        throw new IllegalStateException("no failover of " + masterName + " within " + timeout + "\n" + logTails());
    }

    /** The last lines of every sentinel's log, for failure messages. */
    public String logTails() {
        StringBuilder s = new StringBuilder();
        for (Sentinel st : sentinels) {
            s.append("--- sentinel ").append(st.port).append(" ---\n").append(tail(st.dir.resolve("sentinel.log"), 40));
        }
        return s.toString();
    }

    @Override
    public void close() {
        for (Sentinel s : sentinels) {
            s.close();
        }
        for (RedisProcess r : servers) {
            r.close();
        }
    }

    private void startAll(Builder b) {
        RedisProcess master = server().start();
        servers.add(master);
        for (int i = 0; i < b.replicaCount; i++) {
            servers.add(server().setting("replicaof", HOST + " " + master.port()).start());
        }
        long deadline = System.nanoTime() + b.startTimeout.toNanos();
        for (RedisProcess replica : servers.subList(1, servers.size())) {
            await(deadline, "replica " + replica.port() + " in sync with master " + master.port(), () -> {
                try (Jedis j = replica.jedis()) {
                    String info = j.info("replication");
                    return info.contains("master_link_status:up") && !info.contains("master_sync_in_progress:1");
                }
            });
        }
        int quorum = b.sentinelCount == 1 ? 1 : b.sentinelCount / 2 + 1;
        for (int i = 0; i < b.sentinelCount; i++) {
            int port = i == 0 && b.firstSentinelPort != 0 ? b.firstSentinelPort : FreePorts.next();
            sentinels.add(new Sentinel(binary, port, masterName, master.port(), quorum, b, adminSocketFactory()));
        }
        for (Sentinel s : sentinels) {
            s.start();
        }
        for (Sentinel s : sentinels) {
            await(deadline, "sentinel " + s.port + " ready", () -> {
                try (Jedis j = s.jedis()) {
                    List<String> addr = j.sentinelGetMasterAddrByName(masterName);
                    if (addr == null || addr.size() != 2 || Integer.parseInt(addr.get(1)) != master.port()) {
                        return false;
                    }
                    boolean knowsReplicas = j.sentinelReplicas(masterName).size() >= b.replicaCount;
                    boolean knowsOthers = j.sentinelSentinels(masterName).size() >= sentinels.size() - 1;
                    return knowsReplicas && knowsOthers;
                }
            });
        }
    }

    /**
     * A master or replica that restarts in the role Sentinel last gave it; with TLS, replicating over TLS and presenting
     * the client certificate to its master.
     */
    private RedisProcess.Builder server() {
        RedisProcess.Builder b = RedisProcess.builder().binary(binary).keepRewrittenConfig(true)
                .startTimeout(startTimeout);
        if (tls != null) {
            b.tls(tls).tlsAuthClients(tlsAuthClients);
            tlsReplication(b::setting, tls);
        }
        return b;
    }

    private static void tlsReplication(java.util.function.BiConsumer<String, String> setting, TestCertificates certs) {
        setting.accept("tls-replication", "yes");
        setting.accept("tls-client-cert-file", quote(certs.clientCertificate()));
        setting.accept("tls-client-key-file", quote(certs.clientKey()));
    }

    private static String quote(Path file) {
        return "\"" + file.toAbsolutePath() + "\"";
    }

    private javax.net.ssl.SSLSocketFactory adminSocketFactory() {
        return tls == null ? null : tls.clientSocketFactory();
    }

    private void await(long deadline, String what, java.util.function.BooleanSupplier ready) {
        while (System.nanoTime() < deadline) {
            try {
                if (ready.getAsBoolean()) {
                    return;
                }
            } catch (JedisException notYet) {
                // Not listening yet.
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50));
        }
        throw new IllegalStateException("SentinelGroup: no " + what + " in time\n" + logTails());
    }

    private static String infoField(String info, String field) {
        return info.lines().filter(l -> l.startsWith(field + ":")).map(l -> l.substring(field.length() + 1).trim())
                .findFirst().orElse("-");
    }

    private static String tail(Path file, int lines) {
        try {
            if (!Files.exists(file)) {
                return "";
            }
            List<String> all = Files.readAllLines(file, StandardCharsets.UTF_8);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size())) + "\n";
        } catch (IOException | UncheckedIOException e) {
            return "(unreadable: " + e + ")\n";
        }
    }

    /** One sentinel process. */
    private static final class Sentinel {
        final Path binary;
        final int port;
        final Path dir;
        final String conf;
        final javax.net.ssl.SSLSocketFactory tls;
        final String password;
        Process process;

        Sentinel(Path binary, int port, String masterName, int masterPort, int quorum, Builder b,
                 javax.net.ssl.SSLSocketFactory adminTls) {
            this.binary = binary;
            this.port = port;
            this.tls = adminTls;
            this.password = b.sentinelPassword;
            try {
                this.dir = Files.createTempDirectory("spillway-sentinel-").toAbsolutePath();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            StringBuilder tlsConf = new StringBuilder();
            if (b.tls != null) {
                tlsConf.append("tls-port ").append(port).append('\n')
                        .append("tls-cert-file ").append(quote(b.tls.serverCertificate())).append('\n')
                        .append("tls-key-file ").append(quote(b.tls.serverKey())).append('\n')
                        .append("tls-ca-cert-file ").append(quote(b.tls.caCertificate())).append('\n')
                        .append("tls-auth-clients ").append(b.tlsAuthClients ? "yes" : "no").append('\n');
                tlsReplication((name, value) -> tlsConf.append(name).append(' ').append(value).append('\n'), b.tls);
            }
            this.conf = "port " + (b.tls != null ? 0 : port) + "\n"
                    + tlsConf
                    + "bind " + HOST + (b.ipv6 ? " " + HOST6 : "") + "\n"
                    + "daemonize no\n"
                    + "protected-mode no\n"
                    + "dir \"" + dir + "\"\n"
                    + "logfile \"" + dir.resolve("sentinel.log") + "\"\n"
                    + "sentinel monitor " + masterName + " " + HOST + " " + masterPort + " " + quorum + "\n"
                    + "sentinel down-after-milliseconds " + masterName + " " + b.downAfter.toMillis() + "\n"
                    + "sentinel failover-timeout " + masterName + " " + b.failoverTimeout.toMillis() + "\n"
                    + "sentinel parallel-syncs " + masterName + " 1\n"
                    + (b.sentinelPassword == null ? "" : "requirepass \"" + b.sentinelPassword + "\"\n"
                            + "sentinel sentinel-pass \"" + b.sentinelPassword + "\"\n");
        }

        /** Starts the sentinel; on a restart, on its config file as it rewrote it (its id, master, replicas, peers). */
        void start() {
            try {
                Path file = dir.resolve("sentinel.conf");
                if (!Files.exists(file)) {
                    Files.writeString(file, conf, StandardCharsets.UTF_8);
                }
                process = new ProcessBuilder(binary.toString(), file.toString(), "--sentinel")
                        .directory(dir.toFile())
                        .redirectErrorStream(true)
                        .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("sentinel.stdout").toFile()))
                        .start();
                ChildProcesses.register(process);
            } catch (IOException e) {
                throw new UncheckedIOException("Cannot start a sentinel with " + binary, e);
            }
        }

        Jedis jedis() {
            DefaultJedisClientConfig.Builder cfg = DefaultJedisClientConfig.builder()
                    .connectionTimeoutMillis(1000).socketTimeoutMillis(1000).password(password);
            if (tls != null) {
                // No endpoint identification (Jedis adds HTTPS when given no SSLParameters): as RedisProcess's own.
                cfg.ssl(true).sslSocketFactory(tls).sslParameters(new javax.net.ssl.SSLParameters());
            }
            return new Jedis(new HostAndPort(HOST, port), cfg.build());
        }

        boolean isAlive() {
            Process p = process;
            return p != null && p.isAlive();
        }

        /** SIGKILL, and waits until it is dead. */
        void kill() {
            Process p = process;
            if (p != null) {
                p.destroyForcibly();
                try {
                    if (!p.waitFor(10, TimeUnit.SECONDS)) {
                        throw new IllegalStateException("sentinel " + port + " (pid " + p.pid() + ") survived SIGKILL");
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                ChildProcesses.unregister(p);
            }
        }

        void close() {
            Process p = process;
            if (p != null) {
                p.destroyForcibly();
                try {
                    p.waitFor(10, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                ChildProcesses.unregister(p);
            }
            ChildProcesses.deleteRecursively(dir);
        }
    }

    /** Settings of a {@link SentinelGroup}. */
    public static final class Builder {
        private String masterName = DEFAULT_MASTER_NAME;
        private int sentinelCount = 1;
        private int replicaCount = 1;
        private Duration downAfter = Duration.ofMillis(1000);
        private Duration failoverTimeout = Duration.ofMillis(2000);
        private Duration startTimeout = Duration.ofSeconds(30);
        private Path binary;
        private int firstSentinelPort;
        private TestCertificates tls;
        private boolean tlsAuthClients = true;
        private boolean ipv6;
        private String sentinelPassword;

        public Builder masterName(String name) {
            this.masterName = name;
            return this;
        }

        /** 1 (default) or 3. */
        public Builder sentinels(int count) {
            if (count != 1 && count != 3) {
                throw new IllegalArgumentException("sentinels must be 1 or 3, but was " + count);
            }
            this.sentinelCount = count;
            return this;
        }

        /** Replicas of the master: 1 (default) or more. */
        public Builder replicas(int count) {
            if (count < 1) {
                throw new IllegalArgumentException("replicas must be >= 1, but was " + count);
            }
            this.replicaCount = count;
            return this;
        }

        /**
         * How long {@link #start()} waits for the group to be ready, and each server's start timeout (a restart reloads
         * its AOF); default 30 s.
         */
        public Builder startTimeout(Duration timeout) {
            if (timeout.isNegative() || timeout.isZero()) {
                throw new IllegalArgumentException("startTimeout must be > 0, but was " + timeout);
            }
            this.startTimeout = timeout;
            return this;
        }

        public Builder downAfter(Duration d) {
            this.downAfter = d;
            return this;
        }

        public Builder failoverTimeout(Duration d) {
            this.failoverTimeout = d;
            return this;
        }

        /** The port of the first sentinel (default: a free one), for a client configured before the group starts. */
        public Builder firstSentinelPort(int port) {
            this.firstSentinelPort = port;
            return this;
        }

        public Builder binary(Path binary) {
            this.binary = binary;
            return this;
        }

        /** TLS only, everywhere, with {@code certs}; see the class comment. Default: plain TCP. */
        public Builder tls(TestCertificates certs) {
            this.tls = java.util.Objects.requireNonNull(certs, "certs");
            return this;
        }

        /** {@code tls-auth-clients} of servers and sentinels; default yes (Redis's default). Needs {@link #tls}. */
        public Builder tlsAuthClients(boolean required) {
            this.tlsAuthClients = required;
            return this;
        }

        /**
         * A password every sentinel requires of its clients ({@code requirepass}; the servers require none); default
         * none. Letters and digits only: it goes into {@code sentinel.conf} as it is.
         */
        public Builder sentinelPassword(String password) {
            if (password == null || !password.matches("[A-Za-z0-9]+")) {
                throw new IllegalArgumentException("sentinelPassword must be letters and digits, but was '" + password + "'");
            }
            this.sentinelPassword = password;
            return this;
        }

        /** Sentinels listen on {@code ::1} too and {@link #uriString()} names them so; default no. */
        public Builder ipv6Sentinels(boolean on) {
            this.ipv6 = on;
            return this;
        }

        /** Starts master, replicas and sentinels, and waits until a failover could happen. */
        public SentinelGroup start() {
            SentinelGroup g = new SentinelGroup(this);
            try {
                g.startAll(this);
                return g;
            } catch (RuntimeException e) {
                g.close();
                throw e;
            }
        }
    }
}
