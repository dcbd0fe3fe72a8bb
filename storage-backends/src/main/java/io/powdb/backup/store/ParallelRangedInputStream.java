package io.powdb.backup.store;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;

/**
 * Reads a large byte range of an object as several ranged requests in flight at once, handing the bytes
 * out in order: one request stream rarely fills the network to an object store. Memory is bounded by
 * {@code parallelism × chunkSize}. Each chunk comes from the store's own ranged read, so it keeps that
 * read's retries and resumption; a chunk that fails fails the stream, naming the range.
 */
public final class ParallelRangedInputStream extends InputStream {
    /** Opens one ranged read: {@code length} bytes from {@code offset}. */
    @FunctionalInterface
    public interface RangeOpener {
        InputStream open(long offset, long length) throws IOException;
    }

    private final RangeOpener opener;
    private final String description;
    private final long end;
    private final int chunkSize;
    private final int parallelism;
    private final ExecutorService pool;
    private final Deque<Future<byte[]>> inFlight = new ArrayDeque<>();
    private long nextOffset;
    private byte[] current = new byte[0];
    private int position;
    private boolean closed;

    public ParallelRangedInputStream(RangeOpener opener, String description, long offset, long length, int chunkSize,
            int parallelism, ExecutorService pool) {
        if (chunkSize <= 0 || parallelism <= 0 || offset < 0 || length < 0) {
            throw new IllegalArgumentException("bad ranged read: " + offset + "+" + length + " in chunks of " + chunkSize);
        }
        this.opener = opener;
        this.description = description;
        this.nextOffset = offset;
        this.end = offset + length;
        this.chunkSize = chunkSize;
        this.parallelism = parallelism;
        this.pool = pool;
        fill();
    }

    private void fill() {
        while (inFlight.size() < parallelism && nextOffset < end) {
            long chunkOffset = nextOffset;
            int length = (int) Math.min(chunkSize, end - chunkOffset);
            inFlight.add(pool.submit(() -> fetch(chunkOffset, length)));
            nextOffset += length;
        }
    }

    private byte[] fetch(long offset, int length) throws IOException {
        try (InputStream in = opener.open(offset, length)) {
            byte[] bytes = in.readNBytes(length);
            if (bytes.length != length) {
                throw new IOException(description + ": bytes " + offset + "+" + length + " ended after " + bytes.length
                        + " bytes");
            }
            return bytes;
        }
    }

    /** Makes the next chunk current; false at the end. */
    private boolean advance() throws IOException {
        if (closed) {
            throw new IOException(description + ": stream closed");
        }
        while (position >= current.length) {
            Future<byte[]> next = inFlight.poll();
            if (next == null) {
                return false;
            }
            try {
                current = next.get();
                position = 0;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException(description + ": interrupted");
            } catch (ExecutionException e) {
                Throwable cause = e.getCause();
                if (cause instanceof IOException io) {
                    throw io;
                }
                throw new IOException(description + ": " + cause, cause);
            }
            fill();
        }
        return true;
    }

    @Override
    public int read() throws IOException {
        return advance() ? current[position++] & 0xff : -1;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        if (len == 0) {
            return 0;
        }
        if (!advance()) {
            return -1;
        }
        int n = Math.min(len, current.length - position);
        System.arraycopy(current, position, b, off, n);
        position += n;
        return n;
    }

    @Override
    public void close() {
        closed = true;
        for (Future<byte[]> future : inFlight) {
            future.cancel(true);
        }
        inFlight.clear();
    }
}
