package io.powdb.backup.backup;

import io.powdb.backup.format.SourceException;
import io.powdb.backup.repo.BackupId;
import io.powdb.backup.repo.FileEntry;
import io.powdb.backup.repo.IntegrityException;
import io.powdb.backup.repo.Manifest;
import io.powdb.backup.repo.ObjectRef;
import io.powdb.backup.repo.Repository;
import io.powdb.backup.repo.RepositoryException;
import io.powdb.backup.repo.RestorePoint;
import io.powdb.backup.restore.RestoreException;
import io.powdb.backup.store.BlobInfo;
import io.powdb.backup.store.WriteMode;
import io.powdb.backup.testing.BackupTestSupport;
import io.powdb.backup.testing.PowDbFixture;
import io.powdb.backup.verify.VerifyReport;
import io.powdb.backup.verify.VerifyService;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Bad input gets a clear error and loses nothing; a failed restore leaves nothing that looks like a database. */
class BadInputTest extends BackupTestSupport {

    /** A chain with every kind of object: whole files, heap images, page packs, page maps, manifests. */
    private Manifest chainWithEveryKindOfObject() throws IOException {
        db.createTable("t", 12);
        db.writeOptionalWholeFiles();
        backup();
        db.updatePages("t", 2, 9);
        db.rewriteIndex("t", false);
        return backup().manifest();
    }

    private List<String> objectKeys() throws IOException {
        List<String> keys = new ArrayList<>();
        for (BlobInfo info : repository.store().listAll("")) {
            if (!info.key().equals(Repository.MARKER)) {
                keys.add(info.key());
            }
        }
        return keys;
    }

    /** A backup whose restore reads {@code key}: the one it is the manifest of, or one naming it. */
    private RestorePoint backupNeeding(String key) throws IOException {
        io.powdb.backup.repo.BackupCatalog catalog = io.powdb.backup.repo.BackupCatalog.load(repository);
        for (BackupId id : catalog.ids()) {
            Manifest m = catalog.manifest(id);
            if (key.equals(Repository.manifestKey(id))
                    || m.files().stream().flatMap(f -> f.objects().stream()).anyMatch(r -> r.key().equals(key))) {
                return new RestorePoint.ById(id);
            }
        }
        throw new AssertionError("no backup needs " + key);
    }

    private void replace(String key, byte[] bytes) throws IOException {
        repository.store().delete(key);
        repository.store().putBytes(key, bytes, WriteMode.CREATE_NEW);
    }

    private byte[] read(String key) throws IOException {
        try (InputStream in = repository.store().open(key)) {
            return in.readAllBytes();
        }
    }

    @Test
    void corruptionOfAnyStoredObjectIsDetectedAndNothingIsRestored() throws IOException {
        chainWithEveryKindOfObject();
        for (String key : objectKeys()) {
            byte[] original = read(key);
            for (String damage : new String[] {"flip", "truncate"}) {
                byte[] damaged = original.clone();
                if (damage.equals("flip") && damaged.length > 0) {
                    damaged[damaged.length / 2] ^= 0x01;
                } else {
                    damaged = java.util.Arrays.copyOf(original, original.length / 2);
                }
                if (java.util.Arrays.equals(damaged, original)) {
                    continue;
                }
                RestorePoint user = backupNeeding(key);
                replace(key, damaged);
                Path target = newTarget();
                IOException e = assertThrows(IOException.class, () -> restore(user, target),
                        damage + " " + key);
                assertInstanceOf(IntegrityException.class, e, damage + " " + key + ": " + e.getMessage());
                String name = key.substring(key.lastIndexOf('/') + 1);
                assertTrue(e.getMessage().contains(name), damage + " " + key + " not named in: " + e.getMessage());
                assertFalse(Files.exists(target), "nothing restored for " + damage + " " + key);
                assertNoStagingLeft();

                VerifyReport report = new VerifyService(repository).verify(Optional.empty(), tmp.resolve("vtmp"),
                        (p, d, t) -> { });
                assertFalse(report.ok(), "verify misses " + damage + " " + key);
                assertTrue(String.join("\n", report.failures()).contains(name), report.failures().toString());
                replace(key, original);
            }
        }
        assertTrue(new VerifyService(repository).verify(Optional.empty(), tmp.resolve("vtmp"), (p, d, t) -> { }).ok());
        PowDbFixture.assertSameDatabase(db.dir(), restore(new RestorePoint.Latest()), true);
    }

    @Test
    void aMissingObjectIsNamedBeforeAnythingIsWritten() throws IOException {
        Manifest m = chainWithEveryKindOfObject();
        FileEntry heap = BackupRestoreRoundTripTest.entry(m, "t.heap");
        ObjectRef image = heap.sources().get(heap.sources().size() - 1);
        repository.delete(image.key());
        Path target = newTarget();
        IntegrityException e = assertThrows(IntegrityException.class, () -> restore(new RestorePoint.Latest(), target));
        assertTrue(e.getMessage().contains(image.key()) && e.getMessage().contains("missing"), e.getMessage());
        assertFalse(Files.exists(target));
        assertNoStagingLeft();
    }

    @Test
    void aBrokenChainIsRefusedButEarlierBackupsStillRestore() throws IOException {
        db.createTable("t", 6);
        BackupId first = backup().manifest().backupId();
        Path firstState = snapshot("first");
        db.updatePages("t", 1);
        BackupId second = backup().manifest().backupId();
        db.updatePages("t", 2);
        backup();
        repository.delete(Repository.manifestKey(second));

        IntegrityException e = assertThrows(IntegrityException.class, () -> restore(new RestorePoint.Latest()));
        assertTrue(e.getMessage().contains("broken") && e.getMessage().contains(second.toString()), e.getMessage());
        PowDbFixture.assertSameDatabase(firstState, restore(new RestorePoint.ById(first)), true);
    }

    @Test
    void anUnknownFutureFormatVersionIsRefused() throws IOException {
        Manifest m = chainWithEveryKindOfObject();
        String key = Repository.manifestKey(m.backupId());
        String text = new String(read(key), StandardCharsets.UTF_8).replace("\"format_version\" : " + io.powdb.backup.repo.Manifest.FORMAT_VERSION, "\"format_version\" : 7");
        replace(key, text.getBytes(StandardCharsets.UTF_8));
        RepositoryException e = assertThrows(RepositoryException.class, () -> restore(new RestorePoint.Latest()));
        assertTrue(e.getMessage().contains("newer powdb-backup") && e.getMessage().contains("Upgrade"), e.getMessage());
    }

    @Test
    void aRestoreRefusesATargetThatIsNotEmptyAndLeavesItAlone() throws IOException {
        chainWithEveryKindOfObject();
        Path target = newTarget();
        Files.createDirectories(target);
        Files.writeString(target.resolve("precious.txt"), "keep me");
        RestoreException e = assertThrows(RestoreException.class, () -> restore(new RestorePoint.Latest(), target));
        assertTrue(e.getMessage().contains("not empty"), e.getMessage());
        assertEquals("keep me", Files.readString(target.resolve("precious.txt")));
        try (Stream<Path> entries = Files.list(target)) {
            assertEquals(1, entries.count());
        }

        Path file = Files.writeString(tmp.resolve("a-file"), "x");
        assertThrows(RestoreException.class, () -> restore(new RestorePoint.Latest(), file));

        // An existing empty directory is a fine target.
        Path empty = Files.createDirectories(newTarget());
        restore(new RestorePoint.Latest(), empty);
        PowDbFixture.assertSameDatabase(db.dir(), empty, true);
    }

    @Test
    void aBackupOfARunningServerIsRefusedClearlyWhenQuiescenceIsRequired() throws IOException {
        db.createTable("t", 3);
        db.checkpoint();
        db.updatePages("t", 1); // WAL records not yet checkpointed
        SourceException e = assertThrows(SourceException.class,
                () -> new BackupService(repository).backup(db.dir(), options().withRequireQuiescent(true)));
        assertTrue(e.getMessage().contains("not quiescent") && e.getMessage().contains("wal.log"), e.getMessage());
        assertTrue(repository.store().listAll("manifests/").isEmpty());
    }

    @Test
    void aDatabaseChangingDuringTheBackupFailsItAndRemovesWhatWasUploaded() throws IOException {
        db.createTable("t", 40);
        db.checkpoint();
        BackupOptions changing = options().withRequireQuiescent(true).withProgress((phase, done, total) -> {
            if (done == total) {
                try {
                    HistoryTest.rewritePage(db.heapPath("t"), 1, 5);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }
        });
        SourceException e = assertThrows(SourceException.class,
                () -> new BackupService(repository).backup(db.dir(), changing));
        assertTrue(e.getMessage().contains("changed during the backup"), e.getMessage());
        assertTrue(repository.store().listAll("manifests/").isEmpty());
        assertTrue(repository.store().listAll("data/").isEmpty(), "uploaded objects are removed");
    }

    @Test
    void notAPowDbDirectoryOrAMissingOneIsRefusedClearly() throws IOException {
        Path empty = Files.createDirectories(tmp.resolve("not-powdb"));
        SourceException e = assertThrows(SourceException.class,
                () -> new BackupService(repository).backup(empty, options()));
        assertTrue(e.getMessage().contains("catalog.bin"), e.getMessage());
        e = assertThrows(SourceException.class,
                () -> new BackupService(repository).backup(tmp.resolve("nowhere"), options()));
        assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
    }

    @Test
    void aHeapThatIsNotAWholeNumberOfPagesIsRefused() throws IOException {
        db.createTable("t", 3);
        db.checkpoint();
        Files.write(db.heapPath("t"), new byte[] {1, 2, 3}, java.nio.file.StandardOpenOption.APPEND);
        SourceException e = assertThrows(SourceException.class,
                () -> new BackupService(repository).backup(db.dir(), options()));
        assertTrue(e.getMessage().contains("t.heap") && e.getMessage().contains("4096"), e.getMessage());
        assertTrue(repository.store().listAll("data/").isEmpty());
    }

    @Test
    void aSymlinkInTheDataDirectoryIsRefused() throws IOException {
        db.createTable("t", 2);
        db.checkpoint();
        Path outside = Files.writeString(tmp.resolve("outside.bin"), "secret");
        Files.createSymbolicLink(db.dir().resolve("views.bin"), outside);
        SourceException e = assertThrows(SourceException.class,
                () -> new BackupService(repository).backup(db.dir(), options()));
        assertTrue(e.getMessage().contains("symbolic link"), e.getMessage());
    }

    @Test
    void restoringFromAPlaceWithNoRepositorySaysSo() throws IOException {
        IOException e = assertThrows(RepositoryException.class, () -> restore(new RestorePoint.Latest()));
        assertTrue(e.getMessage().contains("no backup repository"), e.getMessage());
    }

    @Test
    void aPageDamagedOnDiskIsBackedUpAsItIsWithAWarning() throws IOException {
        db.createTable("t", 6);
        db.checkpoint();
        db.corruptPage("t", 2); // V0_5: every page has a CRC
        BackupResult result = backup();
        assertEquals(1, result.manifest().stats().pagesWithBadCrc());
        assertTrue(result.warnings().get(0).contains("CRC"), result.warnings().toString());
        PowDbFixture.assertSameDatabase(db.dir(), restore(new RestorePoint.Latest()), true);
    }

    private void assertNoStagingLeft() throws IOException {
        try (Stream<Path> entries = Files.list(tmp)) {
            List<String> staging = entries.map(p -> p.getFileName().toString()).filter(n -> n.contains("powdb-restore")).toList();
            assertTrue(staging.isEmpty(), "staging directories left: " + staging);
        }
    }
}
