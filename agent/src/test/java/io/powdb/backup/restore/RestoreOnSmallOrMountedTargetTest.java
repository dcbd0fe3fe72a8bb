package io.powdb.backup.restore;

import io.powdb.backup.repo.RestorePoint;
import io.powdb.backup.testing.BackupTestSupport;
import io.powdb.backup.testing.PowDbFixture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Restores onto real mount points (a Kubernetes volume is one: a rename onto it is impossible) and onto a
 * full disk, using small tmpfs mounts. Runs where the test may mount (root in a container or VM, as in CI
 * here); skipped elsewhere.
 */
class RestoreOnSmallOrMountedTargetTest extends BackupTestSupport {
    private final List<Path> mounts = new ArrayList<>();

    private Path mountTmpfs(String name, String size) throws IOException, InterruptedException {
        Path dir = Files.createDirectories(tmp.resolve(name));
        Process p = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=" + size + ",mode=0755", "none", dir.toString())
                .redirectErrorStream(true).start();
        boolean done = p.waitFor(20, TimeUnit.SECONDS);
        Assumptions.assumeTrue(done && p.exitValue() == 0, "cannot mount tmpfs here: " + new String(p.getInputStream().readAllBytes()));
        mounts.add(dir);
        return dir;
    }

    @AfterEach
    void unmount() throws Exception {
        for (Path dir : mounts) {
            new ProcessBuilder("umount", dir.toString()).start().waitFor(20, TimeUnit.SECONDS);
        }
    }

    @Test
    void restoresIntoAnEmptyMountPoint() throws Exception {
        db.createTable("t", 30);
        db.updatePages("t", 3);
        backup();
        db.updatePages("t", 4);
        backup();
        Path volume = mountTmpfs("volume", "16m");
        restore(new RestorePoint.Latest(), volume);
        PowDbFixture.assertSameDatabase(db.dir(), volume, true);
        try (Stream<Path> entries = Files.list(volume)) {
            assertTrue(entries.noneMatch(p -> p.getFileName().toString().contains("powdb-restore")), "no staging left");
        }
    }

    @Test
    void aFullDiskFailsTheRestoreClearlyAndLeavesTheMountPointEmpty() throws Exception {
        db.createTable("t", 400); // 1.6 MiB of pages
        backup();
        Path volume = mountTmpfs("small-volume", "512k");
        RestoreException e = assertThrows(RestoreException.class, () -> restore(new RestorePoint.Latest(), volume));
        assertTrue(e.getMessage().contains("No space left on device") && e.getMessage().contains("Nothing was restored"),
                e.getMessage());
        try (Stream<Path> entries = Files.list(volume)) {
            assertEquals(0, entries.count(), "the volume is empty again");
        }
    }

    @Test
    void aFullDiskBesideTheTargetLeavesNoTarget() throws Exception {
        db.createTable("t", 400);
        backup();
        Path disk = mountTmpfs("small-disk", "512k");
        Path target = disk.resolve("db");
        assertThrows(RestoreException.class, () -> restore(new RestorePoint.Latest(), target));
        assertFalse(Files.exists(target));
        try (Stream<Path> entries = Files.list(disk)) {
            assertEquals(0, entries.count(), "no staging directory left");
        }
    }

    @Test
    void aFullDiskLeavesAnExistingEmptyTargetAsItWas() throws Exception {
        db.createTable("t", 400);
        backup();
        Path disk = mountTmpfs("small-disk-2", "512k");
        Path target = Files.createDirectories(disk.resolve("db"));
        java.nio.file.attribute.FileTime mtime = Files.getLastModifiedTime(target);
        String mode = java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(target));
        RestoreException e = assertThrows(RestoreException.class, () -> restore(new RestorePoint.Latest(), target));
        assertTrue(e.getMessage().contains("No space left on device"), e.getMessage());
        assertTrue(Files.isDirectory(target), "the target is still there");
        assertEquals(mode, java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(target)));
        assertEquals(mtime, Files.getLastModifiedTime(target));
        try (Stream<Path> entries = Files.list(disk)) {
            assertEquals(List.of("db"), entries.map(p -> p.getFileName().toString()).toList(), "no staging directory left");
        }
        try (Stream<Path> entries = Files.list(target)) {
            assertEquals(0, entries.count());
        }
    }

    @Test
    void aDiskThatFillsWhileTheShippedWalIsAppendedFailsClearlyAndLeavesNothing() throws Exception {
        db.createTable("t", 30);
        db.checkpoint();
        io.powdb.backup.archive.WalShipper shipper = new io.powdb.backup.archive.WalShipper(repository, db.dir(),
                tmp.resolve("ship"), java.time.Clock.systemUTC(), 1 << 20);
        db.updatePages("t", 1);
        shipper.shipOnce();
        new io.powdb.backup.backup.BackupService(repository).backup(db.dir(), options());
        for (int i = 0; i < 400; i++) {
            db.updatePages("t", 2 + i % 25);
        }
        shipper.shipOnce();
        // Room for the database as backed up, not for the WAL appended to it.
        Path full = restore(new RestorePoint.AtOrBeforeLsn(db.lastLsn()));
        long wal = Files.size(full.resolve("wal.log"));
        long all;
        try (Stream<Path> files = Files.list(full)) {
            all = files.mapToLong(p -> p.toFile().length()).sum();
        }
        assertTrue(wal > 64 * 1024, wal + " bytes of WAL");
        Path disk = mountTmpfs("wal-disk", ((all - wal / 2) / 1024) + "k");
        Path target = disk.resolve("db");
        RestoreException e = assertThrows(RestoreException.class,
                () -> restore(new RestorePoint.AtOrBeforeLsn(db.lastLsn()), target));
        assertTrue(e.getMessage().contains("No space left on device") && e.getMessage().contains("wal.log"), e.getMessage());
        assertFalse(Files.exists(target));
        try (Stream<Path> entries = Files.list(disk)) {
            assertEquals(0, entries.count(), "no staging directory left");
        }
    }
}
