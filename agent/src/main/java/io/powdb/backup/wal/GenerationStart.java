package io.powdb.backup.wal;

import java.util.OptionalLong;

/**
 * The follower saw the first record of a generation of wal.log, and judged whether it follows on from
 * what the follower emitted before.
 *
 * @param previousStableLsn the last COMMIT LSN the follower had emitted, the reference for {@code continuity}
 */
public record GenerationStart(long generation, long firstLsn, Continuity continuity, OptionalLong previousStableLsn) {
    public boolean gapPossible() {
        return continuity.gapPossible();
    }
}
