package io.powdb.backup.wal;

/**
 * A record emitted by a {@link WalFollower}, tagged with the file generation it was read from. Offsets are
 * meaningful only within that generation: a checkpoint or restart truncates wal.log and reuses them.
 */
public record FollowedRecord(long generation, WalRecord record) {
    public long lsn() {
        return record.lsn();
    }

    public int type() {
        return record.type();
    }

    public long txId() {
        return record.txId();
    }

    public long offset() {
        return record.offset();
    }

    public long end() {
        return record.end();
    }

    public boolean isCommit() {
        return record.isCommit();
    }
}
