package io.powdb.backup.testing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.powdb.backup.testing.PowDbFixture.Version;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import java.util.zip.CRC32;
import java.util.zip.Deflater;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Proves the fixture writes what shared/powdb-format.md says. The checks read raw bytes with their
 * own little parsers (not the fixture's HeapPage / WalRecord), so a shared misreading cannot hide.
 */
class PowDbFixtureTest {

    @TempDir
    Path tmp;

    // ------------------------------------------------------------ independent readers

    private static ByteBuffer le(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static long crc(byte[] b, int from, int to) {
        CRC32 c = new CRC32();
        c.update(b, from, to - from);
        return c.getValue();
    }

    /** CRC32 of a page with bytes 16..20 zeroed, computed here without the fixture's code. */
    private static int pageCrc(byte[] page) {
        byte[] copy = page.clone();
        Arrays.fill(copy, 16, 20, (byte) 0);
        return (int) crc(copy, 0, 4096);
    }

    private static byte[] page(byte[] heap, int n) {
        return Arrays.copyOfRange(heap, n * 4096, (n + 1) * 4096);
    }

    private record Rec(long txId, int type, long lsn, byte[] payload, boolean crcOk) {
        String table() {
            ByteBuffer b = le(payload);
            byte[] n = new byte[b.getInt()];
            b.get(n);
            return new String(n, StandardCharsets.UTF_8);
        }

        int pageId() {
            ByteBuffer b = le(payload);
            return b.getInt(4 + b.getInt(0));
        }

        int slot() {
            ByteBuffer b = le(payload);
            return b.getShort(8 + b.getInt(0)) & 0xFFFF;
        }

        byte[] row() {
            ByteBuffer b = le(payload);
            int at = 10 + b.getInt(0);
            int len = b.getInt(at);
            return Arrays.copyOfRange(payload, at + 4, at + 4 + len);
        }
    }

    /** All whole records of wal.log, CRC checked but not stopping at a bad one (the test asserts). */
    private static List<Rec> parseWal(Path wal, Version v) throws IOException {
        byte[] b = Files.readAllBytes(wal);
        ByteBuffer buf = le(b);
        int pos = 0;
        if (v == Version.V0_5) {
            assertEquals("PWAL", new String(b, 0, 4, StandardCharsets.US_ASCII));
            assertEquals(1, buf.getShort(4));
            assertEquals(0, buf.getShort(6));
            pos = 8;
        }
        List<Rec> out = new ArrayList<>();
        while (b.length - pos >= 25) {
            int len = buf.getInt(pos);
            if (len < 25 || len > b.length - pos) break;
            boolean ok = (int) crc(b, pos + 8, pos + len) == buf.getInt(pos + 4);
            out.add(new Rec(buf.getLong(pos + 8), b[pos + 16] & 0xFF, buf.getLong(pos + 17),
                    Arrays.copyOfRange(b, pos + 25, pos + len), ok));
            pos += len;
        }
        return out;
    }

    private static boolean isRow(Rec r) {
        return r.type() >= 1 && r.type() <= 3;
    }

    /** (table, page) → LSN of the last row record for it, from the log. */
    private static Map<String, Long> lastLsnPerPage(List<Rec> wal) {
        Map<String, Long> last = new HashMap<>();
        for (Rec r : wal) if (isRow(r)) last.put(r.table() + "#" + r.pageId(), r.lsn());
        return last;
    }

    private static void assertAllCrcsValid(Path heap) throws IOException {
        byte[] h = Files.readAllBytes(heap);
        for (int i = 0; i < h.length / 4096; i++) {
            byte[] p = page(h, i);
            if ((p[5] & 1) != 0) {
                assertEquals(pageCrc(p), le(p).getInt(16), heap.getFileName() + " page " + i + " CRC");
            } else {
                assertEquals(0, le(p).getInt(16), "page " + i + " without the CRC flag has a zero CRC field");
            }
        }
    }

    // ------------------------------------------------------------ tests

    @ParameterizedTest
    @EnumSource(Version.class)
    void createWritesAnEmptyQuiescentDirectory(Version v) throws IOException {
        Path dir = tmp.resolve("db");
        PowDbFixture f = PowDbFixture.create(dir, v, 1);

        byte[] wal = Files.readAllBytes(dir.resolve("wal.log"));
        if (v == Version.V0_4) {
            assertEquals(0, wal.length);
        } else {
            assertArrayEquals(new byte[] {'P', 'W', 'A', 'L', 1, 0, 0, 0}, wal);
        }
        byte[] cat = Files.readAllBytes(dir.resolve("catalog.bin"));
        assertEquals("BCAT", new String(cat, 0, 4, StandardCharsets.US_ASCII));
        assertEquals(1, le(cat).getShort(4));
        assertEquals(0, le(cat).getInt(6), "no tables");
        assertEquals(14, cat.length);
        assertEquals((int) crc(cat, 0, cat.length - 4), le(cat).getInt(cat.length - 4));

        assertTrue(f.isQuiescent());
        assertEquals(0, f.lastLsn());
        assertEquals(0, f.walRecordCount());
        assertTrue(f.tableNames().isEmpty());
        assertEquals(Set.of("catalog.bin"), PowDbFixture.durableFiles(dir, false).keySet());
        assertEquals(Set.of("catalog.bin", "wal.log"), PowDbFixture.durableFiles(dir, true).keySet());
    }

    @ParameterizedTest
    @EnumSource(Version.class)
    void heapPagesFollowTheLayout(Version v) throws IOException {
        PowDbFixture f = PowDbFixture.create(tmp.resolve("db"), v, 2);
        f.createTable("orders", 40);
        assertEquals(40, f.pageCount("orders"));
        byte[] heap = Files.readAllBytes(f.dir().resolve("orders.heap"));
        assertEquals(40 * 4096, heap.length);

        int flagged = 0;
        for (int i = 0; i < 40; i++) {
            byte[] p = page(heap, i);
            ByteBuffer b = le(p);
            assertEquals(i, b.getInt(0), "page_id");
            int flags = p[5] & 0xFF;
            assertEquals(v == Version.V0_4 ? 0 : 1, flags >>> 4, "page-format version in flags bits 4..7");
            assertEquals(0, flags & 0x0E, "no undefined flag bits");
            if ((flags & 1) != 0) {
                flagged++;
                assertEquals(pageCrc(p), b.getInt(16), "CRC of page " + i);
            } else {
                assertEquals(0, b.getInt(16));
            }
            assertTrue(b.getLong(8) > 0, "every page was written through the WAL");

            if (v == Version.V0_5 && i == 0) {
                assertEquals(5, p[4], "superblock type");
                assertEquals("PHEAP", new String(p, 20, 5, StandardCharsets.US_ASCII));
                assertEquals(1, b.getShort(25), "heap version");
                assertEquals(4096, b.getInt(29), "page size");
                assertEquals(1, b.getInt(33), "first data page");
                assertEquals(0, b.getShort(4094), "no slots");
                continue;
            }
            assertEquals(1, p[4], "data page type");
            int freeStart = b.getShort(6) & 0xFFFF;
            int slots = b.getShort(4094) & 0xFFFF;
            assertTrue(slots > 10, "a full page holds many rows, got " + slots);
            assertTrue(freeStart <= 4094 - 4 * slots, "rows and slot directory do not overlap");
            assertTrue(4094 - 4 * slots - freeStart < 48 + 4, "pages are filled: no room for another row + slot");
            int expectOffset = 20;
            for (int s = 0; s < slots; s++) {
                int off = b.getShort(4094 - 4 * (s + 1)) & 0xFFFF;
                int len = b.getShort(4094 - 4 * (s + 1) + 2) & 0xFFFF;
                assertEquals(expectOffset, off, "rows grow up from byte 20, back to back");
                expectOffset += len;
            }
            assertEquals(expectOffset, freeStart, "free_start is the end of the rows");
            for (int z = freeStart; z < 4094 - 4 * slots; z++) assertEquals(0, p[z], "free gap is zero");
        }
        if (v == Version.V0_5) {
            assertEquals(40, flagged, "0.5 puts a CRC on every page");
        } else {
            assertTrue(flagged >= 10 && flagged <= 30, "0.4: about half the pages have a CRC, got " + flagged);
        }
    }

    @ParameterizedTest
    @EnumSource(Version.class)
    void pageLsnIsTheLsnOfTheLastRecordAppliedToThePage(Version v) throws IOException {
        PowDbFixture f = PowDbFixture.create(tmp.resolve("db"), v, 3);
        f.createTable("a", 12);
        f.createTable("b", 5);
        f.updatePages("a", 3, 7, 3);
        f.updateRandomPages("b", 3);
        f.appendPages("a", 2);

        List<Rec> wal = parseWal(f.walPath(), v);
        for (int i = 0; i < wal.size(); i++) {
            assertTrue(wal.get(i).crcOk(), "record " + i + " CRC");
            assertEquals(i + 1, wal.get(i).lsn(), "LSNs count records, +1 each");
        }
        assertEquals(wal.size(), f.lastLsn());

        // Every transaction ends with a commit (type 4, empty payload, same tx_id), and tx ids never interleave.
        Set<Long> commits = wal.stream().filter(r -> r.type() == 4).map(Rec::txId).collect(Collectors.toSet());
        for (int i = 0; i < wal.size(); i++) {
            Rec r = wal.get(i);
            assertTrue(commits.contains(r.txId()), "tx " + r.txId() + " committed");
            if (r.type() == 4) {
                assertEquals(0, r.payload().length);
            } else {
                assertEquals(r.txId(), wal.get(i + 1).txId(), "a transaction's records are contiguous");
            }
        }

        Map<String, Long> last = lastLsnPerPage(wal);
        Set<Long> commitLsns = wal.stream().filter(r -> r.type() == 4).map(Rec::lsn).collect(Collectors.toSet());
        for (String t : List.of("a", "b")) {
            Path heap = f.heapPath(t);
            byte[] h = Files.readAllBytes(heap);
            for (int i = v.firstDataPage(); i < f.pageCount(t); i++) {
                long lsn = PowDbFixture.pageLsn(heap, i);
                assertEquals(last.get(t + "#" + i), lsn, t + " page " + i);
                assertFalse(commitLsns.contains(lsn), "a page LSN is never a commit's LSN");
            }
            // The newest row image in the log is the row on the page.
            Map<String, byte[]> newest = new HashMap<>();
            for (Rec r : wal) if (isRow(r) && r.table().equals(t)) newest.put(r.pageId() + "/" + r.slot(), r.row());
            for (Map.Entry<String, byte[]> e : newest.entrySet()) {
                String[] ps = e.getKey().split("/");
                ByteBuffer p = le(page(h, Integer.parseInt(ps[0])));
                int at = 4094 - 4 * (Integer.parseInt(ps[1]) + 1);
                int off = p.getShort(at) & 0xFFFF;
                int len = p.getShort(at + 2) & 0xFFFF;
                assertArrayEquals(e.getValue(), Arrays.copyOfRange(p.array(), off, off + len), t + " " + e.getKey());
            }
            if (v == Version.V0_5) {
                long create = wal.stream().filter(r -> r.type() == 6 && r.table().equals(t)).findFirst()
                        .orElseThrow().lsn();
                assertEquals(create, PowDbFixture.pageLsn(heap, 0), "superblock LSN is its create-table record's");
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Version.class)
    void updatesRaisePageLsnsMonotonicallyAndKeepCrcsValid(Version v) throws IOException {
        PowDbFixture f = PowDbFixture.create(tmp.resolve("db"), v, 4);
        f.createTable("t", 20);
        Path heap = f.heapPath("t");
        byte[] before = Files.readAllBytes(heap);

        f.updatePages("t", 3, 5);
        byte[] after = Files.readAllBytes(heap);
        assertEquals(before.length, after.length);
        Map<String, Long> last = lastLsnPerPage(parseWal(f.walPath(), v));
        for (int i = 0; i < 20; i++) {
            if (i == 3 || i == 5) {
                assertTrue(PowDbFixture.pageLsn(heap, i) > le(page(before, i)).getLong(8));
                assertEquals(last.get("t#" + i), PowDbFixture.pageLsn(heap, i));
                // in place: same flags, free_start and slot directory
                assertArrayEquals(Arrays.copyOfRange(page(before, i), 0, 8), Arrays.copyOfRange(page(after, i), 0, 8));
                assertEquals(le(page(before, i)).getShort(4094), le(page(after, i)).getShort(4094));
            } else {
                assertArrayEquals(page(before, i), page(after, i), "untouched page " + i);
            }
        }
        assertAllCrcsValid(heap);

        long lsn3 = PowDbFixture.pageLsn(heap, 3);
        f.updatePages("t", 3);
        assertTrue(PowDbFixture.pageLsn(heap, 3) > lsn3, "LSN grows on every update");
        assertEquals(f.lastLsn() - 1, PowDbFixture.pageLsn(heap, 3), "last update record, the commit follows it");

        long[] lsns = new long[20];
        for (int i = 0; i < 20; i++) lsns[i] = PowDbFixture.pageLsn(heap, i);
        int[] chosen = f.updateRandomPages("t", 4);
        assertEquals(4, Arrays.stream(chosen).distinct().count());
        for (int p : chosen) {
            assertTrue(p >= v.firstDataPage() && p < 20);
            assertTrue(PowDbFixture.pageLsn(heap, p) > lsns[p]);
        }
        assertAllCrcsValid(heap);

        if (v == Version.V0_5) {
            assertThrows(IllegalArgumentException.class, () -> f.updatePages("t", 0), "superblock");
        }
        assertThrows(IllegalArgumentException.class, () -> f.updatePages("t", 20));
    }

    @ParameterizedTest
    @EnumSource(Version.class)
    void appendAndTruncateChangeThePageCount(Version v) throws IOException {
        PowDbFixture f = PowDbFixture.create(tmp.resolve("db"), v, 5);
        f.createTable("t", 10);
        Path heap = f.heapPath("t");
        byte[] before = Files.readAllBytes(heap);
        long maxBefore = f.lastLsn();

        f.appendPages("t", 5);
        assertEquals(15, f.pageCount("t"));
        byte[] grown = Files.readAllBytes(heap);
        assertArrayEquals(before, Arrays.copyOf(grown, before.length), "appending leaves old pages alone");
        for (int i = 10; i < 15; i++) {
            assertEquals(i, le(page(grown, i)).getInt(0));
            assertTrue(PowDbFixture.pageLsn(heap, i) > maxBefore);
        }
        assertAllCrcsValid(heap);

        f.truncateTable("t", 7);
        assertEquals(7, f.pageCount("t"));
        assertEquals(7 * 4096, Files.size(heap));
        assertArrayEquals(Arrays.copyOf(grown, 7 * 4096), Files.readAllBytes(heap));
        assertTrue(parseWal(f.walPath(), v).stream().anyMatch(r -> r.type() == 9), "truncate is logged (DDL)");

        f.appendPages("t", 1);
        assertEquals(8, f.pageCount("t"));
        assertThrows(IllegalArgumentException.class, () -> f.truncateTable("t", 9));
    }

    @Test
    void catalogListsTablesWithAValidCrcAndIsRewrittenOnDdl() throws IOException {
        PowDbFixture f = PowDbFixture.create(tmp.resolve("db"), Version.V0_5, 6);
        f.createTable("alpha", 3);
        f.createTable("Beta_2", 2);
        assertEquals(List.of("alpha", "Beta_2"), f.tableNames());
        assertEquals(List.of("alpha", "Beta_2"), catalogTables(f.catalogPath()));
        assertFalse(Files.exists(f.dir().resolve("catalog.bin.tmp")), "the tmp file was renamed over catalog.bin");
        assertTrue(Files.exists(f.dir().resolve("alpha_id.idx")));

        f.dropTable("alpha");
        assertEquals(List.of("Beta_2"), catalogTables(f.catalogPath()));
        assertFalse(Files.exists(f.dir().resolve("alpha.heap")));
        assertFalse(Files.exists(f.dir().resolve("alpha_id.idx")));
        assertTrue(Files.exists(f.dir().resolve("Beta_2.heap")));

        f.createTable("alpha", 2); // re-created under the same name
        assertEquals(List.of("Beta_2", "alpha"), catalogTables(f.catalogPath()));
        assertEquals(2, f.pageCount("alpha"));
        assertThrows(IllegalArgumentException.class, () -> f.createTable("bad-name", 2));
        assertThrows(IllegalArgumentException.class, () -> f.createTable("alpha", 2));
    }

    /** Decodes catalog.bin here, independently, checking magic, version and the CRC trailer. */
    private static List<String> catalogTables(Path catalog) throws IOException {
        byte[] c = Files.readAllBytes(catalog);
        ByteBuffer b = le(c);
        assertEquals("BCAT", new String(c, 0, 4, StandardCharsets.US_ASCII));
        assertEquals(1, b.getShort(4));
        assertEquals((int) crc(c, 0, c.length - 4), b.getInt(c.length - 4), "catalog CRC");
        b.position(6);
        List<String> names = new ArrayList<>();
        int n = b.getInt();
        for (int i = 0; i < n; i++) {
            byte[] name = new byte[b.getInt()];
            b.get(name);
            names.add(new String(name, StandardCharsets.UTF_8));
            int idx = b.getInt();
            assertEquals(1, idx);
            byte[] col = new byte[b.getInt()];
            b.get(col);
            assertEquals("id", new String(col, StandardCharsets.UTF_8));
        }
        assertEquals(c.length - 4, b.position(), "nothing between the table list and the CRC");
        return names;
    }

    @ParameterizedTest
    @EnumSource(Version.class)
    void walRecordsParseAndStopAtATornTail(Version v) throws IOException {
        PowDbFixture f = PowDbFixture.create(tmp.resolve("db"), v, 7);
        f.createTable("t", 4);
        f.updatePages("t", 2);
        List<Rec> wal = parseWal(f.walPath(), v);
        assertTrue(wal.stream().allMatch(Rec::crcOk));
        assertEquals(wal.size(), f.walRecordCount());
        assertEquals(wal.size(), f.walRecords().size());
        Set<Integer> types = wal.stream().map(Rec::type).collect(Collectors.toSet());
        assertTrue(types.containsAll(Set.of(1, 2, 4, 6, 8)), "insert, update, commit, DDL: " + types);

        long size = Files.size(f.walPath());
        f.appendTornWalTail();
        assertTrue(Files.size(f.walPath()) > size);
        assertEquals(wal.size(), f.walRecordCount(), "readers stop at a torn record");

        // A flipped payload byte makes that record's CRC fail: the count stops just before it.
        byte[] b = Files.readAllBytes(f.walPath());
        int header = v == Version.V0_5 ? 8 : 0;
        int second = header + le(b).getInt(header);
        b[second + 30] ^= 1;
        Files.write(f.walPath(), b);
        assertEquals(1, f.walRecordCount());
    }

    @ParameterizedTest
    @EnumSource(Version.class)
    void rolledBackTransactionShrinksTheWal(Version v) throws IOException {
        PowDbFixture f = PowDbFixture.create(tmp.resolve("db"), v, 8);
        f.createTable("t", 4);
        byte[] heap = Files.readAllBytes(f.heapPath("t"));
        long records = f.walRecordCount();
        long length = f.appendUncommittedUpdates("t", 1, 2);
        assertTrue(f.walRecordCount() > records);
        assertArrayEquals(heap, Files.readAllBytes(f.heapPath("t")), "uncommitted: pages untouched");
        f.rollbackWal(length);
        assertEquals(records, f.walRecordCount());
        assertEquals(length, Files.size(f.walPath()));
    }

    @ParameterizedTest
    @EnumSource(Version.class)
    void checkpointMakesTheDirectoryQuiescent(Version v) throws IOException {
        PowDbFixture f = PowDbFixture.create(tmp.resolve("db"), v, 9);
        f.createTable("t", 6);
        f.updatePages("t", v.firstDataPage() + 1);
        f.appendPages("t", 2);
        assertFalse(f.isQuiescent());
        byte[] heap = Files.readAllBytes(f.heapPath("t"));
        byte[] idx = Files.readAllBytes(f.indexPath("t"));
        long last = f.lastLsn();

        f.checkpoint();
        assertTrue(f.isQuiescent());
        assertEquals(v == Version.V0_4 ? 0 : 8, Files.size(f.walPath()));
        assertEquals(0, f.walRecordCount());
        assertArrayEquals(heap, Files.readAllBytes(f.heapPath("t")), "pages were already flushed");
        assertFalse(Arrays.equals(idx, Files.readAllBytes(f.indexPath("t"))), "the dirty index is saved");
        IndexFile.verify(Files.readAllBytes(f.indexPath("t")));
        assertEquals(last, f.lastLsn());

        f.updatePages("t", v.firstDataPage());
        assertTrue(PowDbFixture.pageLsn(f.heapPath("t"), v.firstDataPage()) > last,
                "the counter carries on: no LSN reuse after a checkpoint");
        assertFalse(f.isQuiescent());
    }

    @Test
    void transientFilesExistButAreNotDurable() throws IOException {
        PowDbFixture f = PowDbFixture.create(tmp.resolve("db"), Version.V0_5, 10);
        f.createTable("first", 3);
        f.createTable("second", 2);
        f.writeOptionalWholeFiles();
        f.writeTransientFiles();
        Path d = f.dir();
        for (String t : List.of("catalog.bin.tmp", "LOCK", "readers/12345.pid", ".powdb-sync/state")) {
            assertTrue(Files.isRegularFile(d.resolve(t)), t);
        }
        Set<String> durable = Set.of("catalog.bin", "catalog.lsn", "views.bin", "auth.json", "first.heap",
                "first_id.idx", "first_expr.eidx", "second.heap", "second_id.idx");
        assertEquals(durable, PowDbFixture.durableFiles(d, false).keySet());
        SortedMap<String, byte[]> withWal = PowDbFixture.durableFiles(d, true);
        assertTrue(withWal.containsKey("wal.log"));
        assertEquals(durable.size() + 1, withWal.size());

        assertEquals(f.lastLsn(), le(Files.readAllBytes(d.resolve("catalog.lsn"))).getLong());
        assertEquals(8, Files.size(d.resolve("catalog.lsn")));
        byte[] eidx = Files.readAllBytes(d.resolve("first_expr.eidx"));
        assertEquals("BIDX", new String(eidx, 0, 4, StandardCharsets.US_ASCII));
        assertEquals((int) crc(eidx, 0, eidx.length - 4), le(eidx).getInt(eidx.length - 4));

        f.dropTable("first");
        assertFalse(Files.exists(d.resolve("first_expr.eidx")), "a dropped table's .eidx goes too");
        f.removeTransientFiles();
        assertFalse(Files.exists(d.resolve("LOCK")));
        assertFalse(Files.exists(d.resolve("readers")));
    }

    @Test
    void indexFilesAreWholeFilesOptionallyPageAligned() throws IOException {
        for (long seed = 0; seed < 8; seed++) {
            PowDbFixture f = PowDbFixture.create(tmp.resolve("db" + seed), Version.V0_4, seed);
            f.createTable("t", 30);
            Path idx = f.indexPath("t");
            byte[] a = Files.readAllBytes(idx);
            assertNotEquals(0, a.length % 4096, "normally not a multiple of 4096");
            assertIndexFormat(a);

            f.rewriteIndex("t", true);
            byte[] b = Files.readAllBytes(idx);
            assertEquals(0, b.length % 4096, "page aligned");
            assertTrue(b.length >= 8192, "several 'pages' for a paged reader to trip over");
            assertIndexFormat(b);
            assertEquals(0L, le(b).getLong(4096 + 8), "the 'page LSN' a careless reader would see");

            f.rewriteIndex("t", false);
            byte[] c = Files.readAllBytes(idx);
            assertNotEquals(0, c.length % 4096);
            assertFalse(Arrays.equals(a, c), "rewritten with new content");
            assertIndexFormat(c);
        }
    }

    private static void assertIndexFormat(byte[] idx) {
        ByteBuffer b = le(idx);
        assertEquals("BIDX", new String(idx, 0, 4, StandardCharsets.US_ASCII));
        assertEquals(1, b.getShort(4));
        int nodes = b.getInt(10);
        assertTrue(nodes > 0);
        assertTrue(Integer.compareUnsigned(b.getInt(6), nodes) < 0, "root is a node");
        assertEquals((int) crc(idx, 0, idx.length - 4), b.getInt(idx.length - 4), "CRC trailer");
    }

    @Test
    void assertSameDatabaseNamesTheFirstDifference() throws IOException {
        PowDbFixture f = PowDbFixture.create(tmp.resolve("src"), Version.V0_5, 11);
        f.createTable("t", 6);
        f.writeOptionalWholeFiles();
        f.checkpoint();
        Path copy = TestTrees.copy(f.dir(), tmp.resolve("copy"));
        f.writeTransientFiles(); // transient files on one side only do not matter
        PowDbFixture.assertSameDatabase(f.dir(), copy);

        flipByte(copy.resolve("t.heap"), 3 * 4096 + 100);
        AssertionError e = assertThrows(AssertionError.class, () -> PowDbFixture.assertSameDatabase(f.dir(), copy));
        assertTrue(e.getMessage().contains("t.heap page 3 byte offset 100"), e.getMessage());
        flipByte(copy.resolve("t.heap"), 3 * 4096 + 100);

        flipByte(copy.resolve("t.heap"), 2 * 4096 + 9);
        e = assertThrows(AssertionError.class, () -> PowDbFixture.assertSameDatabase(f.dir(), copy));
        assertTrue(e.getMessage().contains("page 2 byte offset 9 (page LSN"), e.getMessage());
        flipByte(copy.resolve("t.heap"), 2 * 4096 + 9);

        flipByte(copy.resolve("auth.json"), 5);
        e = assertThrows(AssertionError.class, () -> PowDbFixture.assertSameDatabase(f.dir(), copy));
        assertTrue(e.getMessage().contains("auth.json byte offset 5"), e.getMessage());
        flipByte(copy.resolve("auth.json"), 5);
        PowDbFixture.assertSameDatabase(f.dir(), copy);

        Files.delete(copy.resolve("t_id.idx"));
        e = assertThrows(AssertionError.class, () -> PowDbFixture.assertSameDatabase(f.dir(), copy));
        assertTrue(e.getMessage().contains("t_id.idx missing"), e.getMessage());
        Files.copy(f.indexPath("t"), copy.resolve("t_id.idx"));

        Files.write(copy.resolve("stray.bin"), new byte[] {1});
        e = assertThrows(AssertionError.class, () -> PowDbFixture.assertSameDatabase(f.dir(), copy));
        assertTrue(e.getMessage().contains("unexpected file stray.bin"), e.getMessage());
        Files.delete(copy.resolve("stray.bin"));

        try (var ch = java.nio.channels.FileChannel.open(copy.resolve("t.heap"),
                java.nio.file.StandardOpenOption.WRITE)) {
            ch.truncate(4 * 4096); // the whole-file-vs-stale-tail pitfall, seen from the other side
        }
        e = assertThrows(AssertionError.class, () -> PowDbFixture.assertSameDatabase(f.dir(), copy));
        assertTrue(e.getMessage().contains("pages expected 6, actual 4"), e.getMessage());
        Files.copy(f.heapPath("t"), copy.resolve("t.heap"), StandardCopyOption.REPLACE_EXISTING);

        // wal.log is compared only on request
        Files.write(copy.resolve("wal.log"), new byte[0]);
        PowDbFixture.assertSameDatabase(f.dir(), copy);
        assertThrows(AssertionError.class, () -> PowDbFixture.assertSameDatabase(f.dir(), copy, true));
    }

    @Test
    void sameSeedSameBytesOtherSeedOtherBytes() throws IOException {
        Path a = scenario(tmp.resolve("a"), 42);
        Path b = scenario(tmp.resolve("b"), 42);
        Path c = scenario(tmp.resolve("c"), 43);
        PowDbFixture.assertSameDatabase(a, b, true);
        SortedMap<String, byte[]> fa = PowDbFixture.durableFiles(a, true);
        SortedMap<String, byte[]> fb = PowDbFixture.durableFiles(b, true);
        for (String k : fa.keySet()) assertArrayEquals(fa.get(k), fb.get(k), k);
        assertThrows(AssertionError.class, () -> PowDbFixture.assertSameDatabase(a, c));
    }

    private static Path scenario(Path dir, long seed) throws IOException {
        PowDbFixture f = PowDbFixture.create(dir, Version.V0_4, seed);
        f.createTable("users", 8);
        f.createTable("events", 5);
        f.updateRandomPages("users", 3);
        f.appendPages("events", 2);
        f.truncateTable("users", 6);
        f.rewriteIndex("events", true);
        f.writeOptionalWholeFiles();
        f.checkpoint();
        f.updatePages("events", 1, 2);
        return dir;
    }

    @Test
    void setNextLsnLowersTheCounter() throws IOException {
        PowDbFixture f = PowDbFixture.create(tmp.resolve("db"), Version.V0_5, 12);
        f.createTable("t", 4);
        long high = PowDbFixture.pageLsn(f.heapPath("t"), 2);
        assertTrue(high > 10);
        f.setNextLsn(5);
        assertEquals(4, f.lastLsn());
        f.updatePages("t", 2);
        long low = PowDbFixture.pageLsn(f.heapPath("t"), 2);
        assertTrue(low >= 5 && low < high, "a restart with a lowered counter gives pages older-looking LSNs");
        assertEquals(f.lastLsn() - 1, low);
    }

    @ParameterizedTest
    @EnumSource(Version.class)
    void heapsCompressRoughlyTwofold(Version v) throws IOException {
        PowDbFixture f = PowDbFixture.create(tmp.resolve("db"), v, 13);
        f.createTable("t", 50);
        byte[] heap = Files.readAllBytes(f.heapPath("t"));
        Deflater d = new Deflater(6);
        d.setInput(heap);
        d.finish();
        byte[] out = new byte[heap.length];
        int n = 0;
        while (!d.finished()) n += d.deflate(out, n, out.length - n);
        d.end();
        double ratio = (double) heap.length / n;
        assertTrue(ratio > 1.5 && ratio < 3.5, "compression ratio " + ratio);
    }

    @ParameterizedTest
    @EnumSource(Version.class)
    void openReplaysTheWalOntoAnOlderCopy(Version v) throws IOException {
        PowDbFixture f = PowDbFixture.create(tmp.resolve("src"), v, 14);
        f.createTable("t", 10);
        f.createTable("u", 4);
        f.checkpoint();
        Path base = TestTrees.copy(f.dir(), tmp.resolve("base"));

        // Changes after the checkpoint: all of them are still in the WAL.
        f.updateRandomPages("t", 3);
        f.appendPages("t", 3);
        f.truncateTable("t", 11);
        f.updatePages("t", 10, v.firstDataPage());
        f.dropTable("u");
        f.createTable("u", 6);
        f.updatePages("u", 3);
        long open = f.appendUncommittedUpdates("t", 4); // not committed: must not be replayed
        assertTrue(open > 0);

        // A crash-consistent copy: heaps read before the changes (t mixed old/new), then everything else.
        Path copy = tmp.resolve("copy");
        Files.createDirectories(copy);
        byte[] oldT = Files.readAllBytes(base.resolve("t.heap"));
        byte[] newT = Files.readAllBytes(f.heapPath("t"));
        byte[] mixed = oldT.clone(); // 10 pages: even pages from now, odd ones from before
        for (int i = 0; i < 10; i += 2) System.arraycopy(newT, i * 4096, mixed, i * 4096, 4096);
        Files.write(copy.resolve("t.heap"), mixed);
        Files.copy(base.resolve("u.heap"), copy.resolve("u.heap"));
        for (String whole : List.of("catalog.bin", "wal.log", "t_id.idx", "u_id.idx")) {
            Files.copy(f.dir().resolve(whole), copy.resolve(whole));
        }
        assertThrows(AssertionError.class, () -> PowDbFixture.assertSameDatabase(f.dir(), copy));

        PowDbFixture g = PowDbFixture.open(copy, v, 99);
        PowDbFixture.assertSameDatabase(f.dir(), copy);
        assertTrue(g.isQuiescent());
        assertEquals(List.of("t", "u"), g.tableNames());
        long maxPageLsn = 0;
        for (String t : g.tableNames()) {
            for (int i = 0; i < g.pageCount(t); i++) maxPageLsn = Math.max(maxPageLsn, PowDbFixture.pageLsn(g.heapPath(t), i));
        }
        assertEquals(maxPageLsn, g.lastLsn(), "next LSN is set above the largest page LSN");

        // The opened directory can be mutated further.
        g.updatePages("u", 2);
        assertTrue(PowDbFixture.pageLsn(g.heapPath("u"), 2) > maxPageLsn);
        assertEquals(g.lastLsn() - 1, PowDbFixture.pageLsn(g.heapPath("u"), 2));
    }

    @Test
    void openRejectsATornPageAndAMissingHeap() throws IOException {
        PowDbFixture f = PowDbFixture.create(tmp.resolve("db"), Version.V0_5, 15);
        f.createTable("t", 5);
        f.checkpoint();
        Path copy = TestTrees.copy(f.dir(), tmp.resolve("copy"));
        PowDbFixture.open(copy, Version.V0_5, 1); // a clean copy opens
        PowDbFixture.assertSameDatabase(f.dir(), copy);

        assertTrue(PowDbFixture.pageHasCrc(f.heapPath("t"), 3));
        f.corruptPage("t", 3);
        IOException e = assertThrows(IOException.class, () -> PowDbFixture.open(f.dir(), Version.V0_5, 1));
        assertTrue(e.getMessage().contains("t.heap page 3"), e.getMessage());

        Files.delete(copy.resolve("t.heap"));
        assertNotNull(assertThrows(IOException.class, () -> PowDbFixture.open(copy, Version.V0_5, 1)));
    }

    // ------------------------------------------------------------ deferred page writes

    /** Page LSNs of every page of a heap, as on disk now. */
    private static long[] pageLsns(Path heap) throws IOException {
        byte[] h = Files.readAllBytes(heap);
        long[] lsns = new long[h.length / 4096];
        for (int i = 0; i < lsns.length; i++) lsns[i] = le(h).getLong(i * 4096 + 8);
        return lsns;
    }

    @ParameterizedTest
    @EnumSource(Version.class)
    void deferredPagesCheckpointToTheBytesOfImmediateWrites(Version v) throws IOException {
        long seed = 21;
        int first = v.firstDataPage();
        PowDbFixture eager = PowDbFixture.create(tmp.resolve("eager"), v, seed);
        PowDbFixture lazy = PowDbFixture.create(tmp.resolve("lazy"), v, seed);
        PowDbFixture lazy2 = PowDbFixture.create(tmp.resolve("lazy2"), v, seed); // flush choice is reproducible
        List<PowDbFixture> all = List.of(eager, lazy, lazy2);
        List<PowDbFixture> lazies = List.of(lazy, lazy2);
        for (PowDbFixture f : all) {
            f.createTable("a", 14);
            f.createTable("b", 6);
        }
        byte[] heapA = Files.readAllBytes(lazy.heapPath("a"));
        for (PowDbFixture f : lazies) f.deferPageWrites(true);
        assertEquals(0, eager.dirtyPageCount());

        int maxDirty = 0;
        int lagging = 0;
        for (int round = 0; round < 40; round++) {
            for (PowDbFixture f : all) {
                f.updateRandomPages("a", 1 + round % 5);
                f.updatePages("b", first + round % 3, first + 1, first + round % 3); // pages repeat, in and across txs
                switch (round) {
                    case 8 -> f.appendPages("a", 3);
                    case 14 -> f.truncateTable("a", 12); // with dirty pages past the new end
                    case 20 -> f.rewriteIndex("b", true);
                    case 24 -> {
                        f.dropTable("b");
                        f.createTable("b", 5);
                    }
                    case 30 -> f.checkpoint();
                    default -> { }
                }
            }
            if (round == 0) {
                assertArrayEquals(heapA, Files.readAllBytes(lazy.heapPath("a")), "deferred: no page written yet");
            }
            for (PowDbFixture f : lazies) f.flushSomeDirtyPages(round % 4);
            assertEquals(0, eager.dirtyPageCount());
            assertEquals(eager.lastLsn(), lazy.lastLsn());
            assertArrayEquals(Files.readAllBytes(eager.walPath()), Files.readAllBytes(lazy.walPath()),
                    "round " + round + ": deferral does not change the log");
            maxDirty = Math.max(maxDirty, lazy.dirtyPageCount());
            if (!Arrays.equals(Files.readAllBytes(eager.heapPath("a")), Files.readAllBytes(lazy.heapPath("a")))) {
                lagging++;
            }
        }
        assertTrue(maxDirty >= 5, "pages stayed dirty, up to " + maxDirty);
        assertTrue(lagging >= 20, "the lazy heap lagged behind in " + lagging + " rounds of 40");
        assertTrue(lazy.dirtyPageCount() > 0);
        PowDbFixture.assertSameDatabase(lazy.dir(), lazy2.dir(), true);
        assertThrows(AssertionError.class, () -> PowDbFixture.assertSameDatabase(eager.dir(), lazy.dir()));

        for (PowDbFixture f : all) f.checkpoint();
        assertEquals(0, lazy.dirtyPageCount());
        assertTrue(lazy.isQuiescent());
        PowDbFixture.assertSameDatabase(eager.dir(), lazy.dir(), true);
        SortedMap<String, byte[]> e = PowDbFixture.durableFiles(eager.dir(), true);
        SortedMap<String, byte[]> l = PowDbFixture.durableFiles(lazy.dir(), true);
        assertEquals(e.keySet(), l.keySet());
        for (String k : e.keySet()) assertArrayEquals(e.get(k), l.get(k), k);

        // Still deferring; turning deferral off flushes everything, no checkpoint needed.
        for (PowDbFixture f : all) f.updateRandomPages("a", 6);
        assertEquals(6, lazy.dirtyPageCount());
        lazy.deferPageWrites(false);
        assertEquals(0, lazy.dirtyPageCount());
        PowDbFixture.assertSameDatabase(eager.dir(), lazy.dir(), true);
        lazy.updatePages("a", first);
        eager.updatePages("a", first);
        assertEquals(0, lazy.dirtyPageCount(), "off again: pages are written at once");
        PowDbFixture.assertSameDatabase(eager.dir(), lazy.dir(), true);
    }

    @ParameterizedTest
    @EnumSource(Version.class)
    void crashLosingDirtyPagesRecoversTheCommittedStateByRedo(Version v) throws IOException {
        long seed = 22;
        int first = v.firstDataPage();
        PowDbFixture eager = PowDbFixture.create(tmp.resolve("eager"), v, seed);
        PowDbFixture lazy = PowDbFixture.create(tmp.resolve("lazy"), v, seed);
        List<PowDbFixture> both = List.of(eager, lazy);
        for (PowDbFixture f : both) {
            f.createTable("t", 16);
            f.createTable("u", 5);
        }
        lazy.deferPageWrites(true);
        for (PowDbFixture f : both) {
            f.updateRandomPages("t", 6);
            f.updatePages("u", first, first + 1);
        }
        lazy.flushSomeDirtyPages(3);
        for (PowDbFixture f : both) {
            f.appendPages("t", 2); // flushes t's dirty pages first; dirties the index, saved by the checkpoint
            f.checkpoint();
        }
        long checkpointLsn = lazy.lastLsn();
        for (int round = 0; round < 25; round++) {
            for (PowDbFixture f : both) {
                f.updateRandomPages("t", 1 + round % 4);
                if (round % 5 == 0) f.updatePages("u", first + round % 4);
            }
            lazy.flushSomeDirtyPages(round % 3);
        }
        for (PowDbFixture f : both) f.appendUncommittedUpdates("t", first + 2); // never committed: not replayed
        assertArrayEquals(Files.readAllBytes(eager.walPath()), Files.readAllBytes(lazy.walPath()));

        // The eager heaps hold every page's newest image. The lazy ones: some pages newest, flushed late
        // and out of order, others stale (their newest image only in memory and in the WAL).
        int stale = 0;
        int flushedAfterCheckpoint = 0;
        long newestFlushed = 0;
        long oldestStale = Long.MAX_VALUE;
        for (String t : List.of("t", "u")) {
            long[] e = pageLsns(eager.heapPath(t));
            long[] l = pageLsns(lazy.heapPath(t));
            assertEquals(e.length, l.length);
            for (int i = 0; i < e.length; i++) {
                assertTrue(l[i] <= e[i]);
                if (l[i] < e[i]) {
                    stale++;
                    oldestStale = Math.min(oldestStale, e[i]);
                } else if (l[i] > checkpointLsn) {
                    flushedAfterCheckpoint++;
                    newestFlushed = Math.max(newestFlushed, l[i]);
                }
            }
        }
        assertEquals(lazy.dirtyPageCount(), stale, "every dirty page is stale on disk, and only those");
        assertTrue(stale >= 3, "stale pages: " + stale);
        assertTrue(flushedAfterCheckpoint >= 3, "pages flushed since the checkpoint: " + flushedAfterCheckpoint);
        assertTrue(newestFlushed > oldestStale,
                "a page on disk is newer than a page still dirty: flushes came out of LSN order");

        lazy.crashLosingDirtyPages();
        assertEquals(0, lazy.dirtyPageCount());
        assertThrows(IllegalStateException.class, () -> lazy.updatePages("t", first));
        assertThrows(IllegalStateException.class, lazy::checkpoint);
        assertThrows(AssertionError.class, () -> PowDbFixture.assertSameDatabase(eager.dir(), lazy.dir()));

        eager.checkpoint();
        PowDbFixture recovered = PowDbFixture.open(lazy.dir(), v, seed);
        PowDbFixture.assertSameDatabase(eager.dir(), lazy.dir(), true);
        assertTrue(recovered.isQuiescent());
        assertEquals(0, recovered.dirtyPageCount());
        assertAllCrcsValid(lazy.dir().resolve("t.heap"));
        long maxPageLsn = 0;
        for (String t : recovered.tableNames()) {
            for (long lsn : pageLsns(recovered.heapPath(t))) maxPageLsn = Math.max(maxPageLsn, lsn);
        }
        assertEquals(maxPageLsn, recovered.lastLsn(), "next LSN above the largest (recovered) page LSN");
    }

    @ParameterizedTest
    @EnumSource(Version.class)
    void flushSomeDirtyPagesWritesLateAndOutOfLsnOrder(Version v) throws IOException {
        int first = v.firstDataPage();
        PowDbFixture f = PowDbFixture.create(tmp.resolve("db"), v, 23);
        f.createTable("t", first + 10);
        f.checkpoint();
        assertEquals(0, f.flushSomeDirtyPages(4), "not deferring: nothing is ever dirty");
        Path heap = f.heapPath("t");
        byte[] before = Files.readAllBytes(heap);

        f.deferPageWrites(true);
        long[] newest = new long[first + 10];
        for (int p = first; p < first + 10; p++) { // one transaction per page: LSNs rise with the page index
            f.updatePages("t", p);
            newest[p] = f.lastLsn() - 1; // its last update; the commit follows
        }
        assertEquals(10, f.dirtyPageCount());
        assertArrayEquals(before, Files.readAllBytes(heap), "committed and logged, but no page written yet");
        Map<String, Long> logged = lastLsnPerPage(parseWal(f.walPath(), v));
        for (int p = first; p < first + 10; p++) assertEquals(newest[p], logged.get("t#" + p));

        List<Integer> order = new ArrayList<>();
        long[] onDisk = pageLsns(heap);
        for (int i = 0; i < 10; i++) {
            assertEquals(1, f.flushSomeDirtyPages(1));
            assertEquals(9 - i, f.dirtyPageCount());
            long[] now = pageLsns(heap);
            List<Integer> written = new ArrayList<>();
            for (int p = 0; p < now.length; p++) if (now[p] != onDisk[p]) written.add(p);
            assertEquals(1, written.size(), "one page per flush: " + written);
            int p = written.get(0);
            assertEquals(newest[p], now[p], "page " + p + " is written with the LSN of its last update");
            order.add(p);
            onDisk = now;
        }
        assertEquals(0, f.flushSomeDirtyPages(5));
        assertEquals(10, Set.copyOf(order).size(), "every dirty page written once: " + order);
        boolean inversion = false;
        for (int i = 0; i < order.size(); i++) {
            for (int j = i + 1; j < order.size(); j++) {
                if (newest[order.get(j)] < newest[order.get(i)]) inversion = true;
            }
        }
        assertTrue(inversion, "a page flushed later has a lower LSN than one flushed earlier: " + order);
        assertAllCrcsValid(heap);

        // A dirty page is updated from its dirty image, and several pages are flushed per call.
        f.updatePages("t", first + 3);
        f.updatePages("t", first + 3, first + 5);
        assertEquals(2, f.dirtyPageCount());
        assertEquals(2, f.flushSomeDirtyPages(10));
        assertEquals(f.lastLsn() - 1, Math.max(PowDbFixture.pageLsn(heap, first + 3), PowDbFixture.pageLsn(heap, first + 5)));
        assertAllCrcsValid(heap);
        assertThrows(IllegalArgumentException.class, () -> f.flushSomeDirtyPages(-1));
    }

    // ------------------------------------------------------------ file helpers

    private static void flipByte(Path file, int offset) throws IOException {
        byte[] b = Files.readAllBytes(file);
        b[offset] ^= 0x01;
        Files.write(file, b);
    }

}
