package io.powdb.backup.cli.crash;

import io.powdb.backup.archive.WalArchive;
import io.powdb.backup.archive.WalSegment;
import io.powdb.backup.progress.ProgressListener;
import io.powdb.backup.repo.BackupCatalog;
import io.powdb.backup.repo.RepositoryException;
import io.powdb.backup.repo.RestorePoint;
import io.powdb.backup.restore.RestoreOptions;
import io.powdb.backup.restore.RestoreResult;
import io.powdb.backup.restore.RestoreService;
import io.powdb.backup.testing.PowDbFixture;
import io.powdb.backup.testing.WalRecord;
import io.powdb.backup.testing.WalWriter;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.LongStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * {@code ship} following a running database, killed with SIGKILL at a random moment, started again (once the killed
 * one's lease has lapsed) while the writer keeps writing, then stopped gracefully. Afterwards every shipped segment
 * verifies, and every commit that was shipped (before the kill, or after the restart) restores with {@code restore
 * --to-lsn} (those after the backup the run took before the shipper started) to exactly the writer's state at that commit, as PowDB's recovery on open makes of it. A restarted
 * shipper starts a new timeline and ships the current WAL generation again from its start, so with no checkpoint
 * since the backup, both timelines join it. In the runs with checkpoints, a point may be refused, with the missing
 * range named, where no backup joins a timeline (a checkpoint between the backup and a shipper's start, or between
 * two polls); it is never restored wrong.
 */
class KillDuringShipIT extends CrashTestBase {
    private static final String SCENARIO = "ship";
    /** A ship runs until stopped: its kill moments are drawn over its first seconds (start-up, first uploads, steady state). */
    private static final long SHIP_WINDOW_MILLIS = 4000;
    private static final int SHIP_WINDOW_OBJECTS = 12;
    private static final int SAMPLES = 12;

    static LongStream seeds() {
        return CrashRuns.seeds(SCENARIO);
    }

    @ParameterizedTest(name = "seed {0}")
    @MethodSource("seeds")
    @Timeout(300)
    void everyShippedCommitRestoresAfterAKill(long seed) throws Exception {
        Random random = CrashRuns.random(seed);
        PowDbFixture.Version version = (seed / 2) % 2 == 0 ? PowDbFixture.Version.V0_5 : PowDbFixture.Version.V0_4;
        int checkpointOneIn = random.nextInt(3) == 0 ? 1500 : 0;
        Path run = tmp.resolve("run-" + seed);
        try (CrashStore store = store(seed, run)) {
            PowDbFixture db = PowDbFixture.create(run.resolve("data"), version, seed);
            db.createTable("a", 40);
            db.createTable("b", 40);
            db.checkpoint();
            Path initial = PowDbFixture.copyDatabase(db.dir(), run.resolve("initial"));
            String[] ship = {"ship", "--data-dir", db.dir().toString(), "--repo", store.url(), "--poll", "50ms",
                "--interval", "200ms", "--heartbeat", "1s", "--temp-dir", run.resolve("spool").toString()};
            List<WalRecord> archive;
            String what;
            List<String> shippedBeforeKill;
            long backupLsn;
            try (LiveWriter writer = new LiveWriter(db, seed, checkpointOneIn).start()) {
                Thread.sleep(200); // the WAL holds records: the backup is crash-consistent and anchored in it
                JarProcess.Result backup = JarProcess.run(run, store.env(), "backup", "backup", "--data-dir",
                        db.dir().toString(), "--repo", store.url(), "--temp-dir", run.resolve("scratch").toString());
                assertEquals(0, backup.exit(), backup.toString());
                backupLsn = BackupCatalog.load(store.repository()).latest().orElseThrow().lsn();

                KillMoment moment = KillMoment.choose(random, SHIP_WINDOW_MILLIS, SHIP_WINDOW_OBJECTS, "WAL object");
                JarProcess first = JarProcess.start(run, store.env(), "ship-killed", ship);
                JarProcess.Result killed = moment.apply(first, () -> store.count("wal/"), store.progressPollMillis());
                shippedBeforeKill = store.keys().stream().filter(k -> k.endsWith(".seg")).toList();
                assertTrue(killed.killed(), "ship runs until stopped: " + killed);

                long restartAt = System.nanoTime();
                JarProcess second = restartWhenTheLeaseLapses(run, store, ship);
                long waited = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - restartAt);
                Thread.sleep(1000); // writing on, shipped by the second shipper
                archive = writer.stopWithoutCheckpoint();
                Thread.sleep(400); // the last records copied and uploaded at the shipper's own rhythm
                JarProcess.Result stopped = second.stop(Duration.ofSeconds(30));
                assertEquals(0, stopped.exit(), "a ship stopped with SIGTERM: " + stopped);
                what = store.kind() + ", " + version + ", " + (checkpointOneIn > 0 ? "with" : "no") + " checkpoints, "
                        + "killed " + moment.description() + " after " + killed.millis() + " ms with "
                        + shippedBeforeKill.size() + " segments shipped; restarted after " + waited + " ms; left in "
                        + "its spool dir: " + filesUnder(run.resolve("spool"));
            }
            CrashRuns.log(SCENARIO, seed, what);
            try {
                check(store, run, initial, archive, version, shippedBeforeKill, backupLsn, checkpointOneIn > 0, seed);
            } catch (AssertionError | RuntimeException e) {
                throw new AssertionError("seed " + seed + " (re-run with -Dpowdb.crash.seed=" + seed + "): " + what
                        + ": " + e.getMessage(), e);
            }
        }
    }

    /** Starts ship again, and again while the killed one's lease holds ("is locked by"), until one runs. */
    private static JarProcess restartWhenTheLeaseLapses(Path run, CrashStore store, String[] ship) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        for (int attempt = 1; System.nanoTime() < deadline; attempt++) {
            JarProcess p = JarProcess.start(run, store.env(), "ship-restarted-" + attempt, ship);
            while (p.isAlive() && !p.stdoutSoFar().contains("Shipping the WAL")) {
                Thread.sleep(20);
            }
            if (p.isAlive()) {
                return p; // it holds the lease and ships
            }
            JarProcess.Result r = p.await(Duration.ofSeconds(5));
            assertTrue(r.exit() == 1 && r.err().contains("is locked by"), "a restarted ship: " + r);
            Thread.sleep(300);
        }
        fail("the killed shipper's lease never lapsed");
        return null;
    }

    private void check(CrashStore store, Path run, Path initial, List<WalRecord> archive, PowDbFixture.Version version,
            List<String> shippedBeforeKill, long backupLsn, boolean checkpoints, long seed) throws Exception {
        RepositoryAudit.assertVerifies(store, run.resolve("scratch-verify"));
        WalArchive wal = WalArchive.load(store.repository());
        List<long[]> ranges = new ArrayList<>();
        long edge = -1; // the last commit shipped before the kill
        for (WalArchive.Timeline t : wal.timelines()) {
            for (WalArchive.Generation g : t.generations()) {
                for (WalSegment s : g.segments()) {
                    ranges.add(new long[] {s.firstLsn(), s.lastLsn()});
                    if (shippedBeforeKill.contains(s.key())) {
                        edge = Math.max(edge, s.lastLsn());
                    }
                }
            }
        }
        // The shipper ships the whole WAL generation it finds, commits before the backup too: those no backup reaches.
        List<Long> shipped = new ArrayList<>();
        for (WalRecord r : archive) {
            if (r.type() == WalWriter.COMMIT && r.lsn() >= backupLsn && ranges.stream().anyMatch(x -> r.lsn() >= x[0] && r.lsn() <= x[1])) {
                shipped.add(r.lsn());
            }
        }
        assertTrue(shipped.size() > 10, "commits shipped: " + shipped.size());
        TreeSet<Long> sample = new TreeSet<>(List.of(shipped.get(0), shipped.get(shipped.size() - 1)));
        if (edge >= 0) {
            sample.add(edge);
        }
        Random random = CrashRuns.random(seed);
        while (sample.size() < Math.min(SAMPLES, shipped.size())) {
            sample.add(shipped.get(random.nextInt(shipped.size())));
        }
        List<String> refused = new ArrayList<>();
        for (long lsn : sample) {
            Path target = run.resolve("restored-" + lsn);
            RestoreResult result;
            try {
                result = new RestoreService(store.repository()).restore(new RestorePoint.AtOrBeforeLsn(lsn), target,
                        new RestoreOptions(run.resolve("scratch-restore"), ProgressListener.NONE));
            } catch (RepositoryException e) {
                assertTrue(e.getMessage().contains("nothing is shipped after") || e.getMessage().contains("WAL is missing")
                        || e.getMessage().contains("onward is missing"), e.getMessage());
                refused.add(lsn + ": " + e.getMessage());
                continue;
            }
            assertEquals(lsn, result.reachedLsn(), "restore --to-lsn " + lsn);
            Path expected = LiveWriter.stateAt(initial, archive, lsn, run.resolve("expected-" + lsn), version);
            PowDbFixture.assertSameDatabase(expected, LiveWriter.recovered(target, run.resolve("recovered-" + lsn),
                    version), true);
        }
        CrashRuns.log(SCENARIO, seed, shipped.size() + " commits shipped in " + wal.timelines().size() + " timelines, "
                + "the last before the kill " + edge + "; " + (sample.size() - refused.size()) + " of " + sample.size()
                + " sampled restored exactly" + (refused.isEmpty() ? "" : ", refused: " + refused));
        if (!checkpoints) {
            assertEquals(List.of(), refused, "with no checkpoint, every shipped commit is restorable");
        }
        String edgeRefused = edge + ":";
        if (edge >= 0 && refused.stream().noneMatch(r -> r.startsWith(edgeRefused))) {
            // The same through the command line, for the last commit the killed shipper uploaded.
            Path target = run.resolve("restored-cli");
            JarProcess.Result cli = JarProcess.run(run, store.env(), "restore", "restore", "--repo", store.url(),
                    "--to-lsn", Long.toString(edge), "--target", target.toString());
            assertEquals(0, cli.exit(), cli.toString());
            PowDbFixture.assertSameDatabase(LiveWriter.stateAt(initial, archive, edge, run.resolve("expected-cli"), version),
                    LiveWriter.recovered(target, run.resolve("recovered-cli"), version), true);
        }
    }
}
