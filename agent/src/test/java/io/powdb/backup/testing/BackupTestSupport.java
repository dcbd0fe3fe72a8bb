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
    /** WAL records {@link #checkpoint} truncated away, oldest first. */
    private final java.util.List<WalRecord> checkpointedWal = new java.util.ArrayList<>();

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

    /** Tables "a" (24 pages) and "b" (12 pages) in the fixture, checkpointed: what {@link #transactions} updates. */
    protected void createTables() throws IOException {
        db.createTable("a", 24);
        db.createTable("b", 12);
        db.checkpoint();
    }

    /** {@code n} transactions, alternately on tables "a" and "b", of 1 to 3 pages each. */
    protected void transactions(int n) throws IOException {
        for (int i = 0; i < n; i++) {
            db.updateRandomPages(i % 2 == 0 ? "a" : "b", 1 + i % 3);
        }
    }

    /** A checkpoint, keeping the records it truncates away for the model ({@link #allRecords}). */
    protected void checkpoint() throws IOException {
        checkpointedWal.addAll(db.walRecords());
        db.checkpoint();
    }

    /** Every WAL record written through {@link #checkpoint}s, and those in wal.log now, in order. */
    protected java.util.List<WalRecord> allRecords() throws IOException {
        java.util.List<WalRecord> all = new java.util.ArrayList<>(checkpointedWal);
        all.addAll(db.walRecords());
        return all;
    }

    /** The LSNs of the COMMIT records among {@code records}. */
    protected static java.util.List<Long> commits(java.util.List<WalRecord> records) {
        return records.stream().filter(r -> r.type() == WalWriter.COMMIT).map(WalRecord::lsn).toList();
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
