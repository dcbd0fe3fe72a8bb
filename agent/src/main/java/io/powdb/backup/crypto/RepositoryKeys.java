package io.powdb.backup.crypto;

import io.powdb.backup.repo.IntegrityException;
import io.powdb.backup.store.BlobAlreadyExistsException;
import io.powdb.backup.store.BlobNotFoundException;
import io.powdb.backup.store.BlobStore;
import io.powdb.backup.store.WriteMode;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

/**
 * The data keys of a repository: created (random, wrapped by the master key, stored in {@code keys/}) when the
 * first object that needs one is written, unwrapped once and cached when read. Without a master key every
 * attempt to decrypt fails with a message naming the master key id the repository needs.
 */
public final class RepositoryKeys {
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,200}");
    private static final int MAX_KEY_OBJECT_BYTES = 64 << 10;
    private static final SecureRandom RANDOM = new SecureRandom();

    private final BlobStore store;
    private final String prefix;
    private final MasterKey master; // null: no key given
    private final Map<String, DataKey> cache = new ConcurrentHashMap<>();

    public RepositoryKeys(BlobStore store, String prefix, MasterKey master) {
        this.store = store;
        this.prefix = prefix;
        this.master = master;
    }

    public boolean hasMasterKey() {
        return master != null;
    }

    /** The id of the master key given, or null. */
    public String masterKeyId() {
        return master == null ? null : master.id();
    }

    /** Encrypts what is written to the returned stream as {@code objectKey}, with the data key {@code name}. */
    public SealingOutputStream seal(OutputStream stored, String objectKey, String name) throws IOException {
        return new SealingOutputStream(stored, forWriting(name), objectKey, ChunkedAead.DEFAULT_CHUNK_SIZE);
    }

    /** Decrypts an object stored as {@code objectKey}, which must be sealed with the data key {@code name}. */
    public InputStream open(InputStream stored, String objectKey, String name) throws IOException {
        return new OpeningInputStream(stored, objectKey, name, this::forReading);
    }

    /** Whether stored bytes start like an encrypted object (a manifest is JSON otherwise). */
    public static boolean looksEncrypted(byte[] head) {
        return head.length >= ChunkedAead.MAGIC.length
                && java.util.Arrays.equals(head, 0, ChunkedAead.MAGIC.length, ChunkedAead.MAGIC, 0, ChunkedAead.MAGIC.length);
    }

    DataKey forWriting(String name) throws IOException {
        DataKey cached = cache.get(name);
        return cached != null ? cached : createOnce(name);
    }

    /**
     * Serialized: a backup opens its first objects from several threads at once, and on a store without an
     * atomic conditional create two threads could otherwise each store a data key of their own, one replacing
     * the other under objects already encrypted with it.
     */
    private synchronized DataKey createOnce(String name) throws IOException {
        DataKey cached = cache.get(name);
        if (cached != null) {
            return cached;
        }
        requireMaster("encrypt");
        checkName(name);
        byte[] fresh = new byte[MasterKey.KEY_BYTES];
        RANDOM.nextBytes(fresh);
        KeyObject object = new KeyObject(KeyObject.FORMAT, KeyObject.FORMAT_VERSION, name, KeyObject.ALGORITHM,
                Instant.now().toString(), List.of(master.wrap(name, fresh)));
        try {
            store.putBytes(prefix + KeyObject.key(name), object.encode(), WriteMode.CREATE_NEW);
        } catch (BlobAlreadyExistsException exists) {
            return forReading(name); // written by an earlier attempt of the same backup or shipper run
        }
        DataKey key = new DataKey(name, fresh);
        cache.put(name, key);
        return key;
    }

    DataKey forReading(String name) throws IOException {
        DataKey cached = cache.get(name);
        if (cached != null) {
            return cached;
        }
        checkName(name);
        KeyObject object = read(name);
        List<String> ids = object.masterKeyIds();
        if (master == null) {
            throw new EncryptionKeyException("the repository is encrypted: data key " + name + " needs master key "
                    + String.join(" or ", ids) + ", and no key was given. Give it with --encryption-key-file FILE or "
                    + "$POWDB_BACKUP_ENCRYPTION_KEY_FILE.");
        }
        Wrapping mine = object.wrappings().stream().filter(w -> w.masterKeyId().equals(master.id())).findFirst()
                .orElse(null);
        if (mine == null) {
            requireNotMadeByThisKey(name, object);
            throw new EncryptionKeyException("data key " + name + " needs master key " + String.join(" or ", ids)
                    + ", but the key given (" + master.source() + ") is master key " + master.id()
                    + ". Give the key with that id.");
        }
        byte[] raw;
        try {
            raw = master.unwrap(name, mine);
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            throw new IntegrityException("key object " + KeyObject.key(name) + " fails authentication with master key "
                    + master.id() + ": it was damaged or tampered with");
        }
        if (raw.length != MasterKey.KEY_BYTES) {
            throw new IntegrityException("key object " + KeyObject.key(name) + " holds a key of the wrong length");
        }
        DataKey key = new DataKey(name, raw);
        java.util.Arrays.fill(raw, (byte) 0);
        cache.put(name, key);
        return key;
    }

    /**
     * No wrapping names the key given. Before saying "another key is needed": a wrapping this key made (its AAD
     * holds this key's id, so it authenticates only under it) whose id field was changed is damage, and sending
     * the operator off to look for a key that never existed would be wrong.
     */
    private void requireNotMadeByThisKey(String name, KeyObject object) throws IntegrityException {
        for (Wrapping w : object.wrappings()) {
            try {
                byte[] raw = master.unwrap(name, w);
                java.util.Arrays.fill(raw, (byte) 0);
            } catch (GeneralSecurityException | IllegalArgumentException notMine) {
                continue;
            }
            throw new IntegrityException("key object " + KeyObject.key(name) + " is damaged: its wrapping names master "
                    + "key " + w.masterKeyId() + ", but it was made by master key " + master.id() + " (the key given)");
        }
    }

    KeyObject read(String name) throws IOException {
        String objectKey = KeyObject.key(name);
        byte[] raw;
        try {
            raw = store.readAllBytes(prefix + objectKey, MAX_KEY_OBJECT_BYTES);
        } catch (BlobNotFoundException e) {
            throw new IntegrityException("key object " + objectKey + " is missing: what is encrypted with data key "
                    + name + " cannot be decrypted by anyone");
        }
        return KeyObject.decode(raw, objectKey, name);
    }

    /** The master key ids that can open data key {@code name}, for list/status/verify. */
    public List<String> masterKeyIds(String name) throws IOException {
        checkName(name);
        return read(name).masterKeyIds();
    }

    private void requireMaster(String what) throws EncryptionKeyException {
        if (master == null) {
            throw new EncryptionKeyException("cannot " + what + " without a master key: give --encryption-key-file FILE "
                    + "or $POWDB_BACKUP_ENCRYPTION_KEY_FILE");
        }
    }

    static void checkName(String name) throws IntegrityException {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new IntegrityException("invalid data key name '" + name + "'");
        }
    }

    BlobStore store() {
        return store;
    }

    String prefix() {
        return prefix;
    }

    MasterKey master() {
        return master;
    }
}
