package io.powdb.backup.format;

import java.io.IOException;

/** The data directory cannot be backed up as it is; the message says why and what to do. */
public class SourceException extends IOException {
    public SourceException(String message) {
        super(message);
    }

    public SourceException(String message, Throwable cause) {
        super(message, cause);
    }
}
