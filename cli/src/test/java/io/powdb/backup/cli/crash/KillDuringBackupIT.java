package io.powdb.backup.cli.crash;

import io.powdb.backup.progress.ProgressListener;
import io.powdb.backup.repo.BackupCatalog;
import io.powdb.backup.repo.BackupId;
import io.powdb.backup.repo.Manifest;
import io.powdb.backup.repo.RestorePoint;
import io.powdb.backup.restore.RestoreOptions;
import io.powdb.backup.restore.RestoreService;
import io.powdb.backup.testing.PowDbFixture;
import io.powdb.backup.testing.WalRecord;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.LongStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code backup} (full or incremental, of a stopped database or of a running one, on the local store or S3Proxy)
 * killed with SIGKILL at a random moment. Afterwards every backup {@code list} shows restores byte-exact (a
 * stopped database: its files; a running one: the writer's state at the backup's LSN, after PowDB's recovery),
 * the repository verifies, the next backup succeeds once the killed one's lease has lapsed, and {@code prune
 * --grace 1ms} (it takes no zero) leaves nothing that no manifest names.
 */
class KillDuringBackupIT extends CrashTestBase {
    private static final String SCENARIO = "backup";
    private static final String[] PROGRESS = {"data/", "manifests/"};
    private static Path base;

    static LongStream seeds() {
        return CrashRuns.seeds(SCENARIO);
    }

    @BeforeAll
    static void createDatabase() throws Exception {
        base = sampleDatabase(tmp.resolve("base"), Long.getLong("powdb.crash.mib", 16), 11);
    }

    @ParameterizedTest(name = "seed {0}")
    @MethodSource("seeds")
    @Timeout(600)
    void everyListedBackupRestoresAfterAKill(long seed) throws Exception {
        Random random = CrashRuns.random(seed);
        boolean live = random.nextBoolean();
        boolean full = random.nextInt(3) == 0;
        Path run = tmp.resolve("run-" + seed);
        PowDbFixture.Version version = PowDbFixture.Version.V0_5;
        try (CrashStore store = store(seed, run)) {
            Path data = PowDbFixture.copyDatabase(base, run.resolve("data"));
            PowDbFixture db = PowDbFixture.open(data, version, seed);
            String scratch = run.resolve("scratch").toString();

            // Unkilled backups first, a full and an incremental: what the killed one builds on, and how long each
            // kind takes here and how many objects it writes (the range its kill moment is drawn from).
            Map<String, Path> states = new HashMap<>();
            JarProcess.Result[] measured = new JarProcess.Result[2];
            int[] objects = new int[2];
            for (int i = 0; i < 2; i++) {
                int start = store.count(PROGRESS);
                measured[i] = JarProcess.run(run, store.env(), "unkilled-" + i, "backup", "--data-dir", data.toString(),
                        "--repo", store.url(), "--temp-dir", scratch);
                assertEquals(0, measured[i].exit(), measured[i].toString());
                objects[i] = store.count(PROGRESS) - start;
                states.put(BackupCatalog.load(store.repository()).latest().orElseThrow().toString(),
                        PowDbFixture.copyDatabase(data, run.resolve("state-" + i)));
                changeAndCheckpoint(db);
            }
            Path before = PowDbFixture.copyDatabase(data, run.resolve("state-before-kill"));
            LiveWriter writer = live ? new LiveWriter(db, seed, 300).start() : null;

            int kind = full ? 0 : 1;
            int startObjects = store.count(PROGRESS);
            KillMoment moment = KillMoment.choose(random, measured[kind].millis(), objects[kind], "object");
            JarProcess backup = JarProcess.start(run, store.env(), "killed", full
                    ? new String[] {"backup", "--full", "--data-dir", data.toString(), "--repo", store.url(), "--temp-dir", scratch}
                    : new String[] {"backup", "--data-dir", data.toString(), "--repo", store.url(), "--temp-dir", scratch});
            JarProcess.Result killed = moment.apply(backup, () -> store.count(PROGRESS) - startObjects,
                    store.progressPollMillis());
            List<WalRecord> archive = writer == null ? List.of() : writer.stopAndCheckpoint();
            String what = store.kind() + ", " + (full ? "full" : "incremental") + " of a " + (live ? "running" : "stopped")
                    + " database, killed " + moment.description() + ": " + (killed.killed() ? "killed" : "it had ended, exit "
                    + killed.exit()) + " after " + killed.millis() + " ms; left in its temp dirs: "
                    + filesUnder(Path.of(scratch)) + filesUnder(run.resolve("jvm-tmp"));
            CrashRuns.log(SCENARIO, seed, what);
            try {
                if (!killed.killed()) {
                    assertEquals(0, killed.exit(), killed.toString());
                }
                checkAfterTheKill(store, run, data, states, before, archive, version, killed.killed(), seed);
            } catch (AssertionError | RuntimeException e) {
                throw new AssertionError("seed " + seed + " (re-run with -Dpowdb.crash.seed=" + seed + "): " + what
                        + ": " + e.getMessage(), e);
            }
        }
    }

    private static void changeAndCheckpoint(PowDbFixture db) throws java.io.IOException {
        for (String table : db.tableNames()) {
            db.updateRandomPages(table, Math.max(1, db.pageCount(table) / 50));
        }
        db.checkpoint();
    }

    private void checkAfterTheKill(CrashStore store, Path run, Path data, Map<String, Path> states, Path before,
            List<WalRecord> archive, PowDbFixture.Version version, boolean killed, long seed) throws Exception {
        List<String> listed = listedIds(run, store);
        assertTrue(listed.containsAll(states.keySet()), "the backups taken before the kill are listed: " + listed);
        assertTrue(listed.size() <= 3 && (killed || listed.size() == 3), "listed: " + listed);
        BackupCatalog catalog = BackupCatalog.load(store.repository());
        for (String id : listed) {
            Path restored = run.resolve("restored-" + id);
            new RestoreService(store.repository()).restore(new RestorePoint.ById(BackupId.parse(id)), restored,
                    new RestoreOptions(run.resolve("scratch-restore"), ProgressListener.NONE));
            if (states.containsKey(id)) {
                PowDbFixture.assertSameDatabase(states.get(id), restored, true);
            } else if (archive.isEmpty()) {
                PowDbFixture.assertSameDatabase(before, restored, true); // a stopped database: its files, byte for byte
            } else {
                Manifest m = catalog.manifest(BackupId.parse(id));
                Path expected = LiveWriter.stateAt(before, archive, m.sourceLsn(), run.resolve("expected-" + id), version);
                PowDbFixture.assertSameDatabase(expected, LiveWriter.recovered(restored, run.resolve("recovered-" + id),
                        version), true);
            }
        }
        // (Every listed backup restored byte-exact is more than verify checks of them; verify runs after prune.)

        // The database is stopped now (the writer checkpointed at its end): the next backup is quiescent.
        long waitStart = System.nanoTime();
        JarProcess.Result next = runTakingTheLease(run, store, "next", "backup", "--data-dir", data.toString(), "--repo",
                store.url(), "--temp-dir", run.resolve("scratch-next").toString());
        assertEquals(0, next.exit(), "the next backup: " + next);
        CrashRuns.log(SCENARIO, seed, "listed " + listed.size() + " backups, all restored byte-exact; the next backup "
                + "succeeded " + (System.nanoTime() - waitStart) / 1_000_000 + " ms after it was first tried");
        Path restored = run.resolve("restored-next");
        new RestoreService(store.repository()).restore(new RestorePoint.Latest(), restored,
                new RestoreOptions(run.resolve("scratch-restore"), ProgressListener.NONE));
        PowDbFixture.assertSameDatabase(data, restored, true);

        JarProcess.Result prune = runTakingTheLease(run, store, "prune", "prune", "--repo", store.url(), "--grace", "1ms");
        assertEquals(0, prune.exit(), "prune: " + prune);
        RepositoryAudit.assertOnlyReferenced(store);
        RepositoryAudit.assertVerifies(store, run.resolve("scratch-verify"));
    }
}
