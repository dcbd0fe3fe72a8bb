package io.powdb.backup.crypto;

/**
 * A random 256-bit key that encrypts one backup's objects (and its manifest), or one WAL timeline's segments.
 * It is stored only wrapped, in {@code keys/NAME.key}; {@link #toString()} shows the name only.
 */
public final class DataKey {
    private final String name;
    private final byte[] bytes;

    DataKey(String name, byte[] bytes) {
        this.name = name;
        this.bytes = bytes.clone();
    }

    /** A fresh random data key (for benchmarks and tests; repositories create theirs in {@link RepositoryKeys}). */
    public static DataKey random(String name) {
        byte[] bytes = new byte[MasterKey.KEY_BYTES];
        new java.security.SecureRandom().nextBytes(bytes);
        return new DataKey(name, bytes);
    }

    public String name() {
        return name;
    }

    byte[] bytes() {
        return bytes;
    }

    @Override
    public String toString() {
        return "data key " + name;
    }
}
