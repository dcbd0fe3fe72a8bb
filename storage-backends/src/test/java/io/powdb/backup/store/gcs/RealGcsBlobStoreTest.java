package io.powdb.backup.store.gcs;

import io.powdb.backup.store.BlobStore;
import io.powdb.backup.store.BlobStoreContractTest;
import io.powdb.backup.store.BlobStores;
import org.junit.jupiter.api.condition.EnabledIfEnvironmentVariable;

/**
 * The contract suite against a real GCS bucket, configured as the agent would be: the bucket from
 * {@code POWDB_TEST_GCS_BUCKET}, Application Default Credentials, options from the
 * {@code POWDB_BACKUP_GCS_*} variables. Every test works under a fresh random prefix and cleans up after
 * itself. Skipped unless {@code POWDB_TEST_GCS_BUCKET} is set.
 */
@EnabledIfEnvironmentVariable(named = "POWDB_TEST_GCS_BUCKET", matches = ".+")
class RealGcsBlobStoreTest extends BlobStoreContractTest {
    private static final int CHUNK = GcsStoreConfig.CHUNK_GRANULARITY;

    @Override
    protected BlobStore createStore() {
        GcsStoreConfig fromEnvironment = BlobStores.gcsConfig(System.getenv("POWDB_TEST_GCS_BUCKET"), System.getenv());
        // The smallest chunk, so the large-object test is a real multi-chunk resumable upload.
        return new GcsBlobStore(new GcsStoreConfig(fromEnvironment.bucket(), fromEnvironment.projectId(),
                fromEnvironment.host(), fromEnvironment.anonymous(), CHUNK, fromEnvironment.maxAttempts()));
    }

    @Override
    protected int largeObjectSize() {
        return 5 * CHUNK + 12345;
    }
}
