package io.spillway.backend;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.codahale.metrics.MetricRegistry;
import io.spillway.core.HealthState;
import io.spillway.core.JobState;
import io.spillway.core.JobStatus;
import io.spillway.core.JournalFullException;
import io.spillway.core.JournalLockedException;
import io.spillway.core.MetricNames;
import io.spillway.core.QueueName;
import io.spillway.core.RedisConnection;
import io.spillway.core.internal.JobCodec;
import io.spillway.testing.ChaosProxy;
import io.spillway.testing.LogCapture;
import io.spillway.testing.RedisProcess;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.Protocol;

@Timeout(value = 120, unit = TimeUnit.SECONDS)
class JobProducerIT {
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

    private JobProducer producer(URI uri) {
        return JobProducer.builder().redis(uri).journalDir(dir.resolve("journal"))
                .reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(200)).build();
    }

    /** Starts a thread that SIGKILLs Redis as soon as {@code stream} holds {@code entries} entries. */
    private Thread killRedisOnceStreamHolds(String stream, long entries) {
        Thread killer = new Thread(() -> {
            try (Jedis j = redis.jedis()) {
                while (!j.exists(stream) || j.xlen(stream) < entries) {
                    java.util.concurrent.locks.LockSupport.parkNanos(200_000); // poll, without flooding Redis
                }
            } catch (RuntimeException e) {
                // killed below anyway
            }
            redis.kill();
        });
        killer.start();
        return killer;
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /**
     * close() while 8 threads enqueue, with Redis up and then down: each call returns a receipt or throws
     * IllegalStateException ("producer is closed", as the javadoc says), and every receipt's job is in Redis or, spooled,
     * replayed by the next producer on the journal. A review saw JournalException ("Journal … is closed") from calls
     * that raced close().
     */
    @Test
    @org.junit.jupiter.api.Tag("first-pass-only") // client-side: the same whatever the Redis version
    void aCloseThatRacesEnqueuesGivesEachCallerAReceiptOrIllegalStateAndLosesNothing() throws Exception {
        for (boolean up : new boolean[] {true, false}) {
            if (!up) {
                redis.kill();
            }
            JobProducer p = producer(redis.uri());
            java.util.Set<String> receipts = java.util.concurrent.ConcurrentHashMap.newKeySet();
            java.util.Queue<Throwable> other = new java.util.concurrent.ConcurrentLinkedQueue<>();
            java.util.concurrent.atomic.AtomicInteger refused = new java.util.concurrent.atomic.AtomicInteger();
            java.util.concurrent.CountDownLatch running = new java.util.concurrent.CountDownLatch(8);
            List<Thread> threads = new java.util.ArrayList<>();
            for (int t = 0; t < 8; t++) {
                Thread th = new Thread(() -> {
                    running.countDown();
                    while (true) {
                        try {
                            receipts.add(p.enqueue("race", "t", bytes("x")).jobId());
                        } catch (IllegalStateException closed) {
                            refused.incrementAndGet();
                            return;
                        } catch (Throwable e) {
                            other.add(e);
                            return;
                        }
                    }
                });
                th.start();
                threads.add(th);
            }
            running.await();
            Thread.sleep(20); // not longer: spooling runs at hundreds of thousands a second, all replayed below
            p.close();
            for (Thread th : threads) {
                th.join(10_000);
            }
            assertThat(other).as("Redis " + (up ? "up" : "down") + ": only receipts and IllegalStateException").isEmpty();
            assertThat(refused.get()).isEqualTo(8);
            if (!up) {
                redis.restart();
            }
            try (JobProducer next = producer(redis.uri()); Jedis j = redis.jedis()) {
                await().atMost(Duration.ofSeconds(20)).until(() -> next.journalBacklog() == 0
                        && next.state() == HealthState.CONNECTED);
                assertThat(receipts).as("every receipt's job in Redis").isSubsetOf(new java.util.HashSet<>(RedisJobs.ids(j, "race")));
            }
            try (Jedis j = redis.jedis()) {
                j.flushAll();
            }
        }
    }

    @Test
    void enqueueGoesStraightToRedisAndIsIdempotentById() {
        try (JobProducer p = producer(redis.uri()); Jedis j = redis.jedis()) {
            assertThat(p.state()).isEqualTo(HealthState.CONNECTED);
            Receipt r = p.enqueue("images", "render", bytes("cat.png"));
            assertThat(r.spooled()).isFalse();
            assertThat(r.duplicate()).isFalse();
            assertThat(r.jobId()).hasSize(26);
            Receipt again = p.enqueue("images", "render", bytes("x"), EnqueueOptions.withJobId("order-1"));
            Receipt dup = p.enqueue("images", "render", bytes("x"), EnqueueOptions.withJobId("order-1"));
            assertThat(again.duplicate()).isFalse();
            assertThat(dup.duplicate()).isTrue();
            assertThat(RedisJobs.ids(j, "images")).containsExactly(r.jobId(), "order-1");
            assertThat(p.status("images", "order-1").state()).isEqualTo(JobState.QUEUED);
            assertThat(p.status("images", "nope").state()).isEqualTo(JobState.UNKNOWN);
            assertThat(j.smembers("spillway:queues")).contains("images");
            assertThat(j.ttl("spillway:{images}:job:order-1")).as("no expiry by default").isEqualTo(-1);
        }
        try (JobProducer p = JobProducer.builder().redis(redis.uri()).journalDir(dir.resolve("j2"))
                .dedupeWindow(Duration.ofHours(1)).build(); Jedis j = redis.jedis()) {
            p.enqueue("images", "render", bytes("x"), EnqueueOptions.withJobId("order-2"));
            assertThat(j.ttl("spillway:{images}:job:order-2")).isBetween(3_500L, 3_600L);
        }
        assertThatThrownBy(() -> JobProducer.builder().dedupeWindow(Duration.ofMillis(10)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("PT0.01S");
    }

    @Test
    void delayedJobsGoToTheDelayedSetWithHeaders() {
        try (JobProducer p = producer(redis.uri()); Jedis j = redis.jedis()) {
            Receipt r = p.enqueue("mail", "welcome", bytes("u1"), EnqueueOptions.builder()
                    .header("trace", "t-1").delay(Duration.ofMinutes(5)).build());
            assertThat(j.zcard("spillway:{mail}:delayed")).isEqualTo(1);
            assertThat(j.exists("spillway:{mail}:stream")).isFalse();
            assertThat(p.status(r).state()).isEqualTo(JobState.DELAYED);
        }
    }

    @Test
    void badInputIsRejectedWithTheFieldNamed() {
        try (JobProducer p = JobProducer.builder().redis(redis.uri()).journalDir(dir.resolve("j")).maxPayloadBytes(10).build()) {
            assertThatThrownBy(() -> p.enqueue(null, "t", bytes("x"))).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("queue must not be null");
            assertThatThrownBy(() -> p.enqueue(" ", "t", bytes("x"))).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("queue must not be blank, but was ' '");
            assertThatThrownBy(() -> p.status(" ", "x")).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("queue must not be blank, but was ' '");
            assertThatThrownBy(() -> p.enqueue("q", null, bytes("x"))).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("type must not be null");
            assertThatThrownBy(() -> p.enqueue("a{b}", "t", bytes("x"))).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("a{b}");
            assertThatThrownBy(() -> p.enqueue("q", "", bytes("x"))).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("type");
            assertThatThrownBy(() -> p.enqueue("q", "t", null)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("payload");
            assertThatThrownBy(() -> p.enqueue("q", "t", new byte[11])).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("11");
            assertThatThrownBy(() -> p.enqueue("q", "t", bytes("x"), EnqueueOptions.withJobId("has space")))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("has space");
            assertThatThrownBy(() -> p.enqueue("q", "render\nimages", bytes("x"))).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("type").hasMessageContaining("render?images").hasMessageContaining("U+000A");
            // In a batch, the message says which job is bad.
            assertThatThrownBy(() -> p.enqueueAll(List.of(new NewJob("q", "t", bytes("x")), new NewJob("bad queue", "t", bytes("x")))))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("job 2 of 2: queue must match [A-Za-z0-9._:-]{1,100}, but was 'bad queue'");
            assertThatThrownBy(() -> p.enqueueAll("q", "t", java.util.Arrays.asList(bytes("x"), bytes("y"), null)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessage("job 3 of 3: payload must not be null");
            assertThat(p.metrics().meter(MetricNames.REJECTED).getCount()).isEqualTo(8 + 5);
            assertThatThrownBy(() -> p.status((Receipt) null)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("receipt");
        }
        assertThatThrownBy(() -> JobProducer.builder().redis(URI.create("http://x")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("http://x");
        assertThatThrownBy(() -> JobProducer.builder().redis(redis.uri()).build())
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("journalDir");
    }

    @Test
    @org.junit.jupiter.api.Tag("first-pass-only") // client-side: the same whatever the Redis version
    void twoOpenProducersSharingARegistryAreWarnedOf() {
        MetricRegistry shared = new MetricRegistry();
        String warning = "already holds the metrics of another open producer";
        try (LogCapture logs = new LogCapture()) {
            try (JobProducer a = JobProducer.builder().redis(redis.uri()).journalDir(dir.resolve("a")).metricRegistry(shared).build()) {
                assertThat(logs.lines(warning)).isEmpty();
                try (JobProducer b = JobProducer.builder().redis(redis.uri()).journalDir(dir.resolve("b")).metricRegistry(shared).build()) {
                    assertThat(logs.lines(warning)).singleElement().asString().contains(dir.resolve("b").toString());
                }
            }
            // One after the other is fine: the new producer's gauges replace the closed one's.
            try (JobProducer c = JobProducer.builder().redis(redis.uri()).journalDir(dir.resolve("c")).metricRegistry(shared).build()) {
                assertThat(logs.lines(warning)).hasSize(1);
                assertThat(c.metrics().getGauges().get(MetricNames.CONNECTION_STATE + ".producer").getValue()).isEqualTo(0);
            }
        }
    }

    @Test
    void aSecondProducerOnTheSameJournalIsRefused() {
        try (JobProducer p = producer(redis.uri())) {
            assertThatThrownBy(() -> producer(redis.uri())).isInstanceOf(JournalLockedException.class)
                    .hasMessageContaining("journal");
        }
    }

    @Test
    @org.junit.jupiter.api.Tag("first-pass-only") // client-side: the same whatever the Redis version
    void aProducerBuiltWhileRedisRefusesStartsAtOnceAndSaysWhereItsJobsGo() {
        redis.kill();
        // Long timeouts: build() must not wait them out when Redis refuses (it used to wait connect + socket timeout).
        RedisConnection c = RedisConnection.builder(redis.uri()).connectTimeout(Duration.ofSeconds(5))
                .socketTimeout(Duration.ofSeconds(10)).build();
        try (LogCapture logs = new LogCapture()) {
            long t = System.nanoTime();
            try (JobProducer p = JobProducer.builder().redis(c).journalDir(dir.resolve("down")).build()) {
                long builtMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t);
                assertThat(builtMs).as("build() with Redis refusing").isLessThan(5_000);
                assertThat(p.state()).isEqualTo(HealthState.DISCONNECTED);
                assertThat(logs.lines("Not connected to Redis at start")).singleElement().asString()
                        .contains(c.redacted(), dir.resolve("down").toString());
                assertThat(logs.lines("Reconnect attempt 1 failed")).singleElement().asString()
                        .contains("connection refused (producer, " + c.redacted() + ")");
                assertThat(p.enqueue("q", "t", bytes("x")).spooled()).isTrue();
            }
        }
    }

    @Test
    void redisDownSpoolsAtOnceThenReplaysInOrderWhenBack() {
        List<String> accepted = new ArrayList<>();
        try (JobProducer p = producer(redis.uri()); Jedis j0 = redis.jedis()) {
            accepted.add(p.enqueue("q", "t", bytes("0")).jobId());
            redis.kill();
            long worst = 0;
            for (int i = 1; i <= 2_000; i++) {
                long t = System.nanoTime();
                Receipt r = p.enqueue("q", "t", bytes(Integer.toString(i)));
                worst = Math.max(worst, System.nanoTime() - t);
                accepted.add(r.jobId());
                assertThat(r.spooled()).isTrue();
            }
            assertThat(p.state()).isEqualTo(HealthState.DISCONNECTED);
            assertThat(p.journalBacklog()).isEqualTo(2_000);
            assertThat(p.status("q", accepted.get(5)).state()).isEqualTo(JobState.SPOOLED);
            // Refused connections spool at once (microseconds; see docs/benchmarks.md); the bound only
            // catches a regression to blocking, with room for GC pauses and a busy 2-core box (speed
            // goals live in the benchmarks, not here).
            assertThat(TimeUnit.NANOSECONDS.toMillis(worst)).isLessThan(RedisConnection.DEFAULT_SOCKET_TIMEOUT_MS + 1_000);
            redis.restart();
            await().atMost(Duration.ofSeconds(20)).until(() -> p.state() == HealthState.CONNECTED && p.journalBacklog() == 0);
            Receipt after = p.enqueue("q", "t", bytes("after"));
            assertThat(after.spooled()).isFalse();
            accepted.add(after.jobId());
            try (Jedis j = redis.jedis()) {
                assertThat(RedisJobs.ids(j, "q")).containsExactlyElementsOf(accepted);
            }
            assertThat(p.metrics().meter(MetricNames.REPLAYED).getCount()).isEqualTo(2_000);
        }
    }

    @Test
    void hungRedisCostsOneSocketTimeoutThenSpools() throws Exception {
        // A socket timeout of 1 s, not the default 200 ms: a margin that a loaded 2-core box needs (GC, scheduling) is then
        // small beside it, so the bound below tells one timeout from two (a retry after a timeout) or from the whole hang.
        long deadline = 1_000;
        RedisConnection c = RedisConnection.builder(redis.uri()).socketTimeout(Duration.ofMillis(deadline)).build();
        try (JobProducer p = JobProducer.builder().redis(c).journalDir(dir.resolve("journal"))
                .reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(200)).build()) {
            List<String> accepted = new ArrayList<>();
            java.util.concurrent.atomic.AtomicBoolean faultOver = new java.util.concurrent.atomic.AtomicBoolean();
            Thread fault = new Thread(() -> {
                await().atMost(Duration.ofSeconds(30)).until(() -> p.metrics().meter(MetricNames.ACCEPTED).getCount() >= 1_000);
                redis.hang();
                // The fault itself: Redis stays frozen for 3 s while the load goes on.
                await().pollDelay(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(4)).until(() -> true);
                redis.resume();
                faultOver.set(true);
            });
            fault.start();
            long worst = 0;
            int afterFault = 0;
            while (afterFault < 1_000) {
                long t = System.nanoTime();
                accepted.add(p.enqueue("h", "t", bytes(Integer.toString(accepted.size()))).jobId());
                worst = Math.max(worst, System.nanoTime() - t);
                if (faultOver.get()) {
                    afterFault++;
                }
                if (accepted.size() % 5 == 0) {
                    java.util.concurrent.locks.LockSupport.parkNanos(1_000_000); // a steady load (~5,000/s), not a flood
                }
            }
            fault.join();
            System.out.printf("hungRedisCostsOneSocketTimeoutThenSpools: worst enqueue %d ms (socket timeout %d ms)%n",
                    TimeUnit.NANOSECONDS.toMillis(worst), deadline);
            // A margin for GC pauses and a busy 2-core box; two timeouts would be 2 s, an unbounded wait the whole 3 s hang.
            assertThat(TimeUnit.NANOSECONDS.toMillis(worst)).as("worst enqueue ms vs socket timeout %d", deadline)
                    .isGreaterThanOrEqualTo(deadline - 50).isLessThan(deadline + 500);
            assertThat(p.metrics().meter(MetricNames.SPOOLED).getCount()).isPositive();
            await().atMost(Duration.ofSeconds(20)).until(() -> p.state() == HealthState.CONNECTED && p.journalBacklog() == 0);
            try (Jedis j = redis.jedis()) {
                assertThat(RedisJobs.ids(j, "h")).containsExactlyElementsOf(accepted);
            }
        }
    }

    @Test
    void outOfMemorySpoolsAndReplaysOnceMemoryIsFreed() {
        try (JobProducer p = producer(redis.uri()); Jedis j = redis.jedis()) {
            j.set("ballast".getBytes(), new byte[3 << 20]);
            redis.configSet("maxmemory", "2mb");
            List<String> accepted = new ArrayList<>();
            for (int i = 0; i < 500; i++) {
                accepted.add(p.enqueue("oom", "t", new byte[100]).jobId());
            }
            assertThat(p.journalBacklog()).isGreaterThan(0);
            assertThat(p.metrics().meter(MetricNames.SPOOLED).getCount()).isEqualTo(500);
            redis.configSet("maxmemory", "0");
            await().atMost(Duration.ofSeconds(20)).until(() -> p.state() == HealthState.CONNECTED && p.journalBacklog() == 0);
            assertThat(RedisJobs.ids(j, "oom")).containsExactlyElementsOf(accepted);
        }
    }

    /**
     * Guarantee 4's second case: the pooled connections die and the fresh one the quick retry opens reaches something
     * that accepts and never answers (a server shutting down, a half-dead proxy). The call still waits one socket
     * timeout, not one per attempt, then spools.
     */
    @Test
    @org.junit.jupiter.api.Tag("first-pass-only") // client-side: the same whatever the Redis version
    void aFreshConnectionThatNeverAnswersCostsOneSocketTimeoutThenSpools() {
        long deadline = 1_000;
        try (ChaosProxy proxy = ChaosProxy.to(redis.port());
             JobProducer p = JobProducer.builder()
                     .redis(RedisConnection.builder(proxy.uri()).socketTimeout(Duration.ofMillis(deadline)).build())
                     .journalDir(dir.resolve("journal")).reconnectBackoff(Duration.ofMillis(50), Duration.ofMillis(200)).build();
             Jedis j = redis.jedis()) {
            assertThat(p.enqueue("f", "t", bytes("before")).spooled()).isFalse();
            long opened = proxy.acceptedConnections();
            proxy.cut();       // the pooled connections die...
            proxy.blackhole(); // ...and new ones are accepted but never answered
            long t = System.nanoTime();
            Receipt r = p.enqueue("f", "t", bytes("during"));
            long waited = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t);
            System.out.printf("aFreshConnectionThatNeverAnswers…: the enqueue waited %d ms (socket timeout %d ms)%n", waited,
                    deadline);
            assertThat(r.spooled()).isTrue();
            assertThat(proxy.acceptedConnections()).as("the retry opened a fresh connection").isGreaterThan(opened);
            // At least the timeout (the fresh connection was waited on), and one timeout, not two, plus a margin.
            assertThat(waited).isGreaterThanOrEqualTo(deadline - 50).isLessThan(deadline + 500);
            proxy.pass();
            await().atMost(Duration.ofSeconds(20)).until(() -> p.state() == HealthState.CONNECTED && p.journalBacklog() == 0);
            assertThat(RedisJobs.stream(j, "f")).extracting(rec -> new String(rec.payload(), StandardCharsets.UTF_8))
                    .containsExactly("before", "during");
        }
    }

    /**
     * Guarantee 4's connect-timeout case: Redis dies and its port is taken by a listener whose accept queue is full (the
     * kernel drops new connection requests: a connect hangs). The call waits the retry's connect timeout, not more, then
     * spools.
     */
    @Test
    @org.junit.jupiter.api.Tag("first-pass-only") // client-side: the same whatever the Redis version
    void aFreshConnectionThatCannotBeOpenedCostsOneConnectTimeoutThenSpools() throws Exception {
        long connectTimeout = 1_000;
        RedisConnection c = RedisConnection.builder(redis.uri()).connectTimeout(Duration.ofMillis(connectTimeout))
                .socketTimeout(Duration.ofMillis(200)).build();
        List<java.net.Socket> queued = new ArrayList<>();
        try (JobProducer p = JobProducer.builder().redis(c).journalDir(dir.resolve("journal"))
                .reconnectBackoff(Duration.ofMillis(50), Duration.ofMillis(200)).build()) {
            assertThat(p.enqueue("c", "t", bytes("before")).spooled()).isFalse();
            redis.kill();
            // Redis's port, listening with a backlog of 1 and never accepting: once two connections wait in its queue,
            // Linux drops further SYNs, and a connect waits until its timeout.
            try (java.net.ServerSocket full = new java.net.ServerSocket()) {
                full.setReuseAddress(true);
                full.bind(new java.net.InetSocketAddress("127.0.0.1", redis.port()), 1);
                for (int i = 0; i < 2; i++) {
                    java.net.Socket s = new java.net.Socket();
                    s.connect(full.getLocalSocketAddress(), 1_000);
                    queued.add(s);
                }
                try (java.net.Socket probe = new java.net.Socket()) {
                    assertThatThrownBy(() -> probe.connect(full.getLocalSocketAddress(), 300))
                            .as("the accept queue is full: a connect hangs").isInstanceOf(java.net.SocketTimeoutException.class);
                }
                long t = System.nanoTime();
                Receipt r = p.enqueue("c", "t", bytes("during"));
                long waited = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t);
                System.out.printf("aFreshConnectionThatCannotBeOpened…: the enqueue waited %d ms (connect timeout %d ms)%n",
                        waited, connectTimeout);
                assertThat(r.spooled()).isTrue();
                // At least the connect timeout (the retry's connection was waited on), at most connect + socket timeout
                // plus a margin.
                assertThat(waited).isGreaterThanOrEqualTo(connectTimeout - 50).isLessThan(connectTimeout + 200 + 500);
            } finally {
                for (java.net.Socket s : queued) {
                    s.close();
                }
            }
            redis.restart();
            await().atMost(Duration.ofSeconds(20)).until(() -> p.state() == HealthState.CONNECTED && p.journalBacklog() == 0);
            try (Jedis j = redis.jedis()) {
                assertThat(RedisJobs.stream(j, "c")).extracting(rec -> new String(rec.payload(), StandardCharsets.UTF_8))
                        .containsExactly("before", "during");
            }
        }
    }

    @Test
    void aWriteThatTimedOutButSucceededIsReplayedWithoutDuplicate() {
        try (ChaosProxy proxy = ChaosProxy.to(redis.port());
             JobProducer p = JobProducer.builder()
                     .redis(RedisConnection.builder(proxy.uri()).socketTimeout(Duration.ofMillis(150)).build())
                     .journalDir(dir.resolve("journal")).reconnectBackoff(Duration.ofMillis(50), Duration.ofMillis(200)).build();
             Jedis j = redis.jedis()) {
            assertThat(p.state()).isEqualTo(HealthState.CONNECTED);
            Receipt before = p.enqueue("t", "t", bytes("on time"));
            proxy.mute(); // Redis runs the enqueue, its reply never arrives: the client times out
            Receipt r = p.enqueue("t", "t", bytes("late"));
            assertThat(r.spooled()).isTrue();
            await().atMost(Duration.ofSeconds(20)).until(() -> j.xlen("spillway:{t}:stream") == 2);
            proxy.pass();
            await().atMost(Duration.ofSeconds(20)).until(() -> p.state() == HealthState.CONNECTED && p.journalBacklog() == 0);
            assertThat(RedisJobs.ids(j, "t")).containsExactly(before.jobId(), r.jobId());
            assertThat(p.metrics().meter(MetricNames.REPLAY_DUPLICATES).getCount()).isEqualTo(1);
        }
    }

    /**
     * One connection drops with the reply to an enqueue on it (a proxy resets it; Redis goes on): the gateway sends the
     * call again at once, and the script finds the job the first send wrote. With a minted id nothing else can have
     * written it: the receipt says direct and not duplicate (before, duplicate). With a caller-chosen id it says
     * duplicate, as Redis knew the id. The same for {@code enqueueAll}, whose calls in flight are sent again.
     */
    @Test
    void aJobWhoseReplyWasLostAndThatWasSentAgainIsNoDuplicateWhenItsIdWasMinted() throws Exception {
        try (ChaosProxy proxy = ChaosProxy.to(redis.port()); JobProducer p = producerThrough(proxy); Jedis j = redis.jedis()) {
            assertThat(p.enqueue("lost", "t", bytes("warm")).duplicate()).isFalse();

            proxy.holdRepliesTo("EVALSHA");
            java.util.concurrent.CompletableFuture<Receipt> single =
                    java.util.concurrent.CompletableFuture.supplyAsync(() -> p.enqueue("lost", "t", bytes("single")));
            await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(5)).until(() -> proxy.heldConnections() == 1);
            assertThat(proxy.dropHeldConnections()).isEqualTo(1);
            Receipt r = single.get(20, TimeUnit.SECONDS);
            assertThat(r.spooled()).isFalse();
            assertThat(r.duplicate()).isFalse();

            proxy.holdRepliesTo("EVALSHA");
            java.util.concurrent.CompletableFuture<Receipt> chosen = java.util.concurrent.CompletableFuture.supplyAsync(() ->
                    p.enqueue("lost", "t", bytes("chosen"), EnqueueOptions.withJobId("order-7")));
            await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(5)).until(() -> proxy.heldConnections() == 1);
            assertThat(proxy.dropHeldConnections()).isEqualTo(1);
            assertThat(chosen.get(20, TimeUnit.SECONDS).duplicate()).isTrue();

            proxy.holdRepliesTo("EVALSHA");
            List<NewJob> jobs = new ArrayList<>();
            for (int i = 0; i < 150; i++) {
                jobs.add(new NewJob("lost", "t", bytes("batch " + i)));
            }
            java.util.concurrent.CompletableFuture<List<Receipt>> batch =
                    java.util.concurrent.CompletableFuture.supplyAsync(() -> p.enqueueAll(jobs));
            await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(5)).until(() -> proxy.heldConnections() == 1);
            assertThat(proxy.dropHeldConnections()).isEqualTo(1);
            List<Receipt> receipts = batch.get(20, TimeUnit.SECONDS);
            assertThat(receipts).noneMatch(Receipt::spooled).noneMatch(Receipt::duplicate);

            assertThat(RedisJobs.ids(j, "lost")).hasSize(1 + 1 + 1 + 150).doesNotHaveDuplicates();
            assertThat(p.metrics().meter(MetricNames.DUPLICATES).getCount()).isEqualTo(1);
        }
    }

    @Test
    void aSpooledJobRedisCannotTakeHoldsTheReplayBackAsOneOutageUntilTheSettingIsRaised() throws Exception {
        // Redis drops the connection of a command bigger than proto-max-bulk-len: to a replaying producer that
        // looks like Redis failing again. It must stay one outage (one "connection lost"), lose nothing, and go
        // on once the setting is raised (docs/operations.md, proto-max-bulk-len).
        try (RedisProcess small = RedisProcess.builder().setting("proto-max-bulk-len", "1mb").start();
             JobProducer p = JobProducer.builder().redis(small.uri()).journalDir(dir.resolve("big"))
                     .reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(200)).maxPayloadBytes(2 << 20).build()) {
            small.kill();
            Receipt big = p.enqueue("big", "t", new byte[2 << 20]);
            Receipt after = p.enqueue("big", "t", bytes("small"));
            assertThat(big.spooled()).isTrue();
            small.restart();
            await().atMost(Duration.ofSeconds(10)).until(() ->
                    p.metrics().counter(MetricNames.RECONNECT_ATTEMPTS + ".producer").getCount() >= 8);
            assertThat(p.state()).isNotEqualTo(HealthState.CONNECTED);
            assertThat(p.journalBacklog()).isEqualTo(2);
            assertThat(p.metrics().counter(MetricNames.CONNECTION_LOST + ".producer").getCount()).isEqualTo(1);
            try (Jedis j = small.jedis()) {
                j.configSet("proto-max-bulk-len", "512mb");
            }
            await().atMost(Duration.ofSeconds(10)).until(() -> p.state() == HealthState.CONNECTED && p.journalBacklog() == 0);
            try (Jedis j = small.jedis()) {
                assertThat(RedisJobs.ids(j, "big")).containsExactly(big.jobId(), after.jobId());
            }
        }
    }

    @Test
    void journalFullRejectsTheJob() {
        try (JobProducer p = JobProducer.builder().redis(redis.uri()).journalDir(dir.resolve("small"))
                .journalMaxBytes(4_000).maxPayloadBytes(1_000).build()) {
            redis.kill();
            int accepted = 0;
            Throwable thrown = null;
            for (int i = 0; i < 100 && thrown == null; i++) {
                try {
                    p.enqueue("f", "t", new byte[200]);
                    accepted++;
                } catch (JournalFullException e) {
                    thrown = e;
                }
            }
            assertThat(thrown).isInstanceOf(JournalFullException.class).hasMessageContaining("not accepted");
            assertThat(accepted).isBetween(10, 20);
            assertThat(p.journalBacklog()).isEqualTo(accepted);
        }
    }

    @Test
    void enqueueAllThatTheJournalCannotTakeAcceptsNoneOfIt() {
        try (JobProducer p = JobProducer.builder().redis(redis.uri()).journalDir(dir.resolve("small"))
                .journalMaxBytes(20_000).maxPayloadBytes(1_000).build()) {
            List<byte[]> payloads = new ArrayList<>();
            for (int i = 0; i < 100; i++) {
                payloads.add(new byte[300]);
            }
            // Redis up, the batch bigger than the journal: it goes to Redis whole.
            assertThat(p.enqueueAll("big", "t", payloads)).hasSize(100).noneMatch(Receipt::spooled);
            redis.kill();
            // Redis down: 100 jobs of about 350 bytes cannot spool in 20,000 bytes; not one is accepted.
            assertThatThrownBy(() -> p.enqueueAll("big", "t", payloads)).isInstanceOf(JournalFullException.class)
                    .hasMessageContaining("full");
            assertThat(p.journalBacklog()).isZero();
            assertThat(p.metrics().meter(MetricNames.REJECTED).getCount()).isEqualTo(100);
            // A batch that fits spools whole, and the journal's room set aside for it is given back.
            assertThat(p.enqueueAll("big", "t", payloads.subList(0, 20))).hasSize(20).allMatch(Receipt::spooled);
            assertThat(p.enqueueAll("big", "t", payloads.subList(0, 20))).hasSize(20).allMatch(Receipt::spooled);
            assertThat(p.journalBacklog()).isEqualTo(40);
            assertThat(p.enqueue("big", "t", new byte[300]).spooled()).isTrue();
        }
    }

    /**
     * A job whose payload and headers make a journal record over 16 MiB could not spool: it is refused up front, while
     * Redis is up (which would take it) as while it is down, and in a batch before any job of it is accepted. A review
     * found it taken by Redis but refused while spooling ("write failed"), and in enqueueAll the jobs before it spooled
     * with no receipt. The largest job that fits is taken, and spools.
     */
    @Test
    void aJobTooBigForOneJournalRecordIsRefusedUpFrontWhetherRedisIsUpOrNot() {
        RedisConnection c = RedisConnection.builder(redis.uri()).socketTimeout(Duration.ofSeconds(5)).build();
        try (JobProducer p = JobProducer.builder().redis(c).journalDir(dir.resolve("big"))
                .reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(200))
                .maxPayloadBytes(JobProducer.Builder.MAX_PAYLOAD_BYTES).build()) {
            EnqueueOptions.Builder b = EnqueueOptions.builder().jobId("edge");
            for (int i = 0; i < 16; i++) {
                b.header("h" + i, "v".repeat(EnqueueOptions.MAX_HEADER_BYTES));
            }
            EnqueueOptions headers = b.build();
            // The payload that makes the record exactly 16 MiB, frame included.
            int fits = (16 << 20) - 9 - JobCodec.encodedLength(4, QueueName.of("big"), "t", headers.headers(), 0);
            assertThat(fits).as("within maxPayloadBytes").isLessThanOrEqualTo(JobProducer.Builder.MAX_PAYLOAD_BYTES);
            byte[] tooBig = new byte[fits + 1];
            assertThatThrownBy(() -> p.enqueue("big", "t", tooBig, headers)).as("Redis up")
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("at most 16777216 bytes").hasMessageContaining("but was 16777217 bytes")
                    .hasMessageContaining("16 headers");
            redis.kill();
            assertThatThrownBy(() -> p.enqueue("big", "t", tooBig, headers)).as("Redis down")
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("but was 16777217 bytes");
            assertThatThrownBy(() -> p.enqueueAll(List.of(new NewJob("big", "t", bytes("small")),
                    new NewJob("big", "t", tooBig, headers))))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("job 2 of 2: job must fit one journal record");
            assertThat(p.journalBacklog()).as("not even the small job before it").isZero();
            assertThat(p.enqueue("big", "t", new byte[fits], headers).spooled()).as("the largest job that fits").isTrue();
            assertThat(p.journalBacklog()).isEqualTo(1);
        }
    }

    @Test
    void nullBatchesClosedProducersAndSubSecondDedupeWindowsAreHandled() {
        JobProducer p = JobProducer.builder().redis(redis.uri()).journalDir(dir.resolve("c"))
                .dedupeWindow(Duration.ofMillis(1_500)).build();
        assertThat(p.config().dedupeWindow()).isEqualTo(Duration.ofSeconds(2));
        assertThatThrownBy(() -> p.enqueueAll(null)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("jobs");
        assertThatThrownBy(() -> p.enqueueAll("q", "t", null)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("payloads");
        assertThat(p.state()).isEqualTo(HealthState.CONNECTED);
        p.close();
        p.close();
        assertThat(p.state()).as("a health check must not call a closed producer connected").isEqualTo(HealthState.CLOSED);
        assertThat(p.metrics().getGauges().get(MetricNames.CONNECTION_STATE + ".producer").getValue()).isEqualTo(3);
        assertThatThrownBy(() -> p.enqueue("q", "t", bytes("x"))).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> p.enqueueAll(List.of())).as("even an empty batch").isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
        assertThatThrownBy(() -> p.status("q", "some-id")).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
        assertThatThrownBy(() -> JobProducer.builder().redis((URI) null)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void enqueueAllIsBatchedAndIdempotent() {
        try (JobProducer p = producer(redis.uri()); Jedis j = redis.jedis()) {
            List<NewJob> jobs = new ArrayList<>();
            for (int i = 0; i < 1_234; i++) {
                jobs.add(new NewJob(i % 2 == 0 ? "a" : "b", "t", bytes("" + i), EnqueueOptions.withJobId("id-" + i)));
            }
            List<Receipt> first = p.enqueueAll(jobs);
            assertThat(first).hasSize(1_234).allMatch(r -> !r.spooled() && !r.duplicate());
            List<Receipt> second = p.enqueueAll(jobs);
            assertThat(second).allMatch(Receipt::duplicate);
            assertThat(j.xlen("spillway:{a}:stream")).isEqualTo(617);
            assertThat(j.xlen("spillway:{b}:stream")).isEqualTo(617);
            redis.kill();
            List<Receipt> spooled = p.enqueueAll("a", "t", List.of(bytes("x"), bytes("y")));
            assertThat(spooled).allMatch(Receipt::spooled);
        }
    }

    @Test
    void enqueueAllSkipsAnIdGivenTwiceInOneBatchAndSendsDelayedJobsToTheDelayedSet() {
        try (JobProducer p = producer(redis.uri()); Jedis j = redis.jedis()) {
            List<NewJob> jobs = new ArrayList<>();
            for (int i = 0; i < 50; i++) {
                jobs.add(new NewJob("m", "t", bytes("" + i), EnqueueOptions.withJobId("m-" + i)));
            }
            jobs.add(new NewJob("m", "t", bytes("again"), EnqueueOptions.withJobId("m-7")));
            for (int i = 0; i < 10; i++) {
                jobs.add(new NewJob("m", "t", bytes("later " + i),
                        EnqueueOptions.builder().jobId("later-" + i).delay(Duration.ofHours(1)).build()));
            }
            List<Receipt> receipts = p.enqueueAll(jobs);

            assertThat(receipts.get(50).duplicate()).isTrue();
            assertThat(receipts).filteredOn(Receipt::duplicate).hasSize(1);
            assertThat(j.xlen("spillway:{m}:stream")).isEqualTo(50);
            assertThat(j.zcard("spillway:{m}:delayed")).isEqualTo(10);
            assertThat(j.get("spillway:{m}:job:m-7")).startsWith("Q|");
            assertThat(j.get("spillway:{m}:job:later-3")).startsWith("D|");
            assertThat(p.status("m", "later-3").state()).isEqualTo(JobState.DELAYED);
        }
    }

    @Test
    void enqueueAllKeepsEachQueuesOrderWhenQueuesAreInterleaved() {
        try (JobProducer p = producer(redis.uri()); Jedis j = redis.jedis()) {
            List<NewJob> jobs = new ArrayList<>();
            List<String> a = new ArrayList<>();
            List<String> b = new ArrayList<>();
            for (int i = 0; i < 1_000; i++) {
                String id = "job-" + i;
                (i % 3 == 0 ? b : a).add(id);
                jobs.add(new NewJob(i % 3 == 0 ? "b" : "a", "t", bytes("" + i), EnqueueOptions.withJobId(id)));
            }
            List<Receipt> receipts = p.enqueueAll(jobs);
            assertThat(receipts).extracting(Receipt::jobId).containsExactlyElementsOf(
                    jobs.stream().map(n -> n.options().jobIdOrNull().value()).toList());
            assertThat(RedisJobs.ids(j, "a")).containsExactlyElementsOf(a);
            assertThat(RedisJobs.ids(j, "b")).containsExactlyElementsOf(b);
        }
    }

    /**
     * A batch is sent as several script calls in flight at once: Redis dying in the middle leaves the calls it
     * took in Redis (direct receipts) and spools the rest behind them. After the restart every job is there
     * once, in batch order — also those a SIGKILLed Redis had acknowledged but not yet written to its AOF,
     * which the producer sends again.
     */
    @Test
    void anEnqueueAllThatRedisDiesInTheMiddleOfLosesNothingAndKeepsOrder() throws Exception {
        try (JobProducer p = producer(redis.uri())) {
            List<byte[]> payloads = new ArrayList<>();
            for (int i = 0; i < 100_000; i++) {
                payloads.add(bytes("payload " + i));
            }
            p.enqueue("big", "t", bytes("first")); // registers the queue, warms the path
            Thread killer = killRedisOnceStreamHolds("spillway:{big}:stream", 5_000);
            List<Receipt> receipts = p.enqueueAll("big", "t", payloads);
            killer.join();

            assertThat(receipts).hasSize(100_000);
            long direct = receipts.stream().filter(r -> !r.spooled()).count();
            assertThat(direct).as("jobs Redis took before it died").isBetween(4_000L, 99_999L);
            int firstSpooled = 0;
            while (!receipts.get(firstSpooled).spooled()) {
                firstSpooled++;
            }
            assertThat(receipts.subList(firstSpooled, receipts.size())).as("spooled behind the direct ones")
                    .allMatch(Receipt::spooled);
            redis.restart();
            await().atMost(Duration.ofSeconds(60)).until(() -> p.state() == HealthState.CONNECTED && p.journalBacklog() == 0);
            try (Jedis j = redis.jedis()) {
                List<String> ids = RedisJobs.ids(j, "big");
                assertThat(ids.subList(1, ids.size())).containsExactlyElementsOf(receipts.stream().map(Receipt::jobId).toList());
            }
        }
    }

    @Test
    void aBatchBiggerThanTheJournalThatRedisDiesInTheMiddleOfSaysWhichJobsWereAccepted() throws Exception {
        try (JobProducer p = JobProducer.builder().redis(redis.uri()).journalDir(dir.resolve("small"))
                .reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(200)).journalMaxBytes(100_000).maxPayloadBytes(1_000).build()) {
            List<byte[]> payloads = new ArrayList<>();
            for (int i = 0; i < 50_000; i++) {
                payloads.add(bytes("payload " + i));
            }
            p.enqueue("big", "t", bytes("first")); // registers the queue, warms the path
            Thread killer = killRedisOnceStreamHolds("spillway:{big}:stream", 5_000);
            // 50,000 jobs of about 100 bytes do not fit in 100,000 bytes: sent while Redis takes them, the rest cannot spool.
            Throwable thrown = null;
            try {
                p.enqueueAll("big", "t", payloads);
            } catch (JournalFullException e) {
                thrown = e;
            }
            killer.join();
            assertThat(thrown).as("Redis died before the batch was through").isNotNull();
            java.util.regex.Matcher m = java.util.regex.Pattern.compile(
                    "(\\d+) of them were accepted \\((\\d+) in Redis, 0 in the journal\\), the other \\d+ were not, though up to 300")
                    .matcher(thrown.getMessage());
            assertThat(m.find()).as(thrown.getMessage()).isTrue();
            long accepted = Long.parseLong(m.group(1));
            assertThat(m.group(2)).isEqualTo(m.group(1));
            assertThat(accepted).isBetween(4_000L, 49_999L);
            assertThat(p.journalBacklog()).as("none of the rest spooled").isZero();
            assertThat(p.metrics().meter(MetricNames.ACCEPTED).getCount()).isEqualTo(1 + accepted);
            assertThat(p.metrics().meter(MetricNames.REJECTED).getCount()).isEqualTo(50_000 - accepted);
            redis.restart();
            try (Jedis j = redis.jedis()) {
                // AOF everysec: Redis may have lost its last second of writes; the producer re-sends them once connected.
                await().atMost(Duration.ofSeconds(60)).until(() -> p.state() == HealthState.CONNECTED);
                await().atMost(Duration.ofSeconds(30)).until(() -> j.xlen("spillway:{big}:stream") >= 1 + accepted);
                // Plus, perhaps, the calls in flight when Redis died (applied, unanswered): at most 3 calls of 100.
                assertThat(j.xlen("spillway:{big}:stream")).isBetween(1 + accepted, 1 + accepted + 300);
                // The accepted ones are the batch's first `accepted` jobs, each once and in order: counting alone could
                // hide an accepted job Redis lost behind an unanswered call it applied.
                List<String> inRedis = RedisJobs.stream(j, "big").stream()
                        .map(r -> new String(r.payload(), StandardCharsets.UTF_8)).toList();
                List<String> expected = new ArrayList<>(List.of("first"));
                for (int i = 0; i < accepted; i++) {
                    expected.add("payload " + i);
                }
                assertThat(inRedis.subList(0, expected.size())).containsExactlyElementsOf(expected);
                assertThat(inRedis).doesNotHaveDuplicates();
            }
        }
    }

    @Test
    void aJournalLeftByAStoppedProducerIsReplayedByTheNextOne() {
        MetricRegistry registry = new MetricRegistry();
        List<String> accepted = new ArrayList<>();
        try (JobProducer p = producer(redis.uri())) {
            redis.kill();
            for (int i = 0; i < 100; i++) {
                accepted.add(p.enqueue("left", "t", bytes("" + i)).jobId());
            }
        }
        redis.restart();
        try (JobProducer p = JobProducer.builder().redis(redis.uri()).journalDir(dir.resolve("journal"))
                .metricRegistry(registry).build(); Jedis j = redis.jedis()) {
            await().atMost(Duration.ofSeconds(20)).until(() -> p.journalBacklog() == 0 && p.state() == HealthState.CONNECTED);
            assertThat(RedisJobs.ids(j, "left")).containsExactlyElementsOf(accepted);
        }
    }

    @Test
    void jobsWrittenJustBeforeRedisLostItsDataAreSentAgain() {
        try (JobProducer p = producer(redis.uri())) {
            List<String> replayed = new ArrayList<>();
            redis.kill();
            for (int i = 0; i < 50; i++) {
                replayed.add(p.enqueue("r", "t", bytes("spooled " + i)).jobId());
            }
            redis.restart();
            await().atMost(Duration.ofSeconds(20)).until(() -> p.state() == HealthState.CONNECTED && p.journalBacklog() == 0);
            List<String> direct = new ArrayList<>();
            for (int i = 0; i < 50; i++) {
                Receipt r = p.enqueue("r", "t", bytes("direct " + i));
                assertThat(r.spooled()).isFalse();
                direct.add(r.jobId());
            }
            // Redis comes back empty, as after a crash that lost its last writes.
            redis.kill();
            redis.restartEmpty();
            List<String> expected = new ArrayList<>(replayed);
            expected.addAll(direct);
            // The restored meter is marked after the resend's last write reaches Redis (and the state read
            // first may still be the CONNECTED from before the heartbeat saw the restart): wait for all three.
            await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
                assertThat(p.state()).isEqualTo(HealthState.CONNECTED);
                try (Jedis j = redis.jedis()) {
                    assertThat(j.xlen("spillway:{r}:stream")).isEqualTo(expected.size());
                }
                // All 100 were lost and are restored: the 50 direct writes and the 50 replayed within the window.
                assertThat(p.metrics().meter(MetricNames.RESTORED).getCount()).isEqualTo(100);
                assertThat(p.metrics().meter(MetricNames.RESENT).getCount()).isEqualTo(100);
            });
            // The first replay counted as a replay; the re-send after the restart did not count again.
            assertThat(p.metrics().meter(MetricNames.REPLAYED).getCount()).isEqualTo(50);
            try (Jedis j = redis.jedis()) {
                assertThat(RedisJobs.ids(j, "r")).containsExactlyElementsOf(expected);
            }
        }
    }

    /**
     * Guarantee 6 after a restart that lost writes, for a producer that spooled part of the time: direct writes, then
     * jobs spooled during an outage and replayed, then direct writes again, all within the resend window. The re-send
     * restores them in the order they first reached Redis. Before, it sent the replayed ones first, ahead of the direct
     * writes accepted before them.
     */
    @Test
    @org.junit.jupiter.api.Tag("first-pass-only") // client-side logic: the same whatever the Redis version
    void aRestartThatLostDirectAndReplayedWritesGetsThemBackInTheirFirstOrder() {
        try (JobProducer p = producer(redis.uri())) {
            List<String> expected = new ArrayList<>(enqueueDirect(p, "mix", "before", 40));
            redis.kill();
            for (int i = 0; i < 40; i++) {
                Receipt r = p.enqueue("mix", "t", bytes("spooled " + i));
                assertThat(r.spooled()).isTrue();
                expected.add(r.jobId());
            }
            redis.restart();
            await().atMost(Duration.ofSeconds(20)).until(() -> p.state() == HealthState.CONNECTED && p.journalBacklog() == 0);
            expected.addAll(enqueueDirect(p, "mix", "after", 40));
            redis.kill();
            redis.restartEmpty();
            await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
                assertThat(p.state()).isEqualTo(HealthState.CONNECTED);
                assertThat(p.metrics().meter(MetricNames.RESTORED).getCount()).isEqualTo(120);
            });
            try (Jedis j = redis.jedis()) {
                assertThat(RedisJobs.ids(j, "mix")).containsExactlyElementsOf(expected);
            }
        }
    }

    /**
     * Redis restarts empty between two enqueues, faster than the heartbeat's second: no enqueue met it down. The next
     * enqueue finds its pooled connection dead and takes a fresh one, which reaches the new, empty Redis. Before, the
     * write went in there, ahead of the recent writes the restart lost, which the heartbeat found missing only later and
     * sent again behind it: out of order. A fresh connection now checks the run id, finds another, and the job spools
     * behind the re-send.
     */
    @Test
    void aWriteRightAfterAFastDataLosingRestartGoesBehindTheWritesItLost() {
        try (JobProducer p = producer(redis.uri())) {
            List<String> expected = new ArrayList<>(enqueueDirect(p, "fast", "before", 40));
            redis.kill();
            redis.restartEmpty();
            for (int i = 0; i < 40; i++) {
                expected.add(p.enqueue("fast", "t", bytes("after " + i)).jobId());
            }
            await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
                assertThat(p.state()).isEqualTo(HealthState.CONNECTED);
                assertThat(p.journalBacklog()).isZero();
                try (Jedis j = redis.jedis()) {
                    assertThat(RedisJobs.ids(j, "fast")).hasSize(80);
                }
            });
            try (Jedis j = redis.jedis()) {
                assertThat(RedisJobs.ids(j, "fast")).containsExactlyElementsOf(expected);
            }
        }
    }

    /**
     * The same, with the re-send failing midway: the restarted Redis refuses the keys of a second queue (an ACL not yet
     * granted), so the journal's batch holding its jobs fails after the first direct writes were sent again, before
     * queue a's replayed jobs. The next recovery must still send the rest in their first order: queue a's replayed jobs
     * ahead of its later direct writes. Before, they went behind them (the re-send's plan was lost with the failure).
     */
    @Test
    @org.junit.jupiter.api.Tag("first-pass-only") // client-side logic: the same whatever the Redis version
    void aReSendThatFailsMidwayKeepsTheFirstOrderForTheNextRecovery() {
        int port = redis.port();
        try (JobProducer p = producer(redis.uri())) {
            List<String> a = new ArrayList<>(enqueueDirect(p, "a", "before", 30));
            List<String> b = new ArrayList<>();
            redis.kill();
            // Queue b's first: more than the replay reads at once, so that the refused batch holds none of queue a's.
            for (int i = 0; i < 1_200; i++) {
                b.add(p.enqueue("b", "t", bytes("spooled " + i)).jobId());
            }
            for (int i = 0; i < 30; i++) {
                a.add(p.enqueue("a", "t", bytes("spooled " + i)).jobId());
            }
            redis.restart();
            await().atMost(Duration.ofSeconds(20)).until(() -> p.state() == HealthState.CONNECTED && p.journalBacklog() == 0);
            a.addAll(enqueueDirect(p, "a", "after", 30));
            long attempts = p.metrics().counter(MetricNames.RECONNECT_ATTEMPTS + ".producer").getCount();
            redis.kill();
            try (RedisProcess refusing = RedisProcess.builder().port(port)
                    .setting("user", "default on nopass ~spillway:[^{]* ~spillway:{a}* &* +@all").start();
                    Jedis j = refusing.jedis()) {
                await().atMost(Duration.ofSeconds(20)).until(() ->
                        p.metrics().counter(MetricNames.RECONNECT_ATTEMPTS + ".producer").getCount() >= attempts + 3);
                // The first direct writes went again before the refused batch (queue b's keys are refused to this test too).
                assertThat(RedisJobs.ids(j, "a")).startsWith(a.subList(0, 30).toArray(String[]::new));
                j.aclSetUser("default", "~*");
                await().atMost(Duration.ofSeconds(20)).until(() -> p.state() == HealthState.CONNECTED);
                assertThat(RedisJobs.ids(j, "a")).containsExactlyElementsOf(a);
                assertThat(RedisJobs.ids(j, "b")).containsExactlyElementsOf(b);
                refusing.kill();
            }
        }
        redis.restartEmpty(); // for stopRedis
    }

    /**
     * Redis rules for the default user that refuse {@code ZADD}, which a producer runs only to add a delayed job (a key
     * refused instead would refuse the whole script call: Redis checks the keys it declares before it runs).
     */
    private static final String REFUSES_ZADD = "default on nopass ~* &* +@all -zadd";

    /**
     * A replay's script calls are streamed, several in flight: when Redis refused one midway (here an ACL refusing the
     * ZADD of a delayed job; OOM, BUSY or a NOSCRIPT race do the same) and took the next ones, those jobs landed ahead of the
     * refused call's, which the next replay sent behind them. Found by a review of the stream: the replay put jobs
     * 249-748 of a queue ahead of 100-248. Each call in flight now goes through only if the one before it went through.
     */
    @Test
    void aReplayCallRefusedMidwayKeepsTheCallsBehindItFromGoingAhead() {
        int port = redis.port();
        List<String> immediate = new ArrayList<>();
        try (JobProducer p = producer(redis.uri())) {
            redis.kill();
            for (int i = 0; i < 1_200; i++) {
                if (i == 100) {
                    p.enqueue("o", "t", bytes("later"), EnqueueOptions.builder().delay(Duration.ofHours(1)).build());
                }
                Receipt r = p.enqueue("o", "t", bytes("spooled " + i));
                assertThat(r.spooled()).isTrue();
                immediate.add(r.jobId());
            }
            long attempts = p.metrics().counter(MetricNames.RECONNECT_ATTEMPTS + ".producer").getCount();
            try (RedisProcess refusing = RedisProcess.builder().port(port).setting("user", REFUSES_ZADD).start();
                    Jedis j = refusing.jedis()) {
                await().atMost(Duration.ofSeconds(20)).until(() ->
                        p.metrics().counter(MetricNames.RECONNECT_ATTEMPTS + ".producer").getCount() >= attempts + 3);
                // The refused call's jobs before the delayed one went in; nothing behind them.
                assertThat(RedisJobs.ids(j, "o")).containsExactlyElementsOf(immediate.subList(0, 100));
                j.aclSetUser("default", "+zadd");
                await().atMost(Duration.ofSeconds(20)).until(() -> p.state() == HealthState.CONNECTED && p.journalBacklog() == 0);
                assertThat(RedisJobs.ids(j, "o")).containsExactlyElementsOf(immediate);
                assertThat(j.zcard("spillway:{o}:delayed")).isEqualTo(1);
                refusing.kill();
            }
        }
        redis.restartEmpty(); // for stopRedis
    }

    /** The same for {@code enqueueAll}, which streams its calls of 100 jobs: the refused call's and later jobs spool. */
    @Test
    void anEnqueueAllCallRefusedMidwayKeepsTheCallsBehindItFromGoingAhead() {
        redis.kill();
        try (RedisProcess refusing = RedisProcess.builder().port(redis.port()).setting("user", REFUSES_ZADD).start();
                Jedis j = refusing.jedis();
                JobProducer p = producer(refusing.uri())) {
            List<NewJob> jobs = new ArrayList<>();
            for (int i = 0; i < 350; i++) {
                jobs.add(i == 50
                        ? new NewJob("o", "t", bytes("later"), EnqueueOptions.builder().delay(Duration.ofHours(1)).build())
                        : new NewJob("o", "t", bytes("job " + i)));
            }
            List<Receipt> receipts = p.enqueueAll(jobs);
            List<String> immediate = new ArrayList<>();
            for (int i = 0; i < receipts.size(); i++) {
                if (i != 50) {
                    immediate.add(receipts.get(i).jobId());
                }
            }
            assertThat(receipts).allMatch(Receipt::spooled);
            assertThat(RedisJobs.ids(j, "o")).containsExactlyElementsOf(immediate.subList(0, 50));
            j.aclSetUser("default", "+zadd");
            await().atMost(Duration.ofSeconds(20)).until(() -> p.state() == HealthState.CONNECTED && p.journalBacklog() == 0);
            assertThat(RedisJobs.ids(j, "o")).containsExactlyElementsOf(immediate);
            refusing.kill();
        }
        redis.restartEmpty(); // for stopRedis
    }

    /**
     * The same case for a successor: the producer that wrote, spooled and replayed is gone, and Redis then comes back
     * empty. Its successor on the journal has no record of the order in which its predecessor's direct writes and
     * replayed jobs first reached Redis: it merges them by when each job was accepted. Before, it sent the replayed
     * ones first.
     */
    @Test
    @org.junit.jupiter.api.Tag("first-pass-only") // client-side logic: the same whatever the Redis version
    void aSuccessorGetsItsPredecessorsDirectAndReplayedWritesBackInTheirFirstOrder() {
        List<String> expected = new ArrayList<>();
        try (JobProducer p = producer(redis.uri())) {
            expected.addAll(enqueueDirect(p, "mix", "before", 40));
            redis.kill();
            for (int i = 0; i < 40; i++) {
                expected.add(p.enqueue("mix", "t", bytes("spooled " + i)).jobId());
            }
            redis.restart();
            await().atMost(Duration.ofSeconds(20)).until(() -> p.state() == HealthState.CONNECTED && p.journalBacklog() == 0);
            expected.addAll(enqueueDirect(p, "mix", "after", 40));
        }
        redis.kill();
        redis.restartEmpty();
        try (JobProducer successor = producer(redis.uri())) {
            await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
                assertThat(successor.state()).isEqualTo(HealthState.CONNECTED);
                assertThat(successor.metrics().meter(MetricNames.RESTORED).getCount()).isEqualTo(120);
            });
            try (Jedis j = redis.jedis()) {
                assertThat(RedisJobs.ids(j, "mix")).containsExactlyElementsOf(expected);
            }
        }
    }

    /**
     * A successor of a producer whose re-send failed midway: Redis lost writes, the producer's re-send was cut by Redis
     * dying again (after {@code killAt} jobs were back in the stream), and the producer stopped. Its re-send had moved
     * the replay position back, so the jobs it had replayed before its later direct writes are backlog to the successor,
     * which must still put those writes behind them. Found by a review: the successor merged only against the records
     * its predecessor's replay position still covered, and put the later direct writes ahead of 2,000-2,999 spooled jobs.
     */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(ints = {20, 2_000})
    @org.junit.jupiter.api.Tag("first-pass-only") // client-side logic: the same whatever the Redis version
    void aSuccessorOfAProducerWhoseReSendFailedMidwayKeepsTheFirstOrder(int killAt) throws Exception {
        List<String> expected = new ArrayList<>();
        try (JobProducer p = JobProducer.builder().redis(redis.uri()).journalDir(dir.resolve("journal"))
                .resendAfterRestart(Duration.ofSeconds(60), 64L << 20)
                .reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(200)).build()) {
            expected.addAll(enqueueDirect(p, "a", "before", 300));
            redis.kill();
            for (int i = 0; i < 3_000; i++) {
                expected.add(p.enqueue("a", "t", bytes("spooled " + i)).jobId());
            }
            redis.restart();
            await().atMost(Duration.ofSeconds(20)).until(() -> p.state() == HealthState.CONNECTED && p.journalBacklog() == 0);
            expected.addAll(enqueueDirect(p, "a", "after", 300));
            redis.kill();
            redis.restartEmpty();
            Thread killer = killRedisOnceStreamHolds("spillway:{a}:stream", killAt);
            killer.join(30_000);
            await().atMost(Duration.ofSeconds(10)).until(() -> p.state() != HealthState.CONNECTED);
        }
        redis.restartEmpty();
        try (JobProducer successor = producer(redis.uri())) {
            await().atMost(Duration.ofSeconds(30)).until(() ->
                    successor.state() == HealthState.CONNECTED && successor.journalBacklog() == 0);
            try (Jedis j = redis.jedis()) {
                assertThat(RedisJobs.ids(j, "a")).containsExactlyElementsOf(expected);
            }
        }
    }

    private static List<String> enqueueDirect(JobProducer p, String queue, String what, int n) {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Receipt r = p.enqueue(queue, "t", bytes(what + " " + i));
            assertThat(r.spooled()).isFalse();
            ids.add(r.jobId());
        }
        return ids;
    }

    @Test
    void aRestartLongAfterTheLastWritesSendsOnlyTheWindowBeforeRedisWasLastSeenUp() throws Exception {
        // A 1 s window: Redis seen up (a heartbeat with the same run id) more than 1 s after a write has it.
        try (JobProducer p = JobProducer.builder().redis(redis.uri()).journalDir(dir.resolve("journal"))
                .reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(200))
                .resendAfterRestart(Duration.ofSeconds(1), 16 << 20).build()) {
            redis.kill();
            for (int i = 0; i < 50; i++) {
                assertThat(p.enqueue("old", "t", bytes("spooled " + i)).spooled()).isTrue();
            }
            redis.restart();
            await().atMost(Duration.ofSeconds(20)).until(() -> p.state() == HealthState.CONNECTED && p.journalBacklog() == 0);
            for (int i = 0; i < 50; i++) {
                assertThat(p.enqueue("old", "t", bytes("direct " + i)).spooled()).isFalse();
            }
            // Three heartbeats past the window. Before, the replay's records stayed replayable until the next replay
            // and the direct writes until the next write: a restart minutes later sent all 100 again.
            Thread.sleep(3_500);
            List<String> recent = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                recent.add(p.enqueue("new", "t", bytes("recent " + i)).jobId());
            }
            redis.kill();
            redis.restartEmpty();
            await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
                assertThat(p.state()).isEqualTo(HealthState.CONNECTED);
                assertThat(p.metrics().meter(MetricNames.RESENT).getCount()).isEqualTo(5);
            });
            try (Jedis j = redis.jedis()) {
                assertThat(RedisJobs.ids(j, "new")).containsExactlyElementsOf(recent);
                assertThat(j.exists("spillway:{old}:stream")).isFalse();
                // Named again in the list of queues, which Redis lost too (spillway status lists them).
                assertThat(j.smembers("spillway:queues")).containsExactlyInAnyOrder("old", "new");
            }
        }
    }

    /**
     * The journal's first producer never reached Redis before: no run id known. Its first replay stops half way (Redis
     * full) and it stops; Redis then restarts empty. Its successor must send the half it replayed again: the run id is
     * recorded before the first record is replayed. (Before, only once the replay was done: the successor could not
     * tell the restart and the 2,000-odd jobs replayed were lost.)
     */
    @Test
    @org.junit.jupiter.api.Tag("first-pass-only") // the producer's own bookkeeping: the same whatever the Redis version
    void aProducerStoppedDuringItsFirstReplayLetsItsSuccessorTellARedisRestart() {
        int port = redis.port();
        redis.kill();
        List<String> accepted = new ArrayList<>();
        try (JobProducer p1 = JobProducer.builder().redis(redis.uri()).journalDir(dir.resolve("journal"))
                .reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(200))
                .resendAfterRestart(Duration.ofSeconds(60), 16 << 20).build()) {
            for (int i = 0; i < 6_000; i++) {
                accepted.add(p1.enqueue("half", "t", new byte[1_000]).jobId());
            }
            // Room for about 2 MB of them.
            try (RedisProcess full = RedisProcess.builder().port(port).maxMemory("3mb").start(); Jedis j = full.jedis()) {
                await().atMost(Duration.ofSeconds(20)).until(() -> j.exists("spillway:{half}:stream")
                        && j.xlen("spillway:{half}:stream") > 100 && p1.journalBacklog() > 0);
                await().during(Duration.ofMillis(500)).atMost(Duration.ofSeconds(10))
                        .until(() -> p1.state() != HealthState.CONNECTED);
                full.kill();
            }
        }
        redis.restartEmpty();
        try (JobProducer p2 = producer(redis.uri()); Jedis j = redis.jedis()) {
            await().atMost(Duration.ofSeconds(30)).until(() -> p2.state() == HealthState.CONNECTED && p2.journalBacklog() == 0);
            assertThat(RedisJobs.ids(j, "half")).containsExactlyElementsOf(accepted);
        }
    }

    /**
     * Writes sent again after a restart are recorded in the sent log as written then: Redis may lose them again in its
     * last second, and the producer's successor must send them too. Before, the log kept their first acknowledgement
     * time, newer writes pushed it out of the window the successor restores, and they were lost (a reviewer lost
     * 2,000 of 2,000).
     */
    @Test
    void writesSentAgainAfterARestartAreSentAgainByTheSuccessorIfRedisLosesThemAgain() throws Exception {
        Duration window = Duration.ofSeconds(1);
        List<String> accepted = new ArrayList<>();
        try (JobProducer p1 = JobProducer.builder().redis(redis.uri()).journalDir(dir.resolve("journal"))
                .reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(200)).resendAfterRestart(window, 16 << 20).build()) {
            for (int i = 0; i < 200; i++) {
                accepted.add(p1.enqueue("again", "t", bytes("a " + i)).jobId());
            }
            redis.kill(); // within the window of those writes: Redis lost them (no AOF left)
            Thread.sleep(window.toMillis() + 500);
            redis.restartEmpty();
            await().atMost(Duration.ofSeconds(20)).until(() -> p1.state() == HealthState.CONNECTED
                    && p1.metrics().meter(MetricNames.RESENT).getCount() == 200);
            for (int i = 0; i < 10; i++) {
                accepted.add(p1.enqueue("again", "t", bytes("b " + i)).jobId());
            }
        }
        // The producer is gone, and Redis loses its last second again: all 210 were written in it.
        redis.kill();
        redis.restartEmpty();
        try (JobProducer p2 = JobProducer.builder().redis(redis.uri()).journalDir(dir.resolve("journal"))
                .reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(200)).resendAfterRestart(window, 16 << 20).build();
             Jedis j = redis.jedis()) {
            await().atMost(Duration.ofSeconds(20)).until(() -> p2.state() == HealthState.CONNECTED);
            assertThat(RedisJobs.ids(j, "again")).containsExactlyInAnyOrderElementsOf(accepted);
        }
    }

    /**
     * Redis restarted empty, and the recovery that sends the producer's last writes again fails (Redis refuses its
     * first write there, the SADD that names the producer's queues again: an ACL not yet granted). The next recovery,
     * with the same new run id, must still send them: before, it counted as no restart.
     */
    @Test
    void aRecoveryThatFailsAfterARestartIsMadeAgainAsAfterARestart() {
        int port = redis.port();
        List<String> accepted = new ArrayList<>();
        try (JobProducer p = producer(redis.uri())) {
            for (int i = 0; i < 50; i++) {
                accepted.add(p.enqueue("pending", "t", bytes("direct " + i)).jobId());
            }
            redis.kill();
            try (RedisProcess full = RedisProcess.builder().port(port).setting("user", "default on nopass ~* &* +@all -sadd")
                    .start(); Jedis j = full.jedis()) {
                await().atMost(Duration.ofSeconds(20)).until(() ->
                        p.metrics().counter(MetricNames.RECONNECT_ATTEMPTS + ".producer").getCount() >= 2);
                assertThat(j.exists("spillway:{pending}:stream")).isFalse();
                j.aclSetUser("default", "+sadd");
                await().atMost(Duration.ofSeconds(20)).until(() -> p.state() == HealthState.CONNECTED);
                assertThat(RedisJobs.ids(j, "pending")).containsExactlyElementsOf(accepted);
                full.kill();
            }
        }
        redis.restartEmpty(); // for stopRedis
    }

    @Test
    void anIdleProducerNoticesARedisRestartByItsHeartbeat() {
        try (JobProducer p = producer(redis.uri())) {
            String id = p.enqueue("idle", "t", bytes("x")).jobId();
            redis.kill();
            redis.restartEmpty();
            await().atMost(Duration.ofSeconds(20)).until(() -> {
                try (Jedis j = redis.jedis()) {
                    return RedisJobs.ids(j, "idle").equals(List.of(id));
                }
            });
        }
    }

    /** A producer through {@code proxy}, with a socket timeout long enough for a reply the proxy holds back. */
    private JobProducer producerThrough(ChaosProxy proxy) {
        return JobProducer.builder()
                .redis(RedisConnection.builder(proxy.uri()).socketTimeout(Duration.ofSeconds(20)).build())
                .journalDir(dir.resolve("journal")).reconnectBackoff(Duration.ofMillis(20), Duration.ofMillis(200))
                .build();
    }

    /**
     * {@code other} answers at the producer's address from now on (its connections but the held one are reset), and
     * once the producer noticed, a second later, the held reply of the old Redis is let through.
     */
    private static void replaceRedisBehind(ChaosProxy proxy, RedisProcess other, JobProducer p) throws InterruptedException {
        proxy.retarget(other.port());
        proxy.dropOpenConnectionsExceptHeld();
        long lost = p.metrics().counter(MetricNames.CONNECTION_LOST + ".producer").getCount();
        await().atMost(Duration.ofSeconds(10)).until(() ->
                p.metrics().counter(MetricNames.CONNECTION_LOST + ".producer").getCount() > lost);
        // Time for a reconnect loop that does not wait to probe, re-send and close the circuit (tens of ms).
        Thread.sleep(1_000);
        proxy.releaseReplies();
    }

    /**
     * A write on its way when the producer learns that another Redis answers at its address (a failover: the old master
     * takes the write, then drops it when it resyncs): the reconnect loop must wait for it, so that the recovery re-sends
     * it with the other recent writes. The proxy holds the old Redis's reply back while new connections reach the other
     * Redis; before the loop waited for calls in flight, the recovery had re-sent the recent writes without it and the
     * job was lost (SentinelFailoverIT's manual failover, once in CI).
     */
    @Test
    void aWriteTheOldRedisAcknowledgesDuringTheRecoveryIsSentAgainToTheNewOne() throws Exception {
        try (RedisProcess other = RedisProcess.builder().start();
             ChaosProxy proxy = ChaosProxy.to(redis.port());
             JobProducer p = producerThrough(proxy)) {
            String before = p.enqueue("held", "t", bytes("before")).jobId();
            proxy.holdRepliesTo("the-held-job");
            Receipt[] held = new Receipt[1];
            Thread caller = new Thread(() -> held[0] = p.enqueue("held", "t", bytes("the-held-job")), "caller");
            caller.start();
            await().atMost(Duration.ofSeconds(10)).until(() -> proxy.heldConnections() == 1);
            try (Jedis j = redis.jedis()) {
                await().atMost(Duration.ofSeconds(10)).until(() -> RedisJobs.ids(j, "held").size() == 2);
            }
            replaceRedisBehind(proxy, other, p);
            caller.join(10_000);
            assertThat(held[0]).isNotNull();
            assertThat(held[0].spooled()).as("the old Redis took it").isFalse();
            await().atMost(Duration.ofSeconds(20)).until(() -> p.state() == HealthState.CONNECTED && p.journalBacklog() == 0);
            try (Jedis j = other.jedis()) {
                assertThat(RedisJobs.ids(j, "held")).as("on the new Redis, in order")
                        .containsExactly(before, held[0].jobId());
            }
        }
    }

    /**
     * The same for a cancel on its way to the old Redis: the recovery must cancel it again on the new one before it
     * re-sends the job, or the job runs there after the caller was told CANCELLED.
     */
    @Test
    void aCancelTheOldRedisAcknowledgesDuringTheRecoveryIsMadeAgainOnTheNewOne() throws Exception {
        try (RedisProcess other = RedisProcess.builder().start();
             ChaosProxy proxy = ChaosProxy.to(redis.port());
             JobProducer p = producerThrough(proxy)) {
            String kept = p.enqueue("cancelled", "t", bytes("kept")).jobId();
            String id = p.enqueue("cancelled", "t", bytes("to cancel")).jobId();
            proxy.holdRepliesTo(id); // the next command naming the job: the cancel
            JobStatus[] answer = new JobStatus[1];
            Thread caller = new Thread(() -> answer[0] = p.cancel("cancelled", id), "caller");
            caller.start();
            await().atMost(Duration.ofSeconds(10)).until(() -> proxy.heldConnections() == 1);
            try (Jedis j = redis.jedis()) {
                await().atMost(Duration.ofSeconds(10)).until(() -> j.get("spillway:{cancelled}:job:" + id).startsWith("K"));
            }
            replaceRedisBehind(proxy, other, p);
            caller.join(10_000);
            assertThat(answer[0].state()).isEqualTo(JobState.CANCELLED);
            await().atMost(Duration.ofSeconds(20)).until(() -> p.state() == HealthState.CONNECTED && p.journalBacklog() == 0);
            try (Jedis j = other.jedis()) {
                assertThat(RedisJobs.ids(j, "cancelled")).as("the re-send brought back only the job not cancelled")
                        .containsExactly(kept);
            }
            assertThat(p.status("cancelled", id).state()).isEqualTo(JobState.CANCELLED);
        }
    }
}
