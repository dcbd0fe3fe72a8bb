package io.powdb.backup.backup;

import io.powdb.backup.progress.ProgressListener;
import io.powdb.backup.repo.ObjectRef;
import io.powdb.backup.repo.Repository;
import io.powdb.backup.store.BlobWriter;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The state of one backup while it runs: where its objects go, what has been uploaded (to remove it again
 * if the backup fails before its manifest is written), and the running totals. Files are captured by several
 * threads at once: the totals and the list of uploads are synchronized.
 */
final class BackupSession {
    /**
     * zstd worker threads per compressed object: 0, compression in the capturing thread. Measured on a 2-core
     * machine (full backup of a 512 MiB sample database, four 128 MiB heaps, level 1): 2 workers were at best
     * 8% faster (3.3 s against 3.6 s, median of 5) on an otherwise idle machine and slower while anything else
     * ran, for 10% more CPU and 40-60 MiB more native memory (the agent's container has 512 MiB); 1 worker
     * gained nothing. The agent shares its machine with PowDB, so it does not take more cores for compression.
     */
    static final int ZSTD_WORKERS = 0;

    private final Repository repository;
    private final String dataPrefix;
    private final ProgressListener progress;
    private final long totalBytes;
    private final Compression compression;
    private final List<ObjectRef> committed = new ArrayList<>();
    /** Objects whose commit failed, which may exist all the same. */
    private final List<String> uncertain = new ArrayList<>();
    private long scanned;
    private long uploaded;
    private long contentStored;
    private long lastReport;

    BackupSession(Repository repository, String dataPrefix, ProgressListener progress, long totalBytes,
            Compression compression) {
        this.repository = repository;
        this.dataPrefix = dataPrefix;
        this.progress = progress;
        this.totalBytes = totalBytes;
        this.compression = compression;
    }

    String dataPrefix() {
        return dataPrefix;
    }

    /** An object stored as it is written (page maps and their deltas: LSNs and CRCs do not compress). */
    PendingObject newObject(String relativeKey) throws IOException {
        return open(relativeKey, Compression.NONE);
    }

    /** An object stored with this backup's compression (heap images, page packs, whole files). */
    PendingObject newCompressedObject(String relativeKey) throws IOException {
        return open(relativeKey, compression);
    }

    private PendingObject open(String relativeKey, Compression how) throws IOException {
        BlobWriter writer = repository.newObject(relativeKey);
        try {
            return new PendingObject(relativeKey, writer, this, how, ZSTD_WORKERS);
        } catch (IOException | RuntimeException | Error e) {
            writer.close();
            throw e;
        }
    }

    /** The encrypting stream an object's bytes pass through before {@code stored}, or null when not encrypting. */
    io.powdb.backup.crypto.SealingOutputStream sealing(String relativeKey, java.io.OutputStream stored)
            throws IOException {
        return repository.sealing(relativeKey, stored);
    }

    /** @param contentBytes the bytes written to it, before any compression */
    synchronized void committed(ObjectRef ref, long contentBytes) {
        committed.add(ref);
        uploaded += ref.size();
        contentStored += contentBytes;
    }

    /** A commit of this key failed in a way that may have left the object stored. */
    synchronized void mayExist(String relativeKey) {
        uncertain.add(relativeKey);
    }

    /** The keys (repository-relative) of the objects this backup uploaded. */
    synchronized java.util.Set<String> committedKeys() {
        java.util.Set<String> keys = new java.util.HashSet<>();
        committed.forEach(ref -> keys.add(ref.key()));
        return keys;
    }

    synchronized long bytesUploaded() {
        return uploaded;
    }

    /** What the objects uploaded hold, uncompressed: {@link #bytesUploaded()} is what they take in the store. */
    synchronized long contentBytesUploaded() {
        return contentStored;
    }

    synchronized int objectsUploaded() {
        return committed.size();
    }

    synchronized long bytesScanned() {
        return scanned;
    }

    synchronized void scanned(long bytes) {
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
    synchronized List<String> discard() {
        List<String> left = new ArrayList<>();
        List<String> keys = new ArrayList<>(committed.stream().map(ObjectRef::key).toList());
        keys.addAll(uncertain);
        for (String key : keys) {
            try {
                repository.delete(key);
            } catch (IOException | RuntimeException e) {
                left.add(key);
            }
        }
        return left;
    }
}
