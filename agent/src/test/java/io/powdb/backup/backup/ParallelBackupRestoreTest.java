package io.powdb.backup.backup;

import io.powdb.backup.repo.FileEntry;
import io.powdb.backup.repo.IntegrityException;
import io.powdb.backup.repo.Manifest;
import io.powdb.backup.repo.ObjectRef;
import io.powdb.backup.repo.Repository;
import io.powdb.backup.repo.RestorePoint;
import io.powdb.backup.restore.RestoreOptions;
import io.powdb.backup.restore.RestoreService;
import io.powdb.backup.store.BlobInfo;
import io.powdb.backup.store.BlobStore;
import io.powdb.backup.store.BlobWriter;
import io.powdb.backup.store.ForwardingBlobStore;
import io.powdb.backup.store.WriteMode;
import io.powdb.backup.store.local.LocalBlobStore;
import io.powdb.backup.testing.BackupTestSupport;
import io.powdb.backup.testing.PowDbFixture;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Files are backed up and restored several at a time: the result must not depend on how many, and a failure
 * in one file must stop the others and leave nothing behind. Parallelism is set explicitly, so these run the
 * same on a one-core machine.
 */
class ParallelBackupRestoreTest extends BackupTestSupport {

    private void createFiveTables() throws IOException {
        db.createTable("users", 300);
        db.createTable("orders", 120);
        db.createTable("logs", 40);
        db.createTable("audit", 9);
        db.createTable("empty", 1);
        db.writeOptionalWholeFiles();
    }

    @Test
    void theSameBackupsAndRestoresWhateverTheParallelism() throws IOException {
        createFiveTables();
        Repository serial = new Repository(new LocalBlobStore(tmp.resolve("repo-serial")), "");
        Repository parallel = new Repository(new LocalBlobStore(tmp.resolve("repo-parallel")), "");
        try (serial; parallel) {
            List<Path> states = new ArrayList<>();
            for (int round = 0; round < 3; round++) {
                if (round == 1) {
                    db.updatePages("users", 1, 17, 299);
                    db.updateRandomPages("orders", 11);
                    db.rewriteIndex("logs", false);
                } else if (round == 2) {
                    db.appendPages("audit", 30);
                    db.truncateTable("orders", 60);
                    db.createTable("late", 25);
                }
                db.checkpoint();
                states.add(PowDbFixture.copyDatabase(db.dir(), tmp.resolve("state-" + round)));
                Manifest one = new BackupService(serial).backup(db.dir(), options().withParallelism(1)).manifest();
                Manifest four = new BackupService(parallel).backup(db.dir(), options().withParallelism(4)).manifest();
                assertEquals(describe(one), describe(four), "round " + round);
                assertEquals(one.stats().bytesUploaded(), four.stats().bytesUploaded());
                assertEquals(one.stats().pagesChanged(), four.stats().pagesChanged());
            }
            for (Repository repo : List.of(serial, parallel)) {
                for (int threads : new int[] {1, 3}) {
                    Path target = tmp.resolve("restored-" + repo.location().hashCode() + "-" + threads);
                    new RestoreService(repo).restore(new RestorePoint.Latest(), target,
                            RestoreOptions.defaults().withParallelism(threads));
                    PowDbFixture.assertSameDatabase(states.get(2), target, true);
                }
            }
        }
    }

    /** What a manifest says about each file, without the ids and keys that differ between two backups. */
    private static List<String> describe(Manifest m) {
        List<String> lines = new ArrayList<>();
        for (FileEntry f : m.files()) {
            StringBuilder line = new StringBuilder(f.name() + " " + f.kind() + " " + f.size());
            if (f.isHeap()) {
                line.append(" pages=").append(f.pages()).append(" changed=").append(f.changedPages())
                        .append(" maxLsn=").append(f.maxLsn()).append(" sources=").append(f.sources().size());
                for (ObjectRef source : f.sources()) {
                    line.append(' ').append(source.format()).append(':').append(source.blake3());
                }
            } else {
                line.append(' ').append(f.blake3());
            }
            lines.add(line.toString());
        }
        return lines;
    }

    /**
     * One heap's upload fails while the others are in flight: the backup fails with that error, no manifest is
     * written, every object the attempt uploaded is removed, and no worker writes after the failure returned.
     */
    @Test
    void aFailingFileStopsTheOthersAndLeavesNothing() throws Exception {
        createFiveTables();
        db.checkpoint();
        AtomicBoolean returned = new AtomicBoolean();
        AtomicInteger writesAfterReturn = new AtomicInteger();
        BlobStore failing = new ForwardingBlobStore(new LocalBlobStore(tmp.resolve("repo-failing"))) {
            @Override
            public BlobWriter newWriter(String key, WriteMode mode) throws IOException {
                if (returned.get()) {
                    writesAfterReturn.incrementAndGet();
                }
                BlobWriter writer = delegate.newWriter(key, mode);
                if (!key.endsWith("heaps/orders.heap")) {
                    return writer;
                }
                return new BlobWriter() {
                    @Override
                    public OutputStream stream() {
                        return writer.stream();
                    }

                    @Override
                    public BlobInfo commit() throws IOException {
                        throw new IOException("injected: the store refused orders.heap");
                    }

                    @Override
                    public void close() {
                        writer.close();
                    }
                };
            }
        };
        try (Repository repo = new Repository(failing, "")) {
            IOException e = assertThrows(IOException.class,
                    () -> new BackupService(repo).backup(db.dir(), options().withParallelism(4)));
            returned.set(true);
            assertTrue(e.getMessage().contains("injected: the store refused orders.heap"), e.getMessage());
            assertEquals(List.of(), repo.backupIds());
            try (var files = Files.walk(tmp.resolve("repo-failing"))) {
                List<Path> data = files.filter(Files::isRegularFile)
                        .filter(p -> p.toString().contains("/data/")).toList();
                assertEquals(List.of(), data, "every uploaded object of the failed backup is removed");
            }
            Thread.sleep(200);
            assertEquals(0, writesAfterReturn.get(), "no worker wrote after the failure was thrown");
            // The store works again: the next backup succeeds.
            returned.set(false);
        }
    }

    @Test
    void aDamagedHeapFailsTheParallelRestoreAndNothingIsRestored() throws IOException {
        createFiveTables();
        Manifest m = backup().manifest();
        FileEntry users = m.files().stream().filter(f -> f.name().equals("users.heap")).findFirst().orElseThrow();
        Path object = tmp.resolve("repo").resolve(users.sources().get(0).key());
        byte[] bytes = Files.readAllBytes(object);
        bytes[bytes.length / 2] ^= 0x10;
        Files.write(object, bytes);
        Path target = tmp.resolve("restored");
        IntegrityException e = assertThrows(IntegrityException.class, () -> new RestoreService(repository)
                .restore(new RestorePoint.Latest(), target, RestoreOptions.defaults().withParallelism(4)));
        assertTrue(e.getMessage().contains(users.sources().get(0).key()), e.getMessage());
        assertFalse(Files.exists(target));
        try (var siblings = Files.list(tmp)) {
            assertTrue(siblings.noneMatch(p -> p.getFileName().toString().contains("powdb-restore")),
                    "the staging directory is removed");
        }
    }
}
