package io.powdb.backup.store.s3;

import org.gaul.s3proxy.S3Proxy;
import org.gaul.s3proxy.auth.AuthenticationType;
import org.gaul.s3proxy.nio2blob.TransientNio2BlobStore;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

import java.io.IOException;
import java.net.URI;

/** A real S3 REST server (S3Proxy over an in-memory store) on 127.0.0.1 with one bucket, for tests. */
public final class S3ProxyServer implements AutoCloseable {
    public static final String ACCESS_KEY = "powdb-test-access";
    public static final String SECRET_KEY = "powdb-test-secret-0123456789";
    public static final String BUCKET = "powdb-test";

    private final S3Proxy proxy;
    private final URI endpoint;
    private final S3Client admin;

    public S3ProxyServer() throws Exception {
        proxy = S3Proxy.builder()
                .blobStore(new TransientNio2BlobStore())
                .endpoint(URI.create("http://127.0.0.1:0"))
                .awsAuthentication(AuthenticationType.AWS_V4, ACCESS_KEY, SECRET_KEY)
                .ignoreUnknownHeaders(true)
                .build();
        proxy.start();
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (!"STARTED".equals(proxy.getState())) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("S3Proxy did not start: " + proxy.getState());
            }
            Thread.sleep(10);
        }
        endpoint = URI.create("http://127.0.0.1:" + proxy.getPort());
        admin = S3Client.builder()
                .endpointOverride(endpoint)
                .region(Region.US_EAST_1)
                .forcePathStyle(true)
                .credentialsProvider(credentials())
                .httpClientBuilder(software.amazon.awssdk.http.apache5.Apache5HttpClient.builder())
                .build();
        admin.createBucket(b -> b.bucket(BUCKET));
    }

    public static StaticCredentialsProvider credentials() {
        return StaticCredentialsProvider.create(AwsBasicCredentials.create(ACCESS_KEY, SECRET_KEY));
    }

    public URI endpoint() {
        return endpoint;
    }

    /** A plain SDK client for looking at the server behind the store's back. */
    public S3Client admin() {
        return admin;
    }

    /** A store config for this server, with S3's smallest part size so that tests cross part boundaries cheaply. */
    public S3StoreConfig.Builder config() {
        return S3StoreConfig.builder(BUCKET)
                .endpoint(endpoint)
                .region("us-east-1")
                .pathStyle(true)
                .partSize(S3StoreConfig.MIN_PART_SIZE)
                // Few attempts: a test that breaks the server should fail in seconds, not after minutes of backoff.
                .maxAttempts(3)
                .credentials(credentials());
    }

    @Override
    public void close() throws IOException {
        admin.close();
        try {
            proxy.stop();
        } catch (Exception e) {
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            throw new IOException("stopping S3Proxy failed", e);
        }
    }
}
