package io.powdb.backup.repo;

/**
 * Where a crash-consistent backup stands in the WAL it copied, so that WAL shipped separately can be joined
 * onto it: the backup's wal.log ends with the records of one generation of the server's wal.log, from
 * {@code file_offset} (the generation's first record, just after the file header) to {@code end_offset},
 * stored from {@code wal_offset} of the backup's wal.log on. {@code first_lsn} and {@code first_crc}
 * identify that generation's first record, seen by the capture even when none of the generation's records
 * were committed yet (then {@code end_offset} = {@code file_offset}).
 *
 * <p>A shipped timeline continues this backup when its generation starts with the same record and holds the
 * same bytes up to {@code end_offset}; restore checks both before it appends anything.
 */
public record WalAnchor(long walOffset, long fileOffset, long endOffset, long firstLsn, long firstCrc) {

    public void validate(String manifestId, long walSize) throws IntegrityException {
        if (walOffset < 0 || fileOffset < 0 || endOffset < fileOffset || firstCrc < 0 || firstCrc > 0xFFFFFFFFL
                || walOffset + (endOffset - fileOffset) != walSize) {
            throw new IntegrityException("manifest of backup " + manifestId + " has an inconsistent wal_anchor");
        }
    }

    /** Bytes of the anchored generation held by the backup. */
    public long length() {
        return endOffset - fileOffset;
    }
}
