package io.powdb.backup.restore;

import java.io.IOException;

/** The restore cannot be done as asked (target not empty, no room); nothing was put in place. */
public class RestoreException extends IOException {
    public RestoreException(String message) {
        super(message);
    }

    public RestoreException(String message, Throwable cause) {
        super(message, cause);
    }
}
