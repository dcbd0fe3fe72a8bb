package io.powdb.backup.repo;

import com.github.luben.zstd.RecyclingBufferPool;
import com.github.luben.zstd.ZstdInputStreamNoFinalizer;
import io.powdb.backup.crypto.EncryptionKeyException;
import io.powdb.backup.crypto.MasterKey;
import io.powdb.backup.crypto.RepositoryKeys;
import io.powdb.backup.crypto.SealingOutputStream;
import io.powdb.backup.integrity.EveryByteInputStream;
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
import java.util.Set;
import java.util.HashSet;
import java.util.Collection;
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
 *
 * <p>With a master key, every data object, manifest and WAL segment is encrypted ({@link RepositoryKeys}):
 * a backup's objects and manifest with the data key {@code backup-SESSION}, a WAL timeline's segments with
 * {@code wal-TIMELINE}. A repository opened with a key accepts only encrypted manifests and segments, so a
 * store that swaps in plaintext ones cannot pass them off; one opened without a key refuses an encrypted
 * repository, naming the key id it needs.
 */
public final class Repository implements Closeable {
    public static final String MARKER = "powdb-backup.json";
    static final String MANIFESTS = "manifests/";
    static final String DATA = "data/";
    private static final int MAX_MANIFEST_BYTES = 64 << 20;

    private final BlobStore store;
    private final String prefix;
    private final RepositoryKeys keys;

    /** @param prefix "" or a key prefix ending in '/' */
    public Repository(BlobStore store, String prefix) {
        this(store, prefix, null);
    }

    /**
     * @param prefix "" or a key prefix ending in '/'
     * @param masterKey the user's key (null: none given; the repository must then be plaintext)
     */
    public Repository(BlobStore store, String prefix, MasterKey masterKey) {
        this.store = store;
        this.prefix = prefix == null ? "" : prefix;
        if (!this.prefix.isEmpty() && !this.prefix.endsWith("/")) {
            throw new IllegalArgumentException("repository prefix must end with '/': " + prefix);
        }
        this.keys = new RepositoryKeys(store, this.prefix, masterKey);
    }

    /** Whether objects written through this repository are encrypted (a master key was given). */
    public boolean encrypting() {
        return keys.hasMasterKey();
    }

    public RepositoryKeys keys() {
        return keys;
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

    /**
     * Before writing: creates the repository marker unless it exists; refuses a repository written by a newer
     * tool, and one whose encryption does not match this writer's (a key for a plaintext repository that holds
     * backups, no key or another key for an encrypted one). A repository without backups takes the mode of
     * its first writer. Never lets a backup go on in a mode other than the one asked for.
     */
    public void initialize() throws IOException {
        Optional<RepositoryMarker> existing = readMarker();
        if (existing.isEmpty()) {
            RepositoryMarker marker = RepositoryMarker.create(Instant.now(), keys.masterKeyId());
            try {
                store.putBytes(key(MARKER), marker.encode(), WriteMode.CREATE_NEW);
                return;
            } catch (BlobAlreadyExistsException raced) {
                existing = readMarker();
            }
        }
        RepositoryMarker marker = existing.orElseThrow();
        if (marker.encrypted()) {
            requireKeyFor(marker);
            return;
        }
        if (encrypting()) {
            if (holdsBackupsOrWal()) {
                throw new EncryptionKeyException("the repository at " + location() + " is not encrypted and already "
                        + "holds backups: an encryption key was given, and mixing plaintext and encrypted backups is "
                        + "refused. Back up into a new repository (--repo) to encrypt, or drop --encryption-key-file "
                        + "and $POWDB_BACKUP_ENCRYPTION_KEY_FILE.");
            }
            // An empty plaintext repository (created by an earlier run that stored nothing) takes this writer's mode.
            store.putBytes(key(MARKER), marker.encryptedWith(keys.masterKeyId()).encode(), WriteMode.OVERWRITE);
        }
    }

    /** Before reading: refuses to go on when there is no repository here, or its encryption and the key disagree. */
    public void requireExists() throws IOException {
        Optional<RepositoryMarker> marker = readMarker();
        if (marker.isEmpty()) {
            throw new RepositoryException("no backup repository at " + location() + " (no " + MARKER
                    + "): check --repo or $POWDB_BACKUP_REPO, or take a backup first");
        }
        if (marker.get().encrypted()) {
            if (!encrypting()) {
                throw missingKey(marker.get());
            }
        } else if (encrypting()) {
            throw plaintextWithKey();
        }
    }

    /**
     * Names a new master key in the marker (by {@code rekey}, once every data key is wrapped by it): from then on
     * new backups must use it.
     */
    public void updateMasterKeyId(String masterKeyId) throws IOException {
        RepositoryMarker marker = readMarker().orElseThrow(() -> new RepositoryException("no backup repository at "
                + location()));
        if (marker.encrypted() && marker.encryption().masterKeyId().equals(masterKeyId)) {
            return;
        }
        store.putBytes(key(MARKER), marker.encryptedWith(masterKeyId).encode(), WriteMode.OVERWRITE);
    }

    /** The repository's marker, for status: whether it is encrypted and with which key. */
    public Optional<RepositoryMarker> marker() throws IOException {
        return readMarker();
    }

    private void requireKeyFor(RepositoryMarker marker) throws EncryptionKeyException {
        if (!encrypting()) {
            throw missingKey(marker);
        }
        String needed = marker.encryption().masterKeyId();
        if (!needed.equals(keys.masterKeyId())) {
            throw new EncryptionKeyException("the repository at " + location() + " is encrypted with master key "
                    + needed + ", but the key given is master key " + keys.masterKeyId() + ". New backups must use "
                    + "the repository's current key (after 'rekey', the new one).");
        }
    }

    private EncryptionKeyException missingKey(RepositoryMarker marker) {
        return new EncryptionKeyException("the repository at " + location() + " is encrypted (master key "
                + marker.encryption().masterKeyId() + ") and no key was given: give it with --encryption-key-file FILE "
                + "or $POWDB_BACKUP_ENCRYPTION_KEY_FILE");
    }

    private EncryptionKeyException plaintextWithKey() {
        return new EncryptionKeyException("the repository at " + location() + " is not encrypted, but an encryption key "
                + "was given: run without --encryption-key-file and $POWDB_BACKUP_ENCRYPTION_KEY_FILE to read it");
    }

    private boolean holdsBackupsOrWal() throws IOException {
        return !store.listAll(key(MANIFESTS)).isEmpty() || !store.listAll(key("wal/")).isEmpty();
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

    /** The name of the data key that encrypts a backup's objects and manifest. */
    public static String dataKeyName(BackupId id) {
        return "backup-" + id.session();
    }

    /** The data key an object is encrypted with, from its key alone: a store cannot make a reader use another. */
    static String dataKeyNameOf(String relativeKey) throws IntegrityException {
        if (relativeKey.startsWith(DATA)) {
            int cut = relativeKey.indexOf('/', DATA.length());
            if (cut > DATA.length()) {
                return "backup-" + relativeKey.substring(DATA.length(), cut);
            }
        } else if (relativeKey.startsWith(MANIFESTS) && relativeKey.endsWith(".json")) {
            String id = relativeKey.substring(MANIFESTS.length(), relativeKey.length() - 5);
            if (BackupId.isValid(id)) {
                return dataKeyName(BackupId.parse(id));
            }
        } else if (relativeKey.startsWith("wal/")) {
            int cut = relativeKey.indexOf('/', 4);
            if (cut > 4) {
                return "wal-" + relativeKey.substring(4, cut);
            }
        }
        throw new IntegrityException("object " + relativeKey + " has no data key (not a data object, manifest or "
                + "WAL segment)");
    }

    public Manifest readManifest(BackupId id) throws IOException {
        String key = manifestKey(id);
        byte[] raw;
        try {
            raw = store.readAllBytes(key(key), MAX_MANIFEST_BYTES);
        } catch (BlobNotFoundException e) {
            throw new IntegrityException("manifest of backup " + id + " is missing from " + location());
        }
        try {
            raw = manifestJson(raw, key);
        } catch (IntegrityException e) {
            // A damaged or missing data key is named by its key object, which holds the session only: name the backup.
            if (e.getMessage() != null && e.getMessage().contains(id.toString())) {
                throw e;
            }
            throw new IntegrityException("manifest of backup " + id + " cannot be decrypted: " + e.getMessage(), e);
        }
        Manifest manifest = ManifestCodec.decode(raw, key);
        if (!manifest.id().equals(id.toString())) {
            throw new IntegrityException("manifest " + key + " describes backup " + manifest.id()
                    + ": it was swapped or copied");
        }
        return manifest;
    }

    /**
     * A stored manifest's JSON: decrypted (its AAD is its key, which holds the backup id, so a manifest
     * copied under another name fails) when it is encrypted. With a key given, a plaintext manifest is refused:
     * in an encrypted repository it can only have been put there by someone else.
     */
    private byte[] manifestJson(byte[] stored, String key) throws IOException {
        if (RepositoryKeys.looksEncrypted(stored)) {
            try (InputStream in = keys.open(new java.io.ByteArrayInputStream(stored), key, dataKeyNameOf(key))) {
                return in.readAllBytes();
            }
        }
        if (encrypting()) {
            throw new IntegrityException("manifest " + key + " is not encrypted although a key was given: in an encrypted "
                    + "repository it was damaged or replaced. If the repository is plaintext, run without the key.");
        }
        return stored;
    }

    public void writeManifest(Manifest manifest) throws IOException {
        store.putBytes(key(manifestKey(manifest.backupId())), storedManifest(manifest), WriteMode.CREATE_NEW);
    }

    private byte[] storedManifest(Manifest manifest) throws IOException {
        byte[] json = ManifestCodec.encode(manifest);
        if (!encrypting()) {
            return json;
        }
        String key = manifestKey(manifest.backupId());
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(json.length + 256);
        try (SealingOutputStream sealing = keys.seal(out, key, dataKeyNameOf(key))) {
            sealing.write(json);
        }
        return out.toByteArray();
    }

    /**
     * Whether the store holds exactly this manifest: for finding out, after a write the store reported as
     * failed, whether it happened anyway (the answer to it may have been lost).
     *
     * @throws IOException when the store cannot tell
     */
    public boolean holdsManifest(Manifest manifest) throws IOException {
        try {
            String key = manifestKey(manifest.backupId());
            byte[] stored = store.readAllBytes(key(key), MAX_MANIFEST_BYTES);
            // an encrypted manifest differs at every write (random salt): compare what it holds
            return java.util.Arrays.equals(manifestJson(stored, key), ManifestCodec.encode(manifest));
        } catch (BlobNotFoundException e) {
            return false;
        }
    }

    /** Starts a write-once data object. */
    public BlobWriter newObject(String relativeKey) throws IOException {
        return store.newWriter(key(relativeKey), WriteMode.CREATE_NEW);
    }

    /**
     * Where a data object's content goes before it is stored: an encrypting stream over {@code stored} (finish
     * it before committing), or null when this repository does not encrypt.
     */
    public SealingOutputStream sealing(String relativeKey, OutputStream stored) throws IOException {
        return encrypting() ? keys.seal(stored, relativeKey, dataKeyNameOf(relativeKey)) : null;
    }

    /** Uploads a shipped WAL segment, write-once: encrypted with its timeline's data key when encrypting. */
    public void putSegment(String relativeKey, InputStream content) throws IOException {
        if (!encrypting()) {
            store.put(key(relativeKey), content, WriteMode.CREATE_NEW);
            return;
        }
        try (BlobWriter writer = store.newWriter(key(relativeKey), WriteMode.CREATE_NEW)) {
            SealingOutputStream sealing = keys.seal(writer.stream(), relativeKey, dataKeyNameOf(relativeKey));
            content.transferTo(sealing);
            sealing.finish();
            writer.commit();
        }
    }

    /**
     * A shipped WAL segment's content: decrypted and authenticated chunk by chunk when encrypted. Segments carry
     * their own check (the BLAKE3 chain in their names, over the content); with a key given, a plaintext segment
     * is refused, as a manifest is.
     */
    public InputStream openSegment(String relativeKey) throws IOException {
        InputStream raw = new java.io.BufferedInputStream(store.open(key(relativeKey)), 1 << 16);
        try {
            raw.mark(16);
            byte[] head = raw.readNBytes(8);
            raw.reset();
            if (RepositoryKeys.looksEncrypted(head)) {
                return keys.open(raw, relativeKey, dataKeyNameOf(relativeKey));
            }
            if (encrypting()) {
                throw new IntegrityException("WAL segment " + relativeKey + " is not encrypted although a key was given: "
                        + "in an encrypted repository it was damaged or replaced");
            }
            return raw;
        } catch (IOException | RuntimeException e) {
            raw.close();
            throw e;
        }
    }

    public Optional<BlobInfo> stat(ObjectRef ref) throws IOException {
        return store.stat(key(ref.key()));
    }

    /**
     * What is wrong with the objects a backup names before any is read: one line for each that is missing or
     * not of its recorded size (each key checked once); empty when all are there.
     */
    public List<String> absentOrResized(Collection<ObjectRef> refs) throws IOException {
        List<String> problems = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (ObjectRef ref : refs) {
            if (!seen.add(ref.key())) {
                continue;
            }
            Optional<BlobInfo> info = stat(ref);
            if (info.isEmpty()) {
                problems.add(ref.key() + " is missing");
            } else if (info.get().size() != ref.size()) {
                problems.add(ref.key() + " has " + info.get().size() + " bytes instead of " + ref.size());
            }
        }
        return problems;
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
        if (ref.transformed()) {
            read(ref, file.blake3(), file.size(), consumer);
        } else {
            read(ref, null, -1, consumer); // its content is the object, whose size and hash equal the file's
        }
    }

    private void read(ObjectRef ref, String contentBlake3, long contentSize, ObjectConsumer consumer)
            throws IOException {
        String key = key(ref.key());
        try (InputStream raw = new StoreErrors(store.open(key), key); HashingInputStream in = new HashingInputStream(raw)) {
            if (!ref.transformed()) {
                try {
                    consumer.accept(in);
                } catch (IntegrityException e) {
                    // A format error found while parsing is usually damage: say so when the hash disagrees.
                    throw storedFirst(ref, key, in, e);
                }
                in.drain();
                checkStored(ref, key, in);
                return;
            }
            // Stored bytes -> (decrypt, each chunk authenticated) -> (decompress) -> content.
            InputStream plain = in;
            if (ref.encrypted()) {
                try {
                    plain = keys.open(in, ref.key(), dataKeyNameOf(ref.key()));
                } catch (IntegrityException e) {
                    throw storedFirst(ref, key, in, e); // a damaged header: say whether the stored bytes changed
                }
            }
            try (InputStream decoded = ref.compressed()
                    ? new ZstdInputStreamNoFinalizer(plain, RecyclingBufferPool.INSTANCE) : plain) {
                Content content = new Content(decoded, key, ref.contentSize());
                HashingInputStream hashed = contentBlake3 == null ? null : new HashingInputStream(content);
                try {
                    consumer.accept(hashed == null ? content : hashed);
                    if (hashed != null) {
                        hashed.drain();
                    } else {
                        content.drain();
                    }
                    if (plain != in) {
                        plain.transferTo(OutputStream.nullOutputStream()); // authenticates the last chunk too
                    }
                } catch (IntegrityException | DecompressionError e) {
                    // Damaged stored bytes decompress to garbage or not at all: name the damage for what it is.
                    IOException named = storedFirst(ref, key, in, e);
                    if (named != e) {
                        throw named; // the stored bytes changed: that is the news
                    }
                    if (e instanceof DecompressionError) {
                        throw new IntegrityException("object " + key + " cannot be decompressed (" + e.getMessage()
                                + ") although its stored bytes match their BLAKE3", e);
                    }
                    throw named;
                }
                in.drain();
                checkStored(ref, key, in);
                if (content.count() != ref.contentSize()) {
                    throw new IntegrityException("object " + key + " holds " + content.count()
                            + " bytes of content instead of its content_size " + ref.contentSize());
                }
                if (hashed != null) {
                    String actual = hashed.hex();
                    if (hashed.count() != contentSize || !actual.equals(contentBlake3)) {
                        throw new IntegrityException("object " + key + " holds content that does not match "
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

    /**
     * After decoding failed: drains the stored bytes and, when they do not match their reference, reports that
     * (with the decoding error suppressed); otherwise returns the decoding error.
     */
    private static IOException storedFirst(ObjectRef ref, String key, HashingInputStream in, IOException decoding)
            throws IOException {
        in.drain();
        try {
            checkStored(ref, key, in);
        } catch (IntegrityException damaged) {
            damaged.addSuppressed(decoding);
            return damaged;
        }
        return decoding;
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
    private static final class Content extends EveryByteInputStream {
        private final String key;
        private final long limit;
        private long count;

        Content(InputStream zstd, String key, long limit) {
            super(zstd);
            this.key = key;
            this.limit = limit;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n;
            try {
                n = in.read(b, off, len);
            } catch (StoreReadException | IntegrityException e) {
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
