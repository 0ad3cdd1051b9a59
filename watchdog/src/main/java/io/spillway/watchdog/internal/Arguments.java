package io.spillway.watchdog.internal;

/**
 * Checks of a public method's arguments: bad input is an {@link IllegalArgumentException} naming the argument. The
 * same as core's {@code io.spillway.core.internal.Arguments}: the watchdog depends on no other Spillway module (it runs
 * beside redis-server, on its own), so it keeps its own copy of these few lines.
 */
public final class Arguments {
    private Arguments() {
    }

    /**
     * @return {@code value}
     * @throws IllegalArgumentException "{@code name} must not be null" when it is null
     */
    public static <T> T notNull(T value, String name) {
        if (value == null) {
            throw new IllegalArgumentException(name + " must not be null");
        }
        return value;
    }
}
