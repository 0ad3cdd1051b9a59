package io.spillway.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.spillway.core.RedisConnection;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(value = 10, unit = TimeUnit.SECONDS)
class WorkerBuilderTest {
    @TempDir
    Path dir;

    @Test
    void badValuesFailFastWithTheValueInTheMessage() {
        Worker.Builder b = Worker.builder();
        assertThatThrownBy(() -> b.concurrency(0)).hasMessage("concurrency must be between 1 and 10000, but was 0");
        assertThatThrownBy(() -> b.leaseDuration(Duration.ofMillis(10))).hasMessage("leaseDuration must be >= PT1S, but was PT0.01S");
        assertThatThrownBy(() -> b.queue("bad queue")).hasMessageContaining("but was 'bad queue'");
        assertThatThrownBy(() -> b.handler(" ", job -> { })).hasMessage("handler type must be non-blank, but was ' '");
        assertThatThrownBy(() -> b.redis(URI.create("http://x:1"))).hasMessageContaining("but was 'http://x:1'");
        assertThatThrownBy(() -> b.shutdownTimeout(Duration.ofSeconds(-1))).hasMessage("shutdownTimeout must be >= 0, but was PT-1S");
        assertThatThrownBy(() -> b.fetchBatchSize(0)).hasMessageContaining("but was 0");
        assertThatThrownBy(() -> b.prefetch(-1)).hasMessageContaining("but was -1");
    }

    @Test
    void aSecondHandlerForATypeIsRefusedNamingTheType() {
        Worker.Builder b = Worker.builder().handler("ok", job -> { });
        assertThatThrownBy(() -> b.handler("ok", job -> { })).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("handler for type 'ok' is already set: one handler per type");
        b.handler("other", job -> { });
    }

    @Test
    void handlerOptionsRefuseBadValuesNamingThemAndLeaveUnsetSettingsToTheWorker() {
        HandlerOptions.Builder o = HandlerOptions.builder();
        assertThatThrownBy(() -> o.jobTimeout(Duration.ZERO)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("jobTimeout must be >= PT0.001S, but was PT0S");
        assertThatThrownBy(() -> o.jobTimeout(Duration.ofDays(366))).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("jobTimeout must be <= PT8760H, but was PT8784H");
        assertThatThrownBy(() -> o.jobTimeout(null)).hasMessage("jobTimeout must not be null");
        assertThatThrownBy(() -> o.retryPolicy(null)).hasMessage("retryPolicy must not be null");
        assertThat(HandlerOptions.builder().build().jobTimeout()).isEmpty();
        assertThat(HandlerOptions.builder().build().retryPolicy()).isEmpty();
        HandlerOptions six = HandlerOptions.builder().jobTimeout(Duration.ofHours(6)).build();
        assertThat(six.jobTimeout()).contains(Duration.ofHours(6));
        assertThat(six).isEqualTo(HandlerOptions.builder().jobTimeout(Duration.ofHours(6)).build())
                .hasToString("HandlerOptions[jobTimeout=PT6H, retryPolicy=the worker's]");

        Worker.Builder b = Worker.builder().handler("export", job -> { }, six);
        assertThatThrownBy(() -> b.handler("other", job -> { }, null)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("options for type 'other' must not be null");
        assertThatThrownBy(() -> b.handler("export", job -> { }, six)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("handler for type 'export' is already set: one handler per type");
        assertThatThrownBy(() -> b.handler("export", job -> { })).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> b.handler(" ", job -> { }, six)).hasMessage("handler type must be non-blank, but was ' '");
        b.handler("other", job -> { }, HandlerOptions.builder().retryPolicy(RetryPolicy.noRetry()).build());
    }

    @Test
    void buildRequiresRedisQueueAndHandler() {
        // A missing required setting is an IllegalStateException, as for JobProducer.builder().build().
        assertThatThrownBy(() -> Worker.builder().queue("q").handler("t", j -> { }).build())
                .isInstanceOf(IllegalStateException.class)
                .hasMessage("redis must be set: Worker.builder().redis(URI.create(\"redis://host:6379\"))");
        assertThatThrownBy(() -> Worker.builder().redis(URI.create("redis://127.0.0.1:1")).handler("t", j -> { }).build())
                .isInstanceOf(IllegalStateException.class)
                .hasMessage("at least one queue must be set: Worker.builder().queue(\"name\")");
        assertThatThrownBy(() -> Worker.builder().redis(URI.create("redis://127.0.0.1:1")).queue("q").build())
                .isInstanceOf(IllegalStateException.class)
                .hasMessage("at least one handler must be set: Worker.builder().handler(\"type\", job -> ...)");
    }

    @Test
    void quickStartBuildsWithoutRedisAndClosesCleanly() {
        Worker worker = Worker.builder()
                .redis(URI.create("redis://127.0.0.1:1"))
                .queue("images")
                .queues("thumbs", "images")
                .handler("render", job -> { })
                .concurrency(4)
                .stateDir(dir)
                .build();
        assertThat(worker.queues()).containsExactly("images", "thumbs");
        assertThat(worker.name()).isNotBlank();
        worker.start();
        worker.close();
        worker.close();
    }

    /** metrics() gives the registry (its own when none was given); a second open worker on one registry is warned of. */
    @Test
    void theRegistryIsReachableAndASecondOpenWorkerOnItIsWarnedOf() {
        com.codahale.metrics.MetricRegistry shared = new com.codahale.metrics.MetricRegistry();
        Worker.Builder b = Worker.builder().redis(URI.create("redis://127.0.0.1:1")).queue("q").handler("t", job -> { })
                .stateDir(dir);
        try (io.spillway.testing.LogCapture logs = new io.spillway.testing.LogCapture()) {
            Worker own = b.build();
            assertThat(own.metrics()).isNotNull().isNotSameAs(shared);
            Worker first = b.metricRegistry(shared).build();
            assertThat(first.metrics()).isSameAs(shared);
            assertThat(logs.lines("already holds the metrics of another open worker")).isEmpty();
            Worker second = b.build();
            assertThat(logs.lines("already holds the metrics of another open worker")).hasSize(1);
            first.close();
            second.close();
            second.close(); // idempotent: counted down once
            Worker third = b.build();
            assertThat(logs.lines("already holds the metrics of another open worker")).as("both closed").hasSize(1);
            third.close();
            own.close();
        }
    }

    @Test
    void awaitClosedBlocksUntilCloseFromAnotherThreadHasFinished() throws Exception {
        Worker worker = Worker.builder()
                .redis(URI.create("redis://127.0.0.1:1"))
                .queue("q")
                .handler("t", job -> { })
                .stateDir(dir)
                .build();
        worker.start();
        worker.start(); // a second start does nothing
        assertThat(worker.awaitClosed(Duration.ofMillis(200))).as("not closed yet").isFalse();
        java.util.concurrent.atomic.AtomicBoolean returned = new java.util.concurrent.atomic.AtomicBoolean();
        java.util.concurrent.atomic.AtomicReference<io.spillway.core.HealthState> stateThen = new java.util.concurrent.atomic.AtomicReference<>();
        Thread waiter = new Thread(() -> {
            try {
                worker.awaitClosed();
                stateThen.set(worker.health());
                returned.set(true);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "await-closed");
        waiter.start();
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(2)).until(() -> waiter.getState() == Thread.State.WAITING);
        assertThat(returned).as("still waiting before close()").isFalse();
        Thread closer = new Thread(worker::close, "closer");
        closer.start();
        waiter.join(5_000);
        assertThat(returned).as("returned once close() had finished").isTrue();
        assertThat(stateThen.get()).as("close() had finished").isEqualTo(io.spillway.core.HealthState.CLOSED);
        closer.join(5_000);
        assertThat(worker.awaitClosed(Duration.ZERO)).isTrue();
        worker.awaitClosed();
        assertThatThrownBy(worker::start).isInstanceOf(IllegalStateException.class).hasMessageContaining("is closed");
        assertThatThrownBy(() -> worker.awaitClosed(null)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void durationsSoLongTheyWouldOverflowAreRefusedNamingTheSettingAndValue() {
        Duration forever = ChronoUnit.FOREVER.getDuration();
        Duration maxMillis = Duration.ofMillis(Long.MAX_VALUE);
        Worker.Builder b = Worker.builder();
        assertThatThrownBy(() -> b.jobTimeout(maxMillis)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("jobTimeout must be <= PT8760H, but was " + maxMillis);
        assertThatThrownBy(() -> b.completedRetention(forever)).hasMessage("completedRetention must be <= PT8760H, but was " + forever);
        assertThatThrownBy(() -> b.shutdownTimeout(forever)).hasMessage("shutdownTimeout must be <= PT8760H, but was " + forever);
        assertThatThrownBy(() -> b.stuckAfter(forever)).hasMessage("stuckAfter must be <= PT8760H, but was " + forever);
        assertThatThrownBy(() -> b.leaseDuration(forever)).hasMessage("leaseDuration must be <= PT8760H, but was " + forever);
        assertThatThrownBy(() -> b.schedulerInterval(Duration.ofHours(2))).hasMessage("schedulerInterval must be <= PT1H, but was PT2H");
        assertThatThrownBy(() -> b.fetchBlock(forever)).hasMessage("fetchBlock must be <= PT10S, but was " + forever);
    }

    @Test
    void everySetterRefusesNullWithAnIllegalArgumentExceptionNamingTheSetting() {
        Worker.Builder b = Worker.builder();
        // The message each setter's null gets, for each setter.
        Map<String, org.assertj.core.api.ThrowableAssert.ThrowingCallable> setters = new java.util.LinkedHashMap<>();
        setters.put("redis must not be null", () -> b.redis((URI) null));
        setters.put("redis must not be null ", () -> b.redis((io.spillway.core.RedisConnection) null));
        setters.put("queue must not be null", () -> b.queue(null));
        setters.put("queues must not be null", () -> b.queues((String[]) null));
        setters.put("queue must not be null ", () -> b.queues("a", null));
        setters.put("handler type must not be null", () -> b.handler(null, job -> { }));
        setters.put("handler for type 't2' must not be null", () -> b.handler("t2", null));
        setters.put("retryPolicy must not be null", () -> b.retryPolicy(null));
        setters.put("stateDir must not be null", () -> b.stateDir(null));
        setters.put("metricRegistry must not be null", () -> b.metricRegistry(null));
        setters.put("name must not be null", () -> b.name(null));
        setters.put("leaseDuration must not be null", () -> b.leaseDuration(null));
        setters.put("shutdownTimeout must not be null", () -> b.shutdownTimeout(null));
        setters.put("jobTimeout must not be null", () -> b.jobTimeout(null));
        setters.put("completedRetention must not be null", () -> b.completedRetention(null));
        setters.put("fetchBlock must not be null", () -> b.fetchBlock(null));
        setters.put("schedulerInterval must not be null", () -> b.schedulerInterval(null));
        setters.put("stuckAfter must not be null", () -> b.stuckAfter(null));
        setters.forEach((message, call) -> assertThatThrownBy(call).as(message)
                .isInstanceOf(IllegalArgumentException.class).hasMessage(message.strip()));
    }

    @Test
    void theLongestAcceptedDurationsStartAndCloseCleanly() {
        Duration year = Duration.ofDays(365);
        Worker worker = Worker.builder()
                .redis(URI.create("redis://127.0.0.1:1"))
                .queue("q")
                .handler("t", job -> { })
                .stateDir(dir)
                .jobTimeout(year)
                .completedRetention(year)
                .shutdownTimeout(year)
                .stuckAfter(year)
                .leaseDuration(year)
                .schedulerInterval(Duration.ofHours(1))
                .fetchBlock(Duration.ofSeconds(10))
                .retryPolicy(RetryPolicy.of(3, year, year))
                .build();
        worker.start();
        worker.close();
    }

    @Test
    void aNullConnectionIsBadInputLikeAnyOtherAnIllegalArgumentNamingIt() {
        assertThatThrownBy(() -> Queues.connect((RedisConnection) null))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("redis must not be null");
        assertThatThrownBy(() -> DeadLetters.connect((RedisConnection) null))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("redis must not be null");
        assertThatThrownBy(() -> DeadLetters.connect((URI) null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("must not be null");
    }
}
