package io.spillway.core.internal;

import java.util.zip.CRC32;
import net.openhft.chronicle.bytes.Bytes;

/**
 * The checksummed frame around a record in the journal: version (1 byte), CRC32 of the data (4), data
 * length (4), data. What follows the data is the caller's. Read by {@link ChronicleJournal} and by the read-only
 * journal reader of the operator tools.
 */
public final class Frame {
    static final byte VERSION = 1;
    public static final int HEADER = 1 + 4 + 4;

    private Frame() {
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
