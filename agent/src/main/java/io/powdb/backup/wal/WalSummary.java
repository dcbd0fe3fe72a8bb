package io.powdb.backup.wal;

import java.util.OptionalLong;

/**
 * What one pass over wal.log found.
 *
 * @param fileLength        the file size when reading began
 * @param validPrefixLength the offset just after the last valid record (the header length when there is none)
 * @param stop              what lies at {@code validPrefixLength}
 * @param lastLsn           the LSN of the last valid record
 * @param lastCommitLsn     the LSN of the last valid COMMIT record
 * @param stableLength      the offset just after that commit (the header length when there is none): only a
 *                          prefix ending on a commit is stable, since a rollback cuts the file back to where
 *                          its transaction began
 */
public record WalSummary(WalFileHeader header, long fileLength, long validPrefixLength, WalStop stop,
        long recordCount, OptionalLong firstLsn, OptionalLong lastLsn, OptionalLong lastCommitLsn,
        long stableLength) {

    /** True when the file holds nothing past its valid records (no torn or corrupt tail). */
    public boolean endsClean() {
        return stop == WalStop.END;
    }

    /** Bytes past the valid prefix: a torn tail, a record being written, or corruption. */
    public long trailingBytes() {
        return fileLength - validPrefixLength;
    }
}
