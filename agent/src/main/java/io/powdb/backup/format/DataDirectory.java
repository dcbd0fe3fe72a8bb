package io.powdb.backup.format;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * A scan of a PowDB data directory: its durable files in name order, with their kinds. Transient entries
 * are left out; subdirectories other than PowDB's own transient ones are reported as skipped (a volume
 * root often holds {@code lost+found}); symbolic links are refused, since following one could back up or
 * restore a file outside the directory.
 */
public final class DataDirectory {
    /** The 8-byte WAL header of PowDB 0.5+: "PWAL", u16 version, u16 flags. */
    static final byte[] WAL_MAGIC = "PWAL".getBytes(StandardCharsets.US_ASCII);
    static final int WAL_HEADER_SIZE = 8;

    private final Path dir;
    private final List<DataFile> files;
    private final List<String> skipped;

    private DataDirectory(Path dir, List<DataFile> files, List<String> skipped) {
        this.dir = dir;
        this.files = files;
        this.skipped = skipped;
    }

    public static DataDirectory scan(Path dir) throws IOException {
        Path abs = dir.toAbsolutePath().normalize();
        if (!Files.exists(abs, LinkOption.NOFOLLOW_LINKS)) {
            throw new SourceException("data directory " + abs + " does not exist (set --data-dir or $POWDB_DATA)");
        }
        if (!Files.isDirectory(abs)) {
            throw new SourceException("data directory " + abs + " is not a directory");
        }
        List<DataFile> files = new ArrayList<>();
        List<String> skipped = new ArrayList<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(abs)) {
            for (Path path : entries) {
                String name = path.getFileName().toString();
                Optional<FileKind> kind = PowDbFiles.kindOf(name);
                if (kind.isEmpty()) {
                    continue;
                }
                BasicFileAttributes attrs;
                try {
                    attrs = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                } catch (NoSuchFileException removedMeanwhile) {
                    continue;
                }
                if (attrs.isSymbolicLink()) {
                    throw new SourceException(path + " is a symbolic link; PowDB data files must be regular files "
                            + "(a link could point outside the data directory). Replace it with the file itself.");
                }
                if (attrs.isDirectory()) {
                    skipped.add(name + "/");
                    continue;
                }
                if (!attrs.isRegularFile()) {
                    skipped.add(name);
                    continue;
                }
                if (!PowDbFiles.isSafeFileName(name)) {
                    throw new SourceException("file name " + name.replaceAll("\\p{Cntrl}", "?") + " in " + abs
                            + " cannot be restored safely (control characters or separators); rename or remove it");
                }
                files.add(new DataFile(name, kind.get(), path, attrs.size(), attrs.lastModifiedTime()));
            }
        }
        files.sort(Comparator.comparing(DataFile::name));
        skipped.sort(null);
        return new DataDirectory(abs, List.copyOf(files), List.copyOf(skipped));
    }

    public Path path() {
        return dir;
    }

    public List<DataFile> files() {
        return files;
    }

    /** Entries that are neither PowDB files nor transient, left out of the backup (e.g. lost+found/). */
    public List<String> skipped() {
        return skipped;
    }

    /** The names of the durable files. */
    public java.util.Set<String> names() {
        java.util.Set<String> names = new java.util.TreeSet<>();
        files.forEach(f -> names.add(f.name()));
        return names;
    }

    public Optional<DataFile> file(String name) {
        return files.stream().filter(f -> f.name().equals(name)).findFirst();
    }

    /** Refuses a directory that is not a PowDB data directory at all. */
    public void requirePowDb() throws SourceException {
        if (file(PowDbFiles.CATALOG).isEmpty()) {
            throw new SourceException(dir + " is not a PowDB data directory: it has no " + PowDbFiles.CATALOG
                    + " (check --data-dir or $POWDB_DATA)");
        }
    }

    /**
     * True when {@code wal.log} holds no records: absent, empty, or only the 0.5+ header. Then the heaps
     * alone are the database, exactly as a checkpoint left it.
     */
    public boolean walIsEmpty() throws IOException {
        Optional<DataFile> wal = file(PowDbFiles.WAL);
        if (wal.isEmpty() || wal.get().size() == 0) {
            return true;
        }
        if (wal.get().size() != WAL_HEADER_SIZE) {
            return false;
        }
        try (InputStream in = Files.newInputStream(wal.get().path())) {
            byte[] header = in.readNBytes(WAL_HEADER_SIZE);
            return header.length == WAL_HEADER_SIZE && Arrays.equals(Arrays.copyOf(header, 4), WAL_MAGIC);
        }
    }

    /**
     * The durable LSN PowDB 0.8+ writes to {@code catalog.lsn} (a raw u64), or 0 when absent or malformed.
     */
    public long catalogLsn() throws IOException {
        Optional<DataFile> file = file(PowDbFiles.CATALOG_LSN);
        if (file.isEmpty() || file.get().size() != 8) {
            return 0;
        }
        byte[] bytes = Files.readAllBytes(file.get().path());
        return bytes.length == 8 ? java.nio.ByteBuffer.wrap(bytes).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong() : 0;
    }

    /**
     * Checks that no durable file changed since this scan (size and modification time) and that no new one
     * appeared: the proof that a quiescent backup saw one state of the database.
     */
    public Optional<String> changedSince() throws IOException {
        DataDirectory now = scan(dir);
        for (DataFile before : files) {
            Optional<DataFile> after = now.file(before.name());
            if (after.isEmpty()) {
                return Optional.of(before.name() + " was removed");
            }
            if (after.get().size() != before.size() || !after.get().lastModified().equals(before.lastModified())) {
                return Optional.of(before.name() + " was modified");
            }
        }
        for (DataFile after : now.files) {
            if (file(after.name()).isEmpty()) {
                return Optional.of(after.name() + " appeared");
            }
        }
        return Optional.empty();
    }
}
