package io.powdb.backup.restore;

import io.powdb.backup.repo.Manifest;

import java.nio.file.Path;
import java.util.List;

/**
 * A finished restore: the backup restored, the chain it took, where it went and how many bytes were written;
 * with shipped WAL, the timeline it came from, the records appended, and the LSN recovery reaches.
 */
public record RestoreResult(Manifest manifest, List<String> chain, Path target, long files, long bytesWritten,
        String walTimeline, long walRecords, long reachedLsn) {
}
