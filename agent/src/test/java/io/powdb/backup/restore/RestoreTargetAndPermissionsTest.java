package io.powdb.backup.restore;

import io.powdb.backup.archive.WalShipper;
import io.powdb.backup.backup.BackupService;
import io.powdb.backup.format.SourceException;
import io.powdb.backup.repo.RestorePoint;
import io.powdb.backup.testing.BackupTestSupport;
import io.powdb.backup.testing.PowDbFixture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Symbolic links and odd things where a restore writes or a backup reads, each with its expected outcome, and
 * the modes of restored files (0600) and directories (0700) whatever the umask, including the wal.log a
 * point-in-time restore appends to and a mount point restored into.
 */
class RestoreTargetAndPermissionsTest extends BackupTestSupport {
    private final List<Path> mounts = new ArrayList<>();

    @AfterEach
    void unmount() throws Exception {
        for (Path dir : mounts) {
            new ProcessBuilder("umount", dir.toString()).start().waitFor(20, TimeUnit.SECONDS);
        }
    }

    enum Target { SYMLINK_TO_AN_EMPTY_DIRECTORY, DANGLING_SYMLINK, A_FILE, PARENT_IS_A_FILE, PARENT_IS_A_SYMLINK }

    @ParameterizedTest(name = "target: {0}")
    @EnumSource(Target.class)
    void oddTargets(Target kind) throws IOException {
        db.createTable("t", 4);
        backup();
        Path elsewhere = Files.createDirectories(tmp.resolve("elsewhere"));
        Path target = tmp.resolve("target");
        switch (kind) {
            case SYMLINK_TO_AN_EMPTY_DIRECTORY -> Files.createSymbolicLink(target, elsewhere);
            case DANGLING_SYMLINK -> Files.createSymbolicLink(target, elsewhere.resolve("not-yet"));
            case A_FILE -> Files.writeString(target, "precious");
            case PARENT_IS_A_FILE -> {
                Files.writeString(tmp.resolve("file"), "precious");
                target = tmp.resolve("file").resolve("db");
            }
            case PARENT_IS_A_SYMLINK -> {
                Files.createSymbolicLink(tmp.resolve("link"), elsewhere);
                target = tmp.resolve("link").resolve("db");
            }
        }
        Path t = target;
        if (kind == Target.PARENT_IS_A_SYMLINK) {
            // A symlinked directory on the way is how many systems mount data: followed, like PowDB would.
            restore(new RestorePoint.Latest(), t);
            PowDbFixture.assertSameDatabase(db.dir(), elsewhere.resolve("db"), true);
            return;
        }
        RestoreException e = assertThrows(RestoreException.class, () -> restore(new RestorePoint.Latest(), t));
        String expected = switch (kind) {
            case SYMLINK_TO_AN_EMPTY_DIRECTORY, DANGLING_SYMLINK -> "is a symbolic link";
            case A_FILE -> "is not a directory";
            default -> "is not a directory";
        };
        assertTrue(e.getMessage().contains(expected) && e.getMessage().contains(t.getFileName().toString()), e.getMessage());
        try (Stream<Path> entries = Files.list(elsewhere)) {
            assertEquals(0, entries.count(), "nothing written through the link");
        }
        if (kind == Target.A_FILE) {
            assertEquals("precious", Files.readString(target));
        }
        try (Stream<Path> entries = Files.list(tmp)) {
            assertTrue(entries.noneMatch(p -> p.getFileName().toString().contains("powdb-restore")));
        }
    }

    enum Source { HEAP_IS_A_SYMLINK, SYMLINKED_SUBDIRECTORY, DATA_DIRECTORY_IS_A_SYMLINK }

    @ParameterizedTest(name = "data directory: {0}")
    @EnumSource(Source.class)
    void symlinksInTheDataDirectory(Source kind) throws IOException {
        db.createTable("t", 4);
        db.createTable("u", 2);
        db.checkpoint();
        Path outside = Files.createDirectories(tmp.resolve("outside"));
        Path dataDir = db.dir();
        switch (kind) {
            case HEAP_IS_A_SYMLINK -> {
                Path real = Files.move(db.heapPath("u"), outside.resolve("u.heap"));
                Files.createSymbolicLink(db.heapPath("u"), real);
            }
            case SYMLINKED_SUBDIRECTORY -> {
                Files.writeString(outside.resolve("secret"), "not PowDB's");
                Files.createSymbolicLink(dataDir.resolve("archive"), outside);
            }
            case DATA_DIRECTORY_IS_A_SYMLINK -> {
                Files.createSymbolicLink(tmp.resolve("data-link"), dataDir);
                dataDir = tmp.resolve("data-link");
            }
        }
        Path dir = dataDir;
        if (kind == Source.DATA_DIRECTORY_IS_A_SYMLINK) {
            new BackupService(repository).backup(dir, options());
            PowDbFixture.assertSameDatabase(db.dir(), restore(new RestorePoint.Latest()), true);
            return;
        }
        SourceException e = assertThrows(SourceException.class, () -> new BackupService(repository).backup(dir, options()));
        assertTrue(e.getMessage().contains("symbolic link") && e.getMessage().contains(
                kind == Source.HEAP_IS_A_SYMLINK ? "u.heap" : "archive"), e.getMessage());
        assertTrue(repository.store().listAll("").stream().noneMatch(i -> i.key().startsWith("manifests/")
                || i.key().startsWith("data/")), "nothing uploaded");
    }

    @Test
    void restoredFilesAre0600AndDirectories0700IncludingAppendedWal() throws IOException {
        db.createTable("t", 6);
        db.writeOptionalWholeFiles();
        db.checkpoint();
        WalShipper shipper = new WalShipper(repository, db.dir(), tmp.resolve("ship"), Clock.systemUTC(), 1 << 20);
        db.updatePages("t", 1);
        shipper.shipOnce();
        new BackupService(repository).backup(db.dir(), options()); // live: holds wal.log, joined by the WAL shipped
        db.updatePages("t", 2);
        shipper.shipOnce();

        assertPrivate(restore(new RestorePoint.Latest()));
        Path target = newTarget();
        RestoreResult pit = restore(new RestorePoint.AtOrBeforeLsn(db.lastLsn()), target);
        assertTrue(pit.walRecords() > 0, "WAL was appended");
        assertPrivate(target);
        Path empty = Files.createDirectories(newTarget());
        Files.setPosixFilePermissions(empty, PosixFilePermissions.fromString("rwxrwxrwx"));
        restore(new RestorePoint.Latest(), empty);
        assertPrivate(empty);
    }

    @Test
    void aMountPointRestoredIntoBecomes0700() throws Exception {
        db.createTable("t", 6);
        backup();
        Path volume = Files.createDirectories(tmp.resolve("volume"));
        Process p = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=8m,mode=0777", "none", volume.toString())
                .redirectErrorStream(true).start();
        Assumptions.assumeTrue(p.waitFor(20, TimeUnit.SECONDS) && p.exitValue() == 0,
                "cannot mount tmpfs here: " + new String(p.getInputStream().readAllBytes()));
        mounts.add(volume);
        restore(new RestorePoint.Latest(), volume);
        PowDbFixture.assertSameDatabase(db.dir(), volume, true);
        assertPrivate(volume);
    }

    /**
     * Under a umask that would strip the owner's write bit (0277) and one that strips nothing (0000), a restore
     * run in a child JVM still gives 0600 files and 0700 directories.
     */
    @Test
    void theModesDoNotDependOnTheUmask() throws Exception {
        db.createTable("t", 4);
        db.writeOptionalWholeFiles();
        backup();
        for (String umask : new String[] {"0277", "0000"}) {
            Path target = tmp.resolve("umask-" + umask);
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            Process p = new ProcessBuilder("sh", "-c", "umask " + umask + " && exec \"$0\" -cp \"$1\" "
                    + RestoreInChildProcess.class.getName() + " \"$2\" \"$3\" \"$4\"",
                    java, System.getProperty("java.class.path"), tmp.resolve("repo").toString(), target.toString(),
                    tmp.resolve("child-tmp").toString())
                    .redirectErrorStream(true).start();
            String output = new String(p.getInputStream().readAllBytes());
            assertTrue(p.waitFor(120, TimeUnit.SECONDS) && p.exitValue() == 0, "umask " + umask + ": " + output);
            // 0277 leaves the owner without write permission on anything it creates, so the JVM (root or not) must
            // have set the modes explicitly for them to be 0600/0700.
            PowDbFixture.assertSameDatabase(db.dir(), target, true);
            assertPrivate(target);
        }
    }

    private static void assertPrivate(Path root) throws IOException {
        int files = 0;
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path path : walk.toList()) {
                String mode = PosixFilePermissions.toString(Files.getPosixFilePermissions(path, LinkOption.NOFOLLOW_LINKS));
                if (Files.isDirectory(path, LinkOption.NOFOLLOW_LINKS)) {
                    assertEquals("rwx------", mode, path.toString());
                } else {
                    assertEquals("rw-------", mode, path.toString());
                    files++;
                }
            }
        }
        assertTrue(files >= 3, files + " files");
        assertFalse(Files.exists(root.resolve("wal.log")) && !Files.isRegularFile(root.resolve("wal.log")));
    }
}
