package io.spillway.watchdog.internal;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(10)
class RedisChildTest {

    @Test
    void majorVersionReadsWhatRedisBinaryVersionReturns() {
        assertThat(RedisChild.majorVersion("6.2.11")).isEqualTo(6);
        assertThat(RedisChild.majorVersion("7.0.15")).isEqualTo(7);
        assertThat(RedisChild.majorVersion("255.255.255")).isEqualTo(255); // an unstable build: newer than any release
        // No v= field: RedisBinary.version returns the whole first line, which says nothing usable.
        assertThat(RedisChild.majorVersion("wrapper: starting redis")).isEqualTo(-1);
        assertThat(RedisChild.majorVersion("")).isEqualTo(-1);
    }
}
