package io.spillway.worker.internal;

import io.spillway.core.internal.JobRecord;
import io.spillway.worker.Job;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * The {@link Job} a handler gets: a read-only view of a {@link JobRecord} for run number {@code record.attempt() + 1};
 * {@code lost} answers {@link #leaseLost()}, {@code cancel} {@link #cancelRequested()}, {@code progressSink} takes
 * {@link #progress(String)} (cut to {@link Job#MAX_PROGRESS_CHARS}), {@code checkpoints} keeps and reads
 * {@link #checkpoint(String)}.
 */
public record JobView(JobRecord record, BooleanSupplier lost, BooleanSupplier cancel, Consumer<String> progressSink,
        Checkpoints checkpoints) implements Job {
    /** Where a run's checkpoints go and come from. */
    public interface Checkpoints {
        /** Saves a valid state; true once Redis holds it. */
        boolean save(String state);

        /** The latest state saved for the job, if any. */
        Optional<String> last();

        /** None: nothing saved, nothing to resume from. */
        Checkpoints NONE = new Checkpoints() {
            @Override
            public boolean save(String state) {
                return false;
            }

            @Override
            public Optional<String> last() {
                return Optional.empty();
            }
        };
    }

    /** A view whose progress goes nowhere. */
    public JobView(JobRecord record, BooleanSupplier lost, BooleanSupplier cancel) {
        this(record, lost, cancel, p -> { });
    }

    /** A view without checkpoints. */
    public JobView(JobRecord record, BooleanSupplier lost, BooleanSupplier cancel, Consumer<String> progressSink) {
        this(record, lost, cancel, progressSink, Checkpoints.NONE);
    }

    @Override
    public String id() {
        return record.id().value();
    }

    @Override
    public String queue() {
        return record.queue().value();
    }

    @Override
    public String type() {
        return record.type();
    }

    @Override
    public byte[] payload() {
        return record.payload();
    }

    @Override
    public Map<String, String> headers() {
        return Map.copyOf(record.headers());
    }

    @Override
    public int attempt() {
        return record.attempt() + 1;
    }

    @Override
    public Instant enqueuedAt() {
        return Instant.ofEpochMilli(record.enqueuedAt());
    }

    @Override
    public boolean leaseLost() {
        return lost.getAsBoolean();
    }

    @Override
    public boolean cancelRequested() {
        return cancel.getAsBoolean();
    }

    @Override
    public void progress(String progress) {
        if (progress == null) {
            throw new IllegalArgumentException("progress must not be null");
        }
        progressSink.accept(progress.length() <= MAX_PROGRESS_CHARS ? progress
                : progress.substring(0, MAX_PROGRESS_CHARS - 1) + "…");
    }

    @Override
    public boolean checkpoint(String state) {
        Job.super.checkpoint(state); // checks it
        return checkpoints.save(state);
    }

    @Override
    public Optional<String> lastCheckpoint() {
        return checkpoints.last();
    }

    @Override
    public String toString() {
        return "Job[" + record.queue() + "/" + record.id() + " type=" + record.type() + " attempt=" + attempt() + "]";
    }
}
