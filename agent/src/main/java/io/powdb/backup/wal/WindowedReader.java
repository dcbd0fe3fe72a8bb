package io.powdb.backup.wal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;

/**
 * Positional reads through one bounded buffer (the "window"), so a WAL of any size is read with fixed memory
 * and small records cost no system call each. Reads never move the channel's position, so one channel can
 * serve several readers. Bytes past the end of the file are reported as missing, never invented.
 */
final class WindowedReader {
    /** Receives the bytes of a streamed range, in order, one window-sized piece at a time. */
    interface Chunks {
        void accept(ByteBuffer chunk) throws IOException;
    }

    private final FileChannel channel;
    private final ByteBuffer window;
    private long windowStart;
    private int windowLength;

    WindowedReader(FileChannel channel, int capacity) {
        if (capacity < WalFormat.RECORD_HEADER_SIZE) {
            throw new IllegalArgumentException("buffer of " + capacity + " bytes cannot hold a record header");
        }
        this.channel = channel;
        this.window = ByteBuffer.allocate(capacity);
    }

    /** Copies {@code len} bytes at {@code pos} into {@code dst}; false when the file ends first. */
    boolean read(long pos, byte[] dst, int len) throws IOException {
        if (len > window.capacity()) {
            throw new IllegalArgumentException(len + " bytes do not fit the " + window.capacity() + "-byte window");
        }
        if (available(pos) < len) {
            fill(pos);
            if (windowLength < len) {
                return false;
            }
        }
        System.arraycopy(window.array(), (int) (pos - windowStart), dst, 0, len);
        return true;
    }

    /** Hands the {@code len} bytes at {@code pos} to {@code out} in pieces; false when the file ends first. */
    boolean stream(long pos, long len, Chunks out) throws IOException {
        long done = 0;
        while (done < len) {
            long at = pos + done;
            int avail = available(at);
            if (avail == 0) {
                fill(at);
                avail = windowLength;
                if (avail == 0) {
                    return false;
                }
            }
            int n = (int) Math.min(avail, len - done);
            out.accept(ByteBuffer.wrap(window.array(), (int) (at - windowStart), n));
            done += n;
        }
        return true;
    }

    /** Bytes of the window from {@code pos} on, or 0 when {@code pos} lies outside it. */
    private int available(long pos) {
        if (pos < windowStart || pos >= windowStart + windowLength) {
            return 0;
        }
        return (int) (windowStart + windowLength - pos);
    }

    private void fill(long pos) throws IOException {
        window.clear();
        int total = 0;
        while (window.hasRemaining()) {
            int n = channel.read(window, pos + total);
            if (n < 0) {
                break;
            }
            total += n;
        }
        windowStart = pos;
        windowLength = total;
    }
}
