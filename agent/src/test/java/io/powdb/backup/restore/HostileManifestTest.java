package io.powdb.backup.restore;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.powdb.backup.integrity.Blake3;
import io.powdb.backup.repo.Json;
import io.powdb.backup.repo.Manifest;
import io.powdb.backup.repo.Repository;
import io.powdb.backup.repo.RepositoryException;
import io.powdb.backup.repo.RestorePoint;
import io.powdb.backup.store.WriteMode;
import io.powdb.backup.testing.BackupTestSupport;
import io.powdb.backup.verify.VerifyReport;
import io.powdb.backup.verify.VerifyService;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Hostile manifests: well-formed enough to carry a valid checksum (whoever can write the repository can compute
 * one), but malformed, mistyped, incomplete, with impossible counts and sizes, with file names that would escape
 * the target and object keys that would leave the repository. Each must be refused by {@code restore} and
 * reported by {@code verify} with a {@link RepositoryException} (the CLI prints it as one line, exit 1 or 3, no
 * stack trace) whose message says what is wrong, and nothing may be written anywhere: no target, no staging
 * directory, no file outside.
 */
class HostileManifestTest extends BackupTestSupport {
    private static final BigInteger TWO_TO_64_MINUS_1 = BigInteger.ONE.shiftLeft(64).subtract(BigInteger.ONE);

    /** A hostile manifest: raw bytes, or an edit of the newest real manifest that is then re-checksummed. */
    record Hostile(String name, String raw, Consumer<ObjectNode> edit, String expected) {
        @Override
        public String toString() {
            return name;
        }
    }

    private static Hostile raw(String name, String raw, String expected) {
        return new Hostile(name, raw, null, expected);
    }

    private static Hostile edit(String name, Consumer<ObjectNode> edit, String expected) {
        return new Hostile(name, null, edit, expected);
    }

    private static ObjectNode file(ObjectNode m, String kind) {
        for (JsonNode f : m.get("files")) {
            if (f.get("kind").asText().equals(kind)) {
                return (ObjectNode) f;
            }
        }
        throw new AssertionError("no " + kind + " file in " + m);
    }

    private static ObjectNode heap(ObjectNode m) {
        return file(m, "heap");
    }

    private static ObjectNode catalog(ObjectNode m) {
        for (JsonNode f : m.get("files")) {
            if (f.get("name").asText().equals("catalog.bin")) {
                return (ObjectNode) f;
            }
        }
        throw new AssertionError("no catalog.bin");
    }

    private static Consumer<ObjectNode> rename(String to) {
        return m -> heap(m).put("name", to);
    }

    private static Consumer<ObjectNode> objectKey(String key) {
        return m -> ((ObjectNode) catalog(m).get("object")).put("key", key);
    }

    static Stream<Arguments> hostile() {
        return Stream.of(
                raw("malformed JSON", "{\"format\": \"powdb-backup/manifest\", ", "not valid JSON"),
                raw("JSON nested 100000 deep", "[".repeat(100_000), "not valid JSON"),
                raw("an array instead of an object", "[]", "not a powdb-backup manifest"),
                raw("empty", "", "not a powdb-backup manifest"),
                edit("source_lsn is a string", m -> m.put("source_lsn", "many"), "malformed"),
                edit("files is an object", m -> m.putObject("files"), "malformed"),
                edit("a size that is a fraction", m -> catalog(m).put("size", 1.5), "malformed"),
                edit("a size that is a boolean", m -> catalog(m).put("size", true), "malformed"),
                edit("an unknown field", m -> m.put("restore_hook", "rm -rf /"), "malformed"),
                edit("format_version is a string", m -> m.put("format_version", "2"), "format_version"),
                edit("format_version 0", m -> m.put("format_version", 0), "format_version"),
                edit("files missing", m -> m.remove("files"), "backup"),
                edit("chain missing", m -> m.remove("chain"), "backup"),
                edit("a whole file without its object", m -> catalog(m).remove("object"), "incomplete file entry"),
                edit("a heap without its page map", m -> heap(m).remove("page_map"), "incomplete heap entry"),
                edit("a heap with no sources", m -> heap(m).putArray("sources"), "incomplete heap entry"),
                edit("a negative size", m -> catalog(m).put("size", -1), "malformed"),
                edit("size 2^64-1", m -> catalog(m).put("size", TWO_TO_64_MINUS_1), "negative size"),
                edit("size 2^64", m -> catalog(m).put("size", TWO_TO_64_MINUS_1.add(BigInteger.ONE)), "malformed"),
                edit("2^40 pages", m -> heap(m).put("pages", 1L << 40).put("size", (1L << 40) * 4096), "incomplete heap entry"),
                edit("pages that disagree with the size", m -> heap(m).put("pages", 7), "incomplete heap entry"),
                edit("2^32-2 pages, size to match", m -> heap(m).put("pages", (1L << 32) - 2)
                        .put("size", ((1L << 32) - 2) * 4096), "page map"),
                edit("an object size of 2^63", m -> ((ObjectNode) catalog(m).get("object"))
                        .put("size", BigInteger.ONE.shiftLeft(63)), "malformed object reference"),
                edit("a negative content_size", m -> ((ObjectNode) catalog(m).get("object")).put("content_size", -5), "malformed"),
                edit("an unknown compression", m -> ((ObjectNode) catalog(m).get("object")).put("compression", "lz4"), "compression"),
                edit("a page map delta of the wrong format", m -> {
                    ArrayNode deltas = heap(m).withArray("page_map_deltas");
                    deltas.addObject().setAll((ObjectNode) heap(m).get("page_map").deepCopy());
                }, "page map delta has format"),
                edit("file name ..", rename(".."), "unsafe file"),
                edit("file name ../evil.heap", rename("../evil.heap"), "unsafe file"),
                edit("file name /etc/evil.heap", rename("/etc/evil.heap"), "unsafe file"),
                edit("file name /", rename("/"), "unsafe file"),
                edit("file name with NUL", rename("t\u0000.heap"), "unsafe file"),
                edit("file name with a backslash", rename("..\\evil.heap"), "unsafe file"),
                edit("file name empty", rename(""), "unsafe file"),
                edit("file name in a subdirectory", rename("sub/t.heap"), "unsafe file"),
                edit("file name of the wrong kind", rename("evil.idx"), "does not match the file name"),
                edit("a file listed twice", m -> ((ArrayNode) m.get("files")).add(catalog(m).deepCopy()), "twice"),
                edit("object key with ..", objectKey("data/../../outside/catalog.bin"), "unsafe object key"),
                edit("object key absolute", objectKey("/etc/passwd"), "unsafe object key"),
                edit("object key with NUL", objectKey("data/x\u0000/files/catalog.bin"), "unsafe object key"),
                edit("object key of another backup's session", objectKey("data/20200101T000000000Z-abcdef/files/catalog.bin"),
                        "belongs to no backup of its chain"),
                edit("object key outside data/", objectKey("manifests/other.json"), "belongs to no backup of its chain"),
                edit("object key empty", objectKey(""), "malformed object reference")
        ).map(Arguments::of);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("hostile")
    void isRefusedWithAClearErrorAndWritesNothing(Hostile hostile) throws IOException {
        db.createTable("t", 6);
        db.writeOptionalWholeFiles();
        backup();
        db.updatePages("t", 2);
        Manifest newest = backup().manifest();
        String key = Repository.manifestKey(newest.backupId());
        byte[] bytes;
        if (hostile.raw() != null) {
            bytes = hostile.raw().getBytes(StandardCharsets.UTF_8);
        } else {
            ObjectNode tree = (ObjectNode) Json.MAPPER.readTree(repository.store().readAllBytes(key, 1 << 20));
            tree.remove("manifest_blake3");
            hostile.edit().accept(tree);
            tree.put("manifest_blake3", Blake3.hex(Json.MAPPER.writeValueAsBytes(tree)));
            bytes = Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsBytes(tree);
        }
        repository.store().delete(key);
        repository.store().putBytes(key, bytes, WriteMode.CREATE_NEW);
        List<String> before = tree(tmp);

        Path target = tmp.resolve("target");
        RepositoryException e = assertThrows(RepositoryException.class, () -> restore(new RestorePoint.Latest(), target));
        String message = e.getMessage();
        assertTrue(message.contains(hostile.expected()), "expected '" + hostile.expected() + "' in: " + message);
        assertTrue(message.contains(newest.id()), "the backup is named: " + message);
        assertFalse(message.contains("\u0000"), "control characters are not echoed raw");
        assertFalse(Files.exists(target, java.nio.file.LinkOption.NOFOLLOW_LINKS));
        assertEquals(before, tree(tmp), "nothing written anywhere");

        VerifyReport report = new VerifyService(repository).verify(Optional.empty(), tmp.resolve("tmp"), (p, d, t) -> { });
        assertFalse(report.ok());
        assertTrue(String.join("\n", report.failures()).contains(newest.id()), report.failures().toString());
    }

    /** Every path under {@code root} but scratch space, which the restore empties again. */
    private static List<String> tree(Path root) throws IOException {
        try (Stream<Path> walk = Files.walk(root)) {
            return walk.map(p -> root.relativize(p).toString()).filter(p -> !p.startsWith("tmp")).sorted().toList();
        }
    }
}
