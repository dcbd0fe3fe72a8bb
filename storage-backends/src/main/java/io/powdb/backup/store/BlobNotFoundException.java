package io.powdb.backup.store;

import java.io.IOException;

/** The object does not exist. */
public class BlobNotFoundException extends IOException {
    private final String key;

    public BlobNotFoundException(String location, String key) {
        super("no object " + key + " in " + location);
        this.key = key;
    }

    public String key() {
        return key;
    }
}
