package io.powdb.backup.retention;

import io.powdb.backup.repo.BackupId;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * What a prune keeps and deletes, computed by {@link PruneService#plan} from one listing of the repository and
 * carried out by {@link PruneService#execute}. Every key is relative to the repository; each list is in the
 * order it is deleted in.
 *
 * @param repository     where the plan was made ({@code Repository.location()}); execute refuses another
 * @param evaluatedAt    the "now" the rules were evaluated at
 * @param kept           the backups kept, newest first, each with the rules that keep it
 * @param deletedBackups the backups whose manifests are deleted, in deletion order (newest first, so that an
 *                       incremental goes before the backup it builds on)
 * @param manifests      the manifests to delete, in the order of {@code deletedBackups}
 * @param dataObjects    the data objects to delete: of deleted backups (unless a kept backup names them) and of
 *                       interrupted backups older than the grace period
 * @param walSegments    the shipped WAL segments to delete, oldest first
 * @param heartbeats     the heartbeats of timelines that lose every segment (or had none left)
 * @param keyObjects     data keys ({@code keys/}) of encrypted repositories that nothing left needs: of backups
 *                       whose manifest and data objects all go (and no kept backup names an object of theirs), of
 *                       timelines that lose every segment; deleted last
 * @param walKeptFrom    shipped WAL from this time on is kept (the oldest kept backup's time less the clock skew
 *                       margin); null when no backup is kept
 * @param warnings       things the operator should know (broken chains, keys prune does not recognise)
 */
public record PrunePlan(
        String repository,
        Instant evaluatedAt,
        RetentionPolicy policy,
        List<KeptBackup> kept,
        List<BackupId> deletedBackups,
        List<Deletion> manifests,
        List<Deletion> dataObjects,
        List<Deletion> walSegments,
        List<Deletion> heartbeats,
        List<Deletion> keyObjects,
        Instant walKeptFrom,
        List<String> warnings) {

    /** Why a backup is kept. */
    public enum Rule {
        /** The newest backup, kept whatever the rules say. */
        NEWEST("newest"),
        /** A full backup among the {@code keepFull} newest, or an incremental built on one. */
        KEEP_FULL("keep-full"),
        /** Needed to restore a point within {@code keepWithin}. */
        KEEP_WITHIN("keep-within"),
        /** An ancestor (parent, its parent … full backup) of a kept backup, which cannot restore without it. */
        ANCESTOR("ancestor");

        private final String label;

        Rule(String label) {
            this.label = label;
        }

        public String label() {
            return label;
        }

        @Override
        public String toString() {
            return label;
        }
    }

    /** A kept backup and why. */
    public record KeptBackup(BackupId id, String type, BackupId chain, Instant created, List<Rule> rules) {
        public KeptBackup {
            rules = List.copyOf(rules);
        }
    }

    /** One object to delete: its repository-relative key and its size as listed. */
    public record Deletion(String key, long size) {
    }

    public PrunePlan {
        kept = List.copyOf(kept);
        deletedBackups = List.copyOf(deletedBackups);
        manifests = List.copyOf(manifests);
        dataObjects = List.copyOf(dataObjects);
        walSegments = List.copyOf(walSegments);
        heartbeats = List.copyOf(heartbeats);
        keyObjects = List.copyOf(keyObjects);
        warnings = List.copyOf(warnings);
    }

    /** Every deletion, in the order {@link PruneService#execute} carries them out. */
    public List<Deletion> deletions() {
        List<Deletion> all = new ArrayList<>(manifests.size() + dataObjects.size() + walSegments.size() + heartbeats.size());
        all.addAll(manifests);
        all.addAll(dataObjects);
        all.addAll(walSegments);
        all.addAll(heartbeats);
        all.addAll(keyObjects);
        return all;
    }

    public boolean isEmpty() {
        return manifests.isEmpty() && dataObjects.isEmpty() && walSegments.isEmpty() && heartbeats.isEmpty()
                && keyObjects.isEmpty();
    }

    public int objectCount() {
        return manifests.size() + dataObjects.size() + walSegments.size() + heartbeats.size() + keyObjects.size();
    }

    public long manifestBytes() {
        return bytes(manifests);
    }

    public long dataBytes() {
        return bytes(dataObjects);
    }

    public long walBytes() {
        return bytes(walSegments) + bytes(heartbeats);
    }

    public long totalBytes() {
        return manifestBytes() + dataBytes() + walBytes() + bytes(keyObjects);
    }

    public static long bytes(List<Deletion> deletions) {
        long sum = 0;
        for (Deletion d : deletions) {
            sum += d.size();
        }
        return sum;
    }

    /** The kept backup ids, newest first. */
    public List<BackupId> keptIds() {
        return kept.stream().map(KeptBackup::id).toList();
    }

    /** A one-line summary of what is deleted. */
    public String summary() {
        return String.format(Locale.ROOT, "%d backups (%d manifests), %d data objects, %d WAL segments, %d heartbeats, "
                        + "%d data keys: %d bytes", deletedBackups.size(), manifests.size(), dataObjects.size(),
                walSegments.size(), heartbeats.size(), keyObjects.size(), totalBytes());
    }
}
