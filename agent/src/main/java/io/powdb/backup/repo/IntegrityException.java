package io.powdb.backup.repo;

/**
 * A stored object is missing, damaged or inconsistent: a hash mismatch, a broken chain, a malformed or
 * tampered manifest. The message names the object; nothing is restored from such a backup.
 */
public class IntegrityException extends RepositoryException {
    public IntegrityException(String message) {
        super(message);
    }

    public IntegrityException(String message, Throwable cause) {
        super(message, cause);
    }
}
