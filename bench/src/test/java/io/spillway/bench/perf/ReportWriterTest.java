package io.spillway.bench.perf;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** A benchmark run rewrites the generated part of docs/benchmarks.md and keeps the session notes below it. */
@Timeout(value = 10, unit = TimeUnit.SECONDS)
class ReportWriterTest {
    @Test
    void theNotesFromTheHistoryLineOnAreKeptAndAPageWithoutThemGetsTheLine(@TempDir Path dir) throws IOException {
        Path page = dir.resolve("benchmarks.md");
        assertThat(ReportWriter.history(page)).isEqualTo("\n" + ReportWriter.HISTORY + "\n");

        String notes = ReportWriter.HISTORY + "\n## Session 9\n\nmeasured by hand\n";
        Files.writeString(page, "# Benchmarks\n\n| old generated table |\n\n" + notes);
        assertThat(ReportWriter.history(page)).isEqualTo("\n" + notes);
    }

    @Test
    void theRepositoryPageHasTheHistoryLine() throws IOException {
        // Without it, the next run would drop every session's notes.
        assertThat(Files.readString(Path.of("..", "docs", "benchmarks.md"))).contains(ReportWriter.HISTORY);
    }
}
