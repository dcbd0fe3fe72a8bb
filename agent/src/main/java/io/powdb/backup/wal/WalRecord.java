package io.powdb.backup.wal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * One complete, CRC-checked WAL record, as found at {@code offset} in wal.log. It carries the header fields
 * only, never the payload: a WAL can be large and a record up to {@link WalFormat#MAX_RECORD_LENGTH}. Get
 * the bytes with {@link WalCopier#readRecord} or copy ranges with {@link WalCopier#copy}; both re-check them.
 *
 * @param offset where the record starts in the file
 * @param length total length, the 25-byte header included
 * @param crc    the stored CRC32 (an unsigned u32 kept as its bit pattern)
 * @param lsn    an unsigned u64: compare with {@link Long#compareUnsigned}
 */
public record WalRecord(long offset, int length, int crc, long txId, int type, long lsn) {

    public int payloadLength() {
        return length - WalFormat.RECORD_HEADER_SIZE;
    }

    /** The offset just after the record. */
    public long end() {
        return offset + length;
    }

    public boolean isCommit() {
        return type == WalFormat.COMMIT;
    }

    /** Reads a record header (25 bytes at {@code at}) whose length was already checked. */
    static WalRecord fromHeader(long offset, byte[] header) {
        ByteBuffer b = ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN);
        return new WalRecord(offset, b.getInt(0), b.getInt(4), b.getLong(8), Byte.toUnsignedInt(b.get(16)),
                b.getLong(17));
    }

    /** The u32 length field of a record header, unsigned. */
    static long lengthField(byte[] header) {
        return Integer.toUnsignedLong(ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN).getInt(0));
    }

    @Override
    public String toString() {
        return "WalRecord[lsn=" + Long.toUnsignedString(lsn) + ", " + WalFormat.typeName(type) + ", tx="
                + Long.toUnsignedString(txId) + ", offset=" + offset + ", length=" + length + "]";
    }
}
