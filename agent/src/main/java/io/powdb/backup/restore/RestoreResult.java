package io.powdb.backup.restore;

import io.powdb.backup.repo.Manifest;

import java.nio.file.Path;
import java.util.List;

/** A finished restore: the backup restored, the chain it took, where it went and how many bytes were written. */
public record RestoreResult(Manifest manifest, List<String> chain, Path target, long files, long bytesWritten) {
}
