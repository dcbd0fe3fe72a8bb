package io.powdb.backup.backup;

import io.powdb.backup.repo.BackupCatalog;
import io.powdb.backup.repo.BackupId;
import io.powdb.backup.repo.FileEntry;
import io.powdb.backup.repo.Manifest;
import io.powdb.backup.repo.RestorePoint;
import io.powdb.backup.restore.RestoreResult;
import io.powdb.backup.testing.BackupTestSupport;
import io.powdb.backup.testing.PowDbFixture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BackupRestoreRoundTripTest extends BackupTestSupport {

    @ParameterizedTest
    @EnumSource(PowDbFixture.Version.class)
    void fullBackupRestoresByteForByte(PowDbFixture.Version version) throws IOException {
        db = PowDbFixture.create(tmp.resolve("data-" + version), version, 99);
        db.createTable("users", 40);
        db.createTable("orders", 7);
        db.createTable("empty", version == PowDbFixture.Version.V0_5 ? 1 : 0);
        db.writeOptionalWholeFiles();
        db.writeTransientFiles();
        BackupResult result = backup();

        Manifest m = result.manifest();
        assertEquals(Manifest.FULL, m.type());
        assertNull(result.baseLsn());
        assertEquals(db.lastLsn() >= m.sourceLsn(), true);
        assertTrue(m.files().stream().noneMatch(f -> PowDbFixture.isTransient(f.name())), "no transient file backed up");
        assertTrue(m.files().stream().anyMatch(f -> f.name().equals("views.bin")));
        assertTrue(m.files().stream().anyMatch(f -> f.name().equals("auth.json")));

        Path restored = restore(new RestorePoint.Latest());
        PowDbFixture.assertSameDatabase(db.dir(), restored, true);
        assertFalse(Files.exists(restored.resolve("LOCK")));
        assertFalse(Files.exists(restored.resolve("readers")));
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(restored)));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(restored.resolve("users.heap"))));
        // The restored directory opens: catalog, heaps and index checksums all check out.
        PowDbFixture.open(restored, version, 1);
    }

    @Test
    void aChainRestoredToEachPointEqualsTheDatabaseAsItWasThen() throws IOException {
        db.createTable("users", 30);
        db.createTable("orders", 12);
        db.createTable("logs", 5);
        List<BackupId> ids = new ArrayList<>();
        List<Path> states = new ArrayList<>();
        ids.add(backup().manifest().backupId());
        states.add(snapshot("0"));

        db.updatePages("users", 3, 4, 29);
        db.rewriteIndex("users", false);
        ids.add(backup().manifest().backupId());
        states.add(snapshot("1"));

        db.appendPages("orders", 9);
        db.truncateTable("users", 10);
        db.createTable("audit", 4);
        ids.add(backup().manifest().backupId());
        states.add(snapshot("2"));

        db.dropTable("logs");
        db.updateRandomPages("orders", 5);
        ids.add(backup().manifest().backupId());
        states.add(snapshot("3"));

        BackupResult unchanged = backup();
        ids.add(unchanged.manifest().backupId());
        states.add(snapshot("4"));

        for (int i = 0; i < ids.size(); i++) {
            PowDbFixture.assertSameDatabase(states.get(i), restore(new RestorePoint.ById(ids.get(i))), true);
        }
        // By LSN: each backup's own LSN restores that backup (the newest taken at that LSN).
        PowDbFixture.assertSameDatabase(states.get(2), restore(new RestorePoint.AtOrBeforeLsn(ids.get(2).lsn())), true);
        // Between two backups, with no WAL shipped: the state there is unknown, so it is refused, and the
        // message names the points that can be restored.
        io.powdb.backup.repo.RepositoryException between = org.junit.jupiter.api.Assertions.assertThrows(
                io.powdb.backup.repo.RepositoryException.class,
                () -> restore(new RestorePoint.AtOrBeforeLsn(ids.get(2).lsn() - 1)));
        org.junit.jupiter.api.Assertions.assertTrue(between.getMessage().contains("--to-lsn " + ids.get(1).lsn()),
                between.getMessage());
        // By time.
        Manifest second = BackupCatalog.load(repository).manifest(ids.get(1));
        PowDbFixture.assertSameDatabase(states.get(1), restore(new RestorePoint.AtOrBeforeTime(second.createdAt())), true);

        Manifest last = BackupCatalog.load(repository).manifest(ids.get(4));
        assertEquals(ids.get(0).toString(), last.chain());
        assertEquals(ids.get(3).toString(), last.parent());
        assertTrue(last.files().stream().noneMatch(f -> f.name().startsWith("logs")));
        Manifest dropped = BackupCatalog.load(repository).manifest(ids.get(3));
        assertTrue(dropped.removed().contains("logs.heap"), dropped.removed().toString());
    }

    @Test
    void incrementalsUploadOnlyChangedPagesAndChangedFiles() throws IOException {
        db.createTable("big", 200);
        db.createTable("small", 3);
        BackupResult full = backup();
        db.updatePages("big", 17, 150, 151);
        BackupResult incremental = backup();

        Manifest m = incremental.manifest();
        assertEquals(Manifest.INCREMENTAL, m.type());
        assertEquals(full.manifest().sourceLsn(), incremental.baseLsn());
        FileEntry big = entry(m, "big.heap");
        assertEquals(3, big.changedPages());
        assertEquals(2, big.sources().size());
        assertEquals(0, entry(m, "small.heap").changedPages());
        assertEquals(entry(full.manifest(), "small.heap").pageMap(), entry(m, "small.heap").pageMap(),
                "an unchanged heap re-uses the base's page map");
        assertEquals(entry(full.manifest(), "small.heap").sources(), entry(m, "small.heap").sources());
        // Three pages, their indices, headers, the new page map of big and whatever index files changed.
        long heapBytes = big.sources().get(0).contentLength(); // the pack itself; stored compressed (smaller)
        assertEquals(20 + 3 * (4 + 4096) + 12, heapBytes);
        assertTrue(big.sources().get(0).size() < heapBytes, big.sources().get(0).toString());
        assertTrue(m.stats().bytesUploaded() < 40_000, "uploaded " + m.stats().bytesUploaded());
        PowDbFixture.assertSameDatabase(db.dir(), restore(new RestorePoint.Latest()), true);
    }

    @Test
    void anIncrementalOfOnePercentUploadsAtMostATenthMoreThanTheChangedPages() throws IOException {
        db.createTable("big", 4000);
        backup();
        int[] changed = db.updateRandomPages("big", 40);
        Manifest m = backup().manifest();
        FileEntry big = entry(m, "big.heap");
        assertEquals(40, big.changedPages());
        assertEquals(1, big.mapDeltas().size(), "a delta of the page map, not a whole map");
        assertEquals(20 + 40 * 16 + 12, big.mapDeltas().get(0).size());
        long changedBytes = (long) changed.length * 4096;
        assertTrue(m.stats().bytesUploaded() <= changedBytes * 11 / 10, "uploaded " + m.stats().bytesUploaded()
                + " bytes for " + changedBytes + " bytes of changed pages");
        PowDbFixture.assertSameDatabase(db.dir(), restore(new RestorePoint.Latest()), true);
    }

    @Test
    void aLongChainOfMapDeltasRollsOverToAFullMapAndEveryPointRestores() throws IOException {
        db.createTable("t", 300);
        db.createTable("u", 30);
        backup();
        List<Path> states = new ArrayList<>();
        List<BackupId> ids = new ArrayList<>();
        for (int i = 0; i < HeapCapture.MAX_MAP_DELTAS + 3; i++) {
            db.updateRandomPages("t", 2);
            if (i == 5) {
                db.truncateTable("u", 10); // the page count shrinks: a delta with the new count
            }
            if (i == 9) {
                db.appendPages("u", 25); // and grows: the new pages are all in the delta
            }
            ids.add(backup().manifest().backupId());
            states.add(snapshot("chain-" + i));
        }
        BackupCatalog catalog = BackupCatalog.load(repository);
        List<Integer> deltaCounts = new ArrayList<>();
        for (BackupId id : ids) {
            deltaCounts.add(entry(catalog.manifest(id), "t.heap").mapDeltas().size());
        }
        assertEquals(HeapCapture.MAX_MAP_DELTAS, (int) java.util.Collections.max(deltaCounts), deltaCounts.toString());
        assertTrue(deltaCounts.contains(0) && deltaCounts.get(deltaCounts.size() - 1) < HeapCapture.MAX_MAP_DELTAS,
                "after " + HeapCapture.MAX_MAP_DELTAS + " deltas a full map is written again: " + deltaCounts);
        for (int i = 0; i < ids.size(); i++) {
            PowDbFixture.assertSameDatabase(states.get(i), restore(new RestorePoint.ById(ids.get(i))), true);
        }
        assertTrue(new io.powdb.backup.verify.VerifyService(repository).verify(java.util.Optional.empty(),
                tmp.resolve("verify"), (p, d, t) -> { }).ok());
    }

    @Test
    void aBackupWithNoChangeIsValidAndTiny() throws IOException {
        db.createTable("t", 50);
        backup();
        BackupResult none = backup();
        assertEquals(0, none.manifest().stats().bytesUploaded());
        assertEquals(0, none.manifest().stats().objectsUploaded());
        RestoreResult result = restore(new RestorePoint.Latest(), newTarget());
        assertEquals(none.manifest().id(), result.manifest().id());
        PowDbFixture.assertSameDatabase(db.dir(), result.target(), true);
    }

    @Test
    void aPageAlignedIndexSurvivesIncrementalsIntact() throws IOException {
        db.createTable("t", 8);
        db.rewriteIndex("t", true);
        assertEquals(0, Files.size(db.indexPath("t")) % 4096);
        backup();
        db.updatePages("t", 2);
        db.rewriteIndex("t", true);
        BackupResult second = backup();
        assertTrue(Files.size(db.indexPath("t")) >= 4096);
        FileEntry idx = entry(second.manifest(), db.indexPath("t").getFileName().toString());
        assertEquals("whole", idx.kind());
        PowDbFixture.assertSameDatabase(db.dir(), restore(new RestorePoint.Latest()), true);
    }

    @Test
    void aDroppedAndRecreatedSmallerTableRestoresAtItsNewSize() throws IOException {
        db.createTable("t", 40);
        backup();
        db.dropTable("t");
        db.createTable("t", 6);
        backup();
        Path restored = restore(new RestorePoint.Latest());
        assertEquals(6 * 4096L, Files.size(restored.resolve("t.heap")));
        PowDbFixture.assertSameDatabase(db.dir(), restored, true);
    }

    @Test
    void aHeapThatShrinksAndGrowsAgainKeepsNoStalePages() throws IOException {
        db.createTable("t", 20);
        backup();
        db.truncateTable("t", 5);
        backup();
        db.appendPages("t", 10);
        backup();
        PowDbFixture.assertSameDatabase(db.dir(), restore(new RestorePoint.Latest()), true);
    }

    @Test
    void fullBackupOnRequestStartsANewChain() throws IOException {
        db.createTable("t", 5);
        BackupResult first = backup();
        db.updatePages("t", 1);
        BackupResult full = fullBackup();
        assertEquals(Manifest.FULL, full.manifest().type());
        assertEquals(full.manifest().id(), full.manifest().chain());
        assertFalse(full.manifest().chain().equals(first.manifest().chain()));
        assertEquals(first.manifest().history(), full.manifest().history(), "same history, new chain");
        PowDbFixture.assertSameDatabase(db.dir(), restore(new RestorePoint.Latest()), true);
    }

    static FileEntry entry(Manifest manifest, String name) {
        return manifest.files().stream().filter(f -> f.name().equals(name)).findFirst().orElseThrow();
    }
}
