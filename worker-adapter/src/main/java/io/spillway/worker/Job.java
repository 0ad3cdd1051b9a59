package io.spillway.worker;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Map;

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
     * outcome is ignored, never settling the other worker's lease). Checked at each renewal, every third of the
     * lease. A long handler may check it between steps and stop, by returning or throwing, to spare the duplicate
     * work; nothing interrupts it. False in every other case, including a run that is going fine.
     */
    default boolean leaseLost() {
        return false;
    }

    /**
     * Whether the job's cancel was requested while it runs ({@code JobProducer.cancel}, {@code spillway cancel}):
     * checked at each lease renewal, every third of the lease. A long handler may check it between steps and stop,
     * by returning or throwing; nothing interrupts it. Whatever it does, the job is not retried: a failure (or an
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
}
