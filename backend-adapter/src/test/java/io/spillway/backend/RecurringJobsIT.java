package io.spillway.backend;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.spillway.core.HealthState;
import io.spillway.core.MetricNames;
import io.spillway.core.RedisConnection;
import io.spillway.core.internal.JobRecord;
import io.spillway.testing.RedisProcess;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

/**
 * Recurring jobs against a real redis-server: two backend instances running the same schedule put each tick in the
 * queue once, through a Redis kill too; a process started after a tick catches it up without doubling it.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class RecurringJobsIT {
    private static final Duration TICK = Duration.ofMillis(200);

    @TempDir
    Path dir;
    RedisProcess redis;

    @BeforeEach
    void startRedis() {
        redis = RedisProcess.builder().start();
    }

    @AfterEach
    void stopRedis() {
        redis.close();
    }

    private JobProducer producer(String journal) {
        return JobProducer.builder().redis(redis.uri()).journalDir(dir.resolve(journal))
                .reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(200)).build();
    }

    private static RecurringJobs beat(JobProducer p, String queue) {
        return RecurringJobs.builder(p)
                .add("beat", Schedule.every(TICK), queue, "heartbeat", "hello".getBytes(StandardCharsets.UTF_8),
                        EnqueueOptions.builder().header("source", "RecurringJobsIT").build())
                .build();
    }

    private List<JobRecord> jobs(String queue) {
        try (Jedis j = redis.jedis()) {
            return RedisJobs.stream(j, queue);
        }
    }

    private long streamLength(String queue) {
        try (Jedis j = redis.jedis()) {
            return j.xlen("spillway:{" + queue + "}:stream");
        }
    }

    /**
     * Every job is one tick: its id is beat@tick, the tick header says the same, no id twice; and from the first tick
     * to the last, a tick missing from the queue is one that every instance counted missed (its thread was held up past
     * it: a loaded machine). Returns the ticks.
     */
    private static List<Instant> assertEachTickOnce(List<JobRecord> jobs, JobProducer... instances) {
        List<Instant> ticks = new ArrayList<>();
        Set<String> ids = new HashSet<>();
        for (JobRecord r : jobs) {
            assertThat(ids.add(r.id().value())).as("job %s twice", r.id().value()).isTrue();
            assertThat(r.id().value()).startsWith("beat@");
            Instant tick = Instant.parse(r.id().value().substring("beat@".length()));
            assertThat(r.headers()).containsEntry(RecurringJobs.TICK_HEADER, tick.toString())
                    .containsEntry("source", "RecurringJobsIT");
            assertThat(r.type()).isEqualTo("heartbeat");
            assertThat(new String(r.payload(), StandardCharsets.UTF_8)).isEqualTo("hello");
            ticks.add(tick);
        }
        List<Instant> sorted = ticks.stream().sorted().toList();
        long span = Duration.between(sorted.get(0), sorted.get(sorted.size() - 1)).toMillis() / TICK.toMillis() + 1;
        long absent = span - sorted.size();
        for (JobProducer p : instances) {
            assertThat(p.metrics().meter(MetricNames.RECURRING_MISSED).getCount())
                    .as("%d ticks absent from the queue between %s and %s: each instance must have missed them", absent,
                            sorted.get(0), sorted.get(sorted.size() - 1))
                    .isGreaterThanOrEqualTo(absent);
        }
        return sorted;
    }

    /** One instance's accounting: no tick twice, and from the first tick in the queue to the last, each there or counted missed. */
    private void assertEachTickOnceOrMissed(String queue, String name, Duration tick, JobProducer p) {
        List<Instant> ticks = jobs(queue).stream()
                .map(j -> Instant.parse(j.id().value().substring((name + "@").length()))).sorted().toList();
        assertThat(new HashSet<>(ticks)).as("no tick twice").hasSize(ticks.size());
        long span = Duration.between(ticks.get(0), ticks.get(ticks.size() - 1)).toMillis() / tick.toMillis() + 1;
        assertThat(ticks.size() + p.metrics().meter(MetricNames.RECURRING_MISSED).getCount())
                .as("each tick from the first to the last enqueued or counted missed").isEqualTo(span);
    }

    private static long duplicates(JobProducer p) {
        return p.metrics().meter(MetricNames.DUPLICATES).getCount();
    }

    @Test
    void twoInstancesOnTheSameScheduleEnqueueEachTickOnce() {
        String queue = "recurring-two";
        try (JobProducer a = producer("a"); JobProducer b = producer("b")) {
            try (RecurringJobs ra = beat(a, queue); RecurringJobs rb = beat(b, queue)) {
                await().atMost(Duration.ofSeconds(30)).until(() -> streamLength(queue) >= 12);
            }
            List<Instant> ticks = assertEachTickOnce(jobs(queue), a, b);
            assertThat(ticks).hasSizeGreaterThanOrEqualTo(12);
            // Both instances enqueued the ticks; the queue has each once because the second enqueue of an id is a
            // duplicate. Without the dedupe this test fails above (an id twice).
            assertThat(duplicates(a) + duplicates(b)).isGreaterThanOrEqualTo(ticks.size() / 2);
        }
    }

    @Test
    void ticksWhileRedisIsKilledAreSpooledAndReachTheQueueOnceItIsBack() {
        String queue = "recurring-outage";
        try (JobProducer a = producer("a"); JobProducer b = producer("b")) {
            try (RecurringJobs ra = beat(a, queue); RecurringJobs rb = beat(b, queue)) {
                await().atMost(Duration.ofSeconds(30)).until(() -> streamLength(queue) >= 4);
                redis.kill();
                long spooledBefore = a.metrics().meter(MetricNames.SPOOLED).getCount();
                // Ticks spooled while Redis is dead (a 200 ms tick: about a second).
                await().atMost(Duration.ofSeconds(10))
                        .until(() -> a.metrics().meter(MetricNames.SPOOLED).getCount() >= spooledBefore + 5);
                redis.restart();
                await().atMost(Duration.ofSeconds(30)).until(() -> a.state() == HealthState.CONNECTED
                        && b.state() == HealthState.CONNECTED && a.journalBacklog() == 0 && b.journalBacklog() == 0);
                long back = streamLength(queue);
                await().atMost(Duration.ofSeconds(30)).until(() -> streamLength(queue) >= back + 4);
            }
            // From the first tick to the last, the ticks of the outage are there, each once.
            List<Instant> ticks = assertEachTickOnce(jobs(queue), a, b);
            assertThat(ticks).hasSizeGreaterThanOrEqualTo(4 + 5 + 4);
        }
    }

    /**
     * Redis frozen: the first enqueue waits out its socket timeout (200 ms) while ticks of 50 ms pass. The thread then
     * enqueues the latest due tick, not a backlog, and counts the others as missed: from the first tick in the queue to
     * the last, each is either in the queue once or counted missed.
     */
    @Test
    void ticksThatPassWhileAnEnqueueWaitsAreCountedMissedAndOnlyTheLatestIsEnqueued() {
        String queue = "recurring-missed";
        Duration tick = Duration.ofMillis(50);
        try (JobProducer p = producer("p")) {
            try (RecurringJobs r = RecurringJobs.builder(p).add("fast", Schedule.every(tick), queue, "t", new byte[0]).build()) {
                await().atMost(Duration.ofSeconds(30)).until(() -> streamLength(queue) >= 3);
                redis.hang();
                try {
                    await().atMost(Duration.ofSeconds(10))
                            .until(() -> p.metrics().meter(MetricNames.RECURRING_MISSED).getCount() > 0);
                } finally {
                    redis.resume();
                }
                await().atMost(Duration.ofSeconds(30))
                        .until(() -> p.state() == HealthState.CONNECTED && p.journalBacklog() == 0);
                long back = streamLength(queue);
                await().atMost(Duration.ofSeconds(30)).until(() -> streamLength(queue) >= back + 3);
            }
            assertThat(p.metrics().meter(MetricNames.RECURRING_MISSED).getCount()).isPositive();
            assertEachTickOnceOrMissed(queue, "fast", tick, p);
        }
    }

    /**
     * Redis killed and a journal that holds two ticks: the next ticks are refused (JournalFullException), tried again
     * every second within catchUp, then skipped and counted missed; the thread lives on and, Redis back, enqueues again.
     * From the first tick in the queue to the last, each is there once or counted missed.
     */
    @Test
    void ticksTheProducerRefusesAreTriedAgainWithinCatchUpThenCountedMissed() throws Exception {
        String queue = "recurring-refused";
        try (JobProducer p = JobProducer.builder().redis(redis.uri()).journalDir(dir.resolve("small"))
                .reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(200))
                .maxPayloadBytes(600).journalMaxBytes(1_500).build()) {
            byte[] payload = new byte[500];
            try (RecurringJobs r = RecurringJobs.builder(p).catchUp(Duration.ofMillis(700))
                    .add("beat", Schedule.every(TICK), queue, "heartbeat", payload).build()) {
                await().atMost(Duration.ofSeconds(30)).until(() -> streamLength(queue) >= 2);
                redis.kill();
                await().atMost(Duration.ofSeconds(30))
                        .until(() -> p.metrics().meter(MetricNames.RECURRING_MISSED).getCount() >= 2);
                assertThat(p.metrics().meter(MetricNames.REJECTED).getCount()).as("ticks refused: journal full")
                        .isPositive();
                redis.restart();
                await().atMost(Duration.ofSeconds(30))
                        .until(() -> p.state() == HealthState.CONNECTED && p.journalBacklog() == 0);
                long back = streamLength(queue);
                await().atMost(Duration.ofSeconds(30)).until(() -> streamLength(queue) >= back + 2);
            }
            assertEachTickOnceOrMissed(queue, "beat", TICK, p);
        }
    }

    /**
     * catchUp 0: the thread wakes at each tick a little late, so a catchUp compared as it is found every tick too late
     * and enqueued none (a review's finding: each tick "found PT0.0001S late, more than catchUp PT0S: skipped").
     */
    @Test
    void aZeroCatchUpStillEnqueuesTheTicksTheThreadWakesFor() {
        String queue = "recurring-zero-catch-up";
        try (JobProducer p = producer("p")) {
            try (RecurringJobs r = RecurringJobs.builder(p).catchUp(Duration.ZERO)
                    .add("beat", Schedule.every(TICK), queue, "heartbeat", new byte[0]).build()) {
                await().atMost(Duration.ofSeconds(10)).until(() -> streamLength(queue) >= 3);
            }
            assertEachTickOnceOrMissed(queue, "beat", TICK, p);
        }
    }

    /**
     * The most headers a recurring job may have, and a payload that with them and the tick header makes a journal
     * record of nearly 16 MiB: its ticks are enqueued. One more header, or a payload whose tick would not fit one
     * journal record, is refused by add(), not by every tick.
     */
    @Test
    void aRecurringJobAtItsLimitsEnqueuesItsTicksAndOnePastThemIsRefusedWhenAdded() {
        String queue = "recurring-limits";
        RedisConnection c = RedisConnection.builder(redis.uri()).socketTimeout(Duration.ofSeconds(5)).build();
        try (JobProducer p = JobProducer.builder().redis(c).journalDir(dir.resolve("p"))
                .maxPayloadBytes(JobProducer.Builder.MAX_PAYLOAD_BYTES).build()) {
            EnqueueOptions.Builder o = EnqueueOptions.builder();
            for (int i = 0; i < RecurringJobs.MAX_HEADERS; i++) {
                o.header("h" + i, i < 16 ? "v".repeat(EnqueueOptions.MAX_HEADER_BYTES) : "v");
            }
            EnqueueOptions headers = o.build();
            byte[] big = new byte[(15 << 20) - 100_000];
            assertThatThrownBy(() -> RecurringJobs.builder(p).add("big", Schedule.every(TICK), queue, "t",
                    new byte[JobProducer.Builder.MAX_PAYLOAD_BYTES], headers)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("journal record of at most 16777216 bytes").hasMessageContaining("64 headers");
            try (RecurringJobs r = RecurringJobs.builder(p).add("big", Schedule.every(TICK), queue, "t", big, headers).build()) {
                await().atMost(Duration.ofSeconds(30)).until(() -> streamLength(queue) >= 2);
            }
            JobRecord job = jobs(queue).get(0);
            assertThat(job.headers()).hasSize(EnqueueOptions.MAX_HEADERS)
                    .containsEntry(RecurringJobs.TICK_HEADER, job.id().value().substring("big@".length()));
            assertThat(job.payload()).hasSize(big.length);
        }
    }

    @Test
    void aProcessStartedAfterATickEnqueuesItWithinCatchUpAndOnlyOnce() {
        String queue = "recurring-catch-up";
        Schedule hourly = Schedule.every(Duration.ofHours(1));
        Instant tick = hourly.lastTickAtOrBefore(Instant.now()).orElseThrow();
        try (JobProducer p = producer("p")) {
            for (int start = 0; start < 2; start++) {
                long before = p.metrics().meter(MetricNames.RECURRING_ENQUEUED).getCount();
                try (RecurringJobs r = RecurringJobs.builder(p).catchUp(Duration.ofHours(1))
                        .add("hourly", hourly, queue, "report", new byte[0]).build()) {
                    assertThat(r.names()).containsExactly("hourly");
                    assertThat(r.nextTick("hourly")).contains(tick.plus(Duration.ofHours(1)));
                    await().atMost(Duration.ofSeconds(10))
                            .until(() -> p.metrics().meter(MetricNames.RECURRING_ENQUEUED).getCount() == before + 1);
                }
            }
            List<JobRecord> jobs = jobs(queue);
            assertThat(jobs).extracting(j -> j.id().value()).as("the second start's enqueue was a duplicate")
                    .containsExactly("hourly@" + tick);
            assertThat(duplicates(p)).isEqualTo(1);
        }
    }

    @Test
    void badRecurringJobsAreRejectedWhenAddedNamingWhatIsWrong() {
        try (JobProducer p = producer("p")) {
            Schedule s = Schedule.every(Duration.ofMinutes(1));
            byte[] none = new byte[0];
            RecurringJobs.Builder b = RecurringJobs.builder(p);
            assertThatThrownBy(() -> b.add("a@b", s, "q", "t", none)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("name must match").hasMessageContaining("'a@b'");
            assertThatThrownBy(() -> b.add(null, s, "q", "t", none)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("name");
            assertThatThrownBy(() -> b.add("n", null, "q", "t", none)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("schedule must not be null");
            assertThatThrownBy(() -> b.add("n", s, "bad queue", "t", none)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("queue");
            assertThatThrownBy(() -> b.add("n", s, "q", " ", none)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("type must not be blank");
            assertThatThrownBy(() -> b.add("n", s, "q", "t", null)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("payload must not be null");
            assertThatThrownBy(() -> b.add("n", s, "q", "t", new byte[p.config().maxPayloadBytes() + 1]))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("payload must be at most");
            assertThatThrownBy(() -> b.add("n", s, "q", "t", none, EnqueueOptions.withJobId("x")))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("job id");
            assertThatThrownBy(() -> b.add("n", s, "q", "t", none, EnqueueOptions.builder().delay(Duration.ofSeconds(1)).build()))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("run-at");
            // Options whose ticks could never be enqueued (a review found 64 headers taken, and each tick then refused
            // for ever, "at most 64 headers per job"): the tick header is the recurring job's own.
            EnqueueOptions.Builder most = EnqueueOptions.builder();
            for (int i = 0; i < RecurringJobs.MAX_HEADERS; i++) {
                most.header("h" + i, "v");
            }
            EnqueueOptions tooMany = EnqueueOptions.builder().headers(most.build().headers()).header("one-more", "v").build();
            assertThatThrownBy(() -> b.add("n", s, "q", "t", none, tooMany)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("options must set at most 63 headers (each tick's job also carries spillway-tick), but set 64");
            assertThatThrownBy(() -> b.add("n", s, "q", "t", none,
                    EnqueueOptions.builder().header(RecurringJobs.TICK_HEADER, "mine").build()))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("spillway-tick")
                    .hasMessageContaining("'mine'");
            assertThat(RecurringJobs.builder(p).add("n", s, "q", "t", none, most.build())).as("63 headers").isNotNull();
            assertThatThrownBy(() -> b.catchUp(Duration.ofSeconds(-1))).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("catchUp");
            assertThatThrownBy(() -> b.catchUp(Duration.ofDays(31))).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("catchUp");
            assertThatThrownBy(b::build).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("no recurring job added");
            b.add("n", s, "q", "t", none);
            assertThatThrownBy(() -> b.add("n", s, "q2", "t", none)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("'n' is already");
            assertThatThrownBy(() -> RecurringJobs.builder(null)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("producer must not be null");
            try (RecurringJobs r = b.build()) {
                assertThatThrownBy(() -> r.nextTick("other")).isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining("no recurring job named 'other'");
            }
            p.close();
            assertThatThrownBy(b::build).isInstanceOf(IllegalStateException.class).hasMessage("producer is closed");
        }
    }
}
