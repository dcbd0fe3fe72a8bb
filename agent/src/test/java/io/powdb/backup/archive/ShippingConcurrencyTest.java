package io.powdb.backup.archive;

import io.powdb.backup.backup.BackupService;
import io.powdb.backup.repo.Manifest;
import io.powdb.backup.repo.RepositoryException;
import io.powdb.backup.repo.RestorePoint;
import io.powdb.backup.restore.RestoreResult;
import io.powdb.backup.testing.BackupTestSupport;
import io.powdb.backup.testing.PowDbFixture;
import io.powdb.backup.testing.WalRecord;
import io.powdb.backup.testing.WalWriter;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.LongStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A writer changes the database as a server does: WAL records and commit first, the pages kept dirty and
 * written later in any order, checkpoints at random moments that flush them and truncate wal.log. Meanwhile
 * the shipper follows the WAL and backups (full, then incrementals) run. Afterwards, for commits sampled over
 * the whole run, a restore to that LSN, recovered by PowDB's redo rule, must equal the writer's state at that
 * commit; or be refused because the WAL there was never shipped (a checkpoint between two polls), which the
 * shipper must have reported as a timeline break. (Such a point becomes restorable again with the first backup
 * that joins the new timeline: the agent takes one when the shipper reports a break.)
 *
 * <p>Seeds: 3 in the default build; {@code -Dpowdb.pitr.seeds=N} runs more.
 */
class ShippingConcurrencyTest extends BackupTestSupport {
    private static final int SAMPLES = 20;

    static LongStream seeds() {
        return LongStream.rangeClosed(1, Long.getLong("powdb.pitr.seeds", 3));
    }

    @ParameterizedTest
    @MethodSource("seeds")
    @Timeout(180)
    void everyShippedCommitRestoresToTheWritersStateAtIt(long seed) throws Exception {
        PowDbFixture.Version version = seed % 2 == 0 ? PowDbFixture.Version.V0_4 : PowDbFixture.Version.V0_5;
        db = PowDbFixture.create(tmp.resolve("live-" + seed), version, seed);
        db.createTable("a", 40);
        db.createTable("b", 40);
        db.checkpoint();
        Path initial = snapshot("initial-" + seed);
        db.deferPageWrites(true);

        List<WalRecord> archive = Collections.synchronizedList(new ArrayList<>());
        AtomicBoolean stop = new AtomicBoolean();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Random random = new Random(seed);
        Thread writer = new Thread(() -> {
            Random r = new Random(seed * 31);
            try {
                while (!stop.get()) {
                    db.updateRandomPages(r.nextBoolean() ? "a" : "b", 1 + r.nextInt(3));
                    db.flushSomeDirtyPages(r.nextInt(4));
                    if (r.nextInt(120) == 0) {
                        synchronized (db) {
                            archive.addAll(db.walRecords());
                            db.checkpoint();
                        }
                    }
                    Thread.sleep(r.nextInt(3));
                }
            } catch (Throwable t) {
                failure.set(t);
            }
        }, "powdb-writer");
        WalShipper shipper = new WalShipper(repository, db.dir(), tmp.resolve("ship"), Clock.systemUTC(), 64 << 10);
        List<String> breaks = Collections.synchronizedList(new ArrayList<>());
        Thread shipping = new Thread(() -> {
            Random r = new Random(seed * 17);
            try {
                while (!stop.get()) {
                    breaks.addAll(shipper.shipOnce().breaks());
                    Thread.sleep(r.nextInt(3));
                }
            } catch (Throwable t) {
                failure.compareAndSet(null, t);
            }
        }, "powdb-shipper");
        writer.start();
        shipping.start();
        List<Manifest> backups = new ArrayList<>();
        try {
            Thread.sleep(20 + random.nextInt(30));
            for (int i = 0; i < 4; i++) {
                backups.add(new BackupService(repository).backup(db.dir(), options()).manifest());
                Thread.sleep(random.nextInt(40));
            }
            Thread.sleep(20);
        } finally {
            stop.set(true);
            writer.join();
            shipping.join();
        }
        assertNull(failure.get(), () -> "a thread failed: " + failure.get());
        // One more transaction: if the writer's last act was a checkpoint that took records the shipper had not
        // copied yet, only the next generation's first LSN can show it (and the shipper then reports the break).
        db.updateRandomPages("a", 1);
        breaks.addAll(shipper.shipOnce().breaks());
        archive.addAll(db.walRecords());

        List<Long> commits = archive.stream().filter(r -> r.type() == WalWriter.COMMIT).map(WalRecord::lsn).toList();
        long first = backups.get(0).sourceLsn();
        List<Long> after = commits.stream().filter(c -> Long.compareUnsigned(c, first) >= 0).toList();
        assertTrue(after.size() > 10, "the writer committed " + after.size() + " transactions after the first backup");
        TreeSet<Long> sample = new TreeSet<>();
        sample.add(after.get(0));
        sample.add(after.get(after.size() - 1));
        for (Manifest b : backups) {
            after.stream().filter(c -> Long.compareUnsigned(c, b.sourceLsn()) >= 0).findFirst().ifPresent(sample::add);
        }
        while (sample.size() < Math.min(SAMPLES, after.size())) {
            sample.add(after.get(random.nextInt(after.size())));
        }

        int restored = 0;
        int withWal = 0;
        List<String> refused = new ArrayList<>();
        for (long lsn : sample) {
            Path target = newTarget();
            RestoreResult result;
            try {
                result = restore(new RestorePoint.AtOrBeforeLsn(lsn), target);
            } catch (RepositoryException e) {
                assertFalse(Files.exists(target));
                refused.add(lsn + ": " + e.getMessage() + " [plan: " + new PointInTimePlanner(io.powdb.backup.repo.BackupCatalog.load(repository), WalArchive.load(repository)).describe(new RestorePoint.AtOrBeforeLsn(lsn)) + "]");
                continue;
            }
            Path expected = stateAtCommit(initial, archive, lsn, "expected-" + lsn);
            Path actual = recovered(target, "actual-" + lsn);
            try {
                PowDbFixture.assertSameDatabase(expected, actual, true);
            } catch (AssertionError e) {
                throw new AssertionError("seed " + seed + ", restore to LSN " + lsn + " from backup " + result.manifest().id()
                        + " (" + result.manifest().consistency() + ", anchor " + result.manifest().walAnchor() + ") with "
                        + result.walRecords() + " WAL records of timeline " + result.walTimeline() + ", reached "
                        + result.reachedLsn() + "; breaks " + breaks + ": " + e.getMessage(), e);
            }
            assertEquals(lsn, result.reachedLsn());
            restored++;
            withWal += result.walRecords() > 0 ? 1 : 0;
        }
        if (!refused.isEmpty()) {
            System.out.println("seed " + seed + ": " + refused.size() + " of " + sample.size() + " points refused after "
                    + "timeline breaks " + breaks + "; backups " + backups.stream().map(b -> b.sourceLsn() + "/"
                    + b.consistency() + "/wal_end " + b.walEndLsn() + "/" + b.walAnchor()).toList() + "; timelines "
                    + WalArchive.load(repository).timelines().stream().map(t -> t.id() + " " + t.first().orElseThrow()
                    .firstLsn() + ".." + t.last().orElseThrow().lastLsn() + " gens " + t.generations().size()).toList());
        }
        // A point is refused only when the shipper lost sight of records (a checkpoint between two polls took
        // them) and no later backup joins the timeline that follows: the shipper must have said so.
        if (breaks.isEmpty()) {
            assertEquals(List.of(), refused, "every point is covered when the shipper saw every record");
            assertTrue(withWal > 0, "some restores replayed shipped WAL");
        }
        for (String why : refused) {
            assertTrue(why.contains("nothing is shipped after") || why.contains("WAL is missing")
                    || why.contains("onward is missing"), why);
        }
    }
}
