package io.spillway.core.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What the resend buffer keeps past its window: the writes no online replica has confirmed. */
class ReplicaWatchTest {
    private final List<Long> told = new ArrayList<>();
    private final ReplicaWatch watch = new ReplicaWatch(told::add);

    private static Map<String, String> master(String runId, long offset, String... replicas) {
        Map<String, String> info = new HashMap<>();
        info.put("role", "master");
        info.put("run_id", runId);
        info.put("master_repl_offset", Long.toString(offset));
        info.put("connected_slaves", Integer.toString(replicas.length));
        for (int i = 0; i < replicas.length; i++) {
            info.put("slave" + i, "ip=127.0.0.1,port=" + (7000 + i) + "," + replicas[i] + ",lag=0");
        }
        return info;
    }

    @Test
    void aRedisThatNeverHadAReplicaKeepsNothingBeyondTheWindow() {
        watch.sample(1_000, master("a", 100));
        watch.sample(2_000, master("a", 200));
        assertThat(watch.safeBefore()).isEqualTo(Long.MAX_VALUE);
        assertThat(told).isEmpty();
    }

    @Test
    void aWriteIsSafeOnceAnOnlineReplicaReachedTheOffsetSampledAfterIt() {
        watch.sample(1_000, master("a", 100, "state=online,offset=100"));
        assertThat(watch.safeBefore()).as("from the first replica seen: everything kept until confirmed").isEqualTo(1_000);
        watch.sample(2_000, master("a", 300, "state=online,offset=250"));
        assertThat(watch.safeBefore()).as("the replica has not reached 300 yet").isEqualTo(1_000);
        watch.sample(3_000, master("a", 400, "state=online,offset=300"));
        assertThat(watch.safeBefore()).isEqualTo(2_000);
        watch.sample(4_000, master("a", 400, "state=online,offset=400"));
        assertThat(watch.safeBefore()).isEqualTo(4_000);
        assertThat(told).containsExactly(Long.MIN_VALUE, 1_000L, 2_000L, 4_000L);
    }

    @Test
    void aReplicaNotOnlineOrGoneConfirmsNothingAndTheMarkStays() {
        watch.sample(1_000, master("a", 100, "state=online,offset=100"));
        watch.sample(2_000, master("a", 200, "state=wait_bgsave,offset=0"));
        watch.sample(3_000, master("a", 300));
        watch.sample(4_000, master("a", 400, "state=send_bulk,offset=0"));
        assertThat(watch.safeBefore()).isEqualTo(1_000);
        watch.sample(5_000, master("a", 500, "state=online,offset=420", "state=online,offset=500"));
        assertThat(watch.safeBefore()).as("the furthest online replica counts").isEqualTo(5_000);
    }

    /**
     * A failover: the new master's offsets are its own. The mark stays until its replicas confirm (the review's case:
     * no replica in sync for 10-16 s after a manual failover).
     */
    @Test
    void aNewMasterStartsItsOwnSamplesAndTheMarkWaitsForItsReplicas() {
        watch.sample(1_000, master("a", 100, "state=online,offset=100"));
        watch.sample(2_000, master("a", 200, "state=online,offset=200"));
        assertThat(watch.safeBefore()).isEqualTo(2_000);
        watch.sample(3_000, master("b", 150)); // promoted: no replica yet
        watch.sample(9_000, master("b", 900));
        assertThat(watch.safeBefore()).isEqualTo(2_000);
        watch.sample(14_000, master("b", 1_400, "state=online,offset=1400"));
        assertThat(watch.safeBefore()).isEqualTo(14_000);
    }

    @Test
    void aReplicaOrAnUnreadableInfoChangesNothing() {
        Map<String, String> replica = master("a", 100, "state=online,offset=100");
        replica.put("role", "slave");
        watch.sample(1_000, replica);
        watch.sample(2_000, Map.of());
        assertThat(watch.safeBefore()).isEqualTo(Long.MAX_VALUE);
    }

    @Test
    void theResendBufferKeepsWhatNoReplicaConfirmedBeyondTheWindowUpToItsBytes() {
        RecentWrites recent = new RecentWrites(5_000, 1_000);
        recent.keepSince(10_000);
        recent.add(null, new byte[100], 10_000);
        recent.add(null, new byte[100], 11_000);
        recent.add(null, new byte[100], 30_000); // 20 s later: past the window, not confirmed
        assertThat(recent.size()).isEqualTo(3);
        recent.keepSince(11_000);
        recent.add(null, new byte[100], 30_001);
        assertThat(recent.size()).as("the first is on a replica now").isEqualTo(3);
        recent.keepSince(Long.MAX_VALUE);
        recent.add(null, new byte[100], 30_002);
        assertThat(recent.size()).as("the window alone again").isEqualTo(3);
        try (io.spillway.testing.LogCapture logs = new io.spillway.testing.LogCapture()) {
            for (int i = 0; i < 10; i++) {
                recent.add(null, new byte[100], 30_003 + i);
            }
            assertThat(recent.size()).as("the byte bound").isEqualTo(10);
            assertThat(recent.overflowed()).isEqualTo(3);
            assertThat(logs.lines("Resend buffer full")).as("said once, not per write").hasSize(1);
        }
    }

    @Test
    void aBufferThatNeverLetAWriteGoSaysSo() {
        RecentWrites kept = new RecentWrites(5_000, 10_000);
        kept.keepSince(Long.MIN_VALUE); // through Sentinel, nothing confirmed yet
        kept.add(null, new byte[10], 1_000);
        kept.add(null, new byte[10], 60_000);
        assertThat(kept.droppedAny()).as("every write since the start is held: nothing older to have lost").isFalse();
        kept.keepSince(Long.MAX_VALUE);
        kept.add(null, new byte[10], 60_001);
        assertThat(kept.droppedAny()).as("the one of 1 s aged out").isTrue();
        RecentWrites successor = new RecentWrites(5_000, 10_000);
        successor.restore(List.of(new RecentWrites.Entry(1_000, null, new byte[10])));
        assertThat(successor.droppedAny()).as("a predecessor may have let older writes go").isTrue();
    }

    @Test
    void writesSentAgainAreKeptAsWrittenAtTheResend() {
        RecentWrites recent = new RecentWrites(5_000, 10_000);
        // Written at 1 s, taken out by the recovery's drain at 60 s and sent again:
        List<RecentWrites.Entry> sent = List.of(new RecentWrites.Entry(1_000, null, new byte[10]));
        recent.resent(sent, 60_000);
        recent.add(null, new byte[10], 64_000);
        assertThat(recent.size()).as("kept as written at the re-send").isEqualTo(2);
        recent.add(null, new byte[10], 65_001);
        assertThat(recent.size()).as("the re-send ages out with the window").isEqualTo(2);
    }

    @Test
    void throughSentinelEveryWriteIsKeptFromTheStartUntilAReplicaConfirmsIt() {
        List<Long> heard = new ArrayList<>();
        ReplicaWatch sentinel = new ReplicaWatch(heard::add, true);
        assertThat(sentinel.safeBefore()).as("a master just promoted may have no replica yet").isEqualTo(Long.MIN_VALUE);
        assertThat(heard).containsExactly(Long.MIN_VALUE);
        sentinel.sample(1_000, master("b", 100));
        sentinel.sample(2_000, master("b", 200));
        assertThat(sentinel.safeBefore()).as("no replica: nothing confirmed").isEqualTo(Long.MIN_VALUE);
        sentinel.sample(3_000, master("b", 300, "state=online,offset=200"));
        assertThat(sentinel.safeBefore()).as("the replica has what was written before the second sample").isEqualTo(2_000);
    }

    @Test
    void aNewReplicationIdOfTheSameServerStartsTheSamplesAgain() {
        Map<String, String> first = master("a", 100, "state=online,offset=50");
        first.put("master_replid", "1".repeat(40));
        watch.sample(1_000, first);
        assertThat(watch.safeBefore()).isEqualTo(Long.MIN_VALUE);
        // Failed over and back: the same run id, a new replication id, offsets of another history.
        Map<String, String> again = master("a", 30, "state=online,offset=30");
        again.put("master_replid", "2".repeat(40));
        watch.sample(2_000, again);
        assertThat(watch.safeBefore()).as("the old history's offsets are not waited for").isEqualTo(2_000);
    }
}
