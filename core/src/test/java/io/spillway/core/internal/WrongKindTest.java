package io.spillway.core.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.spillway.core.RedisConnection;
import org.junit.jupiter.api.Test;

/** Which probe problems make the reconnect loop ask the server what it is (the question itself: the *WrongKindIT). */
class WrongKindTest {
    private static final RedisConnection REDIS = RedisConnection.of("redis://127.0.0.1:26379");
    private static final RedisConnection CLUSTER = RedisConnection.of("redis-cluster://127.0.0.1:26379");
    private static final RedisConnection SENTINEL = RedisConnection.of("redis-sentinel://127.0.0.1:6379#orders");

    @Test
    void aCommandTheServerDoesNotKnowSuggestsTheWrongKind() {
        // Redis 6.2's and 7's words, from a sentinel given as redis:// and as redis-cluster://.
        assertThat(WrongKind.suggests(REDIS, "ERR unknown command `SET`, with args beginning with: `spillway:probe`, ")).isTrue();
        assertThat(WrongKind.suggests(CLUSTER, "ERR unknown command 'CLUSTER', with args beginning with: 'SLOTS' ")).isTrue();
        // A Redis given as redis-sentinel://: only SENTINEL refused says so.
        assertThat(WrongKind.suggests(SENTINEL, "no sentinel of master 'orders' answered (sentinel 127.0.0.1:6379: ERR"
                + " unknown command `SENTINEL`, with args beginning with: `GET-MASTER-ADDR-BY-NAME`, `orders`, )")).isTrue();
        assertThat(WrongKind.suggests(SENTINEL, "ERR unknown command `SET`, with args beginning with: ")).isFalse();
    }

    @Test
    void anOutageOrAProblemAlreadyNamedAsksNothing() {
        assertThat(WrongKind.suggests(REDIS, "connection refused")).isFalse();
        assertThat(WrongKind.suggests(REDIS, null)).isFalse();
        assertThat(WrongKind.suggests(SENTINEL, "no sentinel knows master 'orders' (redis-sentinel://127.0.0.1:6379#orders)"))
                .isFalse();
        assertThat(WrongKind.suggests(REDIS, Failures.WRONG_KIND + "redis://127.0.0.1:26379 is a Redis Sentinel (it"
                + " monitors orders): write redis-sentinel://127.0.0.1:26379#orders; ERR unknown command")).isFalse();
        assertThat(Failures.isWrongKind(Failures.WRONG_KIND + "…")).isTrue();
        assertThat(Failures.isWrongKind(Failures.CLUSTER_MISMATCH + "…")).isTrue();
        assertThat(Failures.isMisconfiguration(Failures.WRONG_KIND + "…")).isTrue();
        assertThat(Failures.isWrongKind("ERR unknown command `SET`")).isFalse();
    }
}
