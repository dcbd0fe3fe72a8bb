package io.powdb.backup.testing;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32;

/**
 * One 4096-byte PowDB heap page, built and parsed straight from the format notes
 * (shared/powdb-format.md, "Heap page layout"). Deliberately independent of the agent's
 * production reader, so that the two can check each other.
 *
 * <pre>
 *  0..4   page_id u32          4 page_type u8        5 flags u8 (bit 0 CRC, bits 4..7 format version)
 *  6..8   free_start u16       8..16 page LSN u64    16..20 CRC32 (bytes 16..20 taken as zero)
 *  20..   rows growing up;  slot directory growing down from 4094 (u16 offset, u16 length);
 *  4094..4096 u16 slot count
 * </pre>
 */
public final class HeapPage {
    public static final int SIZE = 4096;
    public static final int ROWS_START = 20;
    public static final int SLOT_COUNT_AT = SIZE - 2;
    public static final int SLOT_ENTRY = 4;
    public static final int LSN_AT = 8;
    public static final int CRC_AT = 16;

    public static final int TYPE_EMPTY = 0;
    public static final int TYPE_DATA = 1;
    public static final int TYPE_META = 5;

    public static final int FLAG_CRC = 0x01;
    public static final int DELETED = 0xFFFF;

    /** The superblock's magic at bytes 20..25 of heap page 0 (0.5+). */
    public static final byte[] SUPERBLOCK_MAGIC = "PHEAP".getBytes(StandardCharsets.US_ASCII);
    public static final int SUPERBLOCK_HEAP_VERSION = 1;

    private final byte[] bytes;
    private final ByteBuffer le;

    private HeapPage(byte[] bytes) {
        this.bytes = bytes;
        this.le = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** An empty data page (no rows yet). */
    public static HeapPage newData(int pageId, int formatVersion, boolean crc) {
        HeapPage p = new HeapPage(new byte[SIZE]);
        p.le.putInt(0, pageId);
        p.bytes[4] = TYPE_DATA;
        p.bytes[5] = flags(formatVersion, crc);
        p.setFreeStart(ROWS_START);
        return p;
    }

    /**
     * The 0.5+ heap superblock at page 0: type 5, "PHEAP" at 20..25, then (an inference: the
     * notes name the fields, not their widths) u16 heap version, u16 flags, u32 page size,
     * u32 first data page. It holds no rows, so its free_start is just past these fields.
     */
    public static HeapPage newSuperblock(int formatVersion, int firstDataPage) {
        HeapPage p = new HeapPage(new byte[SIZE]);
        p.le.putInt(0, 0);
        p.bytes[4] = TYPE_META;
        p.bytes[5] = flags(formatVersion, true);
        System.arraycopy(SUPERBLOCK_MAGIC, 0, p.bytes, ROWS_START, SUPERBLOCK_MAGIC.length);
        int at = ROWS_START + SUPERBLOCK_MAGIC.length;
        p.le.putShort(at, (short) SUPERBLOCK_HEAP_VERSION);
        p.le.putShort(at + 2, (short) 0);
        p.le.putInt(at + 4, SIZE);
        p.le.putInt(at + 8, firstDataPage);
        p.setFreeStart(at + 12);
        return p;
    }

    /** Wraps a copy of raw page bytes. */
    public static HeapPage of(byte[] page) {
        if (page.length != SIZE) {
            throw new IllegalArgumentException("a heap page is " + SIZE + " bytes, got " + page.length);
        }
        return new HeapPage(page.clone());
    }

    private static byte flags(int formatVersion, boolean crc) {
        return (byte) ((formatVersion & 0x0F) << 4 | (crc ? FLAG_CRC : 0));
    }

    public int pageId() { return le.getInt(0); }
    public int type() { return bytes[4] & 0xFF; }
    public int flags() { return bytes[5] & 0xFF; }
    public boolean hasCrc() { return (flags() & FLAG_CRC) != 0; }
    public int formatVersion() { return flags() >>> 4; }
    public int freeStart() { return le.getShort(6) & 0xFFFF; }
    public long lsn() { return le.getLong(LSN_AT); }
    public int storedCrc() { return le.getInt(CRC_AT); }
    public int slotCount() { return le.getShort(SLOT_COUNT_AT) & 0xFFFF; }

    public void setLsn(long lsn) { le.putLong(LSN_AT, lsn); }
    private void setFreeStart(int v) { le.putShort(6, (short) v); }

    private static int slotAt(int slot) { return SLOT_COUNT_AT - SLOT_ENTRY * (slot + 1); }
    public int slotOffset(int slot) { return le.getShort(slotAt(slot)) & 0xFFFF; }
    public int slotLength(int slot) { return le.getShort(slotAt(slot) + 2) & 0xFFFF; }
    public boolean isDeleted(int slot) { return slotOffset(slot) == DELETED; }

    public byte[] row(int slot) {
        checkLive(slot);
        int off = slotOffset(slot);
        byte[] row = new byte[slotLength(slot)];
        System.arraycopy(bytes, off, row, 0, row.length);
        return row;
    }

    public List<Integer> liveSlots() {
        List<Integer> live = new ArrayList<>();
        for (int s = 0; s < slotCount(); s++) {
            if (!isDeleted(s)) live.add(s);
        }
        return live;
    }

    /** Bytes a new row may take: the gap between the rows and the slot directory, less the new slot entry. */
    public int spaceForNewRow() {
        return slotAt(slotCount()) - freeStart();
    }

    /** Appends a row at free_start and a slot for it; returns the slot, or -1 when it does not fit. */
    public int addRow(byte[] row) {
        if (row.length > spaceForNewRow()) return -1;
        int slot = slotCount();
        int off = freeStart();
        System.arraycopy(row, 0, bytes, off, row.length);
        le.putShort(slotAt(slot), (short) off);
        le.putShort(slotAt(slot) + 2, (short) row.length);
        setFreeStart(off + row.length);
        le.putShort(SLOT_COUNT_AT, (short) (slot + 1));
        return slot;
    }

    /** In-place update; the fixture keeps row lengths stable so that updates never move rows. */
    public void replaceRow(int slot, byte[] row) {
        checkLive(slot);
        if (row.length != slotLength(slot)) {
            throw new IllegalArgumentException("in-place update must keep the row length " + slotLength(slot));
        }
        System.arraycopy(row, 0, bytes, slotOffset(slot), row.length);
    }

    /** Marks a slot deleted (offset 0xFFFF); the row bytes stay where they were, as in a slotted page. */
    public void deleteRow(int slot) {
        checkLive(slot);
        le.putShort(slotAt(slot), (short) DELETED);
        le.putShort(slotAt(slot) + 2, (short) 0);
    }

    private void checkLive(int slot) {
        if (slot < 0 || slot >= slotCount()) {
            throw new IllegalArgumentException("slot " + slot + " out of range 0.." + (slotCount() - 1));
        }
        if (isDeleted(slot)) throw new IllegalArgumentException("slot " + slot + " is deleted");
    }

    /** The page as it goes to disk: CRC32 stored when the flag is set, zero otherwise. */
    public byte[] toBytes() {
        le.putInt(CRC_AT, hasCrc() ? crcOf(bytes) : 0);
        return bytes.clone();
    }

    /** CRC32 over the whole page with bytes 16..20 taken as zero. */
    public static int crcOf(byte[] page) {
        CRC32 crc = new CRC32();
        crc.update(page, 0, CRC_AT);
        crc.update(new byte[4]);
        crc.update(page, CRC_AT + 4, SIZE - CRC_AT - 4);
        return (int) crc.getValue();
    }

    /** True when the page carries no CRC flag, or its stored CRC matches. */
    public static boolean crcValid(byte[] page) {
        HeapPage p = new HeapPage(page);
        return !p.hasCrc() || p.storedCrc() == crcOf(page);
    }
}
