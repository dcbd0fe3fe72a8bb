package io.powdb.backup.repo;

import com.github.luben.zstd.RecyclingBufferPool;
import com.github.luben.zstd.ZstdInputStreamNoFinalizer;
import io.powdb.backup.integrity.HashingInputStream;
import io.powdb.backup.store.BlobAlreadyExistsException;
import io.powdb.backup.store.BlobInfo;
import io.powdb.backup.store.BlobNotFoundException;
import io.powdb.backup.store.BlobStore;
import io.powdb.backup.store.BlobWriter;
import io.powdb.backup.store.WriteMode;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A backup repository: a key prefix in a {@link BlobStore}, so several databases can share one bucket.
 *
 * <pre>
 * PREFIX/powdb-backup.json                        what this is (format version), written once
 * PREFIX/data/SESSION/files/NAME                  whole files and the WAL
 * PREFIX/data/SESSION/heaps/NAME                  a heap's pages back to back (full backups, new heaps)
 * PREFIX/data/SESSION/heaps/NAME.pages            a heap's changed pages (incrementals)
 * PREFIX/data/SESSION/maps/NAME.map               every page's LSN and fingerprint
 * PREFIX/data/SESSION/maps/NAME.mapd              the page map entries an incremental changed
 * PREFIX/manifests/LSN-TIME-NONCE.json            the backup, written last
 * </pre>
 *
 * SESSION is the backup id without its LSN (the LSN is known only once every page has been read). A
 * backup's objects are written first and its manifest last, all write-once, so a reader sees a complete
 * backup or none, and nothing is ever overwritten. Finding backups lists {@code manifests/} only. Files,
 * heap images and page packs may be stored zstd-compressed ({@link ObjectRef#compression()}); {@link #read}
 * checks the stored bytes and hands out the content.
 */
public final class Repository implements Closeable {
    public static final String MARKER = "powdb-backup.json";
    static final String MANIFESTS = "manifests/";
    static final String DATA = "data/";
    private static final int MAX_MANIFEST_BYTES = 64 << 20;

    private final BlobStore store;
    private final String prefix;

    /** @param prefix "" or a key prefix ending in '/' */
    public Repository(BlobStore store, String prefix) {
        this.store = store;
        this.prefix = prefix == null ? "" : prefix;
        if (!this.prefix.isEmpty() && !this.prefix.endsWith("/")) {
            throw new IllegalArgumentException("repository prefix must end with '/': " + prefix);
        }
    }

    public BlobStore store() {
        return store;
    }

    /** Where the repository is, for messages. */
    public String location() {
        String base = store.location();
        return prefix.isEmpty() ? base : (base.endsWith("/") ? base : base + "/") + prefix;
    }

    /** The store key of a repository-relative key. */
    public String key(String relative) {
        return prefix + relative;
    }

    /** Creates the repository marker unless it exists; refuses a repository written by a newer tool. */
    public void initialize() throws IOException {
        Optional<RepositoryMarker> existing = readMarker();
        if (existing.isPresent()) {
            return;
        }
        RepositoryMarker marker = RepositoryMarker.create(Instant.now());
        try {
            store.putBytes(key(MARKER), marker.encode(), WriteMode.CREATE_NEW);
        } catch (BlobAlreadyExistsException raced) {
            readMarker();
        }
    }

    /** Refuses to go on when there is no repository here, naming the location. */
    public void requireExists() throws IOException {
        if (readMarker().isEmpty()) {
            throw new RepositoryException("no backup repository at " + location() + " (no " + MARKER
                    + "): check --repo or $POWDB_BACKUP_REPO, or take a backup first");
        }
    }

    private Optional<RepositoryMarker> readMarker() throws IOException {
        try {
            return Optional.of(RepositoryMarker.decode(store.readAllBytes(key(MARKER), 1 << 16), location()));
        } catch (BlobNotFoundException e) {
            return Optional.empty();
        }
    }

    /** Every backup, in key order (LSN, then time), from a listing of the manifests only. */
    public List<BackupId> backupIds() throws IOException {
        List<BackupId> ids = new ArrayList<>();
        for (BlobInfo info : store.listAll(key(MANIFESTS))) {
            String name = info.key().substring(key(MANIFESTS).length());
            if (name.endsWith(".json") && BackupId.isValid(name.substring(0, name.length() - 5))) {
                ids.add(BackupId.parse(name.substring(0, name.length() - 5)));
            }
        }
        return ids;
    }

    public static String manifestKey(BackupId id) {
        return MANIFESTS + id + ".json";
    }

    /** Where the data objects of a backup go. */
    public static String dataPrefix(BackupId id) {
        return DATA + id.session() + "/";
    }

    public Manifest readManifest(BackupId id) throws IOException {
        String key = manifestKey(id);
        byte[] raw;
        try {
            raw = store.readAllBytes(key(key), MAX_MANIFEST_BYTES);
        } catch (BlobNotFoundException e) {
            throw new IntegrityException("manifest of backup " + id + " is missing from " + location());
        }
        Manifest manifest = ManifestCodec.decode(raw, key);
        if (!manifest.id().equals(id.toString())) {
            throw new IntegrityException("manifest " + key + " describes backup " + manifest.id()
                    + ": it was swapped or copied");
        }
        return manifest;
    }

    public void writeManifest(Manifest manifest) throws IOException {
        store.putBytes(key(manifestKey(manifest.backupId())), ManifestCodec.encode(manifest), WriteMode.CREATE_NEW);
    }

    /**
     * Whether the store holds exactly this manifest: for finding out, after a write the store reported as
     * failed, whether it happened anyway (the answer to it may have been lost).
     *
     * @throws IOException when the store cannot tell
     */
    public boolean holdsManifest(Manifest manifest) throws IOException {
        try {
            byte[] stored = store.readAllBytes(key(manifestKey(manifest.backupId())), MAX_MANIFEST_BYTES);
            return java.util.Arrays.equals(stored, ManifestCodec.encode(manifest));
        } catch (BlobNotFoundException e) {
            return false;
        }
    }

    /** Starts a write-once data object. */
    public BlobWriter newObject(String relativeKey) throws IOException {
        return store.newWriter(key(relativeKey), WriteMode.CREATE_NEW);
    }

    public Optional<BlobInfo> stat(ObjectRef ref) throws IOException {
        return store.stat(key(ref.key()));
    }

    public void delete(String relativeKey) throws IOException {
        store.delete(key(relativeKey));
    }

    /** Receives an object's content; the hash is checked once the consumer returns. */
    @FunctionalInterface
    public interface ObjectConsumer {
        void accept(InputStream in) throws IOException;
    }

    /**
     * Streams an object's content to {@code consumer} and then checks the object's size and BLAKE3 against
     * {@code ref}, reading whatever the consumer left so the hash covers the whole object. A compressed object
     * is decompressed on the way: the consumer reads the content, the hash covers the stored bytes, and the
     * content must be exactly {@code content_size} bytes (reading beyond it fails at once).
     *
     * @throws IntegrityException when the object is missing, does not match, or cannot be decompressed,
     *     naming it
     */
    public void read(ObjectRef ref, ObjectConsumer consumer) throws IOException {
        read(ref, null, -1, consumer);
    }

    /**
     * Streams the object of a whole file (or the WAL) to {@code consumer} like {@link #read(ObjectRef,
     * ObjectConsumer)}, and for a compressed object also checks the decompressed content against the file's
     * size and BLAKE3: a decompressor that went wrong cannot pass unnoticed.
     */
    public void readWhole(FileEntry file, ObjectConsumer consumer) throws IOException {
        ObjectRef ref = file.object();
        if (ref.compressed()) {
            read(ref, file.blake3(), file.size(), consumer);
        } else {
            read(ref, null, -1, consumer); // its content is the object, whose size and hash equal the file's
        }
    }

    private void read(ObjectRef ref, String contentBlake3, long contentSize, ObjectConsumer consumer)
            throws IOException {
        String key = key(ref.key());
        try (InputStream raw = new StoreErrors(store.open(key), key); HashingInputStream in = new HashingInputStream(raw)) {
            if (!ref.compressed()) {
                try {
                    consumer.accept(in);
                } catch (IntegrityException e) {
                    // A format error found while parsing is usually damage: say so when the hash agrees.
                    in.drain();
                    try {
                        checkStored(ref, key, in);
                    } catch (IntegrityException damaged) {
                        damaged.addSuppressed(e);
                        throw damaged;
                    }
                    throw e;
                }
                in.drain();
                checkStored(ref, key, in);
                return;
            }
            try (ZstdInputStreamNoFinalizer zstd = new ZstdInputStreamNoFinalizer(in, RecyclingBufferPool.INSTANCE)) {
                Content content = new Content(zstd, key, ref.contentSize());
                HashingInputStream hashed = contentBlake3 == null ? null : new HashingInputStream(content);
                try {
                    consumer.accept(hashed == null ? content : hashed);
                    if (hashed != null) {
                        hashed.drain();
                    } else {
                        content.drain();
                    }
                } catch (IntegrityException | DecompressionError e) {
                    // Damaged stored bytes decompress to garbage or not at all: name the damage for what it is.
                    in.drain();
                    try {
                        checkStored(ref, key, in);
                    } catch (IntegrityException damaged) {
                        damaged.addSuppressed(e);
                        throw damaged;
                    }
                    if (e instanceof DecompressionError) {
                        throw new IntegrityException("object " + key + " cannot be decompressed (" + e.getMessage()
                                + ") although its stored bytes match their BLAKE3", e);
                    }
                    throw e;
                }
                in.drain();
                checkStored(ref, key, in);
                if (content.count() != ref.contentSize()) {
                    throw new IntegrityException("object " + key + " decompresses to " + content.count()
                            + " bytes instead of its content_size " + ref.contentSize());
                }
                if (hashed != null) {
                    String actual = hashed.hex();
                    if (hashed.count() != contentSize || !actual.equals(contentBlake3)) {
                        throw new IntegrityException("object " + key + " decompresses to content that does not match "
                                + "its file (" + hashed.count() + " bytes, BLAKE3 " + actual + ", instead of "
                                + contentSize + " bytes, BLAKE3 " + contentBlake3 + ")");
                    }
                }
            }
        } catch (BlobNotFoundException e) {
            throw new IntegrityException("object " + key + " is missing from the repository");
        } catch (StoreReadException e) {
            throw new RepositoryException("could not read object " + key + " from " + store.location() + ": "
                    + e.getCause().getMessage(), e.getCause());
        }
        // Any other IOException is the consumer's own (a full disk while restoring) and passes unchanged.
    }

    private static void checkStored(ObjectRef ref, String key, HashingInputStream in) throws IntegrityException {
        if (in.count() != ref.size()) {
            throw new IntegrityException("object " + key + " is damaged: " + in.count() + " bytes instead of "
                    + ref.size());
        }
        String actual = in.hex();
        if (!actual.equals(ref.blake3())) {
            throw new IntegrityException("object " + key + " is damaged: BLAKE3 " + actual + " instead of "
                    + ref.blake3());
        }
    }

    /** The decompressor failed (the stored bytes are not a valid zstd frame, or hold more than recorded). */
    private static final class DecompressionError extends IOException {
        DecompressionError(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /**
     * A compressed object's content as the consumer reads it: counted, refused beyond {@code content_size}
     * (so a damaged or hostile object cannot fill a disk), with the decompressor's errors tagged.
     */
    private static final class Content extends java.io.FilterInputStream {
        private final String key;
        private final long limit;
        private long count;

        Content(InputStream zstd, String key, long limit) {
            super(zstd);
            this.key = key;
            this.limit = limit;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            int n = read(one, 0, 1);
            return n < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n;
            try {
                n = in.read(b, off, len);
            } catch (StoreReadException e) {
                throw e;
            } catch (IOException e) {
                throw new DecompressionError(e.getMessage(), e);
            }
            if (n > 0) {
                count += n;
                if (count > limit) {
                    throw new DecompressionError("it holds more than its content_size of " + limit + " bytes", null);
                }
            }
            return n;
        }

        @Override
        public long skip(long n) throws IOException {
            byte[] buffer = new byte[1 << 16];
            long skipped = 0;
            while (skipped < n) {
                int r = read(buffer, 0, (int) Math.min(buffer.length, n - skipped));
                if (r < 0) {
                    break;
                }
                skipped += r;
            }
            return skipped;
        }

        @Override
        public boolean markSupported() {
            return false;
        }

        void drain() throws IOException {
            skip(Long.MAX_VALUE);
        }

        long count() {
            return count;
        }
    }

    /** An I/O error that came from reading the store, as opposed to from whatever consumes the bytes. */
    private static final class StoreReadException extends IOException {
        StoreReadException(IOException cause) {
            super(cause.getMessage(), cause);
        }
    }

    /** Tags the errors of a store's stream, so they are reported as such. */
    private static final class StoreErrors extends java.io.FilterInputStream {
        StoreErrors(InputStream in, String key) {
            super(in);
        }

        @Override
        public int read() throws IOException {
            try {
                return in.read();
            } catch (IOException e) {
                throw new StoreReadException(e);
            }
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            try {
                return in.read(b, off, len);
            } catch (IOException e) {
                throw new StoreReadException(e);
            }
        }
    }

    /** Downloads an object's content into a local file and checks it before the caller uses a byte of it. */
    public void download(ObjectRef ref, Path file) throws IOException {
        read(ref, in -> {
            try (OutputStream out = Files.newOutputStream(file)) {
                in.transferTo(out);
            }
        });
    }

    @Override
    public void close() throws IOException {
        store.close();
    }
}
