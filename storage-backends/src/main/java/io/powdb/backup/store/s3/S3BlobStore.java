package io.powdb.backup.store.s3;

import io.powdb.backup.store.BlobInfo;
import io.powdb.backup.store.BlobKeys;
import io.powdb.backup.store.BlobNotFoundException;
import io.powdb.backup.store.BlobStore;
import io.powdb.backup.store.ParallelRangedInputStream;
import io.powdb.backup.store.BlobWriter;
import io.powdb.backup.store.WriteMode;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.awscore.retry.AwsRetryStrategy;
import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.interceptor.ExecutionInterceptor;
import software.amazon.awssdk.http.apache5.Apache5HttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.regions.providers.DefaultAwsRegionProviderChain;
import software.amazon.awssdk.retries.api.BackoffStrategy;
import software.amazon.awssdk.retries.api.RetryStrategy;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3ClientBuilder;
import software.amazon.awssdk.services.s3.model.GetObjectRequest;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Request;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Response;
import software.amazon.awssdk.services.s3.model.S3Object;

import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A {@link BlobStore} in one S3 bucket (or an S3-compatible store), on the synchronous AWS SDK v2 client.
 *
 * <ul>
 *   <li>Writes: one PutObject for objects that fit in one part, else a multipart upload with a few parts
 *       in flight; the parts in flight of all writers together take at most {@code partsInFlight} parts of
 *       memory, plus the part each writer is filling (see {@link S3ObjectWriter}).</li>
 *   <li>CREATE_NEW: {@code If-None-Match: *} on PutObject and CompleteMultipartUpload, so S3 itself refuses
 *       to replace an object; with {@link S3StoreConfig#conditionalCreate()} off, check-then-write.</li>
 *   <li>Reads: (ranged) GETs whose body resumes from the byte reached when the connection breaks
 *       (see {@link ResumingS3InputStream}).</li>
 *   <li>Retries: the SDK's standard strategy with more attempts and jittered exponential backoff, longer
 *       for throttling; see {@link #retryStrategy(int)}.</li>
 * </ul>
 */
public final class S3BlobStore implements BlobStore {
    /** User metadata naming the writer of an object, so a retried conditional write can recognise its own success. */
    static final String WRITE_ID_METADATA = "powdb-write-id";
    private static final AtomicInteger THREADS = new AtomicInteger();

    private final S3StoreConfig config;
    private final S3Client s3;
    private final AutoCloseable ownedCredentials;
    private final ExecutorService partUploads;
    private final UploadMemory uploadMemory;
    /** Reads of at least this many bytes go as ranged GETs in parallel, this big, this many at once. */
    static final long PARALLEL_READ_MIN_BYTES = 16L << 20;
    static final int PARALLEL_READ_CHUNK = 4 << 20;
    static final int PARALLEL_READS = 4;

    public S3BlobStore(S3StoreConfig config) {
        this(config, List.of());
    }

    /** With extra SDK interceptors; tests use one to see the headers that go on the wire. */
    S3BlobStore(S3StoreConfig config, List<ExecutionInterceptor> interceptors) {
        this.config = config;
        AwsCredentialsProvider credentials = config.credentials();
        if (credentials == null) {
            DefaultCredentialsProvider chain = DefaultCredentialsProvider.builder().build();
            credentials = chain;
            ownedCredentials = chain;
        } else {
            ownedCredentials = null;
        }
        this.s3 = buildClient(config, credentials, interceptors);
        ThreadFactory threads = runnable -> {
            Thread t = new Thread(runnable, "s3-part-upload-" + THREADS.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
        // Unbounded in threads, bounded in practice: each writer has at most partsInFlight parts submitted.
        this.partUploads = Executors.newCachedThreadPool(threads);
        this.uploadMemory = new UploadMemory((long) config.partsInFlight() * config.partSize());
    }

    private static S3Client buildClient(S3StoreConfig config, AwsCredentialsProvider credentials,
                                        List<ExecutionInterceptor> interceptors) {
        S3ClientBuilder builder = S3Client.builder()
                .httpClientBuilder(Apache5HttpClient.builder()
                        .maxConnections(Math.max(50, config.partsInFlight() * 8))
                        .connectionTimeout(Duration.ofSeconds(10))
                        // A read that stalls this long is treated as broken: the SDK retries, readers resume.
                        .socketTimeout(config.socketTimeout())
                        .tcpKeepAlive(true))
                .credentialsProvider(credentials)
                .forcePathStyle(config.pathStyle())
                .overrideConfiguration(o -> {
                    o.retryStrategy(retryStrategy(config.maxAttempts()));
                    // Responses cut short by a dropped connection are retried, not half-used.
                    o.addExecutionInterceptor(new BrokenResponseCheck());
                    interceptors.forEach(o::addExecutionInterceptor);
                });
        if (config.endpoint() != null) {
            builder.endpointOverride(config.endpoint());
        }
        Region region = config.region() != null ? Region.of(config.region()) : regionFromDefaultChain();
        if (region != null) {
            builder.region(region);
        } else {
            // No region anywhere: sign for us-east-1 and, on AWS, let the SDK follow S3's redirect to the
            // bucket's real region (custom endpoints do not redirect, and mostly ignore the region).
            builder.region(Region.US_EAST_1);
            builder.crossRegionAccessEnabled(config.endpoint() == null);
        }
        if (!config.checksums()) {
            builder.requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED);
            builder.responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED);
        }
        return builder.build();
    }

    /** The default chain's region (AWS_REGION, profile, instance metadata), or null when it has none. */
    private static Region regionFromDefaultChain() {
        try {
            return new DefaultAwsRegionProviderChain().getRegion();
        } catch (SdkClientException noRegionConfigured) {
            return null;
        }
    }

    /**
     * Backups are long batch jobs, so a request is worth many attempts: 10 by default instead of the SDK's 3,
     * with full-jitter exponential backoff (0.2 s doubling to 20 s) on 5xx and network errors and a longer one
     * (1 s doubling to 30 s) on throttling (503 SlowDown). The SDK's retry circuit breaker is off: it exists to
     * shed load from many clients of one service, and would fail a whole backup after a short outage.
     */
    static RetryStrategy retryStrategy(int maxAttempts) {
        return AwsRetryStrategy.standardRetryStrategy().toBuilder()
                .maxAttempts(maxAttempts)
                .backoffStrategy(BackoffStrategy.exponentialDelay(Duration.ofMillis(200), Duration.ofSeconds(20)))
                .throttlingBackoffStrategy(BackoffStrategy.exponentialDelay(Duration.ofSeconds(1), Duration.ofSeconds(30)))
                .circuitBreakerEnabled(false)
                .build();
    }

    S3StoreConfig config() {
        return config;
    }

    S3Client client() {
        return s3;
    }

    /** The memory all writers' parts in flight may take together. */
    UploadMemory uploadMemory() {
        return uploadMemory;
    }

    ExecutorService partUploads() {
        return partUploads;
    }

    @Override
    public String location() {
        return "s3://" + config.bucket();
    }

    @Override
    public BlobWriter newWriter(String key, WriteMode mode) {
        BlobKeys.validate(key);
        return new S3ObjectWriter(this, key, mode);
    }

    @Override
    public InputStream openRange(String key, long offset, long length) throws IOException {
        BlobKeys.validateRange(key, offset, length);
        long end = length > Long.MAX_VALUE - offset ? Long.MAX_VALUE : offset + length;
        if (offset == end) {
            return emptyRangeAt(key, offset);
        }
        ResponseInputStream<GetObjectResponse> first;
        try {
            first = get(key, offset, end, null);
        } catch (SdkException e) {
            if (S3Errors.status(e) == 416) {
                return emptyRangeAt(key, offset);
            }
            throw S3Errors.translate("GET", config.bucket(), key, e);
        }
        long objectSize = objectSize(first.response());
        long realEnd = objectSize < 0 ? end : Math.min(end, objectSize);
        if (objectSize < 0 || realEnd - offset < PARALLEL_READ_MIN_BYTES) {
            return new ResumingS3InputStream(this, key, offset, end, first);
        }
        // Large: the first response serves the first chunk, the rest is fetched by ranged GETs in parallel,
        // all pinned to the same ETag so no chunk comes from another version of the object.
        String etag = first.response().eTag();
        return new ParallelRangedInputStream((chunkOffset, chunkLength) -> {
            long chunkEnd = chunkOffset + chunkLength;
            if (chunkOffset == offset) {
                return new ResumingS3InputStream(this, key, offset, chunkEnd, first);
            }
            try {
                return new ResumingS3InputStream(this, key, chunkOffset, chunkEnd, get(key, chunkOffset, chunkEnd, etag));
            } catch (SdkException e) {
                throw S3Errors.translate("GET", config.bucket(), key, e);
            }
        }, location() + "/" + key, offset, realEnd - offset, PARALLEL_READ_CHUNK, PARALLEL_READS, partUploads);
    }

    /** The whole object's size from a (ranged) GET's Content-Range or Content-Length; -1 when neither says. */
    private static long objectSize(GetObjectResponse response) {
        String range = response.contentRange();
        if (range != null) {
            int slash = range.lastIndexOf('/');
            if (slash >= 0 && !range.endsWith("*")) {
                try {
                    return Long.parseLong(range.substring(slash + 1).trim());
                } catch (NumberFormatException e) {
                    return -1;
                }
            }
            return -1;
        }
        Long length = response.contentLength();
        return length == null ? -1 : length;
    }

    /** A GET of bytes {@code [offset, end)} ({@code end} may be Long.MAX_VALUE), pinned to an ETag if given. */
    ResponseInputStream<GetObjectResponse> get(String key, long offset, long end, String ifMatch) {
        GetObjectRequest.Builder request = GetObjectRequest.builder().bucket(config.bucket()).key(key).ifMatch(ifMatch);
        if (offset > 0 || end != Long.MAX_VALUE) {
            request.range("bytes=" + offset + "-" + (end == Long.MAX_VALUE ? "" : String.valueOf(end - 1)));
        }
        return s3.getObject(request.build());
    }

    /** An empty read at {@code offset}: fine at the end of the object, an error past it or when missing. */
    private InputStream emptyRangeAt(String key, long offset) throws IOException {
        BlobInfo info = stat(key).orElseThrow(() -> new BlobNotFoundException(location(), key));
        if (offset > info.size()) {
            throw new IOException("range starts at " + offset + " past the end of " + location() + "/" + key
                    + " (" + info.size() + " bytes)");
        }
        return InputStream.nullInputStream();
    }

    /**
     * A one-byte ranged GET rather than a HEAD. The HTTP client takes a connection that closes inside a
     * response head for the end of the head, so a HEAD's Content-Length can be cut short ("10" for 100000)
     * with nothing to tell; a byte of body after the head proves the head whole (a cut one brings no body,
     * and the SDK retries). On S3 a GET costs what a HEAD costs.
     */
    @Override
    public Optional<BlobInfo> stat(String key) throws IOException {
        BlobKeys.validate(key);
        GetObjectResponse response;
        try {
            response = s3.getObjectAsBytes(r -> r.bucket(config.bucket()).key(key).range("bytes=0-0")).response();
        } catch (SdkException e) {
            int status = S3Errors.status(e);
            if (status == 404 && !"NoSuchBucket".equals(S3Errors.errorCode(e))) {
                return Optional.empty();
            }
            if (status == 416) {
                // Only an empty object has no byte 0; the HEAD is for its time.
                return head(key).map(h -> new BlobInfo(key, 0, h.lastModified()));
            }
            throw S3Errors.translate("GET (size)", config.bucket(), key, e);
        }
        String range = response.contentRange();
        int slash = range == null ? -1 : range.lastIndexOf('/');
        long size = slash >= 0 && !range.endsWith("*") ? Long.parseLong(range.substring(slash + 1).trim())
                : response.contentLength(); // a store that ignores Range sent the whole object
        return Optional.of(new BlobInfo(key, size, response.lastModified()));
    }

    Optional<HeadObjectResponse> head(String key) throws IOException {
        try {
            return Optional.of(s3.headObject(r -> r.bucket(config.bucket()).key(key)));
        } catch (SdkException e) {
            if (S3Errors.status(e) == 404) {
                return Optional.empty();
            }
            throw S3Errors.translate("HEAD", config.bucket(), key, e);
        }
    }

    @Override
    public List<BlobInfo> list(String prefix, String startAfter, int limit) throws IOException {
        BlobKeys.validatePrefix(prefix);
        if (limit <= 0) {
            throw new IllegalArgumentException("limit must be positive");
        }
        List<BlobInfo> page = new ArrayList<>();
        String continuation = null;
        try {
            do {
                ListObjectsV2Request.Builder request = ListObjectsV2Request.builder()
                        .bucket(config.bucket())
                        .maxKeys(Math.min(1000, limit - page.size()));
                if (!prefix.isEmpty()) {
                    request.prefix(prefix);
                }
                if (continuation != null) {
                    request.continuationToken(continuation);
                } else if (startAfter != null) {
                    request.startAfter(startAfter);
                }
                ListObjectsV2Response response = s3.listObjectsV2(request.build());
                for (S3Object object : response.contents()) {
                    page.add(new BlobInfo(object.key(), object.size(), object.lastModified()));
                }
                continuation = Boolean.TRUE.equals(response.isTruncated()) ? response.nextContinuationToken() : null;
            } while (continuation != null && page.size() < limit);
        } catch (SdkException e) {
            throw S3Errors.translate("LIST", config.bucket(), prefix.isEmpty() ? null : prefix, e);
        }
        return page.size() > limit ? new ArrayList<>(page.subList(0, limit)) : page;
    }

    @Override
    public void delete(String key) throws IOException {
        BlobKeys.validate(key);
        try {
            s3.deleteObject(r -> r.bucket(config.bucket()).key(key));
        } catch (SdkException e) {
            if (S3Errors.status(e) == 404 && !"NoSuchBucket".equals(S3Errors.errorCode(e))) {
                return; // already gone; S3 itself answers 204, some compatible stores 404
            }
            throw S3Errors.translate("DELETE", config.bucket(), key, e);
        }
    }

    @Override
    public boolean supportsConditionalCreate() {
        return config.conditionalCreate();
    }

    @Override
    public void close() {
        partUploads.shutdownNow();
        s3.close();
        if (ownedCredentials != null) {
            try {
                ownedCredentials.close();
            } catch (Exception e) {
                System.err.println("warning: closing the AWS credentials provider failed: " + e.getMessage());
            }
        }
    }
}
