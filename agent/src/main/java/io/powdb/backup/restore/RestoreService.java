package io.powdb.backup.restore;

import io.powdb.backup.scratch.ScratchFiles;
import io.powdb.backup.archive.PointInTimePlanner;
import io.powdb.backup.archive.WalAppender;
import io.powdb.backup.archive.WalArchive;
import io.powdb.backup.archive.WalPlan;
import io.powdb.backup.concurrent.Workers;
import io.powdb.backup.format.PowDbFiles;
import io.powdb.backup.repo.BackupCatalog;
import io.powdb.backup.repo.RepositoryException;
import io.powdb.backup.repo.FileEntry;
import io.powdb.backup.repo.IntegrityException;
import io.powdb.backup.repo.Manifest;
import io.powdb.backup.repo.Repository;
import io.powdb.backup.repo.RestorePoint;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;

/**
 * Restores a backup into an empty directory: plans the chain, checks that every object it needs is there,
 * builds the database in a staging directory while checking every object's BLAKE3 and every heap page
 * against its page map, and puts it in place only when all of it checked out.
 */
public final class RestoreService {
    private final Repository repository;

    public RestoreService(Repository repository) {
        this.repository = repository;
    }

    public RestoreResult restore(RestorePoint point, Path target, RestoreOptions options) throws IOException {
        repository.requireExists();
        ScratchFiles.removeAbandoned(options.tempDir());
        BackupCatalog catalog = BackupCatalog.load(repository);
        WalPlan plan = new PointInTimePlanner(catalog, WalArchive.load(repository)).plan(point, options.timeline());
        try {
            return restore(catalog, plan, target, options);
        } catch (IntegrityException e) {
            // A damaged object is named by its key; the operator also needs to know which backup it broke.
            String id = plan.base().id();
            if (e.getMessage() != null && e.getMessage().contains(id)) {
                throw e;
            }
            throw new IntegrityException("backup " + id + " cannot be restored: " + e.getMessage(), e);
        }
    }

    private RestoreResult restore(BackupCatalog catalog, WalPlan plan, Path target, RestoreOptions options)
            throws IOException {
        Manifest manifest = plan.base();
        List<Manifest> chain = catalog.chain(manifest);
        requireObjectsPresent(manifest);

        long total = manifest.files().stream().mapToLong(FileEntry::size).sum();
        try (RestoreStaging staging = RestoreStaging.prepare(target)) {
            HeapAssembler heaps = new HeapAssembler(repository, options.tempDir(), options.progress(), "restore", total);
            List<Workers.Task<Void>> tasks = new ArrayList<>();
            for (FileEntry file : largestFirst(manifest.files())) {
                Path path = staging.directory().resolve(file.name());
                if (!path.getParent().equals(staging.directory())) {
                    throw new IntegrityException("backup " + manifest.id() + " names a file outside the target: " + file.name());
                }
                tasks.add(() -> {
                    restoreFile(manifest, file, path, heaps, staging);
                    return null;
                });
            }
            Workers.run(tasks, options.parallelism(), "powdb-backup-restore");
            WalAppender.Result wal = null;
            if (plan.appliesWal()) {
                Path walFile = staging.directory().resolve(PowDbFiles.WAL);
                if (!Files.exists(walFile)) {
                    Files.createFile(walFile, RestoreStaging.privateFileAttributes(walFile));
                }
                try {
                    wal = new WalAppender(repository, options.tempDir()).append(plan, walFile);
                } catch (RepositoryException e) {
                    throw e;
                } catch (IOException e) {
                    throw new RestoreException("restore failed while appending shipped WAL to wal.log in "
                            + staging.directory() + ": " + e.getMessage() + ". Nothing was restored to " + staging.target()
                            + " (the partial copy is removed).", e);
                }
            }
            staging.commit();
            options.progress().progress("restore", total, total);
            Long reached = wal != null && wal.reachedLsn() != null ? wal.reachedLsn() : null;
            return new RestoreResult(manifest, chain.stream().map(Manifest::id).toList(), staging.target(),
                    manifest.files().size(), total, plan.timeline(), wal == null ? 0 : wal.records(),
                    reached != null ? reached : manifest.sourceLsn());
        }
    }

    private void restoreFile(Manifest manifest, FileEntry file, Path path, HeapAssembler heaps, RestoreStaging staging)
            throws IOException {
        try {
            if (file.isHeap()) {
                try (HeapFileSink sink = new HeapFileSink(path, file.pages())) {
                    heaps.assemble(manifest.id(), file, sink, false);
                }
            } else {
                restoreWhole(file, path);
            }
        } catch (IntegrityException | InterruptedIOException | ClosedByInterruptException e) {
            throw e;
        } catch (IOException e) {
            throw new RestoreException("restore failed while writing " + file.name() + " in " + staging.directory()
                    + ": " + e.getMessage() + ". Nothing was restored to " + staging.target()
                    + " (the partial copy is removed).", e);
        }
    }

    /** The largest files first, so that a large heap does not start last and run alone at the end. */
    private static List<FileEntry> largestFirst(List<FileEntry> files) {
        List<FileEntry> sorted = new ArrayList<>(files);
        sorted.sort(Comparator.comparingLong(FileEntry::size).reversed());
        return sorted;
    }

    /** Writes a whole file; a compressed object's content is checked against the file's size and BLAKE3 too. */
    private void restoreWhole(FileEntry file, Path path) throws IOException {
        try (FileChannel channel = FileChannel.open(path, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE),
                RestoreStaging.privateFileAttributes(path))) {
            OutputStream out = Channels.newOutputStream(channel);
            repository.readWhole(file, in -> in.transferTo(out));
            channel.force(true);
        }
    }

    /** Fails before writing anything when an object is missing or has the wrong size, naming them. */
    private void requireObjectsPresent(Manifest manifest) throws IOException {
        List<String> problems = repository.absentOrResized(manifest.files().stream()
                .flatMap(file -> file.objects().stream()).toList());
        if (!problems.isEmpty()) {
            throw new IntegrityException("backup " + manifest.id() + " cannot be restored: " + problems.size()
                    + " of its objects are missing or damaged (" + String.join("; ", problems.subList(0,
                    Math.min(5, problems.size()))) + (problems.size() > 5 ? "; ..." : "") + ")");
        }
    }
}
