package io.powdb.backup.store.s3;

import io.powdb.backup.store.BlobStore;
import io.powdb.backup.store.BlobStoreContractTest;
import org.junit.jupiter.api.BeforeAll;
import org.testcontainers.junit.jupiter.Container;
import org.testcontainers.junit.jupiter.Testcontainers;
import org.testcontainers.localstack.LocalStackContainer;
import org.testcontainers.utility.DockerImageName;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.http.apache5.Apache5HttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * The contract suite against LocalStack's S3, a second independent S3 implementation. Needs a Docker
 * engine; skipped where there is none.
 */
@Testcontainers(disabledWithoutDocker = true)
class LocalStackS3BlobStoreTest extends BlobStoreContractTest {
    private static final String BUCKET = "powdb-localstack";

    @Container
    static final LocalStackContainer LOCALSTACK =
            new LocalStackContainer(DockerImageName.parse("localstack/localstack:4.4")).withServices("s3");

    @BeforeAll
    static void createBucket() {
        try (S3Client admin = S3Client.builder()
                .endpointOverride(LOCALSTACK.getEndpoint())
                .region(Region.of(LOCALSTACK.getRegion()))
                .forcePathStyle(true)
                .credentialsProvider(credentials())
                .httpClientBuilder(Apache5HttpClient.builder())
                .build()) {
            admin.createBucket(b -> b.bucket(BUCKET));
        }
    }

    private static StaticCredentialsProvider credentials() {
        return StaticCredentialsProvider.create(AwsBasicCredentials.create(LOCALSTACK.getAccessKey(), LOCALSTACK.getSecretKey()));
    }

    @Override
    protected BlobStore createStore() {
        return new S3BlobStore(S3StoreConfig.builder(BUCKET)
                .endpoint(LOCALSTACK.getEndpoint())
                .region(LOCALSTACK.getRegion())
                .pathStyle(true)
                .partSize(S3StoreConfig.MIN_PART_SIZE)
                .credentials(credentials())
                .build());
    }

    @Override
    protected int largeObjectSize() {
        return 2 * (int) S3StoreConfig.MIN_PART_SIZE + 12345;
    }
}
