package io.spillway.core.internal;

import io.spillway.core.JobId;
import io.spillway.core.QueueName;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The one binary form of a job, used in the journal, in stream entries, in the delayed set and in the
 * dead letters. Versioned: the first byte is the format version, so old journals stay readable.
 *
 * <pre>
 * v1: u8 version=1 | str id | str queue | str type | i64 enqueuedAt | i64 runAt | i32 attempt
 *     | u16 headerCount | (str key | str value)* | i32 payloadLength | payload
 * str: u16 length | UTF-8 bytes
 * </pre>
 * Stateless and thread-safe.
 */
public final class JobCodec {
    public static final byte VERSION = 1;

    private JobCodec() {
    }

    public static byte[] encode(JobRecord job) {
        byte[] id = utf8(job.id().value());
        byte[] queue = utf8(job.queue().value());
        byte[] type = utf8(job.type());
        int size = 1 + 2 + id.length + 2 + queue.length + 2 + type.length + 8 + 8 + 4 + 2 + 4 + job.payload().length;
        byte[][] headers = new byte[job.headers().size() * 2][];
        int i = 0;
        for (Map.Entry<String, String> e : job.headers().entrySet()) {
            headers[i] = utf8(e.getKey());
            headers[i + 1] = utf8(e.getValue());
            size += 4 + headers[i].length + headers[i + 1].length;
            i += 2;
        }
        ByteBuffer b = ByteBuffer.allocate(size);
        b.put(VERSION);
        putStr(b, id);
        putStr(b, queue);
        putStr(b, type);
        b.putLong(job.enqueuedAt());
        b.putLong(job.runAt());
        b.putInt(job.attempt());
        b.putShort((short) job.headers().size());
        for (byte[] h : headers) {
            putStr(b, h);
        }
        b.putInt(job.payload().length);
        b.put(job.payload());
        return b.array();
    }

    /**
     * Decodes a job.
     *
     * @throws IllegalArgumentException if the bytes are not a job of a known version
     */
    public static JobRecord decode(byte[] bytes) {
        try {
            ByteBuffer b = ByteBuffer.wrap(bytes);
            byte version = b.get();
            if (version != VERSION) {
                throw new IllegalArgumentException("unknown job format version " + version);
            }
            JobId id = JobId.of(getStr(b));
            QueueName queue = QueueName.of(getStr(b));
            String type = getStr(b);
            long enqueuedAt = b.getLong();
            long runAt = b.getLong();
            int attempt = b.getInt();
            int headerCount = Short.toUnsignedInt(b.getShort());
            Map<String, String> headers = headerCount == 0 ? Map.of() : new LinkedHashMap<>();
            for (int i = 0; i < headerCount; i++) {
                headers.put(getStr(b), getStr(b));
            }
            int len = b.getInt();
            if (len < 0 || len != b.remaining()) {
                throw new IllegalArgumentException("payload length " + len + " does not match the " + b.remaining() + " bytes left");
            }
            byte[] payload = new byte[len];
            b.get(payload);
            return new JobRecord(id, queue, type, payload, headers, attempt, enqueuedAt, runAt);
        } catch (BufferUnderflowException e) {
            throw new IllegalArgumentException("job record is truncated", e);
        }
    }

    private static byte[] utf8(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        if (b.length > 0xFFFF) {
            throw new IllegalArgumentException("string field longer than 65535 bytes: " + b.length);
        }
        return b;
    }

    private static void putStr(ByteBuffer b, byte[] s) {
        b.putShort((short) s.length);
        b.put(s);
    }

    private static String getStr(ByteBuffer b) {
        int len = Short.toUnsignedInt(b.getShort());
        if (len > b.remaining()) {
            throw new IllegalArgumentException("string length " + len + " exceeds the record");
        }
        String s = new String(b.array(), b.position(), len, StandardCharsets.UTF_8);
        b.position(b.position() + len);
        return s;
    }
}
