package io.spillway.cli;

import io.spillway.core.RedisConnection;
import io.spillway.core.internal.Failures;
import io.spillway.core.internal.Tls;
import io.spillway.core.internal.Sentinels;
import java.nio.file.Path;
import java.time.Duration;
import picocli.CommandLine.Option;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.exceptions.JedisDataException;

/**
 * {@code --redis URI}, {@code --timeout} and the TLS files ({@code --tls-ca-cert}, {@code --tls-cert},
 * {@code --tls-key}), shared by every command that talks to Redis.
 */
final class RedisOptions {
    static final String DEFAULT_URI = "redis://127.0.0.1:6379";

    @Option(names = "--redis", paramLabel = "URI", defaultValue = DEFAULT_URI,
            description = "Redis to use: redis://[user:password@]host:port[/db] (rediss:// for TLS), or through Sentinel"
                    + " redis-sentinel://[user:password@]host1[:26379][,host2[:port]...][/db]#masterName"
                    + " (rediss-sentinel:// for TLS to the sentinels and the master; an IPv6 host as [::1]:26379)"
                    + " (default: ${DEFAULT-VALUE}).")
    String uri;

    @Option(names = "--timeout", paramLabel = "MS", defaultValue = "2000",
            description = "Connect and command timeout in milliseconds (default: ${DEFAULT-VALUE}).")
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
                    .clientName("spillway-cli");
            if (tlsCaCert != null) {
                b.trustedCertificates(tlsCaCert);
            }
            if (tlsCert != null) {
                b.clientCertificate(tlsCert, tlsKey);
            }
            return b.build();
        } catch (IllegalArgumentException e) {
            throw new CliException(ExitCodes.USAGE, e.getMessage());
        }
    }

    /** A connected client; an unreachable Redis or refused credentials become a one-line {@link CliException}. */
    Jedis connect() {
        RedisConnection c = connection();
        DefaultJedisClientConfig.Builder cfg = DefaultJedisClientConfig.builder()
                .connectionTimeoutMillis(timeoutMs).socketTimeoutMillis(timeoutMs).blockingSocketTimeoutMillis(timeoutMs)
                .database(c.database()).clientName("spillway-cli");
        Tls.configure(cfg, c);
        if (c.user() != null) {
            cfg.user(c.user());
        }
        if (c.password() != null) {
            cfg.password(c.password());
        }
        HostAndPort at = null;
        try {
            at = c.sentinel() ? Sentinels.currentMaster(c, Sentinels.config(c, "spillway-cli"))
                    : new HostAndPort(c.host(), c.port());
            Jedis j = new Jedis(at, cfg.build());
            j.ping();
            return j;
        } catch (RuntimeException e) {
            throw failure(c, at, e);
        }
    }

    /**
     * A Redis failure as one line: refused credentials are bad input ({@link ExitCodes#USAGE}, whether none were
     * given, NOAUTH, or wrong ones, WRONGPASS: the fix is the same, the URI) and a command or key its ACL refuses the
     * user (NOPERM) are bad input ({@link ExitCodes#USAGE}), an unreachable Redis
     * {@link ExitCodes#UNREACHABLE}, any other error reply {@link ExitCodes#FAILED}. A TLS failure (untrusted
     * certificate, host name mismatch, client certificate required, TLS against a plain port or the reverse) is bad
     * input too: the fix is the URI or the TLS options.
     */
    static CliException failure(RedisConnection c, RuntimeException e) {
        return failure(c, null, e);
    }

    /** {@link #failure(RedisConnection, RuntimeException)} of a connection to {@code at} (null if not known). */
    static CliException failure(RedisConnection c, HostAndPort at, RuntimeException e) {
        // Tls.diagnose first: it names the sentinel when no sentinel answered over TLS.
        String tls = at != null ? Tls.diagnose(c, at, e) : Tls.diagnose(c, e);
        if (tls == null && Failures.isTlsFailure(e)) {
            tls = Failures.describe(e);
        }
        if (tls != null) {
            return new CliException(ExitCodes.USAGE, "cannot connect to Redis at " + c.redacted() + ": " + tls);
        }
        String refused = credentialsRefused(e);
        if (refused != null) {
            return new CliException(ExitCodes.USAGE, "Redis at " + c.redacted() + " refused the credentials: " + refused
                    + "; give user:password in the URI (redis://user:password@host:port)");
        }
        if (Failures.isPermissionDenied(e)) {
            // An ACL that refuses the user a command or key: bad input, like refused credentials (the fix is the user's ACL).
            String user = c.user() != null ? "user '" + c.user() + "'" : "the default user";
            return new CliException(ExitCodes.USAGE, "Redis at " + c.redacted() + " refused a command to " + user + ": "
                    + Failures.describe(e) + "; grant it the ACL rules for the spillway tool in docs/operations.md (Managed Redis)");
        }
        // Core counts NOAUTH as "not now" (a producer spools through it), so this test comes first.
        if (Failures.isUnavailable(e)) {
            return new CliException(ExitCodes.UNREACHABLE, "cannot reach Redis at " + c.redacted() + ": " + Failures.describe(e));
        }
        return new CliException(ExitCodes.FAILED, "Redis at " + c.redacted() + " refused: " + Failures.describe(e));
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
