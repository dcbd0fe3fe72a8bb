package io.powdb.backup.repo;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.powdb.backup.integrity.Blake3;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ManifestCodecTest {
    private static final String HASH = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262";

    static Manifest sample(long lsn, String fileName) {
        BackupId id = new BackupId(lsn, Instant.parse("2026-11-21T10:15:00.123Z"), "abcdef");
        String data = Repository.dataPrefix(id);
        ObjectRef catalog = new ObjectRef(data + "files/catalog.bin", 10, HASH, ObjectRef.RAW);
        ObjectRef map = new ObjectRef(data + "maps/t.heap.map", 32, HASH, ObjectRef.PAGE_MAP);
        ObjectRef image = new ObjectRef(data + "heaps/t.heap", 4096, HASH, ObjectRef.RAW);
        return new Manifest(Manifest.FORMAT, Manifest.FORMAT_VERSION, id.toString(), Manifest.FULL, null, id.toString(),
                "0badcafe", null, Manifest.QUIESCENT, lsn, lsn, null, null, id.created().toString(), "test", 4096,
                List.of(FileEntry.whole(fileName, io.powdb.backup.format.FileKind.WHOLE, 10, catalog),
                        FileEntry.heap("t.heap", 1, lsn, map, List.of(), List.of(image), 1)),
                List.of(), new BackupStats(2, 4106, 4138, 3, 1, 1, 0, 5));
    }

    @Test
    void roundTripsAndStaysReadableJson() throws Exception {
        Manifest manifest = sample(4711, "catalog.bin");
        byte[] encoded = ManifestCodec.encode(manifest);
        String text = new String(encoded, StandardCharsets.UTF_8);
        assertTrue(text.contains("\"source_lsn\" : 4711"), text);
        assertTrue(text.contains("\"manifest_blake3\""), text);
        assertEquals(manifest, ManifestCodec.decode(encoded, "m"));
    }

    @Test
    void compressedObjectsCarryCompressionAndContentSizeAndPlainOnesNeither() throws Exception {
        Manifest plain = sample(4711, "catalog.bin");
        String plainText = new String(ManifestCodec.encode(plain), StandardCharsets.UTF_8);
        assertTrue(!plainText.contains("compression") && !plainText.contains("content_size"), plainText);

        FileEntry catalog = plain.files().get(0);
        ObjectRef frame = new ObjectRef(catalog.object().key(), 7, HASH.replace('a', 'b'), ObjectRef.RAW, ObjectRef.ZSTD, 10L);
        ObjectRef image = new ObjectRef("data/x/heaps/t.heap", 99, HASH, ObjectRef.RAW, ObjectRef.ZSTD, 4096L);
        FileEntry heap = plain.files().get(1);
        Manifest compressed = new Manifest(plain.format(), plain.formatVersion(), plain.id(), plain.type(), plain.parent(),
                plain.chain(), plain.history(), plain.forkedFrom(), plain.consistency(), plain.sourceLsn(),
                plain.maxPageLsn(), plain.walEndLsn(), plain.walAnchor(), plain.created(), plain.toolVersion(),
                plain.pageSize(), List.of(FileEntry.whole("catalog.bin", io.powdb.backup.format.FileKind.WHOLE, 10, HASH, frame),
                FileEntry.heap("t.heap", 1, 4711, heap.pageMap(), List.of(), List.of(image), 1)),
                plain.removed(), plain.stats());
        byte[] encoded = ManifestCodec.encode(compressed);
        String text = new String(encoded, StandardCharsets.UTF_8);
        assertTrue(text.contains("\"compression\" : \"zstd\"") && text.contains("\"content_size\" : 10"), text);
        Manifest decoded = ManifestCodec.decode(encoded, "m");
        assertEquals(compressed, decoded);
        assertEquals(10, decoded.files().get(0).object().contentLength());
        assertEquals(7, decoded.files().get(0).object().size());
        assertEquals(HASH, decoded.files().get(0).blake3(), "the file keeps its content's hash");

        // A compressed whole file's content_size must be the file's size; a plain one's hash must be the file's.
        assertThrows(IntegrityException.class, () -> ManifestCodec.decode(resigned(compressed,
                tree -> ((ObjectNode) tree.get("files").get(0).get("object")).put("content_size", 11)), "m"));
        assertThrows(IntegrityException.class, () -> ManifestCodec.decode(resigned(plain,
                tree -> ((ObjectNode) tree.get("files").get(0)).put("blake3", HASH.replace('a', 'c'))), "m"));
        assertThrows(IntegrityException.class, () -> ManifestCodec.decode(resigned(compressed,
                tree -> ((ObjectNode) tree.get("files").get(1).get("sources").get(0)).put("compression", "gzip")), "m"));
        assertThrows(IntegrityException.class, () -> ManifestCodec.decode(resigned(compressed,
                tree -> ((ObjectNode) tree.get("files").get(1).get("sources").get(0)).remove("content_size")), "m"));
        assertThrows(IntegrityException.class, () -> ManifestCodec.decode(resigned(plain,
                tree -> ((ObjectNode) tree.get("files").get(1).get("page_map")).put("content_size", 32)), "m"));
    }

    @Test
    void lsnsAboveTwoToThe63AreWrittenUnsigned() throws Exception {
        Manifest manifest = sample(-2L, "catalog.bin");
        String text = new String(ManifestCodec.encode(manifest), StandardCharsets.UTF_8);
        assertTrue(text.contains("\"source_lsn\" : 18446744073709551614"), text);
        assertEquals(-2L, ManifestCodec.decode(text.getBytes(StandardCharsets.UTF_8), "m").sourceLsn());
    }

    @Test
    void anyEditIsDetected() throws Exception {
        String text = new String(ManifestCodec.encode(sample(4711, "catalog.bin")), StandardCharsets.UTF_8);
        String edited = text.replace("\"size\" : 10", "\"size\" : 11");
        IntegrityException e = assertThrows(IntegrityException.class,
                () -> ManifestCodec.decode(edited.getBytes(StandardCharsets.UTF_8), "manifests/x.json"));
        assertTrue(e.getMessage().contains("manifests/x.json") && e.getMessage().contains("checksum"), e.getMessage());
        assertThrows(IntegrityException.class,
                () -> ManifestCodec.decode(text.substring(0, text.length() / 2).getBytes(StandardCharsets.UTF_8), "m"));
        assertThrows(IntegrityException.class,
                () -> ManifestCodec.decode(text.replace("manifest_blake3", "other").getBytes(StandardCharsets.UTF_8), "m"));
    }

    @Test
    void aFormatOneManifestIsStillRead() throws Exception {
        Manifest current = sample(1, "catalog.bin");
        Manifest old = new Manifest(current.format(), 1, current.id(), current.type(), current.parent(), current.chain(),
                current.history(), current.forkedFrom(), current.consistency(), current.sourceLsn(), current.maxPageLsn(),
                current.walEndLsn(), current.walAnchor(), current.created(), current.toolVersion(), current.pageSize(),
                current.files(), current.removed(), current.stats());
        assertEquals(1, ManifestCodec.decode(ManifestCodec.encode(old), "m").formatVersion());
    }

    @Test
    void aNewerFormatVersionIsRefusedAsNewerNotAsDamaged() throws Exception {
        ObjectNode tree = (ObjectNode) Json.MAPPER.readTree(ManifestCodec.encode(sample(1, "catalog.bin")));
        tree.put("format_version", Manifest.FORMAT_VERSION + 1);
        tree.put("something_new", true);
        RepositoryException e = assertThrows(RepositoryException.class,
                () -> ManifestCodec.decode(Json.MAPPER.writeValueAsBytes(tree), "m"));
        assertTrue(!(e instanceof IntegrityException) && e.getMessage().contains("newer powdb-backup"), e.getMessage());
    }

    @Test
    void unknownFieldsAreRefusedEvenWithAValidChecksum() throws Exception {
        assertInstanceOf(IntegrityException.class, assertThrows(RepositoryException.class,
                () -> ManifestCodec.decode(resigned(tree -> tree.put("extra", 1)), "m")));
    }

    @Test
    void unsafeFileNamesAreRefusedEvenWithAValidChecksum() throws Exception {
        for (String name : new String[] {"../escape", "/etc/passwd", "a/b", "..", "", "a\\b"}) {
            IntegrityException e = assertThrows(IntegrityException.class,
                    () -> ManifestCodec.decode(ManifestCodec.encode(sample(1, name)), "m"), name);
            assertTrue(e.getMessage().contains("unsafe") || e.getMessage().contains("does not match"), e.getMessage());
        }
    }

    @Test
    void negativeOrHugeNumbersAreRefused() throws Exception {
        assertThrows(IntegrityException.class, () -> ManifestCodec.decode(resigned(tree ->
                ((ObjectNode) tree.get("files").get(0)).put("size", -5)), "m"));
        assertThrows(IntegrityException.class, () -> ManifestCodec.decode(resigned(tree ->
                tree.put("source_lsn", new java.math.BigInteger("18446744073709551616"))), "m"));
        assertThrows(IntegrityException.class, () -> ManifestCodec.decode(resigned(tree ->
                ((ObjectNode) tree.get("files").get(1)).put("pages", 1L << 40)), "m"));
    }

    @Test
    void duplicateKeysAreRefused() throws Exception {
        String text = new String(ManifestCodec.encode(sample(1, "catalog.bin")), StandardCharsets.UTF_8);
        String duplicated = text.replaceFirst("\\{", "{\"type\" : \"full\",");
        assertThrows(IntegrityException.class, () -> ManifestCodec.decode(duplicated.getBytes(StandardCharsets.UTF_8), "m"));
    }

    /** Edits a manifest and recomputes its checksum, as an attacker or a buggy writer could. */
    private static byte[] resigned(java.util.function.Consumer<ObjectNode> edit) throws Exception {
        return resigned(sample(1, "catalog.bin"), edit);
    }

    private static byte[] resigned(Manifest manifest, java.util.function.Consumer<ObjectNode> edit) throws Exception {
        ObjectNode tree = (ObjectNode) Json.MAPPER.readTree(ManifestCodec.encode(manifest));
        tree.remove(ManifestCodec.CHECKSUM_FIELD);
        edit.accept(tree);
        tree.put(ManifestCodec.CHECKSUM_FIELD, Blake3.hex(Json.MAPPER.writeValueAsBytes(tree)));
        return Json.MAPPER.writeValueAsBytes(tree);
    }
}
