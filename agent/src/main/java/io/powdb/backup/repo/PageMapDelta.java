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
 * The page map entries an incremental changed: the LSN and fingerprint of each page it stored, and the
 * heap's page count, so that an incremental uploads 16 bytes per changed page instead of a whole map (12
 * bytes per page of the heap). A heap's map as of a backup is its chain's full map with the deltas applied
 * oldest first ({@link PageMaps}).
 *
 * <pre>
 * "PDBMAPD1" | u32 page size | u64 page count
 * then per changed page, in ascending order: u32 index | u64 LSN | u32 fingerprint
 * then u32 0xFFFFFFFF | u64 number of entries                                       (little-endian)
 * </pre>
 */
public final class PageMapDelta {
    static final byte[] MAGIC = "PDBMAPD1".getBytes(StandardCharsets.US_ASCII);
    private static final int END = 0xFFFFFFFF;

    private PageMapDelta() {
    }

    /** Receives the entries of a delta. */
    interface EntryConsumer {
        void accept(long index, long lsn, int fingerprint) throws IOException;
    }

    /** Streams a delta out; entries must come in ascending page order. */
    public static final class Writer {
        private final OutputStream out;
        private final long pages;
        private final ByteBuffer entry = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
        private long last = -1;
        private long count;

        public Writer(OutputStream out, long pages) throws IOException {
            this.out = new BufferedOutputStream(out, 1 << 16);
            this.pages = pages;
            ByteBuffer header = ByteBuffer.allocate(20).order(ByteOrder.LITTLE_ENDIAN);
            header.put(MAGIC).putInt(HeapPage.SIZE).putLong(pages);
            this.out.write(header.array());
        }

        public void add(long index, long lsn, int fingerprint) throws IOException {
            if (index <= last || index >= pages) {
                throw new IllegalArgumentException("page " + index + " out of order or beyond " + pages);
            }
            entry.clear();
            entry.putInt((int) index).putLong(lsn).putInt(fingerprint);
            out.write(entry.array());
            last = index;
            count++;
        }

        public long count() {
            return count;
        }

        /** Writes the end marker and flushes; the caller commits the object. */
        public void finish() throws IOException {
            ByteBuffer end = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);
            end.putInt(END).putLong(count);
            out.write(end.array());
            out.flush();
        }
    }

    /**
     * Reads a delta: returns its page count after handing every entry to {@code consumer}.
     *
     * @throws IntegrityException when it is not a well-formed delta
     */
    static long read(InputStream raw, String source, LongConsumerFirst pagesFirst, EntryConsumer consumer)
            throws IOException {
        DataInputStream in = new DataInputStream(raw);
        byte[] header = new byte[20];
        try {
            in.readFully(header);
            ByteBuffer h = ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN);
            byte[] magic = new byte[8];
            h.get(magic);
            int pageSize = h.getInt();
            long pages = h.getLong();
            if (!Arrays.equals(magic, MAGIC) || pageSize != HeapPage.SIZE || pages < 0 || pages > PagePack.MAX_PAGES) {
                throw new IntegrityException("page map delta " + source + " is malformed");
            }
            pagesFirst.accept(pages);
            byte[] e = new byte[16];
            ByteBuffer b = ByteBuffer.wrap(e).order(ByteOrder.LITTLE_ENDIAN);
            long count = 0;
            long last = -1;
            while (true) {
                in.readFully(e, 0, 4);
                int index = b.getInt(0);
                if (index == END) {
                    in.readFully(e, 4, 8);
                    if (b.getLong(4) != count) {
                        throw new IntegrityException("page map delta " + source + " is truncated or damaged");
                    }
                    return pages;
                }
                in.readFully(e, 4, 12);
                long page = Integer.toUnsignedLong(index);
                if (page <= last || page >= pages) {
                    throw new IntegrityException("page map delta " + source + " is malformed (page " + page + ")");
                }
                consumer.accept(page, b.getLong(4), b.getInt(12));
                last = page;
                count++;
            }
        } catch (EOFException eof) {
            throw new IntegrityException("page map delta " + source + " is truncated");
        }
    }

    /** Receives the page count before any entry. */
    interface LongConsumerFirst {
        void accept(long pages) throws IOException;
    }
}
