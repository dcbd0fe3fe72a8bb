package io.powdb.backup.backup;

import io.powdb.backup.repo.BackupCatalog;
import io.powdb.backup.repo.BackupId;
import io.powdb.backup.repo.Manifest;
import io.powdb.backup.repo.Repository;
import io.powdb.backup.repo.RestorePoint;
import io.powdb.backup.restore.RestoreOptions;
import io.powdb.backup.restore.RestoreService;
import io.powdb.backup.store.BlobInfo;
import io.powdb.backup.store.BlobStore;
import io.powdb.backup.store.ForwardingBlobStore;
import io.powdb.backup.store.BlobWriter;
import io.powdb.backup.store.WriteMode;
import io.powdb.backup.store.FaultInjectingTcpProxy;
import io.powdb.backup.store.FaultInjectingTcpProxy.Fault;
import io.powdb.backup.store.FaultInjectingTcpProxy.Request;
import io.powdb.backup.store.FaultInjectingTcpProxy.Rule;
import io.powdb.backup.store.gcs.GcsBlobStore;
import io.powdb.backup.store.gcs.GcsStoreConfig;
import io.powdb.backup.store.gcs.GcsTestServer;
import io.powdb.backup.store.s3.S3BlobStore;
import io.powdb.backup.store.s3.S3ProxyServer;
import io.powdb.backup.store.s3.S3StoreConfig;
import io.powdb.backup.testing.BackupTestSupport;
import io.powdb.backup.testing.PowDbFixture;
import io.powdb.backup.verify.VerifyReport;
import io.powdb.backup.verify.VerifyService;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Backups, restores and verifies through a faulty network to a real S3 server (S3Proxy) and to the GCS
 * JSON-API test server, with the real SDK clients, through {@link FaultInjectingTcpProxy} on 127.0.0.1.
 * Faults the retry budget covers (connections dropped mid-body, 500s, 503 SlowDown bursts, stalls) must
 * not change the outcome: every backup restores byte for byte. Faults beyond it must fail the operation
 * with a clear error in bounded time and leave no half-visible backup, no restored directory and no
 * staging directory; earlier backups stay intact, and the next backup succeeds.
 *
 * <p>{@code -Dpowdb.faulty.seeds=N} runs the randomized test with N seeds (default 5);
 * {@code -Dpowdb.faulty.seed=S} starts the seeds at S, to replay a failure.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class FaultyStoreTest extends BackupTestSupport {
    /** Attempts per request in the scripted tests: a burst of two faults on one request is absorbed, three are not. */
    private static final int ATTEMPTS = 3;
    /** Short socket timeout, so a stall costs a second instead of the production 60 s. */
    private static final Duration SOCKET_TIMEOUT = Duration.ofSeconds(1);
    private static final int GCS_CHUNK = GcsStoreConfig.CHUNK_GRANULARITY;
    /** How long a failing backup or restore may take at most here: attempts, timeouts and backoff, with slack. */
    private static final long FAILURE_BOUND_MILLIS = 25_000;
    /** How long a scripted rule stays armed at most; it ends by itself after that. */
    private static final Duration WINDOW = Duration.ofSeconds(40);

    enum Backend { S3, GCS }

    private static S3ProxyServer s3;
    private static GcsTestServer gcs;

    private FaultInjectingTcpProxy proxy;
    private Backend backend;
    /** The repository's key prefix in the shared bucket, fresh for every test. */
    private String prefix;
    /** The same repository reached directly, never through the faults: what the tests look with. */
    private Repository observer;

    @BeforeAll
    static void startServers() throws Exception {
        s3 = new S3ProxyServer();
        gcs = new GcsTestServer();
        gcs.createBucket(S3ProxyServer.BUCKET);
    }

    @AfterAll
    static void stopServers() throws IOException {
        if (s3 != null) {
            s3.close();
        }
        if (gcs != null) {
            gcs.close();
        }
    }

    @AfterEach
    void closeProxy() throws IOException {
        if (proxy != null) {
            System.out.println(proxy.requests() + " requests, faults:\n" + proxy.describeInjected());
            proxy.close();
        }
        if (observer != null) {
            observer.close();
        }
    }

    /** Points {@link #repository} at a fresh prefix of {@code backend} through a new fault-injecting proxy. */
    private void useStore(Backend backend, int attempts) throws IOException {
        repository.close(); // the local one BackupTestSupport made
        this.backend = backend;
        prefix = "faulty-" + UUID.randomUUID() + "/";
        URI upstream = backend == Backend.S3 ? s3.endpoint() : URI.create(gcs.endpoint());
        proxy = new FaultInjectingTcpProxy(upstream,
                backend == Backend.S3 ? FaultInjectingTcpProxy.Dialect.S3 : FaultInjectingTcpProxy.Dialect.GCS);
        repository = new Repository(store(proxy.endpoint(), attempts), prefix);
        observer = new Repository(store(upstream, ATTEMPTS), prefix);
    }

    private BlobStore store(URI endpoint, int attempts) {
        if (backend == Backend.S3) {
            S3StoreConfig config = s3.config()
                    .endpoint(endpoint)
                    .maxAttempts(attempts)
                    .readResumes(attempts - 1)
                    .socketTimeout(SOCKET_TIMEOUT)
                    .build();
            return new S3BlobStore(config);
        }
        return new GcsBlobStore(GcsStoreConfig.builder(S3ProxyServer.BUCKET)
                .projectId("test")
                .host(endpoint.toString())
                .anonymous(true)
                .chunkSize(GCS_CHUNK) // a 100-page heap is a resumable upload of two chunks
                .maxAttempts(attempts)
                .build());
    }

    private String storeLocation() {
        return (backend == Backend.S3 ? "s3://" : "gs://") + S3ProxyServer.BUCKET + "/";
    }

    /** Two tables (one over a GCS chunk), indexes and the optional whole files. */
    private void smallDatabase() throws IOException {
        db.createTable("t", 100);
        db.createTable("u", 20);
        db.writeOptionalWholeFiles();
    }

    private void change(int round) throws IOException {
        db.updatePages("t", 1 + round % 90, 50, 99);
        db.appendPages("u", 2);
        db.rewriteIndex("u", false);
    }

    private List<String> manifests() throws IOException {
        return observer.store().listAll(prefix + "manifests/").stream().map(BlobInfo::key).toList();
    }

    private List<String> dataObjects() throws IOException {
        return observer.store().listAll(prefix + "data/").stream().map(BlobInfo::key).toList();
    }

    private Path restoreVia(Repository repo, RestorePoint point) throws IOException {
        Path target = newTarget();
        new RestoreService(repo).restore(point, target, RestoreOptions.defaults().withProgress((p, d, t) -> { }));
        return target;
    }

    private VerifyReport verify() throws IOException {
        return new VerifyService(repository).verify(Optional.empty(), tmp.resolve("verify-tmp"), (p, d, t) -> { });
    }

    private void assertNoRestoreLeftovers(Path target) throws IOException {
        assertFalse(Files.exists(target), "nothing restored at " + target);
        try (Stream<Path> entries = Files.list(target.getParent())) {
            List<String> staging = entries.map(p -> p.getFileName().toString()).filter(n -> n.contains("powdb-restore")).toList();
            assertTrue(staging.isEmpty(), "staging directories left: " + staging);
        }
    }

    private static boolean isUpload(Request r) {
        return r.method().equals("PUT") || r.method().equals("POST");
    }

    private static String decoded(Request r) {
        return URLDecoder.decode(r.target(), StandardCharsets.UTF_8);
    }

    /** A GET of object bytes under data/ (GCS: a media download, not a metadata read). */
    private boolean isDataDownload(Request r) {
        String target = decoded(r);
        // S3 stat is a one-byte ranged GET; GCS reads metadata separately from the media.
        return r.method().equals("GET") && target.contains("/" + prefix + "data/")
                && (backend == Backend.S3 ? !r.header("Range").equals("bytes=0-0") : target.contains("alt=media"));
    }

    private static Predicate<Request> after(int requests) {
        AtomicInteger seen = new AtomicInteger();
        return r -> seen.incrementAndGet() > requests;
    }

    private static long millisSince(long start) {
        return (System.nanoTime() - start) / 1_000_000;
    }

    // ------------------------------------------------------------------------------------------------
    // Faults within the retry budget: every operation completes and every restore is byte-exact.

    @ParameterizedTest(name = "{0}")
    @EnumSource(Backend.class)
    void connectionsDroppedMidBodyOnUploadAndDownloadChangeNothing(Backend backend) throws IOException {
        useStore(backend, ATTEMPTS);
        smallDatabase();

        // Two cuts in a row land on one upload (a backup sends one request at a time): its last attempt passes.
        Rule upload = proxy.inject(Fault.cutRequestBody(20_000), ATTEMPTS - 1);
        BackupId full = fullBackup().manifest().backupId();
        assertEquals(ATTEMPTS - 1, upload.fired(), proxy.describeInjected());
        Path fullState = snapshot("full");

        change(1);
        Rule incrementalUpload = proxy.inject(Fault.cutRequestBody(2_000), 1);
        Rule mapDownload = proxy.inject(Fault.cutResponseBody(100), 1, WINDOW,
                r -> isDataDownload(r) && decoded(r).contains("/maps/"));
        BackupResult incremental = backup();
        assertEquals("incremental", incremental.manifest().type());
        assertEquals(1, incrementalUpload.fired(), proxy.describeInjected());
        assertEquals(1, mapDownload.fired(), "the base's page map was cut\n" + proxy.describeInjected());

        // A download is cut, resumes, and its rest is cut again.
        Rule download = proxy.inject(Fault.cutResponseBody(10_000), 3, WINDOW, this::isDataDownload);
        PowDbFixture.assertSameDatabase(db.dir(), restore(new RestorePoint.Latest()), true);
        assertEquals(3, download.fired(), proxy.describeInjected());
        Rule again = proxy.inject(Fault.cutResponseBody(1_000), 2, WINDOW, this::isDataDownload);
        PowDbFixture.assertSameDatabase(fullState, restore(new RestorePoint.ById(full)), true);
        assertEquals(2, again.fired(), proxy.describeInjected());

        Rule verifyCuts = proxy.inject(Fault.cutResponseBody(5_000), 2, WINDOW, this::isDataDownload);
        assertTrue(verify().ok(), "verify through dropped connections");
        assertEquals(2, verifyCuts.fired(), proxy.describeInjected());
        assertEquals(2, manifests().size());
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Backend.class)
    void serverErrorsAndSlowDownBurstsShorterThanTheRetryBudgetChangeNothing(Backend backend) throws IOException {
        useStore(backend, ATTEMPTS);
        smallDatabase();
        // The GCS client backs off 0.5 s, then 1-2 s, whatever it is told: there, one burst is shown.
        int burst = backend == Backend.S3 ? ATTEMPTS - 1 : 1;

        // ATTEMPTS - 1 faults in a row land on one request (the backup sends one at a time): its last attempt passes.
        Rule slowDown = proxy.inject(Fault.slowDown(), ATTEMPTS - 1);
        Rule internal = proxy.inject(Fault.internalError(), burst, WINDOW, after(6));
        BackupId full = fullBackup().manifest().backupId();
        assertEquals(ATTEMPTS - 1, slowDown.fired(), proxy.describeInjected());
        assertEquals(burst, internal.fired(), proxy.describeInjected());
        Path fullState = snapshot("full");

        change(1);
        Rule incrementalErrors = proxy.inject(Fault.internalError(), 1, WINDOW, after(3));
        Rule incrementalUnavailable = proxy.inject(Fault.serviceUnavailable(), 1, WINDOW, after(8));
        assertEquals("incremental", backup().manifest().type());
        assertEquals(1, incrementalErrors.fired(), proxy.describeInjected());
        assertEquals(1, incrementalUnavailable.fired(), proxy.describeInjected());

        Rule restoreSlowDown = proxy.inject(Fault.slowDown(), 1, WINDOW, this::isDataDownload);
        Rule restoreErrors = proxy.inject(Fault.internalError(), 1);
        PowDbFixture.assertSameDatabase(db.dir(), restore(new RestorePoint.Latest()), true);
        assertEquals(1, restoreSlowDown.fired(), proxy.describeInjected());
        assertEquals(1, restoreErrors.fired(), proxy.describeInjected());
        PowDbFixture.assertSameDatabase(fullState, restore(new RestorePoint.ById(full)), true);

        Rule verifyErrors = proxy.inject(Fault.serviceUnavailable(), 1, WINDOW, this::isDataDownload);
        assertTrue(verify().ok());
        assertEquals(1, verifyErrors.fired(), proxy.describeInjected());
    }

    @Test
    void multipartUploadsSurviveDroppedPartsAndALostCompletion() throws IOException {
        useStore(Backend.S3, ATTEMPTS);
        // 11.7 MiB, stored zstd-compressed in about 6.7 MiB: two parts of S3's smallest part size.
        db.createTable("big", 3000);
        db.createTable("small", 5);
        Rule parts = proxy.inject(Fault.cutRequestBody(1 << 20), 2, WINDOW,
                r -> r.target().contains("partNumber="));
        // The completion is carried out, but its answer is lost: the retry must recognise the upload as its own.
        Rule completion = proxy.inject(Fault.cutResponse(0), 1, WINDOW,
                r -> r.method().equals("POST") && r.target().contains("uploadId="));
        Manifest fullManifest = fullBackup().manifest();
        BackupId full = fullManifest.backupId();
        long imageBytes = BackupRestoreRoundTripTest.entry(fullManifest, "big.heap").sources().get(0).size();
        assertTrue(imageBytes > (5 << 20) && imageBytes <= (10 << 20), "a two-part image: " + imageBytes + " bytes");
        assertEquals(2, parts.fired(), proxy.describeInjected());
        assertEquals(1, completion.fired(), proxy.describeInjected());
        Path fullState = snapshot("full");

        db.updatePages("big", 3, 700, 1399);
        backup();
        // The heap image (6.7 MiB stored) is read in one GET: stalled after 3 MiB, then cut twice after 1 MiB more.
        Rule stalledDownload = proxy.inject(Fault.stallResponseBody(3 << 20, Duration.ofSeconds(5)), 1);
        Rule download = proxy.inject(Fault.cutResponseBody(1 << 20), 2);
        PowDbFixture.assertSameDatabase(db.dir(), restore(new RestorePoint.Latest()), true);
        assertEquals(2, download.fired(), proxy.describeInjected());
        assertEquals(1, stalledDownload.fired(), proxy.describeInjected());
        PowDbFixture.assertSameDatabase(fullState, restoreVia(observer, new RestorePoint.ById(full)), true);
    }

    @Test
    void stallsShorterThanTheRetryBudgetCostTimeoutsButChangeNothing() throws IOException {
        parallelism = 1; // the stalls are counted and timed one request after another
        useStore(Backend.S3, ATTEMPTS);
        smallDatabase();
        // Two attempts of one request hang (each is abandoned after the socket timeout), the third passes.
        Rule stall = proxy.inject(Fault.stall(Duration.ofSeconds(10)), 2, WINDOW,
                r -> isUpload(r) && r.target().contains("/data/"));
        long start = System.nanoTime();
        fullBackup();
        assertEquals(2, stall.fired(), proxy.describeInjected());
        assertTrue(millisSince(start) >= 2 * SOCKET_TIMEOUT.toMillis(), "the stalls were waited out");

        change(2);
        backup();
        Rule stalledBody = proxy.inject(Fault.stallResponseBody(5_000, Duration.ofSeconds(10)), 1);
        PowDbFixture.assertSameDatabase(db.dir(), restore(new RestorePoint.Latest()), true);
        assertEquals(1, stalledBody.fired(), proxy.describeInjected());
        assertTrue(verify().ok());
    }

    // ------------------------------------------------------------------------------------------------
    // Faults beyond the retry budget: a clear error in bounded time, and nothing half-visible.

    /** A full and an incremental backup without faults, their states, and a change not yet backed up. */
    private record History(BackupId full, Path fullState, BackupId incremental, Path incrementalState,
                           List<String> manifests, List<String> data) {
    }

    private History historyThenChange() throws IOException {
        smallDatabase();
        BackupId full = fullBackup().manifest().backupId();
        Path fullState = snapshot("full");
        change(1);
        BackupId incremental = backup().manifest().backupId();
        Path incrementalState = snapshot("incremental");
        change(2);
        return new History(full, fullState, incremental, incrementalState, manifests(), dataObjects());
    }

    /** After a failed backup: nothing new is visible, the old backups restore, and the next backup works. */
    private void assertFailedBackupLeftNoTrace(History history) throws IOException {
        proxy.clearFaults();
        assertEquals(history.manifests(), manifests(), "no manifest for the failed backup");
        BackupCatalog catalog = BackupCatalog.load(repository);
        assertEquals(Optional.of(history.incremental()), catalog.latest(), "the previous backup is still the latest");
        PowDbFixture.assertSameDatabase(history.incrementalState(), restore(new RestorePoint.Latest()), true);
        PowDbFixture.assertSameDatabase(history.fullState(), restore(new RestorePoint.ById(history.full())), true);

        BackupResult next = backup();
        assertEquals(history.incremental().toString(), next.manifest().parent(), "the next backup builds on the last good one");
        PowDbFixture.assertSameDatabase(db.dir(), restore(new RestorePoint.Latest()), true);
        assertTrue(verify().ok());
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Backend.class)
    void aStoreAnsweringOnly503FailsTheBackupClearlyAndLeavesNoTrace(Backend backend) throws IOException {
        useStore(backend, ATTEMPTS);
        History history = historyThenChange();

        // The backup gets going (marker, listing, base manifest and map, first uploads), then the store
        // answers every request with 503 for longer than any retry budget.
        Rule outage = proxy.inject(Fault.serviceUnavailable(), Integer.MAX_VALUE, WINDOW, after(6));
        long start = System.nanoTime();
        IOException e = assertThrows(IOException.class, this::backup);
        long took = millisSince(start);
        assertTrue(took < FAILURE_BOUND_MILLIS, "failed after " + took + " ms");
        assertTrue(outage.fired() >= ATTEMPTS, proxy.describeInjected());
        assertTrue(e.getMessage().contains(storeLocation() + prefix), "names the store and key: " + e.getMessage());
        assertTrue(e.getMessage().contains("503"), "names the cause: " + e.getMessage());

        assertFailedBackupLeftNoTrace(history);
    }

    @Test
    void aManifestThatCannotBeWrittenFailsTheBackupAndItsUploadsAreRemoved() throws IOException {
        useStore(Backend.S3, ATTEMPTS);
        History history = historyThenChange();

        Rule manifestOutage = proxy.inject(Fault.slowDown(), Integer.MAX_VALUE, WINDOW,
                r -> isUpload(r) && r.target().contains("/" + prefix + "manifests/"));
        IOException e = assertThrows(IOException.class, this::backup);
        assertEquals(ATTEMPTS, manifestOutage.fired(), proxy.describeInjected());
        assertTrue(e.getMessage().contains("PUT " + storeLocation() + prefix + "manifests/")
                && e.getMessage().contains("SlowDown"), e.getMessage());
        proxy.clearFaults();
        assertEquals(history.data(), dataObjects(), "the failed backup's data objects were removed");

        assertFailedBackupLeftNoTrace(history);
    }

    @Test
    void aPermanentStallFailsTheBackupWithinTheTimeouts() throws IOException {
        parallelism = 1; // one upload's attempts are counted
        useStore(Backend.S3, ATTEMPTS);
        History history = historyThenChange();

        Rule stall = proxy.inject(Fault.stall(Duration.ofSeconds(50)), Integer.MAX_VALUE, Duration.ofSeconds(50),
                r -> isUpload(r) && r.target().contains("/data/"));
        long start = System.nanoTime();
        IOException e = assertThrows(IOException.class, this::backup);
        long took = millisSince(start);
        // Each attempt is abandoned after the socket timeout; then short backoffs.
        assertTrue(took >= ATTEMPTS * SOCKET_TIMEOUT.toMillis() && took < FAILURE_BOUND_MILLIS, "failed after " + took + " ms");
        assertEquals(ATTEMPTS, stall.fired(), proxy.describeInjected());
        assertTrue(e.getMessage().contains("PUT " + storeLocation() + prefix + "data/")
                && e.getMessage().toLowerCase().contains("timed out"), e.getMessage());

        assertFailedBackupLeftNoTrace(history);
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Backend.class)
    void aRestoreThatCannotReadItsObjectsFailsAndLeavesNothing(Backend backend) throws IOException {
        useStore(backend, ATTEMPTS);
        History history = historyThenChange();

        // The restore has written its first file when every further download fails.
        Predicate<Request> afterFirstDownload = new Predicate<>() {
            final AtomicInteger downloads = new AtomicInteger();

            @Override
            public boolean test(Request r) {
                return isDataDownload(r) && downloads.incrementAndGet() > 1;
            }
        };
        Rule outage = proxy.inject(Fault.serviceUnavailable(), Integer.MAX_VALUE, WINDOW, afterFirstDownload);
        Path target = newTarget();
        long start = System.nanoTime();
        IOException e = assertThrows(IOException.class, () -> restore(new RestorePoint.Latest(), target));
        assertTrue(millisSince(start) < FAILURE_BOUND_MILLIS);
        assertTrue(outage.fired() >= ATTEMPTS, proxy.describeInjected());
        assertTrue(e.getMessage().contains(storeLocation() + prefix + "data/") && e.getMessage().contains("503"),
                e.getMessage());
        assertTrue(e.getMessage().contains("Nothing was restored"), e.getMessage());
        assertNoRestoreLeftovers(target);

        proxy.clearFaults();
        PowDbFixture.assertSameDatabase(history.incrementalState(), restore(new RestorePoint.Latest(), target).target(), true);
    }

    @Test
    void aRestoreThatStallsForeverFailsWithinTheTimeoutsAndLeavesNothing() throws IOException {
        useStore(Backend.S3, ATTEMPTS);
        History history = historyThenChange();

        Rule stall = proxy.inject(Fault.stallResponseBody(0, Duration.ofSeconds(50)), Integer.MAX_VALUE,
                Duration.ofSeconds(50), this::isDataDownload);
        Path target = newTarget();
        long start = System.nanoTime();
        IOException e = assertThrows(IOException.class, () -> restore(new RestorePoint.Latest(), target));
        long took = millisSince(start);
        assertTrue(took < FAILURE_BOUND_MILLIS, "failed after " + took + " ms");
        assertTrue(stall.fired() >= ATTEMPTS, proxy.describeInjected());
        assertTrue(e.getMessage().contains(storeLocation() + prefix + "data/"), e.getMessage());
        assertNoRestoreLeftovers(target);

        proxy.clearFaults();
        PowDbFixture.assertSameDatabase(history.fullState(),
                restore(new RestorePoint.ById(history.full()), target).target(), true);
    }

    /**
     * The store carries out the manifest write but its answer is lost, and every retry of the write fails.
     * If the manifest can be read back, the backup is complete and succeeds (with a warning); if the store
     * cannot be read either, whether the backup exists is unknown, and the backup fails but keeps its data
     * objects. Either way the backup the repository now lists is whole; it must never be left naming objects
     * that were removed because the backup was taken for failed (deletes keep working throughout).
     */
    @ParameterizedTest(name = "{0}, manifest readable afterwards: {1}")
    @CsvSource({"S3, true", "S3, false", "GCS, true"}) // which outcome follows is the agent's logic, whatever the store
    void aManifestWrittenButNotAcknowledgedNeverLeavesABackupWithoutItsData(Backend backend, boolean readable)
            throws IOException {
        useStore(backend, ATTEMPTS);
        History history = historyThenChange();
        db.checkpoint();
        Path state = snapshot("unacknowledged");

        // S3 names the manifest in the request path, GCS only in the body: the faults are armed when the
        // manifest's writer is opened, and the backup writes nothing else after it.
        AtomicBoolean manifestStarted = new AtomicBoolean();
        repository = new Repository(new ArmingStore(repository.store(), prefix + "manifests/", manifestStarted), prefix);
        Rule lost = proxy.inject(Fault.cutResponse(0), 1, WINDOW,
                r -> manifestStarted.get() && isUpload(r));
        Rule outage = proxy.inject(Fault.serviceUnavailable(), Integer.MAX_VALUE, WINDOW,
                r -> lost.fired() > 0 && (isUpload(r) || !readable && !r.method().equals("DELETE")));
        long start = System.nanoTime();
        if (readable) {
            BackupResult result = backup();
            // The GCS writer recognises its own object after any failed commit; the S3 writer only after a
            // 412, so there the store reports the failure and the backup reads its manifest back.
            if (backend == Backend.S3) {
                assertTrue(result.warnings().stream().anyMatch(w -> w.contains("but it was stored")),
                        result.warnings().toString());
            }
        } else {
            IOException e = assertThrows(IOException.class, this::backup);
            assertTrue(e.getMessage().contains("whether the backup exists is unknown")
                    && e.getMessage().contains(storeLocation() + prefix + "manifests/"), e.getMessage());
        }
        assertTrue(millisSince(start) < FAILURE_BOUND_MILLIS);
        assertEquals(1, lost.fired(), proxy.describeInjected());
        assertTrue(outage.fired() >= ATTEMPTS - 1, proxy.describeInjected());
        proxy.clearFaults();

        assertEquals(history.manifests().size() + 1, manifests().size(), "the store did write the manifest");
        BackupId written = BackupCatalog.load(observer).latest().orElseThrow();
        assertNotEquals(history.incremental(), written);
        PowDbFixture.assertSameDatabase(state, restoreVia(observer, new RestorePoint.ById(written)), true);
        PowDbFixture.assertSameDatabase(history.incrementalState(),
                restoreVia(observer, new RestorePoint.ById(history.incremental())), true);
        assertTrue(new VerifyService(observer).verify(Optional.empty(), tmp.resolve("v"), (p, d, t) -> { }).ok());
    }

    /** A store that raises a flag when a writer for a key under {@code watched} is opened; otherwise the store itself. */
    private static final class ArmingStore extends ForwardingBlobStore {
        private final String watched;
        private final AtomicBoolean flag;

        ArmingStore(BlobStore store, String watched, AtomicBoolean flag) {
            super(store);
            this.watched = watched;
            this.flag = flag;
        }

        @Override
        public BlobWriter newWriter(String key, WriteMode mode) throws IOException {
            if (key.startsWith(watched)) {
                flag.set(true);
            }
            return delegate.newWriter(key, mode);
        }
    }

    // ------------------------------------------------------------------------------------------------
    // Random faults: whatever happens, nothing corrupt and nothing half-visible.

    /**
     * For several seeds (5; {@code -Dpowdb.faulty.seeds=N} for more, {@code -Dpowdb.faulty.seed=S} to start
     * elsewhere), a sequence of full and incremental backups and restores, and a verify, through random
     * faults. Every operation either succeeds, with a byte-exact restore, or fails with an IOException that
     * names the store and leaves no half-visible backup, no restored directory and no staging directory. At
     * the end, with the faults off, every backup the catalog lists restores byte for byte. Seeds run side by
     * side (each on its own proxy, repository prefix and database), as most of their time is spent waiting.
     */
    @Test
    @Timeout(value = 10, unit = TimeUnit.MINUTES)
    void randomFaultsNeverCorruptOrHalfPublishABackup() throws Exception {
        long first = Long.getLong("powdb.faulty.seed", 1);
        int count = Integer.getInteger("powdb.faulty.seeds", 5);
        ExecutorService pool = Executors.newFixedThreadPool(Math.min(count, 5));
        try {
            Map<Long, Future<String>> runs = new java.util.TreeMap<>();
            for (long seed = first; seed < first + count; seed++) {
                long s = seed;
                runs.put(seed, pool.submit(() -> new RandomRun(s).run()));
            }
            List<String> failures = new ArrayList<>();
            for (Map.Entry<Long, Future<String>> run : runs.entrySet()) {
                try {
                    System.out.println(run.getValue().get());
                } catch (ExecutionException e) {
                    failures.add("seed " + run.getKey() + ": " + e.getCause());
                    e.getCause().printStackTrace(System.out);
                }
            }
            assertTrue(failures.isEmpty(), failures.size() + " of " + count + " seeds failed (replay one with"
                    + " -Dpowdb.faulty.seed=S -Dpowdb.faulty.seeds=1):\n" + String.join("\n", failures));
        } finally {
            pool.shutdownNow();
        }
    }

    /** One seed's run, on its own database, proxy and repository prefix. */
    private final class RandomRun {
        private final long seed;
        private final Random random;
        private final Path dir;
        private final String runPrefix = "random-" + UUID.randomUUID() + "/";
        private int targets;

        RandomRun(long seed) {
            this.seed = seed;
            this.random = new Random(seed);
            this.dir = tmp.resolve("seed-" + seed);
        }

        String run() throws IOException {
            PowDbFixture db = PowDbFixture.create(dir.resolve("data"), PowDbFixture.Version.V0_5, seed);
            db.createTable("t", 40 + random.nextInt(40));
            db.createTable("u", 5 + random.nextInt(20));
            db.writeOptionalWholeFiles();
            BackupOptions options = BackupOptions.defaults().withTempDir(dir.resolve("tmp"));
            try (FaultInjectingTcpProxy proxy = new FaultInjectingTcpProxy(s3.endpoint(), FaultInjectingTcpProxy.Dialect.S3);
                 // Two attempts per request, so that some operations fail and the failure paths run too.
                 Repository faulty = new Repository(new S3BlobStore(s3.config().endpoint(proxy.endpoint())
                         .maxAttempts(2).readResumes(1).socketTimeout(SOCKET_TIMEOUT).build()), runPrefix);
                 Repository direct = new Repository(new S3BlobStore(s3.config().build()), runPrefix)) {
                proxy.random(seed, 0.07, 40, Duration.ofSeconds(60), List.of(
                        Fault.internalError(), Fault.serviceUnavailable(), Fault.slowDown(),
                        Fault.cutRequestAnywhere(), Fault.cutResponseAnywhere(), Fault.cutResponseAnywhere(),
                        Fault.stall(Duration.ofSeconds(2)), Fault.stallResponseAnywhere(Duration.ofSeconds(2))));
                Map<BackupId, Path> expected = new HashMap<>();
                Set<BackupId> failedButWritten = new HashSet<>();
                List<String> outcomes = new ArrayList<>();
                for (int op = 0; op < 6; op++) {
                    if (op > 0 && random.nextInt(3) == 0) {
                        outcomes.add(restoreThroughFaults(faulty, direct, expected));
                        continue;
                    }
                    if (op > 0) {
                        db.updateRandomPages("t", 1 + random.nextInt(5));
                        if (random.nextBoolean()) {
                            db.appendPages("u", 1);
                            db.rewriteIndex("u", false);
                        }
                    }
                    db.checkpoint();
                    Path state = copyOf(db.dir(), "state-" + op);
                    boolean full = op == 0 || random.nextInt(4) == 0;
                    Set<BackupId> before = new HashSet<>(BackupCatalog.load(direct).ids());
                    try {
                        BackupResult result = new BackupService(faulty).backup(db.dir(), options.withForceFull(full));
                        expected.put(result.manifest().backupId(), state);
                        outcomes.add((full ? "full" : "backup") + " ok (" + result.manifest().type() + ")");
                    } catch (IOException e) {
                        assertClear(e);
                        Set<BackupId> added = new HashSet<>(BackupCatalog.load(direct).ids());
                        added.removeAll(before);
                        // A failed backup adds nothing, unless the store wrote its manifest and whether it did
                        // could not be found out; then the backup must be whole, which the end checks.
                        assertTrue(added.isEmpty() || added.size() == 1 && e.getMessage().contains("is unknown"),
                                "a failed backup added " + added + ": " + e);
                        added.forEach(id -> {
                            expected.put(id, state);
                            failedButWritten.add(id);
                        });
                        outcomes.add((full ? "full" : "backup") + " failed: " + e.getMessage());
                    }
                }
                try {
                    VerifyReport report = new VerifyService(faulty).verify(Optional.empty(), dir.resolve("vtmp"),
                            (p, d, t) -> { });
                    for (String failure : report.failures()) {
                        // Through faults verify may be unable to read; it must not call a sound backup damaged.
                        assertFalse(failure.contains("damaged") || failure.contains("broken") || failure.contains("missing"),
                                "verify through faults reported " + failure);
                    }
                    outcomes.add("verify " + (report.ok() ? "ok" : "could not read: " + report.failures()));
                } catch (IOException e) {
                    assertClear(e);
                    outcomes.add("verify failed: " + e.getMessage());
                }
                proxy.clearFaults();

                String context = "\n" + String.join("\n", outcomes) + "\n" + proxy.describeInjected();
                List<BackupId> listed = BackupCatalog.load(direct).ids();
                for (BackupId id : expected.keySet()) {
                    assertTrue(listed.contains(id), "backup " + id + " vanished" + context);
                }
                for (BackupId id : listed) {
                    Path state = expected.get(id);
                    assertTrue(state != null, "backup " + id + " is listed but no operation made it" + context);
                    PowDbFixture.assertSameDatabase(state, restore(direct, new RestorePoint.ById(id), newTarget()), true);
                }
                VerifyReport report = new VerifyService(direct).verify(Optional.empty(), dir.resolve("vtmp"), (p, d, t) -> { });
                assertTrue(report.ok(), report.failures() + context);
                assertFalse(proxy.injected().isEmpty(), "no fault fired" + context);
                return "seed " + seed + ": " + proxy.requests() + " requests, " + proxy.injected().size() + " faults, "
                        + listed.size() + " backups (" + failedButWritten.size() + " reported failed but written); "
                        + outcomes;
            }
        }

        private String restoreThroughFaults(Repository faulty, Repository direct, Map<BackupId, Path> expected)
                throws IOException {
            List<BackupId> ids = BackupCatalog.load(direct).ids();
            RestorePoint point = ids.isEmpty() || random.nextBoolean() ? new RestorePoint.Latest()
                    : new RestorePoint.ById(ids.get(random.nextInt(ids.size())));
            Path target = newTarget();
            try {
                restore(faulty, point, target);
            } catch (IOException e) {
                assertClear(e);
                assertNoRestoreLeftovers(target);
                return "restore failed: " + e.getMessage();
            }
            BackupId restored = point instanceof RestorePoint.ById byId ? byId.id()
                    : BackupCatalog.load(direct).latest().orElseThrow();
            PowDbFixture.assertSameDatabase(expected.get(restored), target, true);
            return "restore ok";
        }

        private Path newTarget() throws IOException {
            return Files.createDirectories(dir.resolve("restores")).resolve("r" + (++targets));
        }

        private Path restore(Repository repo, RestorePoint point, Path target) throws IOException {
            new RestoreService(repo).restore(point, target,
                    new RestoreOptions(dir.resolve("rtmp"), (p, d, t) -> { }));
            return target;
        }

        private Path copyOf(Path data, String name) throws IOException {
            return PowDbFixture.copyDatabase(data, dir.resolve("snapshots").resolve(name));
        }

        /** A failure names the store it could not use, so the operator knows where to look. */
        private void assertClear(IOException e) {
            String message = e.getMessage();
            assertTrue(message != null && message.contains("s3://" + S3ProxyServer.BUCKET), "unclear error: " + e);
        }
    }
}
