package io.powdb.backup.backup;

import io.powdb.backup.progress.ProgressListener;

import java.nio.file.Path;
import java.time.Clock;

/**
 * How to take a backup.
 *
 * @param forceFull take a full backup even when the repository has one to build on
 * @param requireQuiescent refuse a running server's directory rather than copy it crash-consistently
 * @param tempDir where to keep the base backup's page maps while comparing (small: 12 bytes a page)
 */
public record BackupOptions(boolean forceFull, boolean requireQuiescent, Path tempDir, ProgressListener progress,
        Clock clock) {
    public static BackupOptions defaults() {
        return new BackupOptions(false, false, Path.of(System.getProperty("java.io.tmpdir")), ProgressListener.NONE,
                Clock.systemUTC());
    }

    public BackupOptions withForceFull(boolean force) {
        return new BackupOptions(force, requireQuiescent, tempDir, progress, clock);
    }

    /** Refuse a directory whose WAL holds records, instead of taking a crash-consistent copy of it. */
    public BackupOptions withRequireQuiescent(boolean require) {
        return new BackupOptions(forceFull, require, tempDir, progress, clock);
    }

    public BackupOptions withProgress(ProgressListener listener) {
        return new BackupOptions(forceFull, requireQuiescent, tempDir, listener, clock);
    }

    public BackupOptions withTempDir(Path dir) {
        return new BackupOptions(forceFull, requireQuiescent, dir, progress, clock);
    }

    public BackupOptions withClock(Clock newClock) {
        return new BackupOptions(forceFull, requireQuiescent, tempDir, progress, newClock);
    }
}
