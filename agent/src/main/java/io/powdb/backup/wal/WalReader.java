package io.powdb.backup.wal;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.zip.CRC32;

/**
 * Streams the records of a wal.log the way PowDB's own reader does: after the optional 0.5+ header, records
 * back to back, up to the first one whose length is impossible (below 25, above
 * {@link WalFormat#MAX_RECORD_LENGTH}, or running past the end: a torn tail) or whose CRC fails. Everything
 * before it is the valid prefix. Memory is one bounded buffer, whatever the size of the file or of a record.
 *
 * <p>The end is the file's size when the reader was opened: bytes appended later are left for the next
 * reader (a follower's next poll). If the file shrinks or changes while being read, reading stops at the
 * first record that is not whole or whose CRC fails, never past it.
 *
 * <pre>{@code
 * try (WalReader reader = WalReader.open(wal)) {
 *     for (WalRecord r = reader.next(); r != null; r = reader.next()) { ... }
 *     reader.stop(); reader.validPrefixLength();
 * }
 * }</pre>
 */
public final class WalReader implements Closeable {
    public static final int DEFAULT_BUFFER_SIZE = 256 * 1024;

    private final FileChannel channel;
    private final boolean ownsChannel;
    private final WindowedReader in;
    private final WalFileHeader header;
    private final long limit;
    private final byte[] recordHeader = new byte[WalFormat.RECORD_HEADER_SIZE];
    private long position;
    private WalStop stop;
    private WritableByteChannel tap;

    private WalReader(FileChannel channel, boolean ownsChannel, int bufferSize, WalFileHeader header, long start,
            long limit) {
        this.channel = channel;
        this.ownsChannel = ownsChannel;
        this.in = new WindowedReader(channel, bufferSize);
        this.header = header;
        this.position = start;
        this.limit = limit;
        if (header.kind() == WalFileHeader.Kind.UNDETERMINED) {
            stop = limit == 0 ? WalStop.END : WalStop.INCOMPLETE;
        }
    }

    public static WalReader open(Path wal) throws IOException {
        return open(wal, DEFAULT_BUFFER_SIZE);
    }

    /** Opens with a buffer of {@code bufferSize} bytes (at least 25); records larger than it are streamed. */
    public static WalReader open(Path wal, int bufferSize) throws IOException {
        FileChannel channel = FileChannel.open(wal, StandardOpenOption.READ);
        try {
            long size = channel.size();
            WalFileHeader header = readFileHeader(channel, size);
            return new WalReader(channel, true, bufferSize, header, header.length(), size);
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
    }

    /**
     * A reader of the records in {@code [start, limit)} of an open channel, which stays open on close. The
     * caller knows the file's header and that a record starts at {@code start}.
     */
    public static WalReader over(FileChannel channel, WalFileHeader header, long start, long limit, int bufferSize) {
        return new WalReader(channel, false, bufferSize, header, start, limit);
    }

    /** Reads and classifies the first (up to) 8 bytes of the file. */
    static WalFileHeader readFileHeader(FileChannel channel, long size) throws IOException {
        byte[] start = new byte[WalFormat.FILE_HEADER_SIZE];
        ByteBuffer buf = ByteBuffer.wrap(start, 0, (int) Math.min(size, start.length));
        while (buf.hasRemaining()) {
            if (channel.read(buf, buf.position()) < 0) {
                break;
            }
        }
        return WalFileHeader.detect(start, buf.position());
    }

    /**
     * Sends every byte of each record read from now on to {@code out}, as it streams past. A record's bytes
     * reach {@code out} before its CRC is known: when reading stops on a bad record, part of it was written.
     */
    void tap(WritableByteChannel out) {
        this.tap = out;
    }

    public WalFileHeader fileHeader() {
        return header;
    }

    /** The next valid record, or null once reading has stopped (then see {@link #stop()}). */
    public WalRecord next() throws IOException {
        if (stop != null) {
            return null;
        }
        long remaining = limit - position;
        if (remaining == 0) {
            return stopWith(WalStop.END);
        }
        if (remaining < WalFormat.RECORD_HEADER_SIZE
                || !in.read(position, recordHeader, WalFormat.RECORD_HEADER_SIZE)) {
            return stopWith(WalStop.INCOMPLETE);
        }
        long length = WalRecord.lengthField(recordHeader);
        if (length < WalFormat.RECORD_HEADER_SIZE || length > WalFormat.MAX_RECORD_LENGTH) {
            return stopWith(WalStop.BAD_LENGTH);
        }
        if (length > remaining) {
            return stopWith(WalStop.INCOMPLETE);
        }
        WalRecord record = WalRecord.fromHeader(position, recordHeader);
        CRC32 crc = new CRC32();
        crc.update(recordHeader, WalFormat.CRC_COVERED_FROM, WalFormat.RECORD_HEADER_SIZE - WalFormat.CRC_COVERED_FROM);
        if (tap != null) {
            writeFully(tap, ByteBuffer.wrap(recordHeader));
        }
        boolean whole = in.stream(position + WalFormat.RECORD_HEADER_SIZE, record.payloadLength(), chunk -> {
            crc.update(chunk.duplicate());
            if (tap != null) {
                writeFully(tap, chunk);
            }
        });
        if (!whole) {
            return stopWith(WalStop.INCOMPLETE); // the file shrank under us
        }
        if ((int) crc.getValue() != record.crc()) {
            return stopWith(WalStop.BAD_CRC);
        }
        position = record.end();
        return record;
    }

    /** Calls {@code visitor} for each remaining valid record. */
    public void forEachRemaining(WalRecordVisitor visitor) throws IOException {
        for (WalRecord r = next(); r != null; r = next()) {
            visitor.visit(r);
        }
    }

    /** Why reading stopped; null while {@link #next()} has not yet returned null. */
    public WalStop stop() {
        return stop;
    }

    /** The offset just after the last valid record read so far (the header length before the first). */
    public long validPrefixLength() {
        return position;
    }

    /** Where reading ends: the file size when the reader was opened. */
    public long limit() {
        return limit;
    }

    @Override
    public void close() throws IOException {
        if (ownsChannel) {
            channel.close();
        }
    }

    private WalRecord stopWith(WalStop why) {
        stop = why;
        return null;
    }

    private static void writeFully(WritableByteChannel out, ByteBuffer bytes) throws IOException {
        while (bytes.hasRemaining()) {
            out.write(bytes);
        }
    }
}
