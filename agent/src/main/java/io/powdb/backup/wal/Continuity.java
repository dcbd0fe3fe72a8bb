package io.powdb.backup.wal;

/**
 * Whether a follower can prove it saw every committed record up to the first record of a generation.
 *
 * <p>The proof rests on LSNs counting records (+1 each) and the counter continuing across checkpoints: if the
 * new generation's first LSN is exactly one above the last COMMIT the follower emitted, no committed record
 * can lie between them. The reference is the last commit, not the last record seen: records seen after it
 * were uncommitted, and whether their LSNs are reused after a rollback, or survive a restart (0.4.x derives
 * the next LSN from page LSNs, and commit records stamp no page), is not known; measured from the commit,
 * "+1" is a proof under every one of those answers.
 */
public enum Continuity {
    /**
     * The follower's first generation, read from the start of a WAL that already held records: coverage
     * begins with this record. What came before (checkpointed into the heaps) is the base capture's business.
     */
    FOLLOWER_START,
    /** First LSN = last emitted commit LSN + 1: nothing committed was missed. */
    PROVEN,
    /**
     * No commit emitted yet to measure from: typically the follower started on an empty WAL, and records
     * may have been appended and checkpointed away before it first saw any.
     */
    UNKNOWN_PREDECESSOR,
    /** First LSN more than one above the last emitted commit: records were appended and removed unseen. */
    LSN_GAP,
    /**
     * First LSN at or below the last emitted commit: the counter went back (a restart that derives the next
     * LSN from page LSNs reuses the LSNs of records that stamped no page, such as commits; or a rollback
     * that reuses LSNs; or another history). LSNs alone no longer order records across this boundary.
     */
    LSN_WENT_BACK;

    /** True only when continuity is proven. */
    public boolean proven() {
        return this == PROVEN;
    }

    /** True when committed records may have been missed: the caller must not assume continuous coverage. */
    public boolean gapPossible() {
        return this != PROVEN && this != FOLLOWER_START;
    }
}
