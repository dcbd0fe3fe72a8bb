package io.powdb.backup.store.local;

import io.powdb.backup.store.BlobAlreadyExistsException;
import io.powdb.backup.store.BlobInfo;
import io.powdb.backup.store.BlobKeys;
import io.powdb.backup.store.BlobNotFoundException;
import io.powdb.backup.store.BlobStore;
import io.powdb.backup.store.BlobWriter;
import io.powdb.backup.store.WriteMode;

import java.io.BufferedOutputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * A {@link BlobStore} in a local directory: key {@code a/b} is the file {@code ROOT/a/b}.
 *
 * <p>Crash safety: an object is written to {@code ROOT/.tmp/}, fsynced, then published under its key by
 * a hard link ({@link WriteMode#CREATE_NEW}: the link fails atomically when the key exists) or a rename
 * ({@link WriteMode#OVERWRITE}), and the directory is fsynced. After a crash an object is either absent or
 * whole; leftovers in {@code .tmp/} are never listed and are removed by {@link #removeStaleTempFiles}.
 */
public final class LocalBlobStore implements BlobStore {
    static final String TEMP_DIR = ".tmp";
    private static final SecureRandom RANDOM = new SecureRandom();

    private final Path root;
    private final Path tempDir;

    public LocalBlobStore(Path root) throws IOException {
        this.root = root.toAbsolutePath().normalize();
        if (Files.exists(this.root) && !Files.isDirectory(this.root)) {
            throw new IOException("repository path " + this.root + " exists and is not a directory");
        }
        // Directories are created by the first write, so that reading a mistyped path creates nothing.
        this.tempDir = this.root.resolve(TEMP_DIR);
    }

    public Path root() {
        return root;
    }

    @Override
    public String location() {
        return root.toUri().toString();
    }

    @Override
    public BlobWriter newWriter(String key, WriteMode mode) throws IOException {
        Path target = pathOf(key);
        Files.createDirectories(tempDir);
        Path temp = tempDir.resolve(HexFormat.of().formatHex(randomBytes()) + ".part");
        FileChannel channel = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        return new LocalWriter(key, target, temp, channel, mode);
    }

    @Override
    public InputStream openRange(String key, long offset, long length) throws IOException {
        BlobKeys.validateRange(key, offset, length);
        Path path = pathOf(key);
        FileChannel channel;
        try {
            channel = FileChannel.open(path, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new BlobNotFoundException(location(), key);
        }
        try {
            long size = channel.size();
            if (offset > size) {
                throw new IOException("range starts at " + offset + " past the end of " + key + " (" + size + " bytes)");
            }
            channel.position(offset);
            long remaining = Math.min(length, size - offset);
            return new BoundedInputStream(Channels.newInputStream(channel), remaining);
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
    }

    @Override
    public Optional<BlobInfo> stat(String key) throws IOException {
        Path path = pathOf(key);
        try {
            BasicFileAttributes attrs = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            if (!attrs.isRegularFile()) {
                return Optional.empty();
            }
            return Optional.of(new BlobInfo(key, attrs.size(), attrs.lastModifiedTime().toInstant()));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
    }

    @Override
    public List<BlobInfo> list(String prefix, String startAfter, int limit) throws IOException {
        BlobKeys.validatePrefix(prefix);
        if (limit <= 0) {
            throw new IllegalArgumentException("limit must be positive");
        }
        // Walk the deepest directory that contains every key with this prefix; keys are then sorted,
        // because a depth-first walk does not give lexical key order ("a-b" sorts before "a/x").
        int slash = prefix.lastIndexOf('/');
        Path base = slash < 0 ? root : root.resolve(prefix.substring(0, slash));
        if (!Files.isDirectory(base, LinkOption.NOFOLLOW_LINKS)) {
            return List.of();
        }
        List<BlobInfo> matches = new ArrayList<>();
        try (Stream<Path> walk = Files.walk(base)) {
            for (Path path : (Iterable<Path>) walk::iterator) {
                String key = keyOf(path);
                if (key == null || !key.startsWith(prefix) || (startAfter != null && key.compareTo(startAfter) <= 0)) {
                    continue;
                }
                BasicFileAttributes attrs;
                try {
                    attrs = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                } catch (NoSuchFileException deletedMeanwhile) {
                    continue;
                }
                if (attrs.isRegularFile()) {
                    matches.add(new BlobInfo(key, attrs.size(), attrs.lastModifiedTime().toInstant()));
                }
            }
        } catch (java.io.UncheckedIOException e) {
            if (!(e.getCause() instanceof NoSuchFileException)) {
                throw e.getCause();
            }
            // A directory vanished during the walk (a concurrent delete); list again from the top.
            return list(prefix, startAfter, limit);
        }
        matches.sort((a, b) -> a.key().compareTo(b.key()));
        return matches.size() > limit ? new ArrayList<>(matches.subList(0, limit)) : matches;
    }

    @Override
    public void delete(String key) throws IOException {
        Path path = pathOf(key);
        if (Files.deleteIfExists(path)) {
            removeEmptyParents(path.getParent());
        }
    }

    @Override
    public boolean supportsConditionalCreate() {
        return true;
    }

    @Override
    public void close() {
    }

    /** Removes temp files of writers that crashed: files in .tmp older than {@code minAgeMillis}. */
    public int removeStaleTempFiles(long minAgeMillis) throws IOException {
        int removed = 0;
        if (!Files.isDirectory(tempDir)) {
            return 0;
        }
        long cutoff = System.currentTimeMillis() - minAgeMillis;
        try (Stream<Path> files = Files.list(tempDir)) {
            for (Path file : (Iterable<Path>) files::iterator) {
                try {
                    if (Files.getLastModifiedTime(file).toMillis() < cutoff && Files.deleteIfExists(file)) {
                        removed++;
                    }
                } catch (NoSuchFileException ignored) {
                    // removed by someone else
                }
            }
        }
        return removed;
    }

    private Path pathOf(String key) {
        BlobKeys.validate(key);
        Path path = root.resolve(key).normalize();
        if (!path.startsWith(root) || path.equals(root) || path.startsWith(tempDir)) {
            throw new IllegalArgumentException("object key " + key + " is outside the store");
        }
        return path;
    }

    /** The key of a file under the root, or null for the root itself and the temp area. */
    private String keyOf(Path path) {
        if (path.equals(root) || path.startsWith(tempDir)) {
            return null;
        }
        return root.relativize(path).toString().replace(path.getFileSystem().getSeparator(), "/");
    }

    private void removeEmptyParents(Path dir) {
        while (dir != null && dir.startsWith(root) && !dir.equals(root)) {
            try {
                Files.delete(dir);
            } catch (DirectoryNotEmptyException | NoSuchFileException e) {
                return;
            } catch (IOException e) {
                return; // an empty directory left behind is harmless
            }
            dir = dir.getParent();
        }
    }

    private static byte[] randomBytes() {
        byte[] bytes = new byte[12];
        RANDOM.nextBytes(bytes);
        return bytes;
    }

    private final class LocalWriter implements BlobWriter {
        private final String key;
        private final Path target;
        private final Path temp;
        private final FileChannel channel;
        private final WriteMode mode;
        private final OutputStream stream;
        private boolean committed;
        private boolean closed;

        LocalWriter(String key, Path target, Path temp, FileChannel channel, WriteMode mode) {
            this.key = key;
            this.target = target;
            this.temp = temp;
            this.channel = channel;
            this.mode = mode;
            this.stream = new BufferedOutputStream(new NonClosingOutputStream(Channels.newOutputStream(channel)), 1 << 16);
        }

        @Override
        public OutputStream stream() {
            return stream;
        }

        @Override
        public BlobInfo commit() throws IOException {
            if (committed || closed) {
                throw new IllegalStateException("writer for " + key + " already finished");
            }
            stream.flush();
            channel.force(true);
            long size = channel.size();
            channel.close();
            publish();
            committed = true;
            closed = true;
            return new BlobInfo(key, size, Files.getLastModifiedTime(target).toInstant());
        }

        private void publish() throws IOException {
            // A concurrent delete may remove an empty parent directory between creating and linking; retry.
            for (int attempt = 0; ; attempt++) {
                Files.createDirectories(target.getParent());
                try {
                    if (mode == WriteMode.CREATE_NEW) {
                        try {
                            Files.createLink(target, temp);
                        } catch (FileAlreadyExistsException e) {
                            throw new BlobAlreadyExistsException(location(), key);
                        }
                        Files.delete(temp);
                    } else {
                        Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                    }
                    Fsync.directory(target.getParent());
                    return;
                } catch (NoSuchFileException e) {
                    if (attempt >= 5 || !Files.exists(temp)) {
                        throw e;
                    }
                }
            }
        }

        @Override
        public void close() {
            if (closed) {
                return;
            }
            closed = true;
            try {
                channel.close();
            } catch (IOException ignored) {
                // the temp file is removed below either way
            }
            try {
                Files.deleteIfExists(temp);
            } catch (IOException e) {
                System.err.println("warning: could not remove temporary file " + temp + ": " + e.getMessage());
            }
        }
    }

    /** Keeps a stream's close() from closing the channel that commit() still needs. */
    private static final class NonClosingOutputStream extends java.io.FilterOutputStream {
        NonClosingOutputStream(OutputStream out) {
            super(out);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
        }

        @Override
        public void close() throws IOException {
            flush();
        }
    }

    /** Reads at most {@code remaining} bytes, then reports end of stream. */
    private static final class BoundedInputStream extends FilterInputStream {
        private long remaining;

        BoundedInputStream(InputStream in, long remaining) {
            super(in);
            this.remaining = remaining;
        }

        @Override
        public int read() throws IOException {
            if (remaining <= 0) {
                return -1;
            }
            int b = in.read();
            if (b >= 0) {
                remaining--;
            }
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (remaining <= 0) {
                return -1;
            }
            int n = in.read(b, off, (int) Math.min(len, remaining));
            if (n > 0) {
                remaining -= n;
            }
            return n;
        }

        @Override
        public long skip(long n) throws IOException {
            long skipped = in.skip(Math.min(n, remaining));
            remaining -= skipped;
            return skipped;
        }

        @Override
        public int available() throws IOException {
            return (int) Math.min(in.available(), remaining);
        }
    }
}
