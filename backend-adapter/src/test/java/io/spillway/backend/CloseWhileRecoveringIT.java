package io.spillway.backend;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.spillway.core.HealthState;
import io.spillway.core.QueueName;
import io.spillway.core.internal.RedisKeys;
import io.spillway.testing.LogCapture;
import io.spillway.testing.RedisProcess;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.StreamEntryID;
import redis.clients.jedis.resps.StreamEntry;

/**
 * close() while the producer replays a big backlog after an outage (RECOVERING): the replay stops before close()
 * returns -- nothing more reaches Redis or the journal's positions, no line from the reconnect loop after it -- and a
 * producer opened on the journal replays the rest: every job in Redis once.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class CloseWhileRecoveringIT {
    @TempDir
    Path dir;

    @Test
    void closeDuringTheReplayOfABacklogStopsItAndTheNextProducerReplaysTheRest() throws Exception {
        String queue = "close-recovering";
        String stream = RedisKeys.stream(QueueName.of(queue));
        int jobs = 200_000;
        try (RedisProcess redis = RedisProcess.builder().start(); LogCapture logs = new LogCapture()) {
            JobProducer p = JobProducer.builder().redis(redis.uri()).journalDir(dir.resolve("journal"))
                    .reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(100)).build();
            await().atMost(Duration.ofSeconds(10)).until(() -> p.state() == HealthState.CONNECTED);
            redis.kill();
            List<byte[]> payloads = new ArrayList<>();
            for (int i = 0; i < jobs; i++) {
                payloads.add(new byte[16]);
            }
            for (int from = 0; from < jobs; from += 10_000) {
                p.enqueueAll(queue, "t", payloads.subList(from, from + 10_000));
            }
            assertThat(p.journalBacklog()).isEqualTo(jobs);
            redis.restart();
            await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(1))
                    .until(() -> p.state() == HealthState.RECOVERING);
            try (Jedis j = redis.jedis()) {
                await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(5))
                        .until(() -> j.xlen(stream) > 0); // part of the backlog replayed
            }
            p.close();
            int linesAtClose = logs.lines("").size();
            long atClose;
            try (Jedis j = redis.jedis()) {
                atClose = j.xlen(stream);
                Thread.sleep(1_500);
                assertThat(j.xlen(stream)).as("nothing reaches Redis after close() returned").isEqualTo(atClose);
            }
            assertThat(logs.lines("").subList(linesAtClose, logs.lines("").size()))
                    .as("no line from the reconnect loop after close()").noneMatch(l -> l.contains("Reconnect"));
            assertThat(atClose).as("the close came mid-replay").isLessThan(jobs);

            try (JobProducer next = JobProducer.builder().redis(redis.uri()).journalDir(dir.resolve("journal")).build()) {
                await().atMost(Duration.ofSeconds(60)).until(() -> next.state() == HealthState.CONNECTED
                        && next.journalBacklog() == 0);
            }
            try (Jedis j = redis.jedis()) {
                assertThat(j.xlen(stream)).isEqualTo(jobs);
                Set<String> ids = new HashSet<>();
                StreamEntryID from = StreamEntryID.MINIMUM_ID;
                while (true) {
                    List<StreamEntry> page = j.xrange(stream, from, StreamEntryID.MAXIMUM_ID, 10_000);
                    for (StreamEntry e : page) {
                        ids.add(e.getFields().get("j"));
                    }
                    if (page.size() < 10_000) {
                        break;
                    }
                    StreamEntryID last = page.get(page.size() - 1).getID();
                    from = new StreamEntryID(last.getTime(), last.getSequence() + 1);
                }
                assertThat(ids).as("every job once").hasSize(jobs);
            }
        }
    }
}
