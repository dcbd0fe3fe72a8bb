package io.powdb.backup.lease;

import java.io.IOException;

/**
 * This agent no longer holds the repository lease: another agent took it over, its object vanished, or it
 * expired before it was renewed. The caller must stop writing to the repository at once; it may call
 * {@link RepositoryLease#tryAcquire()} to compete for the lease again.
 */
public class LeaseLostException extends IOException {
    private final transient LeaseStatus current;

    public LeaseLostException(String message, LeaseStatus current) {
        super(message);
        this.current = current;
    }

    /** The lease as found when the loss was noticed (possibly none, or another agent's); null when unknown. */
    public LeaseStatus current() {
        return current;
    }
}
