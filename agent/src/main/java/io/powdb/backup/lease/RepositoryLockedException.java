package io.powdb.backup.lease;

import io.powdb.backup.repo.RepositoryException;

/** Another agent holds the repository lease; the message names it and says until when. */
public class RepositoryLockedException extends RepositoryException {
    private final transient LeaseStatus lease;

    public RepositoryLockedException(LeaseStatus lease) {
        super(lease.lockedMessage());
        this.lease = lease;
    }

    public LeaseStatus lease() {
        return lease;
    }
}
