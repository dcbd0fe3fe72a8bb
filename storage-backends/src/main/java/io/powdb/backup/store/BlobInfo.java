package io.powdb.backup.store;

import java.time.Instant;
import java.util.Objects;

/** A stored object's key, size in bytes and last-modified time (null where the store does not say). */
public record BlobInfo(String key, long size, Instant lastModified) {
    public BlobInfo {
        Objects.requireNonNull(key, "key");
        if (size < 0) {
            throw new IllegalArgumentException("negative size " + size + " for " + key);
        }
    }
}
