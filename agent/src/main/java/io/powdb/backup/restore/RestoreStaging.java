package io.powdb.backup.restore;

import io.powdb.backup.store.local.Fsync;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

/**
 * Where a restore builds the database before it is put in place. Normally a hidden directory beside the
 * target, renamed onto it in one step once everything checked out: a failed restore leaves no directory
 * that looks like a database. When the target is a mount point (a Kubernetes volume), a rename onto it is
 * impossible; the staging directory is then inside the target and the files are moved up, catalog.bin
 * last, since PowDB cannot open a directory without it.
 *
 * <p>Restored files get mode 0600 and directories 0700, as PowDB itself creates them.
 */
final class RestoreStaging implements AutoCloseable {
    private static final String LAST_FILE = "catalog.bin";

    private final Path target;
    private final Path staging;
    private final boolean inside;
    private final boolean targetExisted;
    private boolean committed;

    private RestoreStaging(Path target, Path staging, boolean inside, boolean targetExisted) {
        this.target = target;
        this.staging = staging;
        this.inside = inside;
        this.targetExisted = targetExisted;
    }

    /** Checks the target (absent, or an empty directory) and creates the staging directory. */
    static RestoreStaging prepare(Path requested) throws IOException {
        Path target = requested.toAbsolutePath().normalize();
        boolean exists = Files.exists(target, LinkOption.NOFOLLOW_LINKS);
        if (exists) {
            if (Files.isSymbolicLink(target)) {
                throw new RestoreException("restore target " + target + " is a symbolic link; give the real directory");
            }
            if (!Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS)) {
                throw new RestoreException("restore target " + target + " exists and is not a directory");
            }
            List<String> entries = entries(target);
            if (!entries.isEmpty()) {
                throw new RestoreException("restore target " + target + " is not empty (" + entries.size()
                        + " entries, e.g. '" + entries.get(0) + "'): restore only into an empty or new directory, "
                        + "never over a database");
            }
        }
        Path parent = target.getParent();
        if (parent == null) {
            throw new RestoreException("cannot restore into the filesystem root");
        }
        if (Files.exists(parent) && !Files.isDirectory(parent)) {
            throw new RestoreException("cannot restore into " + target + ": " + parent + " is not a directory");
        }
        Files.createDirectories(parent);
        String suffix = HexFormat.of().formatHex(random(6));
        boolean inside = exists && !Files.getFileStore(target).equals(Files.getFileStore(parent));
        Path staging = inside
                ? target.resolve(".powdb-restore-" + suffix)
                : parent.resolve("." + target.getFileName() + ".powdb-restore-" + suffix);
        createPrivateDirectory(staging);
        return new RestoreStaging(target, staging, inside, exists);
    }

    /** Where to write the restored files. */
    Path directory() {
        return staging;
    }

    Path target() {
        return target;
    }

    /** Makes the restored database visible at the target, durably. */
    void commit() throws IOException {
        makePrivate(staging);
        Fsync.directory(staging);
        if (inside) {
            List<String> names = entries(staging);
            names.sort((a, b) -> Boolean.compare(a.equals(LAST_FILE), b.equals(LAST_FILE)));
            for (String name : names) {
                Files.move(staging.resolve(name), target.resolve(name), StandardCopyOption.ATOMIC_MOVE);
            }
            Files.delete(staging);
            setMode(target, DIRECTORY_MODE); // a mount point comes with the volume's mode; PowDB's is 0700
            Fsync.directory(target);
        } else {
            try {
                // rename(2) replaces an empty directory in one step.
                Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (FileAlreadyExistsException | DirectoryNotEmptyException | AtomicMoveNotSupportedException e) {
                if (targetExisted && entries(target).isEmpty()) {
                    Files.delete(target);
                    Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
                } else {
                    throw new RestoreException("restore target " + target + " was changed while restoring; the "
                            + "restored copy was kept at " + staging);
                }
            }
            Fsync.directory(target.getParent());
        }
        committed = true;
    }

    /** Removes the staging directory unless the restore was committed. */
    @Override
    public void close() {
        if (committed) {
            return;
        }
        try {
            deleteTree(staging);
        } catch (IOException e) {
            System.err.println("warning: could not remove the partial restore at " + staging + ": " + e.getMessage());
        }
    }

    private static final String FILE_MODE = "rw-------";
    private static final String DIRECTORY_MODE = "rwx------";

    /**
     * Sets 0600 on every file and 0700 on every directory of the restored tree. Files are created with those modes
     * already, but a creation mode passes through the umask; a chmod does not, so whatever umask the agent runs
     * with, the result is what PowDB itself creates.
     */
    private static void makePrivate(Path root) throws IOException {
        if (!supportsPosix(root)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path path : walk.toList()) {
                boolean dir = Files.isDirectory(path, LinkOption.NOFOLLOW_LINKS);
                setMode(path, dir ? DIRECTORY_MODE : FILE_MODE);
            }
        }
    }

    private static void setMode(Path path, String mode) throws IOException {
        if (supportsPosix(path)) {
            Files.setPosixFilePermissions(path, PosixFilePermissions.fromString(mode));
        }
    }

    static void createPrivateDirectory(Path dir) throws IOException {
        Files.createDirectory(dir, privateDirectoryAttributes(dir));
    }

    static FileAttribute<?>[] privateFileAttributes(Path file) {
        return supportsPosix(file) ? new FileAttribute<?>[] {
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString(FILE_MODE))} : new FileAttribute<?>[0];
    }

    private static FileAttribute<?>[] privateDirectoryAttributes(Path dir) {
        return supportsPosix(dir) ? new FileAttribute<?>[] {
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString(DIRECTORY_MODE))} : new FileAttribute<?>[0];
    }

    private static boolean supportsPosix(Path path) {
        return path.getFileSystem().supportedFileAttributeViews().contains("posix");
    }

    private static List<String> entries(Path dir) throws IOException {
        List<String> names = new ArrayList<>();
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir)) {
            stream.forEach(p -> names.add(p.getFileName().toString()));
        }
        names.sort(null);
        return names;
    }

    private static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(root)) {
            List<Path> paths = walk.sorted((a, b) -> b.getNameCount() - a.getNameCount()).toList();
            for (Path path : paths) {
                Files.deleteIfExists(path);
            }
        }
    }

    private static byte[] random(int n) {
        byte[] bytes = new byte[n];
        new SecureRandom().nextBytes(bytes);
        return bytes;
    }
}
