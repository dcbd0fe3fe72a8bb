package io.powdb.backup.backup;

import io.powdb.backup.integrity.HashingOutputStream;
import io.powdb.backup.repo.ObjectRef;
import io.powdb.backup.store.BlobWriter;

import java.io.IOException;
import java.io.OutputStream;

/** A data object being uploaded: its key, and its bytes hashed as they are written. Close without commit aborts. */
final class PendingObject implements AutoCloseable {
    private final String key;
    private final BlobWriter writer;
    private final HashingOutputStream out;
    private final BackupSession session;

    PendingObject(String key, BlobWriter writer, BackupSession session) {
        this.key = key;
        this.writer = writer;
        this.out = new HashingOutputStream(writer.stream());
        this.session = session;
    }

    OutputStream stream() {
        return out;
    }

    /** Makes the object visible and returns the reference a manifest will hold. */
    ObjectRef commit(String format) throws IOException {
        out.flush();
        writer.commit();
        ObjectRef ref = new ObjectRef(key, out.count(), out.hex(), format);
        session.committed(ref);
        return ref;
    }

    @Override
    public void close() {
        writer.close();
    }
}
