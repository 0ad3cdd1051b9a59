package io.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.codahale.metrics.MetricRegistry;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.spillway.core.Durability;
import io.spillway.core.JobId;
import io.spillway.core.QueueName;
import io.spillway.core.internal.ChronicleJournal;
import io.spillway.core.internal.JobCodec;
import io.spillway.core.internal.JobRecord;
import io.spillway.testing.DirSnapshot;
import io.spillway.testing.FreePorts;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import net.openhft.chronicle.core.time.SetTimeProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The journal tools on directories that are, and are not, journals: they read without writing. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class JournalCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    @Test
    void journalToolsRefuseADirectoryThatIsNotAJournalAndCreateNothingInIt() throws IOException {
        Path notes = Files.createDirectories(tmp.resolve("notes"));
        Files.writeString(notes.resolve("notes.txt"), "my notes");
        String dead = "redis://127.0.0.1:" + FreePorts.next();
        for (String[] args : new String[][] {
                {"journal", "inspect", notes.toString()},
                {"journal", "replay", notes.toString(), "--redis", dead},
                {"status", "--redis", dead, "--journal", notes.toString()}}) {
            Cli c = Cli.run(args);
            assertThat(c.exit()).as(c.toString()).isEqualTo(ExitCodes.USAGE);
            assertThat(c.oneLineError()).contains(notes.toString(), "not a Spillway journal directory");
        }
        try (Stream<Path> files = Files.list(notes)) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactly("notes.txt");
        }
    }

    @Test
    void inspectAndStatusReadAJournalWithoutWritingToIt() throws IOException {
        // Written three hours ago: a tool that opened it as a producer does would add this hour's cycle file.
        Path dir = tmp.resolve("journal");
        long threeHoursAgo = System.currentTimeMillis() - TimeUnit.HOURS.toMillis(3);
        try (ChronicleJournal j = ChronicleJournal.open(dir, 1L << 30, Durability.PROCESS_CRASH, new MetricRegistry(),
                new SetTimeProvider(java.time.Instant.ofEpochMilli(threeHoursAgo)), 0)) {
            for (int i = 0; i < 4; i++) {
                JobRecord r = new JobRecord(JobId.of("job-" + i), QueueName.of("emails"), "send", new byte[20], Map.of(),
                        0, 0, threeHoursAgo + i);
                j.append(r, JobCodec.encode(r));
            }
            j.commit(j.read(1));
        }
        Map<String, String> before = DirSnapshot.of(dir);

        Cli inspect = Cli.run("journal", "inspect", dir.toString(), "--json", "--list", "5");
        assertThat(inspect.exit()).as(inspect.toString()).isZero();
        JsonNode s = JSON.readTree(inspect.out());
        assertThat(s.get("records").asLong()).isEqualTo(4);
        assertThat(s.get("replayed").asLong()).isEqualTo(1);
        assertThat(s.get("backlog").asLong()).isEqualTo(3);
        assertThat(s.get("backlogByQueue").get("emails").asLong()).isEqualTo(3);
        assertThat(s.get("list")).hasSize(3);
        assertThat(s.get("cycleFiles").asInt()).isEqualTo(1);

        Cli status = Cli.run("status", "--redis", "redis://127.0.0.1:" + FreePorts.next(), "--journal", dir.toString());
        assertThat(status.exit()).as(status.toString()).isEqualTo(ExitCodes.UNREACHABLE); // the journal is read first

        assertThat(DirSnapshot.of(dir)).as("files, sizes and times after inspect").isEqualTo(before);
    }
}
