package io.spillway.core.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** The run id this library compares: Redis's run id and the master's replication id. */
class RedisInfoTest {
    private static final String R1 = "a".repeat(40);
    private static final String R2 = "b".repeat(40);
    private static final String REPL1 = "1".repeat(40);
    private static final String REPL2 = "2".repeat(40);

    @Test
    void theRunIdHoldsTheReplicationIdWhereInfoGivesIt() {
        assertThat(RedisInfo.runId(Map.of("run_id", R1, "master_replid", REPL1))).isEqualTo(R1 + "/" + REPL1);
        assertThat(RedisInfo.runId(Map.of("run_id", R1))).as("INFO replication not read or refused").isEqualTo(R1);
        assertThat(RedisInfo.runId(Map.of())).isNull();
    }

    @Test
    void aMasterFailedOverAndBackIsAnotherDataSetThoughItsRunIdIsTheSame() {
        assertThat(RedisInfo.sameRunId(R1 + "/" + REPL1, R1 + "/" + REPL1)).isTrue();
        assertThat(RedisInfo.sameRunId(R1 + "/" + REPL1, R1 + "/" + REPL2)).as("failed over and back").isFalse();
        assertThat(RedisInfo.sameRunId(R1 + "/" + REPL1, R2 + "/" + REPL1)).as("restarted").isFalse();
        assertThat(RedisInfo.sameRunId(null, R1)).isFalse();
        assertThat(RedisInfo.sameRunId(null, null)).isTrue();
    }

    @Test
    void aRunIdRecordedByAnEarlierVersionIsComparedWithTheRunIdsAlone() {
        assertThat(RedisInfo.sameRunId(R1, R1 + "/" + REPL1)).as("an upgrade alone is no restart").isTrue();
        assertThat(RedisInfo.sameRunId(R1, R2 + "/" + REPL1)).isFalse();
        String cluster = "127.0.0.1:7000=" + R1 + ",127.0.0.1:7001=" + R2;
        assertThat(RedisInfo.sameRunId(cluster, "127.0.0.1:7000=" + R1 + "/" + REPL1 + ",127.0.0.1:7001=" + R2 + "/" + REPL2))
                .isTrue();
        assertThat(ClusterTopology.restartedMasters(cluster,
                "127.0.0.1:7000=" + R1 + "/" + REPL1 + ",127.0.0.1:7001=" + R2 + "/" + REPL2)).isEmpty();
        assertThat(ClusterTopology.restartedMasters("127.0.0.1:7000=" + R1 + "/" + REPL1,
                "127.0.0.1:7000=" + R1 + "/" + REPL2)).as("failed over and back").containsExactly("127.0.0.1:7000");
    }
}
