package io.spillway.backend;

/**
 * One job of a batch for {@link JobProducer#enqueueAll(java.util.List)}.
 *
 * @param queue target queue
 * @param type job type (selects the worker's handler)
 * @param payload opaque bytes
 * @param options per-job options ({@link EnqueueOptions#NONE} for none)
 */
public record NewJob(String queue, String type, byte[] payload, EnqueueOptions options) {
    public NewJob(String queue, String type, byte[] payload) {
        this(queue, type, payload, EnqueueOptions.NONE);
    }

    public NewJob {
        options = options == null ? EnqueueOptions.NONE : options;
    }
}
