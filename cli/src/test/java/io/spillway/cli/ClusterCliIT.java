package io.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spillway.backend.JobProducer;
import io.spillway.core.HealthState;
import io.spillway.core.JobId;
import io.spillway.core.QueueName;
import io.spillway.core.RedisConnection;
import io.spillway.core.internal.JobCodec;
import io.spillway.core.internal.JobRecord;
import io.spillway.core.internal.RedisKeys;
import io.spillway.testing.FreePorts;
import io.spillway.testing.RedisClusterGroup;
import io.spillway.testing.RedisProcess;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.RedisClusterClient;

/**
 * The commands that talk to Redis given a {@code redis-cluster://} URI, against a real three-master Redis Cluster: each
 * test uses queues whose slots are on different masters.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
@org.junit.jupiter.api.Tag("first-pass-only") // the tool's routing over a cluster; Redis 7 clusters run in ClusterIT and ChaosClusterIT
class ClusterCliIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final AtomicInteger QUEUES = new AtomicInteger();
    private static RedisClusterGroup cluster;

    @TempDir
    Path tmp;

    @BeforeAll
    static void startCluster() {
        cluster = RedisClusterGroup.builder().masters(3).start();
    }

    @AfterAll
    static void stopCluster() {
        if (cluster != null) {
            cluster.close();
        }
    }

    private static String uri() {
        return cluster.uriString();
    }

    /** One new queue name per master, in the masters' slot order: queue i lives on master i. */
    private static List<String> queuePerMaster(String prefix) {
        List<RedisProcess> masters = cluster.masters();
        String[] found = new String[masters.size()];
        int missing = masters.size();
        while (missing > 0) {
            String q = prefix + "-" + QUEUES.incrementAndGet();
            int i = masters.indexOf(cluster.masterFor(RedisKeys.stream(QueueName.of(q))));
            if (found[i] == null) {
                found[i] = q;
                missing--;
            }
        }
        return List.of(found);
    }

    private static String address(RedisProcess node) {
        return "127.0.0.1:" + node.port();
    }

    @Test
    void statusListsTheQueuesOfEveryMasterWithTheirCounts() throws Exception {
        List<String> queues = queuePerMaster("status");
        try (JobProducer producer = JobProducer.builder().redis(RedisConnection.of(uri())).journalDir(tmp.resolve("j")).build()) {
            await().atMost(Duration.ofSeconds(15)).until(() -> producer.state() == HealthState.CONNECTED);
            for (int i = 0; i < queues.size(); i++) {
                for (int n = 0; n < 2 + i; n++) {
                    producer.enqueue(queues.get(i), "t", ("p" + n).getBytes(StandardCharsets.UTF_8));
                }
            }
            await().atMost(Duration.ofSeconds(15)).until(() -> producer.journalBacklog() == 0);
        }

        Cli all = Cli.run("status", "--redis", uri(), "--json");
        assertThat(all.exit()).as(all.toString()).isZero();
        Map<String, Long> waiting = new HashMap<>();
        JSON.readTree(all.out()).get("queues").forEach(row -> waiting.put(row.get("queue").asText(), row.get("waiting").asLong()));
        for (int i = 0; i < queues.size(); i++) {
            assertThat(waiting).as(all.toString()).containsEntry(queues.get(i), 2L + i);
        }

        Cli text = Cli.run("status", "--redis", uri(), "-q", queues.get(2), "-q", queues.get(0), "-q", "status-never-seen");
        assertThat(text.exit()).as(text.toString()).isZero();
        assertThat(text.out()).contains("QUEUE", queues.get(0), queues.get(2), "Queue status-never-seen is unknown");
        JsonNode row = JSON.readTree(Cli.run("status", "--redis", uri(), "-q", queues.get(1), "--json").out()).get("queues").get(0);
        assertThat(row.get("waiting").asLong()).isEqualTo(3);
        assertThat(row.get("oldestWaitingAgeMs").asLong()).isBetween(0L, 60_000L);

        // Paused and resumed through the cluster client: each pause key lives on its queue's master, where status reads it.
        Cli pause = Cli.run("pause", "--redis", uri(), queues.get(1), queues.get(2), "--reason", "on a cluster");
        assertThat(pause.exit()).as(pause.toString()).isZero();
        for (int i = 1; i < queues.size(); i++) {
            try (var j = cluster.masters().get(i).jedis()) {
                assertThat(j.get(RedisKeys.paused(QueueName.of(queues.get(i))))).endsWith("|on a cluster");
            }
        }
        Map<String, JsonNode> paused = new HashMap<>();
        JSON.readTree(Cli.run("status", "--redis", uri(), "--json").out()).get("queues")
                .forEach(r -> paused.put(r.get("queue").asText(), r.get("paused")));
        assertThat(paused.get(queues.get(0)).isNull()).isTrue();
        assertThat(paused.get(queues.get(1)).get("reason").asText()).isEqualTo("on a cluster");
        assertThat(paused.get(queues.get(2)).get("reason").asText()).isEqualTo("on a cluster");
        Cli resume = Cli.run("resume", "--redis", uri(), queues.get(1), queues.get(2), queues.get(0));
        assertThat(resume.exit()).as(resume.toString()).isZero();
        assertThat(resume.out()).containsPattern(queues.get(1) + " +resumed\n" + queues.get(2) + " +resumed\n"
                + queues.get(0) + " +was not paused\n");
    }

    @Test
    void doctorChecksEveryMasterAndNamesTheOneThatEvicts() throws Exception {
        List<RedisProcess> masters = cluster.masters();
        Cli good = Cli.run("doctor", "--redis", uri(), "--pings", "3");
        assertThat(good.exit()).as(good.toString()).isZero();
        assertThat(good.out()).contains("Redis Cluster " + uri(), "cluster_state ok, 3 master(s) serve all 16384 slots",
                "Nothing loses jobs");
        for (RedisProcess m : masters) {
            assertThat(good.out()).as(good.toString()).contains("Master " + address(m) + " (slots ");
        }
        assertThat(good.out().split("maxmemory-policy noeviction", -1)).as(good.toString()).hasSize(4);

        RedisProcess evicting = masters.get(1);
        evicting.configSet("maxmemory-policy", "allkeys-lru");
        try {
            Cli bad = Cli.run("doctor", "--redis", uri(), "--pings", "3");
            assertThat(bad.exit()).as(bad.toString()).isEqualTo(ExitCodes.FAILED);
            String badBlock = bad.out().substring(bad.out().indexOf("Master " + address(evicting)));
            badBlock = badBlock.substring(0, badBlock.indexOf("Master " + address(masters.get(2))));
            assertThat(badBlock).as(bad.toString()).contains("LOSES JOBS", "maxmemory-policy allkeys-lru",
                    "fix: CONFIG SET maxmemory-policy noeviction");
            assertThat(bad.out()).contains("1 finding(s) lose jobs (on master " + address(evicting) + ")");

            JsonNode json = JSON.readTree(Cli.run("doctor", "--redis", uri(), "--pings", "3", "--json").out());
            assertThat(json.get("losesJobs").asBoolean()).isTrue();
            assertThat(json.get("cluster").get("state").asText()).isEqualTo("ok");
            Map<String, Boolean> losesByMaster = new LinkedHashMap<>();
            json.get("masters").forEach(m -> losesByMaster.put(m.get("master").asText(), m.get("losesJobs").asBoolean()));
            assertThat(losesByMaster).containsExactly(Map.entry(address(masters.get(0)), false),
                    Map.entry(address(evicting), true), Map.entry(address(masters.get(2)), false));
            assertThat(json.get("masters").get(1).get("findings").findValuesAsText("check"))
                    .contains("eviction", "persistence", "memory", "version", "latency");
        } finally {
            evicting.configSet("maxmemory-policy", "noeviction");
        }
    }

    @Test
    void doctorChecksEveryReplicaAsTheMasterItBecomesAfterAFailover() throws Exception {
        // One master and its replica: a replica with an evicting policy evicts jobs once a failover promotes it.
        try (RedisClusterGroup small = RedisClusterGroup.builder().masters(1).replicasPerMaster(1).start()) {
            RedisProcess master = small.masters().get(0);
            RedisProcess replica = small.replicas().get(0);
            String uri = small.uriString();
            // Redis 7.0's CLUSTER SLOTS leaves out a replica whose replication offset is still 0 (up to 10 s on an idle
            // master, until its first replication PING): one write moves it on.
            try (RedisClusterClient c = small.client()) {
                c.set("doctor-replica-offset", "1");
            }
            await().atMost(Duration.ofSeconds(20)).until(() -> Cli.run("doctor", "--redis", uri, "--pings", "1").out()
                    .contains("Replica " + address(replica)));
            Cli good = Cli.run("doctor", "--redis", uri, "--pings", "3");
            assertThat(good.exit()).as(good.toString()).isZero();
            assertThat(good.out()).as(good.toString()).contains("Master " + address(master) + " (slots 0-16383; ",
                    "Replica " + address(replica) + " of master " + address(master) + " (version ", "Nothing loses jobs");
            assertThat(good.out().split("maxmemory-policy noeviction", -1)).as(good.toString()).hasSize(3);
            assertThat(good.out()).as("a replica's role is no finding").doesNotContain("refuses writes");

            replica.configSet("maxmemory-policy", "allkeys-lru");
            replica.configSet("appendonly", "no");
            replica.configSet("save", "");
            Cli bad = Cli.run("doctor", "--redis", uri, "--pings", "3");
            assertThat(bad.exit()).as(bad.toString()).isEqualTo(ExitCodes.FAILED);
            String replicaBlock = bad.out().substring(bad.out().indexOf("Replica " + address(replica)));
            assertThat(replicaBlock).as(bad.toString()).contains("maxmemory-policy allkeys-lru", "no AOF and no RDB snapshots");
            assertThat(bad.out()).contains("2 finding(s) lose jobs (on replica " + address(replica) + ")");
            String masterBlock = bad.out().substring(bad.out().indexOf("Master "), bad.out().indexOf("Replica "));
            assertThat(masterBlock).as(bad.toString()).doesNotContain("LOSES JOBS");

            JsonNode json = JSON.readTree(Cli.run("doctor", "--redis", uri, "--pings", "3", "--json").out());
            assertThat(json.get("losesJobs").asBoolean()).isTrue();
            JsonNode m = json.get("masters").get(0);
            assertThat(m.get("losesJobs").asBoolean()).isFalse();
            assertThat(m.get("replicas")).hasSize(1);
            assertThat(m.get("replicas").get(0).get("replica").asText()).isEqualTo(address(replica));
            assertThat(m.get("replicas").get(0).get("losesJobs").asBoolean()).isTrue();
            assertThat(m.get("replicas").get(0).get("findings").findValuesAsText("check")).contains("eviction", "persistence")
                    .doesNotContain("role");
        }
    }

    @Test
    void dlqListsShowsRetriesAndPurgesTheDeadLettersOfAQueueOnAnyMaster() throws Exception {
        List<String> queues = queuePerMaster("dlq");
        String q = queues.get(2);
        QueueName name = QueueName.of(q);
        long now = System.currentTimeMillis();
        try (RedisClusterClient c = cluster.client()) {
            // As dead.lua leaves them (every key of the queue in its slot).
            c.sadd(RedisKeys.QUEUES, q);
            for (String id : List.of("dead-1", "dead-2")) {
                c.zadd(RedisKeys.dead(name), now - 1000, id);
                c.hset(RedisKeys.bytes(RedisKeys.deadData(name)), RedisKeys.bytes(id), JobCodec.encode(new JobRecord(
                        JobId.of(id), name, "render", "hello".getBytes(StandardCharsets.UTF_8), Map.of(), 4, now - 5000, 0)));
                c.set(RedisKeys.job(name, JobId.of(id)), "X|5|" + now + "|no GPU today");
            }
        }

        Cli list = Cli.run("dlq", "list", "--redis", uri(), "-q", q);
        assertThat(list.exit()).as(list.toString()).isZero();
        assertThat(list.out()).contains("dead-1", "dead-2", "render", "no GPU today", "2 of 2 dead letter(s) in queue " + q);
        Cli other = Cli.run("dlq", "list", "--redis", uri(), "-q", queues.get(0), "--json");
        assertThat(JSON.readTree(other.out()).get("queueKnown").asBoolean()).as(other.toString()).isFalse();

        Cli show = Cli.run("dlq", "show", "--redis", uri(), "-q", q, "dead-1", "--payload");
        assertThat(show.exit()).as(show.toString()).isZero();
        assertThat(show.out()).contains("type        render", "payload     5 bytes: hello");

        Cli retry = Cli.run("dlq", "retry", "--redis", uri(), "-q", q, "dead-1");
        assertThat(retry.exit()).as(retry.toString()).isZero();
        JsonNode row = JSON.readTree(Cli.run("status", "--redis", uri(), "-q", q, "--json").out()).get("queues").get(0);
        assertThat(row.get("waiting").asLong()).isEqualTo(1);
        assertThat(row.get("dead").asLong()).isEqualTo(1);

        Cli purge = Cli.run("dlq", "purge", "--redis", uri(), "-q", q, "--all", "--yes");
        assertThat(purge.out()).as(purge.toString()).contains("Purged 1 dead letter(s)");
        assertThat(Cli.run("dlq", "list", "--redis", uri(), "-q", q).out()).contains("No dead letters in queue " + q);
    }

    @Test
    void journalReplayDrainsAJournalIntoTheMastersOfItsQueues() throws Exception {
        List<String> queues = queuePerMaster("replay");
        Path spool = spool(queues, 4);

        Cli replay = Cli.run("journal", "replay", spool.toString(), "--redis", uri());
        assertThat(replay.exit()).as(replay.toString()).isZero();
        assertThat(replay.out()).contains("12 new, 0 already in Redis; 0 left");
        for (String q : queues) {
            JsonNode row = JSON.readTree(Cli.run("status", "--redis", uri(), "-q", q, "--json").out()).get("queues").get(0);
            assertThat(row.get("waiting").asLong()).as(q).isEqualTo(4);
        }
        Cli again = Cli.run("journal", "replay", spool.toString(), "--redis", uri(), "--json");
        assertThat(again.exit()).as(again.toString()).isZero();
        assertThat(JSON.readTree(again.out()).get("replayed").asLong()).isZero();
    }

    @Test
    void anUnreachableClusterExitsThreeWithOneLine() {
        String down = "redis-cluster://127.0.0.1:" + FreePorts.next() + ",127.0.0.1:" + FreePorts.next();
        Path journal = spool(List.of("unreachable"), 1);
        for (String[] args : List.of(
                new String[] {"status", "--redis", down},
                new String[] {"doctor", "--redis", down},
                new String[] {"dlq", "list", "--redis", down, "-q", "x"},
                new String[] {"dlq", "purge", "--redis", down, "-q", "x", "--all", "--yes"},
                new String[] {"journal", "replay", journal.toString(), "--redis", down})) {
            Cli c = Cli.run(args);
            assertThat(c.exit()).as(String.join(" ", args) + "\n" + c).isEqualTo(ExitCodes.UNREACHABLE);
            assertThat(c.oneLineError()).contains("cannot reach Redis at " + down, "connection refused");
        }
    }

    /** A journal holding {@code perQueue} jobs of each queue, left by a producer that never reached Redis. */
    private Path spool(List<String> queues, int perQueue) {
        Path dir = tmp.resolve("spool-" + QUEUES.incrementAndGet());
        try (JobProducer producer = JobProducer.builder().redis(URI.create("redis://127.0.0.1:" + FreePorts.next()))
                .journalDir(dir).build()) {
            for (String q : queues) {
                for (int n = 0; n < perQueue; n++) {
                    assertThat(producer.enqueue(q, "t", ("s" + n).getBytes(StandardCharsets.UTF_8)).spooled()).isTrue();
                }
            }
        }
        return dir;
    }

    @Test
    void theWrongKindOfUriIsBadInputThatSaysWhichToUse() throws Exception {
        try (RedisProcess standalone = RedisProcess.builder().start()) {
            Cli notACluster = Cli.run("status", "--redis", "redis-cluster://127.0.0.1:" + standalone.port());
            assertThat(notACluster.exit()).as(notACluster.toString()).isEqualTo(ExitCodes.USAGE);
            assertThat(notACluster.oneLineError()).contains("is not a Redis Cluster", "redis://host:port");
        }
        // A node given as a standalone Redis answers MOVED for the queues of the other masters' slots.
        RedisProcess first = cluster.masters().get(0);
        String elsewhere = queuePerMaster("moved").get(1);
        Cli node = Cli.run("status", "--redis", "redis://" + address(first), "-q", elsewhere);
        assertThat(node.exit()).as(node.toString()).isEqualTo(ExitCodes.USAGE);
        assertThat(node.oneLineError()).contains("is a node of a Redis Cluster", "MOVED", "redis-cluster://");
        Cli doctor = Cli.run("doctor", "--redis", "redis://" + address(first), "--pings", "1");
        assertThat(doctor.exit()).as(doctor.toString()).isZero();
        assertThat(doctor.out()).contains("this Redis is a node of a Redis Cluster", "--redis redis-cluster://");
    }

    /**
     * A master down ({@code cluster-require-full-coverage no}: the others serve their slots): status shows the other
     * masters' queues, names those of the down master as not read, and exits 3. Its own cluster, as it kills masters.
     */
    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void statusShowsTheQueuesOfTheLiveMastersWhenOneIsDown() throws Exception {
        try (RedisClusterGroup own = RedisClusterGroup.builder().masters(3).requireFullCoverage(false).start()) {
            String uri = own.uriString();
            List<RedisProcess> masters = own.masters();
            // Two queues per master: the second of a down master's queues is not tried (one failure per master).
            String[] found = new String[6];
            for (int n = 0, missing = 6; missing > 0; n++) {
                String q = "partial-" + n;
                int i = 2 * masters.indexOf(own.masterFor(RedisKeys.stream(QueueName.of(q))));
                int slot = found[i] == null ? i : found[i + 1] == null ? i + 1 : -1;
                if (slot >= 0) {
                    found[slot] = q;
                    missing--;
                }
            }
            List<String> queues = List.of(found);
            try (JobProducer producer = JobProducer.builder().redis(RedisConnection.of(uri)).journalDir(tmp.resolve("pj")).build()) {
                await().atMost(Duration.ofSeconds(15)).until(() -> producer.state() == HealthState.CONNECTED);
                for (String q : queues) {
                    producer.enqueue(q, "t", "p".getBytes(StandardCharsets.UTF_8));
                }
                await().atMost(Duration.ofSeconds(15)).until(() -> producer.journalBacklog() == 0);
            }
            RedisProcess setsMaster = own.masterFor(RedisKeys.QUEUES);
            int v = masters.indexOf(setsMaster) == 0 ? 1 : 0;
            RedisProcess victim = masters.get(v);
            List<String> down = List.of(queues.get(2 * v), queues.get(2 * v + 1));
            List<String> live = queues.stream().filter(q -> !down.contains(q)).toList();

            victim.kill();
            Cli text = Cli.run("status", "--redis", uri);
            assertThat(text.exit()).as(text.toString()).isEqualTo(ExitCodes.UNREACHABLE);
            assertThat(text.out()).as(text.toString()).contains(live.toArray(String[]::new))
                    .contains("Queues " + down.get(0) + ", " + down.get(1) + " not read: their Redis Cluster master "
                            + address(victim) + " cannot be reached (connection refused).");
            assertThat(text.err()).as("no stack trace").doesNotContain("\tat ");
            JsonNode doc = JSON.readTree(Cli.run("status", "--redis", uri, "--json").out());
            Map<String, Long> waiting = new HashMap<>();
            doc.get("queues").forEach(row -> waiting.put(row.get("queue").asText(), row.get("waiting").asLong()));
            assertThat(waiting).as(doc.toString()).containsOnlyKeys(live.toArray(String[]::new)).allSatisfy((q, n) -> assertThat(n).isEqualTo(1));
            assertThat(doc.get("unavailableQueues")).hasSize(2);
            assertThat(doc.get("unavailableQueues").get(0).get("master").asText()).isEqualTo(address(victim));
            assertThat(doc.get("unavailableQueues").get(0).get("error").asText()).isEqualTo("connection refused");

            // The master of spillway:queues down: no list of queues, but the queues named are read.
            victim.restart();
            own.awaitHealthy(Duration.ofSeconds(30));
            setsMaster.kill();
            int s = masters.indexOf(setsMaster);
            Cli noList = Cli.run("status", "--redis", uri);
            assertThat(noList.exit()).as(noList.toString()).isEqualTo(ExitCodes.UNREACHABLE);
            assertThat(noList.oneLineError()).contains("the master of spillway:queues (" + address(setsMaster) + ")",
                    "connection refused", "name the queues with -q");
            Cli named = Cli.run("status", "--redis", uri, "-q", queues.get(2 * v), "-q", queues.get(2 * s));
            assertThat(named.exit()).as(named.toString()).isEqualTo(ExitCodes.UNREACHABLE);
            assertThat(named.out()).as(named.toString()).contains(queues.get(2 * v))
                    .contains("Queue " + queues.get(2 * s) + " not read: its Redis Cluster master " + address(setsMaster))
                    .doesNotContain("unknown to Redis");
        }
    }

    /**
     * A master and its replica SIGKILLed ({@code cluster-require-full-coverage yes}): every live node refuses with
     * CLUSTERDOWN. status says the cluster refuses commands rather than that a live master cannot be reached, and doctor,
     * whose first seed node is the dead master, reports the state and the master that does not answer as findings.
     */
    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void aClusterThatIsDownIsReportedAsDownNotAsUnreachableNodes() throws Exception {
        try (RedisClusterGroup own = RedisClusterGroup.builder().masters(3).replicasPerMaster(1).start()) {
            RedisProcess setsMaster = own.masterFor(RedisKeys.QUEUES);
            List<RedisProcess> masters = own.masters();
            RedisProcess victim = masters.stream().filter(m -> m != setsMaster).findFirst().orElseThrow();
            RedisProcess itsReplica = own.replicas().stream().filter(r -> masterPortOf(r) == victim.port()).findFirst()
                    .orElseThrow();
            String live = null;
            for (int n = 0; live == null; n++) {
                if (own.masterFor(RedisKeys.stream(QueueName.of("down-" + n))) == setsMaster) {
                    live = "down-" + n;
                }
            }
            StringBuilder uri = new StringBuilder("redis-cluster://" + address(victim));
            masters.stream().filter(m -> m != victim).forEach(m -> uri.append(',').append(address(m)));

            itsReplica.kill(); // first, so that it cannot take over
            victim.kill();
            await().atMost(Duration.ofSeconds(30)).until(() -> {
                try (var j = setsMaster.jedis()) {
                    return j.clusterInfo().contains("cluster_state:fail");
                }
            });

            Cli status = Cli.run("status", "--redis", uri.toString());
            assertThat(status.exit()).as(status.toString()).isEqualTo(ExitCodes.UNREACHABLE);
            assertThat(status.oneLineError()).contains("the Redis Cluster refuses commands (CLUSTERDOWN",
                    "the node that replied is up").doesNotContain("cannot be reached");
            Cli named = Cli.run("status", "--redis", uri.toString(), "-q", live);
            assertThat(named.exit()).as(named.toString()).isEqualTo(ExitCodes.UNREACHABLE);
            assertThat(named.out()).as(named.toString())
                    .contains("Queue " + live + " not read: the Redis Cluster refuses commands (CLUSTERDOWN The cluster is down)")
                    .doesNotContain("cannot be reached");
            Cli dlq = Cli.run("dlq", "list", "--redis", uri.toString(), "-q", live);
            assertThat(dlq.exit()).as(dlq.toString()).isEqualTo(ExitCodes.UNREACHABLE);
            assertThat(dlq.oneLineError()).contains("refuses commands: CLUSTERDOWN");

            Cli doctor = Cli.run("doctor", "--redis", uri.toString(), "--pings", "1");
            assertThat(doctor.exit()).as(doctor.toString()).isEqualTo(ExitCodes.UNREACHABLE);
            assertThat(doctor.err()).as(doctor.toString()).isEmpty();
            assertThat(doctor.out()).as(doctor.toString()).contains("cluster_state fail",
                    "master(s) that do not answer: " + address(victim) + " (slots ", "2 of 3 answer",
                    "Master " + address(victim) + " (slots ", "; does not answer)", "could not check this master",
                    "Master " + address(setsMaster) + " (slots ");
            JsonNode doc = JSON.readTree(Cli.run("doctor", "--redis", uri.toString(), "--pings", "1", "--json").out());
            assertThat(doc.get("cluster").get("state").asText()).isEqualTo("fail");
            List<String> silent = new java.util.ArrayList<>();
            doc.get("masters").forEach(m -> {
                if (m.get("version").asText().equals("?")) {
                    silent.add(m.get("master").asText());
                }
            });
            assertThat(silent).containsExactly(address(victim));
        }
    }

    private static int masterPortOf(RedisProcess replica) {
        try (var j = replica.jedis()) {
            return j.info("replication").lines().filter(l -> l.startsWith("master_port:"))
                    .mapToInt(l -> Integer.parseInt(l.substring("master_port:".length()).trim())).findFirst().orElse(-1);
        }
    }
}
