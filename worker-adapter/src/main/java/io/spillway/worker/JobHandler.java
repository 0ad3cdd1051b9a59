package io.spillway.worker;

/**
 * Runs one type of job. Registered with {@link Worker.Builder#handler(String, JobHandler)}.
 *
 * <p>Contract: returning normally means the job is done (it is acked and marked completed). Throwing
 * anything means it failed: it is retried after a backoff until the {@link RetryPolicy} is exhausted,
 * then dead-lettered with the exception's class and message. A {@link NonRetryableException} (also when wrapped in
 * another exception) is dead-lettered at once, with no retry. A handler that runs past the worker's
 * job timeout has failed too; its thread is interrupted and its late result ignored.
 *
 * <p>Delivery is at least once: a job may run again after a crash or a lost lease, so handlers should be
 * idempotent (use {@link Job#id()} as the idempotency key of their side effects).
 *
 * <p>Threading: called on one of the worker's handler threads, concurrently for different jobs.
 *
 * <pre>{@code
 * JobHandler render = job -> images.render(job.id(), job.payload());
 * }</pre>
 */
@FunctionalInterface
public interface JobHandler {
    void handle(Job job) throws Exception;
}
