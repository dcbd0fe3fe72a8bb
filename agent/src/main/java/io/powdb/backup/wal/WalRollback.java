package io.powdb.backup.wal;

/**
 * The file was cut back within the current generation (a transaction rolled back): the follower dropped the
 * records it had emitted at or after {@code newEndOffset}. All of them were uncommitted: a cut below a
 * commit is never taken for a rollback. The caller drops every record of this generation at or after
 * {@code newEndOffset}; records re-read there are emitted again in the same poll.
 *
 * @param lastRetainedLsn the LSN of the last record that is still there
 */
public record WalRollback(long generation, long newEndOffset, long droppedRecords, long lastDroppedLsn,
        long lastRetainedLsn) {
}
