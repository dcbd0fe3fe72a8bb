package io.powdb.backup.store;

import java.nio.file.Path;
import java.util.Objects;

/**
 * Where a backup repository lives: a store and a key prefix inside it. Parsed from a URL by
 * {@link BlobStores#parse(String)}; holds no secret, so it can be logged.
 */
public sealed interface BlobStoreLocation permits BlobStoreLocation.Local, BlobStoreLocation.S3, BlobStoreLocation.Gcs {

    /** The repository's key prefix inside the store: empty, or ending in '/'. */
    String keyPrefix();

    /** The location as a URL, e.g. {@code s3://bucket/prefix/}. */
    String url();

    /** A local directory; the repository is the whole directory. */
    record Local(Path root) implements BlobStoreLocation {
        public Local {
            Objects.requireNonNull(root, "root");
        }

        @Override
        public String keyPrefix() {
            return "";
        }

        @Override
        public String url() {
            return root.toUri().toString();
        }
    }

    /** A key prefix in an S3 bucket. */
    record S3(String bucket, String keyPrefix) implements BlobStoreLocation {
        public S3 {
            Objects.requireNonNull(bucket, "bucket");
            Objects.requireNonNull(keyPrefix, "keyPrefix");
        }

        @Override
        public String url() {
            return "s3://" + bucket + "/" + keyPrefix;
        }
    }

    /** A key prefix in a Google Cloud Storage bucket. */
    record Gcs(String bucket, String keyPrefix) implements BlobStoreLocation {
        public Gcs {
            Objects.requireNonNull(bucket, "bucket");
            Objects.requireNonNull(keyPrefix, "keyPrefix");
        }

        @Override
        public String url() {
            return "gs://" + bucket + "/" + keyPrefix;
        }
    }
}
