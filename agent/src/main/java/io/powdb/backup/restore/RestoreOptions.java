package io.powdb.backup.restore;

import io.powdb.backup.progress.ProgressListener;

import java.nio.file.Path;

/** How to restore: where to keep page maps while assembling heaps, and whom to tell about progress. */
public record RestoreOptions(Path tempDir, ProgressListener progress) {
    public static RestoreOptions defaults() {
        return new RestoreOptions(Path.of(System.getProperty("java.io.tmpdir")), ProgressListener.NONE);
    }

    public RestoreOptions withProgress(ProgressListener listener) {
        return new RestoreOptions(tempDir, listener);
    }
}
