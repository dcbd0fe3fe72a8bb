package io.powdb.backup.backup;

import io.powdb.backup.format.SourceException;
import io.powdb.backup.repo.FileEntry;
import io.powdb.backup.repo.Manifest;
import io.powdb.backup.repo.RestorePoint;
import io.powdb.backup.testing.BackupTestSupport;
import io.powdb.backup.testing.PowDbFixture;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Backups of a directory a server is writing to: the copy must be one PowDB recovers, by WAL replay, to
 * exactly the state the server had (docs/LIVE-CAPTURE.md).
 */
class LiveBackupTest extends BackupTestSupport {

    /** A live backup: the directory as it is, WAL records and all, without a checkpoint first. */
    private BackupResult liveBackup(BackupOptions options) throws IOException {
        return new BackupService(repository).backup(db.dir(), options);
    }

    @Test
    void aDirectoryWithWalRecordsGivesACrashConsistentBackupThatRecoversToTheSameState() throws IOException {
        db.createTable("t", 20);
        db.checkpoint();
        db.updatePages("t", 3, 4, 5);
        db.updatePages("t", 9);
        assertTrue(db.walRecordCount() > 0);
        BackupResult result = liveBackup(options());

        Manifest m = result.manifest();
        assertEquals("crash-consistent", m.consistency());
        assertEquals(db.walRecords().get(db.walRecords().size() - 1).lsn(), m.sourceLsn(), "up to the last commit");
        FileEntry wal = BackupRestoreRoundTripTest.entry(m, "wal.log");
        assertTrue(wal.size() > 0);

        Path restored = restore(new RestorePoint.Latest());
        PowDbFixture.assertSameDatabase(db.dir(), restored, true); // nothing raced: the copy is exact
        PowDbFixture.assertSameDatabase(recovered(db.dir(), "source"), recovered(restored, "restored"), true);
    }

    @Test
    void anUncommittedTailIsLeftOutOfTheWal() throws IOException {
        db.createTable("t", 10);
        db.checkpoint();
        db.updatePages("t", 2);
        long committedLength = Files.size(db.walPath());
        db.appendUncommittedUpdates("t", 3);
        Manifest m = liveBackup(options()).manifest();
        assertEquals(committedLength, BackupRestoreRoundTripTest.entry(m, "wal.log").size());
        Path restored = restore(new RestorePoint.Latest());
        PowDbFixture.open(restored, db.version(), 1); // recovers
    }

    @Test
    void aQuiescentDirectoryStillGivesAQuiescentBackup() throws IOException {
        db.createTable("t", 5);
        db.checkpoint();
        assertEquals(Manifest.QUIESCENT, liveBackup(options()).manifest().consistency());
        PowDbFixture.assertSameDatabase(db.dir(), restore(new RestorePoint.Latest()), true);
    }

    @Test
    void requireQuiescentKeepsTheStrictBehaviour() throws IOException {
        db.createTable("t", 5);
        db.checkpoint();
        db.updatePages("t", 1);
        SourceException e = assertThrows(SourceException.class, () -> liveBackup(options().withRequireQuiescent(true)));
        assertTrue(e.getMessage().contains("not quiescent"), e.getMessage());
    }

    @Test
    void aCheckpointInsideTheCaptureWindowIsDetectedAndTheCaptureRetried() throws IOException {
        db.createTable("t", 30);
        db.createTable("u", 30);
        db.checkpoint();
        db.updatePages("t", 1);
        AtomicInteger disturbances = new AtomicInteger();
        // Between reading the heaps and the end of the capture: records appended, checkpointed away, and
        // more appended: a copy of the pages read before would miss the middle changes.
        BackupOptions racing = options().withProgress((phase, done, total) -> {
            if (disturbances.getAndIncrement() == 0) {
                try {
                    db.updatePages("u", 7);
                    db.checkpoint();
                    db.updatePages("u", 8);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
        });
        BackupResult result = liveBackup(racing);
        assertTrue(result.warnings().stream().anyMatch(w -> w.contains("captured again")), result.warnings().toString());
        Path restored = restore(new RestorePoint.Latest());
        PowDbFixture.assertSameDatabase(recovered(db.dir(), "source"), recovered(restored, "restored"), true);
    }

    @Test
    void aServerRestartDuringTheCaptureIsDetectedAndTheCaptureRetried() throws IOException {
        db.createTable("t", 30);
        db.checkpoint();
        db.updatePages("t", 1, 2);
        AtomicInteger restarts = new AtomicInteger();
        // PowDB restarts mid-capture: recovery replays and truncates the WAL, and the LSN counter is derived
        // again from the pages (0.4.x reuses the last commit's LSN), then the server writes on.
        BackupOptions restarting = options().withProgress((phase, done, total) -> {
            if (restarts.getAndIncrement() == 0) {
                try {
                    db = PowDbFixture.open(db.dir(), db.version(), 99);
                    db.updatePages("t", 5);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
        });
        BackupResult result = liveBackup(restarting);
        assertTrue(result.warnings().stream().anyMatch(w -> w.contains("captured again")), result.warnings().toString());
        Path restored = restore(new RestorePoint.Latest());
        PowDbFixture.assertSameDatabase(recovered(db.dir(), "source"), recovered(restored, "restored"), true);
    }

    @Test
    void aDatabaseThatNeverHoldsStillGetsAClearErrorAndLeavesNothing() throws IOException {
        db.createTable("t", 10);
        db.checkpoint();
        db.updatePages("t", 1);
        BackupOptions restless = options().withProgress((phase, done, total) -> {
            try {
                db.updatePages("t", 2);
                db.checkpoint();
                db.updatePages("t", 3);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        SourceException e = assertThrows(SourceException.class, () -> liveBackup(restless));
        assertTrue(e.getMessage().contains("never held still") && e.getMessage().contains("attempts"), e.getMessage());
        assertTrue(repository.store().listAll("manifests/").isEmpty());
        assertTrue(repository.store().listAll("data/").isEmpty());
    }

    @Test
    void anIncrementalOfALiveDirectoryRestoresToTheRecoveredState() throws IOException {
        db.createTable("t", 25);
        db.checkpoint();
        liveBackup(options());
        db.updatePages("t", 1, 2, 3);
        db.checkpoint();
        db.updatePages("t", 4);
        Manifest m = liveBackup(options()).manifest();
        assertEquals(Manifest.INCREMENTAL, m.type());
        assertEquals("crash-consistent", m.consistency());
        Path restored = restore(new RestorePoint.Latest());
        PowDbFixture.assertSameDatabase(recovered(db.dir(), "source"), recovered(restored, "restored"), true);
    }
}
