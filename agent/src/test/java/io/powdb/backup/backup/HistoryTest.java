package io.powdb.backup.backup;

import io.powdb.backup.repo.BackupCatalog;
import io.powdb.backup.repo.BackupId;
import io.powdb.backup.repo.FileEntry;
import io.powdb.backup.repo.Manifest;
import io.powdb.backup.repo.RepositoryException;
import io.powdb.backup.repo.RestorePoint;
import io.powdb.backup.testing.BackupTestSupport;
import io.powdb.backup.testing.PowDbFixture;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashSet;
import java.util.List;
import java.util.zip.CRC32;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Change detection that cannot miss a change, and two histories in one repository: a database restored to
 * an earlier point and written again reuses LSNs that the repository already holds.
 */
class HistoryTest extends BackupTestSupport {

    @Test
    void aDatabaseRestoredToAnEarlierPointAndWrittenAgainStartsANewHistory() throws IOException {
        db.createTable("t", 20);
        db.createTable("u", 10);
        BackupId first = backup().manifest().backupId();
        db.updatePages("t", 1, 2, 3, 4, 5, 6);
        db.updatePages("u", 1, 2);
        backup();
        db.updatePages("t", 7, 8, 9, 10, 11, 12, 13, 14);
        Manifest oldLatest = backup().manifest();

        // Disaster recovery to the first backup, then the server runs again and writes new data: its LSNs
        // continue from the restored pages' largest LSN, below what the repository already holds.
        Path restored = restore(new RestorePoint.ById(first));
        db = PowDbFixture.open(restored, PowDbFixture.Version.V0_5, 777);
        db.updatePages("t", 2);
        db.updatePages("u", 5);
        assertTrue(Long.compareUnsigned(db.lastLsn(), oldLatest.sourceLsn()) < 0, "the new history reuses LSNs");
        BackupResult forked = backup();
        Path forkedState = snapshot("forked");

        Manifest m = forked.manifest();
        assertNotEquals(oldLatest.history(), m.history(), "a new history");
        assertEquals(oldLatest.id(), m.forkedFrom());
        assertTrue(forked.warnings().stream().anyMatch(w -> w.contains("new history")), forked.warnings().toString());
        // Pages 3..14 of t went back to their older content with older LSNs: every one is in the backup.
        FileEntry t = BackupRestoreRoundTripTest.entry(m, "t.heap");
        assertTrue(t.changedPages() >= 13, "changed pages " + t.changedPages());
        PowDbFixture.assertSameDatabase(forkedState, restore(new RestorePoint.Latest()), true);

        // The new history goes on; both histories now hold backups at overlapping LSNs.
        db.updatePages("t", 15);
        Manifest next = backup().manifest();
        assertEquals(m.history(), next.history());
        assertNull(next.forkedFrom());
        PowDbFixture.assertSameDatabase(snapshot("next"), restore(new RestorePoint.Latest()), true);

        // --to-lsn resolves within the newest history: the old history's backup at a higher or equal LSN
        // is not taken, even though its LSN is closer.
        PowDbFixture.assertSameDatabase(forkedState, restore(new RestorePoint.AtOrBeforeLsn(m.sourceLsn())), true);
        Manifest resolved = BackupCatalog.load(repository).resolve(new RestorePoint.AtOrBeforeLsn(oldLatest.sourceLsn()));
        assertEquals(next.history(), resolved.history());
        // Below the newest history's first backup there is nothing in that history: a clear refusal.
        RepositoryException e = assertThrows(RepositoryException.class,
                () -> BackupCatalog.load(repository).resolve(new RestorePoint.AtOrBeforeLsn(0)));
        assertTrue(e.getMessage().contains("newest history") && e.getMessage().contains("--backup"), e.getMessage());

        // Ids and keys stay unique; nothing was overwritten.
        List<BackupId> ids = BackupCatalog.load(repository).ids();
        assertEquals(ids.size(), new HashSet<>(ids).size());
        assertEquals(5, ids.size());
    }

    @Test
    void aPageFlushedLateWithALowerLsnIsStillBackedUp() throws IOException {
        db.createTable("t", 10);
        backup();
        db.updatePages("t", 4);
        Manifest second = backup().manifest();
        // Page 6 changes but carries an LSN below the base's (a dirty page flushed late, or a restarted
        // counter): comparing LSNs against the base's LSN alone would miss it.
        Path heap = db.heapPath("t");
        rewritePage(heap, 6, second.sourceLsn() - 3);
        Manifest third = backup().manifest();
        assertEquals(1, BackupRestoreRoundTripTest.entry(third, "t.heap").changedPages());
        PowDbFixture.assertSameDatabase(db.dir(), restore(new RestorePoint.Latest()), true);
    }

    @Test
    void aPageWhoseContentChangedUnderTheSameLsnIsStillBackedUp() throws IOException {
        db.createTable("t", 10);
        backup();
        long lsn = PowDbFixture.pageLsn(db.heapPath("t"), 3);
        rewritePage(db.heapPath("t"), 3, lsn);
        Manifest m = backup().manifest();
        assertEquals(1, BackupRestoreRoundTripTest.entry(m, "t.heap").changedPages());
        PowDbFixture.assertSameDatabase(db.dir(), restore(new RestorePoint.Latest()), true);
    }

    /** Changes row bytes of a page and sets its LSN, fixing the CRC when the page has one. */
    static void rewritePage(Path heap, int page, long lsn) throws IOException {
        try (FileChannel channel = FileChannel.open(heap, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer buffer = ByteBuffer.allocate(4096).order(ByteOrder.LITTLE_ENDIAN);
            channel.read(buffer, page * 4096L);
            byte[] bytes = buffer.array();
            bytes[100] ^= 0x33;
            buffer.putLong(8, lsn);
            if ((bytes[5] & 1) != 0) {
                buffer.putInt(16, 0);
                CRC32 crc = new CRC32();
                crc.update(bytes);
                buffer.putInt(16, (int) crc.getValue());
            }
            buffer.clear();
            channel.write(buffer, page * 4096L);
        }
    }
}
