package io.powdb.backup.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;

/**
 * {@code catalog.bin}: "BCAT", u16 version 1, u32 table count, per table (u32 name length, name,
 * u32 index count, per index u32 length + name), then CRC32 of all preceding bytes. The notes give
 * only magic, version and CRC trailer; the table-list encoding in between is the fixture's own.
 */
public final class CatalogFile {
    public static final byte[] MAGIC = "BCAT".getBytes(StandardCharsets.US_ASCII);
    public static final int VERSION = 1;

    private CatalogFile() {}

    /** Table name → index (column) names, in catalog order. */
    public static byte[] encode(Map<String, List<String>> tables) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(MAGIC);
        out.writeBytes(le(2).putShort((short) VERSION).array());
        out.writeBytes(le(4).putInt(tables.size()).array());
        for (Map.Entry<String, List<String>> t : tables.entrySet()) {
            writeName(out, t.getKey());
            out.writeBytes(le(4).putInt(t.getValue().size()).array());
            for (String idx : t.getValue()) writeName(out, idx);
        }
        CRC32 crc = new CRC32();
        crc.update(out.toByteArray());
        out.writeBytes(le(4).putInt((int) crc.getValue()).array());
        return out.toByteArray();
    }

    /** Checks magic, version and CRC as {@code Catalog::open} does, then decodes the table list. */
    public static Map<String, List<String>> decode(byte[] bytes) throws IOException {
        if (bytes.length < MAGIC.length + 2 + 4 + 4 || !Arrays.equals(bytes, 0, 4, MAGIC, 0, 4)) {
            throw new IOException("catalog.bin: bad magic");
        }
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        CRC32 crc = new CRC32();
        crc.update(bytes, 0, bytes.length - 4);
        if ((int) crc.getValue() != b.getInt(bytes.length - 4)) throw new IOException("catalog.bin: bad CRC");
        b.position(4);
        int version = b.getShort() & 0xFFFF;
        if (version != VERSION) throw new IOException("catalog.bin: unsupported version " + version);
        try {
            Map<String, List<String>> tables = new LinkedHashMap<>();
            int count = b.getInt();
            for (int i = 0; i < count; i++) {
                String name = readName(b);
                int n = b.getInt();
                List<String> idx = new ArrayList<>();
                for (int j = 0; j < n; j++) idx.add(readName(b));
                tables.put(name, List.copyOf(idx));
            }
            if (b.position() != bytes.length - 4) throw new IOException("catalog.bin: trailing bytes");
            return tables;
        } catch (BufferUnderflowException | NegativeArraySizeException e) {
            throw new IOException("catalog.bin: truncated table list", e);
        }
    }

    private static void writeName(ByteArrayOutputStream out, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        out.writeBytes(le(4).putInt(b.length).array());
        out.writeBytes(b);
    }

    private static String readName(ByteBuffer b) {
        byte[] name = new byte[b.getInt()];
        b.get(name);
        return new String(name, StandardCharsets.UTF_8);
    }

    private static ByteBuffer le(int n) {
        return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
    }
}
