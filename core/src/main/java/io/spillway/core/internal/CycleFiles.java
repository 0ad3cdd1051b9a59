package io.spillway.core.internal;

import java.io.File;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import net.openhft.chronicle.queue.RollCycle;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueue;

/** The cycle files of a Chronicle queue directory, by cycle number (read from their names). */
final class CycleFiles {
    private CycleFiles() {
    }

    /**
     * Deletes the cycle files whose cycle is below {@code before}. The caller refreshes its queue's
     * directory listing when this returns more than 0.
     *
     * @return how many were deleted
     */
    static int deleteBefore(Path dir, RollCycle rollCycle, int before) {
        File[] files = dir.toFile().listFiles((d, name) -> name.endsWith(SingleChronicleQueue.SUFFIX));
        if (files == null) {
            return 0;
        }
        DateTimeFormatter fmt = DateTimeFormatter.ofPattern(rollCycle.format()).withZone(ZoneOffset.UTC);
        int deleted = 0;
        for (File f : files) {
            String stem = f.getName().substring(0, f.getName().length() - SingleChronicleQueue.SUFFIX.length());
            int cycle;
            try {
                long millis = LocalDateTime.from(fmt.parse(stem)).toInstant(ZoneOffset.UTC).toEpochMilli();
                cycle = (int) (millis / rollCycle.lengthInMillis());
            } catch (RuntimeException notACycleFile) {
                continue;
            }
            if (cycle < before && f.delete()) {
                deleted++;
            }
        }
        return deleted;
    }

    /** The number of cycle files in a queue directory. */
    static int count(Path dir) {
        File[] files = dir.toFile().listFiles((d, name) -> name.endsWith(SingleChronicleQueue.SUFFIX));
        return files == null ? 0 : files.length;
    }
}
