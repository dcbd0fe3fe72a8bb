package io.powdb.backup.integrity;

import java.io.IOException;
import java.io.InputStream;

/**
 * Hashes and counts every byte read through it, skipped ones too, so a download is checked in the same pass
 * that uses it; {@link #drain()} makes the hash cover the whole object.
 */
public final class HashingInputStream extends EveryByteInputStream {
    private final Blake3 hash = new Blake3();
    private long count;

    public HashingInputStream(InputStream in) {
        super(in);
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

    public long count() {
        return count;
    }

    public String hex() {
        return hash.hex();
    }
}
