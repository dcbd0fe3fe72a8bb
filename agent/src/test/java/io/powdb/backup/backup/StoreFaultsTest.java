package io.powdb.backup.backup;

import io.powdb.backup.repo.BackupCatalog;
import io.powdb.backup.repo.BackupId;
import io.powdb.backup.repo.FileEntry;
import io.powdb.backup.repo.IntegrityException;
import io.powdb.backup.repo.Manifest;
import io.powdb.backup.repo.ObjectRef;
import io.powdb.backup.repo.Repository;
import io.powdb.backup.repo.RepositoryException;
import io.powdb.backup.repo.RestorePoint;
import io.powdb.backup.restore.RestoreOptions;
import io.powdb.backup.restore.RestoreService;
import io.powdb.backup.retention.PrunePlan;
import io.powdb.backup.retention.PruneService;
import io.powdb.backup.retention.RetentionPolicy;
import io.powdb.backup.store.BlobInfo;
import io.powdb.backup.store.BlobStore;
import io.powdb.backup.store.BlobWriter;
import io.powdb.backup.store.ForwardingBlobStore;
import io.powdb.backup.store.WriteMode;
import io.powdb.backup.store.local.LocalBlobStore;
import io.powdb.backup.testing.TestTrees;
import io.powdb.backup.testing.BackupTestSupport;
import io.powdb.backup.testing.PowDbFixture;
import io.powdb.backup.verify.VerifyService;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Store faults injected at the {@code BlobStore} interface, on the local store (the network faults of S3 and
 * GCS, slow, dropped and erroring requests, are in {@link FaultyStoreTest}):
 *
 * <ul>
 *   <li>every single call of a backup, a restore and a prune failing in turn (an exhaustive sweep: whatever
 *       call fails, the operation fails clearly or succeeds, never half-publishes, and the repository stays
 *       whole);</li>
 *   <li>listings that lag behind writes and deletes (read-after-write staleness): a manifest written but not yet
 *       listed, a manifest deleted but still listed, data objects of a backup gone while its manifest is
 *       still there.</li>
 * </ul>
 */
class StoreFaultsTest extends BackupTestSupport {

    /**
     * The local store with a fault switchboard: fail the Nth call, leave keys out of listings (written, not yet
     * listed), and keep deleted keys in listings (deleted, still listed).
     */
    static final class FlakyStore extends ForwardingBlobStore {
        final AtomicInteger calls = new AtomicInteger();
        volatile int failAt = -1;
        final Set<String> unlisted = ConcurrentHashMap.newKeySet();
        final Map<String, BlobInfo> stillListed = new ConcurrentHashMap<>();
        /** Keys deleted under this prefix stay in listings (null: none). */
        volatile String keepDeletedUnder;

        FlakyStore(BlobStore delegate) {
            super(delegate);
        }

        private void call(String what, String key) throws IOException {
            int n = calls.incrementAndGet();
            if (n == failAt) {
                throw new IOException("injected failure of call " + n + " (" + what + " " + key + ") on " + location());
            }
        }

        @Override
        public BlobWriter newWriter(String key, WriteMode mode) throws IOException {
            call("write", key);
            BlobWriter writer = delegate.newWriter(key, mode);
            return new BlobWriter() {
                @Override
                public OutputStream stream() {
                    return writer.stream();
                }

                @Override
                public BlobInfo commit() throws IOException {
                    call("commit", key);
                    return writer.commit();
                }

                @Override
                public void close() {
                    writer.close();
                }
            };
        }

        @Override
        public InputStream open(String key) throws IOException {
            call("read", key);
            return delegate.open(key);
        }

        @Override
        public InputStream openRange(String key, long offset, long length) throws IOException {
            call("read", key);
            return delegate.openRange(key, offset, length);
        }

        @Override
        public Optional<BlobInfo> stat(String key) throws IOException {
            call("stat", key);
            return delegate.stat(key);
        }

        @Override
        public List<BlobInfo> list(String prefix, String startAfter, int limit) throws IOException {
            call("list", prefix);
            List<BlobInfo> listed = new ArrayList<>(delegate.list(prefix, startAfter, limit));
            listed.removeIf(info -> unlisted.contains(info.key()));
            for (BlobInfo ghost : stillListed.values()) {
                if (ghost.key().startsWith(prefix) && (startAfter == null || ghost.key().compareTo(startAfter) > 0)
                        && listed.stream().noneMatch(i -> i.key().equals(ghost.key()))) {
                    listed.add(ghost);
                }
            }
            listed.sort(Comparator.comparing(BlobInfo::key));
            return listed;
        }

        @Override
        public void delete(String key) throws IOException {
            call("delete", key);
            if (keepDeletedUnder != null && key.startsWith(keepDeletedUnder)) {
                delegate.stat(key).ifPresent(info -> stillListed.put(key, info));
            }
            delegate.delete(key);
        }
    }

    private FlakyStore store;

    private void useFlakyStore(Path repoDir) throws IOException {
        repository.close();
        store = new FlakyStore(new LocalBlobStore(repoDir));
        repository = new Repository(store, "");
    }

    private Repository direct(Path repoDir) throws IOException {
        return new Repository(new LocalBlobStore(repoDir), "");
    }

    private static List<String> keys(Path repoDir, String under) throws IOException {
        Path dir = repoDir.resolve(under);
        if (!Files.exists(dir)) {
            return List.of();
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            return walk.filter(Files::isRegularFile).map(p -> repoDir.relativize(p).toString()).sorted().toList();
        }
    }

    private void assertVerifies(Repository repo) throws IOException {
        var report = new VerifyService(repo).verify(Optional.empty(), tmp.resolve("vtmp"), (p, d, t) -> { });
        assertTrue(report.ok(), report.failures().toString());
    }

    private Path restoreFrom(Repository repo, RestorePoint point) throws IOException {
        Path target = newTarget();
        new RestoreService(repo).restore(point, target, new RestoreOptions(tmp.resolve("rtmp"), (p, d, t) -> { }));
        return target;
    }

    private void assertNoRestoreLeftovers(Path target) throws IOException {
        assertFalse(Files.exists(target), "nothing restored at " + target);
        try (Stream<Path> entries = Files.list(target.getParent())) {
            assertTrue(entries.noneMatch(p -> p.getFileName().toString().contains("powdb-restore")), "staging left");
        }
    }

    // ------------------------------------------------------------------------------------------------
    // Every call failing in turn.

    /**
     * An incremental backup with every one of its store calls failing in turn (a fresh repository each time):
     * either it fails, with the injected error in its message, adding no manifest and leaving no object of its
     * own behind (or, if the failing call was one of the deletes that clean up, a leftover that prune removes),
     * or it succeeds and restores byte for byte. The earlier backup always verifies and restores, and the next
     * backup succeeds.
     */
    @Test
    void anIncrementalBackupWithAnyOneStoreCallFailing() throws IOException {
        int calls = -1;
        int failures = 0;
        for (int n = 0; n == 0 || n <= calls; n++) { // n = 0: no fault, to count the calls
            Path dir = tmp.resolve("sweep-" + n);
            PowDbFixture source = PowDbFixture.create(dir.resolve("data"), PowDbFixture.Version.V0_5, 31);
            source.createTable("t", 12);
            source.createTable("u", 3);
            source.writeOptionalWholeFiles();
            source.checkpoint();
            Path repoDir = dir.resolve("repo");
            FlakyStore flaky = new FlakyStore(new LocalBlobStore(repoDir));
            BackupOptions options = BackupOptions.defaults().withTempDir(dir.resolve("tmp")).withRequireQuiescent(true);
            try (Repository repo = new Repository(flaky, ""); Repository direct = direct(repoDir)) {
                BackupId full = new BackupService(repo).backup(source.dir(), options).manifest().backupId();
                Path fullState = PowDbFixture.copyDatabase(source.dir(), dir.resolve("full-state"));
                source.updatePages("t", 2, 9);
                source.appendPages("u", 1);
                source.rewriteIndex("u", false);
                source.checkpoint();
                List<String> dataBefore = keys(repoDir, "data");

                flaky.calls.set(0);
                flaky.failAt = n == 0 ? -1 : n;
                try {
                    BackupResult result = new BackupService(repo).backup(source.dir(), options);
                    PowDbFixture.assertSameDatabase(source.dir(), restoreFrom(direct, new RestorePoint.ById(
                            result.manifest().backupId())), true);
                } catch (IOException e) {
                    failures++;
                    String all = e + " " + List.of(e.getSuppressed());
                    assertTrue(all.contains("injected failure of call " + n), "call " + n + ": unclear: " + all);
                    assertEquals(List.of(full), BackupCatalog.load(direct).ids(), "call " + n + " failed: " + e);
                    List<String> left = new ArrayList<>(keys(repoDir, "data"));
                    left.removeAll(dataBefore);
                    boolean deleteFailed = e.getSuppressed().length > 0 && all.contains("injected failure of call " + n
                            + " (delete");
                    assertTrue(left.isEmpty() || deleteFailed && left.size() == 1, "call " + n + " left " + left + ": " + all);
                    if (!left.isEmpty()) {
                        PrunePlan plan = PruneService.plan(direct, new RetentionPolicy(5, null, Duration.ZERO),
                                Clock.offset(Clock.systemUTC(), Duration.ofMinutes(1)));
                        assertTrue(new PruneService(direct).execute(plan).complete());
                        assertEquals(dataBefore, keys(repoDir, "data"), "prune removes the leftover");
                    }
                }
                if (n == 0) {
                    calls = flaky.calls.get();
                    assertTrue(calls > 15, calls + " calls");
                    continue;
                }
                flaky.failAt = -1;
                assertVerifies(direct);
                PowDbFixture.assertSameDatabase(fullState, restoreFrom(direct, new RestorePoint.ById(full)), true);
                new BackupService(repo).backup(source.dir(), options);
                PowDbFixture.assertSameDatabase(source.dir(), restoreFrom(direct, new RestorePoint.Latest()), true);
            }
        }
        assertEquals(calls, failures, "every call a backup makes is needed: its failure fails the backup");
        System.out.println("incremental backup: " + calls + " store calls, each failed in turn; " + failures
                + " failed the backup");
    }

    /** A restore with every one of its store calls failing in turn: a clear error, no target, no staging. */
    @Test
    void aRestoreWithAnyOneStoreCallFailing() throws IOException {
        useFlakyStore(tmp.resolve("repo"));
        db.createTable("t", 12);
        db.writeOptionalWholeFiles();
        backup();
        db.updatePages("t", 1, 5);
        db.rewriteIndex("t", false);
        backup();
        store.calls.set(0);
        PowDbFixture.assertSameDatabase(db.dir(), restore(new RestorePoint.Latest()), true);
        int calls = store.calls.get();
        for (int n = 1; n <= calls; n++) {
            store.calls.set(0);
            store.failAt = n;
            Path target = newTarget();
            IOException e = assertThrows(IOException.class, () -> restore(new RestorePoint.Latest(), target), "call " + n);
            assertTrue(e.getMessage().contains("injected failure of call " + n), "call " + n + ": " + e);
            assertFalse(e instanceof IntegrityException, "a store error is not damage: " + e);
            assertNoRestoreLeftovers(target);
        }
        store.failAt = -1;
        PowDbFixture.assertSameDatabase(db.dir(), restore(new RestorePoint.Latest()), true);
        System.out.println("restore: " + calls + " store calls, each failed in turn");
    }

    /**
     * A prune (plan and execution) with every one of its store calls failing in turn, on a fresh copy of one
     * repository each time: a failed plan deletes nothing; a failed execution says so and stops; either way every
     * backup still listed verifies, the kept chain restores, and the next prune ends where a prune without faults
     * ends.
     */
    @Test
    void aPruneWithAnyOneStoreCallFailing() throws IOException {
        db.createTable("t", 8);
        db.writeOptionalWholeFiles();
        fullBackup();
        db.updatePages("t", 1);
        backup();
        db.updatePages("t", 3);
        fullBackup();
        db.updatePages("t", 5);
        backup();
        Path template = tmp.resolve("repo");
        RetentionPolicy policy = new RetentionPolicy(1, null, Duration.ZERO);
        Clock later = Clock.offset(Clock.systemUTC(), Duration.ofMinutes(1));

        Path clean = TestTrees.copy(template, tmp.resolve("prune-clean"));
        FlakyStore counting = new FlakyStore(new LocalBlobStore(clean));
        try (Repository repo = new Repository(counting, "")) {
            assertTrue(new PruneService(repo).execute(PruneService.plan(repo, policy, later)).complete());
        }
        int calls = counting.calls.get();
        List<String> expected = keys(clean, "");
        for (int n = 1; n <= calls; n++) {
            Path dir = TestTrees.copy(template, tmp.resolve("prune-" + n));
            FlakyStore flaky = new FlakyStore(new LocalBlobStore(dir));
            flaky.failAt = n;
            try (Repository repo = new Repository(flaky, ""); Repository direct = direct(dir)) {
                List<String> before = keys(dir, "");
                try {
                    PrunePlan plan = PruneService.plan(repo, policy, later);
                    PruneService.Result result = new PruneService(repo).execute(plan);
                    assertFalse(result.complete(), "call " + n + " failed and the prune did not notice");
                    assertTrue(result.failure().contains("injected failure of call " + n)
                            && result.failure().contains("run prune again"), result.failure());
                } catch (IOException e) {
                    assertTrue(e.getMessage().contains("injected failure of call " + n), "call " + n + ": " + e);
                    assertEquals(before, keys(dir, ""), "a prune that could not plan deleted something");
                }
                assertVerifies(direct);
                PowDbFixture.assertSameDatabase(db.dir(), restoreFrom(direct, new RestorePoint.Latest()), true);
                assertTrue(new PruneService(direct).execute(PruneService.plan(direct, policy, later)).complete());
                assertEquals(expected, keys(dir, ""), "the next prune finishes the job (call " + n + ")");
            }
        }
        System.out.println("prune: " + calls + " store calls, each failed in turn");
    }

    // ------------------------------------------------------------------------------------------------
    // Listings that lag behind writes and deletes.

    @Test
    void aBackupWhileTheNewestManifestIsNotYetListedBuildsOnTheOneBeforeAndRestores() throws IOException {
        useFlakyStore(tmp.resolve("repo"));
        db.createTable("t", 10);
        backup();
        db.updatePages("t", 1);
        Manifest hidden = backup().manifest();
        store.unlisted.add(Repository.manifestKey(hidden.backupId()));
        db.updatePages("t", 4);
        Manifest next = backup().manifest();
        assertEquals(hidden.parent(), next.parent(), "built on the backup the listing showed");
        store.unlisted.clear();
        assertVerifies(repository);
        PowDbFixture.assertSameDatabase(db.dir(), restore(new RestorePoint.Latest()), true);
    }

    @Test
    void aBackupWhileADeletedManifestIsStillListedFailsClearlyAndPublishesNothing() throws IOException {
        useFlakyStore(tmp.resolve("repo"));
        db.createTable("t", 10);
        backup();
        db.updatePages("t", 1);
        Manifest gone = backup().manifest();
        store.keepDeletedUnder = "manifests/";
        repository.delete(Repository.manifestKey(gone.backupId()));
        db.updatePages("t", 4);
        RepositoryException e = assertThrows(RepositoryException.class, this::backup);
        assertTrue(e.getMessage().contains(gone.id()) && e.getMessage().contains("missing"), e.getMessage());
        assertEquals(1, keys(tmp.resolve("repo"), "manifests").size(), "nothing published");

        store.keepDeletedUnder = null;
        store.stillListed.clear(); // the listing catches up
        Manifest next = backup().manifest();
        PowDbFixture.assertSameDatabase(db.dir(), restore(new RestorePoint.ById(next.backupId())), true);
    }

    /** Regression: an incremental used to name the objects of its base without checking they were still there. */
    @Test
    void anIncrementalNeverNamesAnObjectOfAnEarlierBackupThatIsGone() throws IOException {
        db.createTable("t", 10);
        db.writeOptionalWholeFiles();
        Manifest base = backup().manifest();
        FileEntry views = BackupRestoreRoundTripTest.entry(base, "views.bin"); // unchanged below: reused
        ObjectRef image = BackupRestoreRoundTripTest.entry(base, "t.heap").sources().get(0);
        repository.delete(views.object().key());
        repository.delete(image.key());
        db.updatePages("t", 3);

        IntegrityException e = assertThrows(IntegrityException.class, this::backup);
        assertTrue(e.getMessage().contains(views.object().key()) && e.getMessage().contains(image.key())
                && e.getMessage().contains("--full"), e.getMessage());
        assertEquals(List.of(base.backupId()), BackupCatalog.load(repository).ids(), "nothing published");
        assertTrue(keys(tmp.resolve("repo"), "data").stream().noneMatch(k -> !k.startsWith(
                Repository.dataPrefix(base.backupId()))), "the failed backup's own uploads are removed");

        Manifest full = fullBackup().manifest();
        PowDbFixture.assertSameDatabase(db.dir(), restore(new RestorePoint.ById(full.backupId())), true);
    }

    /**
     * A prune that does not yet see the newest manifest treats its backup's own objects as leftovers of a backup
     * in progress: the grace period keeps them, and what it names of earlier backups is kept because the backup it
     * builds on is the newest the prune sees. (With a grace period shorter than the store's listing delay they
     * would go: the grace period must cover it; 24 hours by default.)
     */
    @Test
    void aPruneThatDoesNotYetListTheNewestManifestDeletesNothingItNeeds() throws IOException {
        useFlakyStore(tmp.resolve("repo"));
        db.createTable("t", 10);
        db.writeOptionalWholeFiles();
        fullBackup();
        db.updatePages("t", 2);
        backup();
        db.updatePages("t", 5);
        fullBackup();
        db.updatePages("t", 7);
        backup();
        db.updatePages("t", 8);
        Manifest hidden = backup().manifest();
        store.unlisted.add(Repository.manifestKey(hidden.backupId()));

        PrunePlan plan = PruneService.plan(repository, new RetentionPolicy(1, null), Clock.systemUTC());
        assertEquals(2, plan.manifests().size(), "the older chain goes: " + plan.manifests());
        assertTrue(new PruneService(repository).execute(plan).complete());
        store.unlisted.clear();
        assertVerifies(repository);
        PowDbFixture.assertSameDatabase(db.dir(), restore(new RestorePoint.ById(hidden.backupId())), true);
    }

    @Test
    void aPruneThatStillListsADeletedManifestDeletesNothingAndSaysWhy() throws IOException {
        useFlakyStore(tmp.resolve("repo"));
        db.createTable("t", 10);
        fullBackup();
        db.updatePages("t", 2);
        Manifest gone = backup().manifest();
        fullBackup();
        store.keepDeletedUnder = "manifests/";
        repository.delete(Repository.manifestKey(gone.backupId()));
        List<String> before = keys(tmp.resolve("repo"), "");

        RepositoryException e = assertThrows(RepositoryException.class,
                () -> PruneService.plan(repository, new RetentionPolicy(1, null), Clock.systemUTC()));
        assertTrue(e.getMessage().contains(gone.id()) && e.getMessage().contains("nothing"), e.getMessage());
        assertEquals(before, keys(tmp.resolve("repo"), ""));

        store.keepDeletedUnder = null;
        store.stillListed.clear(); // the listing catches up
        PrunePlan plan = PruneService.plan(repository, new RetentionPolicy(1, null, Duration.ZERO),
                Clock.offset(Clock.systemUTC(), Duration.ofMinutes(1)));
        assertTrue(new PruneService(repository).execute(plan).complete());
        assertVerifies(repository);
        PowDbFixture.assertSameDatabase(db.dir(), restore(new RestorePoint.Latest()), true);
    }

    @Test
    void aPruneWhoseListingStillShowsDeletedDataObjectsFinishes() throws IOException {
        useFlakyStore(tmp.resolve("repo"));
        db.createTable("t", 10);
        fullBackup();
        db.updatePages("t", 2);
        backup();
        fullBackup();
        store.keepDeletedUnder = "data/";
        PrunePlan first = PruneService.plan(repository, new RetentionPolicy(1, null), Clock.systemUTC());
        assertTrue(new PruneService(repository).execute(first).complete());
        // The listing still shows what was just deleted: planning again deletes it again, harmlessly.
        PrunePlan again = PruneService.plan(repository, new RetentionPolicy(1, null), Clock.systemUTC());
        assertTrue(new PruneService(repository).execute(again).complete(), again.toString());
        store.keepDeletedUnder = null;
        store.stillListed.clear();
        assertVerifies(repository);
        PowDbFixture.assertSameDatabase(db.dir(), restore(new RestorePoint.Latest()), true);
    }
}
