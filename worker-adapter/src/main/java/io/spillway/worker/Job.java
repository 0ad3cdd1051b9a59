package io.spillway.worker;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;

/**
 * One job as a {@link JobHandler} sees it. Immutable and safe to share between threads; the
 * {@link #payload()} array is the worker's own copy, so a handler may keep it.
 */
public interface Job {
    /** The job's id: the idempotency key the producer enqueued it with. */
    String id();

    /** The queue it was fetched from. */
    String queue();

    /** Its type: it selected the handler. */
    String type();

    /** The opaque bytes the producer enqueued. */
    byte[] payload();

    /** The payload decoded as UTF-8. */
    default String payloadAsString() {
        return new String(payload(), StandardCharsets.UTF_8);
    }

    /** Small string metadata from the producer (trace ids and the like); never null. */
    Map<String, String> headers();

    /** This run's number: 1 on the first run, 2 on the first retry, and so on. */
    int attempt();

    /** When the producer accepted the job. */
    Instant enqueuedAt();

    /**
     * Whether this worker has found its lease on the job taken over by another worker while the handler runs: its
     * renewals could not reach Redis for longer than the lease (an outage, a long GC pause, a frozen VM), another
     * worker then took the job and may be running it now, and whatever this run does next is not recorded (its
     * outcome is ignored, never settling the other worker's lease). Checked at each renewal: every third of the lease,
     * at least every 10 s. A long handler may check it between steps and stop, by returning or throwing, to spare the
     * duplicate work; nothing interrupts it. False in every other case, including a run that is going fine.
     */
    default boolean leaseLost() {
        return false;
    }

    /**
     * Whether the job's cancel was requested while it runs ({@code JobProducer.cancel}, {@code spillway cancel}):
     * checked at each lease renewal (every third of the lease, at least every 10 s). A long handler may check it
     * between steps and stop, by returning or throwing; nothing interrupts it. Whatever it does, the job is not retried: a failure (or an
     * exception thrown to stop) leaves it cancelled; a run that returns normally completes it.
     */
    default boolean cancelRequested() {
        return false;
    }

    /**
     * Reports how far the run has got, for whoever looks at the job: {@code JobStatus.progress()} from
     * {@code JobProducer.status} and {@code spillway status -q QUEUE JOB_ID}. Free text, such as {@code "page 3 of 10"} or
     * {@code "42%"}; the latest call wins. Cheap and never blocking: the worker writes the latest value to Redis about
     * once a second while it changes (the last one also after the handler returns), and keeps it to write again later
     * while Redis is away, without failing the job. A text over {@value #MAX_PROGRESS_CHARS} characters is cut there.
     * Kept as long as the job's status. A no-op in this default, for test doubles.
     *
     * <pre>{@code
     * JobHandler importer = job -> {
     *     for (int page = 1; page <= 10; page++) {
     *         // ... import the page
     *         job.progress("page " + page + " of 10");
     *     }
     * };
     * }</pre>
     *
     * @throws IllegalArgumentException if {@code progress} is null
     */
    default void progress(String progress) {
        if (progress == null) {
            throw new IllegalArgumentException("progress must not be null");
        }
    }

    /** The longest {@link #progress(String)} text kept. */
    int MAX_PROGRESS_CHARS = 1000;

    /**
     * Saves where the run has got, for a later run of this job to resume from ({@link #lastCheckpoint()}): the retry
     * after a failure or a timeout, the run another worker starts once this worker died or lost its lease, a dead
     * letter's retry. Free text such as a cursor, {@code "row 41000"}, or a small JSON document; the latest call wins.
     *
     * <p>Written to Redis at once (one {@code SET}, no retry, waiting at most about the socket timeout) and kept for
     * {@value #CHECKPOINT_TTL_DAYS} days after the latest save; removed once the job completes. When Redis cannot take it
     * now (away, hanging, refusing) the call returns false without failing the run: the worker keeps the latest state
     * and writes it once Redis is back, about once a second (a checkpoint still unwritten when the worker stops or dies
     * is lost, and the next run resumes from an earlier one). After this run's lease was lost to another worker
     * ({@link #leaseLost()}) nothing is written: the other worker's run owns the job's checkpoint now.
     *
     * <pre>{@code
     * JobHandler exporter = job -> {
     *     long from = job.lastCheckpoint().map(Long::parseLong).orElse(0L);
     *     for (long row = from; row < 100_000; row += 1_000) {
     *         // ... export rows [row, row + 1000)
     *         job.checkpoint(Long.toString(row + 1_000));
     *     }
     * };
     * }</pre>
     *
     * @return true once Redis holds it; false when it was kept to be written later, or not written after a lost lease
     * @throws IllegalArgumentException if {@code state} is null or longer than {@value #MAX_CHECKPOINT_CHARS} characters
     */
    default boolean checkpoint(String state) {
        if (state == null) {
            throw new IllegalArgumentException("checkpoint state must not be null");
        }
        if (state.length() > MAX_CHECKPOINT_CHARS) {
            throw new IllegalArgumentException("checkpoint state has " + state.length() + " characters; at most "
                    + MAX_CHECKPOINT_CHARS + " are kept (save a reference to larger state, such as a file's name)");
        }
        return false;
    }

    /**
     * The state the latest {@link #checkpoint(String)} of this job saved, in this run or an earlier one (on this worker
     * or another); empty when none was saved (a first run), or after the job completed. The first call of a run reads
     * Redis (one {@code GET}); later calls answer from memory, this run's own saves included. Empty in this default,
     * for test doubles.
     *
     * @throws io.spillway.core.RedisUnavailableException if Redis cannot answer now: thrown from the handler, it fails
     *         this run, and the job is retried as after any failure
     */
    default Optional<String> lastCheckpoint() {
        return Optional.empty();
    }

    /** The longest {@link #checkpoint(String)} state, in characters. */
    int MAX_CHECKPOINT_CHARS = 65_536;

    /** How long a job's checkpoint is kept in Redis after its latest save, in days. */
    int CHECKPOINT_TTL_DAYS = 7;
}
