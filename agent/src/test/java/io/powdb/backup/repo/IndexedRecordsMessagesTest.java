package io.powdb.backup.repo;

import io.powdb.backup.format.HeapPage;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Page packs and page map deltas share their framing (header, ascending u32 indices, end marker and count) but
 * each keeps its own record and its own error messages: this pins both, message for message.
 */
class IndexedRecordsMessagesTest {
    private static byte[] pack(long filePages, long... indices) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PagePack.Writer writer = new PagePack.Writer(out, filePages);
        for (long index : indices) {
            writer.add(index, new byte[HeapPage.SIZE], 0);
        }
        writer.finish();
        return out.toByteArray();
    }

    private static byte[] delta(long pages, long... indices) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PageMapDelta.Writer writer = new PageMapDelta.Writer(out, pages);
        for (long index : indices) {
            writer.add(index, 1000 + index, (int) index * 7);
        }
        assertEquals(indices.length, writer.count());
        writer.finish();
        return out.toByteArray();
    }

    private static String packError(byte[] bytes) {
        return assertThrows(IntegrityException.class,
                () -> PagePack.read(new ByteArrayInputStream(bytes), "k", (i, p) -> { })).getMessage();
    }

    private static String deltaError(byte[] bytes) {
        return assertThrows(IntegrityException.class,
                () -> PageMapDelta.read(new ByteArrayInputStream(bytes), "k", p -> { }, (i, l, f) -> { })).getMessage();
    }

    private static byte[] withInt(byte[] bytes, int at, int value) {
        byte[] copy = bytes.clone();
        ByteBuffer.wrap(copy).order(ByteOrder.LITTLE_ENDIAN).putInt(at, value);
        return copy;
    }

    private static byte[] withLong(byte[] bytes, int at, long value) {
        byte[] copy = bytes.clone();
        ByteBuffer.wrap(copy).order(ByteOrder.LITTLE_ENDIAN).putLong(at, value);
        return copy;
    }

    @Test
    void aDeltaRoundTripsItsPageCountAndEntries() throws IOException {
        List<String> seen = new ArrayList<>();
        long[] pagesSeen = {-1};
        long pages = PageMapDelta.read(new ByteArrayInputStream(delta(10, 0, 3, 9)), "k", p -> {
            assertEquals(0, seen.size(), "the page count comes before any entry");
            pagesSeen[0] = p;
        }, (index, lsn, fingerprint) -> seen.add(index + ":" + lsn + ":" + fingerprint));
        assertEquals(10, pages);
        assertEquals(10, pagesSeen[0]);
        assertEquals(List.of("0:1000:0", "3:1003:21", "9:1009:63"), seen);
        assertEquals(20 + 3 * 16 + 12, delta(10, 0, 3, 9).length);
        assertEquals(0, PageMapDelta.read(new ByteArrayInputStream(delta(0)), "k", p -> { }, (i, l, f) -> { }));
    }

    @Test
    void packErrorsNameTheFault() throws IOException {
        byte[] good = pack(10, 1, 4);
        int second = 20 + 4 + HeapPage.SIZE;
        int end = good.length - 12;
        assertEquals("page pack k is malformed (bad header)", packError(withInt(good, 0, 0)));
        assertEquals("page pack k is malformed (bad header)", packError(withInt(good, 8, 8192)));
        assertEquals("page pack k is malformed (bad header)", packError(withLong(good, 12, -1)));
        assertEquals("page pack k is malformed (bad header)", packError(withLong(good, 12, 0x1_0000_0000L)));
        assertEquals("page pack k is malformed (page 1 out of order or beyond 10 pages)", packError(withInt(good, second, 1)));
        assertEquals("page pack k is malformed (page 10 out of order or beyond 10 pages)", packError(withInt(good, second, 10)));
        assertEquals("page pack k is malformed (page 4294967294 out of order or beyond 10 pages)",
                packError(withInt(good, second, -2)));
        assertEquals("page pack k is malformed (bad trailer)", packError(withLong(good, end + 4, 3)));
        assertEquals("page pack k is malformed (bad trailer)", packError(Arrays.copyOf(good, good.length + 1)));
        for (int cut : new int[] {0, 19, 20, 23, 24, 100, end, end + 4, good.length - 1}) {
            assertEquals("page pack k is truncated", packError(Arrays.copyOf(good, cut)), "cut at " + cut);
        }
        assertEquals("page 4 out of order or range",
                assertThrows(IllegalArgumentException.class, () -> pack(10, 4, 4)).getMessage());
        assertEquals("page 10 out of order or range",
                assertThrows(IllegalArgumentException.class, () -> pack(10, 10)).getMessage());
    }

    @Test
    void deltaErrorsNameTheFault() throws IOException {
        byte[] good = delta(10, 1, 4);
        int second = 20 + 16;
        int end = good.length - 12;
        assertEquals("page map delta k is malformed", deltaError(withInt(good, 0, 0)));
        assertEquals("page map delta k is malformed", deltaError(withInt(good, 8, 8192)));
        assertEquals("page map delta k is malformed", deltaError(withLong(good, 12, -1)));
        assertEquals("page map delta k is malformed", deltaError(withLong(good, 12, 0x1_0000_0000L)));
        assertEquals("page map delta k is malformed (page 1)", deltaError(withInt(good, second, 1)));
        assertEquals("page map delta k is malformed (page 10)", deltaError(withInt(good, second, 10)));
        assertEquals("page map delta k is malformed (page 4294967294)", deltaError(withInt(good, second, -2)));
        assertEquals("page map delta k is truncated or damaged", deltaError(withLong(good, end + 4, 3)));
        for (int cut : new int[] {0, 19, 20, 23, 24, 35, end, end + 4, good.length - 1}) {
            assertEquals("page map delta k is truncated", deltaError(Arrays.copyOf(good, cut)), "cut at " + cut);
        }
        assertEquals("page 4 out of order or beyond 10",
                assertThrows(IllegalArgumentException.class, () -> delta(10, 4, 4)).getMessage());
        assertEquals("page 10 out of order or beyond 10",
                assertThrows(IllegalArgumentException.class, () -> delta(10, 10)).getMessage());
    }
}
