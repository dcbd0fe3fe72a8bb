package io.powdb.backup.wal;

import java.util.OptionalLong;

/**
 * The generation of wal.log the follower was reading is gone: PowDB truncated the file (checkpoint, restart),
 * or its bytes are no longer the ones read. The follower now reads the file from its beginning as a new
 * generation; whether anything was missed is judged when that generation's first record appears
 * ({@link GenerationStart}).
 *
 * @param lastSeenLsn        the LSN of the last record the follower retained (emitted and not rolled back)
 * @param stableLsn          the last COMMIT LSN the follower emitted
 * @param abandonedRecords   records of the ended generation emitted after its last commit. Their fate is
 *                           unknown: rolled back, or committed by a record the follower never saw, or
 *                           discarded by a restart. A caller must not apply them unless it learns otherwise.
 * @param abandonedFromOffset where those records start in the ended generation
 */
public record GenerationEnd(long generation, Reason reason, OptionalLong lastSeenLsn, OptionalLong stableLsn,
        long abandonedRecords, long abandonedFromOffset) {

    public enum Reason {
        /**
         * The file no longer holds the generation's first record: it was truncated to empty or to the 0.5
         * header (a checkpoint or restart), or shorter than that record. A rollback of the generation's FIRST
         * transaction also cuts the file back to empty or the header and cannot be told apart by the file;
         * it is treated as a generation change too, and LSN continuity decides whether anything was missed.
         */
        TRUNCATED,
        /**
         * The file is shorter than the end of a COMMIT the follower emitted from this generation, though it
         * still holds the first record. A rollback never removes committed records, so this is not one.
         */
        CUT_BELOW_COMMIT,
        /** The bytes of the header, the first record or the last commit changed: the file was rewritten. */
        CONTENT_CHANGED,
        /** Another file (another inode) is now at the path. */
        FILE_REPLACED
    }
}
