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
        // Written into one array with plain stores (no ByteBuffer, no per-field arrays for ASCII text): encode runs
        // on every enqueue, and a spooled enqueue is only about half a microsecond in all.
        String id = job.id().value();
        String queue = job.queue().value();
        String type = job.type();
        byte[] typeBytes = ascii(type) ? null : utf8(type);
        int typeLength = typeBytes == null ? type.length() : typeBytes.length;
        Map<String, String> headerMap = job.headers();
        byte[][] headers = null;
        int size = 1 + 2 + id.length() + 2 + queue.length() + 2 + typeLength + 8 + 8 + 4 + 2 + 4 + job.payload().length;
        if (!headerMap.isEmpty()) {
            headers = new byte[headerMap.size() * 2][];
            int i = 0;
            for (Map.Entry<String, String> e : headerMap.entrySet()) {
                headers[i] = utf8(e.getKey());
                headers[i + 1] = utf8(e.getValue());
                size += 4 + headers[i].length + headers[i + 1].length;
                i += 2;
            }
        }
        byte[] out = new byte[size];
        out[0] = VERSION;
        int at = putAscii(out, 1, id); // ids and queue names are ASCII by their validation
        at = putAscii(out, at, queue);
        at = typeBytes == null ? putAscii(out, at, type) : putBytes(out, at, typeBytes);
        at = putLong(out, at, job.enqueuedAt());
        at = putLong(out, at, job.runAt());
        at = putInt(out, at, job.attempt());
        at = putShort(out, at, headerMap.size());
        if (headers != null) {
            for (byte[] h : headers) {
                at = putBytes(out, at, h);
            }
        }
        at = putInt(out, at, job.payload().length);
        System.arraycopy(job.payload(), 0, out, at, job.payload().length);
        return out;
    }

    /**
     * The length {@link #encode} gives a job with an id of {@code idLength} characters (ids are ASCII) and
     * these fields, without encoding it.
     */
    public static int encodedLength(int idLength, QueueName queue, String type, Map<String, String> headers,
                                    int payloadLength) {
        int size = 1 + 2 + idLength + 2 + queue.value().length() + 2 + utf8Length(type) + 8 + 8 + 4 + 2 + 4 + payloadLength;
        for (Map.Entry<String, String> e : headers.entrySet()) {
            size += 4 + utf8Length(e.getKey()) + utf8Length(e.getValue());
        }
        return size;
    }

    private static int utf8Length(String s) {
        if (ascii(s)) {
            return s.length();
        }
        return s.getBytes(StandardCharsets.UTF_8).length;
    }

    private static boolean ascii(String s) {
        if (s.length() > 0xFFFF) {
            return false; // utf8() reports it
        }
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) >= 0x80) {
                return false;
            }
        }
        return true;
    }

    /** {@code u16 length | bytes} of a string known to be ASCII (at most 65,535 characters). */
    @SuppressWarnings("deprecation")
    private static int putAscii(byte[] out, int at, String s) {
        int len = s.length();
        at = putShort(out, at, len);
        s.getBytes(0, len, out, at);
        return at + len;
    }

    private static int putBytes(byte[] out, int at, byte[] s) {
        at = putShort(out, at, s.length);
        System.arraycopy(s, 0, out, at, s.length);
        return at + s.length;
    }

    private static int putShort(byte[] out, int at, int v) {
        out[at] = (byte) (v >>> 8);
        out[at + 1] = (byte) v;
        return at + 2;
    }

    private static int putInt(byte[] out, int at, int v) {
        out[at] = (byte) (v >>> 24);
        out[at + 1] = (byte) (v >>> 16);
        out[at + 2] = (byte) (v >>> 8);
        out[at + 3] = (byte) v;
        return at + 4;
    }

    private static int putLong(byte[] out, int at, long v) {
        putInt(out, at, (int) (v >>> 32));
        return putInt(out, at + 4, (int) v);
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
