package io.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.codahale.metrics.MetricRegistry;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spillway.core.Durability;
import io.spillway.core.JobId;
import io.spillway.core.QueueName;
import io.spillway.core.internal.ChronicleJournal;
import io.spillway.core.internal.JobCodec;
import io.spillway.core.internal.JobRecord;
import io.spillway.core.internal.SentLog;
import io.spillway.testing.RedisProcess;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code spillway journal replay} of a backlog accepted before a dead producer's last direct writes, on a Redis with
 * another run id: the backlog is reported as replayed, not as sent again (found by a review: "replayed 0, restored
 * 5100").
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
@org.junit.jupiter.api.Tag("first-pass-only") // client-side logic: the same whatever the Redis version
class JournalReplayBacklogIT {
    @TempDir
    Path tmp;

    @Test
    void aBacklogAcceptedBeforeThePredecessorsDirectWritesIsCountedAsReplayed() throws Exception {
        Path dir = tmp.resolve("journal");
        long now = System.currentTimeMillis();
        try (ChronicleJournal journal = ChronicleJournal.open(dir, 1L << 30, Durability.PROCESS_CRASH, new MetricRegistry(),
                null, 5_000)) {
            for (int i = 0; i < 5_000; i++) {
                JobRecord r = new JobRecord(JobId.mint(now - 2_000), QueueName.of("a"), "t", new byte[] {1}, Map.of(), 0,
                        now - 2_000, now - 2_000);
                journal.append(r, JobCodec.encode(r));
            }
        }
        try (SentLog log = SentLog.open(dir, Durability.PROCESS_CRASH, 5_000, 16L << 20)) {
            List<byte[]> writes = new ArrayList<>();
            for (int i = 0; i < 100; i++) {
                JobRecord r = new JobRecord(JobId.mint(now - 1_000), QueueName.of("b"), "t", new byte[] {2}, Map.of(), 0,
                        now - 1_000, now - 1_000);
                writes.add(JobCodec.encode(r));
            }
            log.append(writes, now - 1_000);
            log.redisRunId("0123456789012345678901234567890123456789");
        }
        try (RedisProcess redis = RedisProcess.builder().start()) {
            Cli replay = Cli.run("journal", "replay", dir.toString(), "--redis", redis.uri().toString(), "--json");
            JsonNode r = new ObjectMapper().readTree(replay.out());
            assertThat(r.get("backlogBefore").asLong()).isEqualTo(5_000);
            assertThat(r.get("backlogAfter").asLong()).isZero();
            assertThat(r.get("replayed").asLong()).as("the 5,000 never replayed before").isEqualTo(5_000);
        }
    }
}
