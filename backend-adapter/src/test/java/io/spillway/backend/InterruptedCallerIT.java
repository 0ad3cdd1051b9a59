package io.spillway.backend;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.spillway.core.Durability;
import io.spillway.core.HealthState;
import io.spillway.testing.RedisProcess;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import redis.clients.jedis.Jedis;

/**
 * A caller whose thread is interrupted (a request that timed out, {@code Future.cancel(true)}) while it enqueues: the
 * journal's files are channels that an interrupted thread would close for every caller (ClosedByInterruptException),
 * and a quick retry's wait would end early. Its jobs must be accepted as any other's, in order, its interrupt kept for
 * it to see, and the producer must go on serving the other threads, through an outage and its replay.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class InterruptedCallerIT {
    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(Durability.class)
    void anInterruptedCallerIsServedAndKeepsItsInterrupt(Durability durability) throws Exception {
        try (RedisProcess redis = RedisProcess.builder().start();
             JobProducer p = JobProducer.builder().redis(redis.uri()).journalDir(dir.resolve("journal"))
                     .durability(durability).reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(200)).build()) {
            List<String> accepted = new ArrayList<>();
            List<Throwable> errors = new ArrayList<>();
            List<Boolean> stillInterrupted = new ArrayList<>();
            Runnable interruptedBurst = () -> {
                for (int i = 0; i < 20; i++) {
                    Thread.currentThread().interrupt();
                    try {
                        accepted.add(p.enqueue("q", "t", ("x" + i).getBytes(StandardCharsets.UTF_8)).jobId());
                    } catch (Throwable t) {
                        errors.add(t);
                    }
                    stillInterrupted.add(Thread.interrupted());
                }
            };
            Thread t1 = new Thread(interruptedBurst);
            t1.start();
            t1.join();
            redis.kill();
            Thread t2 = new Thread(interruptedBurst);
            t2.start();
            t2.join();
            // Other threads go on, spooling, then through the replay.
            for (int i = 0; i < 10; i++) {
                accepted.add(p.enqueue("q", "t", ("y" + i).getBytes(StandardCharsets.UTF_8)).jobId());
            }
            redis.restart();
            await().atMost(Duration.ofSeconds(20)).until(() -> p.state() == HealthState.CONNECTED && p.journalBacklog() == 0);
            accepted.add(p.enqueue("q", "t", "z".getBytes(StandardCharsets.UTF_8)).jobId());
            try (Jedis j = redis.jedis()) {
                assertThat(RedisJobs.ids(j, "q")).containsExactlyElementsOf(accepted);
            }
            assertThat(errors).isEmpty();
            assertThat(stillInterrupted).containsOnly(true);
        }
    }
}
