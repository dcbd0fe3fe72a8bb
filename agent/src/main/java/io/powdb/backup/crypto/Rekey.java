package io.powdb.backup.crypto;

import io.powdb.backup.repo.IntegrityException;
import io.powdb.backup.repo.Repository;
import io.powdb.backup.repo.RepositoryMarker;
import io.powdb.backup.store.BlobInfo;
import io.powdb.backup.store.BlobStore;
import io.powdb.backup.store.WriteMode;

import java.io.IOException;
import java.security.GeneralSecurityException;
import java.util.ArrayList;
import java.util.List;

/**
 * Rotates the master key: rewraps every data key, never touching data objects, manifests or segments.
 *
 * <ol>
 * <li>each key object gets a second wrapping, by the new key, next to the old one (written, read back and
 *     unwrapped before going on): from here on, each object opens with either key;</li>
 * <li>the repository marker names the new key, so new backups must use it;</li>
 * <li>each key object drops every wrapping but the new key's: the old key stops working.</li>
 * </ol>
 * Every write replaces a whole small object (atomic on S3, GCS and the local store), so an interruption
 * anywhere leaves each key object openable with the old key, the new key, or both, and a re-run (with either
 * key as the current one) finishes the job. Run it holding the lease, so that no backup creates a data key
 * wrapped by the old key meanwhile.
 */
public final class Rekey {
    private static final int MAX_KEY_OBJECT_BYTES = 64 << 10;

    /** What a run did: key objects seen, and how many of them it had to change. */
    public record Result(int keyObjects, int rewrapped, int dropped, String oldKeyId, String newKeyId) {
    }

    private final Repository repository;
    private final MasterKey current;
    private final MasterKey next;

    public Rekey(Repository repository, MasterKey current, MasterKey next) {
        this.repository = repository;
        this.current = current;
        this.next = next;
    }

    public Result run() throws IOException {
        RepositoryMarker marker = repository.marker().orElseThrow(() -> new IntegrityException("no backup repository at "
                + repository.location()));
        if (!marker.encrypted()) {
            throw new EncryptionKeyException("the repository at " + repository.location() + " is not encrypted: there "
                    + "is nothing to rekey");
        }
        String markerId = marker.encryption().masterKeyId();
        if (!markerId.equals(current.id()) && !markerId.equals(next.id())) {
            throw new EncryptionKeyException("the repository at " + repository.location() + " is encrypted with master key "
                    + markerId + "; the current key given is " + current.id() + " and the new one " + next.id()
                    + ". Give the repository's key as the current key.");
        }
        if (current.id().equals(next.id())) {
            throw new EncryptionKeyException("the new key is the current key (" + current.id() + "): generate a new one "
                    + "with 'powdb-backup keygen'");
        }
        BlobStore store = repository.store();
        List<String> names = names(store);
        int added = 0;
        for (String name : names) {
            KeyObject k = read(store, name);
            if (k.masterKeyIds().contains(next.id())) {
                unwrapWith(next, k); // already done by an earlier run: check it really opens
                continue;
            }
            byte[] dataKey = unwrapWith(current, k);
            List<Wrapping> both = new ArrayList<>(k.wrappings());
            both.add(next.wrap(name, dataKey));
            java.util.Arrays.fill(dataKey, (byte) 0);
            replace(store, name, k, both);
            added++;
        }
        repository.updateMasterKeyId(next.id());
        int dropped = 0;
        for (String name : names) {
            KeyObject k = read(store, name);
            if (k.wrappings().size() == 1 && k.masterKeyIds().contains(next.id())) {
                continue;
            }
            List<Wrapping> only = k.wrappings().stream().filter(w -> w.masterKeyId().equals(next.id())).toList();
            replace(store, name, k, only);
            dropped++;
        }
        return new Result(names.size(), added, dropped, current.id(), next.id());
    }

    private List<String> names(BlobStore store) throws IOException {
        String prefix = repository.key(KeyObject.PREFIX);
        List<String> names = new ArrayList<>();
        for (BlobInfo info : store.listAll(prefix)) {
            String rest = info.key().substring(prefix.length());
            if (rest.endsWith(".key") && !rest.contains("/")) {
                names.add(rest.substring(0, rest.length() - 4));
            }
        }
        return names;
    }

    private KeyObject read(BlobStore store, String name) throws IOException {
        RepositoryKeys.checkName(name);
        return KeyObject.decode(store.readAllBytes(repository.key(KeyObject.key(name)), MAX_KEY_OBJECT_BYTES),
                KeyObject.key(name), name);
    }

    private byte[] unwrapWith(MasterKey key, KeyObject k) throws IOException {
        Wrapping w = k.wrappings().stream().filter(x -> x.masterKeyId().equals(key.id())).findFirst()
                .orElseThrow(() -> new EncryptionKeyException("key object " + KeyObject.key(k.name()) + " is wrapped by "
                        + "master key " + String.join(" and ", k.masterKeyIds()) + ", not by " + key.id()
                        + ": rekey needs the key it was wrapped with as the current key"));
        try {
            return key.unwrap(k.name(), w);
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            throw new IntegrityException("key object " + KeyObject.key(k.name()) + " fails authentication with master key "
                    + key.id() + ": it was damaged or tampered with; nothing more was changed");
        }
    }

    /** Writes the object with these wrappings, then reads it back and opens it with the new key before going on. */
    private void replace(BlobStore store, String name, KeyObject old, List<Wrapping> wrappings) throws IOException {
        KeyObject updated = new KeyObject(old.format(), old.formatVersion(), name, old.algorithm(), old.created(),
                wrappings);
        store.putBytes(repository.key(KeyObject.key(name)), updated.encode(), WriteMode.OVERWRITE);
        KeyObject back = read(store, name);
        byte[] check = unwrapWith(next, back);
        java.util.Arrays.fill(check, (byte) 0);
        if (!back.masterKeyIds().equals(updated.masterKeyIds())) {
            throw new IntegrityException("key object " + KeyObject.key(name) + " reads back differently from what was "
                    + "written: the store did not keep the write; run rekey again");
        }
    }
}
