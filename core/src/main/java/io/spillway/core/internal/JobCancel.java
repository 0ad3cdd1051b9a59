package io.spillway.core.internal;

import io.spillway.core.JobId;
import io.spillway.core.JobStatus;
import io.spillway.core.QueueName;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;

/**
 * Cancels a job that has not started ({@code cancel.lua}): the one place that knows the script's KEYS/ARGV layout.
 * Used by {@code JobProducer.cancel} and the {@code spillway cancel} command.
 */
public final class JobCancel {
    /**
     * How long the tombstone of an id Redis does not know is kept: the job may still be spooled in a producer's
     * journal (an outage), and its replay must find the tombstone to skip it.
     */
    public static final Duration UNKNOWN_ID_RETENTION = Duration.ofHours(24);

    private JobCancel() {
    }

    /**
     * Cancels {@code id} unless it has started.
     *
     * @param direct true for a call outside the circuit breaker (a one-shot tool), false for a producer's call
     * @return the job's status after the call: {@link io.spillway.core.JobState#CANCELLED}, or the state that made it
     *     too late (active, completed, dead, purged)
     */
    public static JobStatus cancel(RedisGateway gateway, QueueName queue, JobId id, boolean direct) {
        List<byte[]> keys = List.of(RedisKeys.bytes(RedisKeys.job(queue, id)));
        List<byte[]> args = List.of(RedisKeys.bytes(Long.toString(System.currentTimeMillis())),
                RedisKeys.bytes(Long.toString(UNKNOWN_ID_RETENTION.toSeconds())));
        Object reply = direct ? gateway.evalDirect(LuaScript.CANCEL, keys, args) : gateway.eval(LuaScript.CANCEL, keys, args);
        String record = reply instanceof byte[] b ? new String(b, StandardCharsets.UTF_8) : String.valueOf(reply);
        return StatusRecord.decode(id, queue, record);
    }
}
