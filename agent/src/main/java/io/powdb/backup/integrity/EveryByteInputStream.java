package io.powdb.backup.integrity;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * A filter that must see every byte in {@link #read(byte[], int, int)}: single-byte reads and skips go
 * through it too (a plain {@link FilterInputStream} skips in the stream below, past whatever the filter
 * hashes, counts or bounds), and mark/reset is not offered.
 */
public abstract class EveryByteInputStream extends FilterInputStream {
    protected EveryByteInputStream(InputStream in) {
        super(in);
    }

    @Override
    public abstract int read(byte[] b, int off, int len) throws IOException;

    @Override
    public final int read() throws IOException {
        byte[] one = new byte[1];
        int n = read(one, 0, 1);
        return n < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public final long skip(long n) throws IOException {
        byte[] buffer = new byte[1 << 16];
        long skipped = 0;
        while (skipped < n) {
            int r = read(buffer, 0, (int) Math.min(buffer.length, n - skipped));
            if (r < 0) {
                break;
            }
            skipped += r;
        }
        return skipped;
    }

    @Override
    public final boolean markSupported() {
        return false;
    }

    /** Reads to the end of the stream, so that whatever the filter does covers all of it. */
    public void drain() throws IOException {
        skip(Long.MAX_VALUE);
    }
}
