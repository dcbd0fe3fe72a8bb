package io.powdb.backup.backup;

import io.powdb.backup.repo.Manifest;
import io.powdb.backup.repo.RestorePoint;
import io.powdb.backup.testing.BackupTestSupport;
import io.powdb.backup.testing.PowDbFixture;
import io.powdb.backup.testing.WalRecord;
import io.powdb.backup.testing.WalWriter;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.LongStream;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Backups taken while a writer changes the database as a server does (WAL first, then pages; checkpoints
 * that truncate the WAL at random moments). Every backup, restored and recovered by PowDB's redo rule (the
 * fixture's model of it), must equal the writer's state at that backup's LSN: the first checkpointed state
 * with every committed record up to that LSN replayed onto it.
 *
 * <p>Seeds: 4 in the default build; {@code -Dpowdb.live.seeds=N} runs more.
 */
class LiveBackupConcurrencyTest extends BackupTestSupport {

    static LongStream seeds() {
        return LongStream.rangeClosed(1, Long.getLong("powdb.live.seeds", 4));
    }

    @ParameterizedTest
    @MethodSource("seeds")
    @Timeout(120)
    void everyBackupTakenWhileAWriterRunsRecoversToTheWritersStateAtItsLsn(long seed) throws Exception {
        db = PowDbFixture.create(tmp.resolve("live-" + seed), PowDbFixture.Version.V0_5, seed);
        db.createTable("a", 48);
        db.createTable("b", 48);
        db.checkpoint();
        Path initial = snapshot("initial-" + seed);

        // Every WAL record the writer ever wrote, kept before each checkpoint truncates them away.
        List<WalRecord> archive = new ArrayList<>();
        AtomicBoolean stop = new AtomicBoolean();
        AtomicReference<Throwable> writerFailure = new AtomicReference<>();
        Random random = new Random(seed);
        Thread writer = new Thread(() -> {
            try {
                for (int tx = 0; !stop.get(); tx++) {
                    db.updateRandomPages(random.nextBoolean() ? "a" : "b", 1 + random.nextInt(3));
                    if (random.nextInt(40) == 0) {
                        synchronized (db) {
                            archive.addAll(db.walRecords());
                            db.checkpoint();
                        }
                    }
                    Thread.sleep(random.nextInt(3));
                }
            } catch (Throwable t) {
                writerFailure.set(t);
            }
        }, "powdb-writer");
        writer.start();
        List<Manifest> backups = new ArrayList<>();
        Map<String, List<String>> warnings = new java.util.HashMap<>();
        try {
            for (int i = 0; i < 4; i++) {
                BackupResult result = new BackupService(repository).backup(db.dir(), options());
                backups.add(result.manifest());
                warnings.put(result.manifest().id(), result.warnings());
                Thread.sleep(random.nextInt(20));
            }
        } finally {
            stop.set(true);
            writer.join();
        }
        assertNull(writerFailure.get(), "the writer failed");
        synchronized (db) {
            archive.addAll(db.walRecords());
        }

        for (Manifest backup : backups) {
            Path expected = stateAt(initial, archive, backup.sourceLsn(), backup.id());
            Path restored = restore(new RestorePoint.ById(backup.backupId()));
            List<WalRecord> restoredWal = WalRecord.readAll(restored.resolve(PowDbFixture.WAL));
            Path actual = recovered(restored, "actual-" + backup.id());
            try {
                PowDbFixture.assertSameDatabase(expected, actual, true);
            } catch (AssertionError e) {
                throw new AssertionError(e.getMessage() + "\nbackup " + backup.id() + " " + backup.consistency()
                        + " max_page_lsn " + backup.maxPageLsn() + " wal_end_lsn " + backup.walEndLsn()
                        + "; restored WAL LSNs " + (restoredWal.isEmpty() ? "none"
                        : restoredWal.get(0).lsn() + ".." + restoredWal.get(restoredWal.size() - 1).lsn()
                        + " (" + restoredWal.size() + " records)") + "; warnings " + warnings.get(backup.id()), e);
            }
        }
        assertTrue(backups.stream().anyMatch(m -> Manifest.CRASH_CONSISTENT.equals(m.consistency())),
                "at least one backup was taken while the WAL held records");
    }

    /** The writer's state at {@code lsn}: the initial copy with every transaction up to it replayed by redo. */
    private Path stateAt(Path initial, List<WalRecord> archive, long lsn, String name) throws IOException {
        Path dir = PowDbFixture.copyDatabase(initial, tmp.resolve("expected").resolve(name));
        ByteArrayOutputStream wal = new ByteArrayOutputStream();
        wal.write(WalWriter.fileHeader());
        // Transactions whose changes are at or below the LSN. A quiescent copy's LSN is its largest page LSN,
        // and the commit record after a transaction's last change stamps no page: the commit comes along.
        java.util.Set<Long> transactions = new java.util.HashSet<>();
        for (WalRecord record : archive) {
            if (Long.compareUnsigned(record.lsn(), lsn) <= 0) {
                transactions.add(record.txId());
            }
        }
        for (WalRecord record : archive) {
            if (transactions.contains(record.txId())) {
                wal.write(WalWriter.encode(record.txId(), record.type(), record.lsn(), record.payload()));
            }
        }
        Files.write(dir.resolve(PowDbFixture.WAL), wal.toByteArray());
        PowDbFixture.open(dir, PowDbFixture.Version.V0_5, 1);
        return dir;
    }

}
