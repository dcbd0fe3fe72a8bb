package io.powdb.backup.wal;

import java.util.List;
import java.util.Optional;

/**
 * What one {@link WalFollower#poll()} found, in the order it happened: the generation read before may have
 * ended, or been rolled back (never both); then the new complete records, all of the current generation,
 * possibly starting a generation.
 *
 * @param generation   the generation the follower is in after this poll
 * @param records      the new complete records, in file order, back to back
 * @param tail         what lies past them: {@link WalStop#END}, a record not yet complete (or corrupt), or a
 *                     reason to poll again at once ({@link WalStop#RECORD_LIMIT},
 *                     {@link WalStop#CHANGED_WHILE_READING})
 * @param pendingBytes bytes past the last emitted record, not emitted yet
 */
public record WalPoll(long generation, Optional<GenerationEnd> generationEnd, Optional<WalRollback> rollback,
        Optional<GenerationStart> generationStart, List<FollowedRecord> records, WalStop tail, long pendingBytes) {

    /** The most significant change of this poll. */
    public enum Change {
        NONE, GROWTH, ROLLBACK, NEW_GENERATION
    }

    public WalPoll {
        records = List.copyOf(records);
    }

    public Change change() {
        if (generationEnd.isPresent()) {
            return Change.NEW_GENERATION;
        }
        if (rollback.isPresent()) {
            return Change.ROLLBACK;
        }
        return records.isEmpty() ? Change.NONE : Change.GROWTH;
    }

    /** True when the caller should poll again right away: records were left for the next poll. */
    public boolean pollAgainNow() {
        return tail == WalStop.RECORD_LIMIT || tail == WalStop.CHANGED_WHILE_READING;
    }

    /** True when a generation started in this poll whose continuity with what came before is not proven. */
    public boolean gapPossible() {
        return generationStart.map(GenerationStart::gapPossible).orElse(false);
    }

    /** The byte range of {@link #records}, for copying them out. */
    public Optional<WalRange> range() {
        return records.isEmpty() ? Optional.empty() : Optional.of(WalRange.of(records));
    }
}
