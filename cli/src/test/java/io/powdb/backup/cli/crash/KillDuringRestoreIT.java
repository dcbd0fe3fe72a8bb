package io.powdb.backup.cli.crash;

import io.powdb.backup.repo.BackupCatalog;
import io.powdb.backup.testing.PowDbFixture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.LongStream;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * {@code restore} (of a full or an incremental backup, into an absent or an empty target, from the local store or
 * S3Proxy) killed with SIGKILL at a random moment. The target is then absent, or empty as it was, or the complete
 * database byte for byte: never a partial directory (PowDB opens any directory holding catalog.bin). What a kill
 * leaves beside it is a hidden {@code .TARGET.powdb-restore-*} staging directory. A second restore into the same
 * target then succeeds (the target is absent or empty, which is all a restore asks for; the leftover is not the
 * target, and deleting it automatically could delete a concurrent restore's work), or, when the killed one had
 * already put the database in place, is refused because the target is not empty.
 */
class KillDuringRestoreIT extends CrashTestBase {
    private static final String SCENARIO = "restore";
    private static final long MIB = 1 << 20;
    private static final Map<String, Prepared> PREPARED = new HashMap<>();
    private static Path base;

    /** A repository with a full and an incremental backup, the states they hold, and how long a restore takes. */
    private record Prepared(CrashStore store, String fullId, Path fullState, Path incrementalState, long restoreMillis) {
    }

    static LongStream seeds() {
        return CrashRuns.seeds(SCENARIO);
    }

    @BeforeAll
    static void createDatabase() throws Exception {
        base = sampleDatabase(tmp.resolve("base"), Long.getLong("powdb.crash.mib", 16), 13);
    }

    @AfterAll
    static void closeStores() throws IOException {
        for (Prepared p : PREPARED.values()) {
            p.store().close();
        }
        PREPARED.clear();
    }

    private static Prepared prepare(long seed) throws Exception {
        String kind = CrashRuns.onS3(seed) ? "s3" : "local";
        Prepared p = PREPARED.get(kind);
        if (p != null) {
            return p;
        }
        Path dir = tmp.resolve("prepared-" + kind);
        CrashStore store = store(seed, dir);
        Path data = PowDbFixture.copyDatabase(base, dir.resolve("data"));
        JarProcess.Result full = JarProcess.run(dir, store.env(), "full", "backup", "--data-dir", data.toString(),
                "--repo", store.url());
        assertEquals(0, full.exit(), full.toString());
        String fullId = BackupCatalog.load(store.repository()).latest().orElseThrow().toString();
        Path fullState = PowDbFixture.copyDatabase(data, dir.resolve("state-full"));
        PowDbFixture db = PowDbFixture.open(data, PowDbFixture.Version.V0_5, seed);
        for (String table : db.tableNames()) {
            db.updateRandomPages(table, db.pageCount(table) / 20);
        }
        db.checkpoint();
        JarProcess.Result incremental = JarProcess.run(dir, store.env(), "incremental", "backup", "--data-dir",
                data.toString(), "--repo", store.url());
        assertEquals(0, incremental.exit(), incremental.toString());
        // One unkilled restore: how long a restore takes here, the range the kill moments are drawn from.
        JarProcess.Result measured = JarProcess.run(dir, store.env(), "measured", "restore", "--repo", store.url(),
                "--target", dir.resolve("measured").toString());
        assertEquals(0, measured.exit(), measured.toString());
        PowDbFixture.assertSameDatabase(data, dir.resolve("measured"), true);
        p = new Prepared(store, fullId, fullState, data, measured.millis());
        PREPARED.put(kind, p);
        return p;
    }

    @ParameterizedTest(name = "seed {0}")
    @MethodSource("seeds")
    @Timeout(300)
    void aKilledRestoreLeavesNothingThatLooksLikeADatabase(long seed) throws Exception {
        Random random = CrashRuns.random(seed);
        Prepared prepared = prepare(seed);
        boolean targetExisted = random.nextBoolean();
        boolean ofFull = random.nextInt(3) == 0;
        Path run = tmp.resolve("run-" + seed);
        Path parent = Files.createDirectories(run.resolve("restores"));
        Path target = parent.resolve("db");
        if (targetExisted) {
            Files.createDirectory(target);
        }
        Path expected = ofFull ? prepared.fullState() : prepared.incrementalState();
        List<String> args = new ArrayList<>(List.of("restore", "--repo", prepared.store().url(), "--target",
                target.toString(), "--temp-dir", run.resolve("scratch").toString()));
        if (ofFull) {
            args.addAll(List.of("--backup", prepared.fullId()));
        }
        long size = bytesUnder(expected);
        KillMoment moment = KillMoment.choose(random, prepared.restoreMillis(), size / MIB, "MiB");
        JarProcess restore = JarProcess.start(run, prepared.store().env(), "killed", args.toArray(String[]::new));
        JarProcess.Result killed = moment.apply(restore, () -> stagedBytes(parent) / MIB);
        String what = prepared.store().kind() + ", " + (ofFull ? "full" : "incremental") + " into "
                + (targetExisted ? "an empty" : "an absent") + " target, killed " + moment.description() + ": "
                + (killed.killed() ? "killed" : "it had ended, exit " + killed.exit()) + " after " + killed.millis() + " ms";
        try {
            if (!killed.killed()) {
                assertEquals(0, killed.exit(), killed.toString());
            }
            boolean complete = assertCompleteOrNothing(target, targetExisted, expected);
            List<String> leftovers = leftovers(parent);
            CrashRuns.log(SCENARIO, seed, what + "; the target is " + (complete ? "the complete database" : "absent or "
                    + "empty") + ", left beside it: " + leftovers + ", in the temp dirs: "
                    + filesUnder(run.resolve("scratch")) + filesUnder(run.resolve("jvm-tmp")));
            assertTrue(complete || killed.killed(), "a restore that ended put the database in place");

            JarProcess.Result again = JarProcess.run(run, prepared.store().env(), "again", args.toArray(String[]::new));
            if (complete) {
                assertEquals(1, again.exit(), again.toString());
                assertTrue(again.err().contains("is not empty"), again.err());
            } else {
                assertEquals(0, again.exit(), "a second restore into the same target: " + again);
            }
            PowDbFixture.assertSameDatabase(expected, target, true);
            assertEquals(leftovers, leftovers(parent), "the second restore leaves no staging directory of its own");
        } catch (AssertionError | RuntimeException e) {
            throw new AssertionError("seed " + seed + " (re-run with -Dpowdb.crash.seed=" + seed + "): " + what + ": "
                    + e.getMessage(), e);
        }
    }

    /**
     * Asserts the target is absent (it was), empty (it was), or the complete database; returns whether complete.
     */
    private static boolean assertCompleteOrNothing(Path target, boolean existed, Path expected) throws IOException {
        if (!Files.exists(target)) {
            assertFalse(existed, "the empty target directory that was given vanished");
            return false;
        }
        try (Stream<Path> entries = Files.list(target)) {
            if (entries.findAny().isEmpty()) {
                return false;
            }
        }
        if (!Files.exists(target.resolve(PowDbFixture.CATALOG))) {
            fail("a partial restore in the target: " + filesUnder(target));
        }
        PowDbFixture.assertSameDatabase(expected, target, true);
        return true;
    }

    /** Everything beside the target: only hidden staging directories of this target may be there. */
    private static List<String> leftovers(Path parent) throws IOException {
        List<String> names;
        try (Stream<Path> entries = Files.list(parent)) {
            names = entries.map(p -> p.getFileName().toString()).filter(n -> !n.equals("db")).sorted().toList();
        }
        for (String name : names) {
            assertTrue(name.startsWith(".db.powdb-restore-"), "beside the target: " + name
                    + " (not a hidden .db.powdb-restore-* staging directory)");
        }
        return names;
    }

    private static long stagedBytes(Path parent) throws IOException {
        long bytes = 0;
        try (Stream<Path> entries = Files.list(parent)) {
            for (Path p : (Iterable<Path>) entries::iterator) {
                if (p.getFileName().toString().contains(".powdb-restore-")) {
                    bytes += bytesUnder(p);
                }
            }
        }
        return bytes;
    }

    private static long bytesUnder(Path dir) throws IOException {
        long bytes = 0;
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) walk::iterator) {
                try {
                    if (Files.isRegularFile(p)) {
                        bytes += Files.size(p);
                    }
                } catch (java.nio.file.NoSuchFileException moved) {
                    // renamed into place meanwhile
                }
            }
        } catch (java.io.UncheckedIOException | java.nio.file.NoSuchFileException gone) {
            // the staging directory was renamed onto the target meanwhile
        }
        return bytes;
    }
}
