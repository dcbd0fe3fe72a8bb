package io.powdb.backup.repo;

import io.powdb.backup.format.HeapPage;

import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * The framing {@link PagePack} and {@link PageMapDelta} share: a stream of records keyed by page index.
 *
 * <pre>
 * 8-byte magic | u32 page size | u64 page count
 * then per record, pages in ascending order: u32 page index | the format's payload
 * then u32 0xFFFFFFFF | u64 number of records                                 (little-endian)
 * </pre>
 *
 * Indices must ascend and stay below the page count, so a damaged stream can never name a page outside the
 * file; the end marker and count make a truncated one detectable before its hash is checked. Each format
 * keeps its own payload and its own error messages ({@link Errors}).
 */
final class IndexedRecords {
    static final int HEADER_BYTES = 20;
    /** Page indices are u32 and 0xFFFFFFFF marks the end. */
    static final long MAX_PAGES = 0xFFFFFFFFL;
    private static final int END = 0xFFFFFFFF;

    private IndexedRecords() {
    }

    /** The exceptions a format throws for each fault, with its own wording. */
    interface Errors {
        IntegrityException badHeader();

        IntegrityException badIndex(long index, long pages);

        /** The end marker's count is not the number of records read. */
        IntegrityException badCount();

        IntegrityException truncated();
    }

    /** Reads one record's payload, after its index. */
    interface PayloadReader {
        void read(long index, DataInputStream in) throws IOException;
    }

    /** Receives the page count before any record. */
    interface PageCount {
        void accept(long pages) throws IOException;
    }

    /** Writes the framing; the owner writes each record's payload right after {@link #index}. */
    static final class Writer {
        private final OutputStream out;
        private final long pages;
        private final ByteBuffer index = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
        private long last = -1;
        private long count;

        Writer(OutputStream out, byte[] magic, long pages) throws IOException {
            this.out = new BufferedOutputStream(out, 1 << 16);
            this.pages = pages;
            ByteBuffer header = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
            header.put(magic).putInt(HeapPage.SIZE).putLong(pages);
            this.out.write(header.array());
        }

        /** Whether {@code page} may come next: above the last one, below the page count. */
        boolean accepts(long page) {
            return page > last && page < pages;
        }

        /** Starts the record of {@code page}, which must be {@link #accepts accepted}; returns where its payload goes. */
        OutputStream index(long page) throws IOException {
            if (!accepts(page)) {
                throw new IllegalStateException("page " + page + " checked by the caller first");
            }
            index.clear();
            index.putInt((int) page);
            out.write(index.array());
            last = page;
            count++;
            return out;
        }

        long count() {
            return count;
        }

        /** Writes the end marker and flushes; the caller commits the object. */
        void finish() throws IOException {
            ByteBuffer end = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);
            end.putInt(END).putLong(count);
            out.write(end.array());
            out.flush();
        }
    }

    /**
     * Reads the framing from {@code in}, handing the page count to {@code pageCount} and each record's payload
     * to {@code payload}; returns the page count. Stops right after the end marker: what may follow is the
     * caller's to judge.
     */
    static long read(DataInputStream in, byte[] magic, Errors errors, PageCount pageCount, PayloadReader payload)
            throws IOException {
        try {
            byte[] header = new byte[HEADER_BYTES];
            in.readFully(header);
            ByteBuffer h = ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN);
            byte[] found = new byte[magic.length];
            h.get(found);
            int pageSize = h.getInt();
            long pages = h.getLong();
            if (!Arrays.equals(found, magic) || pageSize != HeapPage.SIZE || pages < 0 || pages > MAX_PAGES) {
                throw errors.badHeader();
            }
            pageCount.accept(pages);
            // Read through small arrays, not readInt(): that reads byte by byte from the stream beneath.
            byte[] word = new byte[8];
            ByteBuffer w = ByteBuffer.wrap(word).order(ByteOrder.LITTLE_ENDIAN);
            long last = -1;
            long count = 0;
            while (true) {
                in.readFully(word, 0, 4);
                int raw = w.getInt(0);
                if (raw == END) {
                    in.readFully(word, 0, 8);
                    if (w.getLong(0) != count) {
                        throw errors.badCount();
                    }
                    return pages;
                }
                long page = Integer.toUnsignedLong(raw);
                if (page <= last || page >= pages) {
                    throw errors.badIndex(page, pages);
                }
                payload.read(page, in);
                last = page;
                count++;
            }
        } catch (EOFException eof) {
            throw errors.truncated();
        }
    }
}
