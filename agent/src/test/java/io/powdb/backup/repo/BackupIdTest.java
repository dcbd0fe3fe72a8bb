package io.powdb.backup.repo;

import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BackupIdTest {
    private static final Instant T = Instant.parse("2026-11-21T10:15:00.123Z");

    @Test
    void formatsAndParsesBack() {
        BackupId id = new BackupId(4711, T, "3fa9c1");
        assertEquals("00000000000000004711-20261121T101500123Z-3fa9c1", id.toString());
        assertEquals(id, BackupId.parse(id.toString()));
        assertEquals("20261121T101500123Z-3fa9c1", id.session());
    }

    @Test
    void anIdWithATimeThatDoesNotExistIsNotValid() {
        assertTrue(BackupId.isValid("00000000000000004711-20261121T101500123Z-3fa9c1"));
        org.junit.jupiter.api.Assertions.assertFalse(BackupId.isValid("00000000000000004711-20261321T101500123Z-3fa9c1"));
        org.junit.jupiter.api.Assertions.assertFalse(BackupId.isValid("00000000000000004711-20260230T101500123Z-3fa9c1"));
        org.junit.jupiter.api.Assertions.assertFalse(BackupId.isValid("00000000000000004711-20261121T256000123Z-3fa9c1"));
    }

    @Test
    void lexicalOrderIsUnsignedLsnOrder() {
        long[] lsns = {0, 9, 10, 4711, Long.MAX_VALUE, Long.MIN_VALUE, -1L};
        List<String> keys = new ArrayList<>();
        for (long lsn : lsns) {
            keys.add(new BackupId(lsn, T, "000000").toString());
        }
        List<String> sorted = new ArrayList<>(keys);
        sorted.sort(null);
        assertEquals(keys, sorted);
        assertEquals("18446744073709551615", BackupId.parse(keys.get(keys.size() - 1)).toString().substring(0, 20));
        assertEquals(-1L, BackupId.parse(keys.get(keys.size() - 1)).lsn());
    }

    @Test
    void createdIdsAreUniqueForTheSameLsnAndTime() {
        assertNotEquals(BackupId.create(5, T).toString(), BackupId.create(5, T).toString() + "x");
        int distinct = (int) java.util.stream.IntStream.range(0, 50).mapToObj(i -> BackupId.create(5, T).toString())
                .distinct().count();
        assertTrue(distinct > 45);
    }

    @Test
    void rejectsMalformedIds() {
        for (String bad : new String[] {"", "latest", "4711-20261121T101500123Z-3fa9c1",
                "00000000000000004711-20261121T101500123Z-3FA9C1", "00000000000000004711-20261121T101500123Z-3fa9c1/..",
                "99999999999999999999-20261121T101500123Z-3fa9c1"}) {
            assertThrows(RuntimeException.class, () -> BackupId.parse(bad), bad);
        }
    }
}
