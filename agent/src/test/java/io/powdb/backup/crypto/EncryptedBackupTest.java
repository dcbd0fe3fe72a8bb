package io.powdb.backup.crypto;

import io.powdb.backup.archive.WalShipper;
import io.powdb.backup.backup.BackupService;
import io.powdb.backup.backup.Compression;
import io.powdb.backup.repo.BackupId;
import io.powdb.backup.repo.IntegrityException;
import io.powdb.backup.repo.Manifest;
import io.powdb.backup.repo.ManifestCodec;
import io.powdb.backup.repo.ObjectRef;
import io.powdb.backup.repo.Repository;
import io.powdb.backup.repo.RestorePoint;
import io.powdb.backup.restore.RestoreOptions;
import io.powdb.backup.restore.RestoreService;
import io.powdb.backup.store.BlobInfo;
import io.powdb.backup.store.BlobStore;
import io.powdb.backup.store.local.LocalBlobStore;
import io.powdb.backup.testing.BackupTestSupport;
import io.powdb.backup.testing.PowDbFixture;
import io.powdb.backup.testing.WalRecord;
import io.powdb.backup.testing.WalWriter;
import io.powdb.backup.verify.VerifyReport;
import io.powdb.backup.verify.VerifyService;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Backups, shipped WAL and point-in-time restore in an encrypted repository on the local store, with the
 * PowDB fixture: exact round trips, the wrong or no key, and tampering of every kind of object.
 */
class EncryptedBackupTest extends BackupTestSupport {
    static final MasterKey KEY_A = MasterKey.generate();
    static final MasterKey KEY_B = MasterKey.generate();

    final List<WalRecord> archive = new ArrayList<>();
    WalShipper shipper;
    Path initial;

    @BeforeEach
    void encryptedRepository() throws IOException {
        repository.close();
        repository = open(tmp.resolve("repo"), KEY_A);
    }

    static Repository open(Path dir, MasterKey key) throws IOException {
        return new Repository(new LocalBlobStore(dir), "", key);
    }

    /** A database with a full backup, two incrementals and WAL shipped between and after them. */
    Scenario scenario() throws IOException {
        db = PowDbFixture.create(tmp.resolve("db"), PowDbFixture.Version.V0_5, 77);
        db.createTable("a", 24);
        db.createTable("b", 12);
        db.createTable("c", 24);
        db.checkpoint();
        shipper = new WalShipper(repository, db.dir(), tmp.resolve("ship"), Clock.systemUTC(), 1 << 20);
        initial = snapshot("initial");
        transactionsOnThreeTables(3);
        shipper.shipOnce();
        Manifest full = new BackupService(repository).backup(db.dir(), options().withForceFull(true)).manifest();
        transactionsOnThreeTables(4);
        shipper.shipOnce();
        archive.addAll(db.walRecords());
        db.checkpoint();
        transactionsOnThreeTables(3);
        shipper.shipOnce();
        Manifest inc1 = new BackupService(repository).backup(db.dir(), options()).manifest();
        transactionsOnThreeTables(3);
        shipper.shipOnce();
        Manifest inc2 = new BackupService(repository).backup(db.dir(), options()).manifest();
        transactionsOnThreeTables(2);
        shipper.shipOnce();
        List<WalRecord> records = new ArrayList<>(archive);
        records.addAll(db.walRecords());
        assertTrue(full.isFull());
        assertFalse(inc1.isFull());
        assertFalse(inc2.isFull());
        return new Scenario(full, inc1, inc2, records);
    }

    record Scenario(Manifest full, Manifest inc1, Manifest inc2, List<WalRecord> records) {
        List<Long> commitsFrom(long lsn) {
            return records.stream().filter(r -> r.type() == WalWriter.COMMIT && Long.compareUnsigned(r.lsn(), lsn) >= 0)
                    .map(WalRecord::lsn).toList();
        }

        long lastCommit() {
            List<Long> all = commitsFrom(0);
            return all.get(all.size() - 1);
        }
    }

    void transactionsOnThreeTables(int n) throws IOException {
        for (int i = 0; i < n; i++) {
            db.updateRandomPages(i % 3 == 0 ? "a" : i % 3 == 1 ? "b" : "c", 1 + i % 3);
        }
    }

    void assertRestoresExactly(Repository from, List<WalRecord> records, long lsn) throws IOException {
        Path target = newTarget();
        new RestoreService(from).restore(new RestorePoint.AtOrBeforeLsn(lsn), target, RestoreOptions.defaults());
        PowDbFixture.assertSameDatabase(stateAtCommit(initial, records, lsn, "expected-" + lsn + "-" + target.getFileName()),
                recovered(target, "actual-" + lsn + "-" + target.getFileName()), true);
    }

    @Test
    void fullIncrementalsAndShippedWalRestoreEveryCommitExactly() throws IOException {
        Scenario s = scenario();
        int checked = 0;
        for (long c : s.commitsFrom(s.full().sourceLsn())) {
            assertRestoresExactly(repository, s.records(), c);
            checked++;
        }
        assertTrue(checked >= 12, checked + " points checked");
        VerifyReport report = new VerifyService(repository).verify(Optional.empty(), tmp.resolve("v"), (p, d, t) -> { });
        assertTrue(report.ok(), report.failures().toString());
        assertEncryptedAtRest(tmp.resolve("repo"), s);
    }

    /** Every data object, manifest and segment is ciphertext; references say so; key objects hold no key. */
    static void assertEncryptedAtRest(Path repo, Scenario s) throws IOException {
        int objects = 0;
        try (Stream<Path> files = Files.walk(repo)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                String rel = repo.relativize(f).toString();
                byte[] bytes = Files.readAllBytes(f);
                if (rel.startsWith("data/") || rel.startsWith("manifests/") || rel.endsWith(".seg")) {
                    assertTrue(RepositoryKeys.looksEncrypted(bytes), rel + " is not encrypted");
                    objects++;
                }
                String text = new String(bytes, StandardCharsets.ISO_8859_1);
                for (MasterKey k : List.of(KEY_A, KEY_B)) {
                    for (String secret : MasterKeyTest.renderings(k.material())) {
                        assertFalse(text.contains(secret), rel + " holds a master key");
                    }
                }
            }
        }
        assertTrue(objects > 10, objects + " objects");
        for (Manifest m : List.of(s.full(), s.inc1(), s.inc2())) {
            m.files().forEach(f -> f.objects().forEach(ref -> assertEquals(ObjectRef.AES_256_GCM, ref.encryption(), ref.key())));
            assertTrue(Files.exists(repo.resolve(KeyObject.key(Repository.dataKeyName(m.backupId())))));
        }
        String marker = Files.readString(repo.resolve(Repository.MARKER));
        assertTrue(marker.contains(KEY_A.id()) || marker.contains(KEY_B.id()), marker);
    }

    @Test
    void aMissingOrWrongKeyFailsBeforeAnythingIsWrittenNamingTheKeyIds() throws IOException {
        Scenario s = scenario();
        for (MasterKey given : Arrays.asList(null, KEY_B)) {
            try (Repository other = open(tmp.resolve("repo"), given)) {
                Path target = newTarget();
                EncryptionKeyException e = assertThrows(EncryptionKeyException.class, () -> new RestoreService(other)
                        .restore(new RestorePoint.Latest(), target, RestoreOptions.defaults()));
                assertTrue(e.getMessage().contains(KEY_A.id()), e.getMessage());
                if (given != null) {
                    assertTrue(e.getMessage().contains(KEY_B.id()), e.getMessage());
                }
                assertFalse(Files.exists(target), "restore wrote " + target);
                Path pitTarget = newTarget();
                assertThrows(EncryptionKeyException.class, () -> new RestoreService(other).restore(
                        new RestorePoint.AtOrBeforeLsn(s.lastCommit()), pitTarget, RestoreOptions.defaults()));
                assertFalse(Files.exists(pitTarget));
                EncryptionKeyException v = assertThrows(EncryptionKeyException.class, () -> new VerifyService(other)
                        .verify(Optional.empty(), tmp.resolve("v"), (p, d, t) -> { }));
                assertTrue(v.getMessage().contains(KEY_A.id()), v.getMessage());
                // a backup or shipment with no key or another key is refused, never written in another mode
                EncryptionKeyException w = assertThrows(EncryptionKeyException.class, other::initialize);
                assertTrue(w.getMessage().contains(KEY_A.id()), w.getMessage());
                assertThrows(EncryptionKeyException.class, () -> new BackupService(other).backup(db.dir(), options()));
            }
        }
        assertEquals(3, repository.backupIds().size());
    }

    @Test
    void theRepositoryMarkerKeepsOneModePerRepository() throws IOException {
        db.createTable("t", 8);
        Path plain = tmp.resolve("plain");
        try (Repository p = open(plain, null)) {
            p.initialize();
        }
        // an empty plaintext repository takes the mode of its first writer with a key
        try (Repository enc = open(plain, KEY_A)) {
            db.checkpoint();
            new BackupService(enc).backup(db.dir(), options());
            assertTrue(enc.marker().orElseThrow().encrypted());
        }
        // a plaintext repository that holds backups refuses a key
        Path plainWithBackups = tmp.resolve("plain2");
        try (Repository p = open(plainWithBackups, null)) {
            new BackupService(p).backup(db.dir(), options());
        }
        try (Repository enc = open(plainWithBackups, KEY_A)) {
            EncryptionKeyException e = assertThrows(EncryptionKeyException.class,
                    () -> new BackupService(enc).backup(db.dir(), options()));
            assertTrue(e.getMessage().contains("not encrypted and already holds backups"), e.getMessage());
            assertThrows(EncryptionKeyException.class, enc::requireExists);
            assertEquals(1, enc.backupIds().size());
        }
        // a new repository written with a key is encrypted from the start
        new BackupService(repository).backup(db.dir(), options());
        assertTrue(repository.marker().orElseThrow().encrypted());
        assertEquals(KEY_A.id(), repository.marker().orElseThrow().encryption().masterKeyId());
    }

    // --- tampering: each detected, named, nothing restored ---

    /** A copy of the repository with {@code damage} done to it, opened with key A. */
    Repository tampered(String name, IoAction damage) throws IOException {
        Path copy = copyTree(tmp.resolve("repo"), tmp.resolve("tampered-" + name));
        damage.run(copy);
        return open(copy, KEY_A);
    }

    static Path copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> files = Files.walk(from)) {
            for (Path f : files.toList()) {
                Path t = to.resolve(from.relativize(f).toString());
                if (Files.isDirectory(f)) {
                    Files.createDirectories(t);
                } else {
                    Files.copy(f, t, java.nio.file.StandardCopyOption.COPY_ATTRIBUTES);
                }
            }
        }
        return to;
    }

    @FunctionalInterface
    interface IoAction {
        void run(Path repo) throws IOException;
    }

    static void flipByte(Path file, long offsetFromEnd) throws IOException {
        byte[] b = Files.readAllBytes(file);
        b[(int) (b.length - offsetFromEnd)] ^= 0x01;
        Files.write(file, b);
    }

    void assertRestoreRefused(Repository damaged, RestorePoint point, String... named) throws IOException {
        Path target = newTarget();
        IntegrityException e = assertThrows(IntegrityException.class,
                () -> new RestoreService(damaged).restore(point, target, RestoreOptions.defaults()));
        for (String n : named) {
            assertTrue(e.getMessage().contains(n), "'" + n + "' not in: " + e.getMessage());
        }
        assertFalse(Files.exists(target), "a failed restore left " + target);
        damaged.close();
    }

    @Test
    void tamperingWithAnyObjectIsDetectedAndNamed() throws IOException {
        Scenario s = scenario();
        RestorePoint latest = new RestorePoint.ById(s.inc2().backupId());
        ObjectRef catalog = s.inc2().files().stream().filter(f -> f.name().equals("catalog.bin")).findFirst()
                .orElseThrow().object();
        assertRestoreRefused(tampered("data", r -> flipByte(r.resolve(catalog.key()), 20)), latest, catalog.key());

        String manifest = Repository.manifestKey(s.inc2().backupId());
        assertRestoreRefused(tampered("manifest", r -> flipByte(r.resolve(manifest), 30)), latest, manifest);

        String keyObject = KeyObject.key(Repository.dataKeyName(s.inc2().backupId()));
        assertRestoreRefused(tampered("key", r -> {
            Path k = r.resolve(keyObject);
            String json = Files.readString(k);
            int at = json.indexOf("\"wrapped_key\" : \"") + 20;
            char c = json.charAt(at);
            Files.writeString(k, json.substring(0, at) + (c == 'A' ? 'B' : 'A') + json.substring(at + 1));
        }), latest, keyObject);

        // two page maps of the same size (tables a and c have 24 pages each) swapped
        String mapA = mapKey(s.full(), "a.heap");
        String mapC = mapKey(s.full(), "c.heap");
        assertEquals(Files.size(tmp.resolve("repo").resolve(mapA)), Files.size(tmp.resolve("repo").resolve(mapC)));
        assertRestoreRefused(tampered("swap", r -> {
            byte[] a = Files.readAllBytes(r.resolve(mapA));
            Files.write(r.resolve(mapA), Files.readAllBytes(r.resolve(mapC)));
            Files.write(r.resolve(mapC), a);
        }), new RestorePoint.ById(s.full().backupId()), "maps/");

        // an older manifest copied over the newest one's name
        String older = Repository.manifestKey(s.full().backupId());
        assertRestoreRefused(tampered("replay", r -> Files.copy(r.resolve(older), r.resolve(manifest),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING)), latest, manifest, "swapped or copied");

        // a plaintext manifest (checksummed, as a store could forge) in place of the encrypted one
        byte[] forged = ManifestCodec.encode(s.inc2());
        assertRestoreRefused(tampered("downgrade", r -> Files.write(r.resolve(manifest), forged)), latest, manifest,
                "not encrypted");

        // a shipped WAL segment after the last backup, damaged
        Path lastSegment;
        try (Stream<Path> files = Files.walk(tmp.resolve("repo").resolve("wal"))) {
            lastSegment = files.filter(p -> p.toString().endsWith(".seg")).sorted().reduce((a, b) -> b).orElseThrow();
        }
        String segment = tmp.resolve("repo").relativize(lastSegment).toString();
        assertRestoreRefused(tampered("wal", r -> flipByte(r.resolve(segment), 5)),
                new RestorePoint.AtOrBeforeLsn(s.lastCommit()), segment);
        try (Repository damaged = tampered("wal-verify", r -> flipByte(r.resolve(segment), 5))) {
            VerifyReport report = new VerifyService(damaged).verify(Optional.empty(), tmp.resolve("v"), (p, d, t) -> { });
            assertFalse(report.ok());
            assertTrue(report.failures().toString().contains(segment), report.failures().toString());
        }
    }

    private static String mapKey(Manifest m, String heap) {
        return m.files().stream().filter(f -> f.name().equals(heap)).findFirst().orElseThrow().pageMap().key();
    }

    @Test
    void anObjectTruncatedAtAChunkBoundaryIsDetected() throws IOException {
        db.createTable("big", 200); // 800 KiB, stored uncompressed: several 256 KiB chunks
        db.checkpoint();
        Manifest m = new BackupService(repository).backup(db.dir(), options().withCompression(Compression.NONE)).manifest();
        ObjectRef image = m.files().stream().filter(f -> f.name().equals("big.heap")).findFirst().orElseThrow()
                .sources().get(0);
        int header = ChunkedAead.header(Repository.dataKeyName(m.backupId()), ChunkedAead.DEFAULT_CHUNK_SIZE,
                new byte[ChunkedAead.SALT_BYTES]).length;
        long boundary = header + 2L * (ChunkedAead.DEFAULT_CHUNK_SIZE + ChunkedAead.TAG_BYTES);
        assertTrue(image.size() > boundary, image.size() + " bytes");
        assertRestoreRefused(tampered("truncate", r -> {
            try (var ch = java.nio.channels.FileChannel.open(r.resolve(image.key()), java.nio.file.StandardOpenOption.WRITE)) {
                ch.truncate(boundary);
            }
        }), new RestorePoint.Latest(), image.key());
    }

    // --- prune ---

    @Test
    void pruneDeletesTheDataKeysOfWhatItDeletesAndKeepsEveryOtherOne() throws IOException {
        Scenario s = scenario();
        db.checkpoint();
        Manifest newFull = new BackupService(repository).backup(db.dir(), options().withForceFull(true)).manifest();
        Path keys = tmp.resolve("repo").resolve("keys");
        assertEquals(5, Files.list(keys).count()); // four backups, one WAL timeline
        java.time.Clock later = java.time.Clock.fixed(java.time.Instant.now().plus(java.time.Duration.ofDays(30)),
                java.time.ZoneOffset.UTC);
        io.powdb.backup.retention.PrunePlan plan = io.powdb.backup.retention.PruneService.plan(repository,
                new io.powdb.backup.retention.RetentionPolicy(1, java.time.Duration.ZERO, java.time.Duration.ofHours(1)),
                later);
        assertEquals(List.of(s.inc2().backupId(), s.inc1().backupId(), s.full().backupId()), plan.deletedBackups());
        List<String> keyDeletions = plan.keyObjects().stream().map(io.powdb.backup.retention.PrunePlan.Deletion::key)
                .sorted().toList();
        List<String> expected = new ArrayList<>();
        for (Manifest m : List.of(s.full(), s.inc1(), s.inc2())) {
            expected.add(KeyObject.key(Repository.dataKeyName(m.backupId())));
        }
        expected.sort(null);
        assertEquals(expected, keyDeletions.stream().filter(k -> k.startsWith("keys/backup-")).toList());
        io.powdb.backup.retention.PruneService.Result result = new io.powdb.backup.retention.PruneService(repository)
                .execute(plan);
        assertTrue(result.complete(), result.failure());
        assertTrue(Files.exists(keys.resolve("backup-" + newFull.backupId().session() + ".key")));
        // a timeline's key stays exactly as long as one of its segments does
        try (Stream<Path> timelines = Files.list(tmp.resolve("repo").resolve("wal"))) {
            for (Path t : timelines.toList()) {
                boolean segmentsLeft;
                try (Stream<Path> files = Files.walk(t)) {
                    segmentsLeft = files.anyMatch(p -> p.toString().endsWith(".seg"));
                }
                assertEquals(segmentsLeft, Files.exists(keys.resolve("wal-" + t.getFileName() + ".key")), t.toString());
                assertEquals(!segmentsLeft, keyDeletions.contains("keys/wal-" + t.getFileName() + ".key"));
            }
        }
        VerifyReport report = new VerifyService(repository).verify(Optional.empty(), tmp.resolve("v"), (p, d, t) -> { });
        assertTrue(report.ok(), report.failures().toString());
        assertEquals(List.of(newFull.backupId()), repository.backupIds());
        assertRestoreWorks(newFull.backupId());
    }

    private void assertRestoreWorks(BackupId id) throws IOException {
        Path target = newTarget();
        new RestoreService(repository).restore(new RestorePoint.ById(id), target, RestoreOptions.defaults());
        assertTrue(Files.exists(target.resolve("a.heap")));
    }

    // --- rekey ---

    /** Every stored data object, manifest and segment with its bytes' hash and modification time. */
    static List<String> dataObjects(BlobStore store) throws IOException {
        List<String> all = new ArrayList<>();
        for (String prefix : List.of("data/", "manifests/", "wal/")) {
            for (BlobInfo info : store.listAll(prefix)) {
                if (!info.key().endsWith("heartbeat.json")) {
                    all.add(info.key() + " " + info.size() + " " + info.lastModified() + " "
                            + io.powdb.backup.integrity.Blake3.hex(store.readAllBytes(info.key(), 64 << 20)));
                }
            }
        }
        return all;
    }

    boolean verifiesWith(Path repo, MasterKey key, BackupId id) throws IOException {
        try (Repository r = open(repo, key)) {
            VerifyReport report = new VerifyService(r).verify(Optional.of(id), tmp.resolve("v"), (p, d, t) -> { });
            assertTrue(report.ok(), report.failures().toString());
            return true;
        } catch (EncryptionKeyException e) {
            return false;
        }
    }

    @Test
    void rekeyRewrapsOnlyTheKeysAndTheOldKeyStopsWorking() throws IOException {
        Scenario s = scenario();
        List<String> before = dataObjects(repository.store());
        Rekey.Result result = new Rekey(repository, KEY_A, KEY_B).run();
        assertEquals(4, result.keyObjects()); // three backups and one WAL timeline
        assertEquals(4, result.rewrapped());
        assertEquals(before, dataObjects(repository.store()));
        for (Manifest m : List.of(s.full(), s.inc1(), s.inc2())) {
            assertFalse(verifiesWith(tmp.resolve("repo"), KEY_A, m.backupId()));
            assertTrue(verifiesWith(tmp.resolve("repo"), KEY_B, m.backupId()));
        }
        try (Repository b = open(tmp.resolve("repo"), KEY_B)) {
            assertRestoresExactly(b, s.records(), s.lastCommit());
            new BackupService(b).backup(db.dir(), options()); // new backups use the new key
        }
        assertThrows(EncryptionKeyException.class, () -> new BackupService(repository).backup(db.dir(), options()));
        // a second run has nothing left to do
        Rekey.Result again = new Rekey(open(tmp.resolve("repo"), KEY_A), KEY_A, KEY_B).run();
        assertEquals(0, again.rewrapped());
        assertEquals(0, again.dropped());
        assertEncryptedAtRest(tmp.resolve("repo"), s);
    }

    @Test
    void anInterruptedRekeyLeavesEveryBackupRestorableAndARerunFinishes() throws IOException {
        Scenario s = scenario();
        List<BackupId> ids = List.of(s.full().backupId(), s.inc1().backupId(), s.inc2().backupId());
        int writes = 4 + 1 + 4; // add a wrapping to each key object, the marker, drop the old wrappings
        for (int k = 0; k < writes; k++) {
            Path copy = copyTree(tmp.resolve("repo"), tmp.resolve("rekey-" + k));
            FailingAfter failing = new FailingAfter(new LocalBlobStore(copy), k);
            try (Repository r = new Repository(failing, "", KEY_A)) {
                IOException e = assertThrows(IOException.class, () -> new Rekey(r, KEY_A, KEY_B).run());
                assertTrue(e.getMessage().contains("injected"), e.getMessage());
            }
            for (BackupId id : ids) {
                assertTrue(verifiesWith(copy, KEY_A, id) || verifiesWith(copy, KEY_B, id),
                        "after " + k + " writes, backup " + id + " opens with neither key");
            }
            try (Repository r = open(copy, KEY_A)) {
                new Rekey(r, KEY_A, KEY_B).run();
            }
            for (BackupId id : ids) {
                assertTrue(verifiesWith(copy, KEY_B, id));
                assertFalse(verifiesWith(copy, KEY_A, id));
            }
        }
    }

    /** A store whose writes fail after the first {@code allowed}. */
    static final class FailingAfter extends io.powdb.backup.store.ForwardingBlobStore {
        private int allowed;

        FailingAfter(BlobStore delegate, int allowed) {
            super(delegate);
            this.allowed = allowed;
        }

        @Override
        public io.powdb.backup.store.BlobWriter newWriter(String key, io.powdb.backup.store.WriteMode mode)
                throws IOException {
            if (allowed-- <= 0) {
                throw new IOException("injected failure writing " + key);
            }
            return super.newWriter(key, mode);
        }
    }
}
