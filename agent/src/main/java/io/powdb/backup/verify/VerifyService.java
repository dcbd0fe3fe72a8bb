package io.powdb.backup.verify;

import io.powdb.backup.archive.WalArchive;
import io.powdb.backup.archive.WalVerifier;
import io.powdb.backup.repo.BackupCatalog;
import io.powdb.backup.repo.BackupId;
import io.powdb.backup.repo.FileEntry;
import io.powdb.backup.repo.Manifest;
import io.powdb.backup.repo.ObjectRef;
import io.powdb.backup.repo.Repository;
import io.powdb.backup.repo.RepositoryException;
import io.powdb.backup.progress.ProgressListener;
import io.powdb.backup.restore.RestoreCheck;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Downloads and checks backups without writing a database: each manifest's checksum and chain, every
 * object's size and BLAKE3, and that every heap can be assembled with each page matching its page map.
 * A backup is checked together with every backup of its chain up to it. Checking the whole repository also
 * checks every shipped WAL segment ({@link WalVerifier}).
 */
public final class VerifyService {
    private final Repository repository;

    public VerifyService(Repository repository) {
        this.repository = repository;
    }

    /** @param only one backup (and its chain), or empty for every backup in the repository */
    public VerifyReport verify(Optional<BackupId> only, Path tempDir, ProgressListener progress) throws IOException {
        repository.requireExists();
        BackupCatalog catalog = BackupCatalog.load(repository);
        if (only.isPresent() && !catalog.ids().contains(only.get())) {
            throw new RepositoryException("no backup " + only.get() + " in " + repository.location()
                    + " (see 'powdb-backup list')");
        }
        Set<BackupId> toCheck = new LinkedHashSet<>();
        List<String> failures = new ArrayList<>();
        if (only.isPresent()) {
            try {
                for (Manifest m : catalog.chain(catalog.manifest(only.get()))) {
                    toCheck.add(m.backupId());
                }
            } catch (io.powdb.backup.crypto.EncryptionKeyException e) {
                throw e;
            } catch (RepositoryException e) {
                failures.add(e.getMessage());
                toCheck.add(only.get());
            }
        } else {
            toCheck.addAll(catalog.idsByTime());
        }
        Set<String> objectsSeen = new HashSet<>();
        long bytes = 0;
        RestoreCheck check = new RestoreCheck(repository, tempDir, progress);
        List<String> checked = new ArrayList<>();
        for (BackupId id : toCheck) {
            checked.add(id.toString());
            try {
                Manifest manifest = catalog.manifest(id);
                catalog.chain(manifest);
                for (FileEntry file : manifest.files()) {
                    for (ObjectRef ref : file.objects()) {
                        if (objectsSeen.add(ref.key())) {
                            bytes += ref.size();
                        }
                    }
                    check.check(manifest.id(), file);
                }
            } catch (io.powdb.backup.crypto.EncryptionKeyException e) {
                throw e; // the key given cannot open this repository: not damage, and the same for every backup
            } catch (RepositoryException e) {
                failures.add("backup " + id + ": " + e.getMessage());
            }
        }
        int objects = objectsSeen.size();
        if (only.isEmpty()) {
            WalVerifier.Result wal = new WalVerifier(repository, tempDir).verify(WalArchive.load(repository));
            objects += wal.segments();
            bytes += wal.bytes();
            failures.addAll(wal.failures());
        }
        return new VerifyReport(checked, objects, bytes, failures);
    }
}
