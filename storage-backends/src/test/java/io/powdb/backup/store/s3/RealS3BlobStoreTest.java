package io.powdb.backup.store.s3;

import io.powdb.backup.store.BlobStore;
import io.powdb.backup.store.BlobStoreContractTest;
import io.powdb.backup.store.BlobStores;
import org.junit.jupiter.api.condition.EnabledIfEnvironmentVariable;

/**
 * The contract suite against a real S3 bucket, configured as the agent would be: the bucket from
 * {@code POWDB_TEST_S3_BUCKET}, credentials and region from the AWS SDK's default chain, options from the
 * {@code POWDB_BACKUP_S3_*} variables. Every test works under a fresh random prefix and cleans up after
 * itself. Skipped unless {@code POWDB_TEST_S3_BUCKET} is set.
 */
@EnabledIfEnvironmentVariable(named = "POWDB_TEST_S3_BUCKET", matches = ".+")
class RealS3BlobStoreTest extends BlobStoreContractTest {

    @Override
    protected BlobStore createStore() {
        S3StoreConfig fromEnvironment = BlobStores.s3Config(System.getenv("POWDB_TEST_S3_BUCKET"), System.getenv());
        // S3's smallest part size, so the large-object test is a real multipart upload without sending much.
        return new S3BlobStore(fromEnvironment.toBuilder().partSize(S3StoreConfig.MIN_PART_SIZE).build());
    }

    @Override
    protected int largeObjectSize() {
        return 2 * (int) S3StoreConfig.MIN_PART_SIZE + 12345;
    }
}
