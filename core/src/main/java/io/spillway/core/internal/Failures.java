package io.spillway.core.internal;

import io.github.resilience4j.circuitbreaker.CallNotPermittedException;
import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.exceptions.JedisConnectionException;
import redis.clients.jedis.exceptions.JedisDataException;
import redis.clients.jedis.exceptions.JedisNoScriptException;

/**
 * Sorts Redis failures into what Spillway does about them. The one place that reads Jedis exception
 * types and Redis error prefixes.
 *
 * <ul>
 *   <li><b>unavailable</b>: Redis cannot take the command now (connection refused, reset or timed out;
 *       {@code OOM}, {@code LOADING}, {@code READONLY}, {@code MASTERDOWN}, {@code BUSY} …). Spool, open
 *       the circuit, let the reconnect loop find out when it is back.</li>
 *   <li><b>retryable</b>: unavailable and worth an immediate second try on another connection (a stale
 *       pooled connection after a restart fails once with "Unexpected end of stream"). A refused
 *       connection or a timeout is not: retrying a hung Redis only doubles the caller's wait.</li>
 *   <li><b>permission denied</b>: an ACL refuses this client's user a command or key ({@code NOPERM}, or
 *       inside a script "The user executing the script can't …"). Not an outage, so the gateway leaves the
 *       circuit alone, and not a defect of the job: a producer spools and opens the circuit itself, a worker
 *       says so at ERROR and keeps trying, the CLI calls it bad input.</li>
 *   <li>anything else (a wrong type, a script bug) is a defect, not an outage: surfaced, not spooled.</li>
 * </ul>
 */
public final class Failures {
    private static final String[] UNAVAILABLE_REPLIES = {
        "OOM", "LOADING", "READONLY", "MASTERDOWN", "BUSY", "NOREPLICAS", "CLUSTERDOWN", "TRYAGAIN", "NOAUTH",
        "MISCONF",
        // An enqueue call of a stream behind one that did not go through (enqueue.lua's link): sent again in order.
        "SPILLWAY_CHAIN",
        // Refused credentials on a new connection (a password rotated while pooled connections stay logged in), like
        // NOAUTH: the job is spooled and the probe says what is wrong, instead of the enqueue throwing.
        "WRONGPASS",
    };

    /**
     * A fresh connection that Redis, or something between it and this client, closed before it answered its first
     * command (an end of stream or a reset, not a refusal or a timeout): what Redis does to a client past its
     * {@code maxclients}. Thrown by a probe; {@link #describe} says what to check.
     */
    public static final class ClosedAtOnce extends JedisConnectionException {
        private static final long serialVersionUID = 1L;

        public ClosedAtOnce(Throwable cause) {
            super(cause.getMessage(), cause);
        }
    }

    /** How {@link #describe} starts the description of a TLS failure. */
    public static final String TLS = "TLS: ";

    private Failures() {
    }

    /** How {@link #describe} starts a sentinel's refusal of this client's credentials. */
    public static final String SENTINEL_CREDENTIALS = "the sentinels refuse this client's credentials: ";

    /** How a probe starts the problem of a URI scheme that does not match the server (cluster or not). */
    public static final String CLUSTER_MISMATCH = "cluster mode: ";

    /**
     * How {@link WrongKind} starts the problem of a URI that names another kind of server than it reaches (a sentinel
     * given as {@code redis://}, a Redis given as {@code redis-sentinel://}, …).
     */
    public static final String WRONG_KIND = "wrong kind of server: ";

    /**
     * Whether a probe's problem is a URI of the wrong kind for the server ({@link #WRONG_KIND}, {@link #CLUSTER_MISMATCH}):
     * its line already says which URI to write.
     */
    public static boolean isWrongKind(String problem) {
        return problem != null && (problem.startsWith(WRONG_KIND) || problem.startsWith(CLUSTER_MISMATCH));
    }

    /** Whose setting a misconfiguration {@code problem} is and what to check, for the one ERROR line that reports it. */
    public static String whatToCheck(String problem) {
        if (problem != null && problem.startsWith(SENTINEL_CREDENTIALS)) {
            return "give the sentinels' user and password with RedisConnection.builder(uri).sentinelCredentials(user, password)"
                    + " (the URI's are the master's)";
        }
        if (isWrongKind(problem)) {
            return "the URI's scheme does not match this server: redis-cluster:// (rediss-cluster://) for a Redis Cluster,"
                    + " redis-sentinel:// (rediss-sentinel://) with the sentinels' addresses for a master the sentinels"
                    + " watch, redis:// (rediss://) for any other Redis";
        }
        return problem != null && problem.startsWith(TLS)
                ? "this client's TLS settings do not match Redis's; check the scheme (rediss:// or redis://, rediss-sentinel://"
                        + " or redis-sentinel://), the trusted CA"
                        + " file and the client certificate"
                : "Redis refuses this client's settings; check the user, password and database";
    }

    /**
     * A TLS failure in words with what to check, or null if {@code t} is not one: the JDK's messages ("PKIX path
     * building failed …") say what went wrong in the handshake, not which setting to look at.
     */
    static String describeTls(Throwable t) {
        String hostMismatch = null;
        boolean untrusted = false;
        javax.net.ssl.SSLException ssl = null;
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            String m = c.getMessage() == null ? "" : c.getMessage();
            if (c instanceof javax.net.ssl.SSLException e && ssl == null) {
                ssl = e;
            }
            if (m.contains("failed ssl/tls hostname verification") || (c instanceof java.security.cert.CertificateException
                    && (m.startsWith("No subject alternative") || m.startsWith("No name matching")))) {
                hostMismatch = firstLine(m);
            }
            if (c instanceof java.security.cert.CertPathValidatorException || m.contains("PKIX path")
                    || m.contains("unable to find valid certification path")) {
                untrusted = true;
            }
        }
        if (hostMismatch != null) {
            return TLS + "Redis's certificate is not for this host name (" + hostMismatch + "); connect with a name or"
                    + " IP address that the certificate lists (its subject alternative names)";
        }
        if (untrusted) {
            Throwable root = rootCause(t);
            return TLS + "Redis's certificate is not trusted (" + firstLine(String.valueOf(root.getMessage()))
                    + "); give the CA that signed it (trustedCertificates, --tls-ca-cert) or add it to the JVM's trust store";
        }
        if (ssl == null) {
            return null;
        }
        String m = ssl.getMessage() == null ? "" : ssl.getMessage();
        if (m.contains("certificate_required") || m.contains("bad_certificate") || m.contains("unknown_ca")
                || m.contains("certificate_unknown") || m.contains("access_denied") || m.contains("unsupported_certificate")) {
            return TLS + "Redis refused the connection's client certificate, or requires one (" + firstLine(m)
                    + "); give a client certificate that Redis's tls-ca-cert-file trusts (clientCertificate, --tls-cert"
                    + " and --tls-key)";
        }
        if (m.contains("protocol_version") || m.contains("insufficient_security")) {
            return TLS + "Redis and this client share no protocol version or cipher suite (" + firstLine(m)
                    + "); check sslParameters against Redis's tls-protocols and tls-ciphers";
        }
        if (m.contains("handshake_failure")) {
            // TLS 1.2 servers end a handshake without the client certificate they require this way too.
            return TLS + "Redis ended the handshake (" + firstLine(m) + "): it requires a client certificate it trusts"
                    + " (clientCertificate, --tls-cert and --tls-key), or shares no protocol version or cipher suite with"
                    + " this client (sslParameters; Redis's tls-protocols, tls-ciphers)";
        }
        if (m.contains("Unsupported or unrecognized SSL message") || m.contains("plaintext connection")) {
            return TLS + "the port does not speak TLS (" + firstLine(m) + "); use redis:// or Redis's tls-port";
        }
        return TLS + firstLine(m) + "; check Redis's TLS settings against this client's";
    }

    /**
     * A {@link #TLS} problem of a connection to a sentinel, as {@link #describeTls} or {@link Tls#diagnose} wrote it for
     * Redis, said of that sentinel: {@code TLS: sentinel host:port: the sentinel's certificate is not trusted …}.
     */
    static String onSentinel(redis.clients.jedis.HostAndPort sentinel, String problem) {
        String host = sentinel.getHost();
        String words = problem.substring(TLS.length())
                .replaceFirst("^Redis's ", "the sentinel's ").replaceFirst("^Redis ", "the sentinel ")
                .replace("use redis:// or Redis's tls-port", "use redis-sentinel:// or the sentinels' tls-port");
        return TLS + "sentinel " + (host.contains(":") ? "[" + host.replace("%", "%25") + "]" : host) + ":" + sentinel.getPort() + ": " + words;
    }

    /** Whether {@code t} is a TLS failure that {@link #describeTls} puts into words. */
    public static boolean isTlsFailure(Throwable t) {
        return t != null && describeTls(t) != null;
    }

    private static Throwable rootCause(Throwable t) {
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root;
    }

    public static boolean isUnavailable(Throwable t) {
        if (t instanceof CallNotPermittedException || t instanceof JedisConnectionException || isPoolExhausted(t)) {
            return true;
        }
        if (t instanceof redis.clients.jedis.exceptions.JedisClusterOperationException) {
            // A cluster command out of attempts (its node down, a slot uncovered), no node reachable, a slot map with
            // holes: an outage. Keys of one command in different slots ("Keys must belong to same hashslot.", found by
            // the client before sending) are a defect, and waiting does not fix it.
            return t.getMessage() == null || !t.getMessage().contains("same hashslot");
        }
        if (t instanceof redis.clients.jedis.exceptions.JedisRedirectionException) {
            // A redirection a raw connection does not follow (a failover or a slot migration): the probe reads the
            // new slot map.
            return true;
        }
        if (t instanceof JedisNoScriptException) {
            return false;
        }
        if (t instanceof JedisDataException) {
            return unavailableReply(t.getMessage()) != null;
        }
        return false;
    }

    /** Whether Redis refused a write for want of memory ({@code OOM command not allowed}: maxmemory reached, noeviction). */
    public static boolean isOutOfMemory(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof JedisDataException && "OOM".equals(unavailableReply(c.getMessage()))) {
                return true;
            }
        }
        return false;
    }

    /**
     * Redis's own reply in an error {@code message}, from its {@code code} on: a call refused inside a script arrives
     * wrapped ("ERR Error running script (call to f_…): @user_script:32: @user_script: 32: -MISCONF Errors writing to the
     * AOF file: …"), and the wrapping says nothing to a person. {@code MISCONF}, {@code NOREPLICAS} and {@code BUSY}
     * are said in a few words of what they mean.
     */
    static String reply(String message, String code) {
        String text = message;
        int at = message.indexOf("-" + code + " ");
        if (at < 0) {
            at = message.indexOf(": " + code + " ");
            at = at < 0 ? -1 : at + 1;
        }
        if (at >= 0 && !message.startsWith(code + " ")) {
            text = message.substring(at + 1).trim();
        }
        int script = text.indexOf(" script: ");
        if (script > 0) {
            text = text.substring(0, script); // Redis 7's "… script: <sha>, on @user_script:97."
        }
        if (code.equals("MISCONF")) {
            int aof = text.indexOf("AOF file: ");
            if (aof >= 0) {
                return "Redis cannot write its AOF file: " + text.substring(aof + "AOF file: ".length());
            }
            if (text.contains("RDB")) {
                return "Redis's last RDB snapshot failed; it refuses writes until one succeeds (stop-writes-on-bgsave-error)";
            }
        }
        if (code.equals("NOREPLICAS")) {
            return "fewer replicas in sync than Redis's min-replicas-to-write: it refuses writes until enough are back";
        }
        if (code.equals("BUSY") && text.contains("running a script")) {
            return "Redis is running a script past its time limit and answers nothing else until it ends or is killed"
                    + " (SCRIPT KILL)";
        }
        return text;
    }

    /** The Redis error code (OOM, LOADING, …) of a reply that means "not now", or null. */
    static String unavailableReply(String message) {
        if (message == null) {
            return null;
        }
        if (message.startsWith("ERR max number of clients reached")) {
            return "ERR"; // Redis past its maxclients: a new connection is refused until others close
        }
        for (String code : UNAVAILABLE_REPLIES) {
            // Inside a script the error arrives wrapped: "ERR Error running script ...: -OOM command ...".
            if (message.startsWith(code + " ") || message.contains("-" + code + " ") || message.contains(": " + code + " ")
                    || (code.equals("OOM") && message.contains("OOM command not allowed"))) {
                return code;
            }
        }
        return null;
    }

    /**
     * Whether a probe's problem (as {@link #describe} or Redis wrote it) is a setting of this client that Redis
     * refuses, not an outage: a missing or wrong password (NOAUTH, WRONGPASS, a password for a server that has
     * none), a user without the rights (NOPERM), a database number the server does not have, a TLS failure
     * ({@value #TLS}…: an untrusted certificate, a host name mismatch, a client certificate required or refused,
     * TLS against a plain port or the reverse). Waiting does not fix these; a person must.
     */
    public static boolean isMisconfiguration(String problem) {
        if (problem == null) {
            return false;
        }
        return problem.startsWith(TLS) || isWrongKind(problem) || problem.startsWith(SENTINEL_CREDENTIALS)
                || isCredentialRefusal(problem)
                || problem.startsWith("ERR DB index is out of range") || problem.startsWith("ERR invalid DB index");
    }

    /** Whether a described failure is Redis (or a sentinel) refusing this client's user, password or permissions. */
    private static boolean isCredentialRefusal(String problem) {
        return problem.startsWith("NOAUTH") || problem.startsWith("WRONGPASS") || problem.startsWith("NOPERM")
                || problem.startsWith("ERR AUTH") || problem.startsWith("ERR invalid password");
    }

    /**
     * A file failure's reason in words: the JDK's file exceptions carry only the path as their message ("/x" for a
     * directory that is a file), which said nothing next to the same path.
     */
    public static String describeFile(Throwable e) {
        String kind = e instanceof java.nio.file.FileAlreadyExistsException ? "a file of that name is in the way (not a directory)"
                : e instanceof java.nio.file.AccessDeniedException ? "permission denied"
                : e instanceof java.nio.file.NoSuchFileException ? "no such file or directory"
                : e instanceof java.nio.file.NotDirectoryException ? "a part of the path is not a directory"
                : e instanceof java.nio.file.FileSystemException ? e.getClass().getSimpleName()
                : null;
        String reason = e instanceof java.nio.file.FileSystemException fse ? fse.getReason() : null;
        String file = e instanceof java.nio.file.FileSystemException fse ? fse.getFile() : null;
        if (kind == null) {
            return String.valueOf(e.getMessage());
        }
        return kind + (reason != null ? " (" + reason + ")" : "") + (file != null ? ": " + file : "");
    }

    /**
     * Whether Redis refused a command or key to this client's user (an ACL): {@code NOPERM} on a command, or the
     * same refusal of a command a script calls, which Redis 6.2 and 7.0 report as an {@code ERR} (searched through
     * causes).
     */
    public static boolean isPermissionDenied(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof JedisDataException && isPermissionDenied(c.getMessage())) {
                return true;
            }
        }
        return false;
    }

    /** {@link #isPermissionDenied(Throwable)} of an error reply's text, or of a problem {@link #describe} wrote. */
    public static boolean isPermissionDenied(String message) {
        return message != null && (message.startsWith("NOPERM") || message.contains("-NOPERM ")
                || message.contains(": NOPERM ") || message.contains(SCRIPT_NO_COMMAND) || message.contains(SCRIPT_NO_KEY));
    }

    private static final String SCRIPT_NO_COMMAND = "The user executing the script can't run this command";
    private static final String SCRIPT_NO_KEY = "The user executing the script can't access at least one of the keys";
    /** "@user_script:63" (6.2 and 7.0 both say where in the script the refused call is). */
    private static final java.util.regex.Pattern SCRIPT_LINE = java.util.regex.Pattern.compile("@user_script:(\\d+)");
    /** The script's SHA-1: "f_&lt;sha&gt;" on 6.2, "script: &lt;sha&gt;," on 7.0. */
    private static final java.util.regex.Pattern SCRIPT_SHA = java.util.regex.Pattern.compile("(?:f_|script: )([0-9a-f]{40})");
    private static final java.util.regex.Pattern CALLED = java.util.regex.Pattern.compile("call\\('([A-Za-z]+)'");

    /**
     * A refusal in words that name what was refused: Redis's own line for a command ({@code NOPERM this user has no
     * permissions to run the 'xadd' command}); for a call inside one of our scripts, which Redis reports without the
     * command, the script, the line and the command called there
     * ({@code NOPERM in script enqueue, line 63 (XADD): this user may not run that command}).
     */
    static String describePermission(String message) {
        String line = firstLine(message);
        boolean command = line.contains(SCRIPT_NO_COMMAND);
        if (line.startsWith("NOPERM") || (!command && !line.contains(SCRIPT_NO_KEY))) {
            // Redis's NOPERM names the command; our scripts' own NOPERM replies name the command and the key.
            return line;
        }
        java.util.regex.Matcher sha = SCRIPT_SHA.matcher(line);
        java.util.regex.Matcher at = SCRIPT_LINE.matcher(line);
        LuaScript script = sha.find() ? LuaScript.bySha(sha.group(1)) : null;
        StringBuilder out = new StringBuilder("NOPERM in script ").append(script != null ? script.name() : "?");
        if (at.find()) {
            int n = Integer.parseInt(at.group(1));
            out.append(", line ").append(n);
            String[] lines = script != null ? script.source().split("\n", -1) : new String[0];
            java.util.regex.Matcher called = n >= 1 && n <= lines.length ? CALLED.matcher(lines[n - 1]) : null;
            if (called != null && called.find()) {
                out.append(" (").append(called.group(1).toUpperCase(java.util.Locale.ROOT)).append(')');
            }
        }
        return out.append(command ? ": this user may not run that command" : ": this user may not access one of its keys")
                .toString();
    }

    /**
     * Why {@code CONFIG GET} was refused, in the words the logs and {@code spillway doctor} use: "CONFIG not allowed
     * (NOPERM)" for an ACL, "CONFIG not allowed (renamed or disabled)" for {@code rename-command CONFIG ""}, else
     * "CONFIG GET failed (&lt;reply&gt;)".
     */
    public static String configRefusal(Throwable e) {
        String m = e.getMessage() == null ? "" : firstLine(e.getMessage());
        if (isPermissionDenied(m)) {
            return "CONFIG not allowed (NOPERM)";
        }
        if (m.startsWith("ERR unknown command")) {
            return "CONFIG not allowed (renamed or disabled)";
        }
        return "CONFIG GET failed (" + m + ")";
    }

    public static boolean isRetryable(Throwable t) {
        // A TLS failure fails again on a fresh connection: retrying only doubles the handshakes.
        return (t instanceof JedisConnectionException && !isRefused(t) && !isTimeout(t) && !isTlsFailure(t)
                && !(t instanceof RunIdCheckingConnectionFactory.RedisRestartedException))
                || isChainBroken(t);
    }

    /**
     * An enqueue call of a stream that did not go through because the call before it did not (or its link expired or was
     * evicted): nothing written. A second try sends it first in flight, unchecked.
     */
    public static boolean isChainBroken(Throwable t) {
        return t instanceof JedisDataException && t.getMessage() != null && t.getMessage().startsWith("SPILLWAY_CHAIN");
    }

    /** Every pooled connection is busy (all stuck on a hung Redis): an outage, not a bug. */
    public static boolean isPoolExhausted(Throwable t) {
        return has(t, java.util.NoSuchElementException.class)
                || (t.getMessage() != null && t.getMessage().startsWith("Could not get a resource from the pool"));
    }

    public static boolean isRefused(Throwable t) {
        return has(t, ConnectException.class) || has(t, UnknownHostException.class);
    }

    public static boolean isTimeout(Throwable t) {
        return has(t, SocketTimeoutException.class);
    }

    public static boolean isNoScript(Throwable t) {
        return t instanceof JedisNoScriptException
                || (t instanceof JedisDataException && t.getMessage() != null && t.getMessage().startsWith("NOSCRIPT"));
    }

    /**
     * What the last attempt of a Redis Cluster command out of attempts ("No more cluster attempts left.") met: Jedis
     * keeps the attempts' failures as suppressed ones. Null for any other failure.
     */
    public static Throwable lastAttempt(Throwable t) {
        if (t instanceof redis.clients.jedis.exceptions.JedisClusterOperationException && t.getCause() == null
                && t.getSuppressed().length > 0) {
            Throwable[] attempts = t.getSuppressed();
            return attempts[attempts.length - 1];
        }
        return null;
    }

    private static final String END_OF_STREAM = "Redis closed the connection (end of stream)";

    /** A short, one-line cause for logs: no stack trace, no payload, no password. */
    public static String describe(Throwable t) {
        if (t == null) {
            return "unknown";
        }
        if (t instanceof CallNotPermittedException) {
            return "circuit open";
        }
        if (t instanceof ClosedAtOnce) {
            String cause = describe(t.getCause());
            cause = cause.equals(END_OF_STREAM) ? "end of stream" : cause;
            // A Redis killed while the connection waited in its accept queue (after a SIGSTOP, say) ends it the same way.
            return "Redis closed a new connection before it answered (" + cause + "): it may be at its"
                    + " maxclients (INFO stats: rejected_connections), have died just then, or something in between"
                    + " refuses the connection";
        }
        Throwable last = lastAttempt(t);
        if (last != null) {
            return describe(last) + " (the cluster client's last attempt)"; // not Jedis's "No more cluster attempts left."
        }
        Sentinels.Unanswered unanswered = find(t, Sentinels.Unanswered.class, 0);
        if (unanswered != null && describeTls(t) == null) {
            // Named as the sentinels' failure: "connection refused" alone read like the master's.
            String cause = unanswered.getCause() == null ? "no answer" : describe(unanswered.getCause());
            HostAndPort s = unanswered.sentinel();
            String where = s == null ? "" : "sentinel " + s + ": ";
            if (isCredentialRefusal(cause)) {
                return SENTINEL_CREDENTIALS + where + cause;
            }
            return "no sentinel of master '" + unanswered.masterName() + "' answered (" + where + cause + ")";
        }
        UnknownHostException unknownHost = find(t, UnknownHostException.class, 0);
        if (unknownHost != null) {
            // Not "connection refused": a mistyped host name sends its reader to the wrong place (firewalls).
            return "unknown host" + (unknownHost.getMessage() == null ? "" : " " + firstLine(unknownHost.getMessage()))
                    + " (the name does not resolve)";
        }
        if (isRefused(t)) {
            return "connection refused";
        }
        if (isTimeout(t)) {
            return "timed out";
        }
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof JedisDataException && isPermissionDenied(c.getMessage())) {
                return describePermission(c.getMessage());
            }
        }
        String tls = describeTls(t);
        if (tls != null) {
            return t instanceof Sentinels.Unanswered u ? onSentinel(u.sentinel(), tls) : tls;
        }
        String code = t instanceof JedisDataException ? unavailableReply(t.getMessage()) : null;
        if (code != null) {
            return code + " (" + firstLine(reply(t.getMessage(), code)) + ")";
        }
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        if (root != t && root instanceof redis.clients.jedis.exceptions.JedisClusterOperationException
                && root.getSuppressed().length > 0) {
            // Our own exception around a cluster command out of attempts (a worker's queue paused by a call to a master
            // just killed): what its last attempt met, as for a refusal or a timeout above, not Jedis's "No more cluster
            // attempts left."
            Throwable[] attempts = root.getSuppressed();
            return describe(attempts[attempts.length - 1]);
        }
        String msg = root.getMessage() != null ? root.getMessage() : t.getMessage();
        if (msg != null && msg.startsWith("Unexpected end of stream")) {
            // Jedis's words for a connection the other side closed: Redis dying or restarting, CLIENT KILL, a proxy.
            return END_OF_STREAM;
        }
        if (msg != null && msg.startsWith("Connection reset")) {
            return "connection reset";
        }
        return msg == null ? t.getClass().getSimpleName() : firstLine(msg);
    }

    /**
     * Text from outside (a handler's exception message, an operator's reason) made safe for one log or terminal line:
     * line breaks as {@code \n}, other control characters (ANSI escapes included) as {@code \u001b}-style escapes, so
     * that it can neither forge a log line nor change a terminal. Null as "null".
     */
    public static String oneLine(String s) {
        if (s == null) {
            return "null";
        }
        StringBuilder out = null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isISOControl(c) && c != '\t') {
                if (out == null) {
                    out = new StringBuilder(s.length() + 16).append(s, 0, i);
                }
                out.append(c == '\n' ? "\\n" : c == '\r' ? "\\r" : String.format("\\u%04x", (int) c));
            } else if (out != null) {
                out.append(c);
            }
        }
        return out == null ? s : out.toString();
    }

    private static String firstLine(String s) {
        int nl = s.indexOf('\n');
        String line = nl < 0 ? s : s.substring(0, nl);
        return line.length() > 200 ? line.substring(0, 200) + "…" : line;
    }

    /** Searches causes and suppressed exceptions: Jedis attaches a refused connect as a suppressed one. */
    private static boolean has(Throwable t, Class<? extends Throwable> type) {
        return has(t, type, 0);
    }

    private static boolean has(Throwable t, Class<? extends Throwable> type, int depth) {
        return find(t, type, depth) != null;
    }

    /** The first {@code type} in {@code t}'s causes and suppressed failures, or null. */
    private static <T extends Throwable> T find(Throwable t, Class<T> type, int depth) {
        if (t == null || depth > 8) {
            return null;
        }
        if (type.isInstance(t)) {
            return type.cast(t);
        }
        for (Throwable s : t.getSuppressed()) {
            T found = find(s, type, depth + 1);
            if (found != null) {
                return found;
            }
        }
        return t.getCause() == t ? null : find(t.getCause(), type, depth + 1);
    }
}
