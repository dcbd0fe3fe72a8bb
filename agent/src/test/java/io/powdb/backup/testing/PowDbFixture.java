package io.powdb.backup.testing;

import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Writes PowDB data directories exactly as shared/powdb-format.md describes them, and mutates them
 * the way a running server does: every change is a WAL transaction (records, then a commit record,
 * each taking the next LSN), the log is fsynced, and only then are the pages it describes written,
 * each stamped with the LSN of the last record applied to it.
 *
 * <p>Written from the format notes alone, independently of the agent's production reader, so that a
 * misreading in either shows up as a test failure. Everything is a function of the seed and the
 * sequence of calls: two fixtures given the same seed and calls produce identical bytes.
 *
 * <p>Page numbers are file page indices throughout: {@code createTable(t, n)} makes a heap of n pages,
 * {@link #pageCount} is the file length / 4096. In {@link Version#V0_5} page 0 is the superblock and
 * is never updated; data pages start at 1.
 *
 * <p>Optionally ({@link #deferPageWrites}) it behaves like a real server's buffer pool: updated pages
 * stay dirty in memory after their transaction commits and are written later, a few at a time, in
 * random order ({@link #flushSomeDirtyPages}), or all at once by {@link #checkpoint}; a kill -9
 * ({@link #crashLosingDirtyPages}) loses them, and {@link #open} recovers them from the WAL.
 *
 * <p>Choices the notes leave open, made here and used consistently by {@link #open} (replay):
 * DDL record types 6 create table, 7 drop table, 8 create index, 9 truncate heap; the 0.4 CRC flag
 * is a fixed function of the page id (so replay can recreate a page byte for byte); the superblock's
 * page LSN is the LSN of the create-table record; updates keep row lengths (in-place).
 */
public final class PowDbFixture {

    public enum Version {
        /** 0.4.x: no WAL header, no superblock, CRC flag on about half the pages, page-format version 0. */
        V0_4(0),
        /** 0.5: "PWAL" WAL header, page 0 a superblock, CRC on every page, page-format version 1. */
        V0_5(1);

        private final int pageFormat;

        Version(int pageFormat) {
            this.pageFormat = pageFormat;
        }

        public int pageFormat() { return pageFormat; }
        public boolean hasSuperblock() { return this == V0_5; }
        public int firstDataPage() { return hasSuperblock() ? 1 : 0; }
        /** wal.log as a checkpoint leaves it. */
        public byte[] emptyWal() { return this == V0_5 ? WalWriter.fileHeader() : new byte[0]; }
    }

    public static final String CATALOG = "catalog.bin";
    public static final String CATALOG_TMP = "catalog.bin.tmp";
    public static final String WAL = "wal.log";
    public static final String CATALOG_LSN = "catalog.lsn";
    public static final String VIEWS = "views.bin";
    public static final String AUTH = "auth.json";
    public static final String LOCK = "LOCK";
    public static final String READERS_DIR = "readers";
    public static final String SYNC_DIR = ".powdb-sync";
    /** The column every fixture table is indexed on: file {@code <table>_id.idx}. */
    public static final String ID_INDEX = "id";

    private static final Pattern TABLE_NAME = Pattern.compile("[A-Za-z0-9_]+");
    private static final int MIN_ROW = 48;
    private static final int MAX_ROW = 200;
    /** Pages written per group commit, to bound memory on big tables. */
    private static final int PAGE_BATCH = 128;

    private static final String[] KEYS = {"name", "city", "status", "region", "plan", "email", "tag", "note"};
    private static final String[] VALUES = {"alice", "bob", "carol", "dave", "paris", "berlin", "tokyo", "lima",
        "active", "pending", "closed", "eu-west-1", "us-east-2", "free", "pro", "enterprise", "example.org",
        "shipped", "2024-03-01", "lorem ipsum dolor sit amet"};

    private final Path dir;
    private final Version version;
    private final Random rnd;
    /**
     * Picks which dirty pages to flush, and in what order. Separate from {@link #rnd} so that flushing
     * never changes the row contents: a deferring fixture and a non-deferring twin with the same seed
     * and calls write the same WAL and, once flushed, the same pages.
     */
    private final Random flushRnd;
    private long nextLsn = 1;
    private long nextTxId = 1;
    private final Map<String, Table> tables = new LinkedHashMap<>();
    /** Whether {@link #updatePages} leaves its pages dirty in memory instead of writing them. */
    private boolean deferPages;
    /** Set by {@link #crashLosingDirtyPages}: the "process" is gone, the instance refuses further changes. */
    private boolean crashed;

    /** What the "server" keeps in memory about a table. */
    private static final class Table {
        final String name;
        final List<String> wholeFiles = new ArrayList<>(); // its .idx / .eidx files
        int nextRowId = 1;
        long liveRows;
        /** Pages committed but not yet written to the heap: page index → sealed page bytes (LSN, CRC). */
        final SortedMap<Integer, byte[]> dirtyPages = new TreeMap<>();
        boolean indexDirty; // rows added or removed since the .idx was last saved

        Table(String name) {
            this.name = name;
        }
    }

    private PowDbFixture(Path dir, Version version, long seed) {
        this.dir = dir;
        this.version = version;
        this.rnd = new Random(seed);
        this.flushRnd = new Random(seed ^ 0x9E3779B97F4A7C15L); // a stream of its own
    }

    /** A fresh directory: empty wal.log (0 bytes, or the 8-byte header) and a catalog with no tables. */
    public static PowDbFixture create(Path dir, Version version, long seed) throws IOException {
        Files.createDirectories(dir);
        PowDbFixture f = new PowDbFixture(dir, version, seed);
        writeWhole(f.walPath(), version.emptyWal());
        f.writeCatalog();
        return f;
    }

    /**
     * Opens an existing directory the way {@code Catalog::open} does: checks catalog.bin (magic, CRC,
     * version), that every table has its .heap, every page CRC where flagged (0.20+ refuses a bad one:
     * a torn copy fails here) and every index CRC (missing: rebuilt; corrupt: fails); replays committed
     * WAL transactions with per-page redo (a record is skipped when its page's LSN is >= its LSN);
     * flushes the heaps, truncates the WAL, and sets the next LSN above the largest page LSN.
     * Use it to check that a restored crash-consistent copy recovers, or to keep mutating a restored
     * directory. The rebuild of indexes after replay is not modelled: existing .idx files are kept.
     */
    public static PowDbFixture open(Path dir, Version version, long seed) throws IOException {
        PowDbFixture f = new PowDbFixture(dir, version, seed);
        Map<String, List<String>> catalog = CatalogFile.decode(Files.readAllBytes(dir.resolve(CATALOG)));
        Map<String, List<HeapPage>> heaps = new LinkedHashMap<>();
        for (Map.Entry<String, List<String>> e : catalog.entrySet()) {
            Table t = new Table(e.getKey());
            f.tables.put(t.name, t);
            Path heap = f.heapPath(t.name);
            if (!Files.isRegularFile(heap)) throw new IOException("table " + t.name + " has no " + heap.getFileName());
            heaps.put(t.name, readHeap(heap));
            for (String col : e.getValue()) t.wholeFiles.add(t.name + "_" + col + ".idx");
            if (Files.exists(dir.resolve(t.name + "_expr.eidx"))) t.wholeFiles.add(t.name + "_expr.eidx");
        }
        Path walPath = f.walPath();
        List<WalRecord> wal = WalRecord.readAll(walPath);
        Set<String> replayed = f.replay(heaps, wal);

        long maxLsn = 0;
        long maxTx = 0;
        for (WalRecord r : wal) maxTx = Math.max(maxTx, r.txId());
        for (Map.Entry<String, List<HeapPage>> e : heaps.entrySet()) {
            Table t = f.tables.get(e.getKey());
            for (HeapPage p : e.getValue()) {
                if (Long.compareUnsigned(p.lsn(), maxLsn) > 0) maxLsn = p.lsn();
                if (p.type() != HeapPage.TYPE_DATA) continue;
                for (int s : p.liveSlots()) {
                    t.liveRows++;
                    t.nextRowId = Math.max(t.nextRowId, rowId(p.row(s)) + 1);
                }
            }
            if (replayed.contains(t.name)) f.rewriteHeap(t.name, e.getValue());
        }
        Path catalogLsn = dir.resolve(CATALOG_LSN);
        if (Files.exists(catalogLsn) && Files.size(catalogLsn) == 8) {
            long durable = ByteBuffer.wrap(Files.readAllBytes(catalogLsn)).order(ByteOrder.LITTLE_ENDIAN).getLong();
            if (Long.compareUnsigned(durable, maxLsn) > 0) maxLsn = durable;
        }
        f.nextLsn = maxLsn + 1;
        f.nextTxId = maxTx + 1;
        for (Table t : f.tables.values()) {
            for (String name : t.wholeFiles) {
                Path p = dir.resolve(name);
                if (Files.exists(p)) {
                    try {
                        IndexFile.verify(Files.readAllBytes(p));
                    } catch (IOException e) {
                        throw new IOException(name + ": " + e.getMessage(), e);
                    }
                } else {
                    f.writeIndexFile(t, name, false);
                }
            }
        }
        writeWhole(walPath, version.emptyWal());
        return f;
    }

    // ---------------------------------------------------------------- accessors

    public Path dir() { return dir; }
    public Version version() { return version; }
    public Path walPath() { return dir.resolve(WAL); }
    public Path catalogPath() { return dir.resolve(CATALOG); }
    public Path heapPath(String table) { return dir.resolve(table + ".heap"); }
    public Path indexPath(String table) { return dir.resolve(table + "_" + ID_INDEX + ".idx"); }

    /** The last LSN handed out (LSNs count WAL records, +1 per record); 0 before the first record. */
    public synchronized long lastLsn() { return nextLsn - 1; }

    /** Simulates a new history, or a restart that lowers the LSN counter. */
    public synchronized void setNextLsn(long lsn) { this.nextLsn = lsn; }

    public synchronized List<String> tableNames() { return List.copyOf(tables.keySet()); }

    public synchronized int pageCount(String table) throws IOException {
        table(table);
        return heapPageCount(heapPath(table));
    }

    // ---------------------------------------------------------------- DDL

    /** Creates a table with a heap of {@code pages} pages of rows, its id index, and a new catalog. */
    public synchronized void createTable(String table, int pages) throws IOException {
        checkAlive();
        if (!TABLE_NAME.matcher(table).matches()) throw new IllegalArgumentException("bad table name: " + table);
        if (tables.containsKey(table)) throw new IllegalArgumentException("table exists: " + table);
        if (pages < version.firstDataPage()) {
            throw new IllegalArgumentException(version + " heaps have at least " + version.firstDataPage() + " page(s)");
        }
        WalWriter wal = new WalWriter(walPath());
        long tx = nextTxId++;
        long createLsn = log(wal, tx, WalWriter.DDL_CREATE_TABLE, WalWriter.namesPayload(table));
        log(wal, tx, WalWriter.DDL_CREATE_INDEX, WalWriter.namesPayload(table, ID_INDEX));
        log(wal, tx, WalWriter.COMMIT, new byte[0]);
        wal.sync();

        Table t = new Table(table);
        t.wholeFiles.add(indexPath(table).getFileName().toString());
        tables.put(table, t);
        writeCatalog();

        Path heap = heapPath(table);
        writeWhole(heap, new byte[0]);
        if (version.hasSuperblock()) {
            HeapPage sb = HeapPage.newSuperblock(version.pageFormat(), version.firstDataPage());
            sb.setLsn(createLsn);
            writePages(heap, new TreeMap<>(Map.of(0, sb.toBytes())));
        }
        fillNewPages(t, version.firstDataPage(), pages - version.firstDataPage());
        writeIndexFile(t, indexPath(table).getFileName().toString(), false);
        t.indexDirty = false;
    }

    /** Drops a table: a DDL transaction, a new catalog, then its .heap and index files are removed. */
    public synchronized void dropTable(String table) throws IOException {
        Table t = table(table);
        checkAlive();
        flushDirtyPages(t);
        WalWriter wal = new WalWriter(walPath());
        long tx = nextTxId++;
        log(wal, tx, WalWriter.DDL_DROP_TABLE, WalWriter.namesPayload(table));
        log(wal, tx, WalWriter.COMMIT, new byte[0]);
        wal.sync();
        tables.remove(table);
        writeCatalog();
        Files.deleteIfExists(heapPath(table));
        for (String f : t.wholeFiles) Files.deleteIfExists(dir.resolve(f));
    }

    // ---------------------------------------------------------------- row changes

    /**
     * Updates one to three rows on each given page (a page may repeat) in one transaction: the update
     * records and the commit are appended and fsynced first, then each page is rewritten with the new
     * row bytes, the LSN of its last update record, and its CRC recomputed when flagged. With
     * {@link #deferPageWrites} on, the rewritten pages are kept dirty in memory instead of written.
     */
    public synchronized void updatePages(String table, int... pageIndices) throws IOException {
        Table t = table(table);
        checkAlive();
        int count = pageCount(table);
        for (int p : pageIndices) {
            if (p < version.firstDataPage() || p >= count) {
                throw new IllegalArgumentException("page " + p + " is not a data page of " + table
                        + " (data pages " + version.firstDataPage() + ".." + (count - 1) + ")");
            }
        }
        if (pageIndices.length == 0) return;
        Path heap = heapPath(table);
        Map<Integer, HeapPage> touched = new TreeMap<>();
        WalWriter wal = new WalWriter(walPath());
        long tx = nextTxId++;
        for (int p : pageIndices) {
            HeapPage page = touched.get(p);
            if (page == null) {
                page = HeapPage.of(currentPage(t, p));
                touched.put(p, page);
            }
            updateRows(wal, tx, table, p, page);
        }
        log(wal, tx, WalWriter.COMMIT, new byte[0]);
        wal.sync();
        if (deferPages) {
            t.dirtyPages.putAll(sealAll(touched));
        } else {
            writePages(heap, sealAll(touched));
        }
    }

    /** Updates {@code count} distinct data pages picked at random; returns them, sorted. */
    public synchronized int[] updateRandomPages(String table, int count) throws IOException {
        checkAlive();
        int[] data = dataPages(table);
        if (count < 0 || count > data.length) {
            throw new IllegalArgumentException(table + " has " + data.length + " data pages, asked for " + count);
        }
        for (int i = 0; i < count; i++) { // partial Fisher-Yates: the first `count` entries are the pick
            int j = i + rnd.nextInt(data.length - i);
            int tmp = data[i];
            data[i] = data[j];
            data[j] = tmp;
        }
        int[] chosen = Arrays.copyOf(data, count);
        Arrays.sort(chosen);
        updatePages(table, chosen);
        return chosen;
    }

    /** Grows the heap by {@code count} pages of new rows (one insert transaction per page). */
    public synchronized void appendPages(String table, int count) throws IOException {
        Table t = table(table);
        if (count < 0) throw new IllegalArgumentException("count < 0");
        checkAlive();
        flushDirtyPages(t);
        fillNewPages(t, pageCount(table), count);
    }

    /**
     * Shrinks the heap to {@code pages} pages: a truncate-heap record (type 9) and commit, then the
     * file is truncated. The id index becomes dirty and is saved at the next checkpoint.
     */
    public synchronized void truncateTable(String table, int pages) throws IOException {
        Table t = table(table);
        int current = pageCount(table);
        if (pages < version.firstDataPage() || pages > current) {
            throw new IllegalArgumentException("cannot truncate " + table + " from " + current + " to " + pages + " pages");
        }
        if (pages == current) return;
        checkAlive();
        flushDirtyPages(t); // none is left to be written past the new end
        Path heap = heapPath(table);
        for (int p = pages; p < current; p++) {
            HeapPage page = HeapPage.of(readPage(heap, p));
            if (page.type() == HeapPage.TYPE_DATA) t.liveRows -= page.liveSlots().size();
        }
        WalWriter wal = new WalWriter(walPath());
        long tx = nextTxId++;
        log(wal, tx, WalWriter.DDL_TRUNCATE_HEAP, WalWriter.truncatePayload(table, pages));
        log(wal, tx, WalWriter.COMMIT, new byte[0]);
        wal.sync();
        try (FileChannel ch = FileChannel.open(heap, StandardOpenOption.WRITE)) {
            ch.truncate((long) pages * HeapPage.SIZE);
            ch.force(true);
        }
        t.indexDirty = true;
    }

    // ---------------------------------------------------------------- whole files

    /**
     * Rewrites {@code <table>_id.idx} whole with new content. When {@code pageAligned} its length is an
     * exact multiple of 4096 and it looks paged (see {@link IndexFile#build}) — it is not, and must be
     * backed up whole.
     */
    public synchronized void rewriteIndex(String table, boolean pageAligned) throws IOException {
        Table t = table(table);
        checkAlive();
        flushDirtyPages(t);
        writeIndexFile(t, indexPath(table).getFileName().toString(), pageAligned);
        t.indexDirty = false;
    }

    /** Writes (or rewrites with new content) catalog.lsn, views.bin, auth.json, and {@code <first table>_expr.eidx}. */
    public synchronized void writeOptionalWholeFiles() throws IOException {
        checkAlive();
        writeWhole(dir.resolve(CATALOG_LSN),
                ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(lastLsn()).array());
        // views.bin's format is not in the notes; a made-up record list is enough for whole-file backup.
        StringBuilder views = new StringBuilder("PVIEW1\n");
        for (String table : tables.keySet()) {
            views.append("CREATE VIEW v_").append(table).append("_").append(rnd.nextInt(1000))
                    .append(" AS SELECT * FROM ").append(table).append(" WHERE id > ").append(rnd.nextInt(100000))
                    .append(";\n");
        }
        writeWhole(dir.resolve(VIEWS), views.toString().getBytes(StandardCharsets.UTF_8));
        String auth = "{\"users\":[{\"name\":\"admin\",\"password_hash\":\"" + hex(randomBytes(32))
                + "\",\"roles\":[\"admin\"]},{\"name\":\"reader\",\"password_hash\":\"" + hex(randomBytes(32))
                + "\",\"roles\":[\"read\"]}]}\n";
        writeWhole(dir.resolve(AUTH), auth.getBytes(StandardCharsets.UTF_8));
        if (!tables.isEmpty()) {
            Table first = tables.values().iterator().next();
            String eidx = first.name + "_expr.eidx";
            if (!first.wholeFiles.contains(eidx)) first.wholeFiles.add(eidx);
            writeIndexFile(first, eidx, false);
        }
    }

    /** catalog.bin.tmp (a catalog rewrite caught midway), LOCK, readers/12345.pid, .powdb-sync/state. */
    public synchronized void writeTransientFiles() throws IOException {
        byte[] catalog = Files.readAllBytes(catalogPath());
        writeWhole(dir.resolve(CATALOG_TMP), Arrays.copyOf(catalog, Math.max(1, catalog.length / 2)));
        writeWhole(dir.resolve(LOCK), "4242\n".getBytes(StandardCharsets.US_ASCII));
        Files.createDirectories(dir.resolve(READERS_DIR));
        writeWhole(dir.resolve(READERS_DIR).resolve("12345.pid"), "12345\n".getBytes(StandardCharsets.US_ASCII));
        Files.createDirectories(dir.resolve(SYNC_DIR));
        writeWhole(dir.resolve(SYNC_DIR).resolve("state"),
                ("synced_lsn=" + lastLsn() + "\n").getBytes(StandardCharsets.US_ASCII));
    }

    public synchronized void removeTransientFiles() throws IOException {
        Files.deleteIfExists(dir.resolve(CATALOG_TMP));
        Files.deleteIfExists(dir.resolve(LOCK));
        Files.deleteIfExists(dir.resolve(READERS_DIR).resolve("12345.pid"));
        Files.deleteIfExists(dir.resolve(READERS_DIR));
        Files.deleteIfExists(dir.resolve(SYNC_DIR).resolve("state"));
        Files.deleteIfExists(dir.resolve(SYNC_DIR));
    }

    // ---------------------------------------------------------------- checkpoint & WAL

    /**
     * PowDB's checkpoint: write every dirty page (only {@link #deferPageWrites} leaves any; otherwise
     * the fixture writes pages at once), fsync the heaps, save dirty indexes (rows were appended or
     * truncated since the last save), then truncate wal.log to 0 bytes (0.4) or the 8-byte header
     * (0.5). The directory is then quiescent.
     */
    public synchronized void checkpoint() throws IOException {
        checkAlive();
        flushAllDirtyPages();
        for (Table t : tables.values()) {
            try (FileChannel ch = FileChannel.open(heapPath(t.name), StandardOpenOption.WRITE)) {
                ch.force(true);
            }
            if (t.indexDirty) {
                writeIndexFile(t, indexPath(t.name).getFileName().toString(), false);
                t.indexDirty = false;
            }
        }
        byte[] empty = version.emptyWal();
        try (FileChannel ch = FileChannel.open(walPath(), StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            ch.truncate(empty.length);
            ch.write(ByteBuffer.wrap(empty), 0);
            ch.force(true);
        }
    }

    /** wal.log is empty (0 bytes, or only the "PWAL" header). The fixture is no live process. */
    public synchronized boolean isQuiescent() {
        try {
            byte[] wal = Files.readAllBytes(walPath());
            return wal.length == 0 || (wal.length == WalWriter.FILE_HEADER_LEN && WalRecord.hasFileHeader(wal));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Records in wal.log up to the first bad one (length or CRC). */
    public synchronized long walRecordCount() throws IOException {
        return WalRecord.readAll(walPath()).size();
    }

    public synchronized List<WalRecord> walRecords() throws IOException {
        return WalRecord.readAll(walPath());
    }

    /**
     * Appends update records for the given pages without a commit record, and without touching the
     * pages (an open explicit transaction). Returns the WAL length before them, for {@link #rollbackWal}.
     */
    public synchronized long appendUncommittedUpdates(String table, int... pageIndices) throws IOException {
        Table t = table(table);
        checkAlive();
        long before = Files.size(walPath());
        WalWriter wal = new WalWriter(walPath());
        long tx = nextTxId++;
        for (int p : pageIndices) {
            if (p < version.firstDataPage()) throw new IllegalArgumentException("not a data page: " + p);
            updateRows(wal, tx, table, p, HeapPage.of(currentPage(t, p)));
        }
        wal.sync();
        return before;
    }

    /** A rollback: PowDB cuts wal.log back to the length it had when the transaction began. */
    public synchronized void rollbackWal(long walLength) throws IOException {
        checkAlive();
        try (FileChannel ch = FileChannel.open(walPath(), StandardOpenOption.WRITE)) {
            ch.truncate(walLength);
            ch.force(true);
        }
    }

    /** A crash mid-append: a record header promising more bytes than follow. Readers stop there. */
    public synchronized void appendTornWalTail() throws IOException {
        checkAlive();
        byte[] rec = WalWriter.encode(nextTxId++, WalWriter.UPDATE, nextLsn++, randomBytes(64));
        try (FileChannel ch = FileChannel.open(walPath(), StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
            ch.write(ByteBuffer.wrap(rec, 0, rec.length / 2));
            ch.force(true);
        }
    }

    /**
     * Flips one row byte of a page without fixing its CRC (a torn or corrupt page). Only detectable
     * when the page has the CRC flag (in 0.4 about half do).
     */
    public synchronized void corruptPage(String table, int page) throws IOException {
        Table t = table(table);
        checkAlive();
        flushDirtyPages(t); // or a later flush would overwrite the damage
        byte[] bytes = readPage(heapPath(table), page);
        bytes[HeapPage.ROWS_START + 7] ^= 0x5A;
        writePages(heapPath(table), new TreeMap<>(Map.of(page, bytes)));
    }

    // ---------------------------------------------------------------- deferred page writes (buffer pool)

    /**
     * On: {@link #updatePages} (and so {@link #updateRandomPages}) log and commit as always but keep
     * the new page images dirty in memory, to be written by {@link #flushSomeDirtyPages}, by
     * {@link #checkpoint}, or before any change to a table's file structure. Off (the default):
     * pages are written right after their commit; turning it off writes every dirty page first.
     * The heap files plus the dirty pages always equal what a non-deferring fixture has on disk.
     * I/O errors are thrown as {@link UncheckedIOException}.
     */
    public synchronized void deferPageWrites(boolean defer) {
        checkAlive();
        if (!defer) {
            try {
                flushAllDirtyPages();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        deferPages = defer;
    }

    /**
     * Writes up to {@code max} dirty pages, picked at random over all tables and written in random
     * order (late and out of LSN order, as a buffer pool evicts them), each as one positional write
     * of the whole page, without fsync. Returns how many were written. Reproducible: the choice comes
     * from a Random seeded from the fixture's seed, separate from the one that makes row contents.
     * I/O errors are thrown as {@link UncheckedIOException}.
     */
    public synchronized int flushSomeDirtyPages(int max) {
        if (max < 0) throw new IllegalArgumentException("max < 0");
        checkAlive();
        List<Table> owners = new ArrayList<>();
        List<Integer> pages = new ArrayList<>();
        for (Table t : tables.values()) {
            for (int p : t.dirtyPages.keySet()) {
                owners.add(t);
                pages.add(p);
            }
        }
        int n = Math.min(max, pages.size());
        for (int i = 0; i < n; i++) { // partial Fisher-Yates: the first n entries, in write order
            int j = i + flushRnd.nextInt(pages.size() - i);
            owners.set(j, owners.set(i, owners.get(j)));
            pages.set(j, pages.set(i, pages.get(j)));
        }
        for (int i = 0; i < n; i++) {
            Table t = owners.get(i);
            int p = pages.get(i);
            byte[] bytes = t.dirtyPages.remove(p);
            try (FileChannel ch = FileChannel.open(heapPath(t.name), StandardOpenOption.WRITE)) {
                ByteBuffer buf = ByteBuffer.wrap(bytes);
                long pos = (long) p * HeapPage.SIZE;
                while (buf.hasRemaining()) ch.write(buf, pos + buf.position());
            } catch (IOException e) {
                t.dirtyPages.put(p, bytes); // still dirty
                throw new UncheckedIOException(e);
            }
        }
        return n;
    }

    /** Pages committed but not yet written to their heap files (always 0 unless {@link #deferPageWrites}). */
    public synchronized int dirtyPageCount() {
        int n = 0;
        for (Table t : tables.values()) n += t.dirtyPages.size();
        return n;
    }

    /**
     * A kill -9 of the server: the dirty pages are lost (the WAL, fsynced at every commit, is not).
     * The instance refuses further changes afterwards; re-open the directory with {@link #open},
     * which replays the WAL and recovers the committed state.
     */
    public synchronized void crashLosingDirtyPages() {
        for (Table t : tables.values()) t.dirtyPages.clear();
        crashed = true;
    }

    // ---------------------------------------------------------------- static helpers for tests

    /** Transient files: never backed up, never restored. {@code rel} uses '/' separators. */
    public static boolean isTransient(String rel) {
        return rel.equals(CATALOG_TMP) || rel.equals(LOCK)
                || rel.startsWith(READERS_DIR + "/") || rel.startsWith(SYNC_DIR + "/");
    }

    /** Every durable file (not transient, not wal.log unless includeWal) → its bytes; for comparing directories byte for byte. */
    public static SortedMap<String, byte[]> durableFiles(Path dir, boolean includeWal) throws IOException {
        SortedMap<String, byte[]> out = new TreeMap<>();
        List<Path> files;
        try (Stream<Path> s = Files.walk(dir)) {
            files = s.filter(Files::isRegularFile).collect(Collectors.toList());
        }
        for (Path p : files) {
            String rel = dir.relativize(p).toString().replace(p.getFileSystem().getSeparator(), "/");
            if (isTransient(rel) || (!includeWal && rel.equals(WAL))) continue;
            out.put(rel, Files.readAllBytes(p));
        }
        return out;
    }

    /** Copies the durable files of {@code from} (wal.log included) into {@code to}, created if missing; returns {@code to}. */
    public static Path copyDatabase(Path from, Path to) throws IOException {
        Files.createDirectories(to);
        for (Map.Entry<String, byte[]> file : durableFiles(from, true).entrySet()) {
            Files.write(to.resolve(file.getKey()), file.getValue());
        }
        return to;
    }

    /** Asserts two directories hold the same durable files (wal.log excluded) byte for byte. */
    public static void assertSameDatabase(Path expected, Path actual) throws IOException {
        assertSameDatabase(expected, actual, false);
    }

    /**
     * Asserts two directories hold the same durable files byte for byte. The message names the first
     * difference (file; for a heap also page index, offset in the page and field) and how many files differ.
     */
    public static void assertSameDatabase(Path expected, Path actual, boolean includeWal) throws IOException {
        SortedMap<String, byte[]> e = durableFiles(expected, includeWal);
        SortedMap<String, byte[]> a = durableFiles(actual, includeWal);
        SortedSet<String> names = new TreeSet<>(e.keySet());
        names.addAll(a.keySet());
        List<String> diffs = new ArrayList<>();
        List<String> diffNames = new ArrayList<>();
        for (String name : names) {
            String d = describeDifference(name, e.get(name), a.get(name));
            if (d != null) {
                diffs.add(d);
                diffNames.add(name);
            }
        }
        if (!diffs.isEmpty()) {
            throw new AssertionError("databases differ (expected " + expected + ", actual " + actual + "): "
                    + diffs.get(0) + (diffs.size() > 1 ? "; " + diffs.size() + " files differ: " + diffNames : ""));
        }
    }

    /** The page LSN of page n (u64 LE at bytes 8..16), read without any validation. */
    public static long pageLsn(Path heap, int page) throws IOException {
        return ByteBuffer.wrap(readPage(heap, page), HeapPage.LSN_AT, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    }

    /** Whether page n has the CRC flag (flags bit 0): in 0.4 about half the pages do not. */
    public static boolean pageHasCrc(Path heap, int page) throws IOException {
        return (readPage(heap, page)[5] & HeapPage.FLAG_CRC) != 0;
    }

    public static int heapPageCount(Path heap) throws IOException {
        long size = Files.size(heap);
        if (size % HeapPage.SIZE != 0) throw new IOException(heap + " is not a whole number of pages: " + size);
        return (int) (size / HeapPage.SIZE);
    }

    public static byte[] readPage(Path heap, int page) throws IOException {
        try (FileChannel ch = FileChannel.open(heap, StandardOpenOption.READ)) {
            ByteBuffer buf = ByteBuffer.allocate(HeapPage.SIZE);
            long pos = (long) page * HeapPage.SIZE;
            while (buf.hasRemaining()) {
                int n = ch.read(buf, pos + buf.position());
                if (n < 0) throw new EOFException(heap.getFileName() + " has no page " + page);
            }
            return buf.array();
        }
    }

    // ---------------------------------------------------------------- internals

    private Table table(String name) {
        Table t = tables.get(name);
        if (t == null) throw new IllegalArgumentException("no table " + name);
        return t;
    }

    private void checkAlive() {
        if (crashed) {
            throw new IllegalStateException("this fixture crashed (crashLosingDirtyPages): re-open the directory with open()");
        }
    }

    /** The page as the server sees it: its dirty image if it has one, else the heap file's. */
    private byte[] currentPage(Table t, int page) throws IOException {
        byte[] dirty = t.dirtyPages.get(page);
        return dirty != null ? dirty : readPage(heapPath(t.name), page);
    }

    /** Writes (and fsyncs) a table's dirty pages, before anything that reads or restructures its heap. */
    private void flushDirtyPages(Table t) throws IOException {
        if (t.dirtyPages.isEmpty()) return;
        writePages(heapPath(t.name), t.dirtyPages);
        t.dirtyPages.clear();
    }

    private void flushAllDirtyPages() throws IOException {
        for (Table t : tables.values()) flushDirtyPages(t);
    }

    private int[] dataPages(String table) throws IOException {
        int count = pageCount(table);
        int first = Math.min(version.firstDataPage(), count);
        int[] pages = new int[count - first];
        for (int i = 0; i < pages.length; i++) pages[i] = first + i;
        return pages;
    }

    private long log(WalWriter wal, long tx, int type, byte[] payload) {
        long lsn = nextLsn++;
        wal.add(tx, type, lsn, payload);
        return lsn;
    }

    /** 0.5 flags every page; 0.4 about half, by a fixed hash of the page id so WAL replay can redo it. */
    private boolean crcFlagFor(int pageId) {
        return version != Version.V0_4 || ((pageId * 0x9E3779B9) >>> 31) == 1;
    }

    /** New pages filled with rows, one insert transaction per page, group-committed per batch. */
    private void fillNewPages(Table t, int firstPage, int count) throws IOException {
        Path heap = heapPath(t.name);
        for (int done = 0; done < count; ) {
            int n = Math.min(PAGE_BATCH, count - done);
            WalWriter wal = new WalWriter(walPath());
            SortedMap<Integer, byte[]> out = new TreeMap<>();
            for (int i = 0; i < n; i++) {
                int pageId = firstPage + done + i;
                HeapPage page = HeapPage.newData(pageId, version.pageFormat(), crcFlagFor(pageId));
                long tx = nextTxId++;
                for (int room = page.spaceForNewRow(); room >= MIN_ROW; room = page.spaceForNewRow()) {
                    // The last row takes what is left, so pages end up nearly full, as on a loaded table.
                    int len = Math.min(room, MIN_ROW + rnd.nextInt(MAX_ROW - MIN_ROW + 1));
                    byte[] row = newRow(t.nextRowId++, len);
                    int slot = page.addRow(row);
                    page.setLsn(log(wal, tx, WalWriter.INSERT, WalWriter.rowPayload(t.name, pageId, slot, row)));
                    t.liveRows++;
                }
                log(wal, tx, WalWriter.COMMIT, new byte[0]);
                out.put(pageId, page.toBytes());
            }
            wal.sync(); // write-ahead: records durable before the pages they describe
            writePages(heap, out);
            done += n;
        }
        if (count > 0) t.indexDirty = true;
    }

    /** Logs updates of 1..3 random live rows of a page and applies them to the in-memory page. */
    private void updateRows(WalWriter wal, long tx, String table, int pageId, HeapPage page) {
        List<Integer> live = page.liveSlots();
        if (page.type() != HeapPage.TYPE_DATA || live.isEmpty()) {
            throw new IllegalStateException(table + " page " + pageId + " has no rows to update");
        }
        int n = 1 + rnd.nextInt(Math.min(3, live.size()));
        for (int i = 0; i < n; i++) {
            int slot = live.remove(rnd.nextInt(live.size()));
            byte[] old = page.row(slot);
            byte[] row = newRow(rowId(old), old.length); // same id: the id index is unaffected
            page.setLsn(log(wal, tx, WalWriter.UPDATE, WalWriter.rowPayload(table, pageId, slot, row)));
            page.replaceRow(slot, row);
        }
    }

    /**
     * A row: u32 id, u8 column count, u16 blob length, a random blob (~40%), then text of key=value
     * pairs from a small vocabulary. Heaps then compress roughly 2x, like real data.
     */
    private byte[] newRow(int id, int length) {
        byte[] row = new byte[length];
        ByteBuffer b = ByteBuffer.wrap(row).order(ByteOrder.LITTLE_ENDIAN);
        int blob = (length - 7) * 2 / 5;
        b.putInt(id).put((byte) 3).putShort((short) blob);
        byte[] random = new byte[blob];
        rnd.nextBytes(random);
        b.put(random);
        StringBuilder text = new StringBuilder();
        while (text.length() < b.remaining()) {
            text.append(KEYS[rnd.nextInt(KEYS.length)]).append('=').append(VALUES[rnd.nextInt(VALUES.length)]).append(';');
        }
        b.put(text.substring(0, b.remaining()).getBytes(StandardCharsets.US_ASCII));
        return row;
    }

    private static int rowId(byte[] row) {
        return ByteBuffer.wrap(row).order(ByteOrder.LITTLE_ENDIAN).getInt(0);
    }

    private void writeIndexFile(Table t, String fileName, boolean pageAligned) throws IOException {
        int hint = (int) Math.min(Integer.MAX_VALUE / 2, 64 + t.liveRows * 9) + rnd.nextInt(256);
        writeWhole(dir.resolve(fileName), IndexFile.build(rnd, hint, pageAligned));
    }

    /** catalog.bin via catalog.bin.tmp + fsync + rename, then the directory fsynced. */
    private void writeCatalog() throws IOException {
        Map<String, List<String>> list = new LinkedHashMap<>();
        for (Table t : tables.values()) list.put(t.name, List.of(ID_INDEX));
        Path tmp = dir.resolve(CATALOG_TMP);
        writeWhole(tmp, CatalogFile.encode(list));
        Files.move(tmp, catalogPath(), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        fsyncDirectory(dir);
    }

    private void rewriteHeap(String table, List<HeapPage> pages) throws IOException {
        Path heap = heapPath(table);
        SortedMap<Integer, byte[]> all = new TreeMap<>();
        for (int i = 0; i < pages.size(); i++) all.put(i, pages.get(i).toBytes());
        try (FileChannel ch = FileChannel.open(heap, StandardOpenOption.WRITE)) {
            ch.truncate((long) pages.size() * HeapPage.SIZE);
        }
        writePages(heap, all);
    }

    /**
     * Per-page redo of committed transactions, in log order. Returns the tables whose heaps changed.
     * DDL records are replayed unguarded (drop empties the heap, truncate cuts it): every record after
     * them is still in the log, since only a checkpoint removes records.
     */
    private Set<String> replay(Map<String, List<HeapPage>> heaps, List<WalRecord> wal) throws IOException {
        Set<Long> committed = new HashSet<>();
        for (WalRecord r : wal) if (r.type() == WalWriter.COMMIT) committed.add(r.txId());
        Set<String> changed = new HashSet<>();
        for (WalRecord r : wal) {
            if (!committed.contains(r.txId())) continue;
            switch (r.type()) {
                case WalWriter.INSERT, WalWriter.UPDATE, WalWriter.DELETE -> {
                    WalRecord.RowChange c = r.rowChange();
                    List<HeapPage> pages = heaps.get(c.table());
                    if (pages == null) continue; // a table no longer in the catalog
                    if (c.pageId() >= pages.size()) {
                        if (r.type() != WalWriter.INSERT) continue; // page since truncated away
                        while (pages.size() <= c.pageId()) pages.add(HeapPage.of(new byte[HeapPage.SIZE]));
                    }
                    HeapPage page = pages.get(c.pageId());
                    if (page.type() == HeapPage.TYPE_EMPTY) {
                        page = HeapPage.newData(c.pageId(), version.pageFormat(), crcFlagFor(c.pageId()));
                        pages.set(c.pageId(), page);
                    }
                    if (Long.compareUnsigned(page.lsn(), r.lsn()) >= 0) continue;
                    if (r.type() == WalWriter.INSERT) {
                        if (page.addRow(c.row()) != c.slot()) {
                            throw new IOException("replay: insert at LSN " + r.lsn() + " does not fit " + c.table()
                                    + " page " + c.pageId() + " slot " + c.slot());
                        }
                    } else if (r.type() == WalWriter.UPDATE) {
                        page.replaceRow(c.slot(), c.row());
                    } else {
                        page.deleteRow(c.slot());
                    }
                    page.setLsn(r.lsn());
                    changed.add(c.table());
                }
                case WalWriter.DDL_CREATE_TABLE -> {
                    List<HeapPage> pages = heaps.get(r.ddlTable());
                    if (pages == null || !version.hasSuperblock()) continue;
                    if (pages.isEmpty() || Long.compareUnsigned(pages.get(0).lsn(), r.lsn()) < 0) {
                        HeapPage sb = HeapPage.newSuperblock(version.pageFormat(), version.firstDataPage());
                        sb.setLsn(r.lsn());
                        if (pages.isEmpty()) pages.add(sb); else pages.set(0, sb);
                        changed.add(r.ddlTable());
                    }
                }
                case WalWriter.DDL_DROP_TABLE -> {
                    List<HeapPage> pages = heaps.get(r.ddlTable()); // present: the table was created again
                    if (pages != null && !pages.isEmpty()) {
                        pages.clear();
                        changed.add(r.ddlTable());
                    }
                }
                case WalWriter.DDL_TRUNCATE_HEAP -> {
                    List<HeapPage> pages = heaps.get(r.ddlTable());
                    int keep = r.truncatePages();
                    if (pages != null && pages.size() > keep) {
                        pages.subList(keep, pages.size()).clear();
                        changed.add(r.ddlTable());
                    }
                }
                default -> { } // commit, create index: nothing to redo on pages
            }
        }
        return changed;
    }

    private static List<HeapPage> readHeap(Path heap) throws IOException {
        byte[] bytes = Files.readAllBytes(heap);
        if (bytes.length % HeapPage.SIZE != 0) {
            throw new IOException(heap.getFileName() + " is not a whole number of pages: " + bytes.length);
        }
        List<HeapPage> pages = new ArrayList<>();
        for (int i = 0; i < bytes.length / HeapPage.SIZE; i++) {
            byte[] page = Arrays.copyOfRange(bytes, i * HeapPage.SIZE, (i + 1) * HeapPage.SIZE);
            if (!HeapPage.crcValid(page)) {
                throw new IOException(heap.getFileName() + " page " + i + ": bad page CRC (torn or corrupt)");
            }
            pages.add(HeapPage.of(page));
        }
        return pages;
    }

    private static SortedMap<Integer, byte[]> sealAll(Map<Integer, HeapPage> pages) {
        SortedMap<Integer, byte[]> out = new TreeMap<>();
        pages.forEach((i, p) -> out.put(i, p.toBytes()));
        return out;
    }

    private static void writePages(Path heap, SortedMap<Integer, byte[]> pages) throws IOException {
        try (FileChannel ch = FileChannel.open(heap, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            for (Map.Entry<Integer, byte[]> e : pages.entrySet()) {
                ByteBuffer buf = ByteBuffer.wrap(e.getValue());
                long pos = (long) e.getKey() * HeapPage.SIZE;
                while (buf.hasRemaining()) ch.write(buf, pos + buf.position());
            }
            ch.force(true);
        }
    }

    private static void writeWhole(Path file, byte[] bytes) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer buf = ByteBuffer.wrap(bytes);
            while (buf.hasRemaining()) ch.write(buf);
            ch.force(true);
        }
    }

    private static void fsyncDirectory(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException e) {
            // Not every platform can open a directory for fsync; the rename is still atomic.
        }
    }

    private byte[] randomBytes(int n) {
        byte[] b = new byte[n];
        rnd.nextBytes(b);
        return b;
    }

    private static String hex(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (byte x : b) s.append(String.format("%02x", x));
        return s.toString();
    }

    private static String describeDifference(String name, byte[] expected, byte[] actual) {
        if (expected == null) return "unexpected file " + name + " in actual (" + actual.length + " bytes)";
        if (actual == null) return "file " + name + " missing from actual (expected " + expected.length + " bytes)";
        if (Arrays.equals(expected, actual)) return null;
        int i = Arrays.mismatch(expected, actual);
        boolean heap = name.endsWith(".heap");
        String lengths = expected.length == actual.length ? ""
                : " (length expected " + expected.length + ", actual " + actual.length
                        + (heap ? "; pages expected " + expected.length / HeapPage.SIZE
                                + ", actual " + actual.length / HeapPage.SIZE : "") + ")";
        if (i >= expected.length || i >= actual.length) {
            return "file " + name + " differs in length" + lengths + ", identical up to byte " + i;
        }
        String bytes = String.format("expected 0x%02x, actual 0x%02x", expected[i], actual[i]);
        if (!heap) return "file " + name + " byte offset " + i + ": " + bytes + lengths;
        int page = i / HeapPage.SIZE;
        int off = i % HeapPage.SIZE;
        String field = heapField(off);
        if (off >= HeapPage.LSN_AT && off < HeapPage.LSN_AT + 8) {
            field += String.format(" %d vs %d", lsnAt(expected, page), lsnAt(actual, page));
        }
        return "file " + name + " page " + page + " byte offset " + off + " (" + field + ", file offset " + i
                + "): " + bytes + lengths;
    }

    private static long lsnAt(byte[] heap, int page) {
        return ByteBuffer.wrap(heap).order(ByteOrder.LITTLE_ENDIAN).getLong(page * HeapPage.SIZE + HeapPage.LSN_AT);
    }

    private static String heapField(int off) {
        if (off < 4) return "page_id";
        if (off == 4) return "page_type";
        if (off == 5) return "flags";
        if (off < 8) return "free_start";
        if (off < 16) return "page LSN";
        if (off < 20) return "CRC32";
        if (off >= HeapPage.SLOT_COUNT_AT) return "slot count";
        return "rows / slot directory";
    }
}
