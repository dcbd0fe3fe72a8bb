package io.powdb.backup.wal;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Copies records out of a live wal.log, proving the bytes copied are the records expected. The file may
 * have been rolled back, checkpointed or rewritten since a follower reported them, so every record is
 * re-parsed and CRC-checked as it is copied, and the run must match the expected count, first and last
 * record (LSN and CRC) and end offset exactly.
 */
public final class WalCopier {
    private WalCopier() {
    }

    /**
     * Writes the bytes of {@code range} to {@code out}, streaming with bounded memory.
     *
     * @throws WalChangedException when the file no longer holds exactly those records. Part of the range may
     *         already have been written to {@code out}: discard it, poll the follower, and copy again.
     */
    public static void copy(Path wal, WalRange range, WritableByteChannel out) throws IOException {
        copy(wal, range, out, WalReader.DEFAULT_BUFFER_SIZE);
    }

    static void copy(Path wal, WalRange range, WritableByteChannel out, int bufferSize) throws IOException {
        try (FileChannel channel = FileChannel.open(wal, StandardOpenOption.READ)) {
            // The header kind only matters to a reader that starts at offset 0; this one starts at a record.
            WalReader reader = WalReader.over(channel, WalFileHeader.ABSENT, range.startOffset(), range.endOffset(),
                    bufferSize);
            reader.tap(out);
            long count = 0;
            WalRecord first = null;
            WalRecord last = null;
            for (WalRecord r = reader.next(); r != null; r = reader.next()) {
                if (first == null) {
                    first = r;
                }
                last = r;
                count++;
            }
            String why = null;
            if (reader.stop() != WalStop.END) {
                why = "reading stopped at offset " + reader.validPrefixLength() + " (" + reader.stop() + ")";
            } else if (count != range.recordCount()) {
                why = "found " + count + " records, expected " + range.recordCount();
            } else if (first.lsn() != range.firstLsn() || first.crc() != range.firstCrc()) {
                why = "the first record is " + first + ", not LSN " + Long.toUnsignedString(range.firstLsn());
            } else if (last.lsn() != range.lastLsn() || last.crc() != range.lastCrc()) {
                why = "the last record is " + last + ", not LSN " + Long.toUnsignedString(range.lastLsn());
            }
            if (why != null) {
                throw new WalChangedException("wal.log no longer holds the expected records at [" + range.startOffset()
                        + ", " + range.endOffset() + ") (generation " + range.generation() + "): " + why);
            }
        }
    }

    /** The bytes of one record (header and payload), checked to be that record still. */
    public static byte[] readRecord(Path wal, WalRecord record) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(record.length());
        WalRange range = new WalRange(0, record.offset(), record.end(), 1, record.lsn(), record.crc(), record.lsn(),
                record.crc());
        copy(wal, range, Channels.newChannel(bytes));
        return bytes.toByteArray();
    }
}
