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
import java.util.Set;
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
        // ... and printed first: in an outage it is what the operator came for.
        assertThat(status.out()).as(status.toString()).contains("Journal " + dir.toAbsolutePath() + ": 3 job(s) not yet replayed",
                "  emails: 3");
        assertThat(status.oneLineError()).startsWith("spillway status: cannot reach Redis at");

        assertThat(DirSnapshot.of(dir)).as("files, sizes and times after inspect").isEqualTo(before);
    }

    /**
     * A journal a running producer holds, in the middle of an outage: the tools read it read-only and say it is in use
     * (stopping the producer to look would make its application refuse jobs), and replay has nothing to do (the
     * producer replays it itself once Redis is healthy), without asking the Redis that is down.
     */
    @Test
    void theJournalToolsReadALiveProducersJournalAndReplayLeavesItToTheProducer() throws IOException {
        Path dir = tmp.resolve("live");
        String down = "redis://127.0.0.1:" + FreePorts.next();
        try (ChronicleJournal live = ChronicleJournal.open(dir, 1L << 30, Durability.PROCESS_CRASH, new MetricRegistry())) {
            for (int i = 0; i < 7; i++) {
                JobRecord r = new JobRecord(JobId.of("job-" + i), QueueName.of(i < 5 ? "emails" : "images"), "send",
                        new byte[20], Map.of(), 0, 0, System.currentTimeMillis());
                live.append(r, JobCodec.encode(r));
            }
            Set<String> files = DirSnapshot.of(dir).keySet();

            Cli inspect = Cli.run("journal", "inspect", dir.toString());
            assertThat(inspect.exit()).as(inspect.toString()).isZero();
            assertThat(inspect.out()).contains("Journal " + dir.toAbsolutePath() + " (in use by a running producer: figures"
                    + " as of now; that producer replays its backlog itself once Redis is healthy)", "not yet replayed  7 job(s)",
                    "    emails  5", "    images  2");
            JsonNode json = JSON.readTree(Cli.run("journal", "inspect", dir.toString(), "--json").out());
            assertThat(json.get("inUse").asBoolean()).isTrue();
            assertThat(json.get("backlog").asLong()).isEqualTo(7);

            Cli status = Cli.run("status", "--redis", down, "--journal", dir.toString());
            assertThat(status.exit()).as(status.toString()).isEqualTo(ExitCodes.UNREACHABLE);
            assertThat(status.out()).contains("Journal " + dir.toAbsolutePath() + " (in use by a running producer: figures as"
                    + " of now; that producer replays its backlog itself once Redis is healthy): 7 job(s) not yet replayed");
            assertThat(status.oneLineError()).startsWith("spillway status: cannot reach Redis at " + down);
            JsonNode statusJson = JSON.readTree(Cli.run("status", "--redis", down, "--journal", dir.toString(), "--json").out());
            assertThat(statusJson.get("journal").get("inUse").asBoolean()).isTrue();
            assertThat(statusJson.get("redisUnreachable").asText()).startsWith("cannot reach Redis at " + down);

            Cli replay = Cli.run("journal", "replay", dir.toString(), "--redis", down);
            assertThat(replay.exit()).as(replay.toString()).isEqualTo(ExitCodes.OK);
            assertThat(replay.err()).isEmpty();
            assertThat(replay.out()).isEqualTo("Nothing to do: journal " + dir + " is in use by a running producer, which"
                    + " replays it itself once Redis is healthy (7 job(s) wait in it now); see that producer's metrics, or"
                    + " 'spillway journal inspect " + dir + "'." + System.lineSeparator());
            JsonNode replayJson = JSON.readTree(Cli.run("journal", "replay", dir.toString(), "--redis", down, "--json").out());
            assertThat(replayJson.get("inUse").asBoolean()).isTrue();
            assertThat(replayJson.get("replayed").asLong()).isZero();

            assertThat(DirSnapshot.of(dir).keySet()).as("no file created by the tools").isEqualTo(files);
            assertThat(live.backlog()).as("the producer's journal is as it was").isEqualTo(7);
        }
    }
}
