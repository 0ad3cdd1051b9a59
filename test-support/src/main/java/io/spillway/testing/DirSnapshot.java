package io.spillway.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/** What a directory holds, to show that a read-only tool changed nothing in it. */
public final class DirSnapshot {
    private DirSnapshot() {
    }

    /** Every file under {@code dir} with its size and modification time ("dir" for directories). */
    public static Map<String, String> of(Path dir) throws IOException {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) walk::iterator) {
                out.put(dir.relativize(p).toString(), Files.isDirectory(p) ? "dir"
                        : Files.size(p) + " bytes, modified " + Files.getLastModifiedTime(p).toMillis());
            }
        }
        return out;
    }
}
