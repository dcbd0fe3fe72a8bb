package io.powdb.backup.testing;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Random;
import java.util.zip.CRC32;

/**
 * {@code .idx} / {@code .eidx}: a B+tree serialised whole — "BIDX", u16 version 1, u32 root,
 * u32 node count, node bytes, CRC32 trailer (taken, like the catalog's, over all preceding bytes:
 * an inference). Not paged and carrying no LSNs, whatever its length.
 */
public final class IndexFile {
    public static final byte[] MAGIC = "BIDX".getBytes(StandardCharsets.US_ASCII);
    public static final int VERSION = 1;
    public static final int HEADER = 4 + 2 + 4 + 4;
    public static final int TRAILER = 4;
    /** The fixture's notion of a node, only to derive a plausible node count. */
    private static final int NODE_SIZE = 256;

    private IndexFile() {}

    /**
     * Builds an index file of about {@code nodeBytesHint} node bytes. Normally its length is kept off
     * any multiple of 4096. When {@code pageAligned}, the length is an exact multiple of 4096 and the
     * file is made to look paged to a careless reader: bytes 8..16 of every 4096-byte chunk after the
     * first are zero (a "page LSN" of 0, so a page-LSN-based incremental would skip those chunks and
     * restore a corrupt mix of old and new index), and chunk 0's "LSN" is the node count shifted by 16.
     */
    public static byte[] build(Random rnd, int nodeBytesHint, boolean pageAligned) {
        int natural = HEADER + Math.max(64, nodeBytesHint) + TRAILER;
        int length;
        if (pageAligned) {
            length = Math.max(1, (natural + HeapPage.SIZE - 1) / HeapPage.SIZE) * HeapPage.SIZE;
        } else {
            length = natural % HeapPage.SIZE == 0 ? natural + 1 + rnd.nextInt(100) : natural;
        }
        int nodeBytes = length - HEADER - TRAILER;
        int nodeCount = (nodeBytes + NODE_SIZE - 1) / NODE_SIZE;
        byte[] file = new byte[length];
        ByteBuffer b = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
        b.put(MAGIC).putShort((short) VERSION).putInt(rnd.nextInt(nodeCount)).putInt(nodeCount);
        byte[] nodes = new byte[nodeBytes];
        rnd.nextBytes(nodes);
        b.put(nodes);
        if (pageAligned) {
            file[HEADER] = 0; // node kind / level bytes: 0 for a leaf
            file[HEADER + 1] = 0;
            for (int chunk = HeapPage.SIZE; chunk < length; chunk += HeapPage.SIZE) {
                Arrays.fill(file, chunk + HeapPage.LSN_AT, chunk + HeapPage.LSN_AT + 8, (byte) 0);
            }
        }
        CRC32 crc = new CRC32();
        crc.update(file, 0, length - TRAILER);
        b.putInt(length - TRAILER, (int) crc.getValue());
        return file;
    }

    /** What {@code Catalog::open} checks: magic, version, CRC trailer. */
    public static void verify(byte[] file) throws IOException {
        if (file.length < HEADER + TRAILER || !Arrays.equals(file, 0, 4, MAGIC, 0, 4)) {
            throw new IOException("index: bad magic");
        }
        ByteBuffer b = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
        if ((b.getShort(4) & 0xFFFF) != VERSION) throw new IOException("index: unsupported version");
        CRC32 crc = new CRC32();
        crc.update(file, 0, file.length - TRAILER);
        if ((int) crc.getValue() != b.getInt(file.length - TRAILER)) throw new IOException("index: bad CRC");
    }
}
