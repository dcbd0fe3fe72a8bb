package io.powdb.backup.store;

/** What a write does when the key already exists. */
public enum WriteMode {
    /** Fail with {@link BlobAlreadyExistsException}; the existing object is untouched. */
    CREATE_NEW,
    /** Replace the existing object atomically (readers see the old or the new one, never a mix). */
    OVERWRITE
}
