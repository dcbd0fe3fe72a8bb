package io.powdb.backup.integrity;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/** Single-byte reads and skips pass through read(byte[], int, int), where the filters count, hash and bound. */
class EveryByteInputStreamTest {

    /** Lets through the first {@code bound} bytes, like a spool's committed part. */
    private static final class Bounded extends EveryByteInputStream {
        private long left;
        long seen;

        Bounded(InputStream in, long bound) {
            super(in);
            this.left = bound;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (left <= 0) {
                return -1;
            }
            int n = in.read(b, off, (int) Math.min(len, left));
            if (n > 0) {
                left -= n;
                seen += n;
            }
            return n;
        }
    }

    @Test
    void skipsAndSingleBytesGoThroughTheFilter() throws IOException {
        byte[] data = new byte[300_000];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) i;
        }
        Bounded bounded = new Bounded(new ByteArrayInputStream(data), 200_000);
        assertEquals(0, bounded.read());
        assertEquals(150_000, bounded.skip(150_000));
        assertEquals(data[150_001] & 0xff, bounded.read());
        assertEquals(49_998, bounded.skip(Long.MAX_VALUE), "a skip stops at the filter's bound, not the stream's end");
        assertEquals(-1, bounded.read());
        assertEquals(200_000, bounded.seen);
        assertFalse(bounded.markSupported());

        HashingInputStream hashing = new HashingInputStream(new ByteArrayInputStream(data));
        hashing.read();
        hashing.skip(1000);
        hashing.drain();
        assertEquals(data.length, hashing.count());
        assertEquals(Blake3.hex(data), hashing.hex(), "skipped bytes are hashed");
    }
}
