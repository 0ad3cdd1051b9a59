package io.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.spillway.testing.ChildJvm;
import io.spillway.testing.SentinelGroup;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The CLI against sentinels that require a password of their own: the sentinels' options and environment variables,
 * which of sentinel and master refused the credentials, and a URI of the wrong kind of server (a sentinel given as
 * {@code redis://} or {@code redis-cluster://}, a Redis given as {@code redis-sentinel://}).
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
@org.junit.jupiter.api.Tag("first-pass-only") // the tool's options and messages: the same whatever the Redis version
class SentinelCredentialsCliIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String PASSWORD = "sentinelSecret7";
    private static SentinelGroup redis;

    @BeforeAll
    static void start() {
        redis = SentinelGroup.builder().sentinelPassword(PASSWORD).start();
    }

    @AfterAll
    static void stop() {
        if (redis != null) {
            redis.close();
        }
    }

    private static String sentinel() {
        return "127.0.0.1:" + redis.sentinelPorts().get(0);
    }

    private static String master() {
        return "127.0.0.1:" + redis.masterPort();
    }

    @Test
    void aSentinelThatRefusesTheCredentialsIsNamedWithTheSentinelsOptions() {
        String uri = redis.uri().toString();
        Cli none = Cli.run("status", "--redis", uri);
        assertThat(none.exit()).as(none.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(none.oneLineError()).contains("(sentinel " + sentinel() + ") refused the credentials: NOAUTH",
                "--sentinel-password or SPILLWAY_SENTINEL_PASSWORD").doesNotContain("(master ");

        Cli wrong = Cli.run("doctor", "--redis", uri, "--sentinel-password", "nope");
        assertThat(wrong.exit()).as(wrong.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(wrong.oneLineError()).contains("(sentinel " + sentinel() + ") refused the credentials: WRONGPASS",
                "check the sentinels' own user and password");
    }

    @Test
    void theSentinelsPasswordFromTheOptionReachesTheMasterAndDoctorNamesIt() throws Exception {
        String uri = redis.uri().toString();
        Cli status = Cli.run("status", "--redis", uri, "--sentinel-password", PASSWORD);
        assertThat(status.exit()).as(status.toString()).isZero();
        Cli doctor = Cli.run("doctor", "--redis", uri, "--sentinel-password", PASSWORD, "--pings", "1");
        assertThat(doctor.exit()).as(doctor.toString()).isZero();
        assertThat(doctor.out()).startsWith("Redis " + uri + ": master " + master() + ", as the sentinels name it (version ");
        Cli json = Cli.run("doctor", "--redis", uri, "--sentinel-password", PASSWORD, "--pings", "1", "--json");
        assertThat(JSON.readTree(json.out()).get("master").asText()).isEqualTo(master());
    }

    @Test
    void theSentinelsPasswordComesFromTheEnvironmentToo() throws Exception {
        // In a process of its own: the environment is the point.
        List<String> command = ChildJvm.builder(SpillwayCli.class)
                .args("status", "--redis", redis.uri().toString()).command();
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().put(RedisOptions.SENTINEL_PASSWORD_ENV, PASSWORD);
        Process p = pb.start();
        try {
            String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).as(output).isZero();
            assertThat(output).doesNotContain("refused");
        } finally {
            p.destroyForcibly();
        }
    }

    @Test
    void aMasterThatRefusesTheCredentialsIsNamedWithTheUri() {
        // No such ACL user on the master: WRONGPASS from the master, the sentinels having let the client in.
        String uri = redis.uri().toString().replace("redis-sentinel://", "redis-sentinel://nobody:nope@");
        Cli c = Cli.run("status", "--redis", uri, "--sentinel-password", PASSWORD);
        assertThat(c.exit()).as(c.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(c.oneLineError()).contains("(master " + master() + ") refused the credentials: WRONGPASS",
                "give the master's user:password in the URI (redis-sentinel://user:password@").doesNotContain("nope");
    }

    @Test
    void aMasterNameNoSentinelKnowsIsBadInputThatNamesTheirs() {
        Cli c = Cli.run("status", "--redis", "redis-sentinel://" + sentinel() + "#typo", "--sentinel-password", PASSWORD);
        assertThat(c.exit()).as(c.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(c.oneLineError()).contains("monitor no master named 'typo'",
                "sentinel " + sentinel() + " monitors " + redis.masterName());
    }

    @Test
    void sentinelOptionsWithAnotherKindOfUriAreBadInput() {
        Cli c = Cli.run("status", "--redis", "redis://" + master(), "--sentinel-password", PASSWORD);
        assertThat(c.exit()).as(c.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(c.oneLineError()).contains("--sentinel-password needs a redis-sentinel:// URI").doesNotContain(PASSWORD);
    }

    @Test
    void aSentinelGivenAsARedisOrAClusterIsBadInputThatNamesTheUriToGive() {
        String asRedis = "redis://:" + PASSWORD + "@" + sentinel();
        String expected = "give it as redis-sentinel://" + sentinel() + "#" + redis.masterName() + " (it monitors "
                + redis.masterName() + ")";
        for (String[] args : List.of(new String[] {"status", "--redis", asRedis},
                new String[] {"dlq", "list", "--redis", asRedis, "-q", "x"},
                new String[] {"doctor", "--redis", asRedis, "--pings", "1"})) {
            Cli c = Cli.run(args);
            assertThat(c.exit()).as(String.join(" ", args) + "\n" + c).isEqualTo(ExitCodes.USAGE);
            assertThat(c.oneLineError()).contains("is a Redis Sentinel", expected).doesNotContain(PASSWORD);
        }
        Cli cluster = Cli.run("status", "--redis", "redis-cluster://:" + PASSWORD + "@" + sentinel());
        assertThat(cluster.exit()).as(cluster.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(cluster.oneLineError()).contains("is not a Redis Cluster: it is a Redis Sentinel", expected);
    }

    @Test
    void aRedisGivenAsASentinelIsBadInputThatSaysSo() {
        Cli c = Cli.run("status", "--redis", "redis-sentinel://" + master() + "#" + redis.masterName());
        assertThat(c.exit()).as(c.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(c.oneLineError()).contains("(sentinel " + master() + ") is not a Redis Sentinel",
                "give a Redis as redis://" + master());
    }
}
