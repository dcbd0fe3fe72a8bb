package io.powdb.backup.wal;

/** Why reading stopped: what lies just past the last valid record. */
public enum WalStop {
    /** Nothing: the valid records reach exactly the end of the bytes read. */
    END,
    /**
     * A record (or the 25-byte header, or the file header) that is not all there yet: a torn tail after a
     * crash, or a record being appended right now. A follower waits for it.
     */
    INCOMPLETE,
    /** A length below 25 or above {@link WalFormat#MAX_RECORD_LENGTH}: corrupt, or garbage past a torn tail. */
    BAD_LENGTH,
    /** A CRC that does not match: a torn or corrupt record, or one whose bytes are still being written. */
    BAD_CRC,
    /**
     * Follower only: a complete record whose LSN is not above the previous record's in the same generation.
     * PowDB never writes that within one file generation; the follower does not emit it.
     */
    LSN_NOT_INCREASING,
    /** Follower only: the poll's record limit was reached; more complete records may be waiting. */
    RECORD_LIMIT,
    /**
     * Follower only: the file changed while this poll was reading it (its first record, or the record reading
     * resumed after, is no longer the same), so the records just read may belong to a later generation.
     * They were discarded; the next poll sees the change.
     */
    CHANGED_WHILE_READING
}
