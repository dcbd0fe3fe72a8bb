package io.powdb.backup.crypto;

import javax.crypto.Cipher;
import javax.crypto.Mac;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;

/**
 * The user's key: a key-encryption key that wraps the random data key of every backup and WAL timeline. It
 * never encrypts data itself, so rotating it ({@code rekey}) rewrites small key objects only.
 *
 * <p>Its id is derived from the key (so a key file cannot carry a wrong id) and is safe to show: it is the
 * first 8 bytes of HMAC-SHA256(key, "powdb-backup key id"), which reveals nothing usable about the key.
 * {@link #toString()} shows the id only.
 */
public final class MasterKey {
    public static final int KEY_BYTES = 32;
    static final String FILE_HEADER = "powdb-backup-encryption-key v1";
    private static final int WRAP_NONCE_BYTES = 12;
    private static final int MAX_FILE_BYTES = 64 << 10;
    private static final SecureRandom RANDOM = new SecureRandom();

    private final byte[] key;
    private final String id;
    /** Where it came from, for messages (a path, never the key). */
    private final String source;

    private MasterKey(byte[] key, String source) {
        if (key.length != KEY_BYTES) {
            throw new IllegalArgumentException("a master key has " + KEY_BYTES + " bytes");
        }
        this.key = key.clone();
        this.id = idOf(this.key);
        this.source = source;
    }

    /** A new random key (for tests; {@code keygen} writes one with {@link #generateFile}). */
    public static MasterKey generate() {
        byte[] k = new byte[KEY_BYTES];
        RANDOM.nextBytes(k);
        return new MasterKey(k, "a generated key");
    }

    public String id() {
        return id;
    }

    /** Where the key was read from: shown with the id in messages. */
    public String source() {
        return source;
    }

    @Override
    public String toString() {
        return "master key " + id;
    }

    static String idOf(byte[] key) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            byte[] full = mac.doFinal("powdb-backup key id".getBytes(StandardCharsets.US_ASCII));
            return HexFormat.of().formatHex(full, 0, 8);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HMAC-SHA256 is not available in this JVM", e);
        }
    }

    /**
     * Writes a new random key to {@code file}, created owner-only (0600) and never over an existing file.
     *
     * @throws EncryptionKeyException when the file exists or cannot be written
     */
    public static MasterKey generateFile(Path file) throws IOException {
        MasterKey key = generate();
        String text = "# " + FILE_HEADER.replace(" v1", "") + ": keep it secret and keep a copy apart from the backups.\n"
                + "# Without this key the backups encrypted with it cannot be restored by anyone.\n"
                + FILE_HEADER + "\n"
                + "id: " + key.id + "\n"
                + "key: " + Base64.getEncoder().encodeToString(key.key) + "\n";
        try {
            if (Files.getFileStore(file.toAbsolutePath().getParent()).supportsFileAttributeView("posix")) {
                Files.write(file, text.getBytes(StandardCharsets.US_ASCII), StandardOpenOption.CREATE_NEW,
                        StandardOpenOption.WRITE);
                // Set after creation as well: the umask may have narrowed or (on some systems) not applied the mode.
                Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
            } else {
                Files.write(file, text.getBytes(StandardCharsets.US_ASCII), StandardOpenOption.CREATE_NEW);
            }
        } catch (FileAlreadyExistsException e) {
            throw new EncryptionKeyException("key file " + file + " already exists; keygen never overwrites a key "
                    + "(backups may need it). Choose another --output, or move the old file away first.");
        }
        return new MasterKey(key.key, file.toString());
    }

    /** What loading a key file found that is not an error (a file readable by others). */
    public record Loaded(MasterKey key, List<String> warnings) {
    }

    /**
     * Reads a key file written by {@code keygen}. A file every user can read is accepted with a warning:
     * Kubernetes mounts Secrets 0644 unless {@code defaultMode} says otherwise, and refusing would break the
     * common deployment, while the pod's filesystem is normally private to it anyway. Group-readable alone is
     * not warned about: with {@code fsGroup} the kubelet makes Secret files 0440 for the pod's own group.
     *
     * @throws EncryptionKeyException when the file is missing, unreadable, empty, malformed or of the wrong length;
     *     the message never contains key material
     */
    public static Loaded load(Path file) throws EncryptionKeyException {
        List<String> warnings = new ArrayList<>();
        byte[] raw;
        try {
            if (Files.isRegularFile(file) && Files.size(file) > MAX_FILE_BYTES) {
                throw new EncryptionKeyException("encryption key file " + file + " is " + Files.size(file) + " bytes: "
                        + "not a key file (those are about 250 bytes); check --encryption-key-file");
            }
            raw = Files.readAllBytes(file);
        } catch (EncryptionKeyException e) {
            throw e;
        } catch (NoSuchFileException e) {
            throw new EncryptionKeyException("encryption key file " + file + " does not exist: check "
                    + "--encryption-key-file or $POWDB_BACKUP_ENCRYPTION_KEY_FILE (create a key with 'powdb-backup keygen')");
        } catch (AccessDeniedException e) {
            throw new EncryptionKeyException("encryption key file " + file + " cannot be read: permission denied "
                    + "(it must be readable by the user running powdb-backup)");
        } catch (IOException e) {
            throw new EncryptionKeyException("encryption key file " + file + " cannot be read: " + e.getClass().getSimpleName());
        }
        try {
            Set<PosixFilePermission> mode = Files.getPosixFilePermissions(file);
            if (mode.contains(PosixFilePermission.OTHERS_READ)) {
                warnings.add("encryption key file " + file + " is readable by every user of this machine (mode "
                        + PosixFilePermissions.toString(mode) + "); make it owner-only (chmod 600, or defaultMode: 0400 "
                        + "for a Kubernetes Secret)");
            }
        } catch (UnsupportedOperationException | IOException ignored) {
            // not a POSIX filesystem: nothing to check
        }
        String text = new String(raw, StandardCharsets.US_ASCII);
        java.util.Arrays.fill(raw, (byte) 0);
        String header = null;
        String id = null;
        String encoded = null;
        for (String line : text.split("\n")) {
            String l = line.strip();
            if (l.isEmpty() || l.startsWith("#")) {
                continue;
            }
            if (header == null) {
                header = l;
            } else if (l.startsWith("id:") && id == null) {
                id = l.substring(3).strip();
            } else if (l.startsWith("key:") && encoded == null) {
                encoded = l.substring(4).strip();
            } else {
                throw malformed(file, "an unexpected line (not 'id:' or 'key:', or one of them twice)");
            }
        }
        if (header == null) {
            throw new EncryptionKeyException("encryption key file " + file + " is empty: it should hold a key written by "
                    + "'powdb-backup keygen'");
        }
        if (!FILE_HEADER.equals(header)) {
            throw malformed(file, "its first line is not '" + FILE_HEADER + "'");
        }
        if (encoded == null) {
            throw malformed(file, "it has no 'key:' line");
        }
        byte[] key;
        try {
            key = Base64.getDecoder().decode(encoded);
        } catch (IllegalArgumentException e) {
            throw malformed(file, "its key is not valid base64");
        }
        if (key.length != KEY_BYTES) {
            int length = key.length;
            java.util.Arrays.fill(key, (byte) 0);
            throw malformed(file, "its key has " + length + " bytes instead of " + KEY_BYTES);
        }
        MasterKey loaded = new MasterKey(key, file.toString());
        java.util.Arrays.fill(key, (byte) 0);
        if (id != null && !id.equals(loaded.id)) {
            throw malformed(file, "its id " + id + " does not belong to its key (the file was edited or mixed up)");
        }
        return new Loaded(loaded, warnings);
    }

    private static EncryptionKeyException malformed(Path file, String what) {
        return new EncryptionKeyException("encryption key file " + file + " is malformed: " + what
                + ". Use the file 'powdb-backup keygen' wrote, unchanged.");
    }

    /** Wraps a data key: AES-256-GCM under this key, the AAD binding it to its name and to this key's id. */
    Wrapping wrap(String name, byte[] dataKey) {
        byte[] nonce = new byte[WRAP_NONCE_BYTES];
        RANDOM.nextBytes(nonce);
        try {
            Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
            cipher.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(key, "AES"), new GCMParameterSpec(128, nonce));
            cipher.updateAAD(wrapAad(name, id));
            return new Wrapping(id, Base64.getEncoder().encodeToString(nonce),
                    Base64.getEncoder().encodeToString(cipher.doFinal(dataKey)));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM is not available in this JVM", e);
        }
    }

    /**
     * @throws javax.crypto.AEADBadTagException when the wrapping was not made by this key for this name
     *     (tampered, or moved to another name)
     */
    byte[] unwrap(String name, Wrapping wrapping) throws GeneralSecurityException {
        Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
        cipher.init(Cipher.DECRYPT_MODE, new SecretKeySpec(key, "AES"),
                new GCMParameterSpec(128, Base64.getDecoder().decode(wrapping.nonce())));
        cipher.updateAAD(wrapAad(name, id));
        return cipher.doFinal(Base64.getDecoder().decode(wrapping.wrappedKey()));
    }

    private static byte[] wrapAad(String name, String masterKeyId) {
        return ("powdb-backup/data-key\0" + name + "\0" + masterKeyId).getBytes(StandardCharsets.UTF_8);
    }

    /** The key bytes, for tests that search outputs for them. */
    byte[] material() {
        return key.clone();
    }
}
