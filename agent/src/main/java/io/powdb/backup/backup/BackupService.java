package io.powdb.backup.backup;

import io.powdb.backup.scratch.ScratchFiles;
import io.powdb.backup.format.DataDirectory;
import io.powdb.backup.format.DataFile;
import io.powdb.backup.format.FileKind;
import io.powdb.backup.format.HeapPage;
import io.powdb.backup.format.PowDbFiles;
import io.powdb.backup.format.SourceException;
import io.powdb.backup.integrity.HashingInputStream;
import io.powdb.backup.repo.BackupCatalog;
import io.powdb.backup.repo.BackupId;
import io.powdb.backup.repo.BackupStats;
import io.powdb.backup.repo.FileEntry;
import io.powdb.backup.repo.IntegrityException;
import io.powdb.backup.repo.Manifest;
import io.powdb.backup.repo.ObjectRef;
import io.powdb.backup.repo.PageMap;
import io.powdb.backup.repo.PageMaps;
import io.powdb.backup.repo.Repository;
import io.powdb.backup.repo.RepositoryException;
import io.powdb.backup.repo.WalAnchor;
import io.powdb.backup.Version;
import io.powdb.backup.concurrent.Workers;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.SequenceInputStream;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Takes a backup of a PowDB data directory into a repository: full when there is nothing to build on (or
 * when asked), otherwise incremental against the latest backup. A stopped server's directory (empty WAL,
 * nothing changing) gives a quiescent copy; a running server's a crash-consistent one, whose WAL PowDB
 * replays on open (docs/LIVE-CAPTURE.md), captured again when the server changed it in a way the copy
 * cannot account for.
 *
 * <p>Order of work, so that a reader never sees a half-written backup: every data object is uploaded and
 * committed, the capture is checked, and only then is the manifest written. A failure before that removes
 * what was uploaded.
 */
public final class BackupService {
    /** How often a live capture is tried before the database is declared too restless to copy. */
    static final int MAX_CAPTURE_ATTEMPTS = 5;

    private final Repository repository;

    public BackupService(Repository repository) {
        this.repository = repository;
    }

    public BackupResult backup(Path dataDir, BackupOptions options) throws IOException {
        long started = System.nanoTime();
        DataDirectory dir = DataDirectory.scan(dataDir);
        dir.requirePowDb();
        boolean live = !options.requireQuiescent();
        if (!live && !dir.walIsEmpty()) {
            throw new SourceException("the database in " + dir.path() + " is not quiescent: wal.log holds records "
                    + "that are not yet checkpointed (a running server, or one that crashed). Stop PowDB gracefully "
                    + "(SIGINT) so it checkpoints and back up again, or leave out --require-quiescent to take a "
                    + "crash-consistent copy of the running server.");
        }
        repository.initialize();
        List<String> abandoned = ScratchFiles.removeAbandoned(options.tempDir());
        BackupCatalog catalog = BackupCatalog.load(repository);
        // The latest backup is what this one is compared with: its base for an incremental, and in any case
        // the reference for noticing that the database now lives a new history.
        Manifest reference = null;
        List<String> warnings = new ArrayList<>();
        if (!abandoned.isEmpty()) {
            warnings.add("removed " + abandoned.size() + " scratch files from " + options.tempDir()
                    + " that killed powdb-backup processes left behind");
        }
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

        String lastRace = null;
        for (int attempt = 1; attempt <= MAX_CAPTURE_ATTEMPTS; attempt++) {
            if (attempt > 1) {
                // What made the last attempt fail (a table created or dropped, a heap that shrank) is in the
                // directory now: compare with that, or every later attempt fails the same way.
                dir = DataDirectory.scan(dataDir);
                dir.requirePowDb();
            }
            // A live capture copies the WAL by following it, not as a file: it is not part of what is read.
            long totalBytes = dir.files().stream().filter(f -> !live || f.kind() != FileKind.WAL)
                    .mapToLong(DataFile::size).sum();
            BackupId provisional = BackupId.create(0, options.clock().instant());
            BackupSession session = new BackupSession(repository, Repository.dataPrefix(provisional),
                    options.progress(), totalBytes, options.compression());
            Path spool = null;
            if (live) {
                Files.createDirectories(options.tempDir());
                spool = ScratchFiles.name(options.tempDir(), "powdb-backup-wal-", provisional.session() + ".spool");
            }
            try (WalCapture wal = live ? new WalCapture(dir.path().resolve(PowDbFiles.WAL), spool) : null) {
                byte[] walHeader = live ? walHeader(dir) : null;
                if (wal != null) {
                    wal.start();
                }
                if (lastRace != null) {
                    warnings.add("the database changed in a way the copy could not account for (" + lastRace
                            + "); it was captured again (attempt " + attempt + ")");
                }
                return capture(dir, reference, options.forceFull(), provisional, session, options, started, warnings,
                        wal, spool, walHeader);
            } catch (CaptureRace race) {
                discard(session, race);
                lastRace = race.getMessage();
            } catch (ManifestMayExist e) {
                throw e; // its data objects stay: the manifest may be naming them
            } catch (IOException e) {
                discard(session, e);
                if (live && e instanceof NoSuchFileException gone && gone.getFile() != null
                        && Files.isRegularFile(dir.path().resolve(PowDbFiles.CATALOG))
                        && Path.of(gone.getFile()).getParent().equals(dir.path())) {
                    // A file of a running database removed while read (a table dropped): capture again.
                    lastRace = Path.of(gone.getFile()).getFileName() + " was removed while it was read";
                    continue;
                }
                throw sourceGone(dir, e);
            } catch (RuntimeException e) {
                discard(session, e);
                throw e;
            } finally {
                if (spool != null) {
                    Files.deleteIfExists(spool);
                }
            }
        }
        throw new SourceException("the database never held still long enough for a consistent copy: "
                + MAX_CAPTURE_ATTEMPTS + " attempts, the last failed because " + lastRace + ". Back up again at a "
                + "quieter moment, or stop PowDB gracefully and back up with --require-quiescent.");
    }

    /**
     * A file of the database that vanishes or turns unreadable while it is read surfaces as the JDK's bare
     * path: say what that means. Errors about anything outside the data directory pass unchanged.
     */
    private static IOException sourceGone(DataDirectory dir, IOException e) {
        if (!(e instanceof FileSystemException fs) || fs.getFile() == null
                || !Path.of(fs.getFile()).toAbsolutePath().startsWith(dir.path().toAbsolutePath())) {
            return e;
        }
        String what = Path.of(fs.getFile()).equals(dir.path()) ? "the data directory " + dir.path()
                : fs.getFile() + " (in the data directory " + dir.path() + ")";
        String why = e instanceof NoSuchFileException
                ? what + " disappeared during the backup: the directory was removed, renamed or unmounted, or the "
                        + "file was deleted"
                : e instanceof AccessDeniedException ? what + " became unreadable during the backup (permission denied)"
                : "reading " + what + " failed during the backup (" + (fs.getReason() == null ? e.getClass().getSimpleName()
                        : fs.getReason()) + ")";
        SourceException gone = new SourceException(why + ". Nothing was published, and what this backup had uploaded"
                + " was removed; check --data-dir (or $POWDB_DATA) and the volume, then back up again.", e);
        for (Throwable suppressed : e.getSuppressed()) {
            gone.addSuppressed(suppressed);
        }
        return gone;
    }

    private static void discard(BackupSession session, Exception cause) {
        List<String> left = session.discard();
        if (!left.isEmpty()) {
            cause.addSuppressed(new IOException("could not remove " + left.size() + " uploaded objects of the failed "
                    + "backup (unreferenced; prune removes them): " + left));
        }
    }

    /** Reads every heap again: the first whose pages no longer match the digest of its capture, if any. */
    private static Optional<String> heapChangedSince(DataDirectory dir, Map<String, Long> digests, int parallelism)
            throws IOException {
        List<DataFile> heaps = dir.files().stream().filter(file -> file.kind() == FileKind.HEAP).toList();
        List<Workers.Task<Boolean>> tasks = heaps.stream().<Workers.Task<Boolean>>map(file ->
                () -> HeapCapture.digest(file, file.size() / HeapPage.SIZE) != digests.get(file.name())).toList();
        List<Boolean> changed = Workers.run(tasks, parallelism, "powdb-backup-recheck");
        for (int i = 0; i < heaps.size(); i++) {
            if (changed.get(i)) {
                return Optional.of(heaps.get(i).name() + " changed");
            }
        }
        return Optional.empty();
    }

    /** What capturing one file gave: a whole file's entry, or a heap's result. */
    private record Captured(FileEntry whole, HeapCapture.Result heap) {
    }

    /** The 8-byte header of a PowDB 0.5+ wal.log, which a restored WAL must start with too; empty for 0.4. */
    private static byte[] walHeader(DataDirectory dir) throws IOException {
        Path wal = dir.path().resolve(PowDbFiles.WAL);
        if (!Files.exists(wal)) {
            return new byte[0];
        }
        try (InputStream in = Files.newInputStream(wal)) {
            byte[] head = in.readNBytes(8);
            return head.length == 8 && head[0] == 'P' && head[1] == 'W' && head[2] == 'A' && head[3] == 'L'
                    ? head : new byte[0];
        }
    }

    private BackupResult capture(DataDirectory dir, Manifest reference, boolean full, BackupId provisional,
            BackupSession session, BackupOptions options, long started, List<String> warnings, WalCapture wal,
            Path spool, byte[] walHeader) throws IOException {
        Manifest base = full ? null : reference;
        Map<String, FileEntry> referenceFiles = new HashMap<>();
        if (reference != null) {
            reference.files().forEach(f -> referenceFiles.put(f.name(), f));
        }
        List<FileEntry> files = new ArrayList<>();
        long maxPageLsn = 0;
        long pagesScanned = 0;
        long pagesChanged = 0;
        long badCrc = 0;
        boolean lsnWentBack = false;
        Map<String, Long> digests = new HashMap<>();
        // The largest files first, so that a large heap does not start last and run alone at the end; the
        // entries are put back in name order below.
        List<DataFile> toCapture = dir.files().stream()
                .filter(file -> file.kind() == FileKind.HEAP || wal == null || file.kind() != FileKind.WAL)
                .sorted(Comparator.comparingLong(DataFile::size).reversed()).toList();
        List<Workers.Task<Captured>> tasks = new ArrayList<>();
        for (DataFile file : toCapture) {
            FileEntry previous = referenceFiles.get(file.name());
            if (file.kind() == FileKind.HEAP) {
                FileEntry baseHeap = previous != null && previous.isHeap() ? previous : null;
                tasks.add(() -> new Captured(null, captureHeap(new HeapCapture(session, wal, options.tempDir()), file,
                        baseHeap, full, options.tempDir())));
            } else {
                FileEntry baseFile = full ? null : previous;
                tasks.add(() -> new Captured(captureWhole(file, baseFile, session, wal != null), null));
            }
        }
        for (Captured captured : Workers.run(tasks, options.parallelism(), "powdb-backup-capture")) {
            if (captured.heap() == null) {
                files.add(captured.whole());
                continue;
            }
            HeapCapture.Result result = captured.heap();
            String name = result.entry().name();
            files.add(result.entry());
            digests.put(name, result.contentDigest());
            pagesScanned += result.entry().pages();
            pagesChanged += result.entry().changedPages();
            badCrc += result.pagesWithBadCrc();
            lsnWentBack |= result.lsnWentBack();
            if (result.pagesWithBadCrc() > 0) {
                warnings.add(name + ": " + result.pagesWithBadCrc() + " pages fail their CRC32 check (the "
                        + "file is damaged on disk); they were backed up exactly as they are");
            }
            if (Long.compareUnsigned(result.entry().maxLsn(), maxPageLsn) > 0) {
                maxPageLsn = result.entry().maxLsn();
            }
        }
        files.sort(Comparator.comparing(FileEntry::name));
        String consistency = Manifest.QUIESCENT;
        Long walEndLsn = null;
        WalAnchor walAnchor = null;
        if (wal == null) {
            Optional<String> change = dir.changedSince();
            if (change.isPresent()) {
                throw new SourceException("the database changed during the backup (" + change.get() + "): it is not "
                        + "quiescent. Stop PowDB gracefully, then back up again.");
            }
        } else {
            wal.poll();
            if (wal.broken().isPresent()) {
                throw new CaptureRace(wal.broken().get());
            }
            if (!DataDirectory.scan(dir.path()).names().equals(dir.names())) {
                throw new CaptureRace("files were created or removed during the capture");
            }
            if (wal.emptyAtStart() && !wal.sawRecords()) {
                // The WAL looked empty at every poll, but a write and a checkpoint can both fall between two
                // polls, and file times move in coarse ticks: only reading the pages again proves that none
                // changed, and so that this is one quiescent state.
                Optional<String> change = dir.changedSince();
                if (change.isEmpty()) {
                    change = heapChangedSince(dir, digests, options.parallelism());
                }
                wal.poll();
                if (change.isEmpty() && (wal.sawRecords() || wal.broken().isPresent())) {
                    change = Optional.of("wal.log received records");
                }
                if (change.isPresent()) {
                    throw new CaptureRace(change.get() + " while wal.log looked empty");
                }
            } else {
                consistency = Manifest.CRASH_CONSISTENT;
            }
            long spooled = wal.finish();
            walEndLsn = wal.stableLsn().isPresent() ? wal.stableLsn().getAsLong() : null;
            FileEntry previous = full ? null : referenceFiles.get(PowDbFiles.WAL);
            files.add(captureWal(walHeader, spool, spooled, previous, session));
            walAnchor = wal.anchor(walHeader.length).orElse(null);
            files.sort(Comparator.comparing(FileEntry::name));
        }
        long catalogLsn = dir.catalogLsn();
        long sourceLsn = Long.compareUnsigned(catalogLsn, maxPageLsn) > 0 ? catalogLsn : maxPageLsn;
        if (walEndLsn != null && Long.compareUnsigned(walEndLsn, sourceLsn) > 0) {
            sourceLsn = walEndLsn;
        }

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
                history, forkedFrom, consistency, sourceLsn, maxPageLsn, walEndLsn, walAnchor, id.created().toString(),
                Version.current(),
                HeapPage.SIZE, files, removed, stats);
        manifest.validate();
        requireReusedObjectsPresent(manifest, session);
        publish(manifest, warnings);
        return new BackupResult(manifest, base == null ? null : base.sourceLsn(), dir.skipped(), warnings,
                session.contentBytesUploaded());
    }

    /**
     * An incremental names objects of earlier backups that it did not upload. They were there when those backups
     * were taken, but a prune, an operator or a damaged store may have removed them since (and a listing may still
     * show a backup whose objects are gone): publishing would then make a backup look complete that cannot be
     * restored. One stat per object, which costs little next to the pages read.
     */
    private void requireReusedObjectsPresent(Manifest manifest, BackupSession session) throws IOException {
        Set<String> uploaded = session.committedKeys();
        List<String> problems = repository.absentOrResized(manifest.files().stream()
                .flatMap(file -> file.objects().stream()).filter(ref -> !uploaded.contains(ref.key())).toList());
        if (!problems.isEmpty()) {
            throw new IntegrityException("backup " + manifest.id() + " would build on " + problems.size() + " objects of "
                    + "earlier backups (parent " + manifest.parent() + ") that are gone or damaged ("
                    + String.join("; ", problems.subList(0, Math.min(5, problems.size())))
                    + (problems.size() > 5 ? "; ..." : "") + "), so it was not published. Run 'powdb-backup verify' to "
                    + "see which backups are affected, and start a new chain with 'powdb-backup backup --full'.");
        }
    }

    /**
     * Writes the manifest, which makes the backup visible. A write the store reports as failed may still
     * have happened: its answer was lost, and the retries then failed or met the manifest already there.
     * The manifest is read back to find out. Stored: the backup is complete and succeeded. Not stored: the
     * failure stands, and the caller removes the data objects. Unknown, because the store cannot be read
     * either: the data objects must stay, since a manifest that may exist names them.
     */
    private void publish(Manifest manifest, List<String> warnings) throws IOException {
        try {
            repository.writeManifest(manifest);
        } catch (IOException | RuntimeException e) {
            boolean stored;
            try {
                stored = repository.holdsManifest(manifest);
            } catch (IOException | RuntimeException check) {
                ManifestMayExist unknown = new ManifestMayExist("writing the manifest of backup " + manifest.id()
                        + " failed (" + e.getMessage() + "), and reading it back failed too (" + check.getMessage()
                        + "), so whether the backup exists is unknown. Its data objects were kept so that it is whole"
                        + " if it does; 'powdb-backup list' shows whether it does.", e);
                unknown.addSuppressed(check);
                throw unknown;
            }
            if (!stored) {
                throw e;
            }
            warnings.add("the store reported a failure writing the manifest of backup " + manifest.id() + " ("
                    + e.getMessage() + "), but it was stored: the backup is complete");
        }
    }

    /** The manifest write failed and whether it took effect is unknown: the backup's objects must stay. */
    private static final class ManifestMayExist extends IOException {
        ManifestMayExist(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private HeapCapture.Result captureHeap(HeapCapture heaps, DataFile file, FileEntry base, boolean full, Path tempDir)
            throws IOException {
        if (base == null) {
            return heaps.capture(file, null, null, true);
        }
        Files.createDirectories(tempDir);
        Path mapFile = ScratchFiles.create(tempDir, "powdb-backup-", ".map");
        try {
            // The base map (and its deltas) are checked against their hashes before they decide what to upload.
            try (PageMap map = PageMaps.open(repository, base, mapFile)) {
                return heaps.capture(file, base, map, full);
            }
        } finally {
            Files.deleteIfExists(mapFile);
        }
    }

    /**
     * Backs up a whole file: re-uses the base's object when the content hash is unchanged, else uploads it
     * (compressed as the options say), hashing the content as it is read.
     */
    private FileEntry captureWhole(DataFile file, FileEntry base, BackupSession session, boolean live)
            throws IOException {
        if (base != null && !base.isHeap() && base.size() == file.size() && base.blake3().equals(hashFile(file, session))) {
            return FileEntry.whole(file.name(), file.kind(), file.size(), base.blake3(), base.object());
        }
        try (PendingObject object = session.newCompressedObject(session.dataPrefix() + "files/" + file.name());
             HashingInputStream in = new HashingInputStream(Files.newInputStream(file.path()))) {
            long copied = in.transferTo(object.stream());
            if (!live && copied != file.size()) {
                throw new SourceException(file.name() + " changed size during the backup");
            }
            if (base == null || base.isHeap() || base.size() != file.size()) {
                session.scanned(copied);
            }
            String content = in.hex();
            ObjectRef ref = object.commit(ObjectRef.RAW);
            if (live && !content.equals(hashFile(file, null))) {
                // Rewritten while read (an index saved at a checkpoint): the copy may be torn.
                throw new CaptureRace(file.name() + " was rewritten while it was read");
            }
            return FileEntry.whole(file.name(), file.kind(), copied, content, ref);
        }
    }

    /** The WAL of a live capture: the original header, then the committed records copied while following it. */
    private FileEntry captureWal(byte[] header, Path spool, long spooled, FileEntry base, BackupSession session)
            throws IOException {
        long size = header.length + spooled;
        String blake3;
        try (HashingInputStream in = new HashingInputStream(walContent(header, spool))) {
            in.drain();
            blake3 = in.hex();
        }
        if (base != null && !base.isHeap() && base.size() == size && blake3.equals(base.blake3())) {
            return FileEntry.whole(PowDbFiles.WAL, FileKind.WAL, size, blake3, base.object());
        }
        try (PendingObject object = session.newCompressedObject(session.dataPrefix() + "files/" + PowDbFiles.WAL);
             HashingInputStream in = new HashingInputStream(walContent(header, spool))) {
            in.transferTo(object.stream());
            ObjectRef ref = object.commit(ObjectRef.RAW);
            if (in.count() != size || !in.hex().equals(blake3)) {
                throw new IOException("the WAL spool " + spool + " changed while it was uploaded");
            }
            return FileEntry.whole(PowDbFiles.WAL, FileKind.WAL, size, blake3, ref);
        }
    }

    private static InputStream walContent(byte[] header, Path spool) throws IOException {
        return new SequenceInputStream(new ByteArrayInputStream(header), Files.newInputStream(spool));
    }

    /** @param session counts the bytes read, or null */
    private static String hashFile(DataFile file, BackupSession session) throws IOException {
        try (HashingInputStream in = new HashingInputStream(Files.newInputStream(file.path()))) {
            in.drain();
            if (session != null) {
                session.scanned(in.count());
            }
            return in.hex();
        }
    }

    private static String newHistoryId() {
        byte[] bytes = new byte[4];
        new SecureRandom().nextBytes(bytes);
        return HexFormat.of().formatHex(bytes);
    }
}
