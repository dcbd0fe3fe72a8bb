package io.powdb.backup.store.gcs;

import com.google.api.gax.paging.Page;
import com.google.api.gax.retrying.RetrySettings;
import com.google.cloud.NoCredentials;
import com.google.cloud.ReadChannel;
import com.google.cloud.http.HttpTransportOptions;
import com.google.cloud.storage.Blob;
import com.google.cloud.storage.BlobId;
import com.google.cloud.storage.Storage;
import com.google.cloud.storage.StorageOptions;
import com.google.cloud.storage.StorageRetryStrategy;
import io.powdb.backup.store.BlobInfo;
import io.powdb.backup.store.BlobKeys;
import io.powdb.backup.store.BlobNotFoundException;
import io.powdb.backup.store.BlobStore;
import io.powdb.backup.store.BlobWriter;
import io.powdb.backup.store.WriteMode;

import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.Channels;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A {@link BlobStore} in one Google Cloud Storage bucket, on the google-cloud-storage JSON API client.
 *
 * <ul>
 *   <li>Writes: one request for objects up to one chunk, else a resumable upload whose session is
 *       finalised only by commit (see {@link GcsObjectWriter}).</li>
 *   <li>CREATE_NEW: the {@code ifGenerationMatch=0} precondition, enforced by GCS atomically.</li>
 *   <li>Reads: the object's generation is read first and the read is pinned to it, so a replaced object
 *       fails the read instead of mixing versions; the client's ReadChannel resumes broken reads itself.</li>
 *   <li>Retries: every request is retried (see {@link #retrySettings(int)}), which is safe here because
 *       every write either carries a precondition or replaces an object with the same bytes.</li>
 * </ul>
 */
public final class GcsBlobStore implements BlobStore {
    /** User metadata naming the writer of an object, so a retried conditional write can recognise its own success. */
    static final String WRITE_ID_METADATA = "powdb-write-id";
    private static final int READ_CHUNK_SIZE = 2 * 1024 * 1024;

    private final GcsStoreConfig config;
    private final Storage storage;

    public GcsBlobStore(GcsStoreConfig config) {
        this.config = config;
        StorageOptions.Builder options = StorageOptions.newBuilder()
                .setRetrySettings(retrySettings(config.maxAttempts()))
                // The default strategy retries only requests it can prove idempotent; ours all are in effect
                // (CREATE_NEW carries ifGenerationMatch=0 and recognises its own earlier success, OVERWRITE
                // rewrites the same bytes, deleting twice is harmless).
                .setStorageRetryStrategy(StorageRetryStrategy.getUniformStorageRetryStrategy())
                .setTransportOptions(HttpTransportOptions.newBuilder()
                        .setConnectTimeout(10_000)
                        .setReadTimeout(60_000)
                        .build());
        if (config.host() != null) {
            options.setHost(config.host());
        }
        if (config.projectId() != null) {
            options.setProjectId(config.projectId());
        }
        if (config.anonymous()) {
            options.setCredentials(NoCredentials.getInstance());
        }
        this.storage = options.build().getService();
    }

    /**
     * Up to {@code maxAttempts} attempts per request with jittered exponential backoff from 0.5 s doubling to
     * 30 s, and a five-minute budget per request (an upload chunk is one request), longer than the client's
     * defaults because a backup would rather wait out a brief outage than fail.
     */
    static RetrySettings retrySettings(int maxAttempts) {
        return RetrySettings.newBuilder()
                .setMaxAttempts(maxAttempts)
                .setInitialRetryDelayDuration(Duration.ofMillis(500))
                .setRetryDelayMultiplier(2.0)
                .setMaxRetryDelayDuration(Duration.ofSeconds(30))
                .setInitialRpcTimeoutDuration(Duration.ofMinutes(2))
                .setRpcTimeoutMultiplier(1.0)
                .setMaxRpcTimeoutDuration(Duration.ofMinutes(2))
                .setTotalTimeoutDuration(Duration.ofMinutes(5))
                .build();
    }

    GcsStoreConfig config() {
        return config;
    }

    Storage storage() {
        return storage;
    }

    BlobId idOf(String key) {
        return BlobId.of(config.bucket(), key);
    }

    @Override
    public String location() {
        return "gs://" + config.bucket();
    }

    @Override
    public BlobWriter newWriter(String key, WriteMode mode) {
        BlobKeys.validate(key);
        return new GcsObjectWriter(this, key, mode);
    }

    @Override
    public InputStream openRange(String key, long offset, long length) throws IOException {
        BlobKeys.validateRange(key, offset, length);
        Blob blob = get(key).orElseThrow(() -> new BlobNotFoundException(location(), key));
        long size = blob.getSize();
        if (offset > size) {
            throw new IOException("range starts at " + offset + " past the end of " + location() + "/" + key
                    + " (" + size + " bytes)");
        }
        long end = length > size - offset ? size : offset + length;
        if (offset == end) {
            return InputStream.nullInputStream();
        }
        return new RangeInputStream(key, blob.getGeneration(), offset, end);
    }

    Optional<Blob> get(String key) throws IOException {
        try {
            return Optional.ofNullable(storage.get(idOf(key)));
        } catch (RuntimeException e) {
            throw GcsErrors.translate("GET metadata", config.bucket(), key, e);
        }
    }

    @Override
    public Optional<BlobInfo> stat(String key) throws IOException {
        BlobKeys.validate(key);
        return get(key).map(blob -> new BlobInfo(key, blob.getSize(), updated(blob)));
    }

    private static java.time.Instant updated(Blob blob) {
        OffsetDateTime time = blob.getUpdateTimeOffsetDateTime();
        return time == null ? null : time.toInstant();
    }

    @Override
    public List<BlobInfo> list(String prefix, String startAfter, int limit) throws IOException {
        BlobKeys.validatePrefix(prefix);
        if (limit <= 0) {
            throw new IllegalArgumentException("limit must be positive");
        }
        List<Storage.BlobListOption> options = new ArrayList<>();
        options.add(Storage.BlobListOption.pageSize(Math.min(1000, limit + 1L)));
        options.add(Storage.BlobListOption.fields(Storage.BlobField.NAME, Storage.BlobField.SIZE, Storage.BlobField.UPDATED));
        if (!prefix.isEmpty()) {
            options.add(Storage.BlobListOption.prefix(prefix));
        }
        if (startAfter != null) {
            // startOffset is inclusive; the one entry equal to startAfter is skipped below.
            options.add(Storage.BlobListOption.startOffset(startAfter));
        }
        List<BlobInfo> page = new ArrayList<>();
        try {
            Page<Blob> blobs = storage.list(config.bucket(), options.toArray(new Storage.BlobListOption[0]));
            for (Blob blob : blobs.iterateAll()) {
                if (blob.getName().equals(startAfter)) {
                    continue;
                }
                page.add(new BlobInfo(blob.getName(), blob.getSize(), updated(blob)));
                if (page.size() == limit) {
                    break;
                }
            }
        } catch (RuntimeException e) {
            throw GcsErrors.translate("LIST", config.bucket(), prefix.isEmpty() ? null : prefix, e);
        }
        return page;
    }

    @Override
    public void delete(String key) throws IOException {
        BlobKeys.validate(key);
        try {
            storage.delete(idOf(key)); // false when already gone: deletes are idempotent
        } catch (RuntimeException e) {
            throw GcsErrors.translate("DELETE", config.bucket(), key, e);
        }
    }

    @Override
    public boolean supportsConditionalCreate() {
        return true;
    }

    @Override
    public void close() throws IOException {
        try {
            storage.close();
        } catch (Exception e) {
            throw new IOException("closing the GCS client for " + location() + " failed: " + e.getMessage(), e);
        }
    }

    /**
     * Bytes {@code [position, end)} of one generation of an object. The client resumes a download whose body
     * breaks, but takes a response whose headers were cut short for a complete, empty one, and ends the
     * stream early without an error. The size is known here, so an early end is resumed from the byte reached
     * (up to {@code maxAttempts} times in a row without progress, then an error). The client's runtime
     * exceptions become IOExceptions naming the object.
     */
    private final class RangeInputStream extends InputStream {
        private final String key;
        private final long generation;
        private final long end;
        private long position;
        private InputStream in;
        private int earlyEnds;

        RangeInputStream(String key, long generation, long offset, long end) throws IOException {
            this.key = key;
            this.generation = generation;
            this.position = offset;
            this.end = end;
            open();
        }

        private void open() throws IOException {
            ReadChannel channel = storage.reader(BlobId.of(config.bucket(), key, generation));
            try {
                channel.setChunkSize(READ_CHUNK_SIZE);
                channel.seek(position);
                channel.limit(end);
            } catch (IOException | RuntimeException e) {
                channel.close();
                throw GcsErrors.translate("GET", config.bucket(), key, e);
            }
            in = Channels.newInputStream(channel);
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            int n = read(one, 0, 1);
            return n < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            java.util.Objects.checkFromIndexSize(off, len, b.length);
            while (len > 0 && position < end) {
                int n;
                try {
                    n = in.read(b, off, (int) Math.min(len, end - position));
                } catch (IOException | RuntimeException e) {
                    throw GcsErrors.translate("GET", config.bucket(), key, e);
                }
                if (n > 0) {
                    position += n;
                    earlyEnds = 0;
                    return n;
                }
                if (n < 0) {
                    if (++earlyEnds > config.maxAttempts()) {
                        throw new IOException("GET " + location() + "/" + key + " ended at byte " + position + " of "
                                + end + " and did not resume after " + config.maxAttempts() + " attempts");
                    }
                    in.close();
                    open();
                }
            }
            return len == 0 ? 0 : -1;
        }

        @Override
        public void close() throws IOException {
            in.close();
        }
    }
}
