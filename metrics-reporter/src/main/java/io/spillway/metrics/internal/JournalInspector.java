package io.spillway.metrics.internal;

import io.spillway.core.SpillwayException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Looks into a producer's journal directory from outside the producer: reads its backlog with a
 * {@link JournalReader} (which writes nothing) and closes it at once.
 *
 * <p>Invariants: a journal held by a live producer (its lock is taken) is read all the same, read-only and without
 * the lock ({@link JournalReader#openEvenInUse}), and marked {@link Look#inUse()}: its figures are those of the
 * moment, and that producer replays it itself once Redis is healthy. A read of such a journal that fails (the
 * producer deleted a cycle file under it) is tried again a few times, then reported as in use with its backlog
 * unknown ({@code status} "locked"), never as empty. The lock of a journal nobody holds is held only for the moment of
 * the read, but a producer starting in exactly that moment gets {@code JournalLockedException}; callers keep reads
 * rare. Nothing is ever created: a directory that does not exist is reported missing, one that holds files but no
 * journal is reported as an error, and an empty one as empty (no producer has opened it yet).
 */
public final class JournalInspector {
    /** Reads of a journal in use before its backlog is called unknown: a failed one is a file deleted under the reader. */
    private static final int IN_USE_ATTEMPTS = 3;

    private JournalInspector() {
    }

    /**
     * What one look found. {@code status} is "ok", "empty" (an empty directory), "locked" (in use by a running
     * producer, and it could not be read: {@code problem} says why), "missing" or "error: …" (not a journal, or it
     * cannot be read). {@code inUse}: a running producer holds the directory (its figures, when "ok", are those of
     * the moment of the look). {@code oldestEnqueuedAt} is when the oldest job not yet replayed was enqueued (epoch
     * milliseconds), -1 when there is none: its age grows between looks, so it is computed when asked
     * ({@link #oldestAgeMillis(long)}), not at the look.
     */
    public record Look(Path dir, String status, long backlog, long backlogBytes, long oldestEnqueuedAt,
                       Map<String, Long> backlogByQueue, boolean inUse, String problem) {
        /** Age at {@code nowMillis} of the oldest job not yet replayed, 0 when there is none. */
        public long oldestAgeMillis(long nowMillis) {
            return oldestEnqueuedAt < 0 ? 0 : Math.max(0, nowMillis - oldestEnqueuedAt);
        }

        /** Read, and its figures are true (possibly zero), as of the look. */
        public boolean ok() {
            return status.equals("ok") || status.equals("empty");
        }

        /** Held by a live producer (read or not), which replays it itself and exports its own journal gauges. */
        public boolean locked() {
            return inUse;
        }

        /** Missing or unreadable, and no producer holds it: its figures are unknown, not zero. */
        public boolean failed() {
            return !ok() && !inUse;
        }
    }

    public static Look look(Path dir) {
        if (!Files.exists(dir)) {
            return failed(dir, "missing");
        }
        if (!Files.isDirectory(dir)) {
            return failed(dir, "error: not a directory");
        }
        try {
            if (!JournalReader.isJournal(dir) && JournalReader.isEmptyDirectory(dir)) {
                return new Look(dir, "empty", 0, 0, -1, Map.of(), false, null);
            }
        } catch (IOException e) {
            return failed(dir, "error: cannot read the directory: " + e.getMessage());
        }
        String problem = null;
        for (int attempt = 1; attempt <= IN_USE_ATTEMPTS; attempt++) {
            boolean inUse = false;
            try (JournalReader r = JournalReader.openEvenInUse(dir)) {
                inUse = r.inUse();
                JournalReader.Backlog b = r.backlog();
                return new Look(dir, "ok", b.jobs(), b.bytes(), b.oldestEnqueuedAt(), b.byQueue(), inUse, null);
            } catch (IllegalArgumentException e) {
                return failed(dir, "error: not a Spillway journal (no " + JournalReader.METADATA_FILE + " or "
                        + JournalReader.POSITIONS_FILE + " in it)");
            } catch (RuntimeException e) {
                // SpillwayException, or Chronicle's own from a damaged queue file: unreadable, not empty.
                String why = e instanceof SpillwayException ? e.getMessage() : "cannot be read: " + e;
                if (!inUse && !held(dir)) {
                    return failed(dir, "error: " + why);
                }
                // A live producer may have deleted a cycle file wholly behind its replay position under the reader.
                problem = why;
            }
        }
        return new Look(dir, "locked", 0, 0, -1, Map.of(), true, problem);
    }

    private static boolean held(Path dir) {
        try {
            return JournalReader.isInUse(dir);
        } catch (RuntimeException e) {
            return false;
        }
    }

    private static Look failed(Path dir, String status) {
        return new Look(dir, status, 0, 0, -1, Map.of(), false, null);
    }
}
