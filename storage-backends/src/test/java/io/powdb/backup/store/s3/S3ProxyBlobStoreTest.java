package io.powdb.backup.store.s3;

import io.powdb.backup.store.BlobAlreadyExistsException;
import io.powdb.backup.store.BlobStore;
import io.powdb.backup.store.BlobStoreContractTest;
import io.powdb.backup.store.BlobWriter;
import io.powdb.backup.store.FaultInjectingTcpProxy;
import io.powdb.backup.store.WriteMode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.interceptor.Context;
import software.amazon.awssdk.core.interceptor.ExecutionAttributes;
import software.amazon.awssdk.core.interceptor.ExecutionInterceptor;
import software.amazon.awssdk.http.SdkHttpRequest;
import software.amazon.awssdk.services.s3.model.MultipartUpload;
import software.amazon.awssdk.services.s3.model.UploadPartRequest;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The contract suite and S3-specific behaviour against S3Proxy, a real S3 REST server, on 127.0.0.1. */
class S3ProxyBlobStoreTest extends BlobStoreContractTest {
    private static final int PART = (int) S3StoreConfig.MIN_PART_SIZE;
    private static S3ProxyServer server;

    @BeforeAll
    static void startServer() throws Exception {
        server = new S3ProxyServer();
    }

    @AfterAll
    static void stopServer() throws Exception {
        if (server != null) {
            server.close();
        }
    }

    @Override
    protected BlobStore createStore() {
        return new S3BlobStore(server.config().build());
    }

    /** Two full 5 MiB parts and a short third: a real multipart upload. */
    @Override
    protected int largeObjectSize() {
        return 2 * PART + 12345;
    }

    /**
     * A backup writes several objects at once: the parts in flight of all writers together stay within the
     * store's budget (partsInFlight parts), so memory does not grow with the number of writers.
     */
    @Test
    void concurrentWritersShareOneUploadMemoryBudget() throws Exception {
        int partsInFlight = 2;
        try (S3BlobStore shared = new S3BlobStore(server.config().partSize(PART).partsInFlight(partsInFlight).build())) {
            int writers = 4;
            byte[][] data = new byte[writers][];
            java.util.concurrent.atomic.AtomicLong peak = new java.util.concurrent.atomic.AtomicLong();
            java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();
            Thread sampler = new Thread(() -> {
                while (!done.get()) {
                    peak.accumulateAndGet(shared.uploadMemory().inUse(), Math::max);
                    Thread.onSpinWait();
                }
            });
            sampler.start();
            List<Thread> threads = new ArrayList<>();
            List<Throwable> failures = new CopyOnWriteArrayList<>();
            for (int w = 0; w < writers; w++) {
                int n = w;
                data[n] = randomBytes(5 * PART + 1000 * n, 40 + n);
                Thread t = new Thread(() -> {
                    try (BlobWriter writer = shared.newWriter(prefix + "budget-" + n, WriteMode.CREATE_NEW)) {
                        for (int off = 0; off < data[n].length; off += 64 * 1024) {
                            writer.stream().write(data[n], off, Math.min(64 * 1024, data[n].length - off));
                        }
                        writer.commit();
                    } catch (Throwable e) {
                        failures.add(e);
                    }
                });
                threads.add(t);
                t.start();
            }
            for (Thread t : threads) {
                t.join(120_000);
            }
            done.set(true);
            sampler.join();
            assertEquals(List.of(), failures);
            assertTrue(peak.get() > 0, "parts were uploaded through the budget");
            assertTrue(peak.get() <= (long) partsInFlight * PART, "peak in flight " + peak.get() + " bytes, budget "
                    + (long) partsInFlight * PART);
            assertEquals(0, shared.uploadMemory().inUse());
            for (int w = 0; w < writers; w++) {
                try (InputStream in = shared.open(prefix + "budget-" + w)) {
                    assertArrayEquals(data[w], in.readAllBytes());
                }
            }
        }
    }

    @Test
    void largeReadsGoAsParallelRangedGetsAndReturnExactlyTheRange() throws IOException {
        String key = prefix + "parallel.bin";
        int size = (int) S3BlobStore.PARALLEL_READ_MIN_BYTES + 5 * S3BlobStore.PARALLEL_READ_CHUNK / 2 + 777;
        byte[] data = randomBytes(size, 11);
        store.putBytes(key, data, WriteMode.CREATE_NEW);
        try (InputStream in = store.open(key)) {
            assertTrue(in instanceof io.powdb.backup.store.ParallelRangedInputStream, in.getClass().getName());
            assertArrayEquals(data, in.readAllBytes());
        }
        int offset = S3BlobStore.PARALLEL_READ_CHUNK - 5;
        int length = size - offset - 1000;
        try (InputStream in = store.openRange(key, offset, length)) {
            assertArrayEquals(Arrays.copyOfRange(data, offset, offset + length), in.readAllBytes());
        }
        try (InputStream in = store.openRange(key, 100, Long.MAX_VALUE)) {
            assertArrayEquals(Arrays.copyOfRange(data, 100, size), in.readAllBytes());
        }
    }

    private List<MultipartUpload> uploadsInProgress(String keyPrefix) {
        return server.admin().listMultipartUploads(r -> r.bucket(S3ProxyServer.BUCKET).prefix(keyPrefix)).uploads();
    }

    @Test
    void closingWithoutCommitAbortsTheMultipartUploadOnTheServer() throws IOException {
        String key = prefix + "abandoned";
        try (BlobWriter writer = store.newWriter(key, WriteMode.CREATE_NEW)) {
            writer.stream().write(randomBytes(2 * PART + 1, 11));
            // Two parts were handed over, so an upload exists on the server until the writer is closed.
            assertEquals(1, uploadsInProgress(prefix).size());
        }
        assertEquals(List.of(), uploadsInProgress(prefix));
        assertTrue(store.stat(key).isEmpty());
    }

    @Test
    void multipartCreateNewLosesToAWriterThatCommittedFirst() throws IOException {
        String key = prefix + "contended";
        byte[] winner = "the other writer".getBytes(StandardCharsets.UTF_8);
        try (BlobWriter writer = store.newWriter(key, WriteMode.CREATE_NEW)) {
            writer.stream().write(randomBytes(PART + 100, 12));
            // The key was free when the upload started; it is taken before the upload completes.
            store.putBytes(key, winner, WriteMode.CREATE_NEW);
            assertThrows(BlobAlreadyExistsException.class, writer::commit);
        }
        assertArrayEquals(winner, read(key));
        assertEquals(List.of(), uploadsInProgress(prefix));
    }

    @Test
    void withoutConditionalWritesCreateNewFallsBackToCheckThenWrite() throws IOException {
        List<SdkHttpRequest> requests = new CopyOnWriteArrayList<>();
        try (S3BlobStore plain = new S3BlobStore(server.config().conditionalCreate(false).build(), List.of(recorder(requests)))) {
            assertFalse(plain.supportsConditionalCreate());
            String key = prefix + "checked";
            plain.putBytes(key, new byte[] {1}, WriteMode.CREATE_NEW);
            assertThrows(BlobAlreadyExistsException.class, () -> plain.putBytes(key, new byte[] {2}, WriteMode.CREATE_NEW));
            try (BlobWriter writer = plain.newWriter(prefix + "checked-large", WriteMode.CREATE_NEW)) {
                writer.stream().write(randomBytes(PART + 1, 13));
                plain.putBytes(prefix + "checked-large", new byte[] {3}, WriteMode.CREATE_NEW);
                assertThrows(BlobAlreadyExistsException.class, writer::commit);
            }
            assertArrayEquals(new byte[] {1}, read(key));
            assertArrayEquals(new byte[] {3}, read(prefix + "checked-large"));
            assertTrue(requests.stream().noneMatch(r -> r.firstMatchingHeader("If-None-Match").isPresent()));
        }
    }

    @Test
    void partUploadsRunInParallelWithinTheInFlightLimit() throws IOException {
        AtomicInteger running = new AtomicInteger();
        AtomicInteger mostRunning = new AtomicInteger();
        ExecutionInterceptor gauge = new ExecutionInterceptor() {
            @Override
            public void beforeTransmission(Context.BeforeTransmission context, ExecutionAttributes attributes) {
                if (context.request() instanceof UploadPartRequest) {
                    mostRunning.accumulateAndGet(running.incrementAndGet(), Math::max);
                }
            }

            @Override
            public void afterTransmission(Context.AfterTransmission context, ExecutionAttributes attributes) {
                if (context.request() instanceof UploadPartRequest) {
                    running.decrementAndGet();
                }
            }
        };
        String key = prefix + "parallel.bin";
        byte[] data = randomBytes(6 * PART + 1, 18);
        try (S3BlobStore limited = new S3BlobStore(server.config().partsInFlight(2).build(), List.of(gauge))) {
            limited.putBytes(key, data, WriteMode.CREATE_NEW);
        }
        assertArrayEquals(data, read(key));
        assertTrue(mostRunning.get() <= 2, "at most 2 parts in flight, saw " + mostRunning.get());
    }

    @Test
    void serverErrorsAreRetriedUpToTheConfiguredAttempts() throws IOException {
        String key = prefix + "retried/object";
        store.putBytes(key, new byte[] {5}, WriteMode.CREATE_NEW);
        String internalError = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>InternalError</Code>"
                + "<Message>We encountered an internal error. Please try again.</Message></Error>";
        try (FaultInjectingTcpProxy proxy = new FaultInjectingTcpProxy(server.endpoint(), Long.MAX_VALUE)) {
            try (S3BlobStore patient = new S3BlobStore(server.config().endpoint(proxy.endpoint()).maxAttempts(3).build())) {
                proxy.refuseNext(2, 500, "application/xml", internalError);
                assertEquals(List.of(key), patient.list(prefix + "retried/", null, 10).stream().map(i -> i.key()).toList());
            }
            try (S3BlobStore impatient = new S3BlobStore(server.config().endpoint(proxy.endpoint()).maxAttempts(2).build())) {
                proxy.refuseNext(2, 500, "application/xml", internalError);
                IOException e = assertThrows(IOException.class, () -> impatient.list(prefix + "retried/", null, 10));
                assertTrue(e.getMessage().contains("HTTP 500 InternalError"), e.getMessage());
            }
        }
    }

    @Test
    void aRetriedCreateNewRecognisesItsOwnEarlierSuccess() throws IOException {
        String key = prefix + "lost-response";
        byte[] data = "written once".getBytes(StandardCharsets.UTF_8);
        // The first response is cut after one byte: the object is stored, but the client never hears so and
        // retries, meeting its own object (412). That is a success, not "already exists".
        try (FaultInjectingTcpProxy proxy = new FaultInjectingTcpProxy(server.endpoint(), 1);
             S3BlobStore viaProxy = new S3BlobStore(server.config().endpoint(proxy.endpoint()).build())) {
            viaProxy.putBytes(key, data, WriteMode.CREATE_NEW);
            assertEquals(1, proxy.cuts());
        }
        assertArrayEquals(data, read(key));
    }

    @Test
    void wrongCredentialsGiveAClearErrorWithoutTheSecret() {
        String secret = "definitely-not-the-secret-key";
        S3StoreConfig wrong = server.config()
                .credentials(StaticCredentialsProvider.create(AwsBasicCredentials.create(S3ProxyServer.ACCESS_KEY, secret)))
                .maxAttempts(2)
                .build();
        try (S3BlobStore denied = new S3BlobStore(wrong)) {
            IOException put = assertThrows(IOException.class,
                    () -> denied.putBytes(prefix + "denied", new byte[] {1}, WriteMode.CREATE_NEW));
            assertTrue(put.getMessage().startsWith("access denied to s3://" + S3ProxyServer.BUCKET + "/" + prefix + "denied"),
                    put.getMessage());
            assertTrue(put.getMessage().contains("check credentials"), put.getMessage());
            IOException list = assertThrows(IOException.class, () -> denied.list(prefix, null, 10));
            assertTrue(list.getMessage().startsWith("access denied to s3://"), list.getMessage());
            for (IOException e : List.of(put, list)) {
                assertFalse(e.getMessage().contains(secret), e.getMessage());
                assertFalse(String.valueOf(e.getCause()).contains(secret), String.valueOf(e.getCause()));
            }
        }
    }

    @Test
    void aReadThatBreaksMidBodyResumesFromTheByteReached() throws IOException {
        String key = prefix + "flaky.bin";
        byte[] data = randomBytes(3 * 1024 * 1024, 14);
        store.putBytes(key, data, WriteMode.CREATE_NEW);
        try (FaultInjectingTcpProxy proxy = new FaultInjectingTcpProxy(server.endpoint(), 700_000);
             S3BlobStore viaProxy = new S3BlobStore(server.config().endpoint(proxy.endpoint()).build())) {
            assertArrayEquals(data, readAll(viaProxy.open(key)));
            assertEquals(1, proxy.cuts());
            assertTrue(proxy.connections() >= 2, "the read went on over a new connection");
        }
        try (FaultInjectingTcpProxy proxy = new FaultInjectingTcpProxy(server.endpoint(), 300_000);
             S3BlobStore viaProxy = new S3BlobStore(server.config().endpoint(proxy.endpoint()).build())) {
            int offset = 123_457;
            int length = 2_000_000;
            assertArrayEquals(Arrays.copyOfRange(data, offset, offset + length), readAll(viaProxy.openRange(key, offset, length)));
            assertEquals(1, proxy.cuts());
        }
    }

    /**
     * The HTTP client takes a connection that closes inside a response head for the end of the head, and
     * S3 (like S3Proxy) sends Content-Length last. A cut there once gave a listing with no entries, a stat
     * without a size (NullPointerException) or with a wrong one ("1000" for 100000), a read that ended early
     * without an error, and a multipart upload that could not complete. Each must now be retried, and a
     * listing whose body breaks likewise.
     */
    @Test
    void aResponseCutInsideItsHeadIsRetriedNotHalfUsed() throws IOException {
        byte[] data = randomBytes(100_000, 26);
        String key = prefix + "cut-heads/object";
        store.putBytes(key, data, WriteMode.CREATE_NEW);
        store.putBytes(prefix + "cut-heads/other", new byte[] {1}, WriteMode.CREATE_NEW);
        List<FaultInjectingTcpProxy.Fault> faults = new ArrayList<>();
        for (long bytesShort : new long[] {1, 5, 7, 9, 20, 40}) {
            faults.add(FaultInjectingTcpProxy.Fault.cutResponseHeadShort(bytesShort));
        }
        faults.add(FaultInjectingTcpProxy.Fault.cutResponse(0));
        faults.add(FaultInjectingTcpProxy.Fault.cutResponse(30));
        AtomicInteger puts = new AtomicInteger();
        try (FaultInjectingTcpProxy proxy = new FaultInjectingTcpProxy(server.endpoint(), FaultInjectingTcpProxy.Dialect.S3);
             S3BlobStore viaProxy = new S3BlobStore(server.config().endpoint(proxy.endpoint()).maxAttempts(3).build())) {
            for (FaultInjectingTcpProxy.Fault fault : faults) {
                FaultInjectingTcpProxy.Rule rule = proxy.inject(fault, 1, Duration.ofSeconds(30),
                        r -> r.method().equals("GET") && !r.target().contains("list-type"));
                assertEquals(data.length, viaProxy.stat(key).orElseThrow().size(), fault + "\n" + proxy.describeInjected());
                assertEquals(1, rule.fired(), proxy.describeInjected());
                rule = proxy.inject(fault, 1, Duration.ofSeconds(30), r -> r.method().equals("GET"));
                assertArrayEquals(data, readAll(viaProxy.open(key)), fault + "\n" + proxy.describeInjected());
                assertEquals(1, rule.fired(), proxy.describeInjected());
                rule = proxy.inject(fault, 1, Duration.ofSeconds(30), r -> r.target().contains("list-type"));
                assertEquals(2 + puts.get(), viaProxy.list(prefix + "cut-heads/", null, 100).size(), fault + "\n" + proxy.describeInjected());
                assertEquals(1, rule.fired(), proxy.describeInjected());
                rule = proxy.inject(fault, 1, Duration.ofSeconds(30), r -> r.method().equals("PUT"));
                String put = prefix + "cut-heads/put-" + puts.incrementAndGet();
                viaProxy.putBytes(put, data, WriteMode.CREATE_NEW);
                assertArrayEquals(data, read(put), fault.toString());
                assertEquals(1, rule.fired(), proxy.describeInjected());
            }
            FaultInjectingTcpProxy.Rule part = proxy.inject(FaultInjectingTcpProxy.Fault.cutResponseHeadShort(30), 1,
                    Duration.ofSeconds(30), r -> r.target().contains("partNumber="));
            byte[] large = randomBytes(PART + 100, 27);
            viaProxy.putBytes(prefix + "cut-heads/multipart", large, WriteMode.CREATE_NEW);
            assertArrayEquals(large, read(prefix + "cut-heads/multipart"));
            assertEquals(1, part.fired(), proxy.describeInjected());
            FaultInjectingTcpProxy.Rule listBody = proxy.inject(FaultInjectingTcpProxy.Fault.cutResponseBody(100), 1,
                    Duration.ofSeconds(30), r -> r.target().contains("list-type"));
            assertEquals(3 + puts.get(), viaProxy.list(prefix + "cut-heads/", null, 100).size());
            assertEquals(1, listBody.fired(), proxy.describeInjected());
        }
    }

    /** A stall longer than the socket timeout costs one timeout per attempt, not the 60 s default. */
    @Test
    void stallsAreCutShortByTheSocketTimeoutAndRetried() throws IOException {
        byte[] data = randomBytes(300_000, 28);
        String key = prefix + "stalled";
        try (FaultInjectingTcpProxy proxy = new FaultInjectingTcpProxy(server.endpoint(), FaultInjectingTcpProxy.Dialect.S3);
             S3BlobStore viaProxy = new S3BlobStore(server.config().endpoint(proxy.endpoint())
                     .socketTimeout(Duration.ofMillis(500)).build())) {
            proxy.inject(FaultInjectingTcpProxy.Fault.stall(Duration.ofSeconds(30)), 1);
            long start = System.nanoTime();
            viaProxy.putBytes(key, data, WriteMode.CREATE_NEW);
            proxy.inject(FaultInjectingTcpProxy.Fault.stallResponseBody(100_000, Duration.ofSeconds(30)), 1);
            assertArrayEquals(data, readAll(viaProxy.open(key)));
            long millis = (System.nanoTime() - start) / 1_000_000;
            assertEquals(2, proxy.injected().size(), proxy.describeInjected());
            assertTrue(millis >= 1000 && millis < 10_000, "took " + millis + " ms");
        }
    }

    @Test
    void skippingFarStartsANewRangedRead() throws IOException {
        String key = prefix + "skipped.bin";
        byte[] data = randomBytes(4 * 1024 * 1024, 19);
        store.putBytes(key, data, WriteMode.CREATE_NEW);
        try (InputStream in = store.openRange(key, 10, data.length)) {
            assertEquals(5, in.readNBytes(5).length);
            assertEquals(3_000_000, in.skip(3_000_000));
            assertArrayEquals(Arrays.copyOfRange(data, 3_000_015, data.length), in.readAllBytes());
            assertEquals(0, in.skip(10));
        }
    }

    @Test
    void aReadDoesNotResumeIntoAReplacedObject() throws IOException {
        String key = prefix + "replaced.bin";
        store.putBytes(key, randomBytes(2 * 1024 * 1024, 15), WriteMode.OVERWRITE);
        try (FaultInjectingTcpProxy proxy = new FaultInjectingTcpProxy(server.endpoint(), 256 * 1024);
             S3BlobStore viaProxy = new S3BlobStore(server.config().endpoint(proxy.endpoint()).build());
             InputStream in = viaProxy.open(key)) {
            assertEquals(100, in.readNBytes(100).length);
            // Replaced while the first response is under way; the cut forces a resume, which must not splice.
            store.putBytes(key, randomBytes(2 * 1024 * 1024, 16), WriteMode.OVERWRITE);
            IOException e = assertThrows(IOException.class, in::readAllBytes);
            assertTrue(e.getMessage().contains("replaced while being read"), e.getMessage());
        }
    }

    @Test
    void storageClassEncryptionAndConditionsGoOnTheWire() throws IOException {
        List<SdkHttpRequest> requests = new CopyOnWriteArrayList<>();
        S3StoreConfig config = server.config()
                .storageClass("STANDARD_IA")
                .encryption(S3StoreConfig.Encryption.AES256, null)
                .build();
        try (S3BlobStore recorded = new S3BlobStore(config, List.of(recorder(requests)))) {
            recorded.putBytes(prefix + "small", new byte[] {1, 2, 3}, WriteMode.CREATE_NEW);
            recorded.putBytes(prefix + "large", randomBytes(PART + 10, 17), WriteMode.CREATE_NEW);
            assertArrayEquals(new byte[] {1, 2, 3}, read(prefix + "small"));
        }
        SdkHttpRequest put = only(requests, "PUT", prefix + "small", false);
        SdkHttpRequest create = only(requests, "POST", prefix + "large", true);
        SdkHttpRequest complete = only(requests, "POST", prefix + "large", false);
        for (SdkHttpRequest r : List.of(put, create)) {
            assertEquals("STANDARD_IA", r.firstMatchingHeader("x-amz-storage-class").orElse(null));
            assertEquals("AES256", r.firstMatchingHeader("x-amz-server-side-encryption").orElse(null));
        }
        for (SdkHttpRequest r : List.of(put, complete)) {
            assertEquals("*", r.firstMatchingHeader("If-None-Match").orElse(null));
        }
        assertTrue(requests.stream().filter(r -> r.rawQueryParameters().containsKey("partNumber"))
                .allMatch(r -> r.firstMatchingHeader("x-amz-trailer").orElse("").equals("x-amz-checksum-crc32c")
                        || r.firstMatchingHeader("x-amz-checksum-crc32c").isPresent()));
    }

    @Test
    void kmsEncryptionSendsTheKeyId() throws IOException {
        List<SdkHttpRequest> requests = new CopyOnWriteArrayList<>();
        S3StoreConfig config = server.config().encryption(S3StoreConfig.Encryption.KMS, "alias/backups").build();
        try (S3BlobStore recorded = new S3BlobStore(config, List.of(recorder(requests)))) {
            recorded.putBytes(prefix + "kms", new byte[] {1}, WriteMode.CREATE_NEW);
        }
        SdkHttpRequest put = only(requests, "PUT", prefix + "kms", false);
        assertEquals("aws:kms", put.firstMatchingHeader("x-amz-server-side-encryption").orElse(null));
        assertEquals("alias/backups", put.firstMatchingHeader("x-amz-server-side-encryption-aws-kms-key-id").orElse(null));
    }

    @Test
    void theEndpointCanComeFromTheSdkEnvironmentSettings() throws IOException {
        // AWS_ENDPOINT_URL_S3 and its system property are read by the SDK itself when no endpoint is configured.
        String property = "aws.endpointUrlS3";
        String before = System.getProperty(property);
        System.setProperty(property, server.endpoint().toString());
        try (S3BlobStore fromEnvironment = new S3BlobStore(server.config().endpoint(null).build())) {
            fromEnvironment.putBytes(prefix + "via-env", new byte[] {9}, WriteMode.CREATE_NEW);
        } finally {
            if (before == null) {
                System.clearProperty(property);
            } else {
                System.setProperty(property, before);
            }
        }
        assertArrayEquals(new byte[] {9}, read(prefix + "via-env"));
    }

    private static SdkHttpRequest only(List<SdkHttpRequest> requests, String method, String key, boolean uploadsQuery) {
        List<SdkHttpRequest> matching = requests.stream()
                .filter(r -> r.method().name().equals(method) && r.encodedPath().endsWith("/" + key))
                .filter(r -> r.rawQueryParameters().containsKey("uploads") == uploadsQuery)
                .filter(r -> !r.rawQueryParameters().containsKey("partNumber"))
                .toList();
        assertEquals(1, matching.size(), method + " " + key + " in " + requests);
        return matching.get(0);
    }

    private static ExecutionInterceptor recorder(List<SdkHttpRequest> requests) {
        return new ExecutionInterceptor() {
            @Override
            public void beforeTransmission(Context.BeforeTransmission context, ExecutionAttributes attributes) {
                requests.add(context.httpRequest());
            }
        };
    }

    private static byte[] readAll(InputStream in) throws IOException {
        try (in) {
            return in.readAllBytes();
        }
    }
}
