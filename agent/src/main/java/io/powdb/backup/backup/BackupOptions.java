package io.powdb.backup.backup;

import io.powdb.backup.concurrent.Workers;
import io.powdb.backup.progress.ProgressListener;

import java.nio.file.Path;
import java.time.Clock;
import java.util.Objects;

/**
 * How to take a backup.
 *
 * @param forceFull take a full backup even when the repository has one to build on
 * @param requireQuiescent refuse a running server's directory rather than copy it crash-consistently
 * @param tempDir where to keep the base backup's page maps while comparing (small: 12 bytes a page)
 * @param compression how heap images, page packs and whole files are stored (default zstd level 1)
 * @param parallelism how many files are read, compressed and uploaded at once
 */
public record BackupOptions(boolean forceFull, boolean requireQuiescent, Path tempDir, ProgressListener progress,
        Clock clock, Compression compression, int parallelism) {
    public BackupOptions {
        Objects.requireNonNull(compression, "compression");
        Workers.checkParallelism(parallelism, "parallelism");
    }

    public static BackupOptions defaults() {
        return new BackupOptions(false, false, Path.of(System.getProperty("java.io.tmpdir")), ProgressListener.NONE,
                Clock.systemUTC(), Compression.defaults(), Workers.defaultParallelism());
    }

    public BackupOptions withForceFull(boolean force) {
        return new BackupOptions(force, requireQuiescent, tempDir, progress, clock, compression, parallelism);
    }

    /** Refuse a directory whose WAL holds records, instead of taking a crash-consistent copy of it. */
    public BackupOptions withRequireQuiescent(boolean require) {
        return new BackupOptions(forceFull, require, tempDir, progress, clock, compression, parallelism);
    }

    public BackupOptions withProgress(ProgressListener listener) {
        return new BackupOptions(forceFull, requireQuiescent, tempDir, listener, clock, compression, parallelism);
    }

    public BackupOptions withTempDir(Path dir) {
        return new BackupOptions(forceFull, requireQuiescent, dir, progress, clock, compression, parallelism);
    }

    public BackupOptions withClock(Clock newClock) {
        return new BackupOptions(forceFull, requireQuiescent, tempDir, progress, newClock, compression, parallelism);
    }

    /** How many files to work on at once (1: one after another). */
    public BackupOptions withParallelism(int files) {
        return new BackupOptions(forceFull, requireQuiescent, tempDir, progress, clock, compression, files);
    }

    /** How to store heap images, page packs and whole files: {@link Compression#NONE} stores them as they are. */
    public BackupOptions withCompression(Compression how) {
        return new BackupOptions(forceFull, requireQuiescent, tempDir, progress, clock, how, parallelism);
    }
}
