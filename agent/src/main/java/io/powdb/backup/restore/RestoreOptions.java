package io.powdb.backup.restore;

import io.powdb.backup.concurrent.Workers;
import io.powdb.backup.progress.ProgressListener;

import java.nio.file.Path;

/**
 * How to restore: where to keep page maps and WAL segments, whom to tell about progress, which WAL timeline,
 * and how many files to restore at once.
 */
public record RestoreOptions(Path tempDir, ProgressListener progress, String timeline, int parallelism) {
    public RestoreOptions {
        Workers.checkParallelism(parallelism, "parallelism");
    }

    public RestoreOptions(Path tempDir, ProgressListener progress) {
        this(tempDir, progress, null, Workers.defaultParallelism());
    }

    public static RestoreOptions defaults() {
        return new RestoreOptions(Path.of(System.getProperty("java.io.tmpdir")), ProgressListener.NONE);
    }

    public RestoreOptions withProgress(ProgressListener listener) {
        return new RestoreOptions(tempDir, listener, timeline, parallelism);
    }

    /** Restricts the shipped WAL a point-in-time restore may use to one timeline (null: any). */
    public RestoreOptions withTimeline(String id) {
        return new RestoreOptions(tempDir, progress, id, parallelism);
    }

    /** How many files to download, check and write at once (1: one after another). */
    public RestoreOptions withParallelism(int files) {
        return new RestoreOptions(tempDir, progress, timeline, files);
    }
}
