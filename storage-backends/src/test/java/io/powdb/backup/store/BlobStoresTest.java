package io.powdb.backup.store;

import io.powdb.backup.store.gcs.GcsBlobStore;
import io.powdb.backup.store.gcs.GcsStoreConfig;
import io.powdb.backup.store.gcs.GcsTestServer;
import io.powdb.backup.store.local.LocalBlobStore;
import io.powdb.backup.store.s3.S3BlobStore;
import io.powdb.backup.store.s3.S3ProxyServer;
import io.powdb.backup.store.s3.S3StoreConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BlobStoresTest {

    @Test
    void plainPathsAndFileUrlsAreLocal() {
        assertEquals(new BlobStoreLocation.Local(Path.of("/backups/db1")), BlobStores.parse("/backups/db1"));
        assertEquals(new BlobStoreLocation.Local(Path.of("/backups/db1")), BlobStores.parse("/backups/x/../db1/"));
        assertEquals(new BlobStoreLocation.Local(Path.of("relative").toAbsolutePath()), BlobStores.parse("relative"));
        assertEquals(new BlobStoreLocation.Local(Path.of("/backups/db1")), BlobStores.parse("file:///backups/db1"));
        assertEquals(new BlobStoreLocation.Local(Path.of("/backups/db1")), BlobStores.parse("file:/backups/db1"));
        assertEquals(new BlobStoreLocation.Local(Path.of("/backups/db 1")), BlobStores.parse("file://localhost/backups/db%201"));
        assertEquals("", BlobStores.parse("/backups").keyPrefix());
    }

    @Test
    void cloudUrlsSplitIntoBucketAndPrefix() {
        assertEquals(new BlobStoreLocation.S3("my-bucket", ""), BlobStores.parse("s3://my-bucket"));
        assertEquals(new BlobStoreLocation.S3("my-bucket", ""), BlobStores.parse("s3://my-bucket/"));
        assertEquals(new BlobStoreLocation.S3("my-bucket", "prod/db1/"), BlobStores.parse("s3://my-bucket/prod/db1"));
        assertEquals(new BlobStoreLocation.S3("my.bucket", "prod/db1/"), BlobStores.parse("S3://my.bucket/prod/db1/"));
        assertEquals(new BlobStoreLocation.Gcs("my_bucket", "db1/"), BlobStores.parse("gs://my_bucket/db1"));
        assertEquals("s3://my-bucket/prod/db1/", BlobStores.parse("s3://my-bucket/prod/db1").url());
    }

    @Test
    void malformedLocationsAreRejectedWithTheReason() {
        assertRejected("", "empty");
        assertRejected("s3://", "no bucket");
        assertRejected("s3:///prefix", "no bucket");
        assertRejected("gs://", "no bucket");
        assertRejected("ftp://host/x", "unknown scheme 'ftp'");
        assertRejected("azure://container/x", "unknown scheme 'azure'");
        assertRejected("s3://my-bucket/../other", "'..'");
        assertRejected("s3://my-bucket/a/../../b", "'..'");
        assertRejected("gs://my-bucket/a/./b", "'.'");
        assertRejected("s3://my-bucket/a//b", "empty");
        assertRejected("s3://My_Bucket/x", "invalid bucket name 'My_Bucket'");
        assertRejected("s3://ab/x", "invalid bucket name 'ab'");
        assertRejected("s3://my-bucket/x?region=eu", "query");
        assertRejected("s3://my-bucket/a\\b", "backslash");
        assertRejected("file://otherhost/backups", "host 'otherhost'");
        assertRejected("file:relative", "absolute path");
    }

    private static void assertRejected(String url, String reason) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BlobStores.parse(url), url);
        assertTrue(e.getMessage().contains(reason), url + " -> " + e.getMessage());
    }

    @Test
    void s3OptionsComeFromTheEnvironment() {
        S3StoreConfig config = BlobStores.s3Config("b1", Map.of(
                "POWDB_BACKUP_S3_ENDPOINT", "http://minio.internal:9000",
                "POWDB_BACKUP_S3_REGION", "eu-west-1",
                "POWDB_BACKUP_S3_STORAGE_CLASS", "STANDARD_IA",
                "POWDB_BACKUP_S3_SSE", "aws:kms",
                "POWDB_BACKUP_S3_SSE_KMS_KEY_ID", "alias/backups",
                "POWDB_BACKUP_S3_PART_SIZE_MIB", "64",
                "POWDB_BACKUP_S3_CONDITIONAL_CREATE", "false",
                "POWDB_BACKUP_S3_CHECKSUMS", "no",
                "POWDB_BACKUP_S3_TIMEOUT_SECONDS", "15"));
        assertEquals("b1", config.bucket());
        assertEquals(URI.create("http://minio.internal:9000"), config.endpoint());
        assertEquals("eu-west-1", config.region());
        assertTrue(config.pathStyle(), "path style is the default with a custom endpoint");
        assertEquals("STANDARD_IA", config.storageClass());
        assertEquals(S3StoreConfig.Encryption.KMS, config.encryption());
        assertEquals("alias/backups", config.kmsKeyId());
        assertEquals(64L << 20, config.partSize());
        assertFalse(config.conditionalCreate());
        assertFalse(config.checksums());
        assertEquals(java.time.Duration.ofSeconds(15), config.socketTimeout());
        assertNull(config.credentials(), "credentials always come from the SDK's chain");

        S3StoreConfig defaults = BlobStores.s3Config("b2", Map.of());
        assertNull(defaults.endpoint());
        assertNull(defaults.region());
        assertFalse(defaults.pathStyle());
        assertEquals(S3StoreConfig.Encryption.NONE, defaults.encryption());
        assertEquals(S3StoreConfig.DEFAULT_PART_SIZE, defaults.partSize());
        assertTrue(defaults.conditionalCreate());
        assertTrue(defaults.checksums());
        assertEquals(java.time.Duration.ofSeconds(60), defaults.socketTimeout(), "the production default is unchanged");
    }

    @Test
    void gcsOptionsComeFromTheEnvironment() {
        GcsStoreConfig config = BlobStores.gcsConfig("g1", Map.of(
                "POWDB_BACKUP_GCS_PROJECT", "proj-1",
                "POWDB_BACKUP_GCS_ENDPOINT", "http://127.0.0.1:4443",
                "POWDB_BACKUP_GCS_ANONYMOUS", "true",
                "POWDB_BACKUP_GCS_CHUNK_SIZE_MIB", "8"));
        assertEquals(new GcsStoreConfig("g1", "proj-1", "http://127.0.0.1:4443", true, 8 << 20, 10), config);
        GcsStoreConfig defaults = BlobStores.gcsConfig("g2", Map.of());
        assertNull(defaults.projectId());
        assertNull(defaults.host());
        assertFalse(defaults.anonymous(), "Application Default Credentials unless told otherwise");
    }

    @Test
    void badOptionValuesAreRejectedWithTheVariableName() {
        assertOption("POWDB_BACKUP_S3_PATH_STYLE", "maybe");
        assertOption("POWDB_BACKUP_S3_ENDPOINT", "minio:9000");
        assertOption("POWDB_BACKUP_S3_PART_SIZE_MIB", "lots");
        assertOption("POWDB_BACKUP_S3_TIMEOUT_SECONDS", "0");
        assertOption("POWDB_BACKUP_GCS_CHUNK_SIZE_MIB", "-1");
        IllegalArgumentException sse = assertThrows(IllegalArgumentException.class,
                () -> BlobStores.s3Config("b", Map.of("POWDB_BACKUP_S3_SSE", "rot13")));
        assertTrue(sse.getMessage().contains("rot13"), sse.getMessage());
        assertThrows(IllegalArgumentException.class, () -> BlobStores.s3Config("b", Map.of("POWDB_BACKUP_S3_PART_SIZE_MIB", "1")));
        assertThrows(IllegalArgumentException.class, () -> BlobStores.s3Config("b", Map.of("POWDB_BACKUP_S3_STORAGE_CLASS", "COLD")));
        IllegalArgumentException archive = assertThrows(IllegalArgumentException.class,
                () -> BlobStores.s3Config("b", Map.of("POWDB_BACKUP_S3_STORAGE_CLASS", "DEEP_ARCHIVE")));
        assertTrue(archive.getMessage().contains("unreadable until restored"), archive.getMessage());
        assertThrows(IllegalArgumentException.class, () -> BlobStores.s3Config("b", Map.of("POWDB_BACKUP_S3_SSE_KMS_KEY_ID", "k")));
    }

    private static void assertOption(String name, String value) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> {
            BlobStores.s3Config("b", Map.of(name, value));
            BlobStores.gcsConfig("b", Map.of(name, value));
        });
        assertTrue(e.getMessage().contains(name), e.getMessage());
    }

    @Test
    void opensALocalDirectory(@TempDir Path dir) throws IOException {
        try (BlobStores.OpenedStore opened = BlobStores.open(BlobStores.parse(dir.resolve("repo").toString()), Map.of())) {
            assertInstanceOf(LocalBlobStore.class, opened.store());
            assertEquals("", opened.keyPrefix());
            opened.store().putBytes("k", new byte[] {1}, WriteMode.CREATE_NEW);
        }
        assertTrue(Files.isRegularFile(dir.resolve("repo/k")));
    }

    @Test
    void opensAGcsLocationWithOptionsFromTheEnvironment() throws IOException {
        try (GcsTestServer server = new GcsTestServer()) {
            server.createBucket("factory-bucket");
            Map<String, String> env = Map.of("POWDB_BACKUP_GCS_ENDPOINT", server.endpoint(),
                    "POWDB_BACKUP_GCS_ANONYMOUS", "true", "POWDB_BACKUP_GCS_PROJECT", "test");
            try (BlobStores.OpenedStore opened = BlobStores.open(BlobStores.parse("gs://factory-bucket/repo/a"), env)) {
                assertInstanceOf(GcsBlobStore.class, opened.store());
                assertEquals("repo/a/", opened.keyPrefix());
                opened.store().putBytes(opened.keyPrefix() + "manifest", new byte[] {7}, WriteMode.CREATE_NEW);
                assertEquals("repo/a/manifest", opened.store().listAll("repo/").get(0).key());
            }
        }
    }

    @Test
    void opensAnS3LocationWithCredentialsFromTheSdkChain() throws Exception {
        // The SDK's default chain reads these system properties, as it reads AWS_ACCESS_KEY_ID and friends.
        Map<String, String> properties = Map.of("aws.accessKeyId", S3ProxyServer.ACCESS_KEY,
                "aws.secretAccessKey", S3ProxyServer.SECRET_KEY);
        properties.forEach(System::setProperty);
        try (S3ProxyServer server = new S3ProxyServer()) {
            Map<String, String> env = Map.of("POWDB_BACKUP_S3_ENDPOINT", server.endpoint().toString(),
                    "POWDB_BACKUP_S3_REGION", "us-east-1");
            BlobStoreLocation location = BlobStores.parse("s3://" + S3ProxyServer.BUCKET + "/repo");
            try (BlobStores.OpenedStore opened = BlobStores.open(location, env)) {
                assertInstanceOf(S3BlobStore.class, opened.store());
                opened.store().putBytes(opened.keyPrefix() + "manifest", new byte[] {8}, WriteMode.CREATE_NEW);
                assertArrayEquals(new byte[] {8}, opened.store().readAllBytes("repo/manifest", 10));
            }
        } finally {
            properties.keySet().forEach(System::clearProperty);
        }
    }
}
