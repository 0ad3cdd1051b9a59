package io.spillway.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.spillway.testing.LogCapture;
import io.spillway.testing.RedisProcess;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.Protocol;

/**
 * Redis up and answering, but refusing: a master whose {@code min-replicas-to-write} its replicas no longer meet
 * ({@code NOREPLICAS}), and a Redis busy with another client's endless script ({@code BUSY} to everyone else until
 * {@code SCRIPT KILL}). Neither is a crash, a hang or a full memory; each must spool, lose nothing and say what it is
 * in words, once per component.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class RedisRefusesIT {
    @TempDir
    Path dir;

    @Test
    void aMasterThatLostTheReplicasItsMinReplicasToWriteNeedsLosesNoJob() throws Exception {
        try (RedisProcess master = RedisProcess.builder().setting("min-replicas-to-write", "1")
                .setting("min-replicas-max-lag", "2").start();
             RedisProcess replica = RedisProcess.builder().setting("replicaof", "127.0.0.1 " + master.port()).start();
             Jedis admin = master.jedis(); LogCapture logs = new LogCapture()) {
            await().atMost(20, TimeUnit.SECONDS).until(() -> admin.info("replication").contains("connected_slaves:1"));
            JobsThroughAFault.Outcome o = JobsThroughAFault.run(master.uri(), dir, "noreplicas-" + System.nanoTime(),
                    replica::kill,
                    () -> assertThat(JobsThroughAFault.writeRefusal(admin)).startsWith("NOREPLICAS"),
                    replica::restart);
            System.out.println(o);
            assertThat(o.handled().keySet()).as("none lost").containsExactlyInAnyOrderElementsOf(o.accepted());
            assertThat(o.spooled()).isGreaterThanOrEqualTo(100);
            assertThat(logs.lines("\tat ")).as("no stack traces").isEmpty();
            assertThat(logs.lines("Redis connection lost")).as("one line per component and outage").hasSizeBetween(2, 4)
                    .allSatisfy(l -> assertThat(l).contains(" WARN ", "Redis connection lost: NOREPLICAS (fewer replicas in"
                            + " sync than Redis's min-replicas-to-write: it refuses writes until enough are back)"))
                    .noneSatisfy(l -> assertThat(l).contains("@user_script"));
        }
    }

    @Test
    void aRedisBusyWithAnotherClientsEndlessScriptLosesNoJob() throws Exception {
        try (RedisProcess redis = RedisProcess.builder().setting("lua-time-limit", "100").start();
             Jedis admin = redis.jedis(); Jedis runaway = redis.jedis(Duration.ofSeconds(60));
             LogCapture logs = new LogCapture()) {
            AtomicReference<Throwable> killed = new AtomicReference<>();
            Thread script = new Thread(() -> {
                try {
                    runaway.eval("local n = 0 while true do n = n + 1 end");
                } catch (Throwable t) {
                    killed.set(t);
                }
            }, "runaway-script");
            JobsThroughAFault.Outcome o = JobsThroughAFault.run(redis.uri(), dir, "busy-" + System.nanoTime(),
                    script::start,
                    () -> assertThat(JobsThroughAFault.writeRefusal(admin)).startsWith("BUSY"),
                    () -> {
                        admin.scriptKill();
                        script.join(10_000);
                    });
            System.out.println(o);
            assertThat(killed.get()).as("the runaway script ended by SCRIPT KILL").isNotNull();
            assertThat(o.handled().keySet()).as("none lost").containsExactlyInAnyOrderElementsOf(o.accepted());
            assertThat(o.spooled()).isGreaterThanOrEqualTo(100);
            assertThat(logs.lines("\tat ")).as("no stack traces").isEmpty();
            assertThat(logs.lines("Redis connection lost")).as("one line per component and outage").hasSizeBetween(2, 4)
                    .allSatisfy(l -> assertThat(l).contains(" WARN ", "Redis connection lost: "))
                    .anySatisfy(l -> assertThat(l).contains("BUSY (Redis is running a script past its time limit"));
        }
    }

    @Test
    void aRedisAtItsMaxclientsLosesNoJob() throws Exception {
        try (RedisProcess redis = RedisProcess.builder().start(); Jedis admin = redis.jedis(); LogCapture logs = new LogCapture()) {
            JobsThroughAFault.Outcome o = JobsThroughAFault.run(redis.uri(), dir, "maxclients-" + System.nanoTime(),
                    () -> {
                        admin.configSet("maxclients", "1"); // this admin connection only
                        admin.sendCommand(Protocol.Command.CLIENT, "KILL", "TYPE", "normal", "SKIPME", "yes");
                    },
                    () -> assertThat(org.assertj.core.api.Assertions.catchThrowable(() -> {
                        try (Jedis other = redis.jedis()) {
                            other.ping();
                        }
                    })).as("a new connection is refused").isNotNull(),
                    () -> admin.configSet("maxclients", "10000"));
            System.out.println(o);
            assertThat(o.handled().keySet()).as("none lost").containsExactlyInAnyOrderElementsOf(o.accepted());
            assertThat(o.spooled()).isGreaterThanOrEqualTo(100);
            assertThat(logs.lines("\tat ")).as("no stack traces").isEmpty();
            assertThat(logs.lines("Reconnect attempt 1 failed")).as("what to check, said by the probe").isNotEmpty()
                    .allSatisfy(l -> assertThat(l).contains("Redis closed a new connection before it answered (",
                            "it may be at its maxclients (INFO stats: rejected_connections)"));
        }
    }
}
