package io.spillway.bench.perf;

import com.codahale.metrics.MetricRegistry;
import io.spillway.backend.JobProducer;
import io.spillway.core.Durability;
import io.spillway.core.JobId;
import io.spillway.core.QueueName;
import io.spillway.core.internal.ChronicleJournal;
import io.spillway.core.internal.JobCodec;
import io.spillway.core.internal.JobRecord;
import io.spillway.testing.FreePorts;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import net.openhft.chronicle.bytes.Bytes;
import net.openhft.chronicle.queue.ExcerptAppender;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueue;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueueBuilder;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * JMH micro-benchmarks (sample-time mode, so percentiles): one 200-byte record appended by a bare
 * Chronicle Queue appender (the anchor), by {@link ChronicleJournal#append} (Spillway's frame: version,
 * CRC32, length), and a whole {@link JobProducer#enqueue} while spooling (Redis down). A fresh queue per
 * iteration keeps the disk bounded.
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class JournalBenchmarks {

    /** Bytes of one record, framing of the caller excluded. */
    public static final int RECORD = 200;

    @State(Scope.Thread)
    public static class RawQueue {
        Path dir;
        SingleChronicleQueue queue;
        ExcerptAppender appender;
        Bytes<?> record = Bytes.allocateDirect(RECORD);

        @Setup(Level.Iteration)
        public void open() throws Exception {
            dir = Files.createTempDirectory("jmh-raw");
            queue = SingleChronicleQueueBuilder.single(dir.toFile()).build();
            appender = queue.createAppender();
            record.clear();
            for (int i = 0; i < RECORD; i++) {
                record.writeByte((byte) i);
            }
        }

        @TearDown(Level.Iteration)
        public void close() {
            queue.close();
            Env.deleteRecursively(dir);
        }
    }

    @State(Scope.Thread)
    public static class Journal {
        Path dir;
        ChronicleJournal journal;
        JobRecord job;
        byte[] encoded;

        @Setup(Level.Iteration)
        public void open() throws Exception {
            dir = Files.createTempDirectory("jmh-journal");
            journal = ChronicleJournal.open(dir, SpoolBench.BIG_JOURNAL, Durability.PROCESS_CRASH, new MetricRegistry());
            QueueName q = QueueName.of("bench-jmh");
            int overhead = JobCodec.encode(new JobRecord(JobId.mint(), q, "noop", new byte[0], Map.of(), 0, 0, 0)).length;
            job = new JobRecord(JobId.mint(), q, "noop", new byte[RECORD - overhead], Map.of(), 0, 0, 0);
            encoded = JobCodec.encode(job);
        }

        @TearDown(Level.Iteration)
        public void close() {
            journal.close();
            Env.deleteRecursively(dir);
        }
    }

    @State(Scope.Thread)
    public static class Spooling {
        Path dir;
        JobProducer producer;
        byte[] payload = new byte[RECORD];

        @Setup(Level.Iteration)
        public void open() throws Exception {
            dir = Files.createTempDirectory("jmh-spool");
            producer = JobProducer.builder().redis(URI.create("redis://127.0.0.1:" + FreePorts.next())).journalDir(dir)
                    .journalMaxBytes(SpoolBench.BIG_JOURNAL).build();
        }

        @TearDown(Level.Iteration)
        public void close() {
            producer.close();
            Env.deleteRecursively(dir);
        }
    }

    @Benchmark
    public void chronicleAppendRaw(RawQueue s) {
        s.appender.writeBytes(s.record);
        s.record.readPosition(0);
    }

    @Benchmark
    public void journalAppend(Journal s) {
        s.journal.append(s.job, s.encoded);
    }

    @Benchmark
    public Object enqueueWhileSpooling(Spooling s) {
        return s.producer.enqueue("bench-jmh", "noop", s.payload);
    }
}
