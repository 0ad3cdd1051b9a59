package io.spillway.watchdog.internal;

import java.io.IOException;

/**
 * The redis-server is older than the data directory's format: started, it would ignore the data and start empty.
 * Like a program that cannot run, trying again with the same binary does not help.
 */
public final class RedisTooOldException extends IOException {
    public RedisTooOldException(String message) {
        super(message);
    }
}
