package io.powdb.backup.repo;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The backups of a repository, found by one listing of the manifest keys; manifests are read (and checked)
 * only when needed, once each. Resolves restore points and walks chains.
 */
public final class BackupCatalog {
    /** Newest first: by creation time, then LSN, then nonce. */
    static final Comparator<BackupId> NEWEST_FIRST = Comparator.comparing(BackupId::created)
            .thenComparing(BackupId::toString).reversed();

    private final Repository repository;
    private final List<BackupId> ids;
    private final Map<BackupId, Manifest> manifests = new HashMap<>();

    private BackupCatalog(Repository repository, List<BackupId> ids) {
        this.repository = repository;
        this.ids = ids;
    }

    public static BackupCatalog load(Repository repository) throws IOException {
        return new BackupCatalog(repository, repository.backupIds());
    }

    /** Every backup in key order: LSN, then time. */
    public List<BackupId> ids() {
        return Collections.unmodifiableList(ids);
    }

    /** Every backup in the order it was taken. */
    public List<BackupId> idsByTime() {
        List<BackupId> sorted = new ArrayList<>(ids);
        sorted.sort(NEWEST_FIRST.reversed());
        return sorted;
    }

    /** The most recently taken backup, whatever its history. */
    public Optional<BackupId> latest() {
        return ids.stream().min(NEWEST_FIRST);
    }

    public Manifest manifest(BackupId id) throws IOException {
        Manifest cached = manifests.get(id);
        if (cached == null) {
            cached = repository.readManifest(id);
            manifests.put(id, cached);
        }
        return cached;
    }

    /** Finds the backup a restore point means. */
    public Manifest resolve(RestorePoint point) throws IOException {
        Optional<BackupId> latest = latest();
        if (latest.isEmpty()) {
            throw new RepositoryException("the repository at " + repository.location() + " holds no backup yet");
        }
        if (point instanceof RestorePoint.Latest) {
            return manifest(latest.get());
        }
        if (point instanceof RestorePoint.ById byId) {
            if (!ids.contains(byId.id())) {
                throw new RepositoryException("no backup " + byId.id() + " in " + repository.location()
                        + " (see 'powdb-backup list')");
            }
            return manifest(byId.id());
        }
        return candidates(point).get(0);
    }

    /**
     * The backups of the newest history at or before an LSN or a time, best first: for an LSN, highest LSN
     * first (within one LSN, the latest taken); for a time, the latest taken first.
     *
     * @throws RepositoryException when there is none, saying where the newest history begins
     */
    public List<Manifest> candidates(RestorePoint point) throws IOException {
        Optional<BackupId> latest = latest();
        if (latest.isEmpty()) {
            throw new RepositoryException("the repository at " + repository.location() + " holds no backup yet");
        }
        String history = manifest(latest.get()).history();
        List<BackupId> sorted = new ArrayList<>(ids);
        List<Manifest> found = new ArrayList<>();
        if (point instanceof RestorePoint.AtOrBeforeLsn atLsn) {
            sorted.sort(Comparator.comparing(BackupId::lsn, Long::compareUnsigned).reversed()
                    .thenComparing(NEWEST_FIRST));
            for (BackupId id : sorted) {
                if (Long.compareUnsigned(id.lsn(), atLsn.lsn()) <= 0 && manifest(id).history().equals(history)) {
                    found.add(manifest(id));
                }
            }
        } else if (point instanceof RestorePoint.AtOrBeforeTime atTime) {
            sorted.sort(NEWEST_FIRST);
            for (BackupId id : sorted) {
                if (!manifest(id).createdAt().isAfter(atTime.time()) && manifest(id).history().equals(history)) {
                    found.add(manifest(id));
                }
            }
        } else {
            throw new IllegalArgumentException("not an LSN or a time: " + point);
        }
        if (found.isEmpty()) {
            throw new RepositoryException("no backup of the newest history (" + history + ") is at or before " + point
                    + "; " + describeHistory(history) + ". To restore from an older history, pick a backup with --backup ID "
                    + "(see 'powdb-backup list').");
        }
        return found;
    }

    private String describeHistory(String history) throws IOException {
        List<BackupId> byTime = idsByTime();
        for (BackupId id : byTime) {
            if (manifest(id).history().equals(history)) {
                return "its first backup is " + id + " at LSN " + Long.toUnsignedString(id.lsn()) + ", taken "
                        + manifest(id).created();
            }
        }
        return "it has no backup";
    }

    /**
     * The chain a backup needs, full backup first and {@code target} last, after checking that every link
     * exists, belongs to the same chain, and that {@code target} names only objects of that chain.
     *
     * @throws IntegrityException when a link is missing or inconsistent (a broken chain)
     */
    public List<Manifest> chain(Manifest target) throws IOException {
        List<Manifest> chain = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        Manifest current = target;
        while (true) {
            if (!seen.add(current.id())) {
                throw new IntegrityException("backup " + target.id() + " has a chain that loops at " + current.id());
            }
            if (!current.chain().equals(target.chain())) {
                throw new IntegrityException("backup " + current.id() + " belongs to chain " + current.chain()
                        + ", not to chain " + target.chain() + " of backup " + target.id());
            }
            chain.add(current);
            if (current.isFull()) {
                break;
            }
            BackupId parent = BackupId.parse(current.parent());
            if (!ids.contains(parent)) {
                throw new IntegrityException("the chain of backup " + target.id() + " is broken: backup " + current.id()
                        + " is based on " + parent + ", which is missing from the repository. Backups from "
                        + current.id() + " on cannot be restored; restore an earlier backup or take a new full one.");
            }
            current = manifest(parent);
        }
        Collections.reverse(chain);
        Set<String> sessions = new HashSet<>();
        chain.forEach(m -> sessions.add(Repository.dataPrefix(m.backupId())));
        for (FileEntry file : target.files()) {
            for (ObjectRef ref : file.objects()) {
                String key = ref.key();
                int cut = key.indexOf('/', Repository.DATA.length());
                if (!key.startsWith(Repository.DATA) || cut < 0 || !sessions.contains(key.substring(0, cut + 1))) {
                    throw new IntegrityException("backup " + target.id() + " names object " + key + " for " + file.name()
                            + ", which belongs to no backup of its chain");
                }
            }
        }
        return chain;
    }
}
