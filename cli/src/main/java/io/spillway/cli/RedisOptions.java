package io.spillway.cli;

import io.spillway.core.RedisConnection;
import io.spillway.core.SpillwayException;
import io.spillway.core.internal.ClusterTopology;
import io.spillway.core.internal.Failures;
import io.spillway.core.internal.ServerKind;
import io.spillway.core.internal.ClientSettings;
import io.spillway.core.internal.Tls;
import io.spillway.core.internal.Sentinels;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.apache.commons.pool2.impl.GenericObjectPoolConfig;
import picocli.CommandLine.Option;
import redis.clients.jedis.Connection;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.JedisClientConfig;
import redis.clients.jedis.RedisClusterClient;
import redis.clients.jedis.UnifiedJedis;
import redis.clients.jedis.exceptions.JedisConnectionException;
import redis.clients.jedis.exceptions.JedisDataException;
import redis.clients.jedis.exceptions.JedisMovedDataException;

/**
 * {@code --redis URI}, {@code --timeout}, the TLS files ({@code --tls-ca-cert}, {@code --tls-cert},
 * {@code --tls-key}) and the sentinels' own credentials ({@code --sentinel-user}, {@code --sentinel-password}, or
 * {@value #SENTINEL_USER_ENV} and {@value #SENTINEL_PASSWORD_ENV}), shared by every command that talks to Redis.
 *
 * <p>The Redis's own credentials (with Sentinel, the master's) are the URI's user information; a URI without any takes
 * them from {@value #REDIS_USER_ENV} and {@value #REDIS_PASSWORD_ENV}, so that a password need not be on the command
 * line, where every user of the host sees it ({@code ps}). A URI's own credentials win, even a user alone: the
 * variables, which a shell may keep set for every command, never change what a URI says.
 *
 * <p>A URI of the wrong kind of server (a sentinel as {@code redis://} or {@code redis-cluster://}, a Redis as
 * {@code redis-sentinel://}) is bad input whose line says which URI to give: the server is asked what it is
 * ({@code INFO server}: {@code redis_mode}) once its reply has shown that something is wrong, never before.
 *
 * <p>Keys go through {@link #connect()}, whatever the kind of Redis. What belongs to a server rather than to a key
 * (INFO, CONFIG GET) is read on a plain connection: {@link #connectMaster()} for a standalone Redis or the master the
 * sentinels name, {@link #clusterMap()} and {@link #connectNode} for each master of a Redis Cluster.
 */
final class RedisOptions {
    static final String DEFAULT_URI = "redis://127.0.0.1:6379";
    private static final String CLIENT_NAME = "spillway-cli";
    /** Jedis's attempts per cluster command: one MOVED redirection is followed, as in the producers' gateway. */
    private static final int CLUSTER_ATTEMPTS = 2;
    /** The sentinels' password when {@code --sentinel-password} is not given: not on the command line, not in ps. */
    static final String SENTINEL_PASSWORD_ENV = "SPILLWAY_SENTINEL_PASSWORD";
    /** The sentinels' ACL user when {@code --sentinel-user} is not given. */
    static final String SENTINEL_USER_ENV = "SPILLWAY_SENTINEL_USER";
    /** The Redis's (the master's) password when the URI has no credentials: not on the command line, not in ps. */
    static final String REDIS_PASSWORD_ENV = "SPILLWAY_REDIS_PASSWORD";
    /** The Redis's (the master's) ACL user when the URI has no credentials. */
    static final String REDIS_USER_ENV = "SPILLWAY_REDIS_USER";

    @Option(names = "--redis", paramLabel = "URI", defaultValue = DEFAULT_URI,
            description = "Redis to use: redis://[user:password@]host:port[/db] (rediss:// for TLS), or through Sentinel"
                    + " redis-sentinel://[user:password@]host1[:26379][,host2[:port]...][/db]#masterName"
                    + " (rediss-sentinel:// for TLS to the sentinels and the master; an IPv6 host as [::1]:26379),"
                    + " or a Redis Cluster redis-cluster://[user:password@]host1:port1[,host2:port2...] (any of its nodes;"
                    + " rediss-cluster:// for TLS) (default: ${DEFAULT-VALUE}). A URI without user:password@ takes them"
                    + " from " + REDIS_USER_ENV + " and " + REDIS_PASSWORD_ENV + " (if set): prefer those to a password"
                    + " in the URI, which shows in the process list. A URI's own credentials win over the variables.")
    String uri;

    @Option(names = "--timeout", paramLabel = "MS", defaultValue = "2000",
            description = "Connect and command timeout in milliseconds (default: ${DEFAULT-VALUE}). A Redis that accepts the"
                    + " connection but does not answer within it is said to be hung or overloaded (exit 3).")
    int timeoutMs;

    @Option(names = "--tls-ca-cert", paramLabel = "FILE",
            description = "With rediss:// or rediss-sentinel://: trust the CA certificate(s) in this PEM file instead of the JVM's trust store"
                    + " (a Redis whose certificate a private CA signed).")
    Path tlsCaCert;

    @Option(names = "--tls-cert", paramLabel = "FILE",
            description = "With rediss:// or rediss-sentinel://: present this client certificate (PEM), for a Redis with tls-auth-clients"
                    + " yes (Redis's default); needs --tls-key.")
    Path tlsCert;

    @Option(names = "--tls-key", paramLabel = "FILE",
            description = "The unencrypted private key (PEM) of --tls-cert.")
    Path tlsKey;

    @Option(names = "--sentinel-user", paramLabel = "USER",
            description = "With redis-sentinel://: the sentinels' own ACL user (default: " + SENTINEL_USER_ENV
                    + ", else none). The URI's user is the master's.")
    String sentinelUser;

    @Option(names = "--sentinel-password", paramLabel = "PASSWORD",
            description = "With redis-sentinel://: the sentinels' own password (their requirepass or ACL user's), which"
                    + " the URI's is not: that one is the master's (default: " + SENTINEL_PASSWORD_ENV + ", else none;"
                    + " prefer the variable: an option shows in the process list).")
    String sentinelPassword;

    /**
     * The ACL rule sets of docs/operations.md (Managed Redis), one per role: the hint of a command the ACL refuses names
     * the one the command needs.
     */
    enum AclRules {
        PRODUCER("a producer", "spillway-producer"),
        WORKER("a worker", "spillway-worker"),
        TOOLS("the read-only tools", "spillway-tools");

        private final String role;
        private final String user;

        AclRules(String role, String user) {
            this.role = role;
            this.user = user;
        }

        /** The hint's text: {@code grant it <hint>}. */
        String hint() {
            return "the ACL rules for " + role + " (" + user + ") in docs/operations.md (Managed Redis)";
        }
    }

    /** The Redis's credentials came from {@value #REDIS_USER_ENV} / {@value #REDIS_PASSWORD_ENV}, not the URI. */
    private boolean credentialsFromEnvironment;

    /** The rules the command needs; the read-only tools' unless the command says otherwise ({@link #needs}). */
    private AclRules aclRules = AclRules.TOOLS;

    /** Says which ACL rules the command needs, for the hint of a refused command; returns this. */
    RedisOptions needs(AclRules rules) {
        aclRules = rules;
        return this;
    }

    RedisConnection connection() {
        if (timeoutMs <= 0) {
            throw new CliException(ExitCodes.USAGE, "--timeout must be > 0, but was " + timeoutMs);
        }
        if ((tlsCert == null) != (tlsKey == null)) {
            throw new CliException(ExitCodes.USAGE, tlsCert != null ? "--tls-cert needs --tls-key" : "--tls-key needs --tls-cert");
        }
        try {
            // From the text: java.net.URI cannot hold several IPv6 sentinels.
            RedisConnection.Builder b = RedisConnection.builder(uri)
                    .connectTimeout(Duration.ofMillis(timeoutMs))
                    .socketTimeout(Duration.ofMillis(timeoutMs))
                    .clientName(CLIENT_NAME);
            if (tlsCaCert != null) {
                b.trustedCertificates(tlsCaCert);
            }
            if (tlsCert != null) {
                b.clientCertificate(tlsCert, tlsKey);
            }
            redisCredentials(b);
            sentinelCredentials(b);
            return b.build();
        } catch (IllegalArgumentException e) {
            throw new CliException(ExitCodes.USAGE, e.getMessage());
        }
    }

    /**
     * The Redis's credentials from the environment, for a URI that has none: one with any user information (a user, a
     * password, or both) keeps its own, and the variables are not read.
     */
    private void redisCredentials(RedisConnection.Builder b) {
        RedisConnection asGiven = RedisConnection.builder(uri).build();
        if (asGiven.user() != null || asGiven.password() != null) {
            return;
        }
        String user = nonEmpty(System.getenv(REDIS_USER_ENV));
        String password = nonEmpty(System.getenv(REDIS_PASSWORD_ENV));
        if (user != null || password != null) {
            try {
                b.credentials(user, password);
            } catch (IllegalArgumentException e) {
                throw new CliException(ExitCodes.USAGE, REDIS_USER_ENV + ": " + e.getMessage());
            }
            credentialsFromEnvironment = true;
        }
    }

    /**
     * The sentinels' credentials, from the options or else the environment. Given as options with a URI that is not
     * {@code redis-sentinel://} they are bad input; from the environment they are ignored then (a shell may keep them
     * set for every command).
     */
    private void sentinelCredentials(RedisConnection.Builder b) {
        boolean sentinel = uri.regionMatches(true, 0, "redis-sentinel:", 0, 15)
                || uri.regionMatches(true, 0, "rediss-sentinel:", 0, 16);
        if (!sentinel) {
            if (sentinelUser != null || sentinelPassword != null) {
                throw new CliException(ExitCodes.USAGE, (sentinelPassword != null ? "--sentinel-password" : "--sentinel-user")
                        + " needs a redis-sentinel:// URI, but --redis was " + RedisConnection.builder(uri).build().redacted()
                        + " (the URI's own credentials are those of its Redis)");
            }
            return;
        }
        String user = sentinelUser != null ? sentinelUser : nonEmpty(System.getenv(SENTINEL_USER_ENV));
        String password = sentinelPassword != null ? sentinelPassword : nonEmpty(System.getenv(SENTINEL_PASSWORD_ENV));
        if (user != null || password != null) {
            b.sentinelCredentials(user, password);
        }
    }

    private static String nonEmpty(String s) {
        return s == null || s.isEmpty() ? null : s;
    }

    /**
     * A connected client for keys: on a standalone Redis one connection to it, with Sentinel one to the master the
     * sentinels name now, on a Redis Cluster a {@link RedisClusterClient} (each command goes to the master of its key's
     * slot; every key of a queue is in one slot, so a command about one queue, multi-key ones too, reaches one master).
     * An unreachable Redis, refused credentials, a TLS mismatch become a one-line {@link CliException}.
     */
    UnifiedJedis connect() {
        RedisConnection c = connection();
        JedisClientConfig cfg = clientConfig(c);
        if (c.cluster()) {
            return connectCluster(c, cfg);
        }
        HostAndPort at = master(c);
        Connection conn = null;
        try {
            conn = new Connection(at, cfg);
            UnifiedJedis j = new UnifiedJedis(conn);
            j.ping();
            return j;
        } catch (RuntimeException e) {
            if (conn != null) {
                conn.close();
            }
            throw failure(c, at, e);
        }
    }

    /**
     * A plain connection to the Redis whose settings matter, for what belongs to a server rather than to a key (INFO,
     * CONFIG GET): the Redis itself, or the master the sentinels name now. Not for a cluster: see {@link #clusterMap()}
     * and {@link #connectNode(HostAndPort)}.
     */
    Master connectMaster() {
        RedisConnection c = connection();
        if (c.cluster()) {
            throw new IllegalStateException("a Redis Cluster has no one master: use clusterMap() and connectNode()");
        }
        HostAndPort at = master(c);
        try {
            return new Master(at, pinged(new Jedis(at, clientConfig(c))));
        } catch (RuntimeException e) {
            throw failure(c, at, e);
        }
    }

    /** A connection of {@link #connectMaster()}, and the address it reached: with Sentinel, the master named then. */
    record Master(HostAndPort address, Jedis jedis) implements AutoCloseable {
        @Override
        public void close() {
            jedis.close();
        }
    }

    /**
     * The cluster's state and masters, from the first node given in {@code --redis} that answers (a failure is one
     * line: the last node's, if none answers).
     */
    ClusterTopology clusterMap() {
        RedisConnection c = connection();
        return clusterMap(c, clientConfig(c));
    }

    /**
     * A plain connection to one node: a master or replica of {@link #clusterMap()}, or a replica the sentinels list; a
     * failure names the node.
     */
    Jedis connectNode(HostAndPort node) {
        RedisConnection c = connection();
        try {
            return pinged(new Jedis(node, clientConfig(c)));
        } catch (RuntimeException e) {
            throw nodeFailure(c, node, e);
        }
    }

    /**
     * The replicas the sentinels list for the master of a {@code redis-sentinel://} connection ({@code SENTINEL
     * REPLICAS}, from the first sentinel that answers), each with the flags that sentinel gives it ({@code slave},
     * {@code s_down}, {@code disconnected}, …). A failure to reach any sentinel is one line, as for the master.
     */
    Map<HostAndPort, String> sentinelReplicas() {
        RedisConnection c = connection();
        JedisClientConfig cfg = Sentinels.config(c, CLIENT_NAME);
        RuntimeException last = null;
        HostAndPort lastSentinel = null;
        for (HostAndPort s : Sentinels.addresses(c)) {
            try (Jedis j = new Jedis(s, cfg)) {
                Map<HostAndPort, String> out = new LinkedHashMap<>();
                for (Map<String, String> r : j.sentinelReplicas(c.masterName())) {
                    out.put(new HostAndPort(r.get("ip"), Integer.parseInt(r.get("port"))), r.getOrDefault("flags", ""));
                }
                return out;
            } catch (RuntimeException e) {
                last = e;
                lastSentinel = s;
            }
        }
        throw sentinelFailure(c, lastSentinel, last);
    }

    private static Jedis pinged(Jedis j) {
        try {
            j.ping();
            return j;
        } catch (RuntimeException e) {
            j.close();
            throw e;
        }
    }

    /**
     * Standalone: the Redis; Sentinel: the master the sentinels name now (a failure to learn it, one line that says it
     * was the sentinels' and, for refused credentials, names the sentinels' options).
     */
    private HostAndPort master(RedisConnection c) {
        if (!c.sentinel()) {
            return new HostAndPort(c.host(), c.port());
        }
        try {
            return Sentinels.currentMaster(c, Sentinels.config(c, CLIENT_NAME));
        } catch (RuntimeException e) {
            throw sentinelFailure(c, e instanceof Sentinels.Unanswered u ? u.sentinel() : null, e);
        }
    }

    private ClusterTopology clusterMap(RedisConnection c, JedisClientConfig cfg) {
        RuntimeException last = null;
        HostAndPort lastNode = null;
        for (InetSocketAddress a : c.clusterNodes()) {
            HostAndPort node = new HostAndPort(a.getHostString(), a.getPort());
            try (Jedis j = new Jedis(node, cfg)) {
                return ClusterTopology.read(node, j);
            } catch (JedisConnectionException e) {
                // Any node can tell the map: try the next one.
                last = e;
                lastNode = node;
            } catch (RuntimeException e) {
                // An error reply (credentials, not a cluster node) would be the same from the others.
                throw nodeFailure(c, node, e);
            }
        }
        throw failure(c, lastNode, last);
    }

    /**
     * The cluster client, built like the producers' (core's RedisGateway): the nodes given and the masters the map
     * names as seeds, the same client settings, one redirection followed.
     */
    private UnifiedJedis connectCluster(RedisConnection c, JedisClientConfig cfg) {
        ClusterTopology map = clusterMap(c, cfg); // one line now if no node answers or the credentials are refused
        Set<HostAndPort> seeds = new LinkedHashSet<>();
        c.clusterNodes().forEach(a -> seeds.add(new HostAndPort(a.getHostString(), a.getPort())));
        map.masters().forEach(m -> seeds.add(m.address()));
        GenericObjectPoolConfig<Connection> pool = new GenericObjectPoolConfig<>();
        pool.setMaxTotal(2);
        pool.setMaxWait(Duration.ofMillis(2L * timeoutMs));
        pool.setJmxEnabled(false);
        try {
            return RedisClusterClient.builder()
                    .nodes(seeds)
                    .clientConfig(cfg)
                    .poolConfig(pool)
                    .maxAttempts(CLUSTER_ATTEMPTS)
                    .maxTotalRetriesDuration(Duration.ofMillis((long) CLUSTER_ATTEMPTS * timeoutMs))
                    .build();
        } catch (RuntimeException e) {
            throw failure(c, map.from(), e);
        }
    }

    /** The settings of every connection the command makes: timeouts, database, name, TLS and credentials. */
    private JedisClientConfig clientConfig(RedisConnection c) {
        return ClientSettings.builder(c, CLIENT_NAME, c.user(), c.password())
                .connectionTimeoutMillis(timeoutMs).socketTimeoutMillis(timeoutMs).blockingSocketTimeoutMillis(timeoutMs)
                .database(c.database())
                .build();
    }

    /**
     * A Redis failure as one line: refused credentials are bad input ({@link ExitCodes#USAGE}, whether none were
     * given, NOAUTH, or wrong ones, WRONGPASS: the fix is the same, the URI) and a command or key its ACL refuses the
     * user (NOPERM: the hint names the rules of {@link #needs}) and a {@code /db} the server does not have are bad input
     * ({@link ExitCodes#USAGE}), an unreachable Redis {@link ExitCodes#UNREACHABLE}, any other error reply
     * {@link ExitCodes#FAILED}. A TLS failure (untrusted
     * certificate, host name mismatch, client certificate required, TLS against a plain port or the reverse) is bad
     * input too: the fix is the URI or the TLS options.
     */
    CliException failure(RedisConnection c, RuntimeException e) {
        return failure(c, null, e);
    }

    /**
     * {@link #failure(RedisConnection, RuntimeException)} part-way through a command that acts on several items in turn
     * (its gateway wraps the client's exception): the line also says how far it got, and, when Redis could not be
     * reached, that running it again is harmless ({@code doing}: "cancelling", "pausing", …).
     */
    CliException failurePartWay(RedisConnection c, RuntimeException e, String doing, int done, int total, String items) {
        RuntimeException cause = e instanceof SpillwayException && e.getCause() instanceof RuntimeException r ? r : e;
        CliException f = failure(c, cause);
        if (done == 0) {
            return f;
        }
        return new CliException(f.exitCode(), f.getMessage() + " (" + done + " of " + total + " " + items + " done before it"
                + (f.exitCode() == ExitCodes.UNREACHABLE ? "; " + doing + " again is harmless: run the command again" : "")
                + ")");
    }

    /**
     * {@link #failure(RedisConnection, RuntimeException)} of a connection to {@code at} (null if not known); with
     * Sentinel {@code at} is the master the sentinels named, and the line names it.
     */
    CliException failure(RedisConnection c, HostAndPort at, RuntimeException e) {
        return failure(c, at, c.sentinel() && at != null ? c.redacted() + " (master " + at + ")" : c.redacted(), e);
    }

    /**
     * {@link #failure(RedisConnection, RuntimeException)} of a connection to {@code node}, a node of a Redis Cluster:
     * the line names the node ({@code Redis at redis-cluster://… (node 10.0.0.6:6379) …}).
     */
    CliException nodeFailure(RedisConnection c, HostAndPort node, RuntimeException e) {
        return failure(c, node, c.redacted() + " (node " + node + ")", e);
    }

    /**
     * {@link #failure(RedisConnection, RuntimeException)} of asking the sentinels of a {@code redis-sentinel://}
     * connection ({@code sentinel}: the last one asked, or null if not known): the line names the sentinel, refused
     * credentials name the sentinels' options (theirs are not the URI's), and a server that does not know
     * {@code SENTINEL} is said not to be a sentinel.
     */
    CliException sentinelFailure(RedisConnection c, HostAndPort sentinel, RuntimeException e) {
        if (sentinel == null && String.valueOf(e.getMessage()).startsWith("no sentinel knows master")) {
            // Every sentinel that answered said it watches no master of that name: a typo in #masterName, most likely.
            CliException unknown = unknownMaster(c);
            if (unknown != null) {
                return unknown;
            }
        }
        return failure(c, sentinel, c.redacted() + (sentinel == null ? "" : " (sentinel " + sentinel + ")"), e, true);
    }

    /** The line for a {@code #masterName} no sentinel knows, naming those the first sentinel that answers monitors. */
    private CliException unknownMaster(RedisConnection c) {
        for (HostAndPort s : Sentinels.addresses(c)) {
            ServerKind kind = ServerKind.ask(s, Sentinels.config(c, CLIENT_NAME));
            if (kind != null && kind.sentinel()) {
                return new CliException(ExitCodes.USAGE, "the sentinels of " + c.redacted() + " monitor no master named '"
                        + c.masterName() + "' (" + (kind.masters().isEmpty() ? "sentinel " + s + " monitors none"
                        : "sentinel " + s + " monitors " + String.join(", ", kind.masters())) + "); give one of theirs"
                        + " after the '#'");
            }
        }
        return null;
    }

    private CliException failure(RedisConnection c, HostAndPort at, String redis, RuntimeException e) {
        return failure(c, at, redis, e, false);
    }

    /** {@code atSentinel}: {@code e} is the failure of a connection to a sentinel ({@code at}), not to a Redis. */
    private CliException failure(RedisConnection c, HostAndPort at, String redis, RuntimeException e, boolean atSentinel) {
        // Tls.diagnose first: it names the sentinel when no sentinel answered over TLS.
        String tls = at != null ? Tls.diagnose(c, at, e) : Tls.diagnose(c, e);
        if (tls == null && Failures.isTlsFailure(e)) {
            tls = Failures.describe(e);
        }
        if (tls != null) {
            return new CliException(ExitCodes.USAGE, "cannot connect to Redis at " + redis + ": " + tls);
        }
        String refused = credentialsRefused(e);
        if (refused != null) {
            return new CliException(ExitCodes.USAGE, "Redis at " + redis + " refused the credentials: " + refused + "; "
                    + credentialsFix(c, atSentinel));
        }
        String reply = errorReply(e);
        if (isUnknownCommand(reply)) {
            // The wrong kind of server for the URI: say which URI to give, rather than Redis's words for a command.
            CliException wrongKind = wrongKind(c, at, redis, reply, atSentinel);
            if (wrongKind != null) {
                return wrongKind;
            }
        }
        if (Failures.isPermissionDenied(e)) {
            // An ACL that refuses the user a command or key: bad input, like refused credentials (the fix is the user's ACL).
            String user = c.user() != null ? "user '" + c.user() + "'" : "the default user";
            return new CliException(ExitCodes.USAGE, "Redis at " + redis + " refused a command to " + user + ": "
                    + Failures.describe(e) + "; grant it " + aclRules.hint());
        }
        if (reply != null && (reply.contains("DB index is out of range") || reply.contains("invalid DB index"))) {
            // SELECT of a database the server does not have: the fix is the /db of the URI, as for credentials.
            return new CliException(ExitCodes.USAGE, "Redis at " + redis + " has no database " + c.database() + " (" + reply
                    + "); give a /db below its 'databases' setting (16 by default)");
        }
        // The wrong kind of URI: waiting will not mend either, so bad input, before the MOVED reply counts as "not now".
        if (c.cluster() && reply != null && reply.contains("cluster support disabled")) {
            return new CliException(ExitCodes.USAGE, "Redis at " + redis + " is not a Redis Cluster (" + reply
                    + "); give a standalone Redis as redis://host:port");
        }
        if (!c.cluster() && e instanceof JedisMovedDataException) {
            return new CliException(ExitCodes.USAGE, "Redis at " + redis + " is a node of a Redis Cluster (" + reply
                    + "); give the cluster as redis-cluster://host1:port1,host2:port2");
        }
        String clusterDown = clusterDown(e);
        if (clusterDown != null) {
            // A live node's refusal: the cluster lacks a master for some slots, not this node.
            return new CliException(ExitCodes.UNREACHABLE, "Redis Cluster " + redis + " refuses commands: " + clusterDown
                    + "; " + CLUSTER_DOWN_FIX);
        }
        // Core counts NOAUTH as "not now" (a producer spools through it), so this test comes first.
        if (Failures.isUnavailable(e) && noReply(e)) {
            return new CliException(ExitCodes.UNREACHABLE, "Redis at " + redis + " " + noReplyReason());
        }
        if (Failures.isUnavailable(e)) {
            return new CliException(ExitCodes.UNREACHABLE, "cannot reach Redis at " + redis + ": " + Failures.describe(e));
        }
        return new CliException(ExitCodes.FAILED, "Redis at " + redis + " refused: " + Failures.describe(e));
    }

    /**
     * Whether {@code e} is a reply that never came on a connection Redis accepted (a read timeout, not a connect
     * timeout): the kernel still accepts connections for a Redis that is stopped (SIGSTOP) or too busy to answer,
     * which "timed out" alone does not tell from a host that is down.
     */
    static boolean noReply(Throwable e) {
        Throwable t = Failures.lastAttempt(e) != null ? Failures.lastAttempt(e) : e;
        for (int depth = 0; t != null && depth < 10; depth++, t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof java.net.SocketTimeoutException) {
                String m = String.valueOf(t.getMessage()).toLowerCase(java.util.Locale.ROOT);
                return !m.contains("connect");
            }
        }
        return false;
    }

    /** What a {@link #noReply} failure is said as, after "Redis at URI". */
    String noReplyReason() {
        return "accepts connections but does not answer within " + timeoutMs + " ms (--timeout); hung or overloaded?"
                + " (stopped with SIGSTOP, a long command or script: SLOWLOG GET, a slow disk or fork)";
    }

    /** {@link Failures#describe}, but a {@link #noReply} failure as {@link #noReplyReason}. */
    String describe(Throwable e) {
        return noReply(e) ? "Redis " + noReplyReason() : Failures.describe(e);
    }

    /** What to do about refused credentials: which credentials, and where they go. */
    private String credentialsFix(RedisConnection c, boolean atSentinel) {
        if (atSentinel) {
            return c.sentinelPassword() == null
                    ? "the sentinels have a password of their own, not the URI's (that is the master's): give it with"
                            + " --sentinel-password or " + SENTINEL_PASSWORD_ENV + " (and --sentinel-user or "
                            + SENTINEL_USER_ENV + " for an ACL user)"
                    : "check the sentinels' own user and password (--sentinel-user, --sentinel-password, or "
                            + SENTINEL_USER_ENV + " and " + SENTINEL_PASSWORD_ENV + "), which are not the URI's (the master's)";
        }
        if (credentialsFromEnvironment) {
            return "check " + REDIS_USER_ENV + " and " + REDIS_PASSWORD_ENV + ", where the credentials came from (the URI"
                    + " has none" + (c.sentinel() ? "; they are the master's, not the sentinels'" : "") + ")";
        }
        if (c.sentinel()) {
            return "give the master's user:password in the URI (redis-sentinel://user:password@host1:26379,…#"
                    + c.masterName() + ") or in " + REDIS_USER_ENV + " and " + REDIS_PASSWORD_ENV
                    + "; the sentinels' own go in --sentinel-password or " + SENTINEL_PASSWORD_ENV;
        }
        return "give user:password in the URI (" + (c.cluster() ? "redis-cluster://user:password@host:port,…"
                : "redis://user:password@host:port") + "), or in " + REDIS_USER_ENV + " and " + REDIS_PASSWORD_ENV
                + " for a URI without them";
    }

    /** The fix of a cluster that refuses commands (CLUSTERDOWN), for every line that reports one. */
    static final String CLUSTER_DOWN_FIX = "the cluster is down, or some slots have no master that answers (the node"
            + " that replied is up: it refuses for want of the others); bring back the failed master, or let one of its"
            + " replicas take over; 'spillway doctor' names the masters that do not answer and their slots";

    /**
     * The CLUSTERDOWN reply in {@code e} or its causes (or in what the cluster client's last attempt met), on one line
     * ({@code CLUSTERDOWN The cluster is down}), or null.
     */
    static String clusterDown(Throwable e) {
        Throwable last = Failures.lastAttempt(e);
        String reply = errorReply(last != null ? last : e);
        return reply != null && reply.startsWith("CLUSTERDOWN") ? reply : null;
    }

    private static boolean isUnknownCommand(String reply) {
        return reply != null && reply.startsWith("ERR unknown command");
    }

    /**
     * The line for a server of the wrong kind for the URI, asked what it is on a connection of its own
     * ({@link ServerKind#ask}, as core's reconnect loop asks it): a sentinel given as {@code redis://} or {@code redis-cluster://}, a Redis given as a
     * sentinel. Null if it is of the right kind, or cannot tell.
     */
    private CliException wrongKind(RedisConnection c, HostAndPort at, String redis, String reply, boolean atSentinel) {
        if (atSentinel) {
            if (at == null || !reply.toLowerCase(Locale.ROOT).contains("sentinel")) {
                return null;
            }
            ServerKind kind = ServerKind.ask(at, Sentinels.config(c, CLIENT_NAME));
            return new CliException(ExitCodes.USAGE, "Redis at " + redis + " is not a Redis Sentinel (" + reply + "); "
                    + (kind != null && kind.cluster()
                            ? "it is a node of a Redis Cluster: give the cluster as redis-cluster://" + at + "[,host2:port2…]"
                            : "give a Redis as redis://" + at + ", or the sentinels' addresses (port 26379 by default)"));
        }
        if (c.sentinel()) {
            return null;
        }
        HostAndPort node = at != null ? at : new HostAndPort(c.host(), c.port());
        ServerKind kind = ServerKind.ask(node, clientConfig(c));
        if (kind == null || !kind.sentinel()) {
            return null;
        }
        return new CliException(ExitCodes.USAGE, "Redis at " + redis + (c.cluster() ? " is not a Redis Cluster: it" : "")
                + " is a Redis Sentinel (" + reply + "); give it as redis-sentinel://" + node + "#" + kind.masterName() + " ("
                + kind.monitors() + ")");
    }

    /**
     * The line that says the Redis doctor reached as {@code redis://} or {@code redis-cluster://} is a sentinel
     * ({@code INFO server} said {@code redis_mode:sentinel}): which URI to give, naming the masters it monitors.
     */
    CliException sentinelGiven(RedisConnection c, HostAndPort node) {
        ServerKind kind = ServerKind.ask(node, clientConfig(c));
        if (kind == null) {
            kind = new ServerKind(ServerKind.SENTINEL, List.of()); // INFO said so a moment ago: only its masters are unknown
        }
        return new CliException(ExitCodes.USAGE, "Redis at " + c.redacted() + " is a Redis Sentinel (INFO: redis_mode"
                + " sentinel), not a Redis; give it as redis-sentinel://" + node + "#" + kind.masterName() + " ("
                + kind.monitors() + ")");
    }

    /** The first error reply in {@code e} or its causes, on one line, or null. */
    private static String errorReply(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof JedisDataException && t.getMessage() != null) {
                return SpillwayCli.oneLine(t.getMessage());
            }
        }
        return null;
    }

    /** The error reply, if {@code e} (or a cause) is Redis refusing the credentials (NOAUTH, WRONGPASS), else null. */
    static String credentialsRefused(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof JedisDataException && t.getMessage() != null) {
                String reply = SpillwayCli.oneLine(t.getMessage());
                if (reply.startsWith("NOAUTH") || reply.startsWith("WRONGPASS") || reply.startsWith("ERR invalid password")) {
                    return reply.endsWith(".") ? reply.substring(0, reply.length() - 1) : reply;
                }
            }
        }
        return null;
    }
}
