package io.powdb.backup.testing;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.CRC32;

/**
 * One parsed WAL record. {@link #readAll} follows PowDB's reader: skip the 0.5+ "PWAL" header,
 * then take records until the first one whose length or CRC is bad (a torn tail is normal).
 */
public record WalRecord(long offset, long txId, int type, long lsn, byte[] payload) {

    /** The row part of an insert/update/delete payload. */
    public record RowChange(String table, int pageId, int slot, byte[] row) {}

    public static List<WalRecord> readAll(Path wal) throws IOException {
        return Files.exists(wal) ? parse(Files.readAllBytes(wal)) : List.of();
    }

    public static boolean hasFileHeader(byte[] wal) {
        return wal.length >= WalWriter.FILE_HEADER_LEN
                && Arrays.equals(wal, 0, 4, "PWAL".getBytes(StandardCharsets.US_ASCII), 0, 4);
    }

    public static List<WalRecord> parse(byte[] wal) {
        ByteBuffer b = ByteBuffer.wrap(wal).order(ByteOrder.LITTLE_ENDIAN);
        // A 0.4 record cannot start with "PWAL": read as a u32 length that would be ~1.3 GB.
        int pos = hasFileHeader(wal) ? WalWriter.FILE_HEADER_LEN : 0;
        List<WalRecord> out = new ArrayList<>();
        while (wal.length - pos >= WalWriter.RECORD_HEADER) {
            long len = Integer.toUnsignedLong(b.getInt(pos));
            if (len < WalWriter.RECORD_HEADER || len > wal.length - pos) break;
            CRC32 crc = new CRC32();
            crc.update(wal, pos + 8, (int) len - 8);
            if ((int) crc.getValue() != b.getInt(pos + 4)) break;
            byte[] payload = Arrays.copyOfRange(wal, pos + WalWriter.RECORD_HEADER, pos + (int) len);
            out.add(new WalRecord(pos, b.getLong(pos + 8), wal[pos + 16] & 0xFF, b.getLong(pos + 17), payload));
            pos += (int) len;
        }
        return out;
    }

    public boolean isRowChange() {
        return type == WalWriter.INSERT || type == WalWriter.UPDATE || type == WalWriter.DELETE;
    }

    public RowChange rowChange() {
        if (!isRowChange()) throw new IllegalStateException("record type " + type + " carries no row");
        ByteBuffer b = ByteBuffer.wrap(payload).order(ByteOrder.LITTLE_ENDIAN);
        byte[] name = new byte[b.getInt()];
        b.get(name);
        int pageId = b.getInt();
        int slot = b.getShort() & 0xFFFF;
        byte[] row = new byte[b.getInt()];
        b.get(row);
        return new RowChange(new String(name, StandardCharsets.UTF_8), pageId, slot, row);
    }

    /** The first u32-length-prefixed name of a DDL payload (the table). */
    public String ddlTable() {
        ByteBuffer b = ByteBuffer.wrap(payload).order(ByteOrder.LITTLE_ENDIAN);
        byte[] name = new byte[b.getInt()];
        b.get(name);
        return new String(name, StandardCharsets.UTF_8);
    }

    /** The page count of a {@link WalWriter#DDL_TRUNCATE_HEAP} record. */
    public int truncatePages() {
        ByteBuffer b = ByteBuffer.wrap(payload).order(ByteOrder.LITTLE_ENDIAN);
        b.position(4 + b.getInt());
        return b.getInt();
    }
}
