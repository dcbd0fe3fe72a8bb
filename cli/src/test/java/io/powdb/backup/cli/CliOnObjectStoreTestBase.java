package io.powdb.backup.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.powdb.backup.repo.Json;
import io.powdb.backup.testing.PowDbFixture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The CLI, run in-process exactly as a user runs it, against a real object store server on 127.0.0.1:
 * full and incremental backups, list, verify, byte-exact restores, two repositories in one bucket, and
 * damaged or missing objects. A subclass provides the store (S3Proxy, the GCS test server), the CLI's
 * environment for it, and an admin client that works on the objects behind the tool's back.
 *
 * <p>Each test uses its own key prefixes, so a subclass may share one server between its tests.
 */
abstract class CliOnObjectStoreTestBase {
    @TempDir
    Path tmp;

    /** A CLI whose environment reaches the store; a fresh one per call. */
    abstract CliRunner cli();

    /** The repository URL of {@code prefix} (no trailing slash) in the test bucket, e.g. {@code s3://bucket/prefix}. */
    abstract String repoUrl(String prefix);

    /** The keys of all objects whose key starts with {@code prefix}, sorted. */
    abstract List<String> keys(String prefix) throws IOException;

    abstract byte[] readObject(String key) throws IOException;

    /** Replaces an object's content through the store's own API, as a bit flip or a bad copy would. */
    abstract void overwriteObject(String key, byte[] content) throws IOException;

    abstract void deleteObject(String key) throws IOException;

    /** Pages of the big table: enough that its heap image is uploaded in several parts or chunks. */
    abstract int bigTablePages();

    /** Store-specific checks after the round trip, e.g. that the big heap image really went up in parts. */
    void afterRoundTrip(String prefix, JsonNode fullManifest) throws IOException {
    }

    @Test
    void fullIncrementalListVerifyAndRestoresAreByteExact() throws IOException {
        String prefix = "roundtrip/some/prefix";
        String repo = repoUrl(prefix);
        PowDbFixture db = PowDbFixture.create(tmp.resolve("data"), PowDbFixture.Version.V0_5, 7);
        db.createTable("users", 30);
        db.createTable("events", bigTablePages());
        db.writeOptionalWholeFiles();
        db.checkpoint();
        CliRunner cli = cli();

        JsonNode full = json(cli.run("backup", "--data-dir", db.dir().toString(), "--repo", repo, "--json"));
        assertEquals("full", full.get("type").asText());
        assertTrue(full.get("base_lsn").isNull());
        assertEquals(db.lastLsn(), full.get("source_lsn").asLong());
        assertTrue(full.get("bytes_scanned").asLong() > (long) (bigTablePages() + 30) * 4096, full.toString());
        // Stored zstd-compressed (the fixture's heaps to about 57%).
        assertTrue(full.get("bytes_uploaded").asLong() > (long) (bigTablePages() + 30) * 4096 / 3, full.toString());
        Path fullState = snapshot(db, "full");

        db.updatePages("users", 3, 7);
        db.updatePages("events", 1, bigTablePages() / 2, bigTablePages() - 1);
        db.checkpoint();
        JsonNode inc = json(cli.run("backup", "--data-dir", db.dir().toString(), "--repo", repo, "--json"));
        assertEquals("incremental", inc.get("type").asText());
        assertEquals(full.get("source_lsn").asLong(), inc.get("base_lsn").asLong());
        // The newest page LSN is the transaction's last update; its commit record (lastLsn) is on no page,
        // and catalog.lsn still holds the LSN of the full backup.
        assertEquals(db.lastLsn() - 1, inc.get("source_lsn").asLong());
        assertEquals(5, inc.get("pages_changed").asLong(), inc.toString());
        assertTrue(inc.get("bytes_uploaded").asLong() < full.get("bytes_uploaded").asLong() / 10, inc.toString());

        JsonNode list = json(cli.run("list", "--repo", repo, "--json"));
        assertEquals(2, list.size(), list.toString());
        assertEquals(full.get("id").asText(), list.get(0).get("id").asText());
        assertEquals(inc.get("id").asText(), list.get(1).get("id").asText());
        assertEquals(full.get("id").asText(), list.get(1).get("parent").asText());
        assertEquals(list.get(0).get("chain").asText(), list.get(1).get("chain").asText());
        assertEquals(list.get(0).get("history").asText(), list.get(1).get("history").asText());

        JsonNode verify = json(cli.run("verify", "--repo", repo, "--json"));
        assertTrue(verify.get("ok").asBoolean(), verify.toString());
        assertEquals(2, verify.get("backups_checked").size());
        assertTrue(verify.get("failures").isEmpty());

        Path latest = tmp.resolve("restored-latest");
        JsonNode restored = json(cli.run("restore", "--repo", repo, "--target", latest.toString(), "--json"));
        assertEquals(inc.get("id").asText(), restored.get("id").asText());
        assertEquals(2, restored.get("chain").size());
        PowDbFixture.assertSameDatabase(db.dir(), latest, true);

        Path byId = tmp.resolve("restored-by-id");
        JsonNode first = json(cli.run("restore", "--repo", repo, "--target", byId.toString(),
                "--backup", full.get("id").asText(), "--json"));
        assertEquals(full.get("id").asText(), first.get("id").asText());
        PowDbFixture.assertSameDatabase(fullState, byId, true);

        Path byLsn = tmp.resolve("restored-by-lsn");
        JsonNode atLsn = json(cli.run("restore", "--repo", repo, "--target", byLsn.toString(),
                "--to-lsn", Long.toString(full.get("source_lsn").asLong()), "--json"));
        assertEquals(full.get("id").asText(), atLsn.get("id").asText());
        PowDbFixture.assertSameDatabase(fullState, byLsn, true);

        // Everything went under the prefix, laid out as docs/REPOSITORY-FORMAT.md says.
        List<String> keys = keys("roundtrip/");
        assertTrue(keys.stream().allMatch(k -> k.startsWith(prefix + "/")), keys.toString());
        assertTrue(keys.contains(prefix + "/powdb-backup.json"), keys.toString());
        assertEquals(List.of(prefix + "/manifests/" + full.get("id").asText() + ".json",
                        prefix + "/manifests/" + inc.get("id").asText() + ".json"),
                keys.stream().filter(k -> k.startsWith(prefix + "/manifests/")).toList());
        JsonNode manifest = Json.MAPPER.readTree(readObject(prefix + "/manifests/" + full.get("id").asText() + ".json"));
        assertEquals(full.get("id").asText(), manifest.get("id").asText());
        afterRoundTrip(prefix, manifest);
    }

    @Test
    void twoDatabasesUnderTwoPrefixesOfOneBucketStaySeparate() throws IOException {
        PowDbFixture a = PowDbFixture.create(tmp.resolve("a"), PowDbFixture.Version.V0_4, 1);
        a.createTable("users", 20);
        a.checkpoint();
        PowDbFixture b = PowDbFixture.create(tmp.resolve("b"), PowDbFixture.Version.V0_5, 2);
        b.createTable("users", 12);
        b.createTable("items", 5);
        b.checkpoint();
        // "twins/db2/" starts with "twins/db" but not with "twins/db/": a prefix match must respect the slash.
        String repoA = repoUrl("twins/db");
        String repoB = repoUrl("twins/db2");
        CliRunner cli = cli();

        JsonNode a1 = json(cli.run("backup", "--data-dir", a.dir().toString(), "--repo", repoA, "--json"));
        JsonNode b1 = json(cli.run("backup", "--data-dir", b.dir().toString(), "--repo", repoB, "--json"));
        assertEquals("full", b1.get("type").asText(), "B's repository is empty: its first backup is full");
        a.updatePages("users", 2, 9);
        a.checkpoint();
        JsonNode a2 = json(cli.run("backup", "--data-dir", a.dir().toString(), "--repo", repoA, "--json"));
        assertEquals("incremental", a2.get("type").asText());
        assertEquals(a1.get("source_lsn").asLong(), a2.get("base_lsn").asLong());

        JsonNode listA = json(cli.run("list", "--repo", repoA, "--json"));
        JsonNode listB = json(cli.run("list", "--repo", repoB, "--json"));
        assertEquals(List.of(a1.get("id").asText(), a2.get("id").asText()), ids(listA));
        assertEquals(List.of(b1.get("id").asText()), ids(listB));
        assertNotEquals(listA.get(0).get("chain").asText(), listB.get(0).get("chain").asText());

        assertEquals(2, json(cli.run("verify", "--repo", repoA, "--json")).get("backups_checked").size());
        assertEquals(1, json(cli.run("verify", "--repo", repoB, "--json")).get("backups_checked").size());

        Path restoredA = tmp.resolve("restored-a");
        Path restoredB = tmp.resolve("restored-b");
        json(cli.run("restore", "--repo", repoA, "--target", restoredA.toString(), "--json"));
        json(cli.run("restore", "--repo", repoB, "--target", restoredB.toString(), "--json"));
        PowDbFixture.assertSameDatabase(a.dir(), restoredA, true);
        PowDbFixture.assertSameDatabase(b.dir(), restoredB, true);

        List<String> keys = keys("twins/");
        assertTrue(keys.stream().allMatch(k -> k.startsWith("twins/db/") || k.startsWith("twins/db2/")), keys.toString());
        assertTrue(keys.contains("twins/db/powdb-backup.json") && keys.contains("twins/db2/powdb-backup.json"));
        assertEquals(2, keys.stream().filter(k -> k.startsWith("twins/db/manifests/")).count());
        assertEquals(1, keys.stream().filter(k -> k.startsWith("twins/db2/manifests/")).count());
    }

    @Test
    void aDamagedObjectIsExitStatusThreeForVerifyAndRestore() throws IOException {
        String prefix = "damaged/db";
        String repo = repoUrl(prefix);
        PowDbFixture db = smallDatabase();
        CliRunner cli = cli();
        json(cli.run("backup", "--data-dir", db.dir().toString(), "--repo", repo, "--json"));

        String heapKey = onlyKeyEndingWith(prefix + "/data/", "/heaps/users.heap");
        byte[] bytes = readObject(heapKey);
        bytes[5000] ^= 0x10;
        overwriteObject(heapKey, bytes);

        CliRunner.Result verify = cli.run("verify", "--repo", repo);
        assertEquals(3, verify.exit(), verify.toString());
        assertTrue(verify.out().contains("users.heap"), verify.toString());
        JsonNode report = Json.MAPPER.readTree(cli.run("verify", "--repo", repo, "--json").out());
        assertFalse(report.get("ok").asBoolean(), report.toString());
        assertFalse(report.get("failures").isEmpty(), report.toString());

        assertRestoreFailsWithIntegrityError(cli, repo, "users.heap");
    }

    @Test
    void aMissingObjectIsExitStatusThreeForVerifyAndRestore() throws IOException {
        String prefix = "missing/db";
        String repo = repoUrl(prefix);
        PowDbFixture db = smallDatabase();
        CliRunner cli = cli();
        json(cli.run("backup", "--data-dir", db.dir().toString(), "--repo", repo, "--json"));

        deleteObject(onlyKeyEndingWith(prefix + "/data/", "/maps/orders.heap.map"));

        CliRunner.Result verify = cli.run("verify", "--repo", repo);
        assertEquals(3, verify.exit(), verify.toString());
        assertTrue(verify.out().contains("orders.heap"), verify.toString());
        assertRestoreFailsWithIntegrityError(cli, repo, "orders.heap");
    }

    private void assertRestoreFailsWithIntegrityError(CliRunner cli, String repo, String mentions) throws IOException {
        Path parent = Files.createDirectories(tmp.resolve("restores"));
        Path target = parent.resolve("db");
        CliRunner.Result restore = cli.run("restore", "--repo", repo, "--target", target.toString());
        assertOneLineError(restore, 3, mentions);
        assertFalse(Files.exists(target), "a failed restore leaves no target behind");
        try (Stream<Path> left = Files.list(parent)) {
            assertEquals(List.of(), left.toList(), "a failed restore leaves no staging directory behind");
        }
    }

    PowDbFixture smallDatabase() throws IOException {
        PowDbFixture db = PowDbFixture.create(tmp.resolve("small"), PowDbFixture.Version.V0_4, 5);
        db.createTable("users", 30);
        db.createTable("orders", 10);
        db.writeOptionalWholeFiles();
        db.checkpoint();
        return db;
    }

    String onlyKeyEndingWith(String prefix, String suffix) throws IOException {
        List<String> found = keys(prefix).stream().filter(k -> k.endsWith(suffix)).toList();
        assertEquals(1, found.size(), "objects ending with " + suffix + ": " + keys(prefix));
        return found.get(0);
    }

    static JsonNode json(CliRunner.Result result) throws IOException {
        assertEquals(0, result.exit(), result.toString());
        return Json.MAPPER.readTree(result.out());
    }

    static List<String> ids(JsonNode list) {
        return Stream.iterate(0, i -> i < list.size(), i -> i + 1).map(i -> list.get(i).get("id").asText()).toList();
    }

    static void assertOneLineError(CliRunner.Result result, int exit, String mentions) {
        assertEquals(exit, result.exit(), result.toString());
        String err = result.err().strip();
        assertTrue(err.contains(mentions), result.toString());
        assertEquals(1, err.lines().count(), "one line on stderr: " + result);
        assertTrue(err.startsWith("powdb-backup: error: "), result.toString());
    }

    Path snapshot(PowDbFixture db, String name) throws IOException {
        return PowDbFixture.copyDatabase(db.dir(), tmp.resolve("snap-" + name));
    }
}
