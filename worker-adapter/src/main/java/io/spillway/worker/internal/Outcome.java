package io.spillway.worker.internal;

import io.spillway.core.QueueName;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * How one fetched job ended, as sent to Redis (or kept in the {@link AckLog} while Redis is away).
 * Immutable.
 *
 * @param kind what to do with the stream entry
 * @param queue its queue
 * @param entryId the stream entry id
 * @param jobId the job id (for undecodable entries a stand-in id)
 * @param attempts handler runs that have ended (written to the status record)
 * @param at when it ended, epoch ms
 * @param runAt RETRY only: when the next run may start
 * @param job RETRY, DEAD, RELEASE: the JobCodec bytes to store (raw entry bytes for undecodable ones)
 * @param error RETRY, DEAD: "ExceptionClass: message"
 * @param consumer the worker (consumer name) that held the job's lease when it ended: the scripts apply the
 *     outcome only while the entry is still leased to it, so a late outcome (sent after an outage, by a worker
 *     that was frozen, or from a state directory another worker adopted) never settles a lease another worker
 *     took over. Empty for outcomes saved by a version that did not record it: then any lease will do.
 */
public record Outcome(Kind kind, QueueName queue, String entryId, String jobId, int attempts, long at, long runAt,
                      byte[] job, String error, String consumer) {
    public enum Kind {
        ACK, RETRY, DEAD, RELEASE,
        /** A cancelled job dropped without running (added last: the ordinal is what an ack log holds). */
        DROP
    }

    public Outcome {
        job = job == null ? new byte[0] : job;
        error = error == null ? "" : error;
        consumer = consumer == null ? "" : consumer;
    }

    public static Outcome ack(QueueName q, String entryId, String jobId, int attempts, long at, String consumer) {
        return new Outcome(Kind.ACK, q, entryId, jobId, attempts, at, 0, null, null, consumer);
    }

    public byte[] encode() {
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream(64 + job.length);
            DataOutputStream out = new DataOutputStream(bytes);
            out.writeByte(kind.ordinal());
            out.writeUTF(queue.value());
            out.writeUTF(entryId);
            out.writeUTF(jobId);
            out.writeInt(attempts);
            out.writeLong(at);
            out.writeLong(runAt);
            out.writeUTF(error);
            out.writeInt(job.length);
            out.write(job);
            out.writeUTF(consumer); // last, so that records of earlier versions (which end before it) still decode
            out.flush();
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static Outcome decode(byte[] bytes) {
        try {
            DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes));
            Kind kind = Kind.values()[in.readUnsignedByte()];
            QueueName q = QueueName.of(in.readUTF());
            String entryId = in.readUTF();
            String jobId = in.readUTF();
            int attempts = in.readInt();
            long at = in.readLong();
            long runAt = in.readLong();
            String error = in.readUTF();
            byte[] job = new byte[in.readInt()];
            in.readFully(job);
            String consumer = in.available() > 0 ? in.readUTF() : "";
            return new Outcome(kind, q, entryId, jobId, attempts, at, runAt, job, error, consumer);
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException("undecodable outcome record", e);
        }
    }
}
