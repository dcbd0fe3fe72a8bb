package io.powdb.backup.wal;

import java.io.IOException;

/** wal.log is in a format this agent does not know (e.g. a header version other than 1). */
public class WalFormatException extends IOException {
    public WalFormatException(String message) {
        super(message);
    }
}
