package io.powdb.backup.progress;

/** Told how far long work has got, so a person watching sees it move. Called from one thread at a time, not always the same one
 * (files are worked on by several threads). */
@FunctionalInterface
public interface ProgressListener {
    ProgressListener NONE = (phase, done, total) -> { };

    /**
     * @param phase what is being done ("backup", "restore", "verify")
     * @param done bytes done so far
     * @param total bytes to do in all, or -1 when unknown
     */
    void progress(String phase, long done, long total);
}
