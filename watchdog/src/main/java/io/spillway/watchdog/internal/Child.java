package io.spillway.watchdog.internal;

import java.io.IOException;

/**
 * What a {@link Supervisor} runs: how to launch it and, optionally, how to ask whether it answers.
 * Implementations are used by the supervisor's thread only.
 */
public interface Child {
    /** The answer to one probe. */
    enum Answer {
        /** Healthy and ready. */
        READY,
        /** Alive (it replied) but not ready, e.g. Redis loading its AOF or refusing us (NOAUTH). */
        ALIVE,
        /** No reply within the probe timeout. */
        SILENT,
        /** Something replied, but not the process this child launched: another one holds its port. */
        FOREIGN
    }

    /** The child's name for logs and events, e.g. "redis-server on port 6379". */
    String name();

    /** Whether {@link #probe()} means anything; without it only exits are detected. */
    boolean probes();

    /**
     * Starts one instance.
     *
     * @throws CannotRunException if the program itself cannot be run (missing, not executable)
     * @throws IOException for anything else that stopped the launch
     */
    Process launch() throws IOException;

    /** Asks the running instance whether it answers; only called while the process is alive. */
    Answer probe();

    /** What the last probe heard, in a few words for a log line (an error reply, who answered instead). */
    String lastReply();

    /** Extra words for a failed start (e.g. the last line of the child's log), or "". */
    String failureHint();

    /**
     * After a failed start: who holds the port the child needed (so that no restart can help), or null if
     * that was not the cause.
     */
    String portConflict();

    /**
     * After a start that exited by itself: why its configuration cannot work (in the child's own words), so that no
     * restart can help, or null if that was not the cause.
     */
    default String badConfig() {
        return null;
    }

    /** Releases what the child holds (connections, locks), after the last instance is stopped. */
    void release();
}
