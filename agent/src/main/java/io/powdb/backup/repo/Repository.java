package io.powdb.backup.repo;

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
 * PREFIX/manifests/LSN-TIME-NONCE.json            the backup, written last
 * </pre>
 *
 * SESSION is the backup id without its LSN (the LSN is known only once every page has been read). A
 * backup's objects are written first and its manifest last, all write-once, so a reader sees a complete
 * backup or none, and nothing is ever overwritten. Finding backups lists {@code manifests/} only.
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

    /** Receives an object's bytes; the hash is checked once the consumer returns. */
    @FunctionalInterface
    public interface ObjectConsumer {
        void accept(InputStream in) throws IOException;
    }

    /**
     * Streams an object to {@code consumer} and then checks its size and BLAKE3 against {@code ref}, reading
     * whatever the consumer left so the hash covers the whole object.
     *
     * @throws IntegrityException when the object is missing or does not match, naming it
     */
    public void read(ObjectRef ref, ObjectConsumer consumer) throws IOException {
        String key = key(ref.key());
        try (InputStream raw = new StoreErrors(store.open(key), key); HashingInputStream in = new HashingInputStream(raw)) {
            consumer.accept(in);
            in.drain();
            if (in.count() != ref.size()) {
                throw new IntegrityException("object " + key + " is damaged: " + in.count() + " bytes instead of "
                        + ref.size());
            }
            String actual = in.hex();
            if (!actual.equals(ref.blake3())) {
                throw new IntegrityException("object " + key + " is damaged: BLAKE3 " + actual + " instead of "
                        + ref.blake3());
            }
        } catch (BlobNotFoundException e) {
            throw new IntegrityException("object " + key + " is missing from the repository");
        } catch (StoreReadException e) {
            throw new RepositoryException("could not read object " + key + " from " + store.location() + ": "
                    + e.getCause().getMessage(), e.getCause());
        }
        // Any other IOException is the consumer's own (a full disk while restoring) and passes unchanged.
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

    /** Downloads an object into a local file and checks it before the caller uses a byte of it. */
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
