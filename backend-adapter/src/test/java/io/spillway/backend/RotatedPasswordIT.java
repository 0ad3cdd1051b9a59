package io.spillway.backend;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.spillway.core.HealthState;
import io.spillway.core.QueueName;
import io.spillway.core.internal.RedisKeys;
import io.spillway.testing.RedisProcess;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.args.ClientType;
import redis.clients.jedis.params.ClientKillParams;

/**
 * Redis's password changed while the producer runs (a rotation: its pooled connections stay logged in, a new one is
 * refused with WRONGPASS): an enqueue that needs a new connection spools, like one Redis refused for NOAUTH, instead of
 * throwing a job the journal could take; once the password is back the job reaches Redis.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class RotatedPasswordIT {
    @TempDir
    Path dir;

    @Test
    void anEnqueueRefusedTheCredentialsOnANewConnectionSpoolsAndReachesRedisOnceTheyAreAcceptedAgain() {
        try (RedisProcess redis = RedisProcess.builder().start(); Jedis admin = redis.jedis()) {
            admin.configSet("requirepass", "secret");
            admin.auth("secret");
            URI uri = URI.create("redis://:secret@127.0.0.1:" + redis.port());
            try (JobProducer p = JobProducer.builder().redis(uri).journalDir(dir.resolve("journal"))
                    .reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(200)).build()) {
                await().atMost(Duration.ofSeconds(10)).until(() -> p.state() == HealthState.CONNECTED);
                assertThat(p.enqueue("rotated", "t", new byte[0]).spooled()).isFalse();

                admin.configSet("requirepass", "rotated");
                admin.clientKill(ClientKillParams.clientKillParams().type(ClientType.NORMAL).skipMe(ClientKillParams.SkipMe.YES));
                Receipt refused = p.enqueue("rotated", "t", new byte[0]);
                assertThat(refused.spooled()).as("refused credentials spool, as NOAUTH does").isTrue();

                admin.configSet("requirepass", "secret");
                await().atMost(Duration.ofSeconds(20)).until(() -> p.state() == HealthState.CONNECTED && p.journalBacklog() == 0);
                assertThat(admin.xlen(RedisKeys.stream(QueueName.of("rotated")))).isEqualTo(2);
            }
        }
    }
}
