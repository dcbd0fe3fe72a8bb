package io.powdb.backup.backup;

import io.powdb.backup.repo.Manifest;

import java.util.List;

/**
 * A finished backup.
 *
 * @param baseLsn the source LSN of the backup it was compared with; null for a full backup
 * @param skipped entries of the data directory that were not PowDB files (e.g. lost+found/)
 * @param warnings things the operator should know (pages with a bad CRC, a new history)
 * @param contentBytesUploaded what the uploaded objects hold before compression (the manifest's
 *     {@code bytes_uploaded} is what they take in the store)
 */
public record BackupResult(Manifest manifest, Long baseLsn, List<String> skipped, List<String> warnings,
        long contentBytesUploaded) {
}
