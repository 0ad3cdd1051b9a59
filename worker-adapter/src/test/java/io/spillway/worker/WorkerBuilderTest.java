package io.spillway.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
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
    void buildRequiresRedisQueueAndHandler() {
        assertThatThrownBy(() -> Worker.builder().queue("q").handler("t", j -> { }).build()).hasMessage("redis must be set, but was null");
        assertThatThrownBy(() -> Worker.builder().redis(URI.create("redis://127.0.0.1:1")).handler("t", j -> { }).build())
                .hasMessage("at least one queue must be set, but was none");
        assertThatThrownBy(() -> Worker.builder().redis(URI.create("redis://127.0.0.1:1")).queue("q").build())
                .hasMessage("at least one handler must be set, but was none");
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
}
