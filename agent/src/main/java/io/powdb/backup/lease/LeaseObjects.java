package io.powdb.backup.lease;

import io.powdb.backup.repo.Repository;
import io.powdb.backup.store.BlobInfo;
import io.powdb.backup.store.BlobNotFoundException;

import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Finding and reading the lease objects {@code locks/lease-EPOCH.json} of a repository. */
final class LeaseObjects {
    static final String DIR = "locks/";
    private static final Pattern NAME = Pattern.compile("lease-(\\d{20})\\.json");
    /** A lease body is a few hundred bytes; anything much larger is not one and is not read into memory. */
    private static final int MAX_BYTES = 64 << 10;
    /** How often to list again when the object listed last vanishes before it is read. */
    private static final int ATTEMPTS = 10;

    private LeaseObjects() {
    }

    /** The repository-relative key of an epoch's lease object; zero-padded so key order is epoch order. */
    static String relativeKey(long epoch) {
        return DIR + "lease-" + String.format("%020d", epoch) + ".json";
    }

    /** Every lease object, in ascending epoch order. Other objects under {@code locks/} are ignored. */
    static List<BlobInfo> list(Repository repo) throws IOException {
        String prefix = repo.key(DIR);
        List<BlobInfo> leases = new ArrayList<>();
        for (BlobInfo info : repo.store().listAll(prefix)) {
            if (epochOf(info.key().substring(prefix.length())) > 0) {
                leases.add(info);
            }
        }
        leases.sort(Comparator.comparingLong(info -> epochOf(info.key().substring(prefix.length()))));
        return leases;
    }

    /** The epoch of a lease object's key, or -1 for a key that is not one. */
    static long epochOf(Repository repo, BlobInfo info) {
        return epochOf(info.key().substring(repo.key(DIR).length()));
    }

    private static long epochOf(String name) {
        Matcher m = NAME.matcher(name);
        if (!m.matches()) {
            return -1;
        }
        try {
            return Long.parseLong(m.group(1));
        } catch (NumberFormatException tooLarge) {
            return -1;
        }
    }

    /**
     * The lease in force: the highest-epoch lease object, read. Lists again when that object vanishes before
     * it is read (its holder released it, or a new holder cleaned it up).
     *
     * @param fallbackTtl how long an unreadable lease counts after its object was last written
     */
    static LeaseStatus highest(Repository repo, Duration fallbackTtl, Instant now) throws IOException {
        for (int attempt = 1; ; attempt++) {
            List<BlobInfo> leases = list(repo);
            if (leases.isEmpty()) {
                return LeaseStatus.none(repo.location(), now);
            }
            BlobInfo top = leases.get(leases.size() - 1);
            Optional<LeaseStatus> status = read(repo, top, fallbackTtl, now);
            if (status.isPresent()) {
                return status.get();
            }
            if (attempt == ATTEMPTS) {
                throw new IOException("the lease object " + top.key() + " of " + repo.location() + " vanished "
                        + ATTEMPTS + " times while being read: too many agents are competing for the lease");
            }
        }
    }

    /** Reads one lease object; empty when it no longer exists. */
    private static Optional<LeaseStatus> read(Repository repo, BlobInfo info, Duration fallbackTtl, Instant now)
            throws IOException {
        long epoch = epochOf(repo, info);
        if (info.size() > MAX_BYTES) {
            return Optional.of(unreadable(repo, info, epoch, fallbackTtl, now,
                    info.size() + " bytes, far more than a lease object"));
        }
        byte[] raw;
        try {
            raw = repo.store().readAllBytes(info.key(), MAX_BYTES);
        } catch (BlobNotFoundException gone) {
            return Optional.empty();
        }
        try {
            return Optional.of(status(repo, info.key(), LeaseRecord.decode(raw, epoch), now));
        } catch (LeaseRecord.MalformedLeaseException e) {
            return Optional.of(unreadable(repo, info, epoch, fallbackTtl, now, e.getMessage()));
        }
    }

    /** A readable lease as seen at {@code now}; its margin is a quarter of the ttl its holder renews by. */
    static LeaseStatus status(Repository repo, String key, LeaseRecord lease, Instant now)
            throws LeaseRecord.MalformedLeaseException {
        return new LeaseStatus(repo.location(), key, lease.epoch(), lease.holder(), lease.acquired(), lease.renewed(),
                lease.expires(), Duration.ofSeconds(lease.ttlSeconds()).dividedBy(4), now, null);
    }

    /*
     * A lease object we cannot read (damaged, hand-edited, written by something else) is NOT free for the
     * taking: its writer may well be alive and writing, and taking over would put two writers on the
     * repository, which is the one thing the lease exists to prevent. Refusing costs at most a wait. So it
     * counts as held by an unknown agent until the object is clearly stale: not written for our ttl plus
     * the usual margin, judged by the store's last-modified time (which a live holder's renewals keep
     * moving). Where the store gives no such time, it counts until someone deletes it.
     */
    private static LeaseStatus unreadable(Repository repo, BlobInfo info, long epoch, Duration fallbackTtl,
                                          Instant now, String problem) {
        Instant written = info.lastModified();
        Instant expires = written == null ? null : written.plus(fallbackTtl);
        return new LeaseStatus(repo.location(), info.key(), epoch, LeaseStatus.UNKNOWN_HOLDER, null, written, expires,
                fallbackTtl.dividedBy(4), now, problem);
    }
}
