package io.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.spillway.testing.ChildJvm;
import io.spillway.testing.FreePorts;
import io.spillway.testing.RedisProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;

/** {@code spillway watchdog} in its own JVM: it keeps Redis (or a command) up, and SIGTERM leaves nothing behind. */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class WatchdogCommandIT {
    @TempDir
    Path tmp;

    private static boolean ping(int port) {
        try (Jedis j = new Jedis(new HostAndPort("127.0.0.1", port),
                DefaultJedisClientConfig.builder().connectionTimeoutMillis(300).socketTimeoutMillis(300).build())) {
            return "PONG".equals(j.ping());
        } catch (RuntimeException e) {
            return false;
        }
    }

    private static long pid(Path dataDir) throws Exception {
        return Long.parseLong(Files.readString(dataDir.resolve("watchdog.pid")).trim());
    }

    @Test
    void keepsRedisUpAndStopsItOnSigterm() throws Exception {
        int port = FreePorts.next();
        Path data = tmp.resolve("redis");
        try (ChildJvm cli = ChildJvm.builder(SpillwayCli.class)
                .args("watchdog", "--port", Integer.toString(port), "--dir", data.toString(), "--hang-timeout", "1000")
                .start()) {
            cli.awaitOutput("Ctrl-C stops it", Duration.ofSeconds(30));
            cli.awaitOutput("started (pid", Duration.ofSeconds(20));
            // ping() gives up after 300 ms: retry it rather than fail on one slow answer from a busy machine.
            await().atMost(Duration.ofSeconds(10)).until(() -> ping(port));
            long first = pid(data);

            ProcessHandle.of(first).orElseThrow().destroyForcibly();
            // watchdog.pid is rewritten on the restart (truncate, then write): a read in between sees it
            // empty, hence ignoreExceptions.
            await().atMost(Duration.ofSeconds(20)).ignoreExceptions().until(() -> pid(data) != first && ping(port));
            long second = pid(data);
            // Our client may reach the new server before the watchdog's own probe has logged it back.
            cli.awaitOutput("is back", Duration.ofSeconds(20));

            int exit = cli.terminate(Duration.ofSeconds(20));
            assertThat(exit).as(cli.output()).isIn(0, 143);
            assertThat(ProcessHandle.of(second).map(ProcessHandle::isAlive).orElse(false)).as("redis-server after SIGTERM").isFalse();
            assertThat(cli.output()).contains("exited: killed by SIGKILL", "Stopping redis-server on port " + port);
        }
    }

    @Test
    void execRestartsACommandThatDies() throws Exception {
        Path out = tmp.resolve("child.out");
        try (ChildJvm cli = ChildJvm.builder(SpillwayCli.class)
                .args("watchdog", "--output", out.toString(), "--exec", "--", "sh", "-c", "echo alive; sleep 0.3; exit 4")
                .start()) {
            await().atMost(Duration.ofSeconds(30)).until(() -> Files.exists(out)
                    && Files.readAllLines(out).stream().filter("alive"::equals).count() >= 3);
            cli.awaitOutput("exit code 4", Duration.ofSeconds(20));
            cli.terminate(Duration.ofSeconds(20));
        }
    }

    @Test
    void execWithoutACommandIsBadInput() {
        Cli c = Cli.run("watchdog", "--exec");
        assertThat(c.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(c.oneLineError()).contains("--exec needs a command");
        Cli port = Cli.run("watchdog", "--port", "99999");
        assertThat(port.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(port.oneLineError()).contains("port must be in 1..65535");
    }

    @Test
    void optionsOfTheOtherModeAreBadInputNotSilentlyIgnored() {
        Cli c = Cli.run("watchdog", "--exec", "--port", "7750", "--", "true");
        assertThat(c.exit()).as(c.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(c.oneLineError()).contains("--port applies to the Redis watchdog, not to --exec");
        Cli o = Cli.run("watchdog", "--output", tmp.resolve("x.out").toString(), "--dir", tmp.resolve("redis").toString(),
                "--port", Integer.toString(FreePorts.next()));
        assertThat(o.exit()).as(o.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(o.oneLineError()).contains("--output applies to --exec only");
    }

    @Test
    void aRedisServerThatIsNotAnExecutableIsBadInput() {
        Cli c = Cli.run("watchdog", "--redis-server", tmp.resolve("nonexistent").toString(), "--dir",
                tmp.resolve("redis").toString(), "--port", Integer.toString(FreePorts.next()));
        assertThat(c.exit()).as(c.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(c.oneLineError()).contains("--redis-server " + tmp.resolve("nonexistent") + " is not an executable file");
    }

    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS)
    void execOfAProgramThatDoesNotExistIsBadInputNotARestartLoop() {
        Cli c = Cli.run("watchdog", "--exec", "--", "spillway-typo-cmd", "arg");
        assertThat(c.exit()).as(c.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(c.oneLineError()).isEqualTo("spillway watchdog: cannot run 'spillway-typo-cmd': No such file or directory");
    }

    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS)
    void aPortHeldByAnotherRedisEndsTheCommandWithOneLineAndExit1() throws Exception {
        try (RedisProcess other = RedisProcess.builder().build().start()) {
            Cli c = Cli.run("watchdog", "--port", Integer.toString(other.port()), "--dir", tmp.resolve("redis").toString());
            assertThat(c.exit()).as(c.toString()).isEqualTo(ExitCodes.FAILED);
            assertThat(c.oneLineError()).contains("port " + other.port() + " is in use by pid " + other.pid());
            assertThat(other.isAlive()).isTrue();
        }
    }

    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS)
    void aRedisServerOlderThanTheDataDirIsBadInputNotAnEmptyStart() throws Exception {
        Path binary = io.spillway.watchdog.RedisBinary.locate();
        String version = io.spillway.watchdog.RedisBinary.version(binary);
        org.junit.jupiter.api.Assumptions.assumeTrue(version.startsWith("6."), "the redis-server found is " + version);
        Path dir = tmp.resolve("redis");
        Files.createDirectories(dir.resolve("appendonlydir"));
        Files.writeString(dir.resolve("appendonlydir/appendonly.aof.manifest"), "file appendonly.aof.1.base.rdb seq 1 type b\n");

        Cli c = Cli.run("watchdog", "--redis-server", binary.toString(), "--dir", dir.toString(),
                "--port", Integer.toString(FreePorts.next()));

        assertThat(c.exit()).as(c.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(c.oneLineError()).contains(binary + " is Redis " + version, "Redis 7.0 or later wrote");
        assertThat(dir.resolve("appendonly.aof")).doesNotExist();
    }

    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS)
    void aSettingRedisRefusesIsBadInputWithRedisSWordsNotARestartLoop() {
        long t0 = System.nanoTime();
        Cli c = Cli.run("watchdog", "--set", "maxmemory-policy=noevictoin", "--dir", tmp.resolve("redis").toString(),
                "--port", Integer.toString(FreePorts.next()));
        assertThat(c.exit()).as(c.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(c.oneLineError()).contains("'maxmemory-policy noevictoin'", "must be one of");
        assertThat(TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t0)).as("seconds to give up").isLessThan(15);
    }

    @Test
    void startTimeoutIsAnOptionWithItsOwnName() {
        Cli c = Cli.run("watchdog", "--start-timeout", "0");
        assertThat(c.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(c.oneLineError()).contains("--start-timeout must be > 0");
        Cli hang = Cli.run("watchdog", "--hang-timeout", "0");
        assertThat(hang.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(hang.oneLineError()).endsWith("--hang-timeout must be > 0, but was 0 ms");
        assertThat(Cli.run("watchdog", "--help").out()).contains("--start-timeout");
    }

    @Test
    void aRepeatedSetOfADirectiveRedisReadsSeveralLinesOfKeepsEveryLine() {
        WatchdogCommand cmd = new WatchdogCommand();
        new picocli.CommandLine(cmd).parseArgs("--dir", tmp.resolve("redis").toString(),
                "--set", "rename-command=FLUSHALL ''", "--set", "maxmemory-policy=allkeys-lru",
                "--set", "rename-command=FLUSHDB ''", "--set", "maxmemory-policy=noeviction");
        String conf = cmd.redisConfig().configText();
        // Only the FLUSHDB line was kept, leaving FLUSHALL enabled.
        assertThat(conf).contains("rename-command FLUSHALL ''\nrename-command FLUSHDB ''\n", "maxmemory-policy noeviction\n")
                .doesNotContain("allkeys-lru");
        assertThat(Cli.run("watchdog", "--help").out().replaceAll("\\s+", " "))
                .contains("A NAME given again replaces its earlier value, except rename-command");
    }

    @Test
    void helpSaysWhichRedisServerRuns() {
        // picocli wraps the text: compare with the line breaks and indents folded into single spaces.
        assertThat(Cli.run("watchdog", "--help").out().replaceAll("\\s+", " "))
                .contains("--redis-server if given, else the one named by SPILLWAY_REDIS_SERVER, else redis-server on PATH,"
                        + " else the 6.2 binary embedded in spillway");
    }
}
