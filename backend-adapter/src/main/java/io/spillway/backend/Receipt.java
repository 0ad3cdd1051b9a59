package io.spillway.backend;

import java.time.Instant;

/**
 * Proof that a job was accepted: it is either in Redis or in the producer's local journal, from where it
 * will be replayed. A job without a receipt was not accepted.
 *
 * @param jobId the job's id (minted by Spillway unless the caller chose one)
 * @param queue the queue it went to
 * @param spooled false: in Redis now; true: in the local journal, to be replayed when Redis is back
 * @param duplicate true if Redis already knew this job id (queued, delayed, running, retrying, dead; completed or cancelled within
 *     the completed retention; a dead letter purged within 2 h; docs/guarantees.md, guarantee 3): nothing new was
 *     written. A spooled job is never marked duplicate; its replay finds out. A job with a minted id is never marked
 *     duplicate either: only a first send of the same call, whose reply was lost with its connection before the call was
 *     sent again, can have written it. With a caller-chosen id that case reads duplicate (Redis knew the id).
 * @param acceptedAt when enqueue accepted it
 */
public record Receipt(String jobId, String queue, boolean spooled, boolean duplicate, Instant acceptedAt) {
}
