package io.powdb.backup.store.gcs;

import com.google.cloud.WriteChannel;
import com.google.cloud.storage.Storage;
import io.powdb.backup.store.BlobAlreadyExistsException;
import io.powdb.backup.store.BlobInfo;
import io.powdb.backup.store.BlobWriter;
import io.powdb.backup.store.WriteMode;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;

/**
 * Streams one object to GCS with bounded memory.
 *
 * <p>Bytes collect in a buffer of at most one chunk. An object that fits is created with one request at
 * commit. A larger one goes through a resumable upload ({@code storage.writer}) that sends full chunks as
 * they fill and holds back the rest; only {@link WriteChannel#close()} sends the final chunk and finalises
 * the object, and only {@link #commit()} calls it. A writer closed without commit abandons the session:
 * GCS never makes an unfinalised session's bytes visible and discards the session after a week.
 */
final class GcsObjectWriter implements BlobWriter {
    private static final int FIRST_BUFFER_SIZE = 64 * 1024;

    private final GcsBlobStore store;
    private final Storage storage;
    private final String key;
    private final WriteMode mode;
    /** Marks the object as this writer's, so a retried conditional request can recognise its own success. */
    private final String writeId = UUID.randomUUID().toString();
    private final int chunkSize;
    private final OutputStream stream = new ChunkStream();

    private byte[] buffer = new byte[0];
    private int filled;
    private WriteChannel channel;
    private long written;
    private boolean finished;

    GcsObjectWriter(GcsBlobStore store, String key, WriteMode mode) {
        this.store = store;
        this.storage = store.storage();
        this.key = key;
        this.mode = mode;
        this.chunkSize = store.config().chunkSize();
    }

    @Override
    public OutputStream stream() {
        return stream;
    }

    private com.google.cloud.storage.BlobInfo blobInfo() {
        return com.google.cloud.storage.BlobInfo.newBuilder(store.idOf(key))
                .setContentType("application/octet-stream")
                .setMetadata(Map.of(GcsBlobStore.WRITE_ID_METADATA, writeId))
                .build();
    }

    private void write(byte[] b, int off, int len) throws IOException {
        if (finished) {
            throw new IOException("writer for " + target() + " is already finished");
        }
        if (channel == null && (long) filled + len <= chunkSize) {
            if (buffer.length < filled + len) {
                buffer = Arrays.copyOf(buffer, Math.min(chunkSize, Math.max(filled + len, Math.max(FIRST_BUFFER_SIZE, 2 * buffer.length))));
            }
            System.arraycopy(b, off, buffer, filled, len);
            filled += len;
            written += len;
            return;
        }
        if (channel == null) {
            openResumableUpload();
        }
        writeToChannel(ByteBuffer.wrap(b, off, len));
        written += len;
    }

    /** The object outgrew one chunk: start a resumable upload and move the buffered bytes into it. */
    private void openResumableUpload() throws IOException {
        // Fail before uploading gigabytes when the key is already taken; the precondition decides races.
        if (mode == WriteMode.CREATE_NEW && store.get(key).isPresent()) {
            throw new BlobAlreadyExistsException(store.location(), key);
        }
        Storage.BlobWriteOption[] options = mode == WriteMode.CREATE_NEW
                ? new Storage.BlobWriteOption[] {Storage.BlobWriteOption.doesNotExist()}
                : new Storage.BlobWriteOption[0];
        try {
            channel = storage.writer(blobInfo(), options);
            channel.setChunkSize(chunkSize);
        } catch (RuntimeException e) {
            throw failure("starting the upload of", e);
        }
        writeToChannel(ByteBuffer.wrap(buffer, 0, filled));
        buffer = null;
        filled = 0;
    }

    private void writeToChannel(ByteBuffer data) throws IOException {
        try {
            while (data.hasRemaining()) {
                channel.write(data);
            }
        } catch (IOException | RuntimeException e) {
            throw failure("uploading", e);
        }
    }

    @Override
    public BlobInfo commit() throws IOException {
        if (finished) {
            throw new IllegalStateException("writer for " + target() + " already finished");
        }
        finished = true;
        try {
            if (channel == null) {
                Storage.BlobTargetOption[] options = mode == WriteMode.CREATE_NEW
                        ? new Storage.BlobTargetOption[] {Storage.BlobTargetOption.doesNotExist()}
                        : new Storage.BlobTargetOption[0];
                storage.create(blobInfo(), buffer, 0, filled, options);
            } else {
                channel.close(); // sends the last chunk with the total size: this is what makes the object visible
            }
        } catch (IOException | RuntimeException e) {
            // An earlier attempt may have made the object while its answer was lost: the client's retry then
            // met it (412), or the answer broke off and could not be read. The object carries this writer's id.
            if (madeByThisWriter(e)) {
                return new BlobInfo(key, written, null);
            }
            throw failure("committing", e);
        } finally {
            buffer = null;
            channel = null;
        }
        return new BlobInfo(key, written, null);
    }

    private boolean madeByThisWriter(Throwable failure) {
        try {
            return isOwnWrite();
        } catch (IOException | RuntimeException check) {
            failure.addSuppressed(check);
            return false;
        }
    }

    private boolean isOwnWrite() throws IOException {
        return store.get(key).map(blob -> blob.getMetadata() != null
                && writeId.equals(blob.getMetadata().get(GcsBlobStore.WRITE_ID_METADATA))).orElse(false);
    }

    private IOException failure(String doing, Throwable e) {
        if (mode == WriteMode.CREATE_NEW && GcsErrors.status(e) == 412) {
            return new BlobAlreadyExistsException(store.location(), key);
        }
        return GcsErrors.translate(doing, store.config().bucket(), key, e);
    }

    /**
     * Abandons the upload. The channel is deliberately not closed: closing would finalise the object.
     */
    @Override
    public void close() {
        finished = true;
        buffer = null;
        channel = null;
    }

    private String target() {
        return store.location() + "/" + key;
    }

    /** The writer's stream; closing it neither commits nor aborts. */
    private final class ChunkStream extends OutputStream {
        @Override
        public void write(int b) throws IOException {
            if (!finished && channel == null && filled < buffer.length) {
                buffer[filled++] = (byte) b; // within the first chunk: no bookkeeping needed
                written++;
                return;
            }
            GcsObjectWriter.this.write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            Objects.checkFromIndexSize(off, len, b.length);
            GcsObjectWriter.this.write(b, off, len);
        }
    }
}
