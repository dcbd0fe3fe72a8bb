package io.powdb.backup.integrity;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;

/** Passes bytes through while hashing and counting them: the hash of an object is taken as it is written. */
public final class HashingOutputStream extends FilterOutputStream {
    private final Blake3 hash = new Blake3();
    private long count;

    public HashingOutputStream(OutputStream out) {
        super(out);
    }

    @Override
    public void write(int b) throws IOException {
        write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
        out.write(b, off, len);
        hash.update(b, off, len);
        count += len;
    }

    public long count() {
        return count;
    }

    /** The hash of everything written; call once, after the last write. */
    public String hex() {
        return hash.hex();
    }
}
