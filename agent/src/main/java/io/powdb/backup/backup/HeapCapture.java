package io.powdb.backup.backup;

import io.powdb.backup.scratch.ScratchFiles;
import io.powdb.backup.format.DataFile;
import io.powdb.backup.format.HeapPage;
import io.powdb.backup.format.SourceException;
import io.powdb.backup.repo.FileEntry;
import io.powdb.backup.repo.ObjectRef;
import io.powdb.backup.repo.PageMap;
import io.powdb.backup.repo.PageMapDelta;
import io.powdb.backup.repo.PagePack;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Backs up one heap in a single sequential read. Every page is fingerprinted and compared with the base
 * backup's page map (when there is one); the pages that differ in LSN or in content go into a page pack,
 * and the LSN and fingerprint of every page into a new page map. Without a base, the heap is stored whole
 * as a raw image. Images and packs are stored with the backup's compression; maps and deltas as they are.
 */
final class HeapCapture {
    private static final int PAGES_PER_READ = 256;

    /** What capturing one heap produced. */
    record Result(FileEntry entry, long pagesWithBadCrc, boolean lsnWentBack, long contentDigest) {
    }

    /** Deltas on one full map before the next incremental writes a full map again (bounds what a restore reads). */
    static final int MAX_MAP_DELTAS = 16;

    private final BackupSession session;
    /** Null for a quiescent directory; else the WAL being followed, polled between batches. */
    private final WalCapture wal;
    private final TornPageReader torn;
    private final Path tempDir;

    HeapCapture(BackupSession session, WalCapture wal, Path tempDir) {
        this.session = session;
        this.wal = wal;
        this.tempDir = tempDir;
        this.torn = wal == null ? null : new TornPageReader(PAGES_PER_READ * HeapPage.SIZE);
    }

    /** Re-reads of torn pages so far (live captures only). */
    long rereads() {
        return torn == null ? 0 : torn.rereads();
    }

    /**
     * @param base the heap's entry in the backup compared with, or null when there is none
     * @param baseMap that entry's page map, open; null exactly when {@code base} is null
     * @param whole store every page as a raw image (a full backup, or no base); the base map then serves
     *     only to notice LSNs that went back (a new history)
     */
    Result capture(DataFile file, FileEntry base, PageMap baseMap, boolean whole) throws IOException {
        if (file.size() % HeapPage.SIZE != 0) {
            throw new SourceException(file.name() + " is " + file.size() + " bytes, not a whole number of "
                    + HeapPage.SIZE + "-byte pages: it is not a PowDB heap, or it is damaged");
        }
        long pages = file.size() / HeapPage.SIZE;
        if (pages > PagePack.MAX_PAGES) {
            throw new SourceException(file.name() + " has more pages than this format can address");
        }
        boolean image = whole || base == null;
        long basePages = baseMap == null ? 0 : baseMap.pages();
        String prefix = session.dataPrefix();

        Files.createDirectories(tempDir);
        Path fullMap = ScratchFiles.create(tempDir, "powdb-backup-", ".map");
        try (FileChannel channel = FileChannel.open(file.path(), StandardOpenOption.READ);
             OutputStream fullMapOut = Files.newOutputStream(fullMap);
             Uploads uploads = new Uploads()) {
            // The full map goes to a local file (12 bytes a page); an incremental uploads only the entries it
            // changed, unless that is no saving.
            PageMap.Writer map = new PageMap.Writer(fullMapOut, pages);
            if (image && pages > 0) {
                uploads.data = session.newCompressedObject(prefix + "heaps/" + file.name());
            }
            ByteBuffer buffer = ByteBuffer.allocate(PAGES_PER_READ * HeapPage.SIZE);
            byte[] bytes = buffer.array();
            PageDigest digest = new PageDigest();
            long maxLsn = 0;
            long changed = 0;
            long badCrc = 0;
            boolean lsnWentBack = false;
            for (long page = 0; page < pages; ) {
                int batch = (int) Math.min(PAGES_PER_READ, pages - page);
                readFully(channel, buffer, page * HeapPage.SIZE, batch * HeapPage.SIZE, file, wal != null);
                if (torn != null) {
                    // From an empty WAL any write during the capture already forces another attempt (records
                    // appear, or the final re-read finds a changed page): pages need no torn-read check then.
                    if (!wal.emptyAtStart()) {
                        torn.settle(channel, bytes, page * HeapPage.SIZE, batch);
                    }
                    wal.poll();
                }
                for (int i = 0; i < batch; i++, page++) {
                    int offset = i * HeapPage.SIZE;
                    long lsn = HeapPage.lsn(bytes, offset);
                    int fingerprint = HeapPage.fingerprint(bytes, offset);
                    if (!HeapPage.crcMatches(bytes, offset)) {
                        badCrc++;
                    }
                    if (Long.compareUnsigned(lsn, maxLsn) > 0) {
                        maxLsn = lsn;
                    }
                    map.add(lsn, fingerprint);
                    digest.add(lsn, fingerprint);
                    boolean known = page < basePages;
                    if (known && Long.compareUnsigned(lsn, baseMap.lsn(page)) < 0) {
                        // Within one history a page's LSN never goes back: the database was restored to an
                        // earlier point and written again.
                        lsnWentBack = true;
                    }
                    if (image) {
                        changed++;
                    } else if (!known || baseMap.lsn(page) != lsn || baseMap.fingerprint(page) != fingerprint) {
                        changed++;
                        if (uploads.pack == null) {
                            uploads.data = session.newCompressedObject(prefix + "heaps/" + file.name() + ".pages");
                            uploads.pack = new PagePack.Writer(uploads.data.stream(), pages);
                            uploads.deltaObject = session.newObject(prefix + "maps/" + file.name() + ".mapd");
                            uploads.delta = new PageMapDelta.Writer(uploads.deltaObject.stream(), pages);
                        }
                        uploads.pack.add(page, bytes, offset);
                        uploads.delta.add(page, lsn, fingerprint);
                    }
                }
                if (image) {
                    uploads.data.stream().write(bytes, 0, batch * HeapPage.SIZE);
                }
                session.scanned((long) batch * HeapPage.SIZE);
            }
            if (wal == null && channel.size() != file.size()) {
                throw new SourceException(file.name() + " changed size during the backup");
            }
            map.finish();

            List<ObjectRef> sources = new ArrayList<>();
            if (uploads.pack != null) {
                uploads.pack.finish();
            }
            if (uploads.data != null) {
                sources.add(uploads.data.commit(image ? ObjectRef.RAW : ObjectRef.PAGES));
            }
            if (!image) {
                sources.addAll(base.sources());
            }
            fullMapOut.flush();
            ObjectRef mapRef;
            List<ObjectRef> deltas = new ArrayList<>();
            if (!image && changed == 0 && pages == basePages) {
                mapRef = base.pageMap(); // unchanged: the base's map still describes it
                deltas.addAll(base.mapDeltas());
            } else if (!image && useDelta(base, changed, pages)) {
                if (uploads.delta == null) { // only the page count changed (the heap shrank)
                    uploads.deltaObject = session.newObject(prefix + "maps/" + file.name() + ".mapd");
                    uploads.delta = new PageMapDelta.Writer(uploads.deltaObject.stream(), pages);
                }
                uploads.delta.finish();
                mapRef = base.pageMap();
                deltas.add(uploads.deltaObject.commit(ObjectRef.PAGE_MAP_DELTA));
                deltas.addAll(base.mapDeltas());
            } else {
                try (PendingObject mapObject = session.newObject(prefix + "maps/" + file.name() + ".map");
                     InputStream in = Files.newInputStream(fullMap)) {
                    in.transferTo(mapObject.stream());
                    mapRef = mapObject.commit(ObjectRef.PAGE_MAP);
                }
            }
            return new Result(FileEntry.heap(file.name(), pages, maxLsn, mapRef, deltas, sources, changed), badCrc,
                    lsnWentBack, digest.value());
        } finally {
            Files.deleteIfExists(fullMap);
        }
    }

    /**
     * A delta (16 bytes per changed page) instead of a full map (12 bytes per page) while it is clearly smaller
     * and the chain of deltas on the full map is short.
     */
    private static boolean useDelta(FileEntry base, long changed, long pages) {
        return base.mapDeltas().size() < MAX_MAP_DELTAS && changed * 16 < pages * 12 / 2;
    }


    /**
     * Reads the first {@code pages} pages of a heap again and returns the same digest {@link #capture} gave:
     * equal digests mean no page's LSN or content changed in between.
     */
    static long digest(DataFile file, long pages) throws IOException {
        PageDigest digest = new PageDigest();
        try (FileChannel channel = FileChannel.open(file.path(), StandardOpenOption.READ)) {
            ByteBuffer buffer = ByteBuffer.allocate(PAGES_PER_READ * HeapPage.SIZE);
            byte[] bytes = buffer.array();
            for (long page = 0; page < pages; ) {
                int batch = (int) Math.min(PAGES_PER_READ, pages - page);
                readFully(channel, buffer, page * HeapPage.SIZE, batch * HeapPage.SIZE, file, true);
                for (int i = 0; i < batch; i++, page++) {
                    digest.add(HeapPage.lsn(bytes, i * HeapPage.SIZE), HeapPage.fingerprint(bytes, i * HeapPage.SIZE));
                }
            }
        }
        return digest.value();
    }

    /** A running CRC32C of every page's LSN and fingerprint. */
    private static final class PageDigest {
        private final java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        private final ByteBuffer entry = ByteBuffer.allocate(12).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        private long pages;

        void add(long lsn, int fingerprint) {
            entry.clear();
            entry.putLong(lsn).putInt(fingerprint);
            crc.update(entry.array());
            pages++;
        }

        long value() {
            return crc.getValue() ^ (pages << 32);
        }
    }

    /** The heap's data object, created on the first changed page; aborted on failure. */
    private static final class Uploads implements AutoCloseable {
        PendingObject data;
        PagePack.Writer pack;
        PendingObject deltaObject;
        PageMapDelta.Writer delta;

        @Override
        public void close() {
            if (data != null) {
                data.close();
            }
            if (deltaObject != null) {
                deltaObject.close(); // aborted unless committed
            }
        }
    }

    private static void readFully(FileChannel channel, ByteBuffer buffer, long position, int length, DataFile file,
            boolean live) throws IOException {
        buffer.clear().limit(length);
        while (buffer.hasRemaining()) {
            int n = channel.read(buffer, position + buffer.position());
            if (n < 0) {
                String why = file.name() + " became shorter during the backup";
                throw live ? new CaptureRace(why) : new SourceException(why);
            }
        }
    }
}
