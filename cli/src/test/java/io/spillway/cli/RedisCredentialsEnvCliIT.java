package io.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.spillway.testing.ChildJvm;
import io.spillway.testing.RedisProcess;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import redis.clients.jedis.Jedis;

/**
 * The Redis's credentials from {@code SPILLWAY_REDIS_USER} and {@code SPILLWAY_REDIS_PASSWORD}, so that a password
 * need not be in the process list; a URI's own credentials win. Each command line in a JVM of its own (the environment
 * is the point), all started at once to keep the test short.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
@org.junit.jupiter.api.Tag("first-pass-only") // the tool's options and messages: the same whatever the Redis version
class RedisCredentialsEnvCliIT {
    private static final String USER = "ops";
    private static final String PASSWORD = "opsSecret9";

    @Test
    void credentialsComeFromTheEnvironmentWhenTheUriHasNoneAndTheUrisOwnWin() throws Exception {
        try (RedisProcess redis = RedisProcess.builder().start()) {
            try (Jedis admin = redis.jedis()) {
                admin.aclSetUser(USER, "reset", "on", ">" + PASSWORD, "~*", "+@all");
                // No way in without credentials: NOAUTH for a client that gives none.
                admin.aclSetUser("default", "off");
            }
            String bare = "redis://127.0.0.1:" + redis.port();
            String ownWrong = "redis://" + USER + ":nope@127.0.0.1:" + redis.port();
            Map<String, String> right = Map.of(RedisOptions.REDIS_USER_ENV, USER, RedisOptions.REDIS_PASSWORD_ENV, PASSWORD);
            Map<String, String> wrong = Map.of(RedisOptions.REDIS_USER_ENV, USER, RedisOptions.REDIS_PASSWORD_ENV, "badPass77");

            List<Process> runs = new ArrayList<>();
            runs.add(start(right, "status", "--redis", bare));
            runs.add(start(right, "status", "--redis", ownWrong));
            runs.add(start(wrong, "status", "--redis", bare));
            runs.add(start(Map.of(), "status", "--redis", bare));
            List<String> out = new ArrayList<>();
            List<Integer> exit = new ArrayList<>();
            try {
                for (Process p : runs) {
                    out.add(new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
                    assertThat(p.waitFor(45, TimeUnit.SECONDS)).isTrue();
                    exit.add(p.exitValue());
                }
            } finally {
                runs.forEach(Process::destroyForcibly);
            }

            // From the environment: the URI has no credentials.
            assertThat(exit.get(0)).as(out.get(0)).isZero();
            assertThat(out.get(0)).contains("No queues in redis://" + USER + "@127.0.0.1:" + redis.port());
            // The URI's own win: its wrong password is refused although the environment's is right.
            assertThat(exit.get(1)).as(out.get(1)).isEqualTo(ExitCodes.USAGE);
            assertThat(out.get(1)).contains("refused the credentials: WRONGPASS", "give user:password in the URI")
                    .doesNotContain("nope", PASSWORD);
            // Wrong in the environment: the line says where they came from, and shows no password.
            assertThat(exit.get(2)).as(out.get(2)).isEqualTo(ExitCodes.USAGE);
            assertThat(out.get(2)).contains("refused the credentials: WRONGPASS",
                    "check SPILLWAY_REDIS_USER and SPILLWAY_REDIS_PASSWORD, where the credentials came from")
                    .doesNotContain("badPass77");
            // Neither: NOAUTH, and the line names the variables.
            assertThat(exit.get(3)).as(out.get(3)).isEqualTo(ExitCodes.USAGE);
            assertThat(out.get(3)).contains("refused the credentials: NOAUTH", "or in SPILLWAY_REDIS_USER and SPILLWAY_REDIS_PASSWORD");
        }
    }

    /** {@code spillway ARGS} in a JVM of its own whose environment has {@code env} and none of the tool's variables else. */
    private static Process start(Map<String, String> env, String... args) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(ChildJvm.builder(SpillwayCli.class).args(args).command())
                .redirectErrorStream(true);
        pb.environment().keySet().removeIf(k -> k.startsWith("SPILLWAY_REDIS_USER") || k.startsWith("SPILLWAY_REDIS_PASSWORD"));
        pb.environment().putAll(env);
        return pb.start();
    }
}
