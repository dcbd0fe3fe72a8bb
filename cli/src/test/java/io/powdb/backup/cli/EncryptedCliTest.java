package io.powdb.backup.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.powdb.backup.repo.Json;
import io.powdb.backup.store.s3.S3ProxyServer;
import io.powdb.backup.testing.PowDbFixture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Encryption as a user meets it, through the CLI in-process: keygen, encrypted backup, ship and point-in-time
 * restore on the local store and on S3Proxy, the wrong key and no key, rekey; and no key material in any
 * output, text or --json.
 */
class EncryptedCliTest {
    @TempDir
    Path tmp;
    private final List<CliRunner.Result> outputs = new ArrayList<>();

    private CliRunner.Result run(CliRunner cli, String... args) {
        CliRunner.Result r = cli.run(args);
        outputs.add(r);
        return r;
    }

    private CliRunner.Result ok(CliRunner cli, String... args) {
        CliRunner.Result r = run(cli, args);
        assertEquals(0, r.exit(), r.toString());
        return r;
    }

    private static JsonNode json(CliRunner.Result r) throws IOException {
        return Json.MAPPER.readTree(r.out());
    }

    /** The key's bytes as they appear in its file, and every other way they could be printed. */
    private static List<String> secrets(Path keyFile) throws IOException {
        String line = Files.readAllLines(keyFile).stream().filter(l -> l.startsWith("key: ")).findFirst().orElseThrow();
        byte[] key = Base64.getDecoder().decode(line.substring(5).strip());
        assertEquals(32, key.length);
        return List.of(Base64.getEncoder().encodeToString(key), Base64.getEncoder().withoutPadding().encodeToString(key),
                HexFormat.of().formatHex(key), HexFormat.of().withUpperCase().formatHex(key),
                Base64.getUrlEncoder().encodeToString(key));
    }

    private void assertNoSecretPrinted(Path... keyFiles) throws IOException {
        assertTrue(outputs.size() > 10, outputs.size() + " outputs");
        for (Path f : keyFiles) {
            for (String secret : secrets(f)) {
                for (CliRunner.Result r : outputs) {
                    assertFalse(r.out().contains(secret) || r.err().contains(secret), "key material printed: " + r);
                }
            }
        }
    }

    @Test
    void keygenWritesAnOwnerOnlyKeyAndNeverOverwritesOne() throws IOException {
        Path file = tmp.resolve("k.key");
        CliRunner cli = new CliRunner();
        JsonNode made = json(ok(cli, "keygen", "--output", file.toString(), "--json"));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
        byte[] before = Files.readAllBytes(file);
        CliRunner.Result again = run(cli, "keygen", "--output", file.toString());
        assertEquals(Main.EXIT_FAILURE, again.exit(), again.toString());
        assertTrue(again.err().contains("already exists"), again.err());
        assertTrue(java.util.Arrays.equals(before, Files.readAllBytes(file)));
        assertEquals(16, made.get("key_id").asText().length());
        CliRunner.Result missing = run(cli, "list", "--repo", tmp.resolve("r").toString(), "--encryption-key-file",
                tmp.resolve("nope.key").toString());
        assertEquals(Main.EXIT_FAILURE, missing.exit());
        assertTrue(missing.err().contains("does not exist"), missing.err());
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
        CliRunner.Result warned = run(cli, "keygen", "--output", tmp.resolve("other.key").toString(),
                "--encryption-key-file", file.toString());
        assertEquals(0, warned.exit(), warned.toString());
        assertNoSecretPrintedLater(file);
    }

    private void assertNoSecretPrintedLater(Path file) throws IOException {
        for (String secret : secrets(file)) {
            for (CliRunner.Result r : outputs) {
                assertFalse(r.out().contains(secret) || r.err().contains(secret), "key material printed: " + r);
            }
        }
    }

    @Test
    void encryptedRoundTripOnTheLocalStore() throws IOException {
        scenario(new CliRunner().env("POWDB_BACKUP_TEMP_DIR", tmp.resolve("scratch").toString()),
                tmp.resolve("repo").toString());
        // everything stored is ciphertext; the key objects hold wrapped keys only
        try (Stream<Path> files = Files.walk(tmp.resolve("repo"))) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                String rel = tmp.resolve("repo").relativize(f).toString();
                if (rel.startsWith("data/") || rel.startsWith("manifests/") || rel.endsWith(".seg")) {
                    assertEquals("PDBENC01", new String(Files.readAllBytes(f), 0, 8, java.nio.charset.StandardCharsets.US_ASCII), rel);
                }
            }
        }
    }

    @Test
    void encryptedRoundTripOnS3() throws Exception {
        try (S3ProxyServer server = new S3ProxyServer()) {
            String saveId = System.getProperty("aws.accessKeyId");
            String saveSecret = System.getProperty("aws.secretAccessKey");
            System.setProperty("aws.accessKeyId", S3ProxyServer.ACCESS_KEY);
            System.setProperty("aws.secretAccessKey", S3ProxyServer.SECRET_KEY);
            try {
                CliRunner cli = new CliRunner()
                        .env("POWDB_BACKUP_S3_ENDPOINT", server.endpoint().toString())
                        .env("POWDB_BACKUP_S3_REGION", "us-east-1")
                        .env("POWDB_BACKUP_S3_PATH_STYLE", "true")
                        .env("POWDB_BACKUP_TEMP_DIR", tmp.resolve("scratch").toString());
                scenario(cli, "s3://" + S3ProxyServer.BUCKET + "/enc/db1");
                byte[] manifest = server.admin().listObjectsV2Paginator(r -> r.bucket(S3ProxyServer.BUCKET).prefix("enc/db1/manifests/"))
                        .contents().stream().findFirst().map(o -> server.admin().getObjectAsBytes(r -> r
                                .bucket(S3ProxyServer.BUCKET).key(o.key())).asByteArray()).orElseThrow();
                assertEquals("PDBENC01", new String(manifest, 0, 8, java.nio.charset.StandardCharsets.US_ASCII));
            } finally {
                restore("aws.accessKeyId", saveId);
                restore("aws.secretAccessKey", saveSecret);
            }
        }
    }

    private static void restore(String property, String value) {
        if (value == null) {
            System.clearProperty(property);
        } else {
            System.setProperty(property, value);
        }
    }

    private void scenario(CliRunner base, String repo) throws IOException {
        Path keyA = tmp.resolve("a.key");
        Path keyB = tmp.resolve("b.key");
        String idA = json(ok(base, "keygen", "--output", keyA.toString(), "--json")).get("key_id").asText();
        String idB = json(ok(base, "keygen", "--output", keyB.toString(), "--json")).get("key_id").asText();
        CliRunner withA = base.copy().env("POWDB_BACKUP_ENCRYPTION_KEY_FILE", keyA.toString());
        CliRunner withB = base.copy().env("POWDB_BACKUP_ENCRYPTION_KEY_FILE", keyB.toString());

        PowDbFixture db = PowDbFixture.create(tmp.resolve("data"), PowDbFixture.Version.V0_5, 11);
        db.createTable("users", 20);
        db.createTable("events", 40);
        db.writeOptionalWholeFiles();
        db.checkpoint();
        String data = db.dir().toString();
        JsonNode full = json(ok(withA, "backup", "--data-dir", data, "--repo", repo, "--full", "--json"));
        assertEquals("full", full.get("type").asText());
        db.updatePages("users", 1, 2);
        ok(withA, "ship", "--data-dir", data, "--repo", repo, "--once", "--json");
        JsonNode inc = json(ok(base, "backup", "--data-dir", data, "--repo", repo, "--json",
                "--encryption-key-file", keyA.toString()));
        assertEquals("incremental", inc.get("type").asText());
        db.updatePages("events", 5, 30);
        db.updatePages("users", 7);
        ok(withA, "ship", "--data-dir", data, "--repo", repo, "--once");
        long last = db.lastLsn();

        // point-in-time restore to the last commit, byte-exact once PowDB recovers it
        Path pit = tmp.resolve("pit");
        ok(withA, "restore", "--repo", repo, "--target", pit.toString(), "--to-lsn", Long.toString(last), "--json");
        Path expected = PowDbFixture.copyDatabase(db.dir(), tmp.resolve("expected"));
        PowDbFixture.open(expected, db.version(), 1);
        Path actual = PowDbFixture.copyDatabase(pit, tmp.resolve("actual"));
        PowDbFixture.open(actual, db.version(), 1);
        PowDbFixture.assertSameDatabase(expected, actual, true);
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(pit)));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(pit.resolve("users.heap"))));

        JsonNode list = json(ok(withA, "list", "--repo", repo, "--json"));
        assertEquals(2, list.size());
        for (JsonNode row : list) {
            assertEquals(idA, row.get("master_key_ids").get(0).asText(), row.toString());
        }
        ok(withA, "list", "--repo", repo);
        ok(withA, "status", "--repo", repo);
        JsonNode status = json(ok(withA, "status", "--repo", repo, "--json"));
        assertEquals(idA, status.get("encryption").get("master_key_id").asText(), status.toString());
        JsonNode verified = json(ok(withA, "verify", "--repo", repo, "--json"));
        assertTrue(verified.get("ok").asBoolean(), verified.toString());
        ok(withA, "verify", "--repo", repo);
        ok(withA, "prune", "--repo", repo, "--dry-run");
        ok(withA, "prune", "--repo", repo, "--dry-run", "--json");

        // no key, or another key: a clear error naming the ids, nothing written
        for (CliRunner wrong : List.of(base, withB)) {
            Path target = tmp.resolve("never-" + outputs.size());
            CliRunner.Result r = run(wrong, "restore", "--repo", repo, "--target", target.toString());
            assertNotEquals(0, r.exit(), r.toString());
            assertTrue(r.err().contains(idA), r.err());
            assertFalse(Files.exists(target), r.toString());
            CliRunner.Result l = run(wrong, "list", "--repo", repo);
            assertNotEquals(0, l.exit(), l.toString());
            assertTrue(l.err().contains(idA), l.err());
            CliRunner.Result v = run(wrong, "verify", "--repo", repo, "--json");
            assertNotEquals(0, v.exit(), v.toString());
            CliRunner.Result b = run(wrong, "backup", "--data-dir", data, "--repo", repo);
            assertNotEquals(0, b.exit(), b.toString());
            assertTrue(b.err().contains(idA), b.err());
        }
        assertTrue(outputs.get(outputs.size() - 1).err().contains(idB));

        // rotate: the new key opens everything, the old one nothing; new backups need the new key
        JsonNode rekeyed = json(ok(withA, "rekey", "--repo", repo, "--new-key-file", keyB.toString(), "--json"));
        assertEquals(idB, rekeyed.get("new_key_id").asText());
        assertEquals(4, rekeyed.get("key_objects").asInt()); // two backups, two WAL timelines (one per ship run)
        assertNotEquals(0, run(withA, "list", "--repo", repo).exit());
        ok(withB, "verify", "--repo", repo);
        assertEquals(idB, json(ok(withB, "status", "--repo", repo, "--json")).get("encryption").get("master_key_id").asText());
        ok(withB, "restore", "--repo", repo, "--target", tmp.resolve("after-rekey").toString(), "--to-lsn",
                Long.toString(last));
        ok(withB, "backup", "--data-dir", data, "--repo", repo);
        assertNotEquals(0, run(withA, "backup", "--data-dir", data, "--repo", repo).exit());

        assertNoSecretPrinted(keyA, keyB);
    }
}
