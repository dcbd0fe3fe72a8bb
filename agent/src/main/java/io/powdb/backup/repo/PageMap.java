package io.powdb.backup.repo;

import io.powdb.backup.format.HeapPage;

import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;

/**
 * The LSN and fingerprint (CRC32C of the whole page) of every page of a heap as of a backup: 12 bytes a
 * page, 0.3% of the heap. The next incremental compares each page with it, so a page is uploaded when its
 * LSN or its content changed in any direction, not only when its LSN grew. Restore checks every page it
 * writes against it.
 *
 * <pre>
 * "PDBMAP01" | u32 page size | u64 page count | page count × (u64 LSN | u32 fingerprint)   (little-endian)
 * </pre>
 */
public final class PageMap implements Closeable {
    static final byte[] MAGIC = "PDBMAP01".getBytes(StandardCharsets.US_ASCII);
    static final int HEADER = 8 + 4 + 8;
    static final int ENTRY = 12;

    private final FileChannel channel;
    private final MappedByteBuffer[] chunks;
    private final long pages;
    private static final long ENTRIES_PER_CHUNK = (1L << 30) / ENTRY;

    private PageMap(FileChannel channel, MappedByteBuffer[] chunks, long pages) {
        this.channel = channel;
        this.chunks = chunks;
        this.pages = pages;
    }

    /**
     * Opens a map held in a local file (downloaded and hash-checked first), memory-mapped so that a map of
     * any size costs no heap.
     *
     * @throws IntegrityException when the file is not a well-formed map
     */
    public static PageMap open(Path file, String source) throws IOException {
        FileChannel channel = FileChannel.open(file, StandardOpenOption.READ);
        try {
            long size = channel.size();
            ByteBuffer header = ByteBuffer.allocate(HEADER).order(ByteOrder.LITTLE_ENDIAN);
            while (header.hasRemaining() && channel.read(header, header.position()) > 0) {
                // read fully
            }
            header.flip();
            byte[] magic = new byte[8];
            if (header.remaining() < HEADER) {
                throw new IntegrityException("page map " + source + " is truncated");
            }
            header.get(magic);
            int pageSize = header.getInt();
            long pages = header.getLong();
            if (!Arrays.equals(magic, MAGIC) || pageSize != HeapPage.SIZE || pages < 0 || pages > PagePack.MAX_PAGES
                    || size != HEADER + pages * ENTRY) {
                throw new IntegrityException("page map " + source + " is malformed");
            }
            int chunkCount = (int) ((pages + ENTRIES_PER_CHUNK - 1) / ENTRIES_PER_CHUNK);
            MappedByteBuffer[] chunks = new MappedByteBuffer[chunkCount];
            for (int i = 0; i < chunkCount; i++) {
                long first = i * ENTRIES_PER_CHUNK;
                long count = Math.min(ENTRIES_PER_CHUNK, pages - first);
                chunks[i] = channel.map(FileChannel.MapMode.READ_ONLY, HEADER + first * ENTRY, count * ENTRY);
                chunks[i].order(ByteOrder.LITTLE_ENDIAN);
            }
            return new PageMap(channel, chunks, pages);
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
    }

    public long pages() {
        return pages;
    }

    public long lsn(long page) {
        return chunk(page).getLong(offset(page));
    }

    public int fingerprint(long page) {
        return chunk(page).getInt(offset(page) + 8);
    }

    private MappedByteBuffer chunk(long page) {
        if (page < 0 || page >= pages) {
            throw new IndexOutOfBoundsException("page " + page + " of " + pages);
        }
        return chunks[(int) (page / ENTRIES_PER_CHUNK)];
    }

    private static int offset(long page) {
        return (int) ((page % ENTRIES_PER_CHUNK) * ENTRY);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }

    /** Streams a map out, entry by entry, in page order. */
    public static final class Writer {
        private final OutputStream out;
        private final long pages;
        private final ByteBuffer entry = ByteBuffer.allocate(ENTRY).order(ByteOrder.LITTLE_ENDIAN);
        private long written;

        public Writer(OutputStream out, long pages) throws IOException {
            this.out = new BufferedOutputStream(out, 1 << 16);
            this.pages = pages;
            ByteBuffer header = ByteBuffer.allocate(HEADER).order(ByteOrder.LITTLE_ENDIAN);
            header.put(MAGIC).putInt(HeapPage.SIZE).putLong(pages);
            this.out.write(header.array());
        }

        public void add(long lsn, int fingerprint) throws IOException {
            entry.clear();
            entry.putLong(lsn).putInt(fingerprint);
            out.write(entry.array());
            written++;
        }

        /** Flushes; the caller commits the object. */
        public void finish() throws IOException {
            if (written != pages) {
                throw new IllegalStateException("page map has " + written + " of " + pages + " entries");
            }
            out.flush();
        }
    }
}
