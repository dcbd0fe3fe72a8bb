package io.powdb.backup.store;

import io.powdb.backup.store.gcs.GcsBlobStore;
import io.powdb.backup.store.gcs.GcsStoreConfig;
import io.powdb.backup.store.local.LocalBlobStore;
import io.powdb.backup.store.s3.S3BlobStore;
import io.powdb.backup.store.s3.S3StoreConfig;

import java.io.Closeable;
import java.io.IOException;
import java.net.URI;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Turns a repository URL into a store and a key prefix.
 *
 * <p>Accepted locations:
 * <ul>
 *   <li>a plain path ({@code /backups/db1}, {@code backups}) or a {@code file:} URL ({@code file:///backups/db1}):
 *       a local directory;</li>
 *   <li>{@code s3://bucket/prefix}: the prefix inside an S3 bucket;</li>
 *   <li>{@code gs://bucket/prefix}: the prefix inside a Google Cloud Storage bucket.</li>
 * </ul>
 *
 * <p>Cloud stores take their options from these environment variables (all optional):
 * <table>
 *   <caption>Environment variables</caption>
 *   <tr><td>{@code POWDB_BACKUP_S3_ENDPOINT}</td><td>endpoint URL of an S3-compatible store (MinIO, Ceph, ...);
 *       without it the SDK's own resolution applies, including {@code AWS_ENDPOINT_URL_S3} / {@code AWS_ENDPOINT_URL}</td></tr>
 *   <tr><td>{@code POWDB_BACKUP_S3_REGION}</td><td>region; default: the SDK's chain ({@code AWS_REGION}, profile, instance)</td></tr>
 *   <tr><td>{@code POWDB_BACKUP_S3_PATH_STYLE}</td><td>{@code true}/{@code false}; default true when an endpoint is set</td></tr>
 *   <tr><td>{@code POWDB_BACKUP_S3_STORAGE_CLASS}</td><td>e.g. {@code STANDARD_IA}, {@code INTELLIGENT_TIERING}</td></tr>
 *   <tr><td>{@code POWDB_BACKUP_S3_SSE}</td><td>{@code none}, {@code AES256} or {@code aws:kms}</td></tr>
 *   <tr><td>{@code POWDB_BACKUP_S3_SSE_KMS_KEY_ID}</td><td>KMS key id or ARN for {@code aws:kms}</td></tr>
 *   <tr><td>{@code POWDB_BACKUP_S3_PART_SIZE_MIB}</td><td>first multipart part size in MiB (5 or more; default 16)</td></tr>
 *   <tr><td>{@code POWDB_BACKUP_S3_CONDITIONAL_CREATE}</td><td>{@code false} for stores without {@code If-None-Match}</td></tr>
 *   <tr><td>{@code POWDB_BACKUP_S3_CHECKSUMS}</td><td>{@code false} for stores that reject CRC32C upload checksums</td></tr>
 *   <tr><td>{@code POWDB_BACKUP_S3_TIMEOUT_SECONDS}</td><td>how long a request may wait for the store to send data
 *       before the attempt is given up and retried (a read resumes); default 60</td></tr>
 *   <tr><td>{@code POWDB_BACKUP_GCS_PROJECT}</td><td>project id; default: from the credentials / environment</td></tr>
 *   <tr><td>{@code POWDB_BACKUP_GCS_ENDPOINT}</td><td>JSON API endpoint of an emulator or private endpoint</td></tr>
 *   <tr><td>{@code POWDB_BACKUP_GCS_ANONYMOUS}</td><td>{@code true} to send no credentials (emulators only)</td></tr>
 *   <tr><td>{@code POWDB_BACKUP_GCS_CHUNK_SIZE_MIB}</td><td>resumable upload chunk size in MiB (default 16)</td></tr>
 * </table>
 * Credentials are never taken from these variables: S3 uses the AWS SDK's default chain (environment,
 * profile, web identity, container and instance roles), GCS uses Application Default Credentials.
 */
public final class BlobStores {
    private static final Pattern URL_SCHEME = Pattern.compile("^([A-Za-z][A-Za-z0-9+.-]*)://.*", Pattern.DOTALL);
    private static final Pattern S3_BUCKET = Pattern.compile("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$");
    private static final Pattern GCS_BUCKET = Pattern.compile("^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$");

    private BlobStores() {
    }

    /** A store opened for a location, and the repository's key prefix inside it. Closing closes the store. */
    public record OpenedStore(BlobStore store, String keyPrefix) implements Closeable {
        @Override
        public void close() throws IOException {
            store.close();
        }
    }

    /**
     * Parses a repository location.
     *
     * @throws IllegalArgumentException for an unknown scheme, a missing or invalid bucket, or a prefix with
     *                                  empty, '.' or '..' segments
     */
    public static BlobStoreLocation parse(String url) {
        if (url == null || url.isBlank()) {
            throw new IllegalArgumentException("empty repository location");
        }
        String lower = url.toLowerCase(Locale.ROOT);
        if (lower.startsWith("s3://")) {
            String[] bucketAndPrefix = bucketAndPrefix(url, "s3://".length(), S3_BUCKET,
                    "3-63 lowercase letters, digits, '.' and '-'");
            return new BlobStoreLocation.S3(bucketAndPrefix[0], bucketAndPrefix[1]);
        }
        if (lower.startsWith("gs://")) {
            String[] bucketAndPrefix = bucketAndPrefix(url, "gs://".length(), GCS_BUCKET,
                    "3-222 lowercase letters, digits, '.', '_' and '-'");
            return new BlobStoreLocation.Gcs(bucketAndPrefix[0], bucketAndPrefix[1]);
        }
        if (lower.startsWith("file:")) {
            return new BlobStoreLocation.Local(fileUrlPath(url));
        }
        var scheme = URL_SCHEME.matcher(url);
        if (scheme.matches()) {
            throw new IllegalArgumentException("unknown scheme '" + scheme.group(1) + "' in repository location " + url
                    + ": expected a path, a file: URL, s3://bucket/prefix or gs://bucket/prefix");
        }
        try {
            return new BlobStoreLocation.Local(Path.of(url).toAbsolutePath().normalize());
        } catch (InvalidPathException e) {
            throw new IllegalArgumentException("invalid repository path " + url + ": " + e.getMessage(), e);
        }
    }

    private static String[] bucketAndPrefix(String url, int start, Pattern bucketSyntax, String bucketRule) {
        String rest = url.substring(start);
        int slash = rest.indexOf('/');
        String bucket = slash < 0 ? rest : rest.substring(0, slash);
        String prefix = slash < 0 ? "" : rest.substring(slash + 1);
        if (bucket.isEmpty()) {
            throw new IllegalArgumentException("no bucket in repository location " + url
                    + ": expected " + url.substring(0, start) + "bucket/prefix");
        }
        if (!bucketSyntax.matcher(bucket).matches()) {
            throw new IllegalArgumentException("invalid bucket name '" + bucket + "' in repository location " + url
                    + ": a bucket name has " + bucketRule);
        }
        if (prefix.contains("?") || prefix.contains("#")) {
            throw new IllegalArgumentException("repository location " + url
                    + " has a query or fragment; options come from POWDB_BACKUP_* environment variables");
        }
        if (!prefix.isEmpty() && !prefix.endsWith("/")) {
            prefix = prefix + "/";
        }
        for (String segment : prefix.isEmpty() ? new String[0] : prefix.substring(0, prefix.length() - 1).split("/", -1)) {
            if (segment.equals("..") || segment.equals(".") || segment.isEmpty()) {
                throw new IllegalArgumentException("invalid key prefix in repository location " + url
                        + ": empty, '.' and '..' path segments are not allowed");
            }
        }
        try {
            BlobKeys.validatePrefix(prefix);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("invalid key prefix in repository location " + url + ": " + e.getMessage(), e);
        }
        return new String[] {bucket, prefix};
    }

    private static Path fileUrlPath(String url) {
        URI uri;
        try {
            uri = new URI(url);
        } catch (java.net.URISyntaxException e) {
            throw new IllegalArgumentException("invalid file URL " + url + ": " + e.getMessage(), e);
        }
        if (uri.isOpaque() || uri.getPath() == null || uri.getPath().isEmpty()) {
            throw new IllegalArgumentException("file URL " + url + " must have an absolute path, e.g. file:///backups/db1");
        }
        if (uri.getAuthority() != null && !uri.getAuthority().equalsIgnoreCase("localhost")) {
            throw new IllegalArgumentException("file URL " + url + " names host '" + uri.getAuthority()
                    + "'; only local paths are supported (file:///path)");
        }
        if (uri.getQuery() != null || uri.getFragment() != null) {
            throw new IllegalArgumentException("file URL " + url + " has a query or fragment");
        }
        return Path.of(uri.getPath()).normalize();
    }

    /** Opens the store of a location with options from {@code env} (normally {@link System#getenv()}). */
    public static OpenedStore open(BlobStoreLocation location, Map<String, String> env) throws IOException {
        if (location instanceof BlobStoreLocation.Local local) {
            return new OpenedStore(new LocalBlobStore(local.root()), "");
        }
        if (location instanceof BlobStoreLocation.S3 s3) {
            return new OpenedStore(new S3BlobStore(s3Config(s3.bucket(), env)), s3.keyPrefix());
        }
        BlobStoreLocation.Gcs gcs = (BlobStoreLocation.Gcs) location;
        return new OpenedStore(new GcsBlobStore(gcsConfig(gcs.bucket(), env)), gcs.keyPrefix());
    }

    /** The S3 options for {@code bucket} from the POWDB_BACKUP_S3_* variables in {@code env}. */
    public static S3StoreConfig s3Config(String bucket, Map<String, String> env) {
        S3StoreConfig.Builder config = S3StoreConfig.builder(bucket);
        String endpoint = value(env, "POWDB_BACKUP_S3_ENDPOINT");
        if (endpoint != null) {
            config.endpoint(httpUrl("POWDB_BACKUP_S3_ENDPOINT", endpoint));
        }
        config.region(value(env, "POWDB_BACKUP_S3_REGION"));
        // S3-compatible stores behind a custom endpoint rarely have per-bucket DNS names.
        config.pathStyle(flag(env, "POWDB_BACKUP_S3_PATH_STYLE", endpoint != null));
        config.storageClass(value(env, "POWDB_BACKUP_S3_STORAGE_CLASS"));
        config.encryption(S3StoreConfig.Encryption.parse(value(env, "POWDB_BACKUP_S3_SSE")),
                value(env, "POWDB_BACKUP_S3_SSE_KMS_KEY_ID"));
        String partSize = value(env, "POWDB_BACKUP_S3_PART_SIZE_MIB");
        if (partSize != null) {
            config.partSize(integer("POWDB_BACKUP_S3_PART_SIZE_MIB", partSize) * 1024L * 1024L);
        }
        config.conditionalCreate(flag(env, "POWDB_BACKUP_S3_CONDITIONAL_CREATE", true));
        config.checksums(flag(env, "POWDB_BACKUP_S3_CHECKSUMS", true));
        String timeout = value(env, "POWDB_BACKUP_S3_TIMEOUT_SECONDS");
        if (timeout != null) {
            config.socketTimeout(java.time.Duration.ofSeconds(integer("POWDB_BACKUP_S3_TIMEOUT_SECONDS", timeout)));
        }
        return config.build();
    }

    /** The GCS options for {@code bucket} from the POWDB_BACKUP_GCS_* variables in {@code env}. */
    public static GcsStoreConfig gcsConfig(String bucket, Map<String, String> env) {
        GcsStoreConfig.Builder config = GcsStoreConfig.builder(bucket)
                .projectId(value(env, "POWDB_BACKUP_GCS_PROJECT"))
                .anonymous(flag(env, "POWDB_BACKUP_GCS_ANONYMOUS", false));
        String endpoint = value(env, "POWDB_BACKUP_GCS_ENDPOINT");
        if (endpoint != null) {
            config.host(httpUrl("POWDB_BACKUP_GCS_ENDPOINT", endpoint).toString());
        }
        String chunkSize = value(env, "POWDB_BACKUP_GCS_CHUNK_SIZE_MIB");
        if (chunkSize != null) {
            int mib = integer("POWDB_BACKUP_GCS_CHUNK_SIZE_MIB", chunkSize);
            if (mib > 1024) {
                throw new IllegalArgumentException("POWDB_BACKUP_GCS_CHUNK_SIZE_MIB must be at most 1024, not " + mib);
            }
            config.chunkSize(mib * 1024 * 1024);
        }
        return config.build();
    }

    private static String value(Map<String, String> env, String name) {
        String value = env.get(name);
        return value == null || value.isBlank() ? null : value.trim();
    }

    private static boolean flag(Map<String, String> env, String name, boolean fallback) {
        String value = value(env, name);
        if (value == null) {
            return fallback;
        }
        switch (value.toLowerCase(Locale.ROOT)) {
            case "true":
            case "yes":
            case "1":
                return true;
            case "false":
            case "no":
            case "0":
                return false;
            default:
                throw new IllegalArgumentException(name + " must be true or false, not '" + value + "'");
        }
    }

    private static int integer(String name, String value) {
        try {
            int n = Integer.parseInt(value);
            if (n <= 0) {
                throw new NumberFormatException("not positive");
            }
            return n;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + " must be a positive whole number, not '" + value + "'", e);
        }
    }

    private static URI httpUrl(String name, String value) {
        try {
            URI uri = new URI(value);
            if (!("http".equalsIgnoreCase(uri.getScheme()) || "https".equalsIgnoreCase(uri.getScheme())) || uri.getHost() == null) {
                throw new IllegalArgumentException(name + " must be an http:// or https:// URL, not '" + value + "'");
            }
            return uri;
        } catch (java.net.URISyntaxException e) {
            throw new IllegalArgumentException(name + " is not a valid URL: '" + value + "'", e);
        }
    }
}
