package io.powdb.backup.store.s3;

import io.powdb.backup.store.BlobAlreadyExistsException;
import io.powdb.backup.store.BlobInfo;
import io.powdb.backup.store.BlobWriter;
import io.powdb.backup.store.WriteMode;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.ChecksumAlgorithm;
import software.amazon.awssdk.services.s3.model.CompleteMultipartUploadRequest;
import software.amazon.awssdk.services.s3.model.CompletedMultipartUpload;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.CreateMultipartUploadRequest;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;
import software.amazon.awssdk.services.s3.model.ServerSideEncryption;
import software.amazon.awssdk.services.s3.model.UploadPartRequest;
import software.amazon.awssdk.services.s3.model.UploadPartResponse;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

/**
 * Streams one object to S3 with bounded memory.
 *
 * <p>Bytes collect in a part buffer. An object that never outgrows one part is sent with a single
 * PutObject at commit. Otherwise the first full part starts a multipart upload, and each full part is
 * handed to the store's upload pool while the writer fills the next one. Parts uploading at once, across
 * all the store's writers, are limited to {@code partsInFlight * partSize} bytes (at least one part), so the
 * writers hold at most that plus the part each is filling. Part sizes grow with the part number ({@link PartSizes}).
 *
 * <p>Commit completes the upload; close without commit aborts it on the server after the parts still
 * uploading have stopped, because S3 keeps parts that land after an abort.
 */
final class S3ObjectWriter implements BlobWriter {
    private static final int FIRST_BUFFER_SIZE = 64 * 1024;
    private static final int CONFLICT_RETRIES = 5;
    private static final long ABORT_WAIT_MILLIS = 30_000;

    private enum State { OPEN, COMMITTED, ABORTED }

    private final S3BlobStore store;
    private final S3Client s3;
    private final S3StoreConfig config;
    private final String bucket;
    private final String key;
    private final WriteMode mode;
    /** Marks the object as this writer's, so a retried conditional request can recognise its own success. */
    private final String writeId = UUID.randomUUID().toString();
    private final OutputStream stream = new PartStream();

    // Used by the writing thread only.
    private State state = State.OPEN;
    private byte[] buffer = new byte[0];
    private int filled;
    private int partNumber = 1;
    private long written;
    private String uploadId;
    private final List<Future<?>> uploads = new ArrayList<>();

    // Shared with the upload threads, guarded by lock.
    private final Object lock = new Object();
    private final TreeMap<Integer, CompletedPart> completedParts = new TreeMap<>();
    private long bytesUploading;
    private int uploadsRunning;
    private boolean aborting;
    private Throwable uploadFailure;

    S3ObjectWriter(S3BlobStore store, String key, WriteMode mode) {
        this.store = store;
        this.s3 = store.client();
        this.config = store.config();
        this.bucket = config.bucket();
        this.key = key;
        this.mode = mode;
    }

    @Override
    public OutputStream stream() {
        return stream;
    }

    private void write(byte[] b, int off, int len) throws IOException {
        ensureOpen();
        while (len > 0) {
            long capacity = PartSizes.sizeOf(partNumber, config.partSize());
            if (filled == capacity) {
                if (partNumber == PartSizes.MAX_PARTS) {
                    throw new IOException(target() + " is larger than S3's " + PartSizes.MAX_PARTS
                            + " parts allow at a first part size of " + config.partSize() + " bytes ("
                            + PartSizes.maxObjectSize(config.partSize()) + " bytes)");
                }
                submitPart(true);
                capacity = PartSizes.sizeOf(partNumber, config.partSize());
            }
            int n = (int) Math.min(len, capacity - filled);
            reserve(filled + n, (int) capacity);
            System.arraycopy(b, off, buffer, filled, n);
            filled += n;
            off += n;
            len -= n;
            written += n;
        }
    }

    /** Grows the buffer geometrically, so a small object never costs a whole part of memory. */
    private void reserve(int needed, int capacity) {
        if (buffer.length < needed) {
            int size = (int) Math.min(capacity, Math.max(needed, Math.max(FIRST_BUFFER_SIZE, 2L * buffer.length)));
            buffer = Arrays.copyOf(buffer, size);
        }
    }

    /** Hands the filled buffer to the upload pool and, if {@code more} bytes follow, starts a new one. */
    private void submitPart(boolean more) throws IOException {
        if (uploadId == null) {
            startMultipartUpload();
        }
        byte[] data = buffer;
        int length = filled;
        int number = partNumber;
        waitForUploadBudget(length);
        try {
            uploads.add(store.partUploads().submit(() -> uploadPart(number, data, length)));
        } catch (RuntimeException e) { // the store is closing
            synchronized (lock) {
                bytesUploading -= length;
            }
            store.uploadMemory().release(length);
            throw e;
        }
        partNumber++;
        // Once an object is known to be multipart, allocate whole parts at once rather than growing.
        buffer = more ? new byte[(int) PartSizes.sizeOf(partNumber, config.partSize())] : null;
        filled = 0;
    }

    private void waitForUploadBudget(int length) throws IOException {
        try {
            store.uploadMemory().acquire(length, this::uploadFailed);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while uploading " + target());
        }
        synchronized (lock) {
            if (uploadFailure != null) {
                store.uploadMemory().release(length);
                throwIfUploadFailed();
            }
            bytesUploading += length;
        }
    }

    private boolean uploadFailed() {
        synchronized (lock) {
            return uploadFailure != null;
        }
    }

    private void throwIfUploadFailed() throws IOException {
        synchronized (lock) {
            if (uploadFailure instanceof IOException io) {
                throw new IOException(io.getMessage(), io);
            }
            if (uploadFailure != null) {
                throw new IOException("uploading a part of " + target() + " failed: " + uploadFailure, uploadFailure);
            }
        }
    }

    private void uploadPart(int number, byte[] data, int length) {
        synchronized (lock) {
            if (aborting) {
                bytesUploading -= length;
                store.uploadMemory().release(length);
                lock.notifyAll();
                return;
            }
            uploadsRunning++;
        }
        try {
            UploadPartRequest.Builder request = UploadPartRequest.builder()
                    .bucket(bucket).key(key).uploadId(uploadId).partNumber(number).contentLength((long) length);
            if (config.checksums()) {
                request.checksumAlgorithm(ChecksumAlgorithm.CRC32_C);
            }
            // A provider, not a copy: each attempt (the SDK retries) re-reads the same buffer.
            RequestBody body = RequestBody.fromContentProvider(
                    () -> new ByteArrayInputStream(data, 0, length), length, "application/octet-stream");
            UploadPartResponse response = s3.uploadPart(request.build(), body);
            synchronized (lock) {
                completedParts.put(number, CompletedPart.builder()
                        .partNumber(number).eTag(response.eTag()).checksumCRC32C(response.checksumCRC32C()).build());
            }
        } catch (SdkException e) {
            recordFailure(S3Errors.translate("UploadPart " + number, bucket, key, e));
        } catch (RuntimeException | Error e) {
            recordFailure(e);
        } finally {
            synchronized (lock) {
                uploadsRunning--;
                bytesUploading -= length;
                store.uploadMemory().release(length);
                lock.notifyAll();
            }
        }
    }

    private void recordFailure(Throwable e) {
        synchronized (lock) {
            if (uploadFailure == null) {
                uploadFailure = e;
            }
        }
    }

    private void startMultipartUpload() throws IOException {
        // Fail before uploading gigabytes when the key is already taken; the conditional complete decides races.
        if (mode == WriteMode.CREATE_NEW && store.head(key).isPresent()) {
            throw new BlobAlreadyExistsException(store.location(), key);
        }
        CreateMultipartUploadRequest.Builder request = CreateMultipartUploadRequest.builder()
                .bucket(bucket).key(key).metadata(Map.of(S3BlobStore.WRITE_ID_METADATA, writeId))
                .contentType("application/octet-stream");
        applyObjectSettings(request::storageClass, (sse, kmsKeyId) -> request.serverSideEncryption(sse)
                .ssekmsKeyId(kmsKeyId), request::checksumAlgorithm);
        try {
            uploadId = s3.createMultipartUpload(request.build()).uploadId();
        } catch (SdkException e) {
            throw S3Errors.translate("CreateMultipartUpload", bucket, key, e);
        }
    }

    /**
     * Gives a new object's request the storage class, server-side encryption and upload checksum every object
     * gets, written whole or in parts alike (the SDK's two request builders share no interface for them).
     */
    private void applyObjectSettings(Consumer<String> storageClass, BiConsumer<ServerSideEncryption, String> sse,
            Consumer<ChecksumAlgorithm> checksum) {
        if (config.storageClass() != null) {
            storageClass.accept(config.storageClass());
        }
        if (config.encryption() != S3StoreConfig.Encryption.NONE) {
            sse.accept(encryption(), config.kmsKeyId());
        }
        if (config.checksums()) {
            checksum.accept(ChecksumAlgorithm.CRC32_C);
        }
    }

    private ServerSideEncryption encryption() {
        return config.encryption() == S3StoreConfig.Encryption.KMS ? ServerSideEncryption.AWS_KMS : ServerSideEncryption.AES256;
    }

    @Override
    public BlobInfo commit() throws IOException {
        ensureOpen();
        try {
            if (uploadId == null) {
                putWholeObject();
            } else {
                completeMultipartUpload();
            }
            state = State.COMMITTED;
            return new BlobInfo(key, written, null);
        } catch (IOException | RuntimeException | Error e) {
            abort();
            throw e;
        }
    }

    private void putWholeObject() throws IOException {
        boolean conditional = mode == WriteMode.CREATE_NEW && config.conditionalCreate();
        if (mode == WriteMode.CREATE_NEW && !conditional && store.head(key).isPresent()) {
            throw new BlobAlreadyExistsException(store.location(), key);
        }
        PutObjectRequest.Builder request = PutObjectRequest.builder()
                .bucket(bucket).key(key).contentLength((long) filled)
                .metadata(Map.of(S3BlobStore.WRITE_ID_METADATA, writeId))
                .contentType("application/octet-stream");
        if (conditional) {
            request.ifNoneMatch("*");
        }
        applyObjectSettings(request::storageClass, (sse, kmsKeyId) -> request.serverSideEncryption(sse)
                .ssekmsKeyId(kmsKeyId), request::checksumAlgorithm);
        byte[] data = buffer;
        int length = filled;
        for (int attempt = 1; ; attempt++) {
            try {
                s3.putObject(request.build(), RequestBody.fromContentProvider(
                        () -> new ByteArrayInputStream(data, 0, length), length, "application/octet-stream"));
                return;
            } catch (SdkException e) {
                if (conditional && S3Errors.status(e) == 412) {
                    refuseUnlessOwnWrite();
                    return;
                }
                if (conditional && isConditionalConflict(e) && attempt < CONFLICT_RETRIES) {
                    continue;
                }
                throw S3Errors.translate("PUT", bucket, key, e);
            }
        }
    }

    private void completeMultipartUpload() throws IOException {
        submitPart(false);
        for (Future<?> upload : uploads) {
            try {
                upload.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while uploading " + target());
            } catch (ExecutionException e) {
                recordFailure(e.getCause());
            }
        }
        throwIfUploadFailed();
        boolean conditional = mode == WriteMode.CREATE_NEW && config.conditionalCreate();
        if (mode == WriteMode.CREATE_NEW && !conditional && store.head(key).isPresent()) {
            throw new BlobAlreadyExistsException(store.location(), key);
        }
        List<CompletedPart> parts;
        synchronized (lock) {
            parts = new ArrayList<>(completedParts.values());
        }
        CompleteMultipartUploadRequest.Builder request = CompleteMultipartUploadRequest.builder()
                .bucket(bucket).key(key).uploadId(uploadId)
                .multipartUpload(CompletedMultipartUpload.builder().parts(parts).build());
        if (conditional) {
            request.ifNoneMatch("*");
        }
        for (int attempt = 1; ; attempt++) {
            try {
                s3.completeMultipartUpload(request.build());
                uploadId = null;
                return;
            } catch (SdkException e) {
                int status = S3Errors.status(e);
                if (conditional && status == 412) {
                    refuseUnlessOwnWrite();
                    uploadId = null;
                    return;
                }
                if (status == 404 && "NoSuchUpload".equals(S3Errors.errorCode(e)) && isOwnWrite()) {
                    // An earlier attempt completed the upload, but its response was lost and the SDK retried.
                    uploadId = null;
                    return;
                }
                if (conditional && isConditionalConflict(e) && attempt < CONFLICT_RETRIES) {
                    continue;
                }
                throw S3Errors.translate("CompleteMultipartUpload", bucket, key, e);
            }
        }
    }

    /**
     * After a 412 on a conditional write: the object exists. It is this writer's own when an earlier attempt
     * succeeded but its response was lost (the SDK then retried and met its own object); anything else is a
     * genuine conflict.
     */
    private void refuseUnlessOwnWrite() throws IOException {
        if (!isOwnWrite()) {
            throw new BlobAlreadyExistsException(store.location(), key);
        }
    }

    private boolean isOwnWrite() throws IOException {
        return store.head(key).map(h -> writeId.equals(h.metadata().get(S3BlobStore.WRITE_ID_METADATA))).orElse(false);
    }

    /** S3 answers 409 ConditionalRequestConflict to a conditional write racing another; it asks for a retry. */
    private static boolean isConditionalConflict(SdkException e) {
        return S3Errors.status(e) == 409 && "ConditionalRequestConflict".equals(S3Errors.errorCode(e));
    }

    @Override
    public void close() {
        if (state == State.OPEN) {
            abort();
        }
    }

    /** Stops part uploads, waits briefly for running ones, then aborts the multipart upload on the server. */
    private void abort() {
        state = State.ABORTED;
        buffer = null;
        synchronized (lock) {
            aborting = true;
        }
        if (uploadId == null) {
            return;
        }
        for (Future<?> upload : uploads) {
            upload.cancel(true);
        }
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ABORT_WAIT_MILLIS);
        synchronized (lock) {
            long left;
            while (uploadsRunning > 0 && (left = deadline - System.nanoTime()) > 0) {
                try {
                    TimeUnit.NANOSECONDS.timedWait(lock, left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
        try {
            s3.abortMultipartUpload(r -> r.bucket(bucket).key(key).uploadId(uploadId));
        } catch (SdkException e) {
            if (S3Errors.status(e) != 404) {
                System.err.println("warning: could not abort the multipart upload of " + target() + " (upload id "
                        + uploadId + "); a bucket lifecycle rule for incomplete uploads will remove its parts: "
                        + S3Errors.translate("AbortMultipartUpload", bucket, key, e).getMessage());
            }
        }
        uploadId = null;
    }

    private void ensureOpen() throws IOException {
        if (state != State.OPEN) {
            throw new IOException("writer for " + target() + " is already " + (state == State.COMMITTED ? "committed" : "closed"));
        }
        throwIfUploadFailed();
    }

    private String target() {
        return store.location() + "/" + key;
    }

    /** The writer's stream; closing it neither commits nor aborts. */
    private final class PartStream extends OutputStream {
        @Override
        public void write(int b) throws IOException {
            if (state == State.OPEN && filled < buffer.length) {
                buffer[filled++] = (byte) b; // within the current part: no bookkeeping needed
                written++;
                return;
            }
            S3ObjectWriter.this.write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            java.util.Objects.checkFromIndexSize(off, len, b.length);
            S3ObjectWriter.this.write(b, off, len);
        }
    }
}
