package io.powdb.backup.crypto;

import io.powdb.backup.repo.IntegrityException;
import io.powdb.backup.repo.RepositoryException;
import io.powdb.backup.store.ForwardingBlobStore;
import io.powdb.backup.store.local.LocalBlobStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Every single bit of a key object flipped, read with the right master key. The corruption catalogue flips
 * three bytes of each object; a key object is small JSON whose fields mean different things, so this sweeps
 * all of them. A flip must be reported as damage naming the key object, never as "give another key" (that
 * sends the operator looking for a key that never existed), and never yield another data key. Two
 * exceptions, both asserted to be exactly where they may be: a format version turned into a higher digit is
 * read as written by a newer powdb-backup ("upgrade"; nothing can tell the two apart), and a creation time
 * turned into another valid time is accepted (it is not authenticated, and nothing uses it).
 */
class KeyObjectDamageTest {
    private static final String NAME = "backup-20261121T101500123Z-3fa9c1";

    @TempDir
    Path tmp;

    /** Serves one key object from memory, so thousands of variants cost no file writes. */
    static final class OneObject extends ForwardingBlobStore {
        byte[] bytes;

        OneObject(Path dir) throws IOException {
            super(new LocalBlobStore(dir));
        }

        @Override
        public InputStream open(String key) throws IOException {
            return key.equals(KeyObject.key(NAME)) && bytes != null ? new ByteArrayInputStream(bytes) : super.open(key);
        }
    }

    @Test
    void everyBitFlippedIsDamageNamingTheKeyObjectNeverAnotherKey() throws IOException {
        MasterKey master = MasterKey.generate();
        OneObject store = new OneObject(tmp);
        DataKey written = new RepositoryKeys(store, "", master).forWriting(NAME);
        byte[] original = store.readAllBytes(KeyObject.key(NAME), 1 << 16);
        String text = new String(original, StandardCharsets.UTF_8);
        int version = text.indexOf("\"format_version\" : ") + "\"format_version\" : ".length();
        int createdFrom = text.indexOf('"', text.indexOf(':', text.indexOf("\"created\""))) + 1;
        int createdTo = text.indexOf('"', createdFrom);

        Map<String, Integer> outcomes = new TreeMap<>();
        for (int i = 0; i < original.length; i++) {
            for (int bit = 0; bit < 8; bit++) {
                byte[] damaged = original.clone();
                damaged[i] ^= (byte) (1 << bit);
                store.bytes = damaged;
                String where = "byte " + i + " ('" + (char) original[i] + "' -> '" + (char) damaged[i] + "')";
                try {
                    DataKey read = new RepositoryKeys(store, "", master).forReading(NAME);
                    assertArrayEquals(written.bytes(), read.bytes(), where + " gave another data key");
                    assertTrue(i >= createdFrom && i < createdTo, where + " is accepted: " + text);
                    assertTrue(isInstant(new String(damaged, createdFrom, createdTo - createdFrom, StandardCharsets.UTF_8)),
                            where + " is accepted although the creation time is no longer a time");
                    outcomes.merge("accepted: the creation time is another valid time", 1, Integer::sum);
                } catch (EncryptionKeyException e) {
                    fail(where + " is reported as a key problem, not as damage: " + e.getMessage());
                } catch (IntegrityException e) {
                    assertTrue(e.getMessage().contains(KeyObject.key(NAME)), where + ": " + e.getMessage());
                    outcomes.merge("damage named", 1, Integer::sum);
                } catch (RepositoryException e) {
                    assertEquals(version, i, where + ": " + e.getMessage());
                    assertTrue(e.getMessage().contains("Upgrade powdb-backup"), where + ": " + e.getMessage());
                    outcomes.merge("a newer format version", 1, Integer::sum);
                }
            }
        }
        System.out.println(original.length * 8 + " flips: " + outcomes);
        assertTrue(outcomes.get("damage named") > original.length * 7, outcomes.toString());
    }

    private static boolean isInstant(String s) {
        try {
            Instant.parse(s);
            return true;
        } catch (DateTimeParseException e) {
            return false;
        }
    }
}
