package io.powdb.backup.verify;

import io.powdb.backup.archive.WalShipper;
import io.powdb.backup.backup.BackupOptions;
import io.powdb.backup.backup.BackupService;
import io.powdb.backup.crypto.EncryptionKeyException;
import io.powdb.backup.crypto.KeyObject;
import io.powdb.backup.crypto.MasterKey;
import io.powdb.backup.crypto.RepositoryKeys;
import io.powdb.backup.lease.RepositoryLease;
import io.powdb.backup.repo.BackupId;
import io.powdb.backup.repo.IntegrityException;
import io.powdb.backup.repo.Manifest;
import io.powdb.backup.repo.Repository;
import io.powdb.backup.repo.RepositoryException;
import io.powdb.backup.repo.RestorePoint;
import io.powdb.backup.restore.RestoreOptions;
import io.powdb.backup.restore.RestoreService;
import io.powdb.backup.store.local.LocalBlobStore;
import io.powdb.backup.testing.TestTrees;
import io.powdb.backup.testing.PowDbFixture;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every kind of stored object, damaged every way: one bit flipped at its first, middle and last byte,
 * truncated by one byte and to nothing, deleted, swapped with another object of its kind (of the same size
 * where there is one), and for manifests replaced by an older manifest under the newer name. For each case
 * the repository is a fresh copy of one template (a full backup, a quiescent incremental that also adds a table,
 * a crash-consistent incremental, three shipped WAL segments with a heartbeat, and a lease), and the case checks
 * what the catalogue expects of that kind:
 *
 * <ul>
 *   <li>{@link Expect#DETECTED}: {@code verify} reports it naming the object (and the backup, or for WAL the
 *       timeline); a restore that needs it (the newest backup that does, or for WAL a point-in-time restore)
 *       fails with an {@link IntegrityException} naming the object and the backup, and leaves no target and no
 *       staging directory; the oldest backup that does not need it still verifies and restores byte for byte.</li>
 *   <li>{@link Expect#TOLERATED}: objects no restore depends on (the WAL heartbeat only widens what
 *       {@code --to-time} may reach; the lease only orders writers): verify passes, and the latest and the
 *       point-in-time restore give what they give on the undamaged repository.</li>
 *   <li>{@link Expect#VANISHED}: deleting the newest backup's manifest (or the last WAL segment) is what
 *       deleting a backup is: the repository stays consistent and restores what it still holds. Nothing in the
 *       repository records that they existed, so no check can tell; it is listed so that the catalogue says so.</li>
 * </ul>
 *
 * Every case runs on a plaintext and on an encrypted repository ({@link RepoKind}): the same template, built
 * with a master key, so every data object, manifest and WAL segment is ciphertext and the repository also holds
 * the data keys under {@code keys/} (one per backup, one per WAL timeline). Those are catalogued as two more
 * kinds, with one more mutation: the wrappings of two key objects swapped while each keeps its own name, which
 * only the wrapping's AAD (it binds the name) can catch.
 *
 * A new kind of stored object is one line in {@link #KINDS}; the test fails when a template holds an object of
 * no listed kind, or lacks one of a kind its repository kind must hold.
 */
class CorruptionCatalogTest {
    enum Expect { DETECTED, TOLERATED, VANISHED }

    /** The repository a case runs on; an encrypted one is opened with {@link #KEY}. */
    enum RepoKind { PLAINTEXT, ENCRYPTED }

    static final MasterKey KEY = MasterKey.generate();

    /**
     * Which objects a kind covers; which of them is damaged is chosen by {@link Template#pick}.
     *
     * @param encryptedOnly held by encrypted repositories only (and never by plaintext ones)
     */
    record Kind(String name, Predicate<String> matches, Expect expect, boolean encryptedOnly) {
        Kind(String name, Predicate<String> matches, Expect expect) {
            this(name, matches, expect, false);
        }

        /** A kind whose damage breaks shipped WAL (point-in-time restores) rather than backups. */
        boolean walSide() {
            return name.equals("WAL segment") || name.equals("data key of a WAL timeline");
        }
    }

    static final List<Kind> KINDS = List.of(
            new Kind("manifest of a full backup", k -> k.startsWith("manifests/") && isFullManifest(k), Expect.DETECTED),
            new Kind("manifest of an incremental with a successor", k -> k.startsWith("manifests/")
                    && !isFullManifest(k) && !isNewestManifest(k), Expect.DETECTED),
            new Kind("manifest of the newest backup", CorruptionCatalogTest::isNewestManifest, Expect.DETECTED),
            new Kind("whole file", k -> k.matches("data/[^/]+/files/.+"), Expect.DETECTED),
            new Kind("heap image", k -> k.matches("data/[^/]+/heaps/[^/]+\\.heap"), Expect.DETECTED),
            new Kind("page pack", k -> k.matches("data/[^/]+/heaps/[^/]+\\.pages"), Expect.DETECTED),
            new Kind("page map", k -> k.matches("data/[^/]+/maps/[^/]+\\.map"), Expect.DETECTED),
            new Kind("page map delta", k -> k.matches("data/[^/]+/maps/[^/]+\\.mapd"), Expect.DETECTED),
            new Kind("WAL segment", k -> k.startsWith("wal/") && k.endsWith(".seg"), Expect.DETECTED),
            new Kind("WAL heartbeat", k -> k.startsWith("wal/") && k.endsWith("/heartbeat.json"), Expect.TOLERATED),
            new Kind("lease", k -> k.startsWith("locks/"), Expect.TOLERATED),
            new Kind("data key of a backup", k -> k.matches("keys/backup-[^/]+\\.key"), Expect.DETECTED, true),
            new Kind("data key of a WAL timeline", k -> k.matches("keys/wal-[^/]+\\.key"), Expect.DETECTED, true));

    enum Mutation {
        FLIP_FIRST_BYTE, FLIP_MIDDLE_BYTE, FLIP_LAST_BYTE, TRUNCATE_BY_ONE, TRUNCATE_TO_ZERO, DELETE, SWAP_SAME_KIND,
        OLDER_MANIFEST_UNDER_NEWER_NAME,
        /** Key objects only: two swapped as a careful attacker would, each keeping its own name field. */
        SWAP_WRAPPINGS_KEEPING_NAMES
    }

    @TempDir
    static Path shared;
    private static final Map<RepoKind, Template> TEMPLATES = new EnumMap<>(RepoKind.class);
    private static final AtomicInteger CASES = new AtomicInteger();

    @BeforeAll
    static void buildTemplates() throws IOException {
        TEMPLATES.put(RepoKind.PLAINTEXT, Template.build(shared.resolve("plaintext"), null));
        TEMPLATES.put(RepoKind.ENCRYPTED, Template.build(shared.resolve("encrypted"), KEY));
    }

    // Backup ids differ between the templates (time and nonce), so a key belongs to one of them only.
    private static boolean isFullManifest(String key) {
        return TEMPLATES.values().stream().anyMatch(t -> t.fullManifests.contains(key));
    }

    private static boolean isNewestManifest(String key) {
        return TEMPLATES.values().stream().anyMatch(t -> key.equals(t.newestManifest));
    }

    @TestFactory
    Stream<DynamicTest> catalogue() throws IOException {
        List<DynamicTest> tests = new ArrayList<>();
        for (RepoKind repoKind : RepoKind.values()) {
            tests.addAll(cases(repoKind, TEMPLATES.get(repoKind)));
        }
        // What the catalogue covers, for the record: cases per repository kind, object kind and expectation.
        Map<String, Integer> counts = new java.util.TreeMap<>();
        for (DynamicTest t : tests) {
            String name = t.getDisplayName();
            String repoKind = name.substring(0, name.indexOf(']') + 1);
            counts.merge(repoKind + " all", 1, Integer::sum);
            counts.merge(repoKind + " " + name.substring(name.indexOf(']') + 2, name.indexOf(" / ")), 1, Integer::sum);
            counts.merge(repoKind + " -> " + name.substring(name.indexOf(" -> ") + 4, name.indexOf(" (")), 1, Integer::sum);
        }
        counts.forEach((what, n) -> System.out.println("catalogue: " + what + ": " + n));
        return tests.stream();
    }

    private List<DynamicTest> cases(RepoKind repoKind, Template template) throws IOException {
        List<DynamicTest> tests = new ArrayList<>();
        String label = repoKind.name().toLowerCase();
        for (String key : template.keys) {
            long kinds = KINDS.stream().filter(k -> k.matches().test(key)).count();
            assertEquals(1, kinds, label + ": " + key + " must be of exactly one kind of the catalogue (add its kind to KINDS)");
        }
        for (Kind kind : KINDS) {
            Optional<String> picked = template.pick(kind);
            if (kind.encryptedOnly() && repoKind == RepoKind.PLAINTEXT) {
                assertTrue(picked.isEmpty(), "a plaintext repository holds a " + kind.name() + ": " + picked);
                continue;
            }
            assertTrue(picked.isPresent(), "the " + label + " template holds no " + kind.name());
            if (picked.isEmpty()) {
                continue;
            }
            String key = picked.get();
            for (Mutation mutation : Mutation.values()) {
                Optional<Damage> damage = template.damage(kind, key, mutation);
                if (damage.isEmpty()) {
                    continue; // not applicable (e.g. an older manifest for a data object)
                }
                Expect expect = expectation(kind, mutation);
                tests.add(DynamicTest.dynamicTest("[" + label + "] " + kind.name() + " / "
                        + mutation.name().toLowerCase().replace('_', ' ') + " -> " + expect.name().toLowerCase()
                        + " (" + key + ")", () -> runCase(template, kind, key, mutation, damage.get(), expect)));
            }
        }
        return tests;
    }

    private static Expect expectation(Kind kind, Mutation mutation) {
        if (kind.expect() == Expect.TOLERATED) {
            return Expect.TOLERATED;
        }
        if (mutation == Mutation.DELETE && kind.name().equals("manifest of the newest backup")) {
            return Expect.VANISHED;
        }
        return kind.expect();
    }

    /** What a case does to the repository: new contents (null: deleted) for one or two keys. */
    record Damage(Map<String, byte[]> contents, Set<String> namedAs) {
    }

    private void runCase(Template template, Kind kind, String key, Mutation mutation, Damage damage, Expect expect)
            throws IOException {
        Path dir = shared.resolve("case-" + CASES.incrementAndGet());
        Path repoDir = TestTrees.copy(template.repoDir, dir.resolve("repo"));
        try (Repository repo = new Repository(new LocalBlobStore(repoDir), "", template.key)) {
            for (Map.Entry<String, byte[]> e : damage.contents().entrySet()) {
                Path file = repoDir.resolve(e.getKey());
                if (e.getValue() == null) {
                    Files.delete(file);
                } else {
                    Files.write(file, e.getValue());
                }
            }
            VerifyReport report = new VerifyService(repo).verify(Optional.empty(), dir.resolve("vtmp"), (p, d, t) -> { });
            switch (expect) {
                case DETECTED -> assertDetected(template, kind, key, mutation, damage, repo, report, dir);
                case TOLERATED -> {
                    assertTrue(report.ok(), "verify fails on damage that no restore depends on: " + report.failures());
                    PowDbFixture.assertSameDatabase(template.latestRestored, restore(repo, new RestorePoint.Latest(), dir), true);
                    PowDbFixture.assertSameDatabase(template.pointRestored, restore(repo, template.point, dir), true);
                }
                case VANISHED -> {
                    assertTrue(report.ok(), report.failures().toString());
                    PowDbFixture.assertSameDatabase(template.states.get(template.ids.get(template.ids.size() - 2)),
                            restore(repo, new RestorePoint.Latest(), dir), true);
                }
            }
        }
    }

    private void assertDetected(Template template, Kind kind, String key, Mutation mutation, Damage damage,
            Repository repo, VerifyReport report, Path dir) throws IOException {
        boolean wal = kind.walSide();
        String failures = String.join("\n", report.failures());
        assertFalse(report.ok(), "verify misses it");
        assertTrue(damage.namedAs().stream().anyMatch(failures::contains), "verify does not name any of "
                + damage.namedAs() + ": " + failures);
        if (mutation == Mutation.SWAP_WRAPPINGS_KEEPING_NAMES) {
            assertTrue(failures.contains("fails authentication"), "the wrapping's AAD does not bind its name: " + failures);
        }

        Set<BackupId> users = template.users(key, damage);
        RestorePoint affected = wal ? template.point
                : users.contains(template.latest()) ? new RestorePoint.Latest()
                : new RestorePoint.ById(template.ids.stream().filter(users::contains).reduce((a, b) -> b).orElseThrow());
        if (!wal) {
            assertTrue(users.stream().map(BackupId::toString).anyMatch(failures::contains),
                    "verify does not name a backup that needs it (" + users + "): " + failures);
        }
        Path target = dir.resolve("restored-affected");
        IOException e = assertThrows(IOException.class, () -> new RestoreService(repo).restore(affected, target,
                new RestoreOptions(dir.resolve("rtmp"), (p, d, t) -> { })));
        boolean walHole = key.startsWith("wal/") && damage.contents().values().stream().anyMatch(v -> v == null);
        if (!walHole) {
            assertInstanceOf(IntegrityException.class, e, "not reported as damage: " + e);
        } else {
            assertInstanceOf(RepositoryException.class, e, e.toString()); // a hole in the WAL: a point it cannot reach
        }
        String message = e.getMessage();
        System.out.println(kind.name() + ", " + damage.contents().keySet() + ": restore says: " + message);
        assertTrue(damage.namedAs().stream().anyMatch(message::contains), "restore does not name any of "
                + damage.namedAs() + ": " + message);
        assertFalse(e instanceof EncryptionKeyException, "damage reported as a key problem: " + message);
        if (mutation == Mutation.SWAP_WRAPPINGS_KEEPING_NAMES) {
            assertTrue(message.contains("fails authentication"), "the wrapping's AAD does not bind its name: " + message);
        }
        if (!walHole) {
            assertTrue(template.ids.stream().map(BackupId::toString).anyMatch(message::contains),
                    "restore does not name the backup: " + message);
        }
        assertFalse(Files.exists(target), () -> "a failed restore (" + message + ") left " + target + ": " + listing(target));
        try (Stream<Path> entries = Files.list(dir)) {
            assertTrue(entries.noneMatch(p -> p.getFileName().toString().contains("powdb-restore")), "staging left");
        }

        // What does not need the damaged object is untouched by it.
        if (wal && users.isEmpty()) {
            PowDbFixture.assertSameDatabase(template.latestRestored, restore(repo, new RestorePoint.Latest(), dir), true);
        } else { // (for WAL: a key swapped with a backup's breaks that backup as well)
            Optional<BackupId> unaffected = template.ids.stream().filter(id -> !users.contains(id)).findFirst();
            if (unaffected.isPresent()) {
                VerifyReport one = new VerifyService(repo).verify(unaffected, dir.resolve("vtmp"), (p, d, t) -> { });
                assertTrue(one.ok(), "backup " + unaffected.get() + " does not need " + key + ": " + one.failures());
                PowDbFixture.assertSameDatabase(template.states.get(unaffected.get()),
                        restore(repo, new RestorePoint.ById(unaffected.get()), dir), true);
            }
        }
    }

    /**
     * A damaged key object is damage only to whoever holds the key: verify with the right key reports it (and
     * the backup), while with no key, or another key, it reports the key id needed and never "damage" (nobody
     * without the key can tell whether a wrapping is intact, and the operator's first step is the right key).
     */
    @org.junit.jupiter.api.Test
    void aDamagedKeyObjectIsReportedAsDamageWithTheKeyAndAsTheKeyNeededWithout() throws IOException {
        Template template = TEMPLATES.get(RepoKind.ENCRYPTED);
        BackupId newest = template.latest();
        String keyObject = KeyObject.key(Repository.dataKeyName(newest));
        byte[] original = Files.readAllBytes(template.repoDir.resolve(keyObject));
        String json = new String(original, StandardCharsets.UTF_8);
        int at = json.indexOf("\"wrapped_key\"");
        at = json.indexOf('"', json.indexOf(':', at)) + 5;
        byte[] wrappingFlipped = original.clone();
        wrappingFlipped[at] = (byte) (wrappingFlipped[at] == 'A' ? 'B' : 'A');
        byte[] notJson = Arrays.copyOf(original, original.length / 2);
        MasterKey other = MasterKey.generate();
        int n = 0;
        for (byte[] damaged : List.of(wrappingFlipped, notJson)) {
            Path dir = shared.resolve("keyobject-case-" + (++n));
            Path repoDir = TestTrees.copy(template.repoDir, dir.resolve("repo"));
            Files.write(repoDir.resolve(keyObject), damaged);

            try (Repository repo = new Repository(new LocalBlobStore(repoDir), "", KEY)) {
                VerifyReport report = new VerifyService(repo).verify(Optional.empty(), dir.resolve("vtmp"), (p, d, t) -> { });
                String failures = String.join("\n", report.failures());
                System.out.println("verify with the key says: " + failures);
                assertEquals(1, report.failures().size(), failures); // the newest backup only: it has no descendants
                assertTrue(failures.contains(keyObject) && failures.contains(newest.toString()), failures);
                assertTrue(failures.contains(damaged == notJson ? "is damaged" : "fails authentication with master key "
                        + KEY.id()), failures);
            }
            try (Repository repo = new Repository(new LocalBlobStore(repoDir), "", null)) {
                EncryptionKeyException e = assertThrows(EncryptionKeyException.class, () -> new VerifyService(repo)
                        .verify(Optional.empty(), dir.resolve("vtmp"), (p, d, t) -> { }));
                System.out.println("verify without a key says: " + e.getMessage());
                assertTrue(e.getMessage().contains("master key " + KEY.id()) && e.getMessage().contains("no key was given"),
                        e.getMessage());
                assertFalse(e.getMessage().contains("damage"), e.getMessage());
                Path target = dir.resolve("restored");
                assertThrows(EncryptionKeyException.class, () -> new RestoreService(repo).restore(new RestorePoint.Latest(),
                        target, new RestoreOptions(dir.resolve("rtmp"), (p, d, t) -> { })));
                assertFalse(Files.exists(target));
            }
            if (damaged == wrappingFlipped) { // still names its master key: another key is told which one it needs
                try (Repository repo = new Repository(new LocalBlobStore(repoDir), "", other)) {
                    EncryptionKeyException e = assertThrows(EncryptionKeyException.class, () -> new VerifyService(repo)
                            .verify(Optional.of(newest), dir.resolve("vtmp"), (p, d, t) -> { }));
                    System.out.println("verify with another key says: " + e.getMessage());
                    assertTrue(e.getMessage().contains(KEY.id()) && e.getMessage().contains(other.id()), e.getMessage());
                    assertFalse(e.getMessage().contains("damage"), e.getMessage());
                }
            }
        }
    }

    private static int restores;

    private static String listing(Path dir) {
        try (Stream<Path> walk = Files.walk(dir)) {
            return walk.map(Path::toString).toList().toString();
        } catch (IOException e) {
            return e.toString();
        }
    }

    private static Path restore(Repository repo, RestorePoint point, Path dir) throws IOException {
        Path target = dir.resolve("restored-" + (++restores));
        new RestoreService(repo).restore(point, target, new RestoreOptions(dir.resolve("rtmp"), (p, d, t) -> { }));
        return target;
    }

    /** The undamaged repository every case starts from, and what its restores give. */
    static final class Template {
        MasterKey key; // null: plaintext
        Path repoDir;
        final List<String> keys = new ArrayList<>();
        final List<BackupId> ids = new ArrayList<>(); // oldest first
        final Map<BackupId, Path> states = new HashMap<>();
        final Map<BackupId, Manifest> manifests = new HashMap<>();
        final Set<String> fullManifests = new LinkedHashSet<>();
        String newestManifest;
        RestorePoint point;
        Path latestRestored;
        Path pointRestored;

        static Template build(Path root, MasterKey key) throws IOException {
            Template t = new Template();
            t.key = key;
            t.repoDir = root.resolve("template-repo");
            PowDbFixture db = PowDbFixture.create(root.resolve("data"), PowDbFixture.Version.V0_5, 4242);
            BackupOptions options = BackupOptions.defaults().withTempDir(root.resolve("tmp"));
            try (Repository repo = new Repository(new LocalBlobStore(t.repoDir), "", key)) {
                BackupService backups = new BackupService(repo);
                db.createTable("a", 24);
                db.createTable("b", 12);
                db.writeOptionalWholeFiles();
                db.checkpoint();
                t.record(backups.backup(db.dir(), options.withRequireQuiescent(true)).manifest(), db, root);
                db.updatePages("a", 3, 7, 11);
                db.updatePages("b", 2);
                db.rewriteIndex("a", false);
                db.createTable("c", 5); // a heap image and a full page map the full backup does not need
                db.checkpoint();
                t.record(backups.backup(db.dir(), options.withRequireQuiescent(true)).manifest(), db, root);

                WalShipper shipper = new WalShipper(repo, db.dir(), root.resolve("ship"), Clock.systemUTC(), 1 << 20);
                db.updateRandomPages("a", 2);
                shipper.shipOnce();
                Manifest live = backups.backup(db.dir(), options).manifest();
                assertEquals(Manifest.CRASH_CONSISTENT, live.consistency());
                t.record(live, null, root);
                db.updateRandomPages("b", 1);
                shipper.shipOnce();
                db.updateRandomPages("a", 2);
                shipper.shipOnce();
                shipper.shipOnce(); // nothing new: the timeline is known complete until now
                shipper.writeHeartbeat();
                t.point = new RestorePoint.AtOrBeforeLsn(db.lastLsn());
                assertTrue(new RepositoryLease(repo, "catalogue", Duration.ofMinutes(5), Clock.systemUTC())
                        .tryAcquire().acquired());

                try (Stream<Path> walk = Files.walk(t.repoDir)) {
                    walk.filter(Files::isRegularFile).map(p -> t.repoDir.relativize(p).toString())
                            .filter(k -> !k.equals(Repository.MARKER)) // holds no data; every command reads it first
                            .sorted().forEach(t.keys::add);
                }
                for (String k : t.keys) { // the encrypted catalogue runs on ciphertext, or it proves nothing new
                    boolean sealed = k.startsWith("data/") || k.startsWith("manifests/") || k.endsWith(".seg");
                    if (sealed) {
                        assertEquals(key != null, RepositoryKeys.looksEncrypted(Files.readAllBytes(t.repoDir.resolve(k))), k);
                    }
                }
                Path baseline = Files.createDirectories(root.resolve("baseline"));
                t.latestRestored = restore(repo, new RestorePoint.Latest(), baseline);
                t.pointRestored = restore(repo, t.point, baseline);
                assertTrue(new VerifyService(repo).verify(Optional.empty(), root.resolve("vtmp"), (p, d, x) -> { }).ok());
            }
            return t;
        }

        private void record(Manifest m, PowDbFixture db, Path root) throws IOException {
            ids.add(m.backupId());
            manifests.put(m.backupId(), m);
            if (db != null) {
                states.put(m.backupId(), PowDbFixture.copyDatabase(db.dir(), root.resolve("state-" + ids.size())));
            }
            if (m.isFull()) {
                fullManifests.add(Repository.manifestKey(m.backupId()));
            }
            newestManifest = Repository.manifestKey(m.backupId());
        }

        BackupId latest() {
            return ids.get(ids.size() - 1);
        }

        /**
         * The backups whose restore reads {@code key}: the one it is the manifest (or the data key) of and its
         * descendants, or those naming it (or, for a data key, an object it encrypts).
         */
        Set<BackupId> users(String key, Damage damage) {
            Set<BackupId> users = new LinkedHashSet<>();
            for (String damaged : damage.contents().keySet()) {
                for (BackupId id : ids) {
                    Manifest m = manifests.get(id);
                    boolean names = m.files().stream().flatMap(f -> f.objects().stream())
                            .anyMatch(r -> r.key().equals(damaged) || KeyObject.key(dataKeyOf(r.key())).equals(damaged));
                    boolean inChain = ids.stream().anyMatch(a -> (Repository.manifestKey(a).equals(damaged)
                            || KeyObject.key(Repository.dataKeyName(a)).equals(damaged))
                            && (a.equals(id) || descends(id, a)));
                    if (names || inChain) {
                        users.add(id);
                    }
                }
            }
            return users;
        }

        /** The data key of a data object: its backup's ({@code data/SESSION/...}). */
        private static String dataKeyOf(String objectKey) {
            return "backup-" + objectKey.split("/")[1];
        }

        private boolean descends(BackupId id, BackupId ancestor) {
            for (Manifest m = manifests.get(id); m != null && !m.isFull(); m = manifests.get(BackupId.parse(m.parent()))) {
                if (m.parent().equals(ancestor.toString())) {
                    return true;
                }
            }
            return false;
        }

        /**
         * The object of a kind to damage: one that some backup can do without (so the case also shows that the
         * damage stays local) when there is one; for WAL, a segment that is not the last of its generation (a lost
         * last segment is WAL never shipped: {@link Expect#VANISHED}).
         */
        Optional<String> pick(Kind kind) {
            List<String> matching = keys.stream().filter(kind.matches()).toList();
            if (matching.isEmpty()) {
                return Optional.empty();
            }
            if (kind.name().equals("WAL segment")) {
                return Optional.of(matching.get(matching.size() / 2));
            }
            List<String> local = matching.stream()
                    .filter(k -> users(k, new Damage(Map.of(k, new byte[0]), Set.of())).size() < ids.size()).toList();
            List<String> from = local.isEmpty() ? matching : local;
            return Optional.of(from.get(from.size() - 1));
        }

        Optional<Damage> damage(Kind kind, String key, Mutation mutation) throws IOException {
            byte[] original = Files.readAllBytes(repoDir.resolve(key));
            Set<String> named = new LinkedHashSet<>();
            named.add(nameOf(key));
            Map<String, byte[]> contents = new HashMap<>();
            switch (mutation) {
                case FLIP_FIRST_BYTE, FLIP_MIDDLE_BYTE, FLIP_LAST_BYTE -> {
                    if (original.length == 0) {
                        return Optional.empty();
                    }
                    byte[] b = original.clone();
                    int at = mutation == Mutation.FLIP_FIRST_BYTE ? 0
                            : mutation == Mutation.FLIP_MIDDLE_BYTE ? b.length / 2 : b.length - 1;
                    b[at] ^= 0x10;
                    contents.put(key, b);
                }
                case TRUNCATE_BY_ONE, TRUNCATE_TO_ZERO -> {
                    if (original.length == 0) {
                        return Optional.empty();
                    }
                    contents.put(key, Arrays.copyOf(original, mutation == Mutation.TRUNCATE_BY_ONE ? original.length - 1 : 0));
                }
                case DELETE -> {
                    contents.put(key, null);
                    if (key.startsWith("wal/") && key.endsWith(".seg")) {
                        named.add(key.split("/")[1]); // the key is gone with the object: the hole is named by its timeline
                    }
                }
                case SWAP_SAME_KIND -> {
                    List<String> others = keys.stream().filter(kind.matches().or(k -> sameFormat(k, key)))
                            .filter(k -> !k.equals(key) && sameFormat(k, key)).toList();
                    if (others.isEmpty()) {
                        return Optional.empty();
                    }
                    String other = others.stream().filter(k -> size(k) == original.length).findFirst().orElse(others.get(0));
                    byte[] theirs = Files.readAllBytes(repoDir.resolve(other));
                    if (Arrays.equals(theirs, original)) {
                        return Optional.empty();
                    }
                    contents.put(key, theirs);
                    contents.put(other, original);
                    named.add(nameOf(other));
                }
                case SWAP_WRAPPINGS_KEEPING_NAMES -> {
                    if (!key.startsWith(KeyObject.PREFIX)) {
                        return Optional.empty();
                    }
                    // another of its kind if there is one, else the newest backup's (the least needed)
                    String other = keys.stream().filter(k -> k.startsWith(KeyObject.PREFIX) && !k.equals(key))
                            .sorted(java.util.Comparator.comparing((String k) -> kind.matches().test(k)).thenComparing(k -> k))
                            .reduce((a, b) -> b).orElseThrow();
                    byte[] theirs = Files.readAllBytes(repoDir.resolve(other));
                    contents.put(key, withWrappingsOf(original, theirs));
                    contents.put(other, withWrappingsOf(theirs, original));
                    named.add(nameOf(other));
                }
                case OLDER_MANIFEST_UNDER_NEWER_NAME -> {
                    if (!key.startsWith("manifests/")) {
                        return Optional.empty();
                    }
                    int index = ids.indexOf(idOf(key));
                    if (index == 0) {
                        return Optional.empty();
                    }
                    contents.put(key, Files.readAllBytes(repoDir.resolve(Repository.manifestKey(ids.get(index - 1)))));
                }
            }
            return Optional.of(new Damage(contents, named));
        }

        /** Key object {@code target} with the wrappings (master key id, nonce, wrapped key) of {@code donor}. */
        private static byte[] withWrappingsOf(byte[] target, byte[] donor) {
            String t = new String(target, StandardCharsets.UTF_8);
            String d = new String(donor, StandardCharsets.UTF_8);
            String swapped = t.substring(0, t.indexOf("\"wrappings\"")) + d.substring(d.indexOf("\"wrappings\""));
            assertFalse(swapped.equals(t), "the wrappings did not change");
            return swapped.getBytes(StandardCharsets.UTF_8);
        }

        /** Objects of one kind: same directory role and extension (a page pack with page packs, ...). */
        private static boolean sameFormat(String a, String b) {
            return a.replaceAll("^data/[^/]+/", "").replaceAll("/[^/]*?(\\.[a-z]+)?$", "$1")
                    .equals(b.replaceAll("^data/[^/]+/", "").replaceAll("/[^/]*?(\\.[a-z]+)?$", "$1"))
                    && a.startsWith(b.substring(0, b.indexOf('/')));
        }

        private long size(String key) {
            try {
                return Files.size(repoDir.resolve(key));
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }

        private static BackupId idOf(String manifestKey) {
            return BackupId.parse(manifestKey.substring("manifests/".length(), manifestKey.length() - ".json".length()));
        }

        /** How a message names an object: its key, or for a manifest its backup's id. */
        private static String nameOf(String key) {
            return key.startsWith("manifests/") ? idOf(key).toString() : key;
        }
    }
}
