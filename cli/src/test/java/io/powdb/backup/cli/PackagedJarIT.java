package io.powdb.backup.cli;

import io.powdb.backup.store.s3.S3ProxyServer;
import io.powdb.backup.testing.PowDbFixture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The packaged jar as users run it (a separate JVM, its own classpath): a failure is one line on stderr
 * (no logging noise from the cloud SDKs), and a backup restores byte-exact. Runs after {@code package}.
 */
class PackagedJarIT {
    @TempDir
    Path tmp;

    record Run(int exit, String out, String err) {
    }

    private Run run(String... args) throws IOException, InterruptedException {
        return run(Map.of(), args);
    }

    private Run run(Map<String, String> env, String... args) throws IOException, InterruptedException {
        Path jar = Path.of("target", "powdb-backup.jar").toAbsolutePath();
        List<String> command = new ArrayList<>(List.of("java", "-Xmx128m", "-jar", jar.toString()));
        command.addAll(List.of(args));
        Path out = tmp.resolve("out.txt");
        Path err = tmp.resolve("err.txt");
        ProcessBuilder builder = new ProcessBuilder(command).directory(tmp.toFile())
                .redirectOutput(out.toFile()).redirectError(err.toFile());
        builder.environment().putAll(env);
        Process process = builder.start();
        assertTrue(process.waitFor(60, TimeUnit.SECONDS), "the jar finished");
        return new Run(process.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                Files.readString(err, StandardCharsets.UTF_8));
    }

    @Test
    void aFailureIsExactlyOneLineOnStderr() throws Exception {
        Run result = run("list", "--repo", tmp.resolve("nowhere").toString());
        assertEquals(1, result.exit(), result.toString());
        assertEquals(1, result.err().strip().lines().count(), result.err());
        assertTrue(result.err().startsWith("powdb-backup: error: no backup repository"), result.err());
    }

    @Test
    void aBackupToS3PrintsNothingOnStderrAndAFailureOneLine() throws Exception {
        PowDbFixture db = PowDbFixture.create(tmp.resolve("s3data"), PowDbFixture.Version.V0_4, 9);
        db.createTable("t", 10);
        db.checkpoint();
        try (S3ProxyServer server = new S3ProxyServer()) {
            Map<String, String> env = new HashMap<>(Map.of(
                    "POWDB_BACKUP_S3_ENDPOINT", server.endpoint().toString(),
                    "POWDB_BACKUP_S3_REGION", "us-east-1",
                    "AWS_ACCESS_KEY_ID", S3ProxyServer.ACCESS_KEY,
                    "AWS_SECRET_ACCESS_KEY", S3ProxyServer.SECRET_KEY));
            String repo = "s3://" + S3ProxyServer.BUCKET + "/jar-it";
            // The cloud SDKs log through SLF4J: nothing of that may reach the user's terminal.
            Run backup = run(env, "backup", "--data-dir", "s3data", "--repo", repo);
            assertEquals(0, backup.exit(), backup.toString());
            // Only the progress lines for people may be there: a loaded machine makes even this backup take longer
            // than the two seconds after which they start.
            assertTrue(backup.err().lines().allMatch(l -> l.matches("[a-z][a-z -]*: .*/s")),
                    backup.err());
            env.put("AWS_SECRET_ACCESS_KEY", "not-the-secret-0000000000");
            Run denied = run(env, "list", "--repo", repo);
            assertEquals(1, denied.exit(), denied.toString());
            assertEquals(1, denied.err().strip().lines().count(), denied.err());
            assertTrue(denied.err().contains("access denied") && !denied.err().contains("not-the-secret"), denied.err());
        }
    }

    @Test
    void aBackupThroughTheJarRestoresByteExact() throws Exception {
        PowDbFixture db = PowDbFixture.create(tmp.resolve("data"), PowDbFixture.Version.V0_5, 8);
        db.createTable("t", 40);
        db.checkpoint();
        db.updatePages("t", 3); // a running server's directory: WAL records not checkpointed
        Run backup = run("backup", "--data-dir", "data", "--repo", "repo", "--json");
        assertEquals(0, backup.exit(), backup.toString());
        assertTrue(backup.err().isEmpty(), backup.err());
        assertTrue(backup.out().contains("\"consistency\" : \"crash-consistent\""), backup.out());
        Run restore = run("restore", "--repo", "repo", "--target", "restored");
        assertEquals(0, restore.exit(), restore.toString());
        PowDbFixture.assertSameDatabase(db.dir(), tmp.resolve("restored"), true);
    }

    @Test
    void shipRunsUntilSigtermUploadsOnceMoreAndExitsZero() throws Exception {
        PowDbFixture db = PowDbFixture.create(tmp.resolve("data"), PowDbFixture.Version.V0_4, 9);
        db.createTable("t", 20);
        db.checkpoint();
        db.updatePages("t", 2);
        Path jar = Path.of("target", "powdb-backup.jar").toAbsolutePath();
        Process ship = new ProcessBuilder("java", "-Xmx128m", "-jar", jar.toString(), "ship", "--data-dir", "data",
                "--repo", "repo", "--poll", "50ms", "--interval", "1h", "--json").directory(tmp.toFile())
                .redirectOutput(tmp.resolve("ship.out").toFile()).redirectError(tmp.resolve("ship.err").toFile()).start();
        Path wal = tmp.resolve("repo").resolve("wal");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!Files.exists(wal) && System.nanoTime() < deadline) {
            Thread.sleep(50); // the first upload happens at once
        }
        db.updatePages("t", 5); // committed now; uploaded only because the stop uploads once more
        Thread.sleep(500);
        ship.destroy(); // SIGTERM
        assertTrue(ship.waitFor(30, TimeUnit.SECONDS), "ship stopped");
        assertEquals(0, ship.exitValue(), Files.readString(tmp.resolve("ship.err")));
        assertTrue(Files.readString(tmp.resolve("ship.out")).contains("\"last_shipped_lsn\":" + db.lastLsn()),
                Files.readString(tmp.resolve("ship.out")));
    }
}
