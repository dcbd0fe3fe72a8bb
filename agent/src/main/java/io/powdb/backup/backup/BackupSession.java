package io.powdb.backup.backup;

import io.powdb.backup.progress.ProgressListener;
import io.powdb.backup.repo.ObjectRef;
import io.powdb.backup.repo.Repository;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The state of one backup while it runs: where its objects go, what has been uploaded (to remove it again
 * if the backup fails before its manifest is written), and the running totals.
 */
final class BackupSession {
    private final Repository repository;
    private final String dataPrefix;
    private final ProgressListener progress;
    private final long totalBytes;
    private final List<ObjectRef> committed = new ArrayList<>();
    private long scanned;
    private long uploaded;
    private long lastReport;

    BackupSession(Repository repository, String dataPrefix, ProgressListener progress, long totalBytes) {
        this.repository = repository;
        this.dataPrefix = dataPrefix;
        this.progress = progress;
        this.totalBytes = totalBytes;
    }

    String dataPrefix() {
        return dataPrefix;
    }

    PendingObject newObject(String relativeKey) throws IOException {
        return new PendingObject(relativeKey, repository.newObject(relativeKey), this);
    }

    void committed(ObjectRef ref) {
        committed.add(ref);
        uploaded += ref.size();
    }

    long bytesUploaded() {
        return uploaded;
    }

    int objectsUploaded() {
        return committed.size();
    }

    long bytesScanned() {
        return scanned;
    }

    void scanned(long bytes) {
        scanned += bytes;
        if (scanned - lastReport >= (64L << 20) || scanned == totalBytes) {
            lastReport = scanned;
            progress.progress("backup", scanned, totalBytes);
        }
    }

    /**
     * Removes what this backup uploaded; called when it fails before its manifest exists. Objects it could
     * not remove are unreferenced leftovers that prune removes later.
     */
    List<String> discard() {
        List<String> left = new ArrayList<>();
        for (ObjectRef ref : committed) {
            try {
                repository.delete(ref.key());
            } catch (IOException | RuntimeException e) {
                left.add(ref.key());
            }
        }
        return left;
    }
}
