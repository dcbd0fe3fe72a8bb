package io.powdb.backup.format;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.CRC32;
import java.util.zip.CRC32C;

/**
 * What the agent reads of a PowDB heap page (see shared/powdb-format.md): 4096 bytes, the page LSN as an
 * unsigned u64 at bytes 8..16, and a CRC32 at 16..20 that is valid only when flags bit 0 is set.
 */
public final class HeapPage {
    public static final int SIZE = 4096;
    static final int FLAGS_OFFSET = 5;
    static final int LSN_OFFSET = 8;
    static final int CRC_OFFSET = 16;
    static final int FLAG_CRC_PRESENT = 1;

    private HeapPage() {
    }

    /** The page LSN, to be compared with {@link Long#compareUnsigned}. */
    public static long lsn(byte[] page, int offset) {
        return ByteBuffer.wrap(page, offset + LSN_OFFSET, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    }

    public static boolean hasCrc(byte[] page, int offset) {
        return (page[offset + FLAGS_OFFSET] & FLAG_CRC_PRESENT) != 0;
    }

    /**
     * True when the page carries no CRC, or its CRC32 (over the page with bytes 16..20 as zero) matches.
     * A mismatch means the page was read torn or is corrupt.
     */
    public static boolean crcMatches(byte[] page, int offset) {
        if (!hasCrc(page, offset)) {
            return true;
        }
        int stored = ByteBuffer.wrap(page, offset + CRC_OFFSET, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
        CRC32 crc = new CRC32();
        crc.update(page, offset, CRC_OFFSET);
        crc.update(new byte[4]);
        crc.update(page, offset + CRC_OFFSET + 4, SIZE - CRC_OFFSET - 4);
        return (int) crc.getValue() == stored;
    }

    /**
     * Our own fingerprint of the whole page (CRC32C, hardware-accelerated), computed for every page whether
     * or not PowDB put a CRC on it: change detection compares (LSN, fingerprint), so a page that changed
     * without a new LSN (a new history, a late flush) is still caught.
     */
    public static int fingerprint(byte[] page, int offset) {
        CRC32C crc = new CRC32C();
        crc.update(page, offset, SIZE);
        return (int) crc.getValue();
    }
}
