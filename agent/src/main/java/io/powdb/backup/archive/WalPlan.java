package io.powdb.backup.archive;

import io.powdb.backup.repo.Manifest;

import java.util.List;

/**
 * How to reach a point in time: restore {@code base}, then append the shipped records of {@code timeline}
 * from {@code fromOffset} of the first segment's generation through {@code stopLsn}, ending on the last
 * COMMIT at or below it.
 *
 * @param checked segments that hold bytes the base backup's wal.log already has (its generation's prefix);
 *                they are not downloaded, but hashed from the restored wal.log to prove the two are the same
 *                generation. Empty when the timeline joins the base at a generation boundary.
 * @param joinGeneration the timeline generation the base joins, at {@code fromOffset}
 * @param applied segments downloaded and appended (the first may start before {@code fromOffset}: its bytes
 *                before that are compared with the base's)
 */
public record WalPlan(Manifest base, String timeline, List<WalSegment> checked, List<WalSegment> applied,
        int joinGeneration, long fromOffset, long stopLsn) {

    /** A plan that restores the base backup alone. */
    public static WalPlan baseOnly(Manifest base) {
        return new WalPlan(base, null, List.of(), List.of(), 0, 0, base.sourceLsn());
    }

    public boolean appliesWal() {
        return !applied.isEmpty();
    }

    /** True when {@code s} holds the join point inside it: its bytes before it are the base's own. */
    boolean holdsJoin(WalSegment s) {
        return s.generation() == joinGeneration && s.startOffset() < fromOffset && s.endOffset() > fromOffset;
    }
}
