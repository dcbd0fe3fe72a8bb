package io.powdb.backup.store.s3;

import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.services.s3.model.StorageClass;

import java.net.URI;
import java.time.Duration;
import java.util.Objects;

/**
 * How to reach one S3 bucket. The store is rooted at the bucket: keys are full object keys, and a
 * repository's key prefix is the caller's business.
 *
 * @param bucket            the bucket name
 * @param endpoint          endpoint override (MinIO, S3Proxy, a VPC endpoint), or null for the SDK's own
 *                          resolution, which also honours {@code AWS_ENDPOINT_URL_S3} and {@code AWS_ENDPOINT_URL}
 * @param region            region name, or null for the SDK's default region chain (env, profile, instance)
 * @param pathStyle         address the bucket as {@code endpoint/bucket} instead of {@code bucket.endpoint}
 * @param storageClass      S3 storage class for new objects (e.g. STANDARD_IA), or null for the bucket default
 * @param encryption        server-side encryption of new objects
 * @param kmsKeyId          KMS key id or ARN for {@link Encryption#KMS}, or null for the account's default key
 * @param partSize          size of the first multipart parts; it doubles every 1,000 parts (see {@link PartSizes})
 * @param partsInFlight     how many parts may upload at once, across all objects being written (bounds the
 *                          memory of uploads)
 * @param conditionalCreate whether the store honours {@code If-None-Match: *}; S3 and S3Proxy do, some
 *                          S3-compatible stores do not, and then CREATE_NEW falls back to check-then-write
 * @param checksums         send CRC32C checksums with every upload; turn off only for stores that reject them
 * @param maxAttempts       attempts per request (first try included) on throttling, 5xx and network errors
 * @param readResumes       how often a read that breaks mid-body may resume without making progress
 * @param socketTimeout     how long a request may wait for the store to send data before the attempt counts as
 *                          failed (the SDK retries it, a read resumes); default 60 s
 * @param credentials       explicit credentials, or null for the SDK's default chain (env, system properties,
 *                          web identity, profile, container and instance roles)
 */
public record S3StoreConfig(
        String bucket,
        URI endpoint,
        String region,
        boolean pathStyle,
        String storageClass,
        Encryption encryption,
        String kmsKeyId,
        long partSize,
        int partsInFlight,
        boolean conditionalCreate,
        boolean checksums,
        int maxAttempts,
        int readResumes,
        Duration socketTimeout,
        AwsCredentialsProvider credentials) {

    public static final long MIN_PART_SIZE = 5L * 1024 * 1024;
    public static final long DEFAULT_PART_SIZE = 16L * 1024 * 1024;
    public static final Duration DEFAULT_SOCKET_TIMEOUT = Duration.ofSeconds(60);

    /** Server-side encryption of new objects. */
    public enum Encryption {
        /** No encryption header: the bucket's default encryption applies. */
        NONE,
        /** SSE-S3, {@code x-amz-server-side-encryption: AES256}. */
        AES256,
        /** SSE-KMS, {@code x-amz-server-side-encryption: aws:kms}, with an optional key id. */
        KMS;

        /** Parses "none", "AES256" or "aws:kms" (also "kms"), case-insensitively. */
        public static Encryption parse(String text) {
            String t = text == null ? "" : text.trim().toLowerCase(java.util.Locale.ROOT);
            switch (t) {
                case "":
                case "none":
                    return NONE;
                case "aes256":
                    return AES256;
                case "aws:kms":
                case "kms":
                    return KMS;
                default:
                    throw new IllegalArgumentException("unknown S3 server-side encryption '" + text
                            + "': expected none, AES256 or aws:kms");
            }
        }
    }

    public S3StoreConfig {
        if (bucket == null || bucket.isBlank()) {
            throw new IllegalArgumentException("S3 bucket name is empty");
        }
        encryption = encryption == null ? Encryption.NONE : encryption;
        if (kmsKeyId != null && encryption != Encryption.KMS) {
            throw new IllegalArgumentException("a KMS key id is only used with aws:kms encryption");
        }
        if (storageClass != null && StorageClass.fromValue(storageClass) == StorageClass.UNKNOWN_TO_SDK_VERSION) {
            throw new IllegalArgumentException("unknown S3 storage class '" + storageClass + "'");
        }
        if (storageClass != null && (StorageClass.fromValue(storageClass) == StorageClass.GLACIER
                || StorageClass.fromValue(storageClass) == StorageClass.DEEP_ARCHIVE)) {
            // The agent reads manifests and indexes back; archived objects need a restore before every read.
            throw new IllegalArgumentException("S3 storage class " + storageClass + " makes objects unreadable until"
                    + " restored; write to a readable class and let a lifecycle rule archive old backups");
        }
        if (partSize < MIN_PART_SIZE || partSize > PartSizes.MAX_PART_SIZE) {
            throw new IllegalArgumentException("S3 part size must be between " + MIN_PART_SIZE + " and "
                    + PartSizes.MAX_PART_SIZE + " bytes, not " + partSize);
        }
        if (partsInFlight < 1 || maxAttempts < 1 || readResumes < 0) {
            throw new IllegalArgumentException("partsInFlight and maxAttempts must be positive, readResumes not negative");
        }
        socketTimeout = socketTimeout == null ? DEFAULT_SOCKET_TIMEOUT : socketTimeout;
        if (socketTimeout.isNegative() || socketTimeout.isZero()) {
            throw new IllegalArgumentException("S3 socket timeout must be positive, not " + socketTimeout);
        }
    }

    public static Builder builder(String bucket) {
        return new Builder(bucket);
    }

    public Builder toBuilder() {
        Builder b = new Builder(bucket);
        b.endpoint = endpoint;
        b.region = region;
        b.pathStyle = pathStyle;
        b.storageClass = storageClass;
        b.encryption = encryption;
        b.kmsKeyId = kmsKeyId;
        b.partSize = partSize;
        b.partsInFlight = partsInFlight;
        b.conditionalCreate = conditionalCreate;
        b.checksums = checksums;
        b.maxAttempts = maxAttempts;
        b.readResumes = readResumes;
        b.socketTimeout = socketTimeout;
        b.credentials = credentials;
        return b;
    }

    /** Never prints credentials, only where they come from. */
    @Override
    public String toString() {
        return "S3StoreConfig[bucket=" + bucket + ", endpoint=" + endpoint + ", region=" + region
                + ", pathStyle=" + pathStyle + ", storageClass=" + storageClass + ", encryption=" + encryption
                + ", kmsKeyId=" + (kmsKeyId == null ? "default" : "set") + ", partSize=" + partSize
                + ", partsInFlight=" + partsInFlight + ", conditionalCreate=" + conditionalCreate
                + ", checksums=" + checksums + ", maxAttempts=" + maxAttempts + ", readResumes=" + readResumes
                + ", socketTimeout=" + socketTimeout
                + ", credentials=" + (credentials == null ? "default chain" : "explicit") + "]";
    }

    /** Builds a config; every setting but the bucket has a default suitable for backups. */
    public static final class Builder {
        private final String bucket;
        private URI endpoint;
        private String region;
        private boolean pathStyle;
        private String storageClass;
        private Encryption encryption = Encryption.NONE;
        private String kmsKeyId;
        private long partSize = DEFAULT_PART_SIZE;
        private int partsInFlight = 4;
        private boolean conditionalCreate = true;
        private boolean checksums = true;
        private int maxAttempts = 10;
        private int readResumes = 5;
        private Duration socketTimeout = DEFAULT_SOCKET_TIMEOUT;
        private AwsCredentialsProvider credentials;

        private Builder(String bucket) {
            this.bucket = bucket;
        }

        public Builder endpoint(URI endpoint) {
            this.endpoint = endpoint;
            return this;
        }

        public Builder region(String region) {
            this.region = region;
            return this;
        }

        public Builder pathStyle(boolean pathStyle) {
            this.pathStyle = pathStyle;
            return this;
        }

        public Builder storageClass(String storageClass) {
            this.storageClass = storageClass;
            return this;
        }

        public Builder encryption(Encryption encryption, String kmsKeyId) {
            this.encryption = Objects.requireNonNull(encryption, "encryption");
            this.kmsKeyId = kmsKeyId;
            return this;
        }

        public Builder partSize(long partSize) {
            this.partSize = partSize;
            return this;
        }

        public Builder partsInFlight(int partsInFlight) {
            this.partsInFlight = partsInFlight;
            return this;
        }

        public Builder conditionalCreate(boolean conditionalCreate) {
            this.conditionalCreate = conditionalCreate;
            return this;
        }

        public Builder checksums(boolean checksums) {
            this.checksums = checksums;
            return this;
        }

        public Builder maxAttempts(int maxAttempts) {
            this.maxAttempts = maxAttempts;
            return this;
        }

        public Builder readResumes(int readResumes) {
            this.readResumes = readResumes;
            return this;
        }

        public Builder socketTimeout(Duration socketTimeout) {
            this.socketTimeout = socketTimeout;
            return this;
        }

        public Builder credentials(AwsCredentialsProvider credentials) {
            this.credentials = credentials;
            return this;
        }

        public S3StoreConfig build() {
            return new S3StoreConfig(bucket, endpoint, region, pathStyle, storageClass, encryption, kmsKeyId,
                    partSize, partsInFlight, conditionalCreate, checksums, maxAttempts, readResumes, socketTimeout,
                    credentials);
        }
    }
}
