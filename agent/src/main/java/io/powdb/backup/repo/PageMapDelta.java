package io.powdb.backup.repo;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

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
 *
 * The framing is {@link IndexedRecords}, shared with {@link PagePack}.
 */
public final class PageMapDelta {
    static final byte[] MAGIC = "PDBMAPD1".getBytes(StandardCharsets.US_ASCII);

    private PageMapDelta() {
    }

    /** Receives the entries of a delta. */
    interface EntryConsumer {
        void accept(long index, long lsn, int fingerprint) throws IOException;
    }

    /** Streams a delta out; entries must come in ascending page order. */
    public static final class Writer {
        private final IndexedRecords.Writer records;
        private final long pages;
        private final ByteBuffer entry = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);

        public Writer(OutputStream out, long pages) throws IOException {
            this.records = new IndexedRecords.Writer(out, MAGIC, pages);
            this.pages = pages;
        }

        public void add(long index, long lsn, int fingerprint) throws IOException {
            if (!records.accepts(index)) {
                throw new IllegalArgumentException("page " + index + " out of order or beyond " + pages);
            }
            entry.clear();
            entry.putLong(lsn).putInt(fingerprint);
            records.index(index).write(entry.array());
        }

        public long count() {
            return records.count();
        }

        /** Writes the end marker and flushes; the caller commits the object. */
        public void finish() throws IOException {
            records.finish();
        }
    }

    /**
     * Reads a delta: returns its page count after handing every entry to {@code consumer}.
     *
     * @throws IntegrityException when it is not a well-formed delta
     */
    static long read(InputStream raw, String source, IndexedRecords.PageCount pagesFirst, EntryConsumer consumer)
            throws IOException {
        byte[] e = new byte[12];
        ByteBuffer b = ByteBuffer.wrap(e).order(ByteOrder.LITTLE_ENDIAN);
        return IndexedRecords.read(new DataInputStream(raw), MAGIC, new Errors(source), pagesFirst,
                (page, in) -> {
                    in.readFully(e);
                    consumer.accept(page, b.getLong(0), b.getInt(8));
                });
    }

    private record Errors(String source) implements IndexedRecords.Errors {
        @Override
        public IntegrityException badHeader() {
            return new IntegrityException("page map delta " + source + " is malformed");
        }

        @Override
        public IntegrityException badIndex(long index, long pages) {
            return new IntegrityException("page map delta " + source + " is malformed (page " + index + ")");
        }

        @Override
        public IntegrityException badCount() {
            return new IntegrityException("page map delta " + source + " is truncated or damaged");
        }

        @Override
        public IntegrityException truncated() {
            return new IntegrityException("page map delta " + source + " is truncated");
        }
    }
}
