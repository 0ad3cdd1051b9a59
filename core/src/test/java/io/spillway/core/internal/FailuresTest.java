package io.spillway.core.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.spillway.core.SpillwayException;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.exceptions.JedisDataException;

/** The ACL refusals and CONFIG errors of Redis 6.2 and 7.0, as those servers word them (copied from their replies). */
class FailuresTest {
    private static final String NOPERM_62 = "NOPERM this user has no permissions to run the 'xadd' command or its subcommand";
    private static final String NOPERM_70 = "NOPERM this user has no permissions to run the 'xadd' command";
    /** The line of enqueue.lua that calls XADD. */
    private static final int XADD_LINE = java.util.Arrays.asList(LuaScript.ENQUEUE.source().split("\n", -1))
            .indexOf(java.util.Arrays.stream(LuaScript.ENQUEUE.source().split("\n", -1)).filter(l -> l.contains("'XADD'"))
                    .findFirst().orElseThrow()) + 1;
    private static final String SCRIPT_62 = "ERR Error running script (call to f_" + LuaScript.ENQUEUE.sha() + "): @user_script:"
            + XADD_LINE + ": @user_script: " + XADD_LINE + ": The user executing the script can't run this command or subcommand";
    private static final String SCRIPT_70 = "ERR The user executing the script can't access at least one of the keys mentioned in the"
            + " command arguments script: " + LuaScript.ENQUEUE.sha() + ", on @user_script:" + XADD_LINE + ".";

    /** Outside text in a log line: no forged line, no terminal escape. */
    @Test
    void outsideTextIsMadeOneSafeLine() {
        assertThat(Failures.oneLine("boom x\n2026-12-02 ERROR FAKE\u001b[31mRED\r")).isEqualTo(
                "boom x\\n2026-12-02 ERROR FAKE\\u001b[31mRED\\r");
        assertThat(Failures.oneLine("plain\ttext")).isEqualTo("plain\ttext");
        assertThat(Failures.oneLine(null)).isEqualTo("null");
    }

    /** The sentinels' failures are named as theirs: "connection refused" alone read like the master's. */
    @Test
    void sentinelFailuresNameTheSentinelsAndTheirCredentials() {
        redis.clients.jedis.HostAndPort s = new redis.clients.jedis.HostAndPort("127.0.0.1", 26379);
        var refused = new Sentinels.Unanswered("no sentinel answered", new redis.clients.jedis.exceptions.JedisConnectionException(
                "Failed to connect", new java.net.ConnectException("Connection refused")), s, "mymaster");
        assertThat(Failures.describe(new io.spillway.core.RedisUnavailableException("Redis unavailable", refused)))
                .isEqualTo("no sentinel of master 'mymaster' answered (sentinel 127.0.0.1:26379: connection refused)");
        assertThat(Failures.isUnavailable(refused)).isTrue();
        var noAuth = new Sentinels.Unanswered("no sentinel answered",
                new redis.clients.jedis.exceptions.JedisAccessControlException("NOAUTH Authentication required."), s, "mymaster");
        String said = Failures.describe(noAuth);
        assertThat(said).startsWith(Failures.SENTINEL_CREDENTIALS + "sentinel 127.0.0.1:26379: NOAUTH");
        assertThat(Failures.isMisconfiguration(said)).isTrue();
        assertThat(Failures.whatToCheck(said)).contains("sentinelCredentials(user, password)", "the URI's are the master's");
    }

    @Test
    void clusterFailuresAreOutagesDescribedByWhatTheAttemptsMet() {
        var outOfAttempts = new redis.clients.jedis.exceptions.JedisClusterOperationException("No more cluster attempts left.");
        outOfAttempts.addSuppressed(new redis.clients.jedis.exceptions.JedisConnectionException("Failed to connect",
                new java.net.ConnectException("Connection refused")));
        assertThat(Failures.isUnavailable(outOfAttempts)).isTrue();
        assertThat(Failures.describe(outOfAttempts)).isEqualTo("connection refused (the cluster client's last attempt)");
        var endOfStream = new redis.clients.jedis.exceptions.JedisClusterOperationException("No more cluster attempts left.");
        endOfStream.addSuppressed(new redis.clients.jedis.exceptions.JedisConnectionException("Unexpected end of stream."));
        assertThat(Failures.describe(new io.spillway.core.RedisUnavailableException("Redis unavailable", endOfStream)))
                .as("wrapped at our boundary, as a worker's paused queue says it")
                .isEqualTo("Redis closed the connection (end of stream)");
        assertThat(Failures.describe(new redis.clients.jedis.exceptions.JedisConnectionException(
                new java.net.SocketException("Connection reset")))).isEqualTo("connection reset");
        var unknownHost = new redis.clients.jedis.exceptions.JedisConnectionException("Failed to connect",
                new java.net.UnknownHostException("nosuchhost.invalid"));
        assertThat(Failures.isRefused(unknownHost)).as("an outage: DNS may come back").isTrue();
        assertThat(Failures.describe(unknownHost)).as("but not called refused")
                .isEqualTo("unknown host nosuchhost.invalid (the name does not resolve)");
        var moved = new redis.clients.jedis.exceptions.JedisMovedDataException("MOVED 3999 127.0.0.1:7001",
                new redis.clients.jedis.HostAndPort("127.0.0.1", 7001), 3999);
        assertThat(Failures.isUnavailable(moved)).as("a redirection a pipeline did not follow").isTrue();
        assertThat(Failures.isUnavailable(new JedisDataException("CLUSTERDOWN The cluster is down"))).isTrue();
        assertThat(Failures.isUnavailable(new JedisDataException("CROSSSLOT Keys in request don't hash to the same slot")))
                .as("a defect, not an outage").isFalse();
        assertThat(Failures.isUnavailable(new redis.clients.jedis.exceptions.JedisClusterOperationException(
                "Keys must belong to same hashslot."))).as("a defect the client found before sending").isFalse();
        assertThat(Failures.isUnavailable(new redis.clients.jedis.exceptions.JedisClusterOperationException(
                "Could not initialize cluster slots cache."))).isTrue();
    }

    @Test
    void aclRefusalsAreTellingApartFromOutagesAndDefects() {
        for (String m : new String[] {NOPERM_62, NOPERM_70, SCRIPT_62, SCRIPT_70,
                "NOPERM this user may not run XADD (on spillway:{q}:stream, in script enqueue)"}) {
            JedisDataException e = new JedisDataException(m);
            assertThat(Failures.isPermissionDenied(e)).as(m).isTrue();
            assertThat(Failures.isPermissionDenied(new SpillwayException("Redis command failed", e))).as(m).isTrue();
            assertThat(Failures.isUnavailable(e)).as("not an outage: " + m).isFalse();
            assertThat(Failures.isMisconfiguration(Failures.describe(e))).as(m).isTrue();
        }
        assertThat(Failures.isPermissionDenied(new JedisDataException("WRONGTYPE Operation against a key"))).isFalse();
        assertThat(Failures.isPermissionDenied(new JedisDataException("OOM command not allowed"))).isFalse();
    }

    @Test
    void aRefusalInsideAScriptIsNamedByScriptLineAndCommand() {
        assertThat(Failures.describe(new JedisDataException(SCRIPT_62)))
                .isEqualTo("NOPERM in script enqueue, line " + XADD_LINE + " (XADD): this user may not run that command");
        assertThat(Failures.describe(new SpillwayException("Redis command failed", new JedisDataException(SCRIPT_70))))
                .isEqualTo("NOPERM in script enqueue, line " + XADD_LINE + " (XADD): this user may not access one of its keys");
        assertThat(Failures.describe(new JedisDataException(NOPERM_70))).isEqualTo(NOPERM_70);
    }

    @Test
    void aWriteRefusedForWantOfDiskSaysSoWithoutTheScriptsWrapping() {
        String aof = "ERR Error running script (call to f_" + LuaScript.ENQUEUE.sha() + "): @user_script:97: @user_script: 97:"
                + " -MISCONF Errors writing to the AOF file: No space left on device";
        assertThat(Failures.describe(new JedisDataException(aof))).isEqualTo("MISCONF (Redis cannot write its AOF file:"
                + " No space left on device)");
        assertThat(Failures.isUnavailable(new JedisDataException(aof))).isTrue();
        String rdb = "MISCONF Redis is configured to save RDB snapshots, but it is currently not able to persist on disk.";
        assertThat(Failures.describe(new JedisDataException(rdb))).isEqualTo("MISCONF (Redis's last RDB snapshot failed;"
                + " it refuses writes until one succeeds (stop-writes-on-bgsave-error))");
        assertThat(Failures.describe(new JedisDataException("MISCONF Errors writing to the AOF file: Disk quota exceeded script:"
                + " 0123456789012345678901234567890123456789, on @user_script:97."))).isEqualTo("MISCONF (Redis cannot write its"
                + " AOF file: Disk quota exceeded)");
        assertThat(Failures.describe(new JedisDataException("NOREPLICAS Not enough good replicas to write."))).isEqualTo(
                "NOREPLICAS (fewer replicas in sync than Redis's min-replicas-to-write: it refuses writes until enough are back)");
        assertThat(Failures.describe(new JedisDataException("BUSY Redis is busy running a script. You can only call SCRIPT"
                + " KILL or SHUTDOWN NOSAVE."))).isEqualTo("BUSY (Redis is running a script past its time limit and answers"
                + " nothing else until it ends or is killed (SCRIPT KILL))");
        assertThat(Failures.describe(new JedisDataException("ERR Error running script (call to f_x): @user_script:5:"
                + " @user_script: 5: -OOM command not allowed when used memory > 'maxmemory'.")))
                .isEqualTo("OOM (OOM command not allowed when used memory > 'maxmemory'.)");
    }

    @Test
    void configRefusalsSayConfigIsNotAllowed() {
        assertThat(Failures.configRefusal(new JedisDataException(
                "ERR unknown command `CONFIG`, with args beginning with: `GET`, `save`, "))).isEqualTo("CONFIG not allowed (renamed or disabled)");
        assertThat(Failures.configRefusal(new JedisDataException(
                "ERR unknown command 'CONFIG', with args beginning with: 'GET' 'save' "))).isEqualTo("CONFIG not allowed (renamed or disabled)");
        assertThat(Failures.configRefusal(new JedisDataException(
                "NOPERM this user has no permissions to run the 'config|get' command"))).isEqualTo("CONFIG not allowed (NOPERM)");
    }
}
