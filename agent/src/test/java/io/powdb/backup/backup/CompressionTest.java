package io.powdb.backup.backup;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.powdb.backup.integrity.Blake3;
import io.powdb.backup.repo.BackupId;
import io.powdb.backup.repo.FileEntry;
import io.powdb.backup.repo.IntegrityException;
import io.powdb.backup.repo.Json;
import io.powdb.backup.repo.Manifest;
import io.powdb.backup.repo.ObjectRef;
import io.powdb.backup.repo.Repository;
import io.powdb.backup.repo.RestorePoint;
import io.powdb.backup.store.WriteMode;
import io.powdb.backup.testing.BackupTestSupport;
import io.powdb.backup.testing.PowDbFixture;
import io.powdb.backup.verify.VerifyReport;
import io.powdb.backup.verify.VerifyService;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * zstd compression of stored objects: on by default, off with {@link Compression#NONE}, mixed within a chain,
 * and every way a compressed object can be wrong is caught before anything is restored.
 */
class CompressionTest extends BackupTestSupport {

    private byte[] stored(ObjectRef ref) throws IOException {
        try (InputStream in = repository.store().open(repository.key(ref.key()))) {
            return in.readAllBytes();
        }
    }

    private static FileEntry entry(Manifest m, String name) {
        return BackupRestoreRoundTripTest.entry(m, name);
    }

    private BackupResult backup(Compression compression) throws IOException {
        db.checkpoint();
        return new BackupService(repository).backup(db.dir(), options().withCompression(compression));
    }

    @ParameterizedTest
    @EnumSource(PowDbFixture.Version.class)
    void byDefaultHeapsAndFilesAreStoredCompressedAndRestoreByteForByte(PowDbFixture.Version version)
            throws IOException {
        db = PowDbFixture.create(tmp.resolve("data-" + version), version, 7);
        db.createTable("users", 300);
        db.createTable("orders", 40);
        db.writeOptionalWholeFiles();
        Manifest m = backup().manifest();
        long content = 0;
        long stored = 0;
        for (String heap : List.of("users.heap", "orders.heap")) {
            ObjectRef image = entry(m, heap).sources().get(0);
            assertEquals(ObjectRef.ZSTD, image.compression(), image.toString());
            assertEquals(Files.size(db.dir().resolve(heap)), image.contentLength());
            // size and blake3 are the stored frame's: what b3sum of a downloaded copy gives.
            byte[] frame = stored(image);
            assertEquals(image.size(), frame.length);
            assertEquals(image.blake3(), Blake3.hex(frame));
            assertArrayEquals(Files.readAllBytes(db.dir().resolve(heap)), com.github.luben.zstd.Zstd.decompress(frame,
                    Math.toIntExact(image.contentSize())));
            assertNull(entry(m, heap).pageMap().compression(), "page maps are stored as they are");
            content += image.contentLength();
            stored += image.size();
        }
        assertTrue(stored * 3 < content * 2, "heaps compress (to " + stored + " of " + content + " bytes)");
        System.out.printf("%s fixture heaps: %d bytes stored for %d (%.2fx)%n", version, stored, content,
                (double) content / stored);

        FileEntry catalog = entry(m, PowDbFixture.CATALOG);
        byte[] catalogBytes = Files.readAllBytes(db.catalogPath());
        assertEquals(ObjectRef.ZSTD, catalog.object().compression());
        assertEquals(catalogBytes.length, catalog.size());
        assertEquals(catalogBytes.length, catalog.object().contentSize());
        assertEquals(Blake3.hex(catalogBytes), catalog.blake3(), "the entry keeps the content's hash");
        assertEquals(Blake3.hex(stored(catalog.object())), catalog.object().blake3());
        assertTrue(m.stats().bytesUploaded() < m.stats().bytesScanned(), m.stats().toString());

        Path restored = restore(new RestorePoint.Latest());
        PowDbFixture.assertSameDatabase(db.dir(), restored, true);
        PowDbFixture.open(restored, version, 1);

        // An incremental stores its page pack compressed too; an unchanged file is not stored again.
        db.updatePages("users", 3, 200);
        Manifest incremental = backup().manifest();
        ObjectRef pack = entry(incremental, "users.heap").sources().get(0);
        assertEquals(ObjectRef.PAGES, pack.format());
        assertEquals(ObjectRef.ZSTD, pack.compression());
        assertEquals(20 + 2 * (4 + 4096) + 12, pack.contentLength());
        if (entry(incremental, PowDbFixture.CATALOG).blake3().equals(catalog.blake3())) {
            assertEquals(catalog.object(), entry(incremental, PowDbFixture.CATALOG).object());
        }
        PowDbFixture.assertSameDatabase(db.dir(), restore(new RestorePoint.Latest()), true);
    }

    @Test
    void withoutCompressionObjectsAreTheFilesThemselves() throws IOException {
        db.createTable("users", 50);
        db.writeOptionalWholeFiles();
        Manifest m = backup(Compression.NONE).manifest();
        for (FileEntry file : m.files()) {
            for (ObjectRef ref : file.objects()) {
                assertNull(ref.compression(), ref.toString());
                assertNull(ref.contentSize(), ref.toString());
                assertEquals(ref.blake3(), Blake3.hex(stored(ref)));
            }
            if (!file.isHeap()) {
                byte[] content = Files.readAllBytes(db.dir().resolve(file.name()));
                assertEquals(Blake3.hex(content), file.object().blake3(), file.name());
                assertEquals(file.blake3(), file.object().blake3());
                assertArrayEquals(content, stored(file.object()), file.name());
            }
        }
        assertArrayEquals(Files.readAllBytes(db.heapPath("users")), stored(entry(m, "users.heap").sources().get(0)));
        String json = new String(repository.store().readAllBytes(Repository.manifestKey(m.backupId()), 1 << 20),
                java.nio.charset.StandardCharsets.UTF_8);
        assertFalse(json.contains("compression") || json.contains("content_size"), "as written before compression");
        PowDbFixture.assertSameDatabase(db.dir(), restore(new RestorePoint.Latest()), true);
    }

    @Test
    void aChainMixingCompressedAndPlainBackupsRestoresEveryPoint() throws IOException {
        db.createTable("users", 60);
        db.createTable("orders", 20);
        db.writeOptionalWholeFiles();
        List<BackupId> ids = new ArrayList<>();
        List<Path> states = new ArrayList<>();
        ids.add(backup(Compression.NONE).manifest().backupId());
        states.add(snapshot("0"));
        db.updatePages("users", 1, 30);
        db.rewriteIndex("users", false);
        ids.add(backup(Compression.zstd(3)).manifest().backupId());
        states.add(snapshot("1"));
        db.updatePages("users", 2, 30, 59);
        db.updatePages("orders", 5);
        Manifest last = backup(Compression.NONE).manifest();
        ids.add(last.backupId());
        states.add(snapshot("2"));

        assertEquals(Manifest.INCREMENTAL, last.type());
        List<ObjectRef> sources = entry(last, "users.heap").sources();
        assertEquals(3, sources.size());
        assertNull(sources.get(0).compression(), "the newest pack is plain");
        assertEquals(ObjectRef.ZSTD, sources.get(1).compression(), "the middle one compressed");
        assertNull(sources.get(2).compression(), "the full image plain");
        for (int i = 0; i < ids.size(); i++) {
            PowDbFixture.assertSameDatabase(states.get(i), restore(new RestorePoint.ById(ids.get(i))), true);
        }
        assertTrue(new VerifyService(repository).verify(Optional.empty(), tmp.resolve("vtmp"), (p, d, t) -> { }).ok());
    }

    @Test
    void aFlippedByteInACompressedObjectIsNamedAsDamageBeforeAnythingIsRestored() throws IOException {
        db.createTable("users", 80);
        db.writeOptionalWholeFiles();
        Manifest m = backup().manifest();
        for (ObjectRef ref : List.of(entry(m, "users.heap").sources().get(0), entry(m, PowDbFixture.CATALOG).object())) {
            assertEquals(ObjectRef.ZSTD, ref.compression());
            byte[] original = stored(ref);
            byte[] damaged = original.clone();
            damaged[damaged.length / 2] ^= 0x01;
            replace(repository.key(ref.key()), damaged);
            Path target = newTarget();
            IntegrityException e = assertThrows(IntegrityException.class, () -> restore(new RestorePoint.Latest(), target));
            assertTrue(e.getMessage().contains(ref.key()) && e.getMessage().contains("damaged"), e.getMessage());
            assertFalse(Files.exists(target));
            VerifyReport report = new VerifyService(repository).verify(Optional.empty(), tmp.resolve("vtmp"),
                    (p, d, t) -> { });
            assertFalse(report.ok());
            assertTrue(String.join("\n", report.failures()).contains(ref.key()), report.failures().toString());
            replace(repository.key(ref.key()), original);
        }
        PowDbFixture.assertSameDatabase(db.dir(), restore(new RestorePoint.Latest()), true);
    }

    /**
     * Damage inside the frame that keeps the stored hash valid cannot be made; a manifest whose content_size
     * is wrong (re-signed, as a buggy writer could) stands in for a decompressor that gives the wrong amount.
     */
    @Test
    void aWrongContentSizeIsDetected() throws IOException {
        db.createTable("users", 30);
        db.writeOptionalWholeFiles();
        backup();
        db.updatePages("users", 4, 9);
        Manifest m = backup().manifest();
        ObjectRef pack = entry(m, "users.heap").sources().get(0);
        ObjectRef image = entry(m, "users.heap").sources().get(1);
        String manifestKey = Repository.manifestKey(m.backupId());
        byte[] original = repository.store().readAllBytes(manifestKey, 1 << 20);

        // An image said to be a page shorter or longer, a pack a byte longer.
        List<Consumer<ObjectNode>> edits = List.of(
                tree -> source(tree, "users.heap", 1).put("content_size", image.contentSize() - 4096),
                tree -> source(tree, "users.heap", 1).put("content_size", image.contentSize() + 4096),
                tree -> source(tree, "users.heap", 0).put("content_size", pack.contentSize() + 1),
                tree -> source(tree, "users.heap", 0).put("content_size", pack.contentSize() - 1));
        for (Consumer<ObjectNode> edit : edits) {
            replace(manifestKey, resigned(original, edit));
            Path target = newTarget();
            IntegrityException e = assertThrows(IntegrityException.class, () -> restore(new RestorePoint.Latest(), target));
            assertTrue(e.getMessage().contains("users.heap"), e.getMessage());
            assertFalse(Files.exists(target));
            assertFalse(new VerifyService(repository).verify(Optional.empty(), tmp.resolve("vtmp"), (p, d, t) -> { }).ok());
        }

        // A whole file whose entry and object agree on a wrong size: the content does not have it.
        replace(manifestKey, resigned(original, tree -> {
            ObjectNode catalog = file(tree, PowDbFixture.CATALOG);
            long size = catalog.get("size").asLong() + 1;
            catalog.put("size", size);
            ((ObjectNode) catalog.get("object")).put("content_size", size);
        }));
        IntegrityException e = assertThrows(IntegrityException.class, () -> restore(new RestorePoint.Latest()));
        assertTrue(e.getMessage().contains("catalog.bin") && e.getMessage().contains("content_size"), e.getMessage());

        // A whole file whose content hash is wrong: decompressed, it does not match its entry.
        replace(manifestKey, resigned(original, tree -> file(tree, PowDbFixture.CATALOG).put("blake3", "0".repeat(64))));
        e = assertThrows(IntegrityException.class, () -> restore(new RestorePoint.Latest()));
        assertTrue(e.getMessage().contains("catalog.bin") && e.getMessage().contains("does not match its file"),
                e.getMessage());
        VerifyReport report = new VerifyService(repository).verify(Optional.empty(), tmp.resolve("vtmp"), (p, d, t) -> { });
        assertTrue(String.join("\n", report.failures()).contains("does not match its file"), report.failures().toString());

        // content_size on a plain object, or a compression this version does not know: refused as malformed.
        for (Consumer<ObjectNode> edit : List.<Consumer<ObjectNode>>of(
                tree -> ((ObjectNode) file(tree, "users.heap").get("page_map")).put("content_size", 10),
                tree -> source(tree, "users.heap", 0).put("compression", "lz4"),
                tree -> source(tree, "users.heap", 0).remove("content_size"),
                tree -> source(tree, "users.heap", 0).put("content_size", -1))) {
            replace(manifestKey, resigned(original, edit));
            assertThrows(IntegrityException.class, () -> restore(new RestorePoint.Latest()));
        }

        replace(manifestKey, original);
        PowDbFixture.assertSameDatabase(db.dir(), restore(new RestorePoint.Latest()), true);
    }

    private static ObjectNode file(ObjectNode manifest, String name) {
        for (com.fasterxml.jackson.databind.JsonNode f : manifest.get("files")) {
            if (f.get("name").asText().equals(name)) {
                return (ObjectNode) f;
            }
        }
        throw new AssertionError("no " + name);
    }

    private static ObjectNode source(ObjectNode manifest, String heap, int index) {
        return (ObjectNode) file(manifest, heap).get("sources").get(index);
    }

    /** The manifest edited, with its checksum made valid again (as a buggy writer would produce it). */
    private static byte[] resigned(byte[] manifest, Consumer<ObjectNode> edit) throws IOException {
        ObjectNode tree = (ObjectNode) Json.MAPPER.readTree(manifest);
        tree.remove("manifest_blake3");
        edit.accept(tree);
        tree.put("manifest_blake3", Blake3.hex(Json.MAPPER.writeValueAsBytes(tree)));
        return Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsBytes(tree);
    }

    private void replace(String key, byte[] bytes) throws IOException {
        repository.store().delete(key);
        repository.store().putBytes(key, bytes, WriteMode.CREATE_NEW);
    }

    @Test
    void compressionSettingsParseAndRefuseNonsense() {
        assertEquals(Compression.zstd(1), Compression.parse("zstd:1"));
        assertEquals(Compression.zstd(1), Compression.parse("ZSTD"));
        assertEquals(Compression.zstd(19), Compression.parse(" zstd:19 "));
        assertEquals(Compression.NONE, Compression.parse("none"));
        assertEquals("zstd:1", Compression.defaults().toString());
        assertEquals("none", Compression.NONE.toString());
        assertEquals(Compression.DEFAULT, Compression.defaults().toString());
        for (String bad : new String[] {"", "gzip", "zstd:0", "zstd:20", "zstd:x", "zstd:", "none:1"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Compression.parse(bad), bad);
            assertTrue(e.getMessage().contains("zstd"), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> Compression.NONE.withLevel(3));
    }
}
