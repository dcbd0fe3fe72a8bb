package io.powdb.backup.crypto;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MasterKeyTest {
    @TempDir
    Path tmp;

    /** Every way the key's bytes could be printed. */
    static List<String> renderings(byte[] key) {
        return List.of(Base64.getEncoder().encodeToString(key), HexFormat.of().formatHex(key),
                HexFormat.of().withUpperCase().formatHex(key), Base64.getUrlEncoder().encodeToString(key));
    }

    @Test
    void keygenWritesAnOwnerOnlyFileThatLoadsBackAndNeverOverwrites() throws IOException {
        Path file = tmp.resolve("backup.key");
        MasterKey written = MasterKey.generateFile(file);
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
        MasterKey.Loaded loaded = MasterKey.load(file);
        assertEquals(List.of(), loaded.warnings());
        assertEquals(written.id(), loaded.key().id());
        assertArrayEquals(written.material(), loaded.key().material());
        assertTrue(Files.readString(file).contains("id: " + written.id()));
        assertEquals(16, written.id().length());
        assertFalse(written.toString().contains(Base64.getEncoder().encodeToString(written.material())));

        byte[] before = Files.readAllBytes(file);
        EncryptionKeyException e = assertThrows(EncryptionKeyException.class, () -> MasterKey.generateFile(file));
        assertTrue(e.getMessage().contains("already exists"), e.getMessage());
        assertArrayEquals(before, Files.readAllBytes(file));
    }

    @Test
    void aKeyFileOthersCanReadLoadsWithAWarning() throws IOException {
        Path file = tmp.resolve("k");
        MasterKey.generateFile(file);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
        MasterKey.Loaded loaded = MasterKey.load(file);
        assertEquals(1, loaded.warnings().size());
        assertTrue(loaded.warnings().get(0).contains("readable by every user"), loaded.warnings().toString());
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("r--r-----"));
        assertEquals(List.of(), MasterKey.load(file).warnings()); // Kubernetes' 0440 with fsGroup
    }

    @Test
    void badKeyFilesGetClearErrorsWithoutKeyMaterial() throws IOException {
        MasterKey good = MasterKey.generateFile(tmp.resolve("good"));
        String text = Files.readString(tmp.resolve("good"));
        String encoded = Base64.getEncoder().encodeToString(good.material());
        byte[] shortKey = new byte[16];
        String[][] cases = {
                {"", "is empty"},
                {"# only a comment\n", "is empty"},
                {"hello\n", "first line"},
                {MasterKey.FILE_HEADER + "\nid: 00\n", "no 'key:'"},
                {MasterKey.FILE_HEADER + "\nkey: !!!notbase64\n", "not valid base64"},
                {MasterKey.FILE_HEADER + "\nkey: " + Base64.getEncoder().encodeToString(shortKey) + "\n", "16 bytes instead of 32"},
                {text.replaceFirst("id: [0-9a-f]+", "id: 0011223344556677"), "does not belong to its key"},
                {text + "extra: line\n", "unexpected line"},
        };
        for (String[] c : cases) {
            Path file = tmp.resolve("bad-" + Integer.toHexString(c[0].hashCode()));
            Files.writeString(file, c[0], StandardCharsets.US_ASCII);
            EncryptionKeyException e = assertThrows(EncryptionKeyException.class, () -> MasterKey.load(file), c[1]);
            assertTrue(e.getMessage().contains(c[1]), e.getMessage());
            assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
            for (String secret : renderings(good.material())) {
                assertFalse(e.getMessage().contains(secret), "key material in: " + e.getMessage());
            }
        }
        assertFalse(encoded.isEmpty());
        Path huge = tmp.resolve("huge");
        Files.write(huge, new byte[1 << 20]);
        EncryptionKeyException big = assertThrows(EncryptionKeyException.class, () -> MasterKey.load(huge));
        assertTrue(big.getMessage().contains("not a key file"), big.getMessage());
        EncryptionKeyException missing = assertThrows(EncryptionKeyException.class,
                () -> MasterKey.load(tmp.resolve("absent")));
        assertTrue(missing.getMessage().contains("does not exist"), missing.getMessage());
    }

    @Test
    void anUnreadableKeyFileIsRefusedClearly() throws IOException {
        Path file = tmp.resolve("locked");
        MasterKey.generateFile(file);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("---------"));
        if (Files.isReadable(file)) {
            return; // running as root: permissions do not apply
        }
        EncryptionKeyException e = assertThrows(EncryptionKeyException.class, () -> MasterKey.load(file));
        assertTrue(e.getMessage().contains("permission denied"), e.getMessage());
    }

    @Test
    void aWrappedKeyOpensOnlyWithItsMasterKeyAndName() throws Exception {
        MasterKey a = MasterKey.generate();
        MasterKey b = MasterKey.generate();
        byte[] dataKey = new byte[32];
        dataKey[3] = 7;
        Wrapping w = a.wrap("backup-x", dataKey);
        assertArrayEquals(dataKey, a.unwrap("backup-x", w));
        assertThrows(javax.crypto.AEADBadTagException.class, () -> a.unwrap("backup-y", w));
        Wrapping claimed = new Wrapping(b.id(), w.nonce(), w.wrappedKey());
        assertThrows(javax.crypto.AEADBadTagException.class, () -> b.unwrap("backup-x", claimed));
    }
}
