package io.spillway.metrics.internal;

import io.spillway.core.JournalLockedException;
import io.spillway.core.SpillwayException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Looks into a producer's journal directory from outside the producer: reads its backlog with a
 * {@link JournalReader} (which writes nothing) and closes it at once.
 *
 * <p>Invariants: a journal held by a live producer (its lock is taken) is reported as locked and not
 * read — that producer exports its own journal gauges. The lock is held only for the moment of the
 * read, but a producer starting in exactly that moment gets {@code JournalLockedException}; callers keep
 * reads rare. Nothing is ever created: a directory that does not exist is reported missing, one that holds
 * files but no journal is reported as an error, and an empty one as empty (no producer has opened it yet).
 */
public final class JournalInspector {
    private JournalInspector() {
    }

    /**
     * What one look found. {@code status} is "ok", "empty" (an empty directory), "locked", "missing" or
     * "error: …" (not a journal, or it cannot be read). {@code oldestEnqueuedAt} is when the oldest job not yet
     * replayed was enqueued (epoch milliseconds), -1 when there is none: its age grows between looks, so it is
     * computed when asked ({@link #oldestAgeMillis(long)}), not at the look.
     */
    public record Look(Path dir, String status, long backlog, long backlogBytes, long oldestEnqueuedAt,
                       Map<String, Long> backlogByQueue) {
        /** Age at {@code nowMillis} of the oldest job not yet replayed, 0 when there is none. */
        public long oldestAgeMillis(long nowMillis) {
            return oldestEnqueuedAt < 0 ? 0 : Math.max(0, nowMillis - oldestEnqueuedAt);
        }

        /** Read, and its figures are true (possibly zero). */
        public boolean ok() {
            return status.equals("ok") || status.equals("empty");
        }

        /** Held by a live producer, which reports it itself. */
        public boolean locked() {
            return status.equals("locked");
        }

        /** Missing or unreadable: its figures are unknown, not zero. */
        public boolean failed() {
            return !ok() && !locked();
        }
    }

    public static Look look(Path dir) {
        if (!Files.exists(dir)) {
            return new Look(dir, "missing", 0, 0, -1, Map.of());
        }
        if (!Files.isDirectory(dir)) {
            return new Look(dir, "error: not a directory", 0, 0, -1, Map.of());
        }
        try {
            if (!JournalReader.isJournal(dir) && JournalReader.isEmptyDirectory(dir)) {
                return new Look(dir, "empty", 0, 0, -1, Map.of());
            }
        } catch (IOException e) {
            return new Look(dir, "error: cannot read the directory: " + e.getMessage(), 0, 0, -1, Map.of());
        }
        try (JournalReader r = JournalReader.open(dir)) {
            JournalReader.Backlog b = r.backlog();
            return new Look(dir, "ok", b.jobs(), b.bytes(), b.oldestEnqueuedAt(), b.byQueue());
        } catch (JournalLockedException e) {
            return new Look(dir, "locked", 0, 0, -1, Map.of());
        } catch (IllegalArgumentException e) {
            return new Look(dir, "error: not a Spillway journal (no " + JournalReader.METADATA_FILE + " or "
                    + JournalReader.POSITIONS_FILE + " in it)", 0, 0, -1, Map.of());
        } catch (SpillwayException e) {
            return new Look(dir, "error: " + e.getMessage(), 0, 0, -1, Map.of());
        } catch (RuntimeException e) {
            // Chronicle's own exceptions, from a damaged queue file: unreadable, not empty.
            return new Look(dir, "error: cannot be read: " + e, 0, 0, -1, Map.of());
        }
    }
}
