package io.powdb.backup.store.gcs;

import io.powdb.backup.store.BlobAlreadyExistsException;
import io.powdb.backup.store.BlobStore;
import io.powdb.backup.store.BlobStoreContractTest;
import io.powdb.backup.store.BlobWriter;
import io.powdb.backup.store.FaultInjectingTcpProxy;
import io.powdb.backup.store.WriteMode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The contract suite and GCS-specific behaviour, driving the real google-cloud-storage HTTP client against
 * {@link GcsTestServer} on 127.0.0.1.
 */
class GcsBlobStoreTest extends BlobStoreContractTest {
    static final String BUCKET = "powdb-test";
    /** The smallest chunk GCS allows, so the large-object test sends several chunks of a resumable upload. */
    private static final int CHUNK = GcsStoreConfig.CHUNK_GRANULARITY;
    private static GcsTestServer server;

    @BeforeAll
    static void startServer() throws IOException {
        server = new GcsTestServer();
        server.createBucket(BUCKET);
    }

    @AfterAll
    static void stopServer() {
        if (server != null) {
            server.close();
        }
    }

    @AfterEach
    void clearFaults() {
        server.failNext(0, 0);
        server.requireToken(null);
    }

    static GcsStoreConfig.Builder config() {
        // Few attempts: a test that breaks the server should fail in seconds, not after minutes of backoff.
        return GcsStoreConfig.builder(BUCKET).projectId("test").host(server.endpoint()).anonymous(true).chunkSize(CHUNK)
                .maxAttempts(3);
    }

    @Override
    protected BlobStore createStore() {
        return new GcsBlobStore(config().build());
    }

    /** Several chunks and a short last one. */
    @Override
    protected int largeObjectSize() {
        return 5 * CHUNK + 12345;
    }

    @Test
    void aLargeWriterClosedWithoutCommitLeavesItsSessionUnfinalised() throws IOException {
        int sessionsBefore = server.openSessions();
        String key = prefix + "abandoned";
        try (BlobWriter writer = store.newWriter(key, WriteMode.CREATE_NEW)) {
            writer.stream().write(randomBytes(3 * CHUNK, 21));
        }
        // Chunks reached the server through a resumable session, which nothing finalised.
        assertEquals(sessionsBefore + 1, server.openSessions());
        assertTrue(store.stat(key).isEmpty());
    }

    @Test
    void aResumableCreateNewLosesToAWriterThatCommittedFirst() throws IOException {
        String key = prefix + "contended";
        byte[] winner = "the other writer".getBytes(StandardCharsets.UTF_8);
        try (BlobWriter writer = store.newWriter(key, WriteMode.CREATE_NEW)) {
            writer.stream().write(randomBytes(2 * CHUNK + 1, 22));
            store.putBytes(key, winner, WriteMode.CREATE_NEW);
            assertThrows(BlobAlreadyExistsException.class, writer::commit);
        }
        assertArrayEquals(winner, read(key));
    }

    @Test
    void aReadThatBreaksMidBodyResumes() throws IOException {
        String key = prefix + "flaky.bin";
        byte[] data = randomBytes(3 * 1024 * 1024, 23);
        store.putBytes(key, data, WriteMode.CREATE_NEW);
        try (FaultInjectingTcpProxy proxy = new FaultInjectingTcpProxy(URI.create(server.endpoint()), 700_000);
             GcsBlobStore viaProxy = new GcsBlobStore(config().host(proxy.endpoint().toString()).build());
             InputStream in = viaProxy.openRange(key, 5, data.length)) {
            assertArrayEquals(Arrays.copyOfRange(data, 5, data.length), in.readAllBytes());
            assertEquals(1, proxy.cuts());
        }
    }

    /**
     * The client takes a download response whose head was cut short (no Content-Length) for a complete,
     * empty one; the store once returned such a read short, without an error. It must resume instead.
     */
    @Test
    void aDownloadWhoseResponseHeadIsCutShortIsResumedNotReturnedShort() throws IOException {
        String key = prefix + "cut-head.bin";
        byte[] data = randomBytes(300_000, 26);
        store.putBytes(key, data, WriteMode.CREATE_NEW);
        try (FaultInjectingTcpProxy proxy = new FaultInjectingTcpProxy(URI.create(server.endpoint()),
                     FaultInjectingTcpProxy.Dialect.GCS);
             GcsBlobStore viaProxy = new GcsBlobStore(config().host(proxy.endpoint().toString()).build())) {
            for (FaultInjectingTcpProxy.Fault fault : List.of(FaultInjectingTcpProxy.Fault.cutResponseHeadShort(1),
                    FaultInjectingTcpProxy.Fault.cutResponseHeadShort(4), FaultInjectingTcpProxy.Fault.cutResponseHeadShort(40),
                    FaultInjectingTcpProxy.Fault.cutResponse(50))) {
                FaultInjectingTcpProxy.Rule rule = proxy.inject(fault, 1, Duration.ofSeconds(30),
                        r -> r.target().contains("alt=media"));
                try (InputStream in = viaProxy.open(key)) {
                    assertArrayEquals(data, in.readAllBytes(), fault + "\n" + proxy.describeInjected());
                }
                assertEquals(1, rule.fired(), proxy.describeInjected());
                rule = proxy.inject(fault, 1, Duration.ofSeconds(30), r -> r.target().contains("alt=media"));
                try (InputStream in = viaProxy.openRange(key, 1000, 200_000)) {
                    assertArrayEquals(Arrays.copyOfRange(data, 1000, 201_000), in.readAllBytes(), fault.toString());
                }
                assertEquals(1, rule.fired(), proxy.describeInjected());
            }
        }
    }

    /**
     * A resumable upload through a faulty network: a chunk cut mid-body is sent again from what the server
     * has, and a final chunk whose answer is lost, or cut inside its head, still counts: the object the
     * server made carries this writer's id. (The test server's session URLs name the host the client used,
     * so the chunks go through the proxy.)
     */
    @Test
    void aResumableUploadSurvivesCutChunksAndALostFinalAnswer() throws IOException {
        byte[] data = randomBytes(2 * CHUNK + 1000, 27);
        try (FaultInjectingTcpProxy proxy = new FaultInjectingTcpProxy(URI.create(server.endpoint()),
                     FaultInjectingTcpProxy.Dialect.GCS);
             GcsBlobStore viaProxy = new GcsBlobStore(config().host(proxy.endpoint().toString()).build())) {
            int n = 0;
            for (FaultInjectingTcpProxy.Fault fault : List.of(FaultInjectingTcpProxy.Fault.cutRequestBody(100_000),
                    FaultInjectingTcpProxy.Fault.cutResponse(0), FaultInjectingTcpProxy.Fault.cutResponseHeadShort(30))) {
                String key = prefix + "resumable-" + (++n);
                // The cut lands on the second chunk; the lost answers on the last one, which finalises the object.
                java.util.concurrent.atomic.AtomicInteger chunks = new java.util.concurrent.atomic.AtomicInteger();
                int chunk = fault.toString().contains("request") ? 2 : 3;
                FaultInjectingTcpProxy.Rule rule = proxy.inject(fault, 1, Duration.ofSeconds(30),
                        r -> r.method().equals("PUT") && r.target().contains("upload_id=") && chunks.incrementAndGet() == chunk);
                viaProxy.putBytes(key, data, WriteMode.CREATE_NEW);
                assertEquals(1, rule.fired(), proxy.describeInjected());
                assertArrayEquals(data, read(key), fault.toString());
            }
        }
    }

    @Test
    void aReadIsPinnedToTheGenerationItStartedOn() throws IOException {
        String key = prefix + "replaced.bin";
        store.putBytes(key, randomBytes(3 * 1024 * 1024, 24), WriteMode.OVERWRITE);
        try (FaultInjectingTcpProxy proxy = new FaultInjectingTcpProxy(URI.create(server.endpoint()), 700_000);
             GcsBlobStore viaProxy = new GcsBlobStore(config().host(proxy.endpoint().toString()).build());
             InputStream in = viaProxy.open(key)) {
            assertEquals(100, in.readNBytes(100).length);
            store.putBytes(key, randomBytes(3 * 1024 * 1024, 25), WriteMode.OVERWRITE);
            // The cut forces the client to fetch the rest again, which must not return the new object's bytes.
            assertThrows(IOException.class, in::readAllBytes);
            assertEquals(1, proxy.cuts());
        }
    }

    @Test
    void aRetriedCreateNewRecognisesItsOwnEarlierSuccess() throws IOException {
        String key = prefix + "lost-response";
        byte[] data = "written once".getBytes(StandardCharsets.UTF_8);
        // The first response is cut after one byte: the object is stored, but the client never hears so and
        // retries, meeting its own object (412). That is a success, not "already exists".
        try (FaultInjectingTcpProxy proxy = new FaultInjectingTcpProxy(URI.create(server.endpoint()), 1);
             GcsBlobStore viaProxy = new GcsBlobStore(config().host(proxy.endpoint().toString()).build())) {
            viaProxy.putBytes(key, data, WriteMode.CREATE_NEW);
            assertEquals(1, proxy.cuts());
        }
        assertArrayEquals(data, read(key));
    }

    @Test
    void transientServerErrorsAreRetried() throws IOException {
        String key = prefix + "retried";
        server.failNext(1, 503);
        store.putBytes(key, new byte[] {1, 2}, WriteMode.CREATE_NEW);
        server.failNext(1, 503);
        assertArrayEquals(new byte[] {1, 2}, read(key));
    }

    @Test
    void refusedCredentialsGiveAClearError() {
        server.requireToken("a-token-this-client-does-not-have");
        IOException e = assertThrows(IOException.class, () -> store.stat(prefix + "denied"));
        assertTrue(e.getMessage().startsWith("access denied to gs://" + BUCKET + "/" + prefix + "denied"), e.getMessage());
        assertTrue(e.getMessage().contains("check credentials"), e.getMessage());
    }
}
