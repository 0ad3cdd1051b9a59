package io.spillway.core;

import java.util.regex.Pattern;

/**
 * A queue's name. It becomes the Redis hash tag of every key of the queue ({@code spillway:{name}:…}),
 * so it is limited to characters that cannot break that layout: letters, digits, {@code . _ -} and
 * {@code :}, 1 to 100 characters.
 *
 * @param value the name
 */
public record QueueName(String value) {
    /** The characters a queue name may hold. */
    public static final Pattern VALID = Pattern.compile("[A-Za-z0-9._:-]{1,100}");

    public QueueName {
        if (value == null) {
            throw new IllegalArgumentException("queue must not be null");
        }
        if (!valid(value, 100, false)) {
            throw new IllegalArgumentException("queue must " + (value.isBlank() ? "not be blank" : "match " + VALID.pattern())
                    + ", but was '" + value + "'");
        }
    }

    /** {@link #VALID} (and {@link JobId#VALID}), checked without a regex: this runs for every job. */
    static boolean valid(String s, int maxLength, boolean idChars) {
        int n = s.length();
        if (n == 0 || n > maxLength) {
            return false;
        }
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '.' || c == '_' || c == '-' || c == ':'
                    || (idChars && (c == '@' || c == '/' || c == '+' || c == '='));
            if (!ok) {
                return false;
            }
        }
        return true;
    }

    public static QueueName of(String value) {
        return new QueueName(value);
    }

    // equals and hashCode written out: a record's generated ones are bootstrapped (java.lang.runtime.ObjectMethods)
    // at their first call, which took 5-15 ms; for a queue name that first call could be the first spool of an
    // outage, the moment a caller must not wait.
    @Override
    public boolean equals(Object o) {
        return o == this || (o instanceof QueueName other && value.equals(other.value));
    }

    @Override
    public int hashCode() {
        return value.hashCode();
    }

    @Override
    public String toString() {
        return value;
    }
}
