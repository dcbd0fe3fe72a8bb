package io.powdb.backup.archive;

import io.powdb.backup.backup.BackupResult;
import io.powdb.backup.backup.BackupService;
import io.powdb.backup.repo.IntegrityException;
import io.powdb.backup.repo.Manifest;
import io.powdb.backup.repo.RepositoryException;
import io.powdb.backup.repo.RestorePoint;
import io.powdb.backup.restore.RestoreOptions;
import io.powdb.backup.restore.RestoreResult;
import io.powdb.backup.restore.RestoreService;
import io.powdb.backup.testing.BackupTestSupport;
import io.powdb.backup.testing.PowDbFixture;
import io.powdb.backup.testing.WalRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * WAL shipping and restore to any LSN, deterministically: the shipper and backups run at chosen moments of a
 * fixture's life, and every restore is compared with the writer's state at that LSN, as PowDB's redo would
 * recover it.
 */
class PointInTimeRestoreTest extends BackupTestSupport {
    private WalShipper shipper;

    private void start(PowDbFixture.Version version) throws IOException {
        db = PowDbFixture.create(tmp.resolve("db-" + version), version, 77);
        createTables();
        shipper = new WalShipper(repository, db.dir(), tmp.resolve("ship"), Clock.systemUTC(), 1 << 20);
    }

    /** {@code n} transactions, then the shipper's poll and upload. */
    private WalShipper.Report ship(int n) throws IOException {
        transactions(n);
        return shipper.shipOnce();
    }

    private BackupResult liveBackup() throws IOException {
        return new BackupService(repository).backup(db.dir(), options());
    }

    private RestoreResult restoreTo(long lsn, Path target) throws IOException {
        return restore(new RestorePoint.AtOrBeforeLsn(lsn), target);
    }

    private void assertRestoresExactly(Path initial, List<WalRecord> records, long lsn) throws IOException {
        Path target = newTarget();
        RestoreResult result = restoreTo(lsn, target);
        Path actual = recovered(target, "actual-" + lsn);
        Path expected = stateAtCommit(initial, records, lsn, "expected-" + lsn);
        try {
            PowDbFixture.assertSameDatabase(expected, actual, true);
        } catch (AssertionError e) {
            throw new AssertionError("restore to LSN " + lsn + " (backup " + result.manifest().id() + ", "
                    + result.walRecords() + " WAL records, reached " + result.reachedLsn() + "): " + e.getMessage(), e);
        }
    }

    /**
     * {@link #assertRestoresExactly} for every commit in {@code records} from LSN {@code from} on and below
     * {@code below} (unsigned: -1 is no limit); returns how many.
     */
    private int assertRestoresEveryCommit(Path initial, List<WalRecord> records, long from, long below)
            throws IOException {
        int checked = 0;
        for (long c : commits(records)) {
            if (Long.compareUnsigned(c, from) >= 0 && Long.compareUnsigned(c, below) < 0) {
                assertRestoresExactly(initial, records, c);
                checked++;
            }
        }
        return checked;
    }

    @ParameterizedTest
    @EnumSource(PowDbFixture.Version.class)
    void everyCommitAfterACrashConsistentBackupIsReachableAcrossCheckpoints(PowDbFixture.Version version)
            throws IOException {
        start(version);
        Path initial = snapshot("initial");
        assertEquals(1, ship(3).segments());
        Manifest backup = liveBackup().manifest();
        assertEquals(Manifest.CRASH_CONSISTENT, backup.consistency());
        assertNotNull(backup.walAnchor());
        ship(4);
        checkpoint();
        WalShipper.Report report = ship(3);
        assertTrue(report.breaks().isEmpty(), report.breaks().toString());
        ship(2);

        List<WalRecord> records = allRecords();
        List<Long> commits = commits(records);
        int checked = assertRestoresEveryCommit(initial, records, backup.sourceLsn(), -1);
        assertTrue(checked >= 9, checked + " points checked");
        // An LSN that is no commit restores to the last commit below it.
        long last = commits.get(commits.size() - 1);
        long previous = commits.get(commits.size() - 2);
        Path target = newTarget();
        RestoreResult result = restoreTo(last - 1, target);
        assertEquals(previous, result.reachedLsn());
        assertNotNull(result.walTimeline());
        PowDbFixture.assertSameDatabase(stateAtCommit(initial, records, previous, "prev"), recovered(target, "prev"), true);

        // Past the last shipped commit nothing is known: refused, nothing written.
        Path beyond = newTarget();
        RepositoryException e = assertThrows(RepositoryException.class, () -> restoreTo(last + 10, beyond));
        assertContains(e.getMessage(), "nothing is shipped after LSN " + last, "--to-lsn " + last);
        assertFalse(Files.exists(beyond));
    }

    @Test
    void aBackupOfACheckpointedMomentJoinsTheTimelineAtTheNextGeneration() throws Exception {
        start(PowDbFixture.Version.V0_5);
        ship(2);
        checkpoint();
        shipper.shipOnce(); // sees the truncation
        Thread.sleep(5);
        Path initial = snapshot("checkpointed");
        Manifest backup = liveBackup().manifest();
        assertEquals(Manifest.QUIESCENT, backup.consistency());
        Thread.sleep(5);
        assertEquals(1, ship(4).segments());
        List<WalRecord> records = db.walRecords();
        assertRestoresEveryCommit(initial, records, 0, -1);
    }

    @Test
    void walTruncatedBetweenShipmentsIsAGapThatIsNamedAndNeverBridged() throws Exception {
        start(PowDbFixture.Version.V0_5);
        Path initial = snapshot("initial");
        ship(2);
        Manifest first = liveBackup().manifest();
        ship(2);
        long shipped = commits(db.walRecords()).get(3);
        // Written and checkpointed away between two polls: the shipper never sees these records.
        transactions(2);
        long lost = commits(db.walRecords()).get(5);
        checkpoint();
        WalShipper.Report report = ship(2);
        assertEquals(1, report.breaks().size(), report.breaks().toString());
        assertContains(report.breaks().get(0), "LSN_GAP");
        Thread.sleep(5);
        Manifest second = liveBackup().manifest();
        ship(2);
        List<WalRecord> records = allRecords();

        assertRestoresExactly(initial, records, shipped);
        Path target = newTarget();
        RepositoryException e = assertThrows(RepositoryException.class, () -> restoreTo(lost, target));
        assertContains(e.getMessage(), "backup " + first.id(), "nothing is shipped after LSN " + shipped,
                "--to-lsn " + shipped);
        assertFalse(Files.exists(target));
        // After the gap, the next backup anchors the new timeline.
        assertRestoresEveryCommit(initial, records, second.sourceLsn(), -1);
    }

    @Test
    void aRestartThatReusesLsnsStartsANewTimelineAndEachLifeRestoresToItsOwnState() throws Exception {
        start(PowDbFixture.Version.V0_4);
        Path initial = snapshot("initial");
        ship(2);
        Manifest before = liveBackup().manifest();
        ship(3);
        List<WalRecord> firstLife = db.walRecords();
        long lastCommit = commits(firstLife).get(commits(firstLife).size() - 1);
        // A graceful restart: recovery checkpoints, and 0.4.x sets the next LSN above the largest PAGE LSN,
        // so the last commit's LSN (which stamps no page) is handed out again.
        db = PowDbFixture.open(db.dir(), PowDbFixture.Version.V0_4, 78);
        assertEquals(lastCommit, db.lastLsn() + 1, "the restart reuses the last commit's LSN");
        Path restarted = snapshot("restarted");
        Thread.sleep(5);
        WalShipper.Report report = ship(2);
        assertEquals(1, report.breaks().size(), report.breaks().toString());
        assertContains(report.breaks().get(0), "LSN_WENT_BACK");
        Manifest after = liveBackup().manifest();
        ship(3);
        List<WalRecord> secondLife = db.walRecords();

        assertRestoresEveryCommit(initial, firstLife, before.sourceLsn(), after.sourceLsn());
        assertRestoresEveryCommit(restarted, secondLife, after.sourceLsn(), -1);
        assertEquals(2, WalArchive.load(repository).timelines().size());
    }

    @Test
    void aDamagedOrMissingSegmentIsNamedAndNothingIsRestored() throws Exception {
        start(PowDbFixture.Version.V0_5);
        ship(2);
        liveBackup();
        ship(2);
        ship(2);
        List<Long> commits = commits(db.walRecords());
        long last = commits.get(commits.size() - 1);
        List<WalSegment> segments = WalArchive.load(repository).timelines().get(0).generations().get(0).segments();
        assertEquals(3, segments.size());

        Path middle = tmp.resolve("repo").resolve(segments.get(1).key());
        byte[] good = Files.readAllBytes(middle);
        byte[] bad = good.clone();
        bad[bad.length / 2] ^= 0x10;
        Files.write(middle, bad);
        Path target = newTarget();
        IntegrityException damaged = assertThrows(IntegrityException.class, () -> restoreTo(last, target));
        String key = repository.key(segments.get(1).key());
        assertContains(damaged.getMessage(), "WAL segment " + key + " is damaged (its BLAKE3 does not match the chain "
                + "in its name) or does not follow the segment before it");
        assertFalse(Files.exists(target));
        try (var entries = Files.list(tmp)) {
            assertTrue(entries.noneMatch(p -> p.getFileName().toString().contains("powdb-restore")));
        }

        Files.write(middle, java.util.Arrays.copyOf(good, good.length - 1));
        IntegrityException shorter = assertThrows(IntegrityException.class, () -> restoreTo(last, target));
        assertContains(shorter.getMessage(), "WAL segment " + key + " is damaged: " + (good.length - 1)
                + " bytes instead of " + good.length);
        assertFalse(Files.exists(target));

        Files.delete(middle);
        RepositoryException missing = assertThrows(RepositoryException.class, () -> restoreTo(last, target));
        assertContains(missing.getMessage(), "WAL is missing between LSN " + segments.get(0).lastLsn()
                + " and LSN " + segments.get(2).firstLsn());
        assertFalse(Files.exists(target));
        Files.write(middle, good);
        restoreTo(last, target);
    }

    @Test
    void verifyChecksEveryShippedSegmentAndNamesDamageAndHoles() throws Exception {
        start(PowDbFixture.Version.V0_4);
        ship(2);
        liveBackup();
        for (int i = 0; i < 3; i++) {
            ship(2);
        }
        io.powdb.backup.verify.VerifyService verify = new io.powdb.backup.verify.VerifyService(repository);
        Path scratch = tmp.resolve("verify");
        var ok = verify.verify(java.util.Optional.empty(), scratch, io.powdb.backup.progress.ProgressListener.NONE);
        assertTrue(ok.ok(), ok.failures().toString());
        List<WalSegment> segments = WalArchive.load(repository).timelines().get(0).generations().get(0).segments();
        assertEquals(4, segments.size());

        Path second = tmp.resolve("repo").resolve(segments.get(1).key());
        byte[] bytes = Files.readAllBytes(second);
        bytes[30] ^= 1;
        Files.write(second, bytes);
        var damaged = verify.verify(java.util.Optional.empty(), scratch, io.powdb.backup.progress.ProgressListener.NONE);
        assertFalse(damaged.ok());
        String key = repository.key(segments.get(1).key());
        assertContains(String.join("\n", damaged.failures()), key + " is damaged: its BLAKE3 does not match the chain "
                + "in its name");

        Files.write(second, java.util.Arrays.copyOf(bytes, bytes.length - 1));
        var shorter = verify.verify(java.util.Optional.empty(), scratch, io.powdb.backup.progress.ProgressListener.NONE);
        assertContains(String.join("\n", shorter.failures()), key + " is damaged: its BLAKE3 does not match the chain "
                + "in its name");

        Files.delete(second);
        var holed = verify.verify(java.util.Optional.empty(), scratch, io.powdb.backup.progress.ProgressListener.NONE);
        assertFalse(holed.ok());
        assertContains(String.join("\n", holed.failures()), "bytes " + segments.get(0).endOffset() + ".."
                + segments.get(2).startOffset() + " are missing");
    }

    @Test
    void timeTargetsUseTheShippingTimesAndTheHeartbeat() throws Exception {
        start(PowDbFixture.Version.V0_5);
        Path initial = snapshot("initial");
        ship(2);
        Manifest backup = liveBackup().manifest();
        Thread.sleep(5);
        ship(2);
        List<WalRecord> records = db.walRecords();
        WalSegment second = WalArchive.load(repository).timelines().get(0).last().orElseThrow();
        Thread.sleep(5);
        java.time.Instant later = java.time.Instant.now();
        Path target = newTarget();
        RepositoryException e = assertThrows(RepositoryException.class,
                () -> restore(new RestorePoint.AtOrBeforeTime(later), target));
        assertContains(e.getMessage(), "nothing is shipped after LSN " + second.lastLsn());
        // The shipper polls again, finds nothing new, and says so.
        shipper.shipOnce();
        shipper.writeHeartbeat();
        RestoreResult result = restore(new RestorePoint.AtOrBeforeTime(later), target);
        assertEquals(second.lastLsn(), result.reachedLsn());
        PowDbFixture.assertSameDatabase(stateAtCommit(initial, records, second.lastLsn(), "t"), recovered(target, "t"), true);
        // Between the backup and the second segment: the backup alone.
        RestoreResult early = restore(new RestorePoint.AtOrBeforeTime(second.shippedAt().minusMillis(1)), newTarget());
        assertEquals(backup.id(), early.manifest().id());
        assertEquals(0, early.walRecords());
    }

    @Test
    void restoreCanBeHeldToOneTimeline() throws Exception {
        start(PowDbFixture.Version.V0_5);
        ship(2);
        liveBackup();
        ship(2);
        long last = commits(db.walRecords()).get(3);
        String timeline = WalArchive.load(repository).timelines().get(0).id();
        RestoreResult held = new RestoreService(repository).restore(new RestorePoint.AtOrBeforeLsn(last), newTarget(),
                RestoreOptions.defaults().withTimeline(timeline));
        assertEquals(timeline, held.walTimeline());
        RepositoryException e = assertThrows(RepositoryException.class, () -> new RestoreService(repository).restore(
                new RestorePoint.AtOrBeforeLsn(last), newTarget(),
                RestoreOptions.defaults().withTimeline("20200101T000000000Z-000000")));
        assertContains(e.getMessage(), "timeline 20200101T000000000Z-000000");
    }

    private static void assertContains(String text, String... parts) {
        for (String part : parts) {
            assertTrue(text.contains(part), "expected '" + part + "' in: " + text);
        }
    }
}
