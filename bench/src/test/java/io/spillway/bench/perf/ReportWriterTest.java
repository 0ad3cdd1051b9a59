package io.spillway.bench.perf;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
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

    @Test
    void theRatioTargetsAreJudgedByTheMedianOfTheAlternatingPairsAndShowTheSequentialRatioBeside(@TempDir Path dir)
            throws IOException {
        Results r = new Results();
        // One after the other the single path reads 0.80x (a slow stretch for Spillway); its pairs read 0.95x.
        r.add("enqueue.single.1.spillway", 8_000);
        r.add("enqueue.single.1.jedis-lua", 10_000);
        for (double ratio : new double[] {0.90, 0.95, 1.10}) {
            r.add("enqueue.pair.1.ratio", ratio);
        }
        // The batch the other way round: 0.55x one after the other, 0.40x in pairs.
        r.add("enqueue.batch.spillway", 110_000);
        r.add("enqueue.batch.jedis-xadd", 200_000);
        for (double ratio : new double[] {0.35, 0.40, 0.60}) {
            r.add("enqueue.pair.batch.ratio", ratio);
        }
        new ReportWriter(r, new HashMap<>(Map.of("mode", "test")), Map.of()).write(dir);

        String page = Files.readString(dir.resolve("benchmarks.md"));
        assertThat(page).contains("| enqueue, 1 thread: JobProducer vs raw Jedis running the same enqueue.lua | ≥ 0.9× raw | "
                + "alternating pairs: median of 3 ratios <sub>[0.90×–1.10×]</sub>; one after the other: 8,000/s vs 10,000/s (0.80×) "
                + "| 0.95× | **yes** |");
        assertThat(page).contains("| batched enqueue vs bare pipelined XADD of the same records | ≥ 0.5× | alternating pairs: "
                + "median of 3 ratios <sub>[0.35×–0.60×]</sub>; one after the other: 110,000/s vs 200,000/s (0.55×) | 0.40× | **no** |");
        // Without pairs (a run of older code): the ratio of the medians, as before.
        assertThat(page).contains("| enqueue, 8 threads: JobProducer vs raw Jedis running the same enqueue.lua | ≥ 0.9× raw | n/a");
    }
}
