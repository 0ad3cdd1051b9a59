package io.spillway.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 10, unit = TimeUnit.SECONDS)
class RetryPolicyTest {
    @Test
    void backoffGrowsExponentiallyWithJitterAndIsCapped() {
        RetryPolicy p = RetryPolicy.of(10, Duration.ofSeconds(1), Duration.ofSeconds(10));
        assertThat(p.ceiling(1)).isEqualTo(Duration.ofSeconds(1));
        assertThat(p.ceiling(2)).isEqualTo(Duration.ofSeconds(2));
        assertThat(p.ceiling(4)).isEqualTo(Duration.ofSeconds(8));
        assertThat(p.ceiling(5)).isEqualTo(Duration.ofSeconds(10));
        assertThat(p.ceiling(500)).isEqualTo(Duration.ofSeconds(10));
        for (int i = 0; i < 1000; i++) {
            assertThat(p.backoff(3).toMillis()).isBetween(2000L, 4000L);
        }
    }

    @Test
    void canRetryUntilTheLastAttempt() {
        RetryPolicy p = RetryPolicy.of(3, Duration.ofMillis(10), Duration.ofMillis(10));
        assertThat(p.canRetry(1)).isTrue();
        assertThat(p.canRetry(2)).isTrue();
        assertThat(p.canRetry(3)).isFalse();
        assertThat(RetryPolicy.noRetry().canRetry(1)).isFalse();
    }

    @Test
    void badValuesFailFastNamingTheValue() {
        assertThatThrownBy(() -> RetryPolicy.of(0, Duration.ofSeconds(1), Duration.ofSeconds(1)))
                .hasMessage("retry maxAttempts must be >= 1, but was 0");
        assertThatThrownBy(() -> RetryPolicy.of(3, Duration.ZERO, Duration.ofSeconds(1)))
                .hasMessageContaining("but was PT0S");
        assertThatThrownBy(() -> RetryPolicy.of(3, Duration.ofSeconds(2), Duration.ofSeconds(1)))
                .hasMessageContaining("but was PT1S");
        assertThatThrownBy(() -> new RetryPolicy(3, Duration.ofSeconds(1), Duration.ofSeconds(1), 0.5))
                .hasMessage("retry multiplier must be >= 1, but was 0.5");
    }

    @Test
    void aMaxBackoffSoLongItWouldOverflowIsRefused() {
        Duration forever = java.time.temporal.ChronoUnit.FOREVER.getDuration();
        assertThatThrownBy(() -> RetryPolicy.of(3, Duration.ofSeconds(1), forever)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("retry maxBackoff must be <= PT8760H, but was " + forever);
        assertThat(RetryPolicy.of(3, Duration.ofDays(365), Duration.ofDays(365)).backoff(9)).isBetween(Duration.ofDays(182), Duration.ofDays(365));
    }
}
