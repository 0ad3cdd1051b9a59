package io.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spillway.backend.JobProducer;
import io.spillway.testing.FreePorts;
import io.spillway.testing.RedisProcess;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** A journal with a record damaged on disk: inspect and replay say so and exit 1, not 0. */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class CorruptJournalIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int JOBS = 25;

    @TempDir
    Path tmp;

    @Test
    void inspectCountsACorruptRecordApartFromTheJobsAndExitsOne() throws Exception {
        Path dir = spoolWithOneCorruptRecord("inspect-corrupt");

        Cli text = Cli.run("journal", "inspect", dir.toString(), "--list", "30");
        assertThat(text.exit()).as(text.toString()).isEqualTo(ExitCodes.FAILED);
        assertThat(text.out()).contains("not yet replayed  24 job(s)", "corrupt records   1 (not yet replayed: 1; skipped on replay",
                "inspect-corrupt  24");
        // Record indexes in decimal, as in the JSON.
        assertThat(text.out()).doesNotContainPattern("\\n[0-9a-f]*[a-f][0-9a-f]*\\s+inspect-corrupt\\s");

        Cli json = Cli.run("journal", "inspect", dir.toString(), "--json", "--list", "1");
        assertThat(json.exit()).as(json.toString()).isEqualTo(ExitCodes.FAILED);
        JsonNode s = JSON.readTree(json.out());
        assertThat(s.get("records").asLong()).isEqualTo(JOBS);
        assertThat(s.get("backlog").asLong()).isEqualTo(JOBS - 1);
        assertThat(s.get("backlogByQueue").get("inspect-corrupt").asLong()).isEqualTo(JOBS - 1);
        assertThat(s.get("corruptRecords").asLong()).isEqualTo(1);
        assertThat(s.get("backlogCorrupt").asLong()).isEqualTo(1);
        assertThat(s.get("corruptIndexes")).hasSize(1);
        long listed = s.get("list").get(0).get("index").asLong();
        assertThat(text.out()).contains(Long.toString(listed));
    }

    @Test
    void replaySaysHowManyCorruptRecordsItSkippedAndExitsOne() throws Exception {
        Path dir = spoolWithOneCorruptRecord("replay-corrupt");
        try (RedisProcess redis = RedisProcess.builder().start()) {
            Cli status = Cli.run("status", "--redis", redis.uri().toString(), "--journal", dir.toString());
            assertThat(status.out()).as(status.toString()).contains("24 job(s) not yet replayed", "corrupt records 1");

            Cli text = Cli.run("journal", "replay", dir.toString(), "--redis", redis.uri().toString());
        assertThat(text.exit()).as(text.toString()).isEqualTo(ExitCodes.FAILED);
            assertThat(text.out()).contains("24 new, 0 already in Redis; 0 left",
                    "1 corrupt record(s) skipped: unreadable, so those accepted jobs cannot be replayed");

            // Nothing left to replay, and the corrupt record was skipped for good: a second run is clean.
            Cli again = Cli.run("journal", "replay", dir.toString(), "--redis", redis.uri().toString(), "--json");
            assertThat(again.exit()).as(again.toString()).isZero();
            assertThat(JSON.readTree(again.out()).get("corruptSkipped").asLong()).isZero();
        }
        Path dir2 = spoolWithOneCorruptRecord("replay-corrupt-json");
        try (RedisProcess redis = RedisProcess.builder().start()) {
            Cli json = Cli.run("journal", "replay", dir2.toString(), "--redis", redis.uri().toString(), "--json");
            assertThat(json.exit()).as(json.toString()).isEqualTo(ExitCodes.FAILED);
            JsonNode r = JSON.readTree(json.out());
            assertThat(r.get("replayed").asLong()).isEqualTo(JOBS - 1);
            assertThat(r.get("corruptSkipped").asLong()).isEqualTo(1);
            assertThat(r.get("backlogAfter").asLong()).isZero();
        }
    }

    /** Spools {@link #JOBS} jobs (Redis down), then flips a byte inside one job's payload in the cycle file. */
    private Path spoolWithOneCorruptRecord(String queue) throws IOException {
        Path dir = tmp.resolve("journal-" + queue);
        try (JobProducer producer = JobProducer.builder().redis(URI.create("redis://127.0.0.1:" + FreePorts.next()))
                .journalDir(dir).build()) {
            for (int i = 0; i < JOBS; i++) {
                assertThat(producer.enqueue(queue, "t", ("payload-" + i + "-end").getBytes(StandardCharsets.UTF_8)).spooled())
                        .isTrue();
            }
        }
        Path cycle;
        try (Stream<Path> files = Files.list(dir)) {
            cycle = files.filter(f -> f.toString().endsWith(".cq4")).findFirst().orElseThrow();
        }
        byte[] needle = "payload-7-end".getBytes(StandardCharsets.UTF_8);
        try (RandomAccessFile raf = new RandomAccessFile(cycle.toFile(), "rw")) {
            byte[] head = new byte[(int) Math.min(raf.length(), 4 << 20)];
            raf.readFully(head);
            int at = indexOf(head, needle);
            assertThat(at).as("payload found in " + cycle).isPositive();
            raf.seek(at + 8);
            raf.write('X');
        }
        return dir;
    }

    private static int indexOf(byte[] hay, byte[] needle) {
        // ISO-8859-1 maps each byte to one char: String.indexOf finds the bytes.
        return new String(hay, java.nio.charset.StandardCharsets.ISO_8859_1)
                .indexOf(new String(needle, java.nio.charset.StandardCharsets.ISO_8859_1));
    }
}
