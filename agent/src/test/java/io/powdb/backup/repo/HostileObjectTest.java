package io.powdb.backup.repo;

import io.powdb.backup.wal.WalFileHeader;
import io.powdb.backup.wal.WalReader;
import io.powdb.backup.wal.WalStop;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Hostile binary objects: page packs, page maps, page map deltas and WAL segments whose headers claim huge or
 * negative counts and lengths. Each is refused (or, for WAL, read up to the first impossible record) with a
 * message naming the object, and none may allocate more than a few MiB for it: the bytes allocated by the
 * reading thread are measured, so a reader that sized a buffer from a hostile header fails here whatever -Xmx.
 */
class HostileObjectTest {
    /** Far above what these readers need (a page, a read buffer), far below what a hostile header asks for. */
    private static final long ALLOCATION_BOUND = 8L << 20;

    @TempDir
    Path tmp;

    @FunctionalInterface
    interface Reader {
        void read(Path file) throws IOException;
    }

    record Hostile(String name, byte[] bytes, Reader reader, String expected) {
        @Override
        public String toString() {
            return name;
        }
    }

    private static ByteBuffer le(int capacity) {
        return ByteBuffer.allocate(capacity).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static byte[] header(String magic, int pageSize, long count, int extra) {
        ByteBuffer b = le(20 + extra);
        b.put(magic.getBytes(StandardCharsets.US_ASCII)).putInt(pageSize).putLong(count);
        return b.array();
    }

    private static final Reader PACK = f -> PagePack.read(Files.newInputStream(f), "hostile.pages", (i, p) -> { });
    private static final Reader MAP = f -> PageMap.open(f, "hostile.map").close();
    private static final Reader DELTA = f -> PageMapDelta.read(Files.newInputStream(f), "hostile.mapd", pages -> { },
            (index, lsn, fp) -> { });
    private static final Reader IMAGE = f -> PagePack.readImage(Files.newInputStream(f), Files.size(f) + 4096L * 1000,
            "hostile.heap", (i, p) -> { });

    static Stream<Arguments> hostile() {
        ByteBuffer packHugeIndex = le(20 + 4).put(header("PDBPGS01", 4096, 0xFFFFFFFFL, 0)).putInt(0xFFFFFFFE);
        ByteBuffer packHugeTrailer = le(20 + 12).put(header("PDBPGS01", 4096, 10, 0)).putInt(-1).putLong(Long.MAX_VALUE);
        ByteBuffer deltaBeyond = le(20 + 16).put(header("PDBMAPD1", 4096, 3, 0)).putInt(7).putLong(1).putInt(2);
        ByteBuffer deltaHugeTrailer = le(20 + 12).put(header("PDBMAPD1", 4096, 3, 0)).putInt(-1).putLong(-1);
        return Stream.of(
                new Hostile("page pack: page count -1", header("PDBPGS01", 4096, -1, 0), PACK, "bad header"),
                new Hostile("page pack: page count 2^63-1", header("PDBPGS01", 4096, Long.MAX_VALUE, 0), PACK, "bad header"),
                new Hostile("page pack: page size 2^31-1", header("PDBPGS01", Integer.MAX_VALUE, 1, 0), PACK, "bad header"),
                new Hostile("page pack: page size -4096", header("PDBPGS01", -4096, 1, 0), PACK, "bad header"),
                new Hostile("page pack: 2^32-1 pages, a page index near it, then nothing", packHugeIndex.array(), PACK, "truncated"),
                new Hostile("page pack: a trailer counting 2^63-1 pages", packHugeTrailer.array(), PACK, "bad trailer"),
                new Hostile("page map: 2^40 pages in a 20-byte file", header("PDBMAP01", 4096, 1L << 40, 0), MAP, "malformed"),
                new Hostile("page map: 2^32-1 pages in a 20-byte file", header("PDBMAP01", 4096, 0xFFFFFFFFL, 0), MAP, "malformed"),
                new Hostile("page map: -1 pages", header("PDBMAP01", 4096, -1, 0), MAP, "malformed"),
                new Hostile("page map: a header cut short", new byte[] {'P', 'D', 'B'}, MAP, "truncated"),
                new Hostile("page map delta: -1 pages", header("PDBMAPD1", 4096, -1, 0), DELTA, "malformed"),
                new Hostile("page map delta: 2^63-1 pages", header("PDBMAPD1", 4096, Long.MAX_VALUE, 0), DELTA, "malformed"),
                new Hostile("page map delta: an entry beyond its page count", deltaBeyond.array(), DELTA, "malformed"),
                new Hostile("page map delta: a trailer counting 2^64-1 entries", deltaHugeTrailer.array(), DELTA, "damaged"),
                new Hostile("heap image: recorded 1000 pages longer than it is", new byte[4096], IMAGE, "truncated")
        ).map(Arguments::of);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("hostile")
    void isRefusedWithoutAllocatingForWhatItClaims(Hostile hostile) throws IOException {
        Path file = Files.write(tmp.resolve("hostile"), hostile.bytes());
        long before = allocated();
        IntegrityException e = assertThrows(IntegrityException.class, () -> hostile.reader().read(file));
        long used = allocated() - before;
        assertTrue(e.getMessage().contains("hostile") && e.getMessage().contains(hostile.expected()),
                "expected '" + hostile.expected() + "' naming the object in: " + e.getMessage());
        assertTrue(used < ALLOCATION_BOUND, used + " bytes allocated reading " + hostile.bytes().length + " bytes");
    }

    static Stream<Arguments> hostileWal() {
        return Stream.of(Arguments.of("length 0xFFFFFFFF", 0xFFFFFFFF), Arguments.of("length 2^31", Integer.MIN_VALUE),
                Arguments.of("length 64 MiB (the largest allowed) in a short segment", 64 << 20),
                Arguments.of("length 24 (below a header)", 24), Arguments.of("length 0", 0));
    }

    /** A WAL segment whose first record claims an impossible length: read as a torn tail, nothing allocated for it. */
    @ParameterizedTest(name = "WAL record {0}")
    @MethodSource("hostileWal")
    void aWalRecordWithAnImpossibleLengthEndsTheReadWithoutAllocatingIt(String name, int length) throws IOException {
        ByteBuffer record = le(25 + 100).putInt(length).putInt(0).putLong(1).put((byte) 4).putLong(1);
        Path file = Files.write(tmp.resolve("hostile.seg"), record.array());
        long before = allocated();
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            WalReader reader = WalReader.over(channel, WalFileHeader.ABSENT, 0, channel.size(), WalReader.DEFAULT_BUFFER_SIZE);
            assertTrue(reader.next() == null, "no record");
            assertNotEquals(WalStop.END, reader.stop());
        }
        long used = allocated() - before;
        assertTrue(used < ALLOCATION_BOUND + WalReader.DEFAULT_BUFFER_SIZE, used + " bytes allocated");
    }

    private static long allocated() {
        return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean()).getCurrentThreadAllocatedBytes();
    }
}
