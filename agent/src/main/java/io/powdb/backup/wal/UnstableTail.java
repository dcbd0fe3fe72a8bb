package io.powdb.backup.wal;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The records a follower emitted after the last COMMIT of the current generation: the part of the file a
 * rollback may still cut away. Memory does not grow with the number of records: per transaction in the tail
 * (normally one, the open one) it keeps that transaction's first record and the record before it, which are
 * the only places a rollback can cut ("back to the length the file had when the transaction began").
 */
final class UnstableTail {
    /** The first record of a run of one transaction's records, and the retained record just before it. */
    private record Anchor(WalRecord first, WalRecord previous, long recordsBefore) {
    }

    /** The result of a cut: the tail now ends at {@code newEnd}; {@code dropped} records were removed. */
    record Cut(long newEnd, long dropped, long lastDroppedLsn) {
    }

    /** Whether a record is still in the file, whole and unchanged, at its offset. */
    interface Probe {
        boolean intact(WalRecord record) throws IOException;
    }

    private final List<Anchor> anchors = new ArrayList<>();
    private long count;
    private WalRecord last;

    /** Adds a record; {@code previous} is the retained record just before it (null at the generation start). */
    void add(WalRecord record, WalRecord previous) {
        if (last == null || record.txId() != last.txId()) {
            anchors.add(new Anchor(record, previous, count));
        }
        count++;
        last = record;
    }

    void clear() {
        anchors.clear();
        count = 0;
        last = null;
    }

    boolean isEmpty() {
        return count == 0;
    }

    long count() {
        return count;
    }

    /** The last record of the tail, or null when it is empty. */
    WalRecord last() {
        return last;
    }

    /**
     * Finds the longest part of the tail still in the file and drops the rest, or returns null when the whole
     * tail is intact. Whatever is found intact, everything before it is too: PowDB only appends to a
     * generation or cuts its end. When a rollback cut inside a transaction (not at its first record), the
     * cut lands at that transaction's first record and the surviving records after it are dropped here and
     * read again by the caller, so the caller may see them dropped and re-emitted.
     *
     * <p>When nothing of the tail is intact, it becomes empty: the caller has verified the record before it
     * (the generation's last commit; a tail with no commit before it starts with the generation's first
     * record, which the caller verified, so that case stops at the first anchor).
     */
    Cut cutToIntact(long tailStart, Probe probe) throws IOException {
        if (last == null || probe.intact(last)) {
            return null;
        }
        long oldCount = count;
        long lastDroppedLsn = last.lsn();
        for (int k = anchors.size() - 1; k >= 0; k--) {
            Anchor a = anchors.get(k);
            if (a.first() != last && probe.intact(a.first())) {
                truncate(k + 1, a.recordsBefore() + 1, a.first());
                return new Cut(a.first().end(), oldCount - count, lastDroppedLsn);
            }
            if (a.previous() != null && probe.intact(a.previous())) {
                truncate(k, a.recordsBefore(), a.recordsBefore() == 0 ? null : a.previous());
                return new Cut(a.first().offset(), oldCount - count, lastDroppedLsn);
            }
        }
        clear();
        return new Cut(tailStart, oldCount, lastDroppedLsn);
    }

    private void truncate(int keepAnchors, long keepCount, WalRecord newLast) {
        anchors.subList(keepAnchors, anchors.size()).clear();
        count = keepCount;
        last = newLast;
    }
}
