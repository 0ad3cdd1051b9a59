package io.spillway.metrics.internal;

import com.codahale.metrics.MetricRegistry;
import io.spillway.core.Durability;
import io.spillway.core.JournalLockedException;
import io.spillway.core.QueueName;
import io.spillway.core.SpillwayException;
import io.spillway.core.internal.ChronicleJournal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/**
 * Looks into a producer's journal directory from outside the producer: opens it, reads its backlog and
 * closes it at once.
 *
 * <p>Invariants: a journal held by a live producer (its lock is taken) is reported as locked and not
 * read — that producer exports its own journal gauges. The lock is held only for the moment of the
 * read, but a producer starting in exactly that moment gets {@code JournalLockedException}; callers keep
 * reads rare. A directory that does not exist is reported missing and never created.
 */
public final class JournalInspector {
    private JournalInspector() {
    }

    /** What one look found. {@code status} is "ok", "locked", "missing" or "error: …". */
    public record Look(Path dir, String status, long backlog, long backlogBytes, long oldestAgeMillis,
                       Map<String, Long> backlogByQueue) {
        public boolean ok() {
            return status.equals("ok");
        }
    }

    public static Look look(Path dir) {
        if (!Files.isDirectory(dir)) {
            return new Look(dir, "missing", 0, 0, 0, Map.of());
        }
        try (ChronicleJournal j = ChronicleJournal.open(dir, Long.MAX_VALUE, Durability.PROCESS_CRASH, new MetricRegistry())) {
            Map<String, Long> byQueue = new TreeMap<>();
            for (Map.Entry<QueueName, Long> e : j.backlogByQueue().entrySet()) {
                byQueue.put(e.getKey().value(), e.getValue());
            }
            return new Look(dir, "ok", j.backlog(), j.backlogBytes(), j.oldestAgeMillis(), Map.copyOf(byQueue));
        } catch (JournalLockedException e) {
            return new Look(dir, "locked", 0, 0, 0, Map.of());
        } catch (SpillwayException | IllegalArgumentException e) {
            return new Look(dir, "error: " + e.getMessage(), 0, 0, 0, Map.of());
        }
    }
}
