package io.powdb.backup.lease;

/**
 * What {@link RepositoryLease#tryAcquire()} found.
 *
 * @param acquired whether this agent now holds the lease
 * @param lease    the lease in force: ours when acquired, otherwise the one that kept us out (which may be
 *                 {@link LeaseStatus#exists() none} when the agent that beat us already released it)
 */
public record AcquireResult(boolean acquired, LeaseStatus lease) {

    public String message() {
        return acquired ? "acquired the lease on " + lease.repository() + " as " + lease.holder() + " (epoch "
                + lease.epoch() + ", expires " + LeaseStatus.time(lease.expiresAt()) + ")" : lease.lockedMessage();
    }

    /** This result when acquired; otherwise throws the message naming the agent that holds the lease. */
    public AcquireResult orThrow() throws RepositoryLockedException {
        if (!acquired) {
            throw new RepositoryLockedException(lease);
        }
        return this;
    }
}
