package io.powdb.backup.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.powdb.backup.integrity.Blake3;
import io.powdb.backup.repo.Json;
import io.powdb.backup.store.s3.S3ProxyServer;
import io.powdb.backup.testing.PowDbFixture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A backup written by the CLI to S3 is readable with standard tools alone: {@code aws s3 ls} lists the
 * manifests, {@code aws s3 cp} fetches a manifest (plain JSON) and objects whose BLAKE3 is the one the
 * manifest records and which {@code zstd -d} turns into the database's files byte for byte, including an
 * image uploaded in several parts. The second test runs the README's "Reading a backup by hand in an
 * emergency" recipe word for word, decompression included.
 *
 * <p>Runs only where the {@code aws} and {@code zstd} commands work (Debian packages {@code awscli} and
 * {@code zstd}, which {@code .ci/run} installs); {@code /usr/bin/aws} is preferred over other copies on the PATH.
 */
class AwsCliReadsBackupsTest {
    private static final String BUCKET = S3ProxyServer.BUCKET;
    private static final long TIMEOUT_SECONDS = 60;

    /** The README's recipe, with REPO and ID from the environment; must stay identical to the README. */
    static final String README_RECIPE = String.join("\n",
            "aws s3 ls \"$REPO/manifests/\"",
            "aws s3 cp \"$REPO/manifests/$ID.json\" manifest.json",
            "for dir in $(jq -r '[.files[] | .object.key, .page_map.key, .sources[]?.key | select(. != null)",
            "                     | split(\"/\")[0:2] | join(\"/\")] | unique[]' manifest.json); do",
            "  aws s3 cp --recursive \"$REPO/$dir/\" \"backup/$dir/\"",
            "done");

    /** The README's decompression of the fetched objects, run after the recipe; must stay identical to the README. */
    static final String README_DECOMPRESS = String.join("\n",
            "for key in $(jq -r '[.files[] | .object, .sources[]? | select(.compression? == \"zstd\") | .key] | unique[]' manifest.json); do",
            "  zstd -d -q --rm \"backup/$key\" -o \"backup/$key.plain\" && mv \"backup/$key.plain\" \"backup/$key\"",
            "done");

    static Path aws;
    static String awsVersion;
    static Path zstd;
    /** Why the tests cannot run here, or null. */
    static String skipReason;
    static S3ProxyServer server;

    @TempDir
    Path tmp;
    @RegisterExtension
    final SystemProperties properties = new SystemProperties();

    @BeforeAll
    static void findAwsCli() throws Exception {
        Optional<Path> found = findExecutable("aws", Path.of("/usr/bin/aws"));
        if (found.isEmpty()) {
            skipReason = "no 'aws' command on this machine, so the check that the AWS CLI reads S3 backups cannot "
                    + "run; install it with 'apt-get install awscli' (.ci/run does)";
            return;
        }
        Process version = new ProcessBuilder(found.get().toString(), "--version").redirectErrorStream(true).start();
        boolean exited = version.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        if (!exited) {
            version.destroyForcibly().waitFor();
        }
        String output = new String(version.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        if (!exited || version.exitValue() != 0) {
            skipReason = "'" + found.get() + " --version' does not work, so the AWS CLI check cannot run: " + output;
            return;
        }
        aws = found.get();
        awsVersion = output;
        System.out.println("using " + aws + ": " + awsVersion);
        Optional<Path> zstdFound = findExecutable("zstd", Path.of("/usr/bin/zstd"));
        if (zstdFound.isEmpty()) {
            skipReason = "no 'zstd' command on this machine, which decompresses the stored objects, so the check "
                    + "that standard tools read S3 backups cannot run; install it with 'apt-get install zstd' "
                    + "(.ci/run does)";
            return;
        }
        zstd = zstdFound.get();
    }

    /** Skips each test, visibly, where there is no working aws command; else starts S3Proxy once. */
    @BeforeEach
    void awsCliAndS3() throws Exception {
        assumeTrue(skipReason == null, () -> "SKIPPED: " + skipReason);
        if (server == null) {
            server = new S3ProxyServer();
        }
        properties.set("aws.accessKeyId", S3ProxyServer.ACCESS_KEY);
        properties.set("aws.secretAccessKey", S3ProxyServer.SECRET_KEY);
    }

    @AfterAll
    static void stopS3() throws IOException {
        if (server != null) {
            server.close();
            server = null;
        }
    }

    @Test
    void awsCliListsTheManifestsAndCopiesObjectsByteForByte() throws Exception {
        String repo = "s3://" + BUCKET + "/backups/db1";
        PowDbFixture db = PowDbFixture.create(tmp.resolve("data"), PowDbFixture.Version.V0_5, 3);
        db.createTable("users", 30);
        db.createTable("events", 3000); // 11.7 MiB, stored zstd-compressed in about 6.7 MiB: two 5 MiB parts
        db.writeOptionalWholeFiles();
        db.checkpoint();
        String id = backup(db, repo);

        Result ls = runAws("s3", "ls", repo + "/manifests/");
        assertEquals(List.of(id + ".json"), lastColumn(ls.out()), ls.toString());

        Path downloads = Files.createDirectories(tmp.resolve("downloads"));
        Path manifestFile = downloads.resolve("manifest.json");
        runAws("s3", "cp", repo + "/manifests/" + id + ".json", manifestFile.toString());
        JsonNode manifest = Json.MAPPER.readTree(manifestFile.toFile());
        assertEquals(id, manifest.get("id").asText());
        assertEquals("powdb-backup/manifest", manifest.get("format").asText());

        JsonNode catalog = fileEntry(manifest, PowDbFixture.CATALOG);
        Path catalogCopy = downloads.resolve(PowDbFixture.CATALOG + ".zst");
        runAws("s3", "cp", repo + "/" + catalog.get("object").get("key").asText(), catalogCopy.toString());
        assertArrayEquals(Files.readAllBytes(db.catalogPath()), decompress(catalog.get("object"), catalogCopy));

        JsonNode events = fileEntry(manifest, "events.heap");
        JsonNode image = events.get("sources").get(0);
        String imageKey = image.get("key").asText();
        String eTag = server.admin().headObject(r -> r.bucket(BUCKET).key("backups/db1/" + imageKey)).eTag();
        assertTrue(eTag.matches("\"?[0-9a-f]{32}-2\"?"), "a 2-part upload, ETag " + eTag);
        Path heapCopy = downloads.resolve("events.heap.zst");
        runAws("s3", "cp", repo + "/" + imageKey, heapCopy.toString());
        assertArrayEquals(Files.readAllBytes(db.heapPath("events")), decompress(image, heapCopy));
    }

    /**
     * Checks a downloaded object against its reference as {@code b3sum} would (the hash of the bytes as stored),
     * then decompresses it with {@code zstd -d} and checks the length against {@code content_size}.
     */
    private byte[] decompress(JsonNode ref, Path stored) throws Exception {
        assertEquals(ref.get("blake3").asText(), Blake3.hex(Files.readAllBytes(stored)), ref.toString());
        assertEquals(ref.get("size").asLong(), Files.size(stored));
        assertEquals("zstd", ref.get("compression").asText(), ref.toString());
        Path plain = stored.resolveSibling(stored.getFileName() + ".plain");
        Result result = run(List.of(zstd.toString(), "-d", "-q", stored.toString(), "-o", plain.toString()),
                awsEnvironment(), tmp);
        assertEquals(0, result.exit(), result.toString());
        byte[] content = Files.readAllBytes(plain);
        assertEquals(ref.get("content_size").asLong(), content.length, ref.toString());
        return content;
    }

    @Test
    void theReadmeEmergencyRecipeFetchesEveryObjectABackupNeeds() throws Exception {
        Optional<Path> jq = findExecutable("jq", null);
        assumeTrue(jq.isPresent(), "SKIPPED: no 'jq' command, which the README's recipe uses");
        String readme = Files.readString(Path.of("..", "README.md"));
        for (String line : README_RECIPE.split("\n")) {
            assertTrue(readme.contains(line + "\n"), "the README's recipe lacks: " + line);
        }
        assertTrue(readme.contains(README_DECOMPRESS), "the README's decompression differs from README_DECOMPRESS");
        String repo = "s3://" + BUCKET + "/prod/db1";
        PowDbFixture db = PowDbFixture.create(tmp.resolve("data"), PowDbFixture.Version.V0_4, 4);
        db.createTable("users", 30);
        db.createTable("orders", 10);
        db.writeOptionalWholeFiles();
        db.checkpoint();
        String full = backup(db, repo);
        db.updatePages("users", 4);
        db.checkpoint();
        String incremental = backup(db, repo);

        Path work = Files.createDirectories(tmp.resolve("emergency"));
        Map<String, String> env = awsEnvironment();
        // The recipe names no endpoint, as for AWS itself; this awscli may predate AWS_ENDPOINT_URL (2.13), so
        // an "aws" first on the PATH adds --endpoint-url and runs the real one.
        Path bin = Files.createDirectories(tmp.resolve("bin"));
        Path wrapper = bin.resolve("aws");
        Files.writeString(wrapper, "#!/bin/sh\nexec '" + aws + "' --endpoint-url '" + server.endpoint() + "' \"$@\"\n");
        assertTrue(wrapper.toFile().setExecutable(true));
        env.put("PATH", bin + File.pathSeparator + zstd.getParent() + File.pathSeparator + env.get("PATH"));
        env.put("REPO", repo);
        env.put("ID", incremental);
        Result recipe = run(List.of("bash", "-euo", "pipefail", "-c", README_RECIPE + "\n" + README_DECOMPRESS), env, work);
        assertTrue(recipe.out().contains(full + ".json") && recipe.out().contains(incremental + ".json"), recipe.toString());

        // Every object the incremental's manifest names, in its own data directory and in the full backup's,
        // was fetched: byte for byte as stored, or as its content where the manifest says it is compressed.
        JsonNode manifest = Json.MAPPER.readTree(work.resolve("manifest.json").toFile());
        assertEquals(incremental, manifest.get("id").asText());
        TreeSet<String> dataDirs = new TreeSet<>();
        int decompressed = 0;
        for (JsonNode ref : objectRefs(manifest)) {
            String key = ref.get("key").asText();
            dataDirs.add(key.substring(0, key.indexOf('/', "data/".length())));
            byte[] stored = server.admin().getObjectAsBytes(r -> r.bucket(BUCKET).key("prod/db1/" + key)).asByteArray();
            assertEquals(ref.get("blake3").asText(), Blake3.hex(stored), key);
            Path copy = work.resolve("backup").resolve(key);
            assertTrue(Files.isRegularFile(copy), "not fetched: " + key + "\n" + recipe);
            if (ref.has("compression")) {
                assertEquals("zstd", ref.get("compression").asText());
                byte[] content = com.github.luben.zstd.Zstd.decompress(stored, Math.toIntExact(ref.get("content_size").asLong()));
                assertEquals(ref.get("content_size").asLong(), content.length, key);
                assertArrayEquals(content, Files.readAllBytes(copy), key);
                decompressed++;
            } else {
                assertArrayEquals(stored, Files.readAllBytes(copy), key);
            }
        }
        assertTrue(decompressed >= 4, "heap images, page packs and whole files are compressed: " + decompressed);
        assertEquals(2, dataDirs.size(), "the incremental reads from its own and the full backup's data: " + dataDirs);
        assertArrayEquals(Files.readAllBytes(db.catalogPath()),
                Files.readAllBytes(work.resolve("backup").resolve(fileEntry(manifest, PowDbFixture.CATALOG)
                        .get("object").get("key").asText())));
    }

    private String backup(PowDbFixture db, String repo) throws IOException {
        CliRunner.Result result = new CliRunner()
                .env("POWDB_BACKUP_S3_ENDPOINT", server.endpoint().toString())
                .env("POWDB_BACKUP_S3_REGION", "us-east-1")
                .env("POWDB_BACKUP_S3_PART_SIZE_MIB", "5")
                .env("POWDB_BACKUP_TEMP_DIR", tmp.toString())
                .run("backup", "--data-dir", db.dir().toString(), "--repo", repo, "--json");
        assertEquals(0, result.exit(), result.toString());
        return Json.MAPPER.readTree(result.out()).get("id").asText();
    }

    private static JsonNode fileEntry(JsonNode manifest, String name) {
        for (JsonNode file : manifest.get("files")) {
            if (file.get("name").asText().equals(name)) {
                return file;
            }
        }
        throw new AssertionError("no " + name + " in " + manifest);
    }

    private static List<JsonNode> objectRefs(JsonNode manifest) {
        List<JsonNode> refs = new ArrayList<>();
        for (JsonNode file : manifest.get("files")) {
            if (file.has("object") && !file.get("object").isNull()) {
                refs.add(file.get("object"));
            }
            if (file.has("page_map") && !file.get("page_map").isNull()) {
                refs.add(file.get("page_map"));
            }
            if (file.has("sources")) {
                file.get("sources").forEach(refs::add);
            }
        }
        assertTrue(refs.size() > 5, refs.toString());
        return refs;
    }

    private static List<String> lastColumn(String lsOutput) {
        return lsOutput.lines().filter(line -> !line.isBlank()).map(line -> line.substring(line.lastIndexOf(' ') + 1)).toList();
    }

    record Result(int exit, String out, String err) {
        @Override
        public String toString() {
            return "exit " + exit + "\n--- stdout\n" + out + "\n--- stderr\n" + err;
        }
    }

    private Result runAws(String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(aws.toString(), "--endpoint-url", server.endpoint().toString()));
        command.addAll(List.of(args));
        Result result = run(command, awsEnvironment(), tmp);
        assertEquals(0, result.exit(), String.join(" ", command) + " (" + awsVersion + ")\n" + result);
        return result;
    }

    /**
     * The environment of an operator's shell: credentials and region in the standard variables, no profile or
     * config of this machine's user, and path-style addressing as for any S3-compatible store.
     */
    private Map<String, String> awsEnvironment() throws IOException {
        Path config = tmp.resolve("aws-config");
        if (!Files.exists(config)) {
            Files.writeString(config, "[default]\ns3 =\n    addressing_style = path\n");
        }
        Map<String, String> env = new HashMap<>(System.getenv());
        env.keySet().removeIf(name -> name.startsWith("AWS_"));
        env.put("AWS_ACCESS_KEY_ID", S3ProxyServer.ACCESS_KEY);
        env.put("AWS_SECRET_ACCESS_KEY", S3ProxyServer.SECRET_KEY);
        env.put("AWS_DEFAULT_REGION", "us-east-1");
        env.put("AWS_CONFIG_FILE", config.toString());
        env.put("AWS_SHARED_CREDENTIALS_FILE", tmp.resolve("aws-credentials-none").toString());
        env.put("AWS_EC2_METADATA_DISABLED", "true");
        env.put("AWS_PAGER", "");
        env.put("PATH", aws.getParent() + File.pathSeparator + env.getOrDefault("PATH", ""));
        return env;
    }

    private static Result run(List<String> command, Map<String, String> env, Path dir) throws Exception {
        ProcessBuilder builder = new ProcessBuilder(command).directory(dir.toFile());
        builder.environment().clear();
        builder.environment().putAll(env);
        Path out = Files.createTempFile(dir, "out", ".txt");
        Path err = Files.createTempFile(dir, "err", ".txt");
        builder.redirectOutput(out.toFile()).redirectError(err.toFile());
        Process process = builder.start();
        if (!process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor();
            throw new AssertionError(String.join(" ", command) + " did not finish in " + TIMEOUT_SECONDS + " s");
        }
        Result result = new Result(process.exitValue(), Files.readString(out), Files.readString(err));
        Files.delete(out);
        Files.delete(err);
        return result;
    }

    /** {@code preferred} when it is executable, else the first {@code name} on the PATH. */
    static Optional<Path> findExecutable(String name, Path preferred) {
        if (preferred != null && Files.isExecutable(preferred)) {
            return Optional.of(preferred);
        }
        return Stream.of(System.getenv().getOrDefault("PATH", "").split(File.pathSeparator))
                .filter(dir -> !dir.isEmpty())
                .map(dir -> Path.of(dir, name))
                .filter(Files::isExecutable)
                .findFirst();
    }
}
