package io.spillway.core.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import org.junit.jupiter.api.Test;

class PauseFlagTest {
    @Test
    void aValueHoldsItsTimeAndReasonAReasonMayHoldBars() {
        String v = PauseFlag.value(1_700_000_000_000L, "db migration | INC-7");
        assertThat(v).isEqualTo("1700000000000|db migration | INC-7");
        assertThat(PauseFlag.since(v)).contains(Instant.ofEpochMilli(1_700_000_000_000L));
        assertThat(PauseFlag.reason(v)).isEqualTo("db migration | INC-7");
        assertThat(PauseFlag.reason(PauseFlag.value(5, null))).isEmpty();
    }

    @Test
    void aValueWithoutATimeIsAllReason() {
        assertThat(PauseFlag.since("1")).contains(Instant.ofEpochMilli(1));
        assertThat(PauseFlag.reason("1")).isEmpty();
        assertThat(PauseFlag.since("set by hand")).isEmpty();
        assertThat(PauseFlag.reason("set by hand")).isEqualTo("set by hand");
        assertThat(PauseFlag.reason("x|y")).isEqualTo("x|y");
    }
}
