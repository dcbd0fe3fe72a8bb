package io.powdb.backup.store.gcs;

/**
 * How to reach one Google Cloud Storage bucket. The store is rooted at the bucket: keys are full object
 * names, and a repository's key prefix is the caller's business.
 *
 * @param bucket        the bucket name
 * @param projectId     the project, or null to take it from the environment / credentials
 * @param host          JSON API endpoint such as {@code http://127.0.0.1:4443} (emulators, private endpoints),
 *                      or null for {@code https://storage.googleapis.com}
 * @param anonymous     send no credentials at all (emulators, tests); otherwise Application Default
 *                      Credentials are used (GOOGLE_APPLICATION_CREDENTIALS, gcloud, attached service account)
 * @param chunkSize     resumable-upload chunk size, a multiple of 256 KiB; also the largest object written with
 *                      a single request, and the memory a writer holds
 * @param maxAttempts   attempts per request (first try included) on 429, 5xx and network errors
 */
public record GcsStoreConfig(String bucket, String projectId, String host, boolean anonymous, int chunkSize,
                             int maxAttempts) {

    public static final int CHUNK_GRANULARITY = 256 * 1024;
    public static final int DEFAULT_CHUNK_SIZE = 16 * 1024 * 1024;

    public GcsStoreConfig {
        if (bucket == null || bucket.isBlank()) {
            throw new IllegalArgumentException("GCS bucket name is empty");
        }
        if (chunkSize < CHUNK_GRANULARITY || chunkSize % CHUNK_GRANULARITY != 0) {
            throw new IllegalArgumentException("GCS chunk size must be a positive multiple of 256 KiB, not " + chunkSize);
        }
        if (maxAttempts < 1) {
            throw new IllegalArgumentException("maxAttempts must be positive");
        }
    }

    public static Builder builder(String bucket) {
        return new Builder(bucket);
    }

    /** Builds a config; every setting but the bucket has a default suitable for backups. */
    public static final class Builder {
        private final String bucket;
        private String projectId;
        private String host;
        private boolean anonymous;
        private int chunkSize = DEFAULT_CHUNK_SIZE;
        private int maxAttempts = 10;

        private Builder(String bucket) {
            this.bucket = bucket;
        }

        public Builder projectId(String projectId) {
            this.projectId = projectId;
            return this;
        }

        public Builder host(String host) {
            this.host = host;
            return this;
        }

        /** Sends no credentials; for emulators and tests only. */
        public Builder anonymous(boolean anonymous) {
            this.anonymous = anonymous;
            return this;
        }

        public Builder chunkSize(int chunkSize) {
            this.chunkSize = chunkSize;
            return this;
        }

        public Builder maxAttempts(int maxAttempts) {
            this.maxAttempts = maxAttempts;
            return this;
        }

        public GcsStoreConfig build() {
            return new GcsStoreConfig(bucket, projectId, host, anonymous, chunkSize, maxAttempts);
        }
    }
}
