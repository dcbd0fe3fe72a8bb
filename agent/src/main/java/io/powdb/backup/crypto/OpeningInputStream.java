package io.powdb.backup.crypto;

import io.powdb.backup.repo.IntegrityException;

import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.spec.SecretKeySpec;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.Arrays;

/**
 * Decrypts {@link ChunkedAead}'s format, one chunk at a time: no byte of a chunk is handed out before its tag
 * checked, and the end of the stored bytes must be the chunk sealed as the last (so truncation at a chunk
 * boundary fails). Failures are {@link IntegrityException}s naming the object.
 */
public final class OpeningInputStream extends InputStream {
    /** Finds the data key a header names (reading {@code keys/NAME.key} and unwrapping it). */
    @FunctionalInterface
    public interface KeyResolver {
        DataKey resolve(String name) throws IOException;
    }

    private final InputStream in;
    private final String objectKey;
    private final Cipher cipher = ChunkedAead.newCipher();
    private final SecretKeySpec key;
    private final byte[] aad;
    private final byte[] sealed;
    private final byte[] plain;
    private int pos;
    private int limit;
    private long index;
    private boolean last;
    /** A byte read ahead to learn whether the chunk before it was the last one, or -1. */
    private int lookahead = -1;

    public OpeningInputStream(InputStream in, String objectKey, String expectedKeyName, KeyResolver keys)
            throws IOException {
        this.in = in;
        this.objectKey = objectKey;
        byte[] fixed = readFully(ChunkedAead.MAGIC.length + 4, "header");
        if (!Arrays.equals(fixed, 0, ChunkedAead.MAGIC.length, ChunkedAead.MAGIC, 0, ChunkedAead.MAGIC.length)) {
            throw new IntegrityException("object " + objectKey + " is not encrypted (no powdb-backup encryption header), "
                    + "although its manifest says it is: it was replaced or damaged");
        }
        ByteBuffer f = ByteBuffer.wrap(fixed, ChunkedAead.MAGIC.length, 4).order(ByteOrder.LITTLE_ENDIAN);
        int version = f.get() & 0xff;
        int algorithm = f.get() & 0xff;
        int nameLength = f.getShort() & 0xffff;
        if (version != ChunkedAead.VERSION || algorithm != ChunkedAead.AES_256_GCM) {
            throw new IntegrityException("object " + objectKey + " has encryption format " + version + "/" + algorithm
                    + ", which this version does not know: damaged, or written by a newer powdb-backup");
        }
        if (nameLength == 0 || nameLength > ChunkedAead.MAX_NAME_BYTES) {
            throw new IntegrityException("object " + objectKey + " has a damaged encryption header");
        }
        byte[] rest = readFully(nameLength + 4 + ChunkedAead.SALT_BYTES, "header");
        String name = new String(rest, 0, nameLength, StandardCharsets.UTF_8);
        ByteBuffer r = ByteBuffer.wrap(rest, nameLength, 4 + ChunkedAead.SALT_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        int chunkSize = r.getInt();
        byte[] salt = new byte[ChunkedAead.SALT_BYTES];
        r.get(salt);
        if (chunkSize <= 0 || chunkSize > ChunkedAead.MAX_CHUNK_SIZE) {
            throw new IntegrityException("object " + objectKey + " has a damaged encryption header (chunk size "
                    + chunkSize + ")");
        }
        if (expectedKeyName != null && !expectedKeyName.equals(name)) {
            throw new IntegrityException("object " + objectKey + " is encrypted with data key " + name + " instead of "
                    + expectedKeyName + ": it was swapped or copied from another backup");
        }
        byte[] header = new byte[fixed.length + rest.length];
        System.arraycopy(fixed, 0, header, 0, fixed.length);
        System.arraycopy(rest, 0, header, fixed.length, rest.length);
        this.key = ChunkedAead.objectKey(keys.resolve(name).bytes(), salt);
        this.aad = ChunkedAead.aad(objectKey, header);
        this.sealed = new byte[chunkSize + ChunkedAead.TAG_BYTES];
        this.plain = new byte[chunkSize];
    }

    private byte[] readFully(int n, String what) throws IOException {
        byte[] b = in.readNBytes(n);
        if (b.length < n) {
            throw new IntegrityException("object " + objectKey + " is truncated: it ends inside its encryption " + what);
        }
        return b;
    }

    @Override
    public int read() throws IOException {
        byte[] one = new byte[1];
        int n = read(one, 0, 1);
        return n < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        if (len == 0) {
            return 0;
        }
        while (pos == limit) {
            if (last) {
                return -1;
            }
            openNext();
        }
        int n = Math.min(len, limit - pos);
        System.arraycopy(plain, pos, b, off, n);
        pos += n;
        return n;
    }

    private void openNext() throws IOException {
        int filled = 0;
        if (lookahead >= 0) {
            sealed[filled++] = (byte) lookahead;
            lookahead = -1;
        }
        while (filled < sealed.length) {
            int n = in.read(sealed, filled, sealed.length - filled);
            if (n < 0) {
                break;
            }
            filled += n;
        }
        boolean isLast;
        if (filled < sealed.length) {
            isLast = true;
        } else {
            lookahead = in.read();
            isLast = lookahead < 0;
        }
        if (filled < ChunkedAead.TAG_BYTES) {
            throw new IntegrityException("object " + objectKey + " is truncated: chunk " + index + " is incomplete");
        }
        try {
            cipher.init(Cipher.DECRYPT_MODE, key, ChunkedAead.nonce(index, isLast));
            cipher.updateAAD(aad);
            limit = cipher.doFinal(sealed, 0, filled, plain, 0);
        } catch (AEADBadTagException e) {
            throw new IntegrityException("object " + objectKey + " fails authentication at chunk " + index
                    + (isLast ? " (its end)" : "") + ": it was damaged, truncated, reordered, or copied from another "
                    + "name or key");
        } catch (GeneralSecurityException e) {
            throw new IOException("decryption failed: " + e.getMessage(), e);
        }
        pos = 0;
        last = isLast;
        index++;
    }

    @Override
    public void close() throws IOException {
        in.close();
    }
}
