package io.powdb.backup.store;

import java.io.IOException;

/** A {@link WriteMode#CREATE_NEW} write found the key taken; nothing was written. */
public class BlobAlreadyExistsException extends IOException {
    private final String key;

    public BlobAlreadyExistsException(String location, String key) {
        super("object " + key + " already exists in " + location + " and is never overwritten");
        this.key = key;
    }

    public String key() {
        return key;
    }
}
