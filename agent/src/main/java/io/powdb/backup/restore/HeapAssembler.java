package io.powdb.backup.restore;

import io.powdb.backup.scratch.ScratchFiles;
import io.powdb.backup.format.HeapPage;
import io.powdb.backup.progress.ProgressListener;
import io.powdb.backup.repo.FileEntry;
import io.powdb.backup.repo.IntegrityException;
import io.powdb.backup.repo.ObjectRef;
import io.powdb.backup.repo.PageMap;
import io.powdb.backup.repo.PageMaps;
import io.powdb.backup.repo.PagePack;
import io.powdb.backup.repo.Repository;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Rebuilds one heap from its sources, newest first: the first copy of a page seen is the newest and wins,
 * so each page is written once; pages beyond the recorded count are dropped (the heap shrank). Every page
 * written is checked against the backup's page map (LSN and fingerprint), and every page must be found,
 * or the chain is broken.
 *
 * <p>One assembler serves several heaps restored at once: only the progress count is shared.
 */
final class HeapAssembler {
    private final Repository repository;
    private final Path tempDir;
    private final ProgressListener progress;
    private final String phase;
    private final AtomicLong bytesDone = new AtomicLong();
    private final long bytesTotal;

    HeapAssembler(Repository repository, Path tempDir, ProgressListener progress, String phase, long bytesTotal) {
        this.repository = repository;
        this.tempDir = tempDir;
        this.progress = progress;
        this.phase = phase;
        this.bytesTotal = bytesTotal;
    }

    /** Serialized: the listener is told from one thread at a time. */
    private synchronized void report(long done) {
        progress.progress(phase, done, bytesTotal);
    }

    /**
     * @param readAllSources read every source even once all pages are found (verify checks them all;
     *     a restore stops downloading as soon as it has every page)
     */
    void assemble(String backupId, FileEntry entry, PageSink sink, boolean readAllSources) throws IOException {
        long pages = entry.pages();
        Files.createDirectories(tempDir);
        Path mapFile = ScratchFiles.create(tempDir, "powdb-restore-", ".map");
        try {
            try (PageMap map = PageMaps.open(repository, entry, mapFile)) {
                long[] written = new long[(int) ((pages + 63) / 64)];
                long[] found = {0};
                for (ObjectRef source : entry.sources()) {
                    if (found[0] == pages && !readAllSources) {
                        break;
                    }
                    PagePack.PageConsumer consumer = (index, page) -> {
                        if (index >= pages || (written[(int) (index >>> 6)] & (1L << index)) != 0) {
                            return;
                        }
                        if (HeapPage.lsn(page, 0) != map.lsn(index) || HeapPage.fingerprint(page, 0) != map.fingerprint(index)) {
                            throw new IntegrityException("page " + index + " of " + entry.name() + " in " + source.key()
                                    + " does not match the page map of backup " + backupId + " (damaged object)");
                        }
                        sink.write(index, page);
                        written[(int) (index >>> 6)] |= 1L << index;
                        found[0]++;
                        long done = bytesDone.addAndGet(HeapPage.SIZE);
                        if ((done & ((32L << 20) - 1)) == 0) {
                            report(done);
                        }
                    };
                    repository.read(source, in -> {
                        if (ObjectRef.RAW.equals(source.format())) {
                            PagePack.readImage(in, source.contentLength(), source.key(), consumer);
                        } else {
                            PagePack.read(in, source.key(), consumer);
                        }
                    });
                }
                if (found[0] != pages) {
                    throw new IntegrityException("the chain of backup " + backupId + " is broken: " + (pages - found[0])
                            + " of the " + pages + " pages of " + entry.name() + " are in none of its objects");
                }
                sink.finish();
            }
        } finally {
            Files.deleteIfExists(mapFile);
        }
    }
}
