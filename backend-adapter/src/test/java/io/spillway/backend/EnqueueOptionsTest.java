package io.spillway.backend;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Options fail fast at build time, naming the field and value, so that no enqueue can fail on them later. */
class EnqueueOptionsTest {
    @Test
    void delaysAndRunAtTimesOutsideTheirRangeAreRejected() {
        assertThatThrownBy(() -> EnqueueOptions.builder().delay(Duration.ofMillis(Long.MAX_VALUE)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("delay");
        assertThatThrownBy(() -> EnqueueOptions.builder().delay(Duration.ofSeconds(-1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("delay");
        assertThatThrownBy(() -> EnqueueOptions.builder().runAt(Instant.MAX))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("runAt");
        assertThatThrownBy(() -> EnqueueOptions.builder().runAt(Instant.parse("1969-12-31T23:59:59Z")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("runAt");
        long now = System.currentTimeMillis();
        EnqueueOptions longest = EnqueueOptions.builder().delay(EnqueueOptions.MAX_DELAY).build();
        assertThat(longest.runAtMillis(now)).as("the longest delay runs at the latest run-at, not past it")
                .isEqualTo(EnqueueOptions.MAX_RUN_AT.toEpochMilli());
        assertThat(longest.runAtMillis(0)).isEqualTo(EnqueueOptions.MAX_DELAY.toMillis());
        assertThat(EnqueueOptions.builder().runAt(EnqueueOptions.MAX_RUN_AT).build().runAtMillis(now))
                .isEqualTo(EnqueueOptions.MAX_RUN_AT.toEpochMilli());
        assertThat(EnqueueOptions.builder().runAt(Instant.ofEpochMilli(5)).build().runAtMillis(now)).isEqualTo(5);
    }

    @Test
    void aDelayAndARunAtAreExclusive() {
        // Either order: one of the two would otherwise be dropped without a word.
        assertThatThrownBy(() -> EnqueueOptions.builder().delay(Duration.ofMinutes(5)).runAt(Instant.ofEpochSecond(2_000_000_000L)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("exclusive").hasMessageContaining("PT5M");
        assertThatThrownBy(() -> EnqueueOptions.builder().runAt(Instant.ofEpochSecond(2_000_000_000L)).delay(Duration.ofMinutes(5)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("exclusive").hasMessageContaining("2033");
    }

    @Test
    void headersOverTheRecordsLimitAreRejectedByName() {
        String big = "x".repeat(EnqueueOptions.MAX_HEADER_BYTES + 1);
        assertThatThrownBy(() -> EnqueueOptions.builder().header("trace", big))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'trace'").hasMessageContaining("65536");
        // 21,846 three-byte characters: under the limit in characters, over it in UTF-8 bytes
        String wide = "\u20ac".repeat(21_846);
        assertThatThrownBy(() -> EnqueueOptions.builder().header("euro", wide))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'euro'").hasMessageContaining("65538");
        assertThatThrownBy(() -> EnqueueOptions.builder().header(big, "v"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("header name");
        assertThatThrownBy(() -> EnqueueOptions.builder().headers(null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("headers");
        String fits = "x".repeat(EnqueueOptions.MAX_HEADER_BYTES);
        assertThat(EnqueueOptions.builder().headers(Map.of("k", fits)).build().headers()).containsEntry("k", fits);
    }
}
