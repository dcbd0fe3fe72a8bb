package io.powdb.backup.repo;

import java.io.IOException;

/** The repository cannot be used as asked (absent, from a newer tool, no such backup); the message says why. */
public class RepositoryException extends IOException {
    public RepositoryException(String message) {
        super(message);
    }

    public RepositoryException(String message, Throwable cause) {
        super(message, cause);
    }
}
