package io.powdb.backup.backup;

import io.powdb.backup.progress.ProgressListener;

import java.nio.file.Path;
import java.time.Clock;

/**
 * How to take a backup.
 *
 * @param forceFull take a full backup even when the repository has one to build on
 * @param tempDir where to keep the base backup's page maps while comparing (small: 12 bytes a page)
 */
public record BackupOptions(boolean forceFull, Path tempDir, ProgressListener progress, Clock clock) {
    public static BackupOptions defaults() {
        return new BackupOptions(false, Path.of(System.getProperty("java.io.tmpdir")), ProgressListener.NONE,
                Clock.systemUTC());
    }

    public BackupOptions withForceFull(boolean force) {
        return new BackupOptions(force, tempDir, progress, clock);
    }

    public BackupOptions withProgress(ProgressListener listener) {
        return new BackupOptions(forceFull, tempDir, listener, clock);
    }

    public BackupOptions withTempDir(Path dir) {
        return new BackupOptions(forceFull, dir, progress, clock);
    }

    public BackupOptions withClock(Clock newClock) {
        return new BackupOptions(forceFull, tempDir, progress, newClock);
    }
}
