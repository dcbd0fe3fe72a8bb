package io.powdb.backup.store.s3;

import java.util.function.BooleanSupplier;

/**
 * The bytes of parts being uploaded, across every writer of one store. A backup writes several objects at
 * once; a limit per writer would multiply the memory by their number, so the limit is the store's. A part
 * larger than the whole limit still goes, alone, so nothing waits forever.
 */
final class UploadMemory {
    private final long limit;
    private long inUse;

    UploadMemory(long limit) {
        this.limit = limit;
    }

    /**
     * Waits until {@code bytes} fit, or until {@code abandon} says the caller no longer needs them (its own
     * upload failed), and counts them as in use either way: the caller gives them back with {@link #release}.
     */
    synchronized void acquire(long bytes, BooleanSupplier abandon) throws InterruptedException {
        while (inUse > 0 && inUse + bytes > limit && !abandon.getAsBoolean()) {
            wait(50); // also re-checks abandon, which another writer's release does not signal
        }
        inUse += bytes;
    }

    synchronized void release(long bytes) {
        inUse -= bytes;
        notifyAll();
    }

    synchronized long inUse() {
        return inUse;
    }
}
