package io.powdb.backup.cli.crash;

import com.fasterxml.jackson.databind.JsonNode;
import io.powdb.backup.repo.Json;
import io.powdb.backup.store.s3.S3ProxyServer;
import io.powdb.backup.testing.PowDbFixture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/** What the kill tests share: a scratch directory per class, the S3Proxy (started when a run needs it), the CLI. */
abstract class CrashTestBase {
    /** How long a writer waits for a killed writer's lease to lapse (ttl + a quarter for skew) before giving up. */
    private static final long LEASE_PATIENCE_MILLIS = 30_000;

    @TempDir
    static Path tmp;
    private static S3ProxyServer s3;

    /** The store of a run: its seed says which. */
    static CrashStore store(long seed, Path runDir) throws Exception {
        if (!CrashRuns.onS3(seed)) {
            return CrashStore.local(runDir.resolve("repo"));
        }
        synchronized (CrashTestBase.class) {
            if (s3 == null) {
                s3 = new S3ProxyServer();
            }
        }
        return CrashStore.s3(s3, "crash-" + seed);
    }

    @AfterAll
    static void stopS3() throws IOException {
        if (s3 != null) {
            s3.close();
            s3 = null;
        }
    }

    /**
     * Runs a command that takes the repository lease, again while a killed writer's lease has not lapsed yet ("is
     * locked by"): that must end within the lease's ttl, never block the next writer for good.
     */
    static JarProcess.Result runTakingTheLease(Path dir, CrashStore store, String name, String... args)
            throws IOException, InterruptedException {
        long start = System.nanoTime();
        for (int attempt = 1; ; attempt++) {
            JarProcess.Result r = JarProcess.run(dir, store.env(), name + "-" + attempt, args);
            boolean locked = r.exit() == 1 && (r.err().contains("is locked by") || r.err().contains("took the lease"));
            if (!locked || TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start) > LEASE_PATIENCE_MILLIS) {
                return r;
            }
            Thread.sleep(300);
        }
    }

    /** The ids {@code list --json} shows; none of them may be damaged. */
    static List<String> listedIds(Path dir, CrashStore store) throws IOException, InterruptedException {
        JarProcess.Result list = JarProcess.run(dir, store.env(), "list", "list", "--repo", store.url(), "--json");
        assertEquals(0, list.exit(), list.toString());
        List<String> ids = new ArrayList<>();
        for (JsonNode row : Json.MAPPER.readTree(list.out())) {
            assertNull(row.get("error") == null || row.get("error").isNull() ? null : row.get("error").asText(),
                    "list shows a damaged backup: " + row);
            ids.add(row.get("id").asText());
        }
        return ids;
    }

    /** Files under {@code dir} (recursively): what a killed process left in its scratch space. */
    static List<String> filesUnder(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            return walk.filter(Files::isRegularFile).map(p -> dir.relativize(p).toString()).sorted().toList();
        }
    }

    /** The base database of a class: {@code mib} MiB of heap pages in four tables, checkpointed. */
    static Path sampleDatabase(Path dir, long mib, long seed) throws IOException {
        PowDbFixture db = PowDbFixture.create(dir, PowDbFixture.Version.V0_5, seed);
        int pages = (int) (mib * 256 / 4);
        for (int t = 0; t < 4; t++) {
            db.createTable("table" + t, pages);
        }
        db.writeOptionalWholeFiles();
        db.checkpoint();
        return dir;
    }
}
