package io.powdb.backup.restore;

import io.powdb.backup.format.HeapPage;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Set;

/**
 * Writes restored heap pages into a new file of exactly the recorded page count (so a heap that shrank is
 * truncated and one that grew is extended). Runs of consecutive pages are written in one call.
 */
final class HeapFileSink implements PageSink {
    private static final int RUN_PAGES = 256;

    private final FileChannel channel;
    private final ByteBuffer run = ByteBuffer.allocate(RUN_PAGES * HeapPage.SIZE);
    private long runStart = -1;
    private final long pages;

    HeapFileSink(Path file, long pages) throws IOException {
        this.channel = FileChannel.open(file, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE),
                RestoreStaging.privateFileAttributes(file));
        this.pages = pages;
        // The length is not set up front: the page count comes from a manifest that is not yet checked against its
        // page map, and a hostile one could ask for a 16 TiB file. Every page is written exactly once, so the file
        // ends up exactly that long.
    }

    @Override
    public void write(long index, byte[] page) throws IOException {
        if (runStart >= 0 && (index != runStart + run.position() / HeapPage.SIZE || !run.hasRemaining())) {
            flushRun();
        }
        if (runStart < 0) {
            runStart = index;
        }
        run.put(page, 0, HeapPage.SIZE);
    }

    private void flushRun() throws IOException {
        run.flip();
        long position = runStart * HeapPage.SIZE;
        while (run.hasRemaining()) {
            position += channel.write(run, position);
        }
        run.clear();
        runStart = -1;
    }

    @Override
    public void finish() throws IOException {
        if (runStart >= 0) {
            flushRun();
        }
        if (channel.size() != pages * HeapPage.SIZE) {
            throw new IOException("the restored heap has " + channel.size() + " bytes instead of " + pages * HeapPage.SIZE);
        }
        channel.force(true);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
