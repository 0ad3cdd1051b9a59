package io.spillway.bench.chaos;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * What one producer incarnation reports about itself, rewritten every second (atomically) and at exit.
 * A SIGKILLed incarnation's last second is missing: these figures (spooled, replayed, latency) are
 * informative; the lost/duplicate verdict never reads them.
 *
 * @param slot producer number
 * @param incarnation 1 for the first process of the slot, 2 after its first restart, ...
 * @param pid the process id
 * @param accepted receipts this incarnation got
 * @param rejected enqueue calls that threw (the job was not accepted)
 * @param spooled jobs this incarnation appended to its journal ({@code spillway.producer.spooled})
 * @param replayed jobs replayed from the journal into Redis ({@code spillway.replay.replayed})
 * @param replayDuplicates replayed jobs Redis already held
 * @param restored recently written jobs sent again after a Redis restart that Redis had lost
 * @param backlog journal backlog now
 * @param state the producer's connection state now
 * @param producedTotal lines in the record file (all incarnations) when written
 * @param done every job of the slot enqueued and the journal empty
 * @param latencyMaxNanos worst enqueue call of this incarnation
 * @param latencyBuckets {@link LatencyHistogram} buckets of this incarnation's enqueue calls
 * @param updatedAtMillis when written
 */
record ProducerSummary(int slot, int incarnation, long pid, long accepted, long rejected, long spooled, long replayed,
                       long replayDuplicates, long restored, long backlog, String state, long producedTotal, boolean done,
                       long latencyMaxNanos, long[] latencyBuckets, long updatedAtMillis) {

    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * Writes through a temporary file and an atomic move. Serialised: the reporter thread and the shutdown hook both
     * write, and two at once moved each other's temporary file away (NoSuchFileException, which ended the hook before
     * it closed the producer).
     */
    void writeTo(Path file) {
        synchronized (ProducerSummary.class) {
            write(file);
        }
    }

    private void write(Path file) {
        try {
            Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
            JSON.writeValue(tmp.toFile(), this);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot write " + file, e);
        }
    }

    static ProducerSummary read(Path file) {
        try {
            return JSON.readValue(file.toFile(), ProducerSummary.class);
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read " + file, e);
        }
    }

    LatencyHistogram latency() {
        return LatencyHistogram.of(latencyBuckets, latencyMaxNanos);
    }
}
