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
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.exceptions.JedisException;

/**
 * A real Sentinel deployment on loopback ports, for failover tests: a master and one replica ({@link RedisProcess}es)
 * and one or three sentinels, all run by the same {@code redis-server} binary (the sentinels as
 * {@code redis-server sentinel.conf --sentinel}).
 *
 * <p>Contract:
 * <ul>
 *   <li>{@link Builder#start()} returns once the replica is in sync and every sentinel names the master and
 *       knows the replica (and, with three, the other sentinels): a failover can happen from then on.</li>
 *   <li>Sentinel settings: {@code down-after-milliseconds} {@link Builder#downAfter} (default 1000 ms),
 *       {@code failover-timeout} {@link Builder#failoverTimeout} (default 2000 ms), quorum 1 of one sentinel or 2 of
 *       three. Each sentinel's config file lives, writable, in its own directory (sentinels rewrite it).</li>
 *   <li>{@link #master()} asks a sentinel which server is the master now; {@link #killMaster()} SIGKILLs it;
 *       {@link #awaitFailover} waits until the sentinels name another server and it answers with the master role.</li>
 *   <li>{@link #close()} kills every process and deletes their directories.</li>
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

    private final String masterName;
    private final List<RedisProcess> servers = new ArrayList<>();
    private final List<Sentinel> sentinels = new ArrayList<>();
    private final Path binary;

    private SentinelGroup(Builder b) {
        this.masterName = b.masterName;
        this.binary = b.binary != null ? b.binary : RedisBinary.locate();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** {@code redis-sentinel://127.0.0.1:<s1>[,127.0.0.1:<s2>...]#<masterName>}. */
    public URI uri() {
        StringBuilder s = new StringBuilder("redis-sentinel://");
        for (int i = 0; i < sentinels.size(); i++) {
            s.append(i == 0 ? "" : ",").append(HOST).append(':').append(sentinels.get(i).port);
        }
        return URI.create(s.append('#').append(masterName).toString());
    }

    public String masterName() {
        return masterName;
    }

    /** The master and the replica, in start order (the first was the master at start). */
    public List<RedisProcess> servers() {
        return List.copyOf(servers);
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

    /** The server that is not the master now (the replica). */
    public RedisProcess replica() {
        int port = masterPort();
        return servers.stream().filter(s -> s.port() != port).findFirst().orElseThrow();
    }

    /**
     * Asks the first sentinel for a failover now ({@code SENTINEL FAILOVER}): the replica is promoted and the old
     * master, still running, is demoted to a replica of it. Returns the old master.
     */
    public RedisProcess failover() {
        RedisProcess m = master();
        try (Jedis j = sentinels.get(0).jedis()) {
            j.sentinelFailover(masterName);
        }
        return m;
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
        RedisProcess master = RedisProcess.builder().binary(binary).start();
        servers.add(master);
        RedisProcess replica = RedisProcess.builder().binary(binary).setting("replicaof", HOST + " " + master.port()).start();
        servers.add(replica);
        long deadline = System.nanoTime() + b.startTimeout.toNanos();
        await(deadline, "replica in sync with master " + master.port(), () -> {
            try (Jedis j = replica.jedis()) {
                String info = j.info("replication");
                return info.contains("master_link_status:up") && !info.contains("master_sync_in_progress:1");
            }
        });
        int quorum = b.sentinelCount == 1 ? 1 : b.sentinelCount / 2 + 1;
        for (int i = 0; i < b.sentinelCount; i++) {
            int port = i == 0 && b.firstSentinelPort != 0 ? b.firstSentinelPort : FreePorts.next();
            sentinels.add(new Sentinel(binary, port, masterName, master.port(), quorum, b));
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
                    boolean knowsReplica = !j.sentinelReplicas(masterName).isEmpty();
                    boolean knowsOthers = j.sentinelSentinels(masterName).size() >= sentinels.size() - 1;
                    return knowsReplica && knowsOthers;
                }
            });
        }
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
        Process process;

        Sentinel(Path binary, int port, String masterName, int masterPort, int quorum, Builder b) {
            this.binary = binary;
            this.port = port;
            try {
                this.dir = Files.createTempDirectory("spillway-sentinel-").toAbsolutePath();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            this.conf = "port " + port + "\n"
                    + "bind " + HOST + "\n"
                    + "daemonize no\n"
                    + "protected-mode no\n"
                    + "dir \"" + dir + "\"\n"
                    + "logfile \"" + dir.resolve("sentinel.log") + "\"\n"
                    + "sentinel monitor " + masterName + " " + HOST + " " + masterPort + " " + quorum + "\n"
                    + "sentinel down-after-milliseconds " + masterName + " " + b.downAfter.toMillis() + "\n"
                    + "sentinel failover-timeout " + masterName + " " + b.failoverTimeout.toMillis() + "\n"
                    + "sentinel parallel-syncs " + masterName + " 1\n";
        }

        void start() {
            try {
                Path file = dir.resolve("sentinel.conf");
                Files.writeString(file, conf, StandardCharsets.UTF_8);
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
            return new Jedis(new HostAndPort(HOST, port), DefaultJedisClientConfig.builder()
                    .connectionTimeoutMillis(1000).socketTimeoutMillis(1000).build());
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
        private Duration downAfter = Duration.ofMillis(1000);
        private Duration failoverTimeout = Duration.ofMillis(2000);
        private Duration startTimeout = Duration.ofSeconds(30);
        private Path binary;
        private int firstSentinelPort;

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

        /** Starts master, replica and sentinels, and waits until a failover could happen. */
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
