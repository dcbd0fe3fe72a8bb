package io.powdb.backup.integrity;

import java.util.HexFormat;

/**
 * BLAKE3, the integrity check of every stored object. One place to create hashers so that the
 * implementation (today commons-codec's pure-Java one) can be replaced by a faster one without touching
 * callers.
 */
public final class Blake3 {
    public static final int HASH_BYTES = 32;

    private final org.apache.commons.codec.digest.Blake3 hasher = org.apache.commons.codec.digest.Blake3.initHash();

    public Blake3 update(byte[] data, int offset, int length) {
        hasher.update(data, offset, length);
        return this;
    }

    public Blake3 update(byte[] data) {
        return update(data, 0, data.length);
    }

    /** The 32-byte hash as 64 lowercase hex digits. */
    public String hex() {
        byte[] out = new byte[HASH_BYTES];
        hasher.doFinalize(out);
        return HexFormat.of().formatHex(out);
    }

    public static String hex(byte[] data) {
        return new Blake3().update(data).hex();
    }

    /** True for 64 lowercase hex digits, the only form hashes take in manifests. */
    public static boolean isHex(String value) {
        return value != null && value.matches("[0-9a-f]{64}");
    }
}
