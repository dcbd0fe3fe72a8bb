package io.powdb.backup.store;

/**
 * The key syntax every store accepts: '/'-separated segments of printable characters, none empty, none
 * "." or "..", no backslash, at most 1024 UTF-8 bytes (S3's limit). Checked at the API boundary so that a
 * key can never address a file outside a local store's root, and behaves the same on every store.
 */
public final class BlobKeys {
    public static final int MAX_KEY_BYTES = 1024;

    private BlobKeys() {
    }

    public static String validate(String key) {
        if (key == null || key.isEmpty()) {
            throw new IllegalArgumentException("empty object key");
        }
        if (key.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > MAX_KEY_BYTES) {
            throw new IllegalArgumentException("object key longer than " + MAX_KEY_BYTES + " bytes: " + abbreviate(key));
        }
        for (int i = 0; i < key.length(); i++) {
            char c = key.charAt(i);
            if (c < 0x20 || c == 0x7f || c == '\\') {
                throw new IllegalArgumentException("object key has a control character or backslash: " + abbreviate(key));
            }
        }
        for (String segment : key.split("/", -1)) {
            if (segment.isEmpty() || segment.equals(".") || segment.equals("..")) {
                throw new IllegalArgumentException("object key has an empty, '.' or '..' segment: " + abbreviate(key));
            }
        }
        return key;
    }

    /** Checks a key and a byte range of the object it names, as every store's ranged read takes them. */
    public static void validateRange(String key, long offset, long length) {
        validate(key);
        if (offset < 0 || length < 0) {
            throw new IllegalArgumentException("negative range " + offset + "+" + length + " for " + key);
        }
    }

    /** A prefix is a key or a key followed by '/', or empty for everything. */
    public static String validatePrefix(String prefix) {
        if (prefix == null || prefix.isEmpty()) {
            return "";
        }
        validate(prefix.endsWith("/") ? prefix.substring(0, prefix.length() - 1) + "/x" : prefix);
        return prefix;
    }

    private static String abbreviate(String key) {
        String printable = key.replaceAll("\\p{Cntrl}", "?");
        return printable.length() > 120 ? printable.substring(0, 120) + "..." : printable;
    }
}
