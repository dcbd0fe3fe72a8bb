package io.powdb.backup.repo;

/** What a backup did, for humans and metrics; nothing in here is needed to restore. */
public record BackupStats(
        long files,
        long bytesScanned,
        long bytesUploaded,
        long objectsUploaded,
        long pagesScanned,
        long pagesChanged,
        long pagesWithBadCrc,
        long durationMillis) {
}
