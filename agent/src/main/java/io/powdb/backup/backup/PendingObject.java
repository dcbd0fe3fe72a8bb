package io.powdb.backup.backup;

import com.github.luben.zstd.RecyclingBufferPool;
import com.github.luben.zstd.ZstdOutputStreamNoFinalizer;
import io.powdb.backup.crypto.SealingOutputStream;
import io.powdb.backup.integrity.HashingOutputStream;
import io.powdb.backup.repo.ObjectRef;
import io.powdb.backup.store.BlobWriter;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;

/**
 * A data object being uploaded: its key, and its bytes hashed as they are written. Close without commit aborts.
 *
 * <p>A compressed object takes plain bytes on {@link #stream()} and stores them as one zstd frame (with its
 * content checksum, so {@code zstd -d} checks it too): the hash and size recorded are those of the stored
 * frame, and the content's length is recorded as {@code content_size}. In an encrypting repository the
 * (compressed) bytes are then encrypted: content -> zstd -> encrypt -> BLAKE3 of what is stored, so the stored
 * bytes can be checked without the key.
 */
final class PendingObject implements AutoCloseable {
    private final String key;
    private final BlobWriter writer;
    /** The stored bytes, hashed. */
    private final HashingOutputStream stored;
    /** Null for an object stored as is. */
    private final Compression compression;
    private final ZstdOutputStreamNoFinalizer zstd;
    /** Null when the repository does not encrypt. */
    private final SealingOutputStream sealing;
    /** What the caller writes to: {@link #stored}, or the compressor in front of it. */
    private final Counting content;
    private final BackupSession session;
    private boolean finished;

    /** @param compression how to store the bytes ({@link Compression#NONE}: as they are) */
    PendingObject(String key, BlobWriter writer, BackupSession session, Compression compression, int workers)
            throws IOException {
        this.key = key;
        this.writer = writer;
        this.session = session;
        this.stored = new HashingOutputStream(writer.stream());
        this.sealing = session.sealing(key, stored);
        OutputStream encoded = sealing == null ? stored : sealing;
        if (compression.enabled()) {
            this.compression = compression;
            ZstdOutputStreamNoFinalizer z = new ZstdOutputStreamNoFinalizer(encoded, RecyclingBufferPool.INSTANCE);
            try {
                z.setLevel(compression.level()).setChecksum(true);
                if (workers > 0) {
                    z.setWorkers(workers);
                }
            } catch (IOException | RuntimeException e) {
                z.closeWithoutClosingParentStream();
                throw e;
            }
            this.zstd = z;
            this.content = new Counting(z);
        } else {
            this.compression = null;
            this.zstd = null;
            this.content = new Counting(encoded);
        }
    }

    OutputStream stream() {
        return content;
    }

    /** Makes the object visible and returns the reference a manifest will hold. */
    ObjectRef commit(String format) throws IOException {
        if (zstd != null) {
            finished = true;
            zstd.closeWithoutClosingParentStream(); // ends the frame and frees the compressor
        }
        if (sealing != null) {
            sealing.finish(); // seals the last chunk
        }
        stored.flush();
        try {
            writer.commit();
        } catch (IOException | RuntimeException | Error e) {
            // A commit that failed may still have taken effect (an answer lost on the way back, an interrupt
            // after the rename): the backup's clean-up must try to remove it too.
            session.mayExist(key);
            throw e;
        }
        String algorithm = zstd == null ? null : compression.algorithm();
        ObjectRef ref = sealing == null && zstd == null ? new ObjectRef(key, stored.count(), stored.hex(), format)
                : new ObjectRef(key, stored.count(), stored.hex(), format, algorithm, content.count,
                        sealing == null ? null : ObjectRef.AES_256_GCM);
        session.committed(ref, content.count);
        return ref;
    }

    @Override
    public void close() {
        try {
            if (zstd != null && !finished) {
                finished = true;
                zstd.closeWithoutClosingParentStream(); // frees the native compressor; the object is aborted below
            }
        } catch (IOException | RuntimeException ignored) {
            // the upload is being abandoned: what the compressor still had to write does not matter
        } finally {
            writer.close();
        }
    }

    /** Counts the content written (the file's bytes, before any compression). */
    private static final class Counting extends FilterOutputStream {
        long count;

        Counting(OutputStream out) {
            super(out);
        }

        @Override
        public void write(int b) throws IOException {
            out.write(b);
            count++;
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            count += len;
        }
    }
}
