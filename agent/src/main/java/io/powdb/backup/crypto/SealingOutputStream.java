package io.powdb.backup.crypto;

import javax.crypto.Cipher;
import javax.crypto.spec.SecretKeySpec;
import java.io.IOException;
import java.io.OutputStream;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;

/**
 * Encrypts what is written to it into {@link ChunkedAead}'s format on {@code out}. A full chunk is sealed only
 * when more content follows it, so the last chunk (flagged as such) is known without knowing the length in
 * advance. {@link #finish()} seals the last chunk and leaves {@code out} open; {@link #close()} does the same
 * and closes it.
 */
public final class SealingOutputStream extends OutputStream {
    private static final SecureRandom RANDOM = new SecureRandom();

    private final OutputStream out;
    private final Cipher cipher = ChunkedAead.newCipher();
    private final SecretKeySpec key;
    private final byte[] aad;
    private final byte[] chunk;
    private final byte[] sealed;
    private int filled;
    private long index;
    private boolean finished;

    /** Starts an object in the default chunk size. */
    public SealingOutputStream(OutputStream out, DataKey dataKey, String objectKey) throws IOException {
        this(out, dataKey, objectKey, ChunkedAead.DEFAULT_CHUNK_SIZE);
    }

    SealingOutputStream(OutputStream out, DataKey dataKey, String objectKey, int chunkSize) throws IOException {
        this.out = out;
        byte[] salt = new byte[ChunkedAead.SALT_BYTES];
        RANDOM.nextBytes(salt);
        byte[] header = ChunkedAead.header(dataKey.name(), chunkSize, salt);
        this.key = ChunkedAead.objectKey(dataKey.bytes(), salt);
        this.aad = ChunkedAead.aad(objectKey, header);
        this.chunk = new byte[chunkSize];
        this.sealed = new byte[chunkSize + ChunkedAead.TAG_BYTES];
        out.write(header);
    }

    @Override
    public void write(int b) throws IOException {
        write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
        if (finished) {
            throw new IOException("encrypted object already finished");
        }
        while (len > 0) {
            if (filled == chunk.length) {
                seal(false);
            }
            int n = Math.min(len, chunk.length - filled);
            System.arraycopy(b, off, chunk, filled, n);
            filled += n;
            off += n;
            len -= n;
        }
    }

    private void seal(boolean last) throws IOException {
        try {
            cipher.init(Cipher.ENCRYPT_MODE, key, ChunkedAead.nonce(index, last));
            cipher.updateAAD(aad);
            int n = cipher.doFinal(chunk, 0, filled, sealed, 0);
            out.write(sealed, 0, n);
        } catch (GeneralSecurityException e) {
            throw new IOException("encryption failed: " + e.getMessage(), e);
        }
        index++;
        filled = 0;
    }

    /** Seals the last chunk; {@code out} stays open. */
    public void finish() throws IOException {
        if (!finished) {
            seal(true);
            finished = true;
            out.flush();
        }
    }

    @Override
    public void flush() throws IOException {
        out.flush();
    }

    @Override
    public void close() throws IOException {
        try {
            finish();
        } finally {
            out.close();
        }
    }
}
