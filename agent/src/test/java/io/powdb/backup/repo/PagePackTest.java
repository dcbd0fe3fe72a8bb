package io.powdb.backup.repo;

import io.powdb.backup.format.HeapPage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PagePackTest {
    private static byte[] page(int fill) {
        byte[] page = new byte[HeapPage.SIZE];
        Arrays.fill(page, (byte) fill);
        return page;
    }

    private static byte[] pack(long filePages, long... indices) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PagePack.Writer writer = new PagePack.Writer(out, filePages);
        for (long index : indices) {
            writer.add(index, page((int) index), 0);
        }
        writer.finish();
        return out.toByteArray();
    }

    @Test
    void roundTripsPagesInOrder() throws IOException {
        List<Long> seen = new ArrayList<>();
        long filePages = PagePack.read(new ByteArrayInputStream(pack(10, 1, 4, 9)), "p", (index, page) -> {
            seen.add(index);
            assertArrayEquals(page((int) (long) index), page);
        });
        assertEquals(10, filePages);
        assertEquals(List.of(1L, 4L, 9L), seen);
        assertEquals(0, PagePack.read(new ByteArrayInputStream(pack(0)), "p", (i, p) -> { }));
    }

    @Test
    void refusesTruncationAndTrailingBytes() throws IOException {
        byte[] bytes = pack(10, 1, 4);
        for (int cut : new int[] {0, 10, 20, 30, bytes.length - 12, bytes.length - 1}) {
            IntegrityException e = assertThrows(IntegrityException.class,
                    () -> PagePack.read(new ByteArrayInputStream(Arrays.copyOf(bytes, cut)), "p", (i, p) -> { }));
            assertTrue(e.getMessage().contains("p"), e.getMessage());
        }
        byte[] longer = Arrays.copyOf(bytes, bytes.length + 1);
        assertThrows(IntegrityException.class, () -> PagePack.read(new ByteArrayInputStream(longer), "p", (i, p) -> { }));
    }

    @Test
    void refusesPagesOutOfOrderOrBeyondTheFile() throws IOException {
        byte[] bytes = pack(10, 1, 4);
        // Rewrite the second record's index to 0 (below the first) and then to 10 (beyond the file).
        int secondIndexAt = 20 + 4 + HeapPage.SIZE;
        for (int bad : new int[] {0, 1, 10, -2}) {
            byte[] copy = bytes.clone();
            ByteBuffer.wrap(copy).order(ByteOrder.LITTLE_ENDIAN).putInt(secondIndexAt, bad);
            assertThrows(IntegrityException.class, () -> PagePack.read(new ByteArrayInputStream(copy), "p", (i, p) -> { }));
        }
        assertThrows(IllegalArgumentException.class, () -> pack(10, 4, 4));
        assertThrows(IllegalArgumentException.class, () -> pack(10, 10));
    }

    @Test
    void pageMapRoundTripsThroughAFile(@TempDir Path dir) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PageMap.Writer writer = new PageMap.Writer(out, 3);
        writer.add(5, 0x11111111);
        writer.add(-1L, -7);
        writer.add(0, 0);
        writer.finish();
        Path file = Files.write(dir.resolve("m"), out.toByteArray());
        try (PageMap map = PageMap.open(file, "m")) {
            assertEquals(3, map.pages());
            assertEquals(-1L, map.lsn(1));
            assertEquals(-7, map.fingerprint(1));
            assertEquals(0x11111111, map.fingerprint(0));
        }
        Files.write(file, Arrays.copyOf(out.toByteArray(), out.size() - 1));
        assertThrows(IntegrityException.class, () -> PageMap.open(file, "m").close());
    }
}
