package io.spillway.core.internal;

import java.util.zip.CRC32;
import net.openhft.chronicle.bytes.Bytes;

/**
 * The checksummed frame around a record in the journal: version (1 byte), CRC32 of the data (4), data
 * length (4), data. What follows the data is the caller's. Read by {@link ChronicleJournal} and by the read-only
 * journal reader of the operator tools.
 *
 * <p>An entry of exactly one byte, {@value #MARKER}, is a <i>cycle marker</i>, not a record: the journal writes one
 * at the start of each cycle file so that the file's first record is not the one that makes Chronicle build its
 * index (0.2–0.8 ms, measured, in the caller's wait at the first spool of an outage). Readers skip markers; they
 * are not records, not corrupt, and not counted.
 */
public final class Frame {
    static final byte VERSION = 1;
    public static final int HEADER = 1 + 4 + 4;

    private Frame() {
    }

    /** The one byte of a cycle marker; a record's frame starts with {@link #VERSION}. */
    static final byte MARKER = 0;

    /** Writes a cycle marker (the whole entry). */
    static void writeMarker(Bytes<?> b) {
        b.writeByte(MARKER);
    }

    /** Whether an entry, read from its start, is a cycle marker. Reads nothing. */
    public static boolean isMarker(Bytes<?> b) {
        return b.readRemaining() == 1 && b.readByte(b.readPosition()) == MARKER;
    }

    /** Writes a frame; {@code crc} is a scratch checksum owned by the (synchronised) writer. */
    static void write(Bytes<?> b, byte[] data, CRC32 crc) {
        crc.reset();
        crc.update(data);
        b.writeByte(VERSION);
        b.writeInt((int) crc.getValue());
        b.writeInt(data.length);
        b.write(data);
    }

    /** Reads a frame's data, or null if it is torn, of another version, or fails its checksum. */
    public static byte[] read(Bytes<?> b) {
        if (b.readRemaining() < HEADER) {
            b.readSkip(b.readRemaining());
            return null;
        }
        int version = b.readUnsignedByte();
        int sum = b.readInt();
        int len = b.readInt();
        if (version != VERSION || len < 0 || len > b.readRemaining()) {
            b.readSkip(b.readRemaining());
            return null;
        }
        byte[] data = new byte[len];
        b.read(data);
        CRC32 c = new CRC32();
        c.update(data);
        return (int) c.getValue() == sum ? data : null;
    }
}
