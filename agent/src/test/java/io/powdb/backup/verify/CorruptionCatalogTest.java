package io.powdb.backup.verify;

import io.powdb.backup.archive.WalShipper;
import io.powdb.backup.backup.BackupOptions;
import io.powdb.backup.backup.BackupService;
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
import io.powdb.backup.testing.PowDbFixture;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
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
 * A new kind of stored object (e.g. the encryption keys under {@code keys/}) is one line in {@link #KINDS};
 * the test fails when the template holds an object of no listed kind.
 */
class CorruptionCatalogTest {
    enum Expect { DETECTED, TOLERATED, VANISHED }

    /** Which objects a kind covers; which of them is damaged is chosen by {@link Template#pick}. */
    record Kind(String name, Predicate<String> matches, Expect expect) {
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
            new Kind("lease", k -> k.startsWith("locks/"), Expect.TOLERATED));
            // keys/ (encryption keys, added on another branch): new Kind("key", k -> k.startsWith("keys/"), Expect.DETECTED)

    enum Mutation {
        FLIP_FIRST_BYTE, FLIP_MIDDLE_BYTE, FLIP_LAST_BYTE, TRUNCATE_BY_ONE, TRUNCATE_TO_ZERO, DELETE, SWAP_SAME_KIND,
        OLDER_MANIFEST_UNDER_NEWER_NAME
    }

    @TempDir
    static Path shared;
    private static Template template;
    private static final AtomicInteger CASES = new AtomicInteger();

    @BeforeAll
    static void buildTemplate() throws IOException {
        template = Template.build(shared);
    }

    private static boolean isFullManifest(String key) {
        return template.fullManifests.contains(key);
    }

    private static boolean isNewestManifest(String key) {
        return key.equals(template.newestManifest);
    }

    @TestFactory
    Stream<DynamicTest> catalogue() throws IOException {
        List<DynamicTest> tests = new ArrayList<>();
        for (String key : template.keys) {
            long kinds = KINDS.stream().filter(k -> k.matches().test(key)).count();
            assertEquals(1, kinds, key + " must be of exactly one kind of the catalogue (add its kind to KINDS)");
        }
        for (Kind kind : KINDS) {
            Optional<String> picked = template.pick(kind);
            assertTrue(picked.isPresent(), "the template holds no " + kind.name());
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
                tests.add(DynamicTest.dynamicTest(kind.name() + " / " + mutation.name().toLowerCase().replace('_', ' ')
                        + " -> " + expect.name().toLowerCase() + " (" + key + ")",
                        () -> runCase(kind, key, damage.get(), expect)));
            }
        }
        return tests.stream();
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

    private void runCase(Kind kind, String key, Damage damage, Expect expect) throws IOException {
        Path dir = shared.resolve("case-" + CASES.incrementAndGet());
        Path repoDir = copyTree(template.repoDir, dir.resolve("repo"));
        try (Repository repo = new Repository(new LocalBlobStore(repoDir), "")) {
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
                case DETECTED -> assertDetected(kind, key, damage, repo, report, dir);
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

    private void assertDetected(Kind kind, String key, Damage damage, Repository repo, VerifyReport report, Path dir)
            throws IOException {
        boolean wal = key.startsWith("wal/");
        String failures = String.join("\n", report.failures());
        assertFalse(report.ok(), "verify misses it");
        assertTrue(damage.namedAs().stream().anyMatch(failures::contains), "verify does not name any of "
                + damage.namedAs() + ": " + failures);

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
        boolean walHole = wal && damage.contents().values().stream().anyMatch(v -> v == null);
        if (!walHole) {
            assertInstanceOf(IntegrityException.class, e, "not reported as damage: " + e);
        } else {
            assertInstanceOf(RepositoryException.class, e, e.toString()); // a hole in the WAL: a point it cannot reach
        }
        String message = e.getMessage();
        System.out.println(kind.name() + ", " + damage.contents().keySet() + ": restore says: " + message);
        assertTrue(damage.namedAs().stream().anyMatch(message::contains), "restore does not name any of "
                + damage.namedAs() + ": " + message);
        if (!walHole) {
            assertTrue(template.ids.stream().map(BackupId::toString).anyMatch(message::contains),
                    "restore does not name the backup: " + message);
        }
        assertFalse(Files.exists(target), () -> "a failed restore (" + message + ") left " + target + ": " + listing(target));
        try (Stream<Path> entries = Files.list(dir)) {
            assertTrue(entries.noneMatch(p -> p.getFileName().toString().contains("powdb-restore")), "staging left");
        }

        // What does not need the damaged object is untouched by it.
        if (wal) {
            PowDbFixture.assertSameDatabase(template.latestRestored, restore(repo, new RestorePoint.Latest(), dir), true);
        } else {
            Optional<BackupId> unaffected = template.ids.stream().filter(id -> !users.contains(id)).findFirst();
            if (unaffected.isPresent()) {
                VerifyReport one = new VerifyService(repo).verify(unaffected, dir.resolve("vtmp"), (p, d, t) -> { });
                assertTrue(one.ok(), "backup " + unaffected.get() + " does not need " + key + ": " + one.failures());
                PowDbFixture.assertSameDatabase(template.states.get(unaffected.get()),
                        restore(repo, new RestorePoint.ById(unaffected.get()), dir), true);
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

    private static Path copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> walk = Files.walk(from)) {
            for (Path p : walk.toList()) {
                Path dest = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(dest);
                } else {
                    Files.copy(p, dest);
                }
            }
        }
        return to;
    }

    private static Path restore(Repository repo, RestorePoint point, Path dir) throws IOException {
        Path target = dir.resolve("restored-" + (++restores));
        new RestoreService(repo).restore(point, target, new RestoreOptions(dir.resolve("rtmp"), (p, d, t) -> { }));
        return target;
    }

    /** The undamaged repository every case starts from, and what its restores give. */
    static final class Template {
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

        static Template build(Path root) throws IOException {
            Template t = new Template();
            t.repoDir = root.resolve("template-repo");
            PowDbFixture db = PowDbFixture.create(root.resolve("data"), PowDbFixture.Version.V0_5, 4242);
            BackupOptions options = BackupOptions.defaults().withTempDir(root.resolve("tmp"));
            try (Repository repo = new Repository(new LocalBlobStore(t.repoDir), "")) {
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

        /** The backups whose restore reads {@code key}: the one it is the manifest of and its descendants, or those naming it. */
        Set<BackupId> users(String key, Damage damage) {
            Set<BackupId> users = new LinkedHashSet<>();
            for (String damaged : damage.contents().keySet()) {
                for (BackupId id : ids) {
                    Manifest m = manifests.get(id);
                    boolean names = m.files().stream().flatMap(f -> f.objects().stream()).anyMatch(r -> r.key().equals(damaged));
                    boolean inChain = ids.stream().anyMatch(a -> Repository.manifestKey(a).equals(damaged)
                            && (a.equals(id) || descends(id, a)));
                    if (names || inChain) {
                        users.add(id);
                    }
                }
            }
            return users;
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
