package io.powdb.backup.lease;

import io.powdb.backup.repo.Repository;
import io.powdb.backup.store.BlobAlreadyExistsException;
import io.powdb.backup.store.BlobInfo;
import io.powdb.backup.store.WriteMode;

import java.io.IOException;
import java.net.InetAddress;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.HexFormat;

/**
 * One writer per repository: a lease that an agent must hold while it backs up, ships WAL or prunes, so
 * that two agents pointed at the same repository (a misconfigured second replica, old and new pod overlapping
 * in a rolling update) never interleave their writes.
 *
 * <p>Design, which needs nothing from the store but write-once creation:
 * <ul>
 *   <li>Lease objects are {@code locks/lease-EPOCH.json}. The lease belongs to the holder of the
 *       highest-epoch object while that has not expired.</li>
 *   <li>Taking the lease means creating epoch E+1 with {@link WriteMode#CREATE_NEW}; the store lets exactly one
 *       of several racing agents create a key, so exactly one wins. Nobody ever overwrites another agent's
 *       object; the holder overwrites its own to renew it.</li>
 *   <li>Time: the holder stops at {@code expires_at} by its own clock (a renewal that is late counts as lost);
 *       other agents wait until {@code expires_at} plus a margin of a quarter of the ttl by theirs, which
 *       absorbs clock skew between machines smaller than that margin.</li>
 * </ul>
 * On a store without atomic create ({@code supportsConditionalCreate()} false: some S3-compatible stores),
 * two agents starting in the same instant may both win; the next renewal of the lower epoch finds the higher
 * one and reports the loss.
 *
 * <p>Usage: {@link #tryAcquire()}, then {@link #renew()} every {@link #renewInterval()} while working, stopping
 * all writes at once when it throws {@link LeaseLostException} (or when {@link #isHeld()} turns false because
 * renewals failed), and {@link #release()} on shutdown so that the next agent need not wait for expiry.
 * Thread-safe: renewal may run on a timer thread.
 */
public final class RepositoryLease {
    public static final Duration DEFAULT_TTL = Duration.ofSeconds(60);
    private static final SecureRandom RANDOM = new SecureRandom();

    private final Repository repo;
    private final String holderId;
    private final Duration ttl;
    private final Clock clock;

    // What this agent holds; epoch 0 means nothing. acquiredAt is part of the lease's identity: a stale agent
    // must not mistake a newer lease that reuses its epoch number (after a release emptied locks/) for its own.
    private long epoch;
    private Instant acquiredAt;
    private Instant expiresAt;

    /**
     * @param holderId who we are, unique per agent process (see {@link #defaultHolderId()}): a lease found
     *                 under this id is taken to be ours
     * @param ttl      how long a lease lasts without renewal; at least one second
     */
    public RepositoryLease(Repository repo, String holderId, Duration ttl, Clock clock) {
        if (holderId == null || holderId.isBlank() || holderId.length() > 256
                || holderId.chars().anyMatch(Character::isISOControl)) {
            throw new IllegalArgumentException("lease holder id must be 1 to 256 printable characters: " + holderId);
        }
        if (ttl.compareTo(Duration.ofSeconds(1)) < 0) {
            throw new IllegalArgumentException("lease ttl must be at least one second: " + ttl);
        }
        this.repo = repo;
        this.holderId = holderId;
        this.ttl = ttl;
        this.clock = clock;
    }

    /** {@code host/pid-xxxx}: the host and process to find the agent by, and randomness so that a restarted
     *  process (same host, maybe the same pid in a container) is never taken for its predecessor. */
    public static String defaultHolderId() {
        String host = System.getenv("HOSTNAME");
        if (host == null || host.isBlank()) {
            try {
                host = InetAddress.getLocalHost().getHostName();
            } catch (IOException e) {
                host = "unknown-host";
            }
        }
        byte[] random = new byte[2];
        RANDOM.nextBytes(random);
        return host.strip() + "/" + ProcessHandle.current().pid() + "-" + HexFormat.of().formatHex(random);
    }

    /** The lease of a repository as it stands now, for a status command; reads only. */
    public static LeaseStatus current(Repository repo) throws IOException {
        return current(repo, DEFAULT_TTL, Clock.systemUTC());
    }

    /** @param ttl how long an unreadable lease object counts as held after it was last written */
    public static LeaseStatus current(Repository repo, Duration ttl, Clock clock) throws IOException {
        return LeaseObjects.highest(repo, ttl, clock.instant().truncatedTo(ChronoUnit.MILLIS));
    }

    /** Who holds the lease now (possibly us, possibly nobody); reads only. */
    public LeaseStatus holder() throws IOException {
        return current(repo, ttl, clock);
    }

    /**
     * Takes the lease unless another agent holds it. Returns at once either way.
     *
     * @throws IOException when the store fails; the lease may then have been taken, and {@link #isHeld()} says so
     */
    public synchronized AcquireResult tryAcquire() throws IOException {
        Instant now = now();
        LeaseStatus top = LeaseObjects.highest(repo, ttl, now);
        if (epoch != 0 && !isOurs(top)) {
            forget(); // lost meanwhile; compete afresh below
        }
        boolean oursById = top.exists() && top.readable() && holderId.equals(top.holder());
        if (oursById && now.isBefore(top.expiresAt())) {
            // Still running under our id (an earlier call, or an earlier object with this id): keep it, freshly renewed.
            epoch = top.epoch();
            acquiredAt = top.acquiredAt();
            expiresAt = top.expiresAt();
            try {
                return new AcquireResult(true, refresh(now));
            } catch (LeaseLostException late) {
                return new AcquireResult(false, LeaseObjects.highest(repo, ttl, now()));
            }
        }
        // Our own lease once expired is fair game like any other: we may have stopped writing, and the
        // others may already be racing for E+1, so we race too rather than quietly renewing it.
        if (top.live() && !oursById) {
            return new AcquireResult(false, top);
        }
        return takeOver(top.epoch() + 1, now);
    }

    private AcquireResult takeOver(long next, Instant now) throws IOException {
        String key = repo.key(LeaseObjects.relativeKey(next));
        try {
            repo.store().putBytes(key, LeaseRecord.create(holderId, next, now, now, ttl).encode(), WriteMode.CREATE_NEW);
        } catch (BlobAlreadyExistsException raced) {
            LeaseStatus winner = LeaseObjects.highest(repo, ttl, now());
            if (!(winner.epoch() == next && isSame(winner, holderId, now))) {
                return new AcquireResult(false, winner);
            }
            // The winner is us: our write landed, its answer was lost, and the store client's retry of it
            // then found our own object.
        }
        epoch = next;
        acquiredAt = now;
        expiresAt = now.plus(ttl);
        // The highest epoch is the lease. Only a listing that missed objects could have led us to write
        // below another agent's epoch; check, since one more listing is cheap next to two writers.
        LeaseStatus after = LeaseObjects.highest(repo, ttl, now());
        if (!isOurs(after)) {
            forget();
            deleteQuietly(key);
            return new AcquireResult(false, after);
        }
        removeOlderThan(next);
        return new AcquireResult(true, after);
    }

    /**
     * Extends the lease by the ttl from now. Call it every {@link #renewInterval()}.
     *
     * @return the lease as renewed
     * @throws LeaseLostException when another agent took the lease, our object vanished, or the lease
     *                            expired before this renewal completed: stop writing to the repository
     * @throws IOException        when the store fails; the lease still holds until {@link #heldUntil()}, so retry
     * @throws IllegalStateException when this agent does not hold the lease
     */
    public synchronized LeaseStatus renew() throws IOException {
        if (epoch == 0) {
            throw new IllegalStateException("renewing a lease on " + repo.location() + " that " + holderId
                    + " does not hold");
        }
        Instant now = now();
        LeaseStatus top = LeaseObjects.highest(repo, ttl, now);
        if (top.epoch() > epoch) {
            throw lost("agent " + top.holder() + " has taken it over (epoch " + top.epoch() + ", renewed "
                    + LeaseStatus.time(top.renewedAt()) + ")", top);
        }
        if (!isOurs(top)) {
            throw lost("its lease object " + repo.key(LeaseObjects.relativeKey(epoch)) + " is gone or no longer its own"
                    + " (deleted by hand, or by an agent that took over the lease after it expired)", top);
        }
        return refresh(now);
    }

    /**
     * Gives the lease up, so the next agent can take it at once instead of waiting for it to expire.
     * Deletes our lease object only while it is still ours; never touches another agent's.
     *
     * @return whether we held the lease and freed it
     */
    public synchronized boolean release() throws IOException {
        if (epoch == 0) {
            return false;
        }
        String key = repo.key(LeaseObjects.relativeKey(epoch));
        try {
            if (!isOurs(LeaseObjects.highest(repo, ttl, now()))) {
                return false;
            }
            // Should another agent have taken over in the meantime, it did so with a higher epoch: deleting
            // ours cannot harm its lease.
            repo.store().delete(key);
            return true;
        } finally {
            forget(); // whatever happened, we stop: at worst the lease lingers until it expires
        }
    }

    /** Whether this agent holds the lease by its own clock: acquired, not lost, not expired for lack of renewal. */
    public synchronized boolean isHeld() {
        return epoch != 0 && clock.instant().isBefore(expiresAt);
    }

    /** When our lease expires unless renewed, or null when we do not hold it. */
    public synchronized Instant heldUntil() {
        return epoch == 0 ? null : expiresAt;
    }

    /** Our epoch, or 0 when we hold no lease. */
    public synchronized long epoch() {
        return epoch;
    }

    public String holderId() {
        return holderId;
    }

    public Duration ttl() {
        return ttl;
    }

    /** How often to renew: a third of the ttl, so that two renewals can fail before the lease expires. */
    public Duration renewInterval() {
        return ttl.dividedBy(3);
    }

    /**
     * Overwrites our own lease object with a later expiry. Safe without a condition: only we write this key,
     * and no other agent takes over before {@code expiresAt + margin}. A write that completes only after the
     * old expiry may have landed after another agent took over, so it counts as lost.
     */
    private LeaseStatus refresh(Instant now) throws IOException {
        String key = repo.key(LeaseObjects.relativeKey(epoch));
        if (!now.isBefore(expiresAt)) {
            throw lost("it expired at " + LeaseStatus.time(expiresAt) + " before it was renewed (renewals were late: "
                    + "is the agent overloaded or the store slow?)", currentOrNull());
        }
        repo.store().putBytes(key, LeaseRecord.create(holderId, epoch, acquiredAt, now, ttl).encode(), WriteMode.OVERWRITE);
        if (!clock.instant().isBefore(expiresAt)) {
            throw lost("its renewal completed only after it had expired at " + LeaseStatus.time(expiresAt)
                    + ", when another agent may already have taken it over", currentOrNull());
        }
        expiresAt = now.plus(ttl);
        return new LeaseStatus(repo.location(), key, epoch, holderId, acquiredAt, now, expiresAt,
                Duration.ofSeconds(ttl.toSeconds()).dividedBy(4), now, null);
    }

    /** The lease as it stands, for a loss report; null when the store cannot say (the loss stands regardless). */
    private LeaseStatus currentOrNull() {
        try {
            return LeaseObjects.highest(repo, ttl, now());
        } catch (IOException e) {
            return null;
        }
    }

    private LeaseLostException lost(String why, LeaseStatus current) {
        String message = "agent " + holderId + " lost the lease on " + repo.location() + " (epoch " + epoch + "): "
                + why + ". It must stop writing to the repository.";
        forget();
        return new LeaseLostException(message, current);
    }

    /** Whether {@code status} is the lease this object holds: same epoch, holder and acquisition time. */
    private boolean isOurs(LeaseStatus status) {
        return epoch != 0 && status.epoch() == epoch && isSame(status, holderId, acquiredAt);
    }

    private static boolean isSame(LeaseStatus status, String holder, Instant acquired) {
        return status.readable() && holder.equals(status.holder()) && acquired.equals(status.acquiredAt());
    }

    private void forget() {
        epoch = 0;
        acquiredAt = null;
        expiresAt = null;
    }

    /** Deletes the lease objects older than ours: no longer anyone's lease, only clutter. Best effort. */
    private void removeOlderThan(long ours) {
        try {
            for (BlobInfo info : LeaseObjects.list(repo)) {
                if (LeaseObjects.epochOf(repo, info) < ours) {
                    deleteQuietly(info.key());
                }
            }
        } catch (IOException e) {
            // left for the next agent that takes the lease to remove
        }
    }

    private void deleteQuietly(String key) {
        try {
            repo.store().delete(key);
        } catch (IOException e) {
            // a leftover lower epoch never counts as the lease; the next holder removes it
        }
    }

    private Instant now() {
        return clock.instant().truncatedTo(ChronoUnit.MILLIS);
    }
}
