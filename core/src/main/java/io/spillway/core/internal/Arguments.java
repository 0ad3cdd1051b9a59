package io.spillway.core.internal;

/** Checks of a public method's arguments: bad input is an {@link IllegalArgumentException} naming the argument. */
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
