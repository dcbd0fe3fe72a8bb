package io.powdb.backup.backup;

import io.powdb.backup.format.HeapPage;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.Arrays;

/**
 * Makes sure every page of a batch read from a live heap is whole, not torn by a write PowDB made at the
 * same moment. A page with a CRC is re-read until its CRC checks out; a page without one (about half of
 * PowDB 0.4.x pages) is re-read until two consecutive reads agree. A page that never settles is left as
 * last read and counted: on-disk damage, or a writer that never lets go of it.
 */
final class TornPageReader {
    static final int MAX_REREADS = 50;

    private final ByteBuffer second;
    private final ByteBuffer one = ByteBuffer.allocate(HeapPage.SIZE);
    private final byte[] previous = new byte[HeapPage.SIZE];
    private long rereads;

    TornPageReader(int batchBytes) {
        this.second = ByteBuffer.allocate(batchBytes);
    }

    /** Re-reads of single pages so far: how busy the heaps were while they were read. */
    long rereads() {
        return rereads;
    }

    /**
     * Checks the {@code pages} pages at the start of {@code batch} (read from {@code position}) and replaces
     * torn ones in place. Returns how many pages never settled.
     */
    int settle(FileChannel channel, byte[] batch, long position, int pages) throws IOException {
        // A second read of the whole batch catches pages without a CRC that changed while being read.
        second.clear().limit(pages * HeapPage.SIZE);
        while (second.hasRemaining()) {
            if (channel.read(second, position + second.position()) < 0) {
                break;
            }
        }
        byte[] again = second.array();
        int unsettled = 0;
        for (int i = 0; i < pages; i++) {
            int offset = i * HeapPage.SIZE;
            boolean whole = HeapPage.hasCrc(batch, offset)
                    ? HeapPage.crcMatches(batch, offset)
                    : second.position() >= offset + HeapPage.SIZE
                        && Arrays.equals(batch, offset, offset + HeapPage.SIZE, again, offset, offset + HeapPage.SIZE);
            if (!whole && !reread(channel, batch, offset, position + offset)) {
                unsettled++;
            }
        }
        return unsettled;
    }

    private boolean reread(FileChannel channel, byte[] batch, int offset, long position) throws IOException {
        System.arraycopy(batch, offset, previous, 0, HeapPage.SIZE);
        for (int attempt = 0; attempt < MAX_REREADS; attempt++) {
            rereads++;
            one.clear();
            while (one.hasRemaining()) {
                if (channel.read(one, position + one.position()) < 0) {
                    return false; // the heap shrank under us; the capture's end checks catch that
                }
            }
            byte[] page = one.array();
            boolean whole = HeapPage.hasCrc(page, 0) ? HeapPage.crcMatches(page, 0) : Arrays.equals(page, previous);
            System.arraycopy(page, 0, batch, offset, HeapPage.SIZE);
            if (whole) {
                return true;
            }
            System.arraycopy(page, 0, previous, 0, HeapPage.SIZE);
            if (attempt > 2) {
                try {
                    Thread.sleep(1);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new java.io.InterruptedIOException("interrupted while re-reading a page");
                }
            }
        }
        return false;
    }
}
