package io.powdb.backup.backup;

import io.powdb.backup.repo.BackupCatalog;
import io.powdb.backup.repo.BackupId;
import io.powdb.backup.repo.Repository;
import io.powdb.backup.repo.RestorePoint;
import io.powdb.backup.store.BlobStore;
import io.powdb.backup.store.BlobWriter;
import io.powdb.backup.store.ForwardingBlobStore;
import io.powdb.backup.store.WriteMode;
import io.powdb.backup.store.local.LocalBlobStore;
import io.powdb.backup.testing.BackupTestSupport;
import io.powdb.backup.testing.PowDbFixture;
import io.powdb.backup.verify.VerifyService;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The database goes away while it is being backed up: its directory removed or renamed, a heap deleted or
 * truncated while it is read, the volume unmounted. The moment is the start of the first upload (a store that
 * acts when the first object's writer is opened). Each case, for a quiescent and a live backup: a clear error
 * that names what went away, no manifest, none of the attempt's objects left in the store, and the earlier backup
 * untouched. (A heap deleted from a running database is a table dropped: that live backup captures again.)
 */
class SourceDisappearsTest extends BackupTestSupport {
    enum Disappearance { DIRECTORY_REMOVED, DIRECTORY_RENAMED, HEAP_DELETED, HEAP_TRUNCATED, VOLUME_UNMOUNTED }

    private final List<Path> mounts = new ArrayList<>();

    static Stream<Arguments> cases() {
        return Stream.of(Disappearance.values()).flatMap(d -> Stream.of(Arguments.of(d, true), Arguments.of(d, false)));
    }

    @AfterEach
    void unmount() throws Exception {
        for (Path dir : mounts) {
            new ProcessBuilder("umount", "-l", dir.toString()).start().waitFor(20, TimeUnit.SECONDS);
        }
    }

    /** Runs {@code action} once, when the writer of the first key containing {@code watched} is opened. */
    private static final class TriggerStore extends ForwardingBlobStore {
        private final String watched;
        private Runnable action;

        TriggerStore(BlobStore store, String watched, Runnable action) {
            super(store);
            this.watched = watched;
            this.action = action;
        }

        @Override
        public BlobWriter newWriter(String key, WriteMode mode) throws IOException {
            if (action != null && key.contains(watched)) {
                Runnable run = action;
                action = null;
                run.run();
            }
            return delegate.newWriter(key, mode);
        }
    }

    @ParameterizedTest(name = "{0}, quiescent: {1}")
    @MethodSource("cases")
    void theBackupFailsClearlyAndLeavesTheRepositoryAsItWas(Disappearance how, boolean quiescent) throws Exception {
        parallelism = 1; // the source vanishes when t.heap's upload starts, before u.heap is read
        Path volume = tmp.resolve("volume");
        if (how == Disappearance.VOLUME_UNMOUNTED) {
            Files.createDirectories(volume);
            Process p = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=32m", "none", volume.toString())
                    .redirectErrorStream(true).start();
            Assumptions.assumeTrue(p.waitFor(20, TimeUnit.SECONDS) && p.exitValue() == 0,
                    "cannot mount tmpfs here: " + new String(p.getInputStream().readAllBytes()));
            mounts.add(volume);
            db = PowDbFixture.create(volume.resolve("data"), PowDbFixture.Version.V0_5, 1234);
        }
        db.createTable("t", 40);
        db.createTable("u", 10);
        db.writeOptionalWholeFiles();
        BackupId first = backup().manifest().backupId();
        Path firstState = snapshot("first");
        db.updatePages("t", 3, 30);
        db.updatePages("u", 1); // heaps are read in name order: t.heap, then u.heap
        if (quiescent) {
            db.checkpoint();
        }
        Path dir = db.dir();
        Runnable vanish = () -> {
            try {
                switch (how) {
                    case DIRECTORY_REMOVED -> {
                        try (Stream<Path> walk = Files.walk(dir)) {
                            for (Path p : walk.sorted((a, b) -> b.getNameCount() - a.getNameCount()).toList()) {
                                Files.delete(p);
                            }
                        }
                    }
                    case DIRECTORY_RENAMED -> Files.move(dir, dir.resolveSibling("data-moved"));
                    case HEAP_DELETED -> Files.delete(db.heapPath("u"));
                    case HEAP_TRUNCATED -> {
                        try (RandomAccessFile f = new RandomAccessFile(db.heapPath("u").toFile(), "rw")) {
                            f.setLength(f.length() / 2 + 100);
                        }
                    }
                    case VOLUME_UNMOUNTED -> {
                        Process p = new ProcessBuilder("umount", "-l", volume.toString()).redirectErrorStream(true).start();
                        assertTrue(p.waitFor(20, TimeUnit.SECONDS) && p.exitValue() == 0,
                                new String(p.getInputStream().readAllBytes()));
                        mounts.remove(volume);
                    }
                }
            } catch (IOException | InterruptedException e) {
                throw new AssertionError(e);
            }
        };
        Path repoDir = tmp.resolve("repo");
        List<String> before = keys(repoDir);
        try (Repository triggered = new Repository(new TriggerStore(new LocalBlobStore(repoDir), "data/", vanish), "")) {
            if (how == Disappearance.HEAP_DELETED && !quiescent) {
                // A running database's heap going away is a table dropped: the capture runs again without it.
                BackupResult result = new BackupService(triggered).backup(dir, options());
                assertTrue(result.warnings().toString().contains("captured again"), result.warnings().toString());
                assertTrue(result.manifest().files().stream().noneMatch(f -> f.name().equals("u.heap")));
                // Byte for byte what is there now (the catalog still names u, as the directory does).
                PowDbFixture.assertSameDatabase(dir, restore(new RestorePoint.ById(result.manifest().backupId())), false);
                return;
            }
            IOException e = assertThrows(IOException.class, () -> new BackupService(triggered).backup(dir,
                    options().withRequireQuiescent(quiescent)));
            String message = e.getMessage();
            System.out.println(how + (quiescent ? " (quiescent)" : " (live)") + ": " + message);
            assertTrue(message != null && (message.contains(dir.toString()) || message.contains("u.heap")),
                    "the error names what went away: " + e);
            assertFalse(message.contains("Exception"), "a sentence, not a class name: " + message);
        }
        assertEquals(before, keys(repoDir), "the attempt left nothing in the repository");
        assertEquals(List.of(first), BackupCatalog.load(repository).ids());
        assertTrue(new VerifyService(repository).verify(Optional.empty(), tmp.resolve("v"), (p, d, t) -> { }).ok());
        PowDbFixture.assertSameDatabase(firstState, restore(new RestorePoint.ById(first)), true);
    }

    /** Regression: a table created during a live backup made every later attempt fail too (the directory was not scanned again). */
    @org.junit.jupiter.api.Test
    void aTableCreatedDuringALiveBackupIsCapturedOnTheNextAttempt() throws IOException {
        db.createTable("t", 20);
        backup();
        db.updatePages("t", 2);
        Runnable create = () -> {
            try {
                db.createTable("v", 3);
            } catch (IOException e) {
                throw new AssertionError(e);
            }
        };
        try (Repository triggered = new Repository(new TriggerStore(new LocalBlobStore(tmp.resolve("repo")), "data/", create), "")) {
            BackupResult result = new BackupService(triggered).backup(db.dir(), options());
            assertTrue(result.warnings().toString().contains("captured again"), result.warnings().toString());
            assertTrue(result.manifest().files().stream().anyMatch(f -> f.name().equals("v.heap")));
            PowDbFixture.assertSameDatabase(recovered(db.dir(), "now"),
                    recovered(restore(new RestorePoint.ById(result.manifest().backupId())), "restored"), true);
        }
    }

    private static List<String> keys(Path repoDir) throws IOException {
        try (Stream<Path> walk = Files.walk(repoDir)) {
            return walk.filter(Files::isRegularFile).map(p -> repoDir.relativize(p).toString()).sorted().toList();
        }
    }
}
