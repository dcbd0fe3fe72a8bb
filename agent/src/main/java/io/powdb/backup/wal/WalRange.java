package io.powdb.backup.wal;

import java.util.List;
import java.util.Optional;

/**
 * A run of consecutive records of one generation of wal.log, {@code [startOffset, endOffset)}: what a shipper
 * copies out with {@link WalCopier#copy}. The first and last records' LSN and CRC are kept so the copy can prove
 * it read the same records, not whatever a later generation put at the same offsets.
 */
public record WalRange(long generation, long startOffset, long endOffset, long recordCount, long firstLsn,
        int firstCrc, long lastLsn, int lastCrc) {

    public WalRange {
        if (recordCount < 1 || endOffset - startOffset < recordCount * WalFormat.RECORD_HEADER_SIZE
                || startOffset < 0) {
            throw new IllegalArgumentException("not a range of whole records: [" + startOffset + ", " + endOffset
                    + ") holding " + recordCount);
        }
    }

    public long length() {
        return endOffset - startOffset;
    }

    /** The range of {@code records}, which must be non-empty, of one generation and back to back in the file. */
    public static WalRange of(List<FollowedRecord> records) {
        if (records.isEmpty()) {
            throw new IllegalArgumentException("no records");
        }
        FollowedRecord first = records.get(0);
        FollowedRecord prev = first;
        for (FollowedRecord r : records.subList(1, records.size())) {
            if (r.generation() != first.generation() || r.offset() != prev.end()) {
                throw new IllegalArgumentException("records are not one contiguous run of a generation: " + prev
                        + " then " + r);
            }
            prev = r;
        }
        return new WalRange(first.generation(), first.offset(), prev.end(), records.size(), first.lsn(),
                first.record().crc(), prev.lsn(), prev.record().crc());
    }

    /**
     * The range of {@code records} up to and including the last COMMIT among them (the stable part), or
     * nothing when none is a commit.
     */
    public static Optional<WalRange> upToLastCommit(List<FollowedRecord> records) {
        for (int i = records.size() - 1; i >= 0; i--) {
            if (records.get(i).isCommit()) {
                return Optional.of(of(records.subList(0, i + 1)));
            }
        }
        return Optional.empty();
    }
}
