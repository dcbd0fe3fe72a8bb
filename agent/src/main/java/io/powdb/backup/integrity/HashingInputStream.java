package io.powdb.backup.integrity;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;

/** Hashes and counts every byte read through it, so a download is checked in the same pass that uses it. */
public final class HashingInputStream extends FilterInputStream {
    private final Blake3 hash = new Blake3();
    private long count;

    public HashingInputStream(InputStream in) {
        super(in);
    }

    @Override
    public int read() throws IOException {
        byte[] one = new byte[1];
        int n = read(one, 0, 1);
        return n < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        int n = in.read(b, off, len);
        if (n > 0) {
            hash.update(b, off, n);
            count += n;
        }
        return n;
    }

    @Override
    public long skip(long n) throws IOException {
        // Skipped bytes must be hashed too, or the check would not cover the whole object.
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
    public boolean markSupported() {
        return false;
    }

    /** Reads to the end of the stream so the hash covers the whole object. */
    public void drain() throws IOException {
        skip(Long.MAX_VALUE);
    }

    public long count() {
        return count;
    }

    public String hex() {
        return hash.hex();
    }
}
