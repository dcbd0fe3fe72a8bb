package io.powdb.backup.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.zip.CRC32;

/**
 * Encodes WAL records and appends them to {@code wal.log}. Records are buffered and written by
 * {@link #sync()} (append + fsync), which the fixture calls before flushing any page the records
 * describe: that is the write-ahead rule a crash-consistent copy relies on.
 *
 * <p>Record: u32 total length (25 + payload) | u32 CRC32 over tx_id, type, LSN and payload |
 * u64 tx_id | u8 type | u64 LSN | payload.
 */
public final class WalWriter {
    public static final int RECORD_HEADER = 25;
    public static final int FILE_HEADER_LEN = 8;

    public static final int INSERT = 1;
    public static final int UPDATE = 2;
    public static final int DELETE = 3;
    public static final int COMMIT = 4;
    public static final int ROLLBACK = 5;
    /*
     * The notes say only "6..9 DDL". This mapping is the fixture's own choice; the payload of each
     * is a list of u32-length-prefixed names (TRUNCATE adds a u32 page count).
     */
    public static final int DDL_CREATE_TABLE = 6;
    public static final int DDL_DROP_TABLE = 7;
    public static final int DDL_CREATE_INDEX = 8;
    public static final int DDL_TRUNCATE_HEAP = 9;

    private final Path wal;
    private final ByteArrayOutputStream pending = new ByteArrayOutputStream();

    public WalWriter(Path wal) {
        this.wal = wal;
    }

    /** The 0.5+ file header: "PWAL", u16 version 1, u16 flags 0. */
    public static byte[] fileHeader() {
        return ByteBuffer.allocate(FILE_HEADER_LEN).order(ByteOrder.LITTLE_ENDIAN)
                .put("PWAL".getBytes(StandardCharsets.US_ASCII)).putShort((short) 1).putShort((short) 0)
                .array();
    }

    public static byte[] encode(long txId, int type, long lsn, byte[] payload) {
        ByteBuffer b = ByteBuffer.allocate(RECORD_HEADER + payload.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(RECORD_HEADER + payload.length);
        b.putInt(0); // CRC, filled below
        b.putLong(txId).put((byte) type).putLong(lsn).put(payload);
        byte[] rec = b.array();
        CRC32 crc = new CRC32();
        crc.update(rec, 8, rec.length - 8); // tx_id | type | LSN | payload: the length is not covered
        b.putInt(4, (int) crc.getValue());
        return rec;
    }

    /** Row payload: u32 name length, table name, u32 page_id, u16 slot, u32 row length, row bytes. */
    public static byte[] rowPayload(String table, int pageId, int slot, byte[] row) {
        byte[] name = table.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(4 + name.length + 4 + 2 + 4 + row.length).order(ByteOrder.LITTLE_ENDIAN)
                .putInt(name.length).put(name).putInt(pageId).putShort((short) slot).putInt(row.length).put(row)
                .array();
    }

    /** DDL payload: each name as u32 length + UTF-8 bytes; how many names depends on the type. */
    public static byte[] namesPayload(String... names) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (String n : names) {
            byte[] b = n.getBytes(StandardCharsets.UTF_8);
            out.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(b.length).array());
            out.writeBytes(b);
        }
        return out.toByteArray();
    }

    public static byte[] truncatePayload(String table, int pages) {
        byte[] name = namesPayload(table);
        return ByteBuffer.allocate(name.length + 4).order(ByteOrder.LITTLE_ENDIAN).put(name).putInt(pages).array();
    }

    public void add(long txId, int type, long lsn, byte[] payload) {
        pending.writeBytes(encode(txId, type, lsn, payload));
    }

    /** Appends everything added so far and fsyncs the log. */
    public void sync() throws IOException {
        if (pending.size() == 0) return;
        try (FileChannel ch = FileChannel.open(wal, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.APPEND)) {
            ByteBuffer buf = ByteBuffer.wrap(pending.toByteArray());
            while (buf.hasRemaining()) ch.write(buf);
            ch.force(true);
        }
        pending.reset();
    }
}
