package io.powdb.backup.cli;

import io.powdb.backup.testing.PowDbFixture;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A sample of the agent's corruption catalogue ({@code CorruptionCatalogTest}) run through the command line:
 * damage to each kind of object makes {@code verify} and {@code restore} exit with status 3, one line on stderr
 * naming the object, and no target directory.
 */
class CorruptionExitStatusTest {
    @TempDir
    Path tmp;

    @ParameterizedTest(name = "{0}: {1}")
    @CsvSource({
        "manifest,        flip",
        "whole file,      truncate",
        "heap image,      flip",
        "page pack,       delete",
        "page map,        flip",
        "page map delta,  truncate",
        "WAL segment,     flip",
    })
    void damageExitsWithStatusThreeNamingTheObject(String kind, String mutation) throws IOException {
        PowDbFixture db = PowDbFixture.create(tmp.resolve("data"), PowDbFixture.Version.V0_5, 11);
        db.createTable("users", 20);
        db.writeOptionalWholeFiles();
        db.checkpoint();
        String repo = tmp.resolve("repo").toString();
        CliRunner cli = new CliRunner().env("POWDB_BACKUP_TEMP_DIR", tmp.resolve("scratch").toString());
        ok(cli.run("backup", "--data-dir", db.dir().toString(), "--repo", repo));
        db.updatePages("users", 2, 3);
        db.rewriteIndex("users", false);
        db.checkpoint();
        ok(cli.run("backup", "--data-dir", db.dir().toString(), "--repo", repo));
        db.updatePages("users", 4);
        ok(cli.run("backup", "--data-dir", db.dir().toString(), "--repo", repo)); // live: its WAL anchors the join
        db.updatePages("users", 5);
        ok(cli.run("ship", "--data-dir", db.dir().toString(), "--repo", repo, "--once"));

        Path object = newest(Path.of(repo), kind);
        String key = Path.of(repo).relativize(object).toString();
        byte[] bytes = Files.readAllBytes(object);
        switch (mutation) {
            case "flip" -> {
                bytes[bytes.length / 2] ^= 0x04;
                Files.write(object, bytes);
            }
            case "truncate" -> Files.write(object, Arrays.copyOf(bytes, bytes.length - 1));
            case "delete" -> Files.delete(object);
            default -> throw new IllegalArgumentException(mutation);
        }
        String named = kind.equals("manifest") ? key.substring("manifests/".length(), key.length() - ".json".length()) : key;

        CliRunner.Result verify = cli.run("verify", "--repo", repo);
        assertEquals(3, verify.exit(), verify.toString());
        assertTrue((verify.out() + verify.err()).contains(named), verify.toString());

        Path target = tmp.resolve("restored");
        List<String> restore = kind.equals("WAL segment")
                ? List.of("restore", "--repo", repo, "--target", target.toString(), "--to-lsn", Long.toString(db.lastLsn()))
                : List.of("restore", "--repo", repo, "--target", target.toString());
        CliRunner.Result restored = cli.run(restore.toArray(String[]::new));
        assertEquals(3, restored.exit(), restored.toString());
        String err = restored.err().strip();
        assertEquals(1, err.lines().count(), "one line on stderr: " + restored);
        assertTrue(err.startsWith("powdb-backup: error: ") && err.contains(named), restored.toString());
        assertFalse(Files.exists(target), "nothing restored");
    }

    /** The newest object of a kind (keys sort by time within their kind). */
    private static Path newest(Path repo, String kind) throws IOException {
        String pattern = switch (kind) {
            case "manifest" -> "manifests/.*\\.json";
            case "whole file" -> "data/[^/]+/files/.*\\.idx";
            case "heap image" -> "data/[^/]+/heaps/[^/]+\\.heap";
            case "page pack" -> "data/[^/]+/heaps/.*\\.pages";
            case "page map" -> "data/[^/]+/maps/.*\\.map";
            case "page map delta" -> "data/[^/]+/maps/.*\\.mapd";
            case "WAL segment" -> "wal/.*\\.seg";
            default -> throw new IllegalArgumentException(kind);
        };
        try (Stream<Path> files = Files.walk(repo)) {
            return files.filter(Files::isRegularFile).filter(p -> repo.relativize(p).toString().matches(pattern))
                    .sorted().reduce((a, b) -> b).orElseThrow(() -> new AssertionError("no " + kind + " in " + repo));
        }
    }

    private static void ok(CliRunner.Result result) {
        assertEquals(0, result.exit(), result.toString());
    }
}
