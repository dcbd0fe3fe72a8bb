package io.powdb.backup.crypto;

import io.powdb.backup.repo.IntegrityException;
import io.powdb.backup.repo.Json;
import io.powdb.backup.repo.RepositoryException;

import java.io.IOException;
import java.util.List;

/**
 * {@code keys/NAME.key}: one data key, wrapped by one or more master keys. More than one wrapping exists only
 * while {@code rekey} runs (old and new), so a restore works with either key at every moment of it.
 */
public record KeyObject(String format, int formatVersion, String name, String algorithm, String created,
        List<Wrapping> wrappings) {
    static final String FORMAT = "powdb-backup/data-key";
    static final int FORMAT_VERSION = 1;
    static final String ALGORITHM = "AES-256-GCM";
    public static final String PREFIX = "keys/";

    public static String key(String name) {
        return PREFIX + name + ".key";
    }

    byte[] encode() throws IOException {
        return Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsBytes(this);
    }

    static KeyObject decode(byte[] raw, String objectKey, String expectedName) throws RepositoryException {
        KeyObject k;
        try {
            k = Json.MAPPER.readValue(raw, KeyObject.class);
        } catch (IOException e) {
            throw new IntegrityException("key object " + objectKey + " is damaged (not a valid key object)");
        }
        if (!FORMAT.equals(k.format) || k.wrappings == null || k.wrappings.isEmpty()) {
            throw new IntegrityException("key object " + objectKey + " is damaged or not a powdb-backup key object");
        }
        if (k.formatVersion < 1) {
            throw new IntegrityException("key object " + objectKey + " is damaged: format version " + k.formatVersion);
        }
        if (k.formatVersion > FORMAT_VERSION) {
            throw new RepositoryException("key object " + objectKey + " has format version " + k.formatVersion
                    + ", written by a newer powdb-backup. Upgrade powdb-backup.");
        }
        if (!ALGORITHM.equals(k.algorithm)) {
            throw new IntegrityException("key object " + objectKey + " uses algorithm " + k.algorithm
                    + ", which this version does not know");
        }
        for (Wrapping w : k.wrappings) {
            if (w == null || w.masterKeyId() == null || !w.masterKeyId().matches("[0-9a-f]{16}") || w.nonce() == null
                    || w.wrappedKey() == null) {
                throw new IntegrityException("key object " + objectKey + " is damaged: a wrapping is incomplete");
            }
        }
        if (!expectedName.equals(k.name)) {
            throw new IntegrityException("key object " + objectKey + " holds the key of " + k.name
                    + ": it was swapped or copied (or damaged)");
        }
        // Not authenticated and used for nothing but reading; still, a changed byte here is damage to report.
        try {
            java.time.Instant.parse(k.created == null ? "" : k.created);
        } catch (java.time.format.DateTimeParseException e) {
            throw new IntegrityException("key object " + objectKey + " is damaged: its creation time '"
                    + printable(k.created) + "' is not a time");
        }
        return k;
    }

    /** A damaged field as it can be shown in a message: control characters and overlong values left out. */
    private static String printable(String value) {
        if (value == null) {
            return "null";
        }
        String shown = value.length() > 40 ? value.substring(0, 40) + "..." : value;
        return shown.replaceAll("\\p{Cntrl}", "?");
    }

    List<String> masterKeyIds() {
        return wrappings.stream().map(Wrapping::masterKeyId).toList();
    }
}
