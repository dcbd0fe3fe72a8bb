package io.powdb.backup.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.powdb.backup.repo.Json;
import io.powdb.backup.testing.PowDbFixture;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The CLI contract that scripts rely on: commands, defaults, JSON fields, exit codes and one-line errors. */
class CliEndToEndTest {
    @TempDir
    Path tmp;
    PowDbFixture db;
    String repo;
    CliRunner cli;

    @BeforeEach
    void setUp() throws IOException {
        db = PowDbFixture.create(tmp.resolve("data"), PowDbFixture.Version.V0_4, 5);
        db.createTable("users", 30);
        db.createTable("orders", 10);
        db.writeOptionalWholeFiles();
        db.checkpoint();
        repo = tmp.resolve("repo").toString();
        cli = new CliRunner().env("POWDB_BACKUP_TEMP_DIR", tmp.resolve("scratch").toString());
    }

    private JsonNode json(CliRunner.Result result) throws IOException {
        assertEquals(0, result.exit(), result.toString());
        return Json.MAPPER.readTree(result.out());
    }

    @Test
    void backupIncrementalListVerifyRestoreRoundTrip() throws IOException {
        JsonNode full = json(cli.run("backup", "--data-dir", db.dir().toString(), "--repo", repo, "--json"));
        assertEquals("full", full.get("type").asText());
        assertTrue(full.get("base_lsn").isNull());
        assertTrue(full.get("bytes_scanned").asLong() > 40 * 4096);
        assertTrue(full.get("bytes_uploaded").asLong() > 40 * 4096 / 3, "40 pages, zstd-compressed: " + full);
        assertEquals(db.lastLsn(), full.get("source_lsn").asLong());
        Path fullState = snapshot("full");

        db.updatePages("users", 5, 6);
        db.checkpoint();
        JsonNode inc = json(cli.run("backup", "--data-dir", db.dir().toString(), "--repo", repo, "--json"));
        assertEquals("incremental", inc.get("type").asText());
        assertEquals(full.get("source_lsn").asLong(), inc.get("base_lsn").asLong());
        assertTrue(inc.get("bytes_uploaded").asLong() < full.get("bytes_uploaded").asLong() / 4);
        for (String field : new String[] {"id", "type", "source_lsn", "base_lsn", "created", "bytes_uploaded"}) {
            assertTrue(inc.has(field), field);
        }

        JsonNode list = json(cli.run("list", "--repo", repo, "--json"));
        assertEquals(2, list.size());
        assertEquals(full.get("id").asText(), list.get(0).get("id").asText());
        assertEquals(inc.get("id").asText(), list.get(1).get("id").asText());
        assertEquals(list.get(0).get("chain").asText(), list.get(1).get("chain").asText());
        assertEquals(list.get(0).get("history").asText(), list.get(1).get("history").asText());

        JsonNode verify = json(cli.run("verify", "--repo", repo, "--json"));
        assertTrue(verify.get("ok").asBoolean());
        assertEquals(2, verify.get("backups_checked").size());

        Path latest = tmp.resolve("restored-latest");
        JsonNode restored = json(cli.run("restore", "--repo", repo, "--target", latest.toString(), "--json"));
        assertEquals(inc.get("id").asText(), restored.get("id").asText());
        assertEquals(inc.get("source_lsn").asLong(), restored.get("source_lsn").asLong());
        PowDbFixture.assertSameDatabase(db.dir(), latest, true);

        Path byId = tmp.resolve("restored-first");
        json(cli.run("restore", "--repo", repo, "--target", byId.toString(), "--backup", full.get("id").asText(), "--json"));
        PowDbFixture.assertSameDatabase(fullState, byId, true);

        Path byLsn = tmp.resolve("restored-lsn");
        json(cli.run("restore", "--repo", repo, "--target", byLsn.toString(),
                "--to-lsn", Long.toString(full.get("source_lsn").asLong()), "--json"));
        PowDbFixture.assertSameDatabase(fullState, byLsn, true);

        Path byTime = tmp.resolve("restored-time");
        json(cli.run("restore", "--repo", repo, "--target", byTime.toString(), "--to-time", inc.get("created").asText(), "--json"));
        PowDbFixture.assertSameDatabase(db.dir(), byTime, true);
    }

    @Test
    void shippedWalRestoresToAnyCommitAndAGapIsRefusedWithExitOne() throws IOException {
        db.updatePages("users", 3);
        JsonNode first = json(cli.run("ship", "--once", "--data-dir", db.dir().toString(), "--repo", repo, "--json"));
        assertEquals(1, first.get("segments").asInt());
        JsonNode backup = json(cli.run("backup", "--data-dir", db.dir().toString(), "--repo", repo, "--json"));
        assertEquals("crash-consistent", backup.get("consistency").asText());
        db.updatePages("users", 4, 5);
        long middle = db.lastLsn();
        Path middleState = snapshot("middle");
        db.updatePages("orders", 2);
        JsonNode second = json(cli.run("ship", "--once", "--data-dir", db.dir().toString(), "--repo", repo, "--json"));
        assertEquals(db.lastLsn(), second.get("last_shipped_lsn").asLong());
        // Each 'ship --once' is a follower of its own: it starts a timeline, shipping the current generation of
        // wal.log from its start again. A long-running 'ship' keeps one timeline.
        assertFalse(first.get("timeline").asText().equals(second.get("timeline").asText()));

        Path atMiddle = tmp.resolve("at-middle");
        JsonNode restored = json(cli.run("restore", "--repo", repo, "--target", atMiddle.toString(), "--to-lsn",
                Long.toString(middle), "--json"));
        assertEquals(middle, restored.get("restored_lsn").asLong());
        assertEquals(backup.get("id").asText(), restored.get("id").asText());
        assertEquals(second.get("timeline").asText(), restored.get("wal_timeline").asText());
        // PowDB replays the appended WAL on open: the result is the database as it was at that LSN.
        PowDbFixture.open(atMiddle, db.version(), 1);
        PowDbFixture.open(middleState, db.version(), 1);
        PowDbFixture.assertSameDatabase(middleState, atMiddle, true);

        CliRunner.Result list = cli.run("list", "--repo", repo);
        assertEquals(0, list.exit(), list.toString());
        assertTrue(list.out().contains("WAL TIMELINE") && list.out().contains(first.get("timeline").asText()), list.out());

        Path beyond = tmp.resolve("beyond");
        CliRunner.Result refused = cli.run("restore", "--repo", repo, "--target", beyond.toString(), "--to-lsn",
                Long.toString(db.lastLsn() + 100));
        assertEquals(1, refused.exit(), refused.toString());
        assertTrue(refused.err().contains("nothing is shipped after LSN " + db.lastLsn()), refused.err());
        assertFalse(Files.exists(beyond));
    }

    @Test
    void writingCommandsWaitForNoOneButRefuseWhileAnotherProcessHoldsTheLease() throws Exception {
        json(cli.run("backup", "--data-dir", db.dir().toString(), "--repo", repo, "--json"));
        try (io.powdb.backup.repo.Repository repository = new io.powdb.backup.repo.Repository(
                new io.powdb.backup.store.local.LocalBlobStore(Path.of(repo)), "")) {
            io.powdb.backup.lease.RepositoryLease agent = new io.powdb.backup.lease.RepositoryLease(repository,
                    "agent-pod-0/1234-abcd", java.time.Duration.ofSeconds(60), java.time.Clock.systemUTC());
            assertTrue(agent.tryAcquire().acquired());
            for (String[] command : new String[][] {
                    {"backup", "--data-dir", db.dir().toString(), "--repo", repo},
                    {"ship", "--once", "--data-dir", db.dir().toString(), "--repo", repo},
                    {"prune", "--repo", repo, "--keep-full", "1"}}) {
                CliRunner.Result refused = cli.run(command);
                assertEquals(1, refused.exit(), refused.toString());
                assertTrue(refused.err().contains("locked by agent agent-pod-0/1234-abcd"), refused.err());
            }
            // Reading needs no lease.
            assertEquals(0, cli.run("list", "--repo", repo).exit());
            assertEquals(0, cli.run("prune", "--repo", repo, "--keep-full", "1", "--dry-run").exit());
            CliRunner.Result status = cli.run("status", "--repo", repo);
            assertTrue(status.out().contains("held by agent-pod-0/1234-abcd"), status.out());
            agent.release();
        }
        json(cli.run("backup", "--data-dir", db.dir().toString(), "--repo", repo, "--json"));
    }

    @Test
    void humanOutputSaysWhatHappened() throws IOException {
        CliRunner.Result backup = cli.run("backup", "--data-dir", db.dir().toString(), "--repo", repo);
        assertEquals(0, backup.exit(), backup.toString());
        assertTrue(backup.out().startsWith("Full quiescent backup "), backup.out());
        CliRunner.Result list = cli.run("list", "--repo", repo);
        assertTrue(list.out().contains("full") && list.out().contains("LSN"), list.out());
        CliRunner.Result verify = cli.run("verify", "--repo", repo);
        assertTrue(verify.out().contains("all OK"), verify.out());
    }

    @Test
    void aRunningServersDirectoryIsBackedUpCrashConsistentlyByDefault() throws IOException {
        db.updatePages("users", 2, 3); // WAL records not checkpointed, as on a running server
        JsonNode backup = json(cli.run("backup", "--data-dir", db.dir().toString(), "--repo", repo, "--json"));
        assertEquals("crash-consistent", backup.get("consistency").asText());
        Path restored = tmp.resolve("restored-live");
        json(cli.run("restore", "--repo", repo, "--target", restored.toString(), "--json"));
        PowDbFixture.assertSameDatabase(db.dir(), restored, true);
        PowDbFixture.open(restored, PowDbFixture.Version.V0_4, 1); // PowDB recovers it by replaying the WAL
        CliRunner.Result human = cli.run("backup", "--data-dir", db.dir().toString(), "--repo", repo);
        assertTrue(human.out().startsWith("Incremental crash-consistent backup"), human.out());
    }

    @Test
    void defaultsComeFromTheEnvironment() throws IOException {
        cli.env("POWDB_DATA", db.dir().toString()).env("POWDB_BACKUP_REPO", "file:" + repo);
        JsonNode backup = json(cli.run("backup", "--json"));
        assertEquals("full", backup.get("type").asText());
        assertTrue(Files.exists(Path.of(repo, "powdb-backup.json")));
        assertEquals(1, json(cli.run("list", "--json")).size());
    }

    @Test
    void compressionIsChosenByOptionOrEnvironmentAndRestoresEitherWay() throws IOException {
        JsonNode plain = json(cli.run("backup", "--data-dir", db.dir().toString(), "--repo", repo, "--compression", "none",
                "--json"));
        JsonNode plainManifest = manifest(plain.get("id").asText());
        JsonNode catalog = fileEntry(plainManifest, PowDbFixture.CATALOG);
        assertFalse(catalog.get("object").has("compression"), catalog.toString());
        assertEquals(catalog.get("blake3"), catalog.get("object").get("blake3"));

        // The default, and --compression zstd over $POWDB_BACKUP_COMPRESSION=none: compressed, and smaller.
        for (CliRunner runner : new CliRunner[] {cli, copyOf(cli).env("POWDB_BACKUP_COMPRESSION", "none")}) {
            String[] args = runner == cli ? new String[] {"--full"} : new String[] {"--full", "--compression", "zstd"};
            JsonNode zstd = json(runner.run(concat(new String[] {"backup", "--data-dir", db.dir().toString(), "--repo",
                    repo, "--json"}, args)));
            JsonNode users = fileEntry(manifest(zstd.get("id").asText()), "users.heap").get("sources").get(0);
            assertEquals("zstd", users.get("compression").asText(), users.toString());
            assertEquals(30 * 4096, users.get("content_size").asLong());
            assertTrue(zstd.get("bytes_uploaded").asLong() < plain.get("bytes_uploaded").asLong() * 3 / 4,
                    zstd + " vs " + plain);
        }
        // $POWDB_BACKUP_COMPRESSION=none alone turns it off; a level takes effect.
        JsonNode off = json(copyOf(cli).env("POWDB_BACKUP_COMPRESSION", "none").run("backup", "--data-dir",
                db.dir().toString(), "--repo", repo, "--full", "--json"));
        assertFalse(fileEntry(manifest(off.get("id").asText()), "users.heap").get("sources").get(0).has("compression"));
        JsonNode high = json(cli.run("backup", "--data-dir", db.dir().toString(), "--repo", repo, "--full",
                "--compression-level", "19", "--json"));
        assertEquals("zstd", fileEntry(manifest(high.get("id").asText()), "users.heap").get("sources").get(0)
                .get("compression").asText());

        db.updatePages("users", 2, 7);
        db.checkpoint();
        json(cli.run("backup", "--data-dir", db.dir().toString(), "--repo", repo, "--compression", "none", "--json"));
        Path target = tmp.resolve("restored");
        json(cli.run("restore", "--repo", repo, "--target", target.toString(), "--json"));
        PowDbFixture.assertSameDatabase(db.dir(), target, true);
        assertEquals(0, cli.run("verify", "--repo", repo).exit());

        String data = db.dir().toString();
        assertOneLineError(cli.run("backup", "--data-dir", data, "--repo", repo, "--compression", "gzip"), 2, "zstd or none");
        assertOneLineError(cli.run("backup", "--data-dir", data, "--repo", repo, "--compression-level", "0"), 2,
                "--compression-level");
        assertOneLineError(cli.run("backup", "--data-dir", data, "--repo", repo, "--compression-level", "20"), 2, "1 (fastest) to 19");
        assertOneLineError(cli.run("backup", "--data-dir", data, "--repo", repo, "--compression", "none",
                "--compression-level", "3"), 2, "needs zstd");
        assertOneLineError(copyOf(cli).env("POWDB_BACKUP_COMPRESSION", "zstd:99").run("backup", "--data-dir", data,
                "--repo", repo), 2, "POWDB_BACKUP_COMPRESSION");
    }

    private static CliRunner copyOf(CliRunner runner) {
        return runner.copy();
    }

    private static String[] concat(String[] a, String[] b) {
        String[] all = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }

    private JsonNode manifest(String id) throws IOException {
        return Json.MAPPER.readTree(Path.of(repo, "manifests", id + ".json").toFile());
    }

    private static JsonNode fileEntry(JsonNode manifest, String name) {
        for (JsonNode file : manifest.get("files")) {
            if (file.get("name").asText().equals(name)) {
                return file;
            }
        }
        throw new AssertionError("no " + name + " in " + manifest);
    }

    @Test
    void failuresExitNonZeroWithOneLineOnStderr() throws IOException {
        assertEquals(0, cli.run("backup", "--data-dir", db.dir().toString(), "--repo", repo).exit());

        CliRunner.Result noData = cli.run("backup", "--data-dir", tmp.resolve("missing").toString(), "--repo", repo);
        assertOneLineError(noData, 1, "does not exist");

        Path full = Files.createDirectories(tmp.resolve("full-target"));
        Files.writeString(full.resolve("x"), "x");
        assertOneLineError(cli.run("restore", "--repo", repo, "--target", full.toString()), 1, "not empty");

        assertOneLineError(cli.run("restore", "--repo", tmp.resolve("no-repo").toString(), "--target",
                tmp.resolve("t1").toString()), 1, "no backup repository");
        assertFalse(Files.exists(tmp.resolve("no-repo")), "reading a mistyped repository path creates nothing");

        assertOneLineError(cli.run("restore", "--repo", repo, "--target", tmp.resolve("t2").toString(), "--to-lsn", "abc"),
                2, "--to-lsn");
        assertOneLineError(cli.run("restore", "--repo", repo, "--target", tmp.resolve("t3").toString(), "--backup", "nope"),
                2, "not a backup id");
        assertOneLineError(cli.run("list", "--repo", "ftp://somewhere/x"), 2, "unknown scheme");
        assertOneLineError(cli.run("list", "--repo", "s3:///no-bucket"), 2, "no bucket");
        assertOneLineError(cli.run("list", "--repo", "gs://bucket/a/../b"), 2, "'..'");

        CliRunner.Result both = cli.run("restore", "--repo", repo, "--target", "x", "--to-lsn", "1", "--backup", "y");
        assertEquals(2, both.exit(), both.toString());
        assertEquals(2, cli.run("frobnicate").exit());
        assertEquals(2, cli.run("restore", "--repo", repo).exit(), "--target is required");

        db.updatePages("users", 1); // not checkpointed: wal.log holds records
        assertOneLineError(cli.run("backup", "--data-dir", db.dir().toString(), "--repo", repo, "--require-quiescent"),
                1, "not quiescent");
    }

    @Test
    void damageIsExitStatusThreeForVerifyAndRestore() throws IOException {
        json(cli.run("backup", "--data-dir", db.dir().toString(), "--repo", repo, "--json"));
        Path heapObject;
        try (Stream<Path> files = Files.walk(Path.of(repo, "data"))) {
            heapObject = files.filter(p -> p.getFileName().toString().equals("users.heap")).findFirst().orElseThrow();
        }
        byte[] bytes = Files.readAllBytes(heapObject);
        bytes[5000] ^= 1;
        Files.write(heapObject, bytes);

        CliRunner.Result verify = cli.run("verify", "--repo", repo);
        assertEquals(3, verify.exit(), verify.toString());
        assertTrue(verify.out().contains("users.heap"), verify.out());
        JsonNode report = Json.MAPPER.readTree(cli.run("verify", "--repo", repo, "--json").out());
        assertFalse(report.get("ok").asBoolean());

        Path target = tmp.resolve("t");
        assertOneLineError(cli.run("restore", "--repo", repo, "--target", target.toString()), 3, "users.heap");
        assertFalse(Files.exists(target));
    }

    private static void assertOneLineError(CliRunner.Result result, int exit, String mentions) {
        assertEquals(exit, result.exit(), result.toString());
        String err = result.err().strip();
        assertTrue(err.contains(mentions), result.toString());
        if (exit != 2) {
            assertEquals(1, err.lines().count(), "one line on stderr: " + result);
            assertTrue(err.startsWith("powdb-backup: error: "), result.toString());
        }
    }

    private Path snapshot(String name) throws IOException {
        return PowDbFixture.copyDatabase(db.dir(), tmp.resolve("snap-" + name));
    }

    /**
     * The writing commands take their lease ttl from $POWDB_BACKUP_LEASE_TTL, as the agent does (a short one lets the
     * next writer go soon after a kill -9); a value the lease cannot work with is a usage error saying so.
     */
    @Test
    void theLeaseTtlComesFromTheEnvironmentAndABadOneIsAUsageError() throws IOException {
        db.checkpoint();
        CliRunner.Result tooShort = cli.copy().env("POWDB_BACKUP_LEASE_TTL", "1s")
                .run("backup", "--data-dir", db.dir().toString(), "--repo", repo);
        assertEquals(2, tooShort.exit(), tooShort.toString());
        assertTrue(tooShort.err().contains("$POWDB_BACKUP_LEASE_TTL must be at least 4s"), tooShort.err());
        CliRunner.Result fine = cli.copy().env("POWDB_BACKUP_LEASE_TTL", "4s")
                .run("backup", "--data-dir", db.dir().toString(), "--repo", repo);
        assertEquals(0, fine.exit(), fine.toString());
        CliRunner.Result notADuration = cli.copy().env("POWDB_BACKUP_LEASE_TTL", "soon")
                .run("prune", "--repo", repo);
        assertEquals(2, notADuration.exit(), notADuration.toString());
        assertTrue(notADuration.err().contains("$POWDB_BACKUP_LEASE_TTL"), notADuration.err());
    }
}
