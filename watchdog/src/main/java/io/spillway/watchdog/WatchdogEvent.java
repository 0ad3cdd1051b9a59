package io.spillway.watchdog;

import java.time.Duration;
import java.time.Instant;

/**
 * Something that happened to a supervised child. Listeners registered with
 * {@link Watchdog#onEvent(java.util.function.Consumer)} receive these on the watchdog's own thread; they
 * must be fast and must not throw (an exception is caught and logged at DEBUG).
 */
public sealed interface WatchdogEvent {
    /** The child's name, e.g. {@code "redis-server on port 6379"}. */
    String child();

    Instant at();

    /** The child is up: started and (for Redis) answering PING. {@code downtime} is zero on the first start. */
    record Up(String child, Instant at, long pid, int restarts, Duration downtime) implements WatchdogEvent {
    }

    /** The child process exited by itself (or was killed by someone else). */
    record Exited(String child, Instant at, long pid, int exitCode) implements WatchdogEvent {
    }

    /** The child stopped answering for {@code silentFor}: the watchdog kills it with SIGKILL. */
    record Hung(String child, Instant at, long pid, Duration silentFor) implements WatchdogEvent {
    }

    /**
     * A start failed: the binary did not run, exited during start, never answered within the start timeout,
     * or answered and then fell silent for the hang timeout before it was ready.
     */
    record StartFailed(String child, Instant at, String reason) implements WatchdogEvent {
    }

    /** The watchdog will start the child again after {@code delay}. */
    record Restarting(String child, Instant at, int attempt, Duration delay) implements WatchdogEvent {
    }

    /** Too many restarts in the crash-loop window: an operator should look. */
    record CrashLoop(String child, Instant at, int restartsInWindow, Duration window, String lastReason)
            implements WatchdogEvent {
    }

    /**
     * The watchdog gave up by itself, for a reason no restart can fix; a {@link Stopped} follows. It gives up
     * only on a child that was never up (on later failures it keeps restarting), or when its own loop fails.
     */
    record Failed(String child, Instant at, Cause cause, String reason) implements WatchdogEvent {
        /** Why the watchdog gave up. */
        public enum Cause {
            /** The program cannot be run at all: missing, not executable, not a program. */
            CANNOT_RUN,
            /** Another process holds the child's port (Redis: it answered instead of the server we started). */
            PORT_IN_USE,
            /**
             * The redis-server is too old for its data directory: a Redis 7 multi-part AOF
             * ({@code appendonlydir/*.manifest}) and a binary older than 7.0, which would start with no data.
             */
            REDIS_TOO_OLD,
            /**
             * Redis refused its configuration and exited at once: a directive or value it does not take (FATAL CONFIG
             * FILE ERROR), or a bind address that is not of this machine (Cannot assign requested address).
             */
            BAD_CONFIG,
            /** The watchdog's own supervision loop failed (a bug, or an event listener that threw an Error). */
            LOOP_FAILED
        }
    }

    /** The watchdog was closed (or gave up, see {@link Failed}) and the child is gone. */
    record Stopped(String child, Instant at, boolean killed) implements WatchdogEvent {
    }
}
