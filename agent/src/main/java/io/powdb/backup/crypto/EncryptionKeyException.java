package io.powdb.backup.crypto;

import io.powdb.backup.repo.RepositoryException;

/**
 * An encryption key is missing, unreadable, malformed or not the one the repository needs. The message says
 * which key id is needed and which was given; it never holds key material.
 */
public class EncryptionKeyException extends RepositoryException {
    public EncryptionKeyException(String message) {
        super(message);
    }

    public EncryptionKeyException(String message, Throwable cause) {
        super(message, cause);
    }
}
