package io.powdb.backup.testing;

import io.powdb.backup.backup.BackupOptions;
import io.powdb.backup.backup.BackupResult;
import io.powdb.backup.backup.BackupService;
import io.powdb.backup.concurrent.Workers;
import io.powdb.backup.repo.Repository;
import io.powdb.backup.repo.RestorePoint;
import io.powdb.backup.restore.RestoreOptions;
import io.powdb.backup.restore.RestoreResult;
import io.powdb.backup.restore.RestoreService;
import io.powdb.backup.store.local.LocalBlobStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;

/** A PowDB fixture, a local repository and helpers to back up, snapshot and restore, for agent tests. */
public abstract class BackupTestSupport {
    @TempDir
    protected Path tmp;
    protected PowDbFixture db;
    protected Repository repository;
    private int restores;

    @BeforeEach
    void setUpRepository() throws IOException {
        db = PowDbFixture.create(tmp.resolve("data"), PowDbFixture.Version.V0_5, 1234);
        repository = new Repository(new LocalBlobStore(tmp.resolve("repo")), "");
    }

    @AfterEach
    void closeRepository() throws IOException {
        repository.close();
    }

    /** Files backed up and restored at once; tests that count requests in order set 1. */
    protected int parallelism = Workers.defaultParallelism();

    protected BackupOptions options() {
        return BackupOptions.defaults().withTempDir(tmp.resolve("tmp")).withParallelism(parallelism);
    }

    /** Checkpoints the fixture (so it is quiescent), then backs it up. */
    protected BackupResult backup() throws IOException {
        db.checkpoint();
        return new BackupService(repository).backup(db.dir(), options());
    }

    protected BackupResult fullBackup() throws IOException {
        db.checkpoint();
        return new BackupService(repository).backup(db.dir(), options().withForceFull(true));
    }

    /** A copy of the data directory's durable files as they are now. */
    protected Path snapshot(String name) throws IOException {
        return PowDbFixture.copyDatabase(db.dir(), tmp.resolve("snapshots").resolve(name));
    }

    /** What PowDB makes of {@code dir} on open: a copy of it, recovered by WAL replay. */
    protected Path recovered(Path dir, String name) throws IOException {
        Path copy = PowDbFixture.copyDatabase(dir, tmp.resolve("recovered").resolve(name));
        PowDbFixture.open(copy, db.version(), 1);
        return copy;
    }

    /**
     * The writer's state as of {@code lsn}: {@code initial} (a checkpointed copy) with every transaction whose
     * COMMIT is at or below {@code lsn} replayed by PowDB's redo rule. {@code archive} is every WAL record
     * written since {@code initial}, in order.
     */
    protected Path stateAtCommit(Path initial, java.util.List<WalRecord> archive, long lsn, String name)
            throws IOException {
        Path dir = PowDbFixture.copyDatabase(initial, tmp.resolve("expected").resolve(name));
        java.util.Set<Long> committed = new java.util.HashSet<>();
        for (WalRecord r : archive) {
            if (r.type() == WalWriter.COMMIT && Long.compareUnsigned(r.lsn(), lsn) <= 0) {
                committed.add(r.txId());
            }
        }
        java.io.ByteArrayOutputStream wal = new java.io.ByteArrayOutputStream();
        wal.writeBytes(db.version().emptyWal());
        for (WalRecord r : archive) {
            if (committed.contains(r.txId())) {
                wal.writeBytes(WalWriter.encode(r.txId(), r.type(), r.lsn(), r.payload()));
            }
        }
        java.nio.file.Files.write(dir.resolve(PowDbFixture.WAL), wal.toByteArray());
        PowDbFixture.open(dir, db.version(), 1);
        return dir;
    }

    protected Path newTarget() {
        return tmp.resolve("restored-" + (++restores));
    }

    protected RestoreResult restore(RestorePoint point, Path target) throws IOException {
        return new RestoreService(repository).restore(point, target,
                RestoreOptions.defaults().withProgress((phase, done, total) -> { }).withParallelism(parallelism));
    }

    protected Path restore(RestorePoint point) throws IOException {
        Path target = newTarget();
        restore(point, target);
        return target;
    }
}
