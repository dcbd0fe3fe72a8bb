package io.powdb.backup.repo;

import io.powdb.backup.format.HeapPage;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

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
 * write outside the file. The framing is {@link IndexedRecords}, shared with {@link PageMapDelta}.
 */
public final class PagePack {
    static final byte[] MAGIC = "PDBPGS01".getBytes(StandardCharsets.US_ASCII);
    /** Page indices are u32 and 0xFFFFFFFF marks the end. */
    public static final long MAX_PAGES = IndexedRecords.MAX_PAGES;

    private PagePack() {
    }

    /** Receives the pages of a pack (or of a raw heap image) in ascending order. */
    @FunctionalInterface
    public interface PageConsumer {
        void page(long index, byte[] page) throws IOException;
    }

    public static final class Writer {
        private final IndexedRecords.Writer records;

        public Writer(OutputStream out, long filePages) throws IOException {
            this.records = new IndexedRecords.Writer(out, MAGIC, filePages);
        }

        public void add(long pageIndex, byte[] page, int offset) throws IOException {
            if (!records.accepts(pageIndex)) {
                throw new IllegalArgumentException("page " + pageIndex + " out of order or range");
            }
            records.index(pageIndex).write(page, offset, HeapPage.SIZE);
        }

        public long count() {
            return records.count();
        }

        public void finish() throws IOException {
            records.finish();
        }
    }

    /**
     * Reads a pack, handing each page to {@code consumer}; returns the page count of the file recorded in it.
     *
     * @throws IntegrityException when the pack is malformed (the message names {@code source})
     */
    public static long read(InputStream in, String source, PageConsumer consumer) throws IOException {
        DataInputStream data = new DataInputStream(in);
        byte[] page = new byte[HeapPage.SIZE];
        long filePages = IndexedRecords.read(data, MAGIC, new Errors(source), pages -> { }, (index, records) -> {
            records.readFully(page);
            consumer.page(index, page);
        });
        if (data.read() != -1) {
            throw new Errors(source).badCount();
        }
        return filePages;
    }

    private record Errors(String source) implements IndexedRecords.Errors {
        @Override
        public IntegrityException badHeader() {
            return new IntegrityException("page pack " + source + " is malformed (bad header)");
        }

        @Override
        public IntegrityException badIndex(long index, long pages) {
            return new IntegrityException("page pack " + source + " is malformed (page " + index
                    + " out of order or beyond " + pages + " pages)");
        }

        /** Also bytes after the end marker. */
        @Override
        public IntegrityException badCount() {
            return new IntegrityException("page pack " + source + " is malformed (bad trailer)");
        }

        @Override
        public IntegrityException truncated() {
            return new IntegrityException("page pack " + source + " is truncated");
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
