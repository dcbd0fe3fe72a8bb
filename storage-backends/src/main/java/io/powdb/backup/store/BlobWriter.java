package io.powdb.backup.store;

import java.io.IOException;
import java.io.OutputStream;

/**
 * An object being written. Write the bytes to {@link #stream()}, then call {@link #commit()} to make the
 * object visible. {@link #close()} without a successful commit discards everything written (a temp file
 * is removed, a multipart upload is aborted), so a try-with-resources block that throws never leaves a
 * partial object behind.
 */
public interface BlobWriter extends AutoCloseable {

    /** Where to write the object's bytes. Closing this stream does not commit. */
    OutputStream stream();

    /**
     * Makes the object visible under its key, durably.
     *
     * @throws BlobAlreadyExistsException with {@link WriteMode#CREATE_NEW} when the key already exists
     */
    BlobInfo commit() throws IOException;

    /** Aborts unless committed. Never throws for an abort that could not clean up: it logs to stderr. */
    @Override
    void close();
}
