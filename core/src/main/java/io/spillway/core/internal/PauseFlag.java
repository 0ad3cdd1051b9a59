package io.spillway.core.internal;

import java.time.Instant;
import java.util.Optional;

/**
 * The value of {@code spillway:{q}:paused} ({@link RedisKeys#paused}): {@code <epoch ms>|<reason>}, written by
 * {@code Queues.pause} and read by workers and {@code spillway status}. The one place that knows its layout.
 */
public final class PauseFlag {
    private PauseFlag() {
    }

    /** The value for a pause at {@code atMillis} with {@code reason} (empty for none). */
    public static String value(long atMillis, String reason) {
        return atMillis + "|" + (reason == null ? "" : reason);
    }

    /** When the pause began; empty if the value holds no time (written by something other than Spillway). */
    public static Optional<Instant> since(String value) {
        int bar = value.indexOf('|');
        try {
            return Optional.of(Instant.ofEpochMilli(Long.parseLong(bar < 0 ? value : value.substring(0, bar))));
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }

    /** The reason given, empty for none; a value that holds no time is all reason. */
    public static String reason(String value) {
        int bar = value.indexOf('|');
        return since(value).isEmpty() ? value : bar < 0 ? "" : value.substring(bar + 1);
    }
}
