package io.spillway.worker.internal;

import static org.assertj.core.api.Assertions.assertThat;

import com.codahale.metrics.MetricRegistry;
import io.spillway.core.QueueName;
import io.spillway.core.RedisConnection;
import io.spillway.worker.RetryPolicy;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(value = 20, unit = TimeUnit.SECONDS)
class WorkerRuntimeTest {
    @TempDir
    Path dir;

    @Test
    void consumersGoneWithoutClosingAreForgottenAfterAnHourOrTenLeases() {
        assertThat(WorkerRuntime.forgetConsumersAfterMs(Duration.ofSeconds(30))).isEqualTo(3_600_000);
        assertThat(WorkerRuntime.forgetConsumersAfterMs(Duration.ofMinutes(10))).isEqualTo(6_000_000);
        assertThat(WorkerRuntime.forgetConsumersAfterMs(Duration.ofDays(365))).isEqualTo(3_650L * 24 * 3_600_000);
    }

    @Test
    void durationConversionsSaturateInsteadOfOverflowing() {
        Duration forever = ChronoUnit.FOREVER.getDuration();
        assertThat(WorkerRuntime.nanos(forever)).isEqualTo(Long.MAX_VALUE / 4);
        assertThat(WorkerRuntime.nanos(Duration.ofMillis(Long.MAX_VALUE))).isEqualTo(Long.MAX_VALUE / 4);
        assertThat(WorkerRuntime.millis(forever)).isEqualTo(TimeUnit.NANOSECONDS.toMillis(Long.MAX_VALUE / 4));
        assertThat(WorkerRuntime.nanos(Duration.ofSeconds(3))).isEqualTo(3_000_000_000L);
        assertThat(WorkerRuntime.millis(Duration.ofDays(365))).isEqualTo(Duration.ofDays(365).toMillis());
        assertThat(WorkerRuntime.nanos(Duration.ofSeconds(-1))).isZero();
        // A deadline that far ahead still compares correctly with System.nanoTime().
        long deadline = System.nanoTime() + WorkerRuntime.nanos(forever);
        assertThat(System.nanoTime() - deadline).isNegative();
    }

    @Test
    void waitsInLogLinesReadAsWords() {
        assertThat(WorkerRuntime.inWords(0)).isEqualTo("0 ms");
        assertThat(WorkerRuntime.inWords(850)).isEqualTo("850 ms");
        assertThat(WorkerRuntime.inWords(1_000)).isEqualTo("1 s");
        assertThat(WorkerRuntime.inWords(12_480)).isEqualTo("12.5 s");
        assertThat(WorkerRuntime.inWords(59_990)).isEqualTo("60 s");
        assertThat(WorkerRuntime.inWords(270_000)).isEqualTo("4 min 30 s");
        assertThat(WorkerRuntime.inWords(300_000)).isEqualTo("5 min");
        assertThat(WorkerRuntime.inWords(7_500_000)).isEqualTo("2 h 5 min");
    }

    /** Settings made without the builder's bounds (internal callers): the runtime neither throws nor breaks. */
    @Test
    void settingsPastTheBuilderBoundsStartAndCloseWithoutOverflow() {
        Duration forever = ChronoUnit.FOREVER.getDuration();
        Settings settings = new Settings(RedisConnection.of(URI.create("redis://127.0.0.1:1")), List.of(QueueName.of("q")),
                Map.of("t", job -> { }), 1, -1, RetryPolicy.ofDefaults(), forever, forever, forever, forever, 100,
                Duration.ofMillis(100), forever, forever, dir, "runtime-test", new MetricRegistry(), false);
        WorkerRuntime runtime = new WorkerRuntime(settings);
        runtime.start();
        runtime.close();
    }
}
