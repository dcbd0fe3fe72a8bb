package io.powdb.backup.retention;

import io.powdb.backup.archive.WalArchive;
import io.powdb.backup.archive.WalSegment;
import io.powdb.backup.archive.WalShipper;
import io.powdb.backup.backup.BackupService;
import io.powdb.backup.progress.ProgressListener;
import io.powdb.backup.repo.BackupId;
import io.powdb.backup.repo.FileEntry;
import io.powdb.backup.repo.IntegrityException;
import io.powdb.backup.repo.Manifest;
import io.powdb.backup.repo.ObjectRef;
import io.powdb.backup.repo.Repository;
import io.powdb.backup.repo.RepositoryException;
import io.powdb.backup.repo.RestorePoint;
import io.powdb.backup.retention.PrunePlan.Deletion;
import io.powdb.backup.retention.PrunePlan.Rule;
import io.powdb.backup.store.BlobInfo;
import io.powdb.backup.store.BlobStore;
import io.powdb.backup.store.ForwardingBlobStore;
import io.powdb.backup.store.BlobWriter;
import io.powdb.backup.store.WriteMode;
import io.powdb.backup.testing.BackupTestSupport;
import io.powdb.backup.testing.MutableClock;
import io.powdb.backup.testing.PowDbFixture;
import io.powdb.backup.testing.WalRecord;
import io.powdb.backup.verify.VerifyReport;
import io.powdb.backup.verify.VerifyService;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Retention with the real backup, shipping and restore code: what a prune keeps still restores byte for byte
 * (and to every shipped commit after the oldest kept backup), what it deletes is exactly what no kept backup
 * needs, and an interrupted prune leaves a consistent repository that the next prune finishes.
 */
class PruneServiceTest extends BackupTestSupport {
    private static final Duration MONTH = Duration.ofDays(30);

    /** A backup and the database as it was when it was taken. */
    private record Taken(Manifest manifest, Path state) {
        BackupId id() {
            return manifest.backupId();
        }
    }

    /** Delegates to a store, and fails every delete after the first {@code deletesAllowed}. */
    private static final class FailingStore extends ForwardingBlobStore {
        private final AtomicInteger deletesLeft;

        FailingStore(BlobStore delegate, int deletesAllowed) {
            super(delegate);
            this.deletesLeft = new AtomicInteger(deletesAllowed);
        }

        @Override
        public void delete(String key) throws IOException {
            if (deletesLeft.getAndDecrement() <= 0) {
                throw new IOException("injected failure deleting " + key);
            }
            delegate.delete(key);
        }
    }

    @BeforeEach
    void writeTables() throws IOException {
        createTables();
    }

    // ---------------------------------------------------------------- helpers

    private static Clock at(Instant time) {
        return Clock.fixed(time, ZoneOffset.UTC);
    }

    private static Clock inAMonth() {
        return at(Instant.now().plus(MONTH));
    }

    private Taken take(Manifest manifest) throws IOException {
        return new Taken(manifest, snapshot(manifest.id()));
    }

    /** {@code count} chains of a full backup and two incrementals, each after a few transactions, oldest first. */
    private List<List<Taken>> chains(int count) throws IOException {
        List<List<Taken>> chains = new ArrayList<>();
        for (int c = 0; c < count; c++) {
            List<Taken> chain = new ArrayList<>();
            transactions(2);
            chain.add(take(fullBackup().manifest()));
            for (int i = 0; i < 2; i++) {
                transactions(1 + i);
                chain.add(take(backup().manifest()));
            }
            chains.add(chain);
        }
        return chains;
    }

    /** A quiescent backup taken at {@code time}. */
    private Taken backupAt(Instant time, boolean full) throws IOException {
        db.checkpoint();
        return take(new BackupService(repository).backup(db.dir(), options().withClock(at(time)).withForceFull(full))
                .manifest());
    }

    /** A backup of the running database (its WAL holds records): crash-consistent. */
    private Manifest liveBackup(Clock clock, boolean full) throws IOException {
        return new BackupService(repository).backup(db.dir(), options().withClock(clock).withForceFull(full)).manifest();
    }

    /** Every key in the store, with its size. */
    private Map<String, Long> listing() throws IOException {
        Map<String, Long> all = new TreeMap<>();
        for (BlobInfo info : repository.store().listAll("")) {
            all.put(info.key(), info.size());
        }
        return all;
    }

    private static Set<String> keys(List<Deletion> deletions) {
        return deletions.stream().map(Deletion::key).collect(Collectors.toCollection(TreeSet::new));
    }

    /** The listing less what a plan deletes. */
    private static Map<String, Long> without(Map<String, Long> listing, PrunePlan plan) {
        Map<String, Long> left = new TreeMap<>(listing);
        for (Deletion d : plan.deletions()) {
            assertEquals(listing.get(d.key()), d.size(), "size of " + d.key());
            left.remove(d.key());
        }
        return left;
    }

    private static Set<BackupId> ids(List<Taken> taken) {
        return taken.stream().map(Taken::id).collect(Collectors.toCollection(TreeSet::new));
    }

    private static Set<String> referencedBy(Manifest m) {
        Set<String> keys = new HashSet<>();
        for (FileEntry f : m.files()) {
            for (ObjectRef ref : f.objects()) {
                keys.add(ref.key());
            }
        }
        return keys;
    }

    private void assertRestoresByteExact(Taken backup) throws IOException {
        Path target = restore(new RestorePoint.ById(backup.id()));
        PowDbFixture.assertSameDatabase(backup.state(), target);
    }

    private void assertRestoresToCommit(Path initial, List<WalRecord> records, long lsn) throws IOException {
        Path target = newTarget();
        restore(new RestorePoint.AtOrBeforeLsn(lsn), target);
        PowDbFixture.assertSameDatabase(stateAtCommit(initial, records, lsn, "expected-" + lsn),
                recovered(target, "actual-" + lsn), true);
    }

    private void assertAllBackupsVerify() throws IOException {
        VerifyReport report = new VerifyService(repository).verify(Optional.empty(), tmp.resolve("verify"),
                ProgressListener.NONE);
        assertTrue(report.ok(), report.failures().toString());
    }

    private Map<BackupId, List<Rule>> rules(PrunePlan plan) {
        Map<BackupId, List<Rule>> rules = new LinkedHashMap<>();
        plan.kept().forEach(k -> rules.put(k.id(), k.rules()));
        return rules;
    }

    private static Set<BackupId> keptIds(PrunePlan plan) {
        return new TreeSet<>(plan.keptIds());
    }

    // ---------------------------------------------------------------- policy

    @Test
    void aPolicyThatKeepsNothingIsRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new RetentionPolicy(0, null));
        assertTrue(e.getMessage().contains("keeps nothing"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new RetentionPolicy(0, Duration.ZERO, Duration.ofHours(1)));
        assertThrows(IllegalArgumentException.class, () -> new RetentionPolicy(-1, Duration.ofDays(1)));
        assertThrows(IllegalArgumentException.class, () -> new RetentionPolicy(1, Duration.ofDays(-1)));
        assertThrows(IllegalArgumentException.class, () -> new RetentionPolicy(1, null, Duration.ofHours(-1)));
        RetentionPolicy p = new RetentionPolicy(3, null);
        assertEquals(Duration.ofHours(24), p.grace());
        assertEquals(Duration.ZERO, p.keepWithin());
        assertTrue(p.hasCountRule());
        assertFalse(p.hasTimeRule());
    }

    // ---------------------------------------------------------------- keep-full

    @Test
    void keepFullTwoOverFourChainsDeletesTheTwoOldestAndEveryKeptBackupRestoresByteExact() throws IOException {
        List<List<Taken>> chains = chains(4);
        List<Taken> deleted = new ArrayList<>(chains.get(0));
        deleted.addAll(chains.get(1));
        List<Taken> kept = new ArrayList<>(chains.get(2));
        kept.addAll(chains.get(3));
        Map<String, Long> before = listing();

        PrunePlan plan = PruneService.plan(repository, new RetentionPolicy(2, null), inAMonth());
        assertEquals(before, listing(), "planning deletes nothing");
        assertEquals(ids(kept), keptIds(plan));
        assertEquals(ids(deleted), new TreeSet<>(plan.deletedBackups()));
        Taken newest = chains.get(3).get(2);
        assertEquals(List.of(Rule.NEWEST, Rule.KEEP_FULL), rules(plan).get(newest.id()));
        assertEquals(List.of(Rule.KEEP_FULL), rules(plan).get(chains.get(2).get(0).id()));
        assertEquals(newest.id(), plan.kept().get(0).id(), "kept backups are listed newest first");
        // Manifests go newest first: an incremental before the backup it builds on.
        List<String> order = plan.manifests().stream().map(Deletion::key).toList();
        for (List<Taken> chain : chains.subList(0, 2)) {
            for (int i = 1; i < chain.size(); i++) {
                assertTrue(order.indexOf(Repository.manifestKey(chain.get(i).id()))
                        < order.indexOf(Repository.manifestKey(chain.get(i - 1).id())), order.toString());
            }
        }
        // Every data object of the deleted backups, and nothing else.
        Set<String> expectedData = new TreeSet<>();
        for (Taken t : deleted) {
            before.keySet().stream().filter(k -> k.startsWith(Repository.dataPrefix(t.id()))).forEach(expectedData::add);
        }
        assertFalse(expectedData.isEmpty());
        assertEquals(expectedData, keys(plan.dataObjects()));
        assertTrue(plan.walSegments().isEmpty() && plan.heartbeats().isEmpty());
        // Kept incrementals name objects stored by the full backup of their chain: those stay.
        Set<String> sharedWithFull = referencedBy(chains.get(2).get(2).manifest());
        sharedWithFull.removeIf(k -> !k.startsWith(Repository.dataPrefix(chains.get(2).get(0).id())));
        assertFalse(sharedWithFull.isEmpty(), "the newest incremental of a kept chain names objects of its full backup");

        PruneService.Result result = new PruneService(repository).execute(plan);
        assertTrue(result.complete(), result.failure());
        assertEquals(plan.objectCount(), result.objectsDeleted());
        assertEquals(6, result.manifestsDeleted());
        assertEquals(plan.totalBytes(), result.bytesDeleted());
        assertEquals(without(before, plan), listing());
        assertTrue(listing().keySet().containsAll(sharedWithFull));
        assertEquals(ids(kept), new TreeSet<>(repository.backupIds()));

        for (Taken t : kept) {
            assertRestoresByteExact(t);
        }
        assertThrows(RepositoryException.class, () -> restore(new RestorePoint.ById(deleted.get(0).id())));
        assertAllBackupsVerify();
        assertTrue(PruneService.plan(repository, new RetentionPolicy(2, null), inAMonth()).isEmpty(),
                "a second prune finds nothing to do");
    }

    // ---------------------------------------------------------------- keep-within

    @Test
    void keepWithinKeepsTheChainOfTheNewestBackupBeforeTheWindowAndEveryLaterBackup() throws IOException {
        Instant t0 = Instant.now().minus(Duration.ofDays(20)).truncatedTo(ChronoUnit.MILLIS);
        Duration day = Duration.ofDays(1);
        transactions(1);
        Taken aFull = backupAt(t0, true);
        transactions(1);
        Taken aInc = backupAt(t0.plus(day), false);
        transactions(1);
        Taken bFull = backupAt(t0.plus(day.multipliedBy(2)), true);
        transactions(2);
        Taken bInc1 = backupAt(t0.plus(day.multipliedBy(3)), false);
        transactions(2);
        Taken bInc2 = backupAt(t0.plus(day.multipliedBy(4)), false);
        transactions(1);
        Taken cFull = backupAt(t0.plus(day.multipliedBy(5)), true);
        transactions(3);
        Taken cInc = backupAt(t0.plus(day.multipliedBy(6)), false);
        Duration window = Duration.ofDays(4);

        // The window starts exactly when bInc1 was taken: "at or before" includes it; its chain comes along.
        PrunePlan plan = PruneService.plan(repository, new RetentionPolicy(0, window), at(bInc1.id().created().plus(window)));
        assertEquals(ids(List.of(bFull, bInc1, bInc2, cFull, cInc)), keptIds(plan));
        assertEquals(ids(List.of(aFull, aInc)), new TreeSet<>(plan.deletedBackups()));
        Map<BackupId, List<Rule>> rules = rules(plan);
        assertEquals(List.of(Rule.ANCESTOR), rules.get(bFull.id()));
        assertEquals(List.of(Rule.KEEP_WITHIN), rules.get(bInc1.id()));
        assertEquals(List.of(Rule.NEWEST, Rule.KEEP_WITHIN), rules.get(cInc.id()));

        // A millisecond earlier, bFull is the newest backup at or before the window's start.
        PrunePlan earlier = PruneService.plan(repository, new RetentionPolicy(0, window),
                at(bInc1.id().created().plus(window).minusMillis(1)));
        assertEquals(keptIds(plan), keptIds(earlier));
        assertEquals(List.of(Rule.KEEP_WITHIN), rules(earlier).get(bFull.id()));

        // After bInc2: bInc1 is kept only because bInc2 builds on it.
        PrunePlan later = PruneService.plan(repository, new RetentionPolicy(0, window),
                at(bInc2.id().created().plus(window).plusSeconds(3600)));
        assertEquals(keptIds(plan), keptIds(later));
        assertEquals(List.of(Rule.ANCESTOR), rules(later).get(bInc1.id()));

        // After the newest full: only its chain; with keep-full 1 alongside, the union (the same chain).
        PrunePlan onlyC = PruneService.plan(repository, new RetentionPolicy(0, window),
                at(cFull.id().created().plus(window).plusSeconds(1)));
        assertEquals(ids(List.of(cFull, cInc)), keptIds(onlyC));
        PrunePlan union = PruneService.plan(repository, new RetentionPolicy(1, window), at(bInc1.id().created().plus(window)));
        assertEquals(keptIds(plan), keptIds(union));
        assertEquals(List.of(Rule.KEEP_FULL, Rule.KEEP_WITHIN), rules(union).get(cFull.id()));
        PrunePlan everything = PruneService.plan(repository, new RetentionPolicy(3, Duration.ofMinutes(1)), inAMonth());
        assertTrue(everything.isEmpty(), everything.summary());
        // A window after every backup still keeps the newest backup (the newest at or before its start).
        PrunePlan tiny = PruneService.plan(repository, new RetentionPolicy(0, Duration.ofMinutes(1)), inAMonth());
        assertEquals(ids(List.of(cFull, cInc)), keptIds(tiny));

        Map<String, Long> before = listing();
        PruneService.Result result = new PruneService(repository).execute(plan);
        assertTrue(result.complete(), result.failure());
        assertEquals(without(before, plan), listing());
        for (Taken t : List.of(bFull, bInc1, bInc2, cFull, cInc)) {
            assertRestoresByteExact(t);
        }
        assertTrue(listing().keySet().stream().noneMatch(k -> k.startsWith(Repository.dataPrefix(aFull.id()))
                || k.startsWith(Repository.dataPrefix(aInc.id()))));
    }

    @Test
    void theNewestBackupIsAlwaysKeptWithItsChainWhateverTheRules() throws IOException {
        Instant t0 = Instant.now().minus(Duration.ofDays(10)).truncatedTo(ChronoUnit.MILLIS);
        Taken zFull = backupAt(t0.minus(Duration.ofDays(1)), true);
        transactions(1);
        Taken aFull = backupAt(t0, true);
        transactions(1);
        // Taken by a host whose clock is ahead: the newest backup, in the older chain.
        Taken aInc = backupAt(t0.plus(Duration.ofDays(5)), false);
        assertEquals(aFull.manifest().id(), aInc.manifest().parent());
        transactions(1);
        Taken bFull = backupAt(t0.plus(Duration.ofDays(1)), true);

        PrunePlan plan = PruneService.plan(repository, new RetentionPolicy(1, null), inAMonth());
        Map<BackupId, List<Rule>> rules = rules(plan);
        assertEquals(ids(List.of(aFull, aInc, bFull)), keptIds(plan));
        assertEquals(List.of(Rule.NEWEST), rules.get(aInc.id()));
        assertEquals(List.of(Rule.ANCESTOR), rules.get(aFull.id()));
        assertEquals(List.of(Rule.KEEP_FULL), rules.get(bFull.id()));
        assertEquals(List.of(zFull.id()), plan.deletedBackups());
        assertTrue(new PruneService(repository).execute(plan).complete());
        assertRestoresByteExact(aInc);
        assertRestoresByteExact(bFull);
    }

    // ---------------------------------------------------------------- shared objects, leftovers, unknown keys

    @Test
    void objectsOfABackupWhoseManifestIsGoneSurviveWhileAKeptIncrementalNamesThem() throws IOException {
        transactions(1);
        Taken full = take(fullBackup().manifest());
        db.updatePages("a", 1, 2, 3);
        Taken inc1 = take(backup().manifest());
        db.updatePages("b", 4);
        Taken inc2 = take(backup().manifest());
        // The manifest of the middle backup is lost (deleted by hand): a broken chain, which prune reports.
        String inc1Manifest = Repository.manifestKey(inc1.id());
        byte[] saved = repository.store().readAllBytes(repository.key(inc1Manifest), 1 << 20);
        repository.delete(inc1Manifest);

        PrunePlan plan = PruneService.plan(repository, new RetentionPolicy(1, null), inAMonth());
        assertEquals(ids(List.of(full, inc2)), keptIds(plan));
        assertTrue(plan.warnings().stream().anyMatch(w -> w.contains(inc1.id().toString()) && w.contains("missing")),
                plan.warnings().toString());
        // The middle backup's session is a leftover now, old enough to go, but inc2 names some of its objects.
        String session = Repository.dataPrefix(inc1.id());
        Set<String> leftover = listing().keySet().stream().filter(k -> k.startsWith(session))
                .collect(Collectors.toCollection(TreeSet::new));
        Set<String> named = new TreeSet<>(leftover);
        named.retainAll(referencedBy(inc2.manifest()));
        assertFalse(named.isEmpty(), "inc2 names the page pack inc1 stored for table a");
        Set<String> expected = new TreeSet<>(leftover);
        expected.removeAll(named);
        assertEquals(expected, keys(plan.dataObjects()));

        assertTrue(new PruneService(repository).execute(plan).complete());
        assertTrue(listing().keySet().containsAll(named));
        // With the manifest put back, the chain is whole again and the kept incremental restores.
        repository.store().putBytes(repository.key(inc1Manifest), saved, WriteMode.CREATE_NEW);
        assertRestoresByteExact(inc2);
        assertRestoresByteExact(full);
    }

    @Test
    void leftoverSessionsAreDeletedOnlyAfterTheGracePeriodAndUnknownKeysNever() throws IOException {
        Taken backup = take(fullBackup().manifest());
        Instant now = Instant.now().truncatedTo(ChronoUnit.MILLIS);
        String old = new BackupId(0, now.minus(Duration.ofDays(3)), "a0b1c2").session();
        String young = BackupId.create(0, now.minus(Duration.ofHours(1))).session();
        String ahead = BackupId.create(0, now.plus(Duration.ofMinutes(10))).session(); // a host whose clock is ahead
        byte[] bytes = "leftover".getBytes(StandardCharsets.UTF_8);
        for (String s : List.of(old, young, ahead)) {
            for (String name : List.of("files/catalog.bin", "heaps/a.heap.pages", "maps/a.heap.map")) {
                repository.store().putBytes(repository.key("data/" + s + "/" + name), bytes, WriteMode.CREATE_NEW);
            }
        }
        List<String> unknown = List.of("data/README.txt", "data/" + old + "/notes/x", "data/20261301T000000000Z-abcdef/files/x",
                "data/" + old.toUpperCase() + "/files/x", "wal/README", "wal/" + old + "/00000001/junk.seg",
                "wal/" + old + "/heartbeat.json.bak", "manifests/notes.txt", "manifests/00000000000000000001.json",
                "other/thing", "lease.json");
        for (String key : unknown) {
            repository.store().putBytes(repository.key(key), bytes, WriteMode.CREATE_NEW);
        }
        Map<String, Long> before = listing();
        RetentionPolicy policy = new RetentionPolicy(1, null, Duration.ofHours(24));

        PrunePlan plan = PruneService.plan(repository, policy, at(now));
        assertEquals(Set.of("data/" + old + "/files/catalog.bin", "data/" + old + "/heaps/a.heap.pages",
                "data/" + old + "/maps/a.heap.map"), keys(plan.dataObjects()));
        assertTrue(plan.manifests().isEmpty());
        long ours = unknown.stream().filter(k -> k.startsWith("data/") || k.startsWith("wal/") || k.startsWith("manifests/"))
                .count();
        assertTrue(plan.warnings().stream().anyMatch(w -> w.startsWith(ours + " objects")), plan.warnings().toString());
        assertEquals(before, listing(), "planning deletes nothing");
        // Two hours on, the young session is three hours old: still kept.
        assertEquals(keys(plan.dataObjects()), keys(PruneService.plan(repository, policy, at(now.plus(Duration.ofHours(2))))
                .dataObjects()));
        // A shorter grace lets the young one go; the one from a clock ahead is 10 minutes younger than now: kept.
        Set<String> shortGrace = keys(PruneService.plan(repository, new RetentionPolicy(1, null, Duration.ofMinutes(30)),
                at(now)).dataObjects());
        assertEquals(6, shortGrace.size());
        assertTrue(shortGrace.stream().noneMatch(k -> k.contains(ahead)));

        assertTrue(new PruneService(repository).execute(plan).complete());
        assertEquals(without(before, plan), listing());
        assertRestoresByteExact(backup);

        // A year on, every leftover is old enough, and still no unknown key is touched.
        PrunePlan yearOn = PruneService.plan(repository, policy, at(now.plus(Duration.ofDays(365))));
        assertEquals(6, yearOn.dataObjects().size());
        assertTrue(new PruneService(repository).execute(yearOn).complete());
        Map<String, Long> after = listing();
        for (String key : unknown) {
            assertTrue(after.containsKey(repository.key(key)), key);
        }
        assertTrue(after.keySet().stream().noneMatch(k -> k.contains(young) || k.contains(ahead)));
        assertRestoresByteExact(backup);
    }

    @Test
    void anUnreadableManifestStopsThePlanAndNothingIsDeleted() throws IOException {
        transactions(1);
        fullBackup();
        transactions(1);
        fullBackup();
        BackupId bogus = BackupId.create(1, Instant.now().minus(Duration.ofDays(90)));
        repository.store().putBytes(repository.key(Repository.manifestKey(bogus)), "{\"format\":\"x\"}".getBytes(
                StandardCharsets.UTF_8), WriteMode.CREATE_NEW);
        Map<String, Long> before = listing();
        IntegrityException e = assertThrows(IntegrityException.class,
                () -> PruneService.plan(repository, new RetentionPolicy(1, null), inAMonth()));
        assertTrue(e.getMessage().contains(bogus.toString()) && e.getMessage().contains("deletes nothing"), e.getMessage());
        assertEquals(before, listing());
    }

    // ---------------------------------------------------------------- interrupted and repeated prunes

    @Test
    void anInterruptedPruneLeavesEveryBackupRestorableAndTheNextPruneFinishes() throws IOException {
        List<List<Taken>> chains = chains(3);
        String leftover = "data/" + BackupId.create(0, Instant.now().minus(Duration.ofDays(2))).session() + "/files/x";
        repository.store().putBytes(repository.key(leftover), new byte[] {1, 2, 3}, WriteMode.CREATE_NEW);
        RetentionPolicy policy = new RetentionPolicy(1, null);
        Clock clock = inAMonth();
        Map<String, Long> before = listing();
        PrunePlan original = PruneService.plan(repository, policy, clock);
        assertEquals(6, original.manifests().size());
        Map<String, Long> expected = without(before, original);
        assertTrue(keys(original.dataObjects()).contains(leftover));

        // Stop after 1 delete (manifests half done), after the last manifest, and in the middle of the data.
        PrunePlan current = original;
        for (int allowed : new int[] {1, 5, 3}) {
            Repository failing = new Repository(new FailingStore(repository.store(), allowed), "");
            PruneService.Result result = new PruneService().execute(failing, current);
            assertFalse(result.complete());
            assertEquals(allowed, result.objectsDeleted());
            assertTrue(result.failure().contains("injected failure") && result.failure().contains("run prune again"),
                    result.failure());
            assertAllBackupsVerify(); // whatever manifests are left describe whole backups
            for (Taken t : chains.get(2)) {
                assertTrue(repository.backupIds().contains(t.id()));
            }
            current = PruneService.plan(repository, policy, clock); // what the next prune sees
            assertEquals(keptIds(original), keptIds(current));
        }
        PruneService.Result rest = new PruneService(repository).execute(current);
        assertTrue(rest.complete(), rest.failure());
        assertEquals(expected, listing());
        assertTrue(PruneService.plan(repository, policy, clock).isEmpty());
        // Executing the original plan again does nothing more: deletes are idempotent.
        assertTrue(new PruneService(repository).execute(original).complete());
        assertEquals(expected, listing());
        for (Taken t : chains.get(2)) {
            assertRestoresByteExact(t);
        }
    }

    @Test
    void aPlanIsExecutedOnlyOnItsOwnRepository() throws IOException {
        fullBackup();
        PrunePlan plan = PruneService.plan(repository, new RetentionPolicy(1, null), inAMonth());
        try (Repository other = new Repository(new io.powdb.backup.store.local.LocalBlobStore(tmp.resolve("other")), "")) {
            assertThrows(IllegalArgumentException.class, () -> new PruneService(other).execute(plan));
        }
    }

    // ---------------------------------------------------------------- shipped WAL

    @Test
    void walBeforeTheOldestKeptBackupIsDeletedAndPointInTimeRestoresAfterItStillWork() throws IOException {
        MutableClock clock = new MutableClock(Instant.now().truncatedTo(ChronoUnit.MILLIS));
        Path initial = snapshot("initial");
        WalShipper shipper = new WalShipper(repository, db.dir(), tmp.resolve("ship"), clock, 1 << 20);
        List<Manifest> fulls = new ArrayList<>();
        List<Long> chainZeroCommits = new ArrayList<>();
        String otherTimeline = null;
        for (int c = 0; c < 3; c++) {
            clock.advance(Duration.ofHours(1));
            transactions(2);
            shipper.shipOnce();
            Manifest full = liveBackup(clock, true);
            assertEquals(Manifest.CRASH_CONSISTENT, full.consistency());
            assertNotNull(full.walAnchor());
            fulls.add(full);
            if (c == 0) {
                // Another shipper: a timeline of its own, all of it shipped before the oldest kept backup.
                try (WalShipper other = new WalShipper(repository, db.dir(), tmp.resolve("ship2"), clock, 1 << 20)) {
                    assertEquals(1, other.shipOnce().segments());
                    other.poll();
                    other.writeHeartbeat();
                    otherTimeline = other.timeline();
                }
            }
            transactions(2);
            shipper.shipOnce();
            clock.advance(Duration.ofMinutes(10));
            Manifest inc = liveBackup(clock, false);
            assertEquals(Manifest.INCREMENTAL, inc.type());
            transactions(2);
            shipper.shipOnce();
            if (c == 0) {
                chainZeroCommits.addAll(commits(db.walRecords()));
            }
            checkpoint();
            assertTrue(shipper.shipOnce().breaks().isEmpty()); // sees the generation end
        }
        clock.advance(Duration.ofHours(1));
        transactions(2);
        shipper.shipOnce();
        shipper.poll();
        shipper.writeHeartbeat();
        String mainTimeline = shipper.timeline();
        shipper.close();
        assertNotNull(otherTimeline);
        String otherId = otherTimeline;
        assertTrue(repository.store().stat(repository.key("wal/" + otherTimeline + "/heartbeat.json")).isPresent());
        assertTrue(repository.store().stat(repository.key("wal/" + mainTimeline + "/heartbeat.json")).isPresent());
        WalArchive archived = WalArchive.load(repository);
        assertEquals(2, archived.timelines().size());
        WalArchive.Timeline main = archived.timelines().stream().filter(t -> t.id().equals(mainTimeline)).findFirst()
                .orElseThrow();
        assertEquals(List.of(1, 2, 3, 4), main.generations().stream().map(WalArchive.Generation::number).toList());

        Map<String, Long> before = listing();
        PrunePlan plan = PruneService.plan(repository, new RetentionPolicy(2, null), at(clock.instant().plus(MONTH)));
        assertEquals(before, listing(), "planning deletes nothing");
        Manifest oldestKept = fulls.get(1);
        assertEquals(oldestKept.createdAt().minus(PruneService.CLOCK_SKEW_MARGIN), plan.walKeptFrom());
        Set<String> expectedWal = new TreeSet<>();
        main.generations().get(0).segments().forEach(s -> expectedWal.add(s.key()));
        before.keySet().stream().filter(k -> k.startsWith("wal/" + otherId + "/") && k.endsWith(".seg"))
                .forEach(expectedWal::add);
        assertEquals(expectedWal, keys(plan.walSegments()));
        assertEquals(List.of("wal/" + otherTimeline + "/heartbeat.json"), plan.heartbeats().stream().map(Deletion::key).toList());
        assertEquals(2, plan.deletedBackups().size());
        // WAL goes oldest first, in key order (timeline, generation, offset).
        List<String> walOrder = plan.walSegments().stream().map(Deletion::key).toList();
        assertEquals(walOrder.stream().sorted().toList(), walOrder);

        PruneService.Result result = new PruneService(repository).execute(plan);
        assertTrue(result.complete(), result.failure());
        assertEquals(expectedWal.size(), result.walSegmentsDeleted());
        assertEquals(1, result.heartbeatsDeleted());
        assertEquals(without(before, plan), listing());

        WalArchive left = WalArchive.load(repository);
        assertEquals(List.of(mainTimeline), left.timelines().stream().map(WalArchive.Timeline::id).toList());
        assertEquals(List.of(2, 3, 4), left.timelines().get(0).generations().stream().map(WalArchive.Generation::number)
                .toList());
        assertTrue(left.timelines().get(0).heartbeat().isPresent());
        for (WalArchive.Generation g : left.timelines().get(0).generations()) {
            for (WalSegment s : g.segments()) {
                assertFalse(s.shippedAt().isBefore(plan.walKeptFrom()), s.toString());
            }
        }
        // Every commit from the oldest kept backup on is still reachable, exactly.
        List<WalRecord> records = allRecords();
        int checked = 0;
        for (long c : commits(records)) {
            if (Long.compareUnsigned(c, oldestKept.sourceLsn()) >= 0) {
                assertRestoresToCommit(initial, records, c);
                checked++;
            }
        }
        assertTrue(checked >= 12, checked + " points checked");
        // Before it, nothing is left to restore from.
        long gone = chainZeroCommits.get(chainZeroCommits.size() - 1);
        Path target = newTarget();
        assertThrows(RepositoryException.class, () -> restore(new RestorePoint.AtOrBeforeLsn(gone), target));
        assertTrue(PruneService.plan(repository, new RetentionPolicy(2, null), at(clock.instant().plus(MONTH))).isEmpty());
    }

    @Test
    void theGenerationBeforeTheOneACheckpointedBackupJoinsIsKept() throws IOException {
        MutableClock clock = new MutableClock(Instant.now().truncatedTo(ChronoUnit.MILLIS));
        Path initial = snapshot("initial");
        Manifest old = new BackupService(repository).backup(db.dir(), options().withClock(clock).withForceFull(true))
                .manifest();
        WalShipper shipper = new WalShipper(repository, db.dir(), tmp.resolve("ship"), clock, 1 << 20);
        clock.advance(Duration.ofMinutes(1));
        transactions(2);
        shipper.shipOnce();
        checkpoint();
        shipper.shipOnce(); // sees the truncation
        clock.advance(Duration.ofHours(1));
        Manifest checkpointed = new BackupService(repository).backup(db.dir(),
                options().withClock(clock).withForceFull(true)).manifest();
        assertEquals(Manifest.QUIESCENT, checkpointed.consistency());
        assertNull(checkpointed.walEndLsn());
        clock.advance(Duration.ofMinutes(1));
        transactions(3);
        assertEquals(1, shipper.shipOnce().segments());
        shipper.close();
        List<WalArchive.Generation> generations = WalArchive.load(repository).timelines().get(0).generations();
        assertEquals(2, generations.size());
        // Every segment of the first generation was shipped an hour before the kept backup was taken. It is kept
        // all the same: restore proves the backup joins the next generation by checking it against this one's end.
        assertTrue(generations.get(0).segments().stream().allMatch(s -> s.shippedAt().isBefore(
                checkpointed.createdAt().minus(PruneService.CLOCK_SKEW_MARGIN))));

        PrunePlan plan = PruneService.plan(repository, new RetentionPolicy(1, null), at(clock.instant().plus(MONTH)));
        assertEquals(List.of(old.backupId()), plan.deletedBackups());
        assertTrue(plan.walSegments().isEmpty(), keys(plan.walSegments()).toString());
        assertTrue(new PruneService(repository).execute(plan).complete());
        List<WalRecord> records = allRecords();
        List<Long> afterBackup = commits(db.walRecords());
        for (long c : afterBackup) {
            assertRestoresToCommit(initial, records, c);
        }
        // Why: without that generation, the join cannot be proven and the restore is refused.
        for (WalSegment s : generations.get(0).segments()) {
            repository.delete(s.key());
        }
        Path target = newTarget();
        assertThrows(RepositoryException.class,
                () -> restore(new RestorePoint.AtOrBeforeLsn(afterBackup.get(afterBackup.size() - 1)), target));
    }

    /**
     * A write killed before it was published (kill -9 of a backup) leaves a temp file in the local store's .tmp/,
     * which no listing shows; before this was fixed nothing ever removed it. Prune removes it once it is older than
     * the grace period, and leaves a younger one (a write that may be in progress) alone.
     */
    @Test
    void pruneRemovesTheTempFilesOfKilledWritesOnceOlderThanTheGrace() throws IOException {
        backup();
        BlobWriter killedLongAgo = repository.store().newWriter(repository.key("data/x/files/a"), WriteMode.CREATE_NEW);
        killedLongAgo.stream().write(new byte[1000]);
        killedLongAgo.stream().flush();
        BlobWriter inProgress = repository.store().newWriter(repository.key("data/x/files/b"), WriteMode.CREATE_NEW);
        inProgress.stream().write(new byte[10]);
        inProgress.stream().flush();
        Path temp = tmp.resolve("repo").resolve(".tmp");
        List<Path> parts;
        try (java.util.stream.Stream<Path> files = java.nio.file.Files.list(temp)) {
            parts = files.sorted().toList();
        }
        assertEquals(2, parts.size(), "each unpublished write has its temp file: " + parts);
        Path old = parts.get(0);
        java.nio.file.Files.setLastModifiedTime(old, java.nio.file.attribute.FileTime.from(
                Instant.now().minus(Duration.ofDays(2))));
        Path young = parts.get(1);

        RetentionPolicy policy = new RetentionPolicy(7, Duration.ofDays(7), Duration.ofHours(24));
        PrunePlan plan = PruneService.plan(repository, policy, Clock.systemUTC());
        assertTrue(plan.isEmpty(), "nothing listed is a leftover: temp files are never listed");
        PruneService.Result result = new PruneService(repository).execute(plan);

        assertTrue(result.complete(), result.failure());
        assertFalse(java.nio.file.Files.exists(old), "the temp file older than the grace period is gone");
        assertTrue(java.nio.file.Files.exists(young), "the young temp file (a write maybe in progress) is kept");
        inProgress.close();
        killedLongAgo.close();
    }
}
