package io.spillway.bench.chaos;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The faults the harness injects. Each one is applied, held for a seeded random time in
 * {@code [minHoldMs, maxHoldMs]}, then healed; a fault with no hold (client kill) is instant.
 */
enum FaultKind {
    /** SIGKILL of redis-server, down for the hold, then restarted on its data dir (AOF; empty without persistence). */
    REDIS_KILL(500, 4_000),
    /** SIGSTOP of redis-server for the hold, then SIGCONT: clients see timeouts, not errors. */
    REDIS_HANG(500, 4_000),
    /** SHUTDOWN (AOF fsynced), down for the hold, restarted. */
    REDIS_RESTART(200, 2_000),
    /** CLIENT KILL of every client connection. Instant. */
    CLIENT_KILL(0, 0),
    /** {@code maxmemory} set below the memory in use (writes answer OOM) for the hold, then unset. */
    REDIS_OOM(1_000, 5_000),
    /** The proxy closes every connection and refuses new ones for the hold. */
    PROXY_CUT(500, 3_000),
    /** The proxy accepts and reads but never forwards or answers, for the hold. */
    PROXY_BLACKHOLE(500, 4_000),
    /** The proxy delays every chunk by 20 to 200 ms for the hold. */
    PROXY_SLOW(1_000, 5_000),
    /** The proxy forwards commands but swallows every reply (writes applied, outcome unknown), for the hold. */
    PROXY_MUTE(300, 2_000),
    /** SIGKILL of one worker JVM, restarted after the hold on its state dir. */
    WORKER_KILL(200, 3_000),
    /** SIGTERM of one worker JVM (graceful close), restarted after the hold. */
    WORKER_RESTART(0, 1_000),
    /** SIGKILL of one producer JVM, restarted after the hold on its journal dir. */
    PRODUCER_KILL(200, 3_000),
    /** SIGTERM of one producer JVM (graceful close), restarted after the hold. */
    PRODUCER_RESTART(0, 1_000);

    final long minHoldMs;
    final long maxHoldMs;

    FaultKind(long minHoldMs, long maxHoldMs) {
        this.minHoldMs = minHoldMs;
        this.maxHoldMs = maxHoldMs;
    }

    /** The command-line name: {@code redis-kill}, {@code proxy-blackhole}, ... */
    String label() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    static FaultKind fromLabel(String label) {
        for (FaultKind k : values()) {
            if (k.label().equals(label.trim().toLowerCase(Locale.ROOT))) {
                return k;
            }
        }
        throw new IllegalArgumentException("unknown fault kind '" + label + "'; known: "
                + Arrays.stream(values()).map(FaultKind::label).collect(Collectors.joining(", ")));
    }
}
