package io.powdb.backup.backup;

import io.powdb.backup.format.DataDirectory;
import io.powdb.backup.format.DataFile;
import io.powdb.backup.format.FileKind;
import io.powdb.backup.format.SourceException;
import io.powdb.backup.integrity.Blake3;
import io.powdb.backup.repo.BackupCatalog;
import io.powdb.backup.repo.BackupId;
import io.powdb.backup.repo.BackupStats;
import io.powdb.backup.repo.FileEntry;
import io.powdb.backup.repo.Manifest;
import io.powdb.backup.repo.ObjectRef;
import io.powdb.backup.repo.PageMap;
import io.powdb.backup.repo.Repository;
import io.powdb.backup.repo.RepositoryException;
import io.powdb.backup.Version;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Takes a backup of a quiescent PowDB data directory into a repository: full when there is nothing to
 * build on (or when asked), otherwise incremental against the latest backup.
 *
 * <p>Order of work, so that a reader never sees a half-written backup: every data object is uploaded and
 * committed, the directory is checked to be unchanged, and only then is the manifest written. A failure
 * before that removes what was uploaded.
 */
public final class BackupService {
    private final Repository repository;

    public BackupService(Repository repository) {
        this.repository = repository;
    }

    public BackupResult backup(Path dataDir, BackupOptions options) throws IOException {
        long started = System.nanoTime();
        DataDirectory dir = DataDirectory.scan(dataDir);
        dir.requirePowDb();
        if (!dir.walIsEmpty()) {
            throw new SourceException("the database in " + dir.path() + " is not quiescent: wal.log holds records "
                    + "that are not yet checkpointed (a running server, or one that crashed). Stop PowDB gracefully "
                    + "(SIGINT) so it checkpoints, then back up again.");
        }
        repository.initialize();
        BackupCatalog catalog = BackupCatalog.load(repository);
        // The latest backup is what this one is compared with: its base for an incremental, and in any case
        // the reference for noticing that the database now lives a new history.
        Manifest reference = null;
        List<String> warnings = new ArrayList<>();
        Optional<BackupId> latest = catalog.latest();
        if (latest.isPresent()) {
            try {
                reference = catalog.manifest(latest.get());
            } catch (RepositoryException e) {
                if (!options.forceFull()) {
                    throw new RepositoryException("cannot build an incremental backup on the latest backup "
                            + latest.get() + ": " + e.getMessage() + ". Run 'powdb-backup verify', or start a new "
                            + "chain with 'powdb-backup backup --full'.", e);
                }
                warnings.add("the latest backup " + latest.get() + " is unreadable (" + e.getMessage()
                        + "); this full backup starts a new history");
            }
        }

        Instant created = options.clock().instant();
        BackupId provisional = BackupId.create(0, created);
        long totalBytes = dir.files().stream().mapToLong(DataFile::size).sum();
        BackupSession session = new BackupSession(repository, Repository.dataPrefix(provisional), options.progress(),
                totalBytes);
        try {
            return capture(dir, reference, options.forceFull(), provisional, session, options, started, warnings);
        } catch (IOException | RuntimeException e) {
            List<String> left = session.discard();
            if (!left.isEmpty()) {
                e.addSuppressed(new IOException("could not remove " + left.size() + " uploaded objects of the failed "
                        + "backup (unreferenced; prune removes them): " + left));
            }
            throw e;
        }
    }

    private BackupResult capture(DataDirectory dir, Manifest reference, boolean full, BackupId provisional,
            BackupSession session, BackupOptions options, long started, List<String> warnings) throws IOException {
        Manifest base = full ? null : reference;
        Map<String, FileEntry> referenceFiles = new HashMap<>();
        if (reference != null) {
            reference.files().forEach(f -> referenceFiles.put(f.name(), f));
        }
        List<FileEntry> files = new ArrayList<>();
        long maxLsn = 0;
        long pagesScanned = 0;
        long pagesChanged = 0;
        long badCrc = 0;
        boolean lsnWentBack = false;
        HeapCapture heaps = new HeapCapture(session);
        for (DataFile file : dir.files()) {
            FileEntry previous = referenceFiles.get(file.name());
            if (file.kind() == FileKind.HEAP) {
                HeapCapture.Result result = captureHeap(heaps, file, previous != null && previous.isHeap() ? previous : null,
                        full, options.tempDir());
                files.add(result.entry());
                pagesScanned += result.entry().pages();
                pagesChanged += result.entry().changedPages();
                badCrc += result.pagesWithBadCrc();
                lsnWentBack |= result.lsnWentBack();
                if (result.pagesWithBadCrc() > 0) {
                    warnings.add(file.name() + ": " + result.pagesWithBadCrc() + " pages fail their CRC32 check (the "
                            + "file is damaged on disk); they were backed up exactly as they are");
                }
                if (Long.compareUnsigned(result.entry().maxLsn(), maxLsn) > 0) {
                    maxLsn = result.entry().maxLsn();
                }
            } else {
                files.add(captureWhole(file, full ? null : previous, session));
            }
        }
        Optional<String> change = dir.changedSince();
        if (change.isPresent()) {
            throw new SourceException("the database changed during the backup (" + change.get() + "): it is not "
                    + "quiescent. Stop PowDB gracefully, then back up again.");
        }
        long catalogLsn = dir.catalogLsn();
        long sourceLsn = Long.compareUnsigned(catalogLsn, maxLsn) > 0 ? catalogLsn : maxLsn;

        List<String> removed = new ArrayList<>();
        if (base != null) {
            for (FileEntry old : base.files()) {
                if (dir.file(old.name()).isEmpty()) {
                    removed.add(old.name());
                }
            }
        }
        String history;
        String forkedFrom = null;
        if (reference == null) {
            history = newHistoryId();
        } else if (lsnWentBack) {
            history = newHistoryId();
            forkedFrom = reference.id();
            warnings.add("page LSNs went back since backup " + reference.id() + ": the database was restored to an "
                    + "earlier point and written again, so this backup starts a new history (" + history + ")");
        } else {
            history = reference.history();
        }
        BackupId id = new BackupId(sourceLsn, provisional.created(), provisional.nonce());
        long durationMillis = (System.nanoTime() - started) / 1_000_000;
        BackupStats stats = new BackupStats(files.size(), session.bytesScanned(), session.bytesUploaded(),
                session.objectsUploaded(), pagesScanned, pagesChanged, badCrc, durationMillis);
        Manifest manifest = new Manifest(Manifest.FORMAT, Manifest.FORMAT_VERSION, id.toString(),
                base == null ? Manifest.FULL : Manifest.INCREMENTAL,
                base == null ? null : base.id(),
                base == null ? id.toString() : base.chain(),
                history, forkedFrom, Manifest.QUIESCENT, sourceLsn, id.created().toString(), Version.current(),
                io.powdb.backup.format.HeapPage.SIZE, files, removed, stats);
        manifest.validate();
        repository.writeManifest(manifest);
        return new BackupResult(manifest, base == null ? null : base.sourceLsn(), dir.skipped(), warnings);
    }

    private HeapCapture.Result captureHeap(HeapCapture heaps, DataFile file, FileEntry base, boolean full, Path tempDir)
            throws IOException {
        if (base == null) {
            return heaps.capture(file, null, null, true);
        }
        Files.createDirectories(tempDir);
        Path mapFile = Files.createTempFile(tempDir, "powdb-backup-", ".map");
        try {
            // The base map is checked against its hash before it decides what to upload.
            repository.download(base.pageMap(), mapFile);
            try (PageMap map = PageMap.open(mapFile, base.pageMap().key())) {
                return heaps.capture(file, base, map, full);
            }
        } finally {
            Files.deleteIfExists(mapFile);
        }
    }

    /**
     * Backs up a whole file: re-uses the base's object when the content hash is unchanged, else uploads it,
     * hashing as it goes.
     */
    private FileEntry captureWhole(DataFile file, FileEntry base, BackupSession session) throws IOException {
        if (base != null && !base.isHeap() && base.size() == file.size() && base.blake3().equals(hashFile(file, session))) {
            return FileEntry.whole(file.name(), file.kind(), file.size(), base.object());
        }
        try (PendingObject object = session.newObject(session.dataPrefix() + "files/" + file.name());
             InputStream in = Files.newInputStream(file.path())) {
            long copied = in.transferTo(object.stream());
            if (copied != file.size()) {
                throw new SourceException(file.name() + " changed size during the backup");
            }
            if (base == null || base.isHeap() || base.size() != file.size()) {
                session.scanned(copied);
            }
            return FileEntry.whole(file.name(), file.kind(), file.size(), object.commit(ObjectRef.RAW));
        }
    }

    private static String hashFile(DataFile file, BackupSession session) throws IOException {
        Blake3 hash = new Blake3();
        byte[] buffer = new byte[1 << 16];
        long total = 0;
        try (InputStream in = Files.newInputStream(file.path())) {
            for (int n; (n = in.read(buffer)) > 0; ) {
                hash.update(buffer, 0, n);
                total += n;
            }
        }
        session.scanned(total);
        return hash.hex();
    }

    private static String newHistoryId() {
        byte[] bytes = new byte[4];
        new SecureRandom().nextBytes(bytes);
        return HexFormat.of().formatHex(bytes);
    }
}
