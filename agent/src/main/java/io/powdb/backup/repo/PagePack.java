package io.powdb.backup.repo;

import io.powdb.backup.format.HeapPage;

import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The changed pages of one heap in an incremental backup.
 *
 * <pre>
 * "PDBPGS01" | u32 page size | u64 pages in the file at backup time
 * then per page, ascending: u32 page index | 4096 page bytes
 * then u32 0xFFFFFFFF | u64 number of pages                                  (little-endian)
 * </pre>
 *
 * The end marker and count make a truncated pack detectable even before its hash is checked; page
 * indices must ascend and stay below the recorded page count, so a damaged pack can never make a restore
 * write outside the file.
 */
public final class PagePack {
    static final byte[] MAGIC = "PDBPGS01".getBytes(StandardCharsets.US_ASCII);
    /** Page indices are u32 and 0xFFFFFFFF marks the end. */
    public static final long MAX_PAGES = 0xFFFFFFFFL;
    private static final int END = 0xFFFFFFFF;

    private PagePack() {
    }

    /** Receives the pages of a pack (or of a raw heap image) in ascending order. */
    @FunctionalInterface
    public interface PageConsumer {
        void page(long index, byte[] page) throws IOException;
    }

    public static final class Writer {
        private final OutputStream out;
        private final ByteBuffer index = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
        private final long filePages;
        private long count;
        private long last = -1;

        public Writer(OutputStream out, long filePages) throws IOException {
            this.out = new BufferedOutputStream(out, 1 << 16);
            this.filePages = filePages;
            ByteBuffer header = ByteBuffer.allocate(20).order(ByteOrder.LITTLE_ENDIAN);
            header.put(MAGIC).putInt(HeapPage.SIZE).putLong(filePages);
            this.out.write(header.array());
        }

        public void add(long pageIndex, byte[] page, int offset) throws IOException {
            if (pageIndex <= last || pageIndex >= filePages) {
                throw new IllegalArgumentException("page " + pageIndex + " out of order or range");
            }
            index.clear();
            index.putInt((int) pageIndex);
            out.write(index.array());
            out.write(page, offset, HeapPage.SIZE);
            last = pageIndex;
            count++;
        }

        public long count() {
            return count;
        }

        public void finish() throws IOException {
            ByteBuffer end = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);
            end.putInt(END).putLong(count);
            out.write(end.array());
            out.flush();
        }
    }

    /**
     * Reads a pack, handing each page to {@code consumer}; returns the page count of the file recorded in it.
     *
     * @throws IntegrityException when the pack is malformed (the message names {@code source})
     */
    public static long read(InputStream in, String source, PageConsumer consumer) throws IOException {
        DataInputStream data = new DataInputStream(in);
        byte[] header = new byte[20];
        try {
            data.readFully(header);
            ByteBuffer h = ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN);
            byte[] magic = new byte[8];
            h.get(magic);
            int pageSize = h.getInt();
            long filePages = h.getLong();
            if (!Arrays.equals(magic, MAGIC) || pageSize != HeapPage.SIZE || filePages < 0 || filePages > MAX_PAGES) {
                throw new IntegrityException("page pack " + source + " is malformed (bad header)");
            }
            byte[] indexBytes = new byte[4];
            byte[] page = new byte[HeapPage.SIZE];
            long last = -1;
            long count = 0;
            while (true) {
                data.readFully(indexBytes);
                int raw = ByteBuffer.wrap(indexBytes).order(ByteOrder.LITTLE_ENDIAN).getInt();
                if (raw == END) {
                    byte[] countBytes = new byte[8];
                    data.readFully(countBytes);
                    long recorded = ByteBuffer.wrap(countBytes).order(ByteOrder.LITTLE_ENDIAN).getLong();
                    if (recorded != count || data.read() != -1) {
                        throw new IntegrityException("page pack " + source + " is malformed (bad trailer)");
                    }
                    return filePages;
                }
                long pageIndex = Integer.toUnsignedLong(raw);
                if (pageIndex <= last || pageIndex >= filePages) {
                    throw new IntegrityException("page pack " + source + " is malformed (page " + pageIndex
                            + " out of order or beyond " + filePages + " pages)");
                }
                data.readFully(page);
                consumer.page(pageIndex, page);
                last = pageIndex;
                count++;
            }
        } catch (EOFException e) {
            throw new IntegrityException("page pack " + source + " is truncated");
        }
    }

    /** Reads a raw heap image (pages back to back) of {@code size} bytes, handing each page to {@code consumer}. */
    public static void readImage(InputStream in, long size, String source, PageConsumer consumer) throws IOException {
        if (size % HeapPage.SIZE != 0) {
            throw new IntegrityException("heap image " + source + " is " + size + " bytes, not a whole number of pages");
        }
        byte[] page = new byte[HeapPage.SIZE];
        long pages = size / HeapPage.SIZE;
        for (long i = 0; i < pages; i++) {
            if (in.readNBytes(page, 0, HeapPage.SIZE) != HeapPage.SIZE) {
                throw new IntegrityException("heap image " + source + " is truncated at page " + i);
            }
            consumer.page(i, page);
        }
        if (in.read() != -1) {
            throw new IntegrityException("heap image " + source + " is longer than recorded");
        }
    }
}
