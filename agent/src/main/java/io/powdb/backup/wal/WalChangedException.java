package io.powdb.backup.wal;

import java.io.IOException;

/**
 * The bytes of wal.log are no longer the records the caller expects there: the file was rolled back,
 * checkpointed or rewritten since they were read. Poll the follower again to learn what happened.
 */
public class WalChangedException extends IOException {
    public WalChangedException(String message) {
        super(message);
    }
}
