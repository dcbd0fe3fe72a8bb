package io.powdb.backup.crypto;

import javax.crypto.Cipher;
import javax.crypto.Mac;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;

/**
 * The encrypted object format (a STREAM construction, as in age and Tink): a header, then the content in
 * fixed-size chunks, each sealed with AES-256-GCM.
 *
 * <pre>
 * header:  "PDBENC01" | u8 version 1 | u8 algorithm 1 (AES-256-GCM) | u16 name length | data key name (UTF-8)
 *          | u32 chunk size | 16-byte random salt
 * chunks:  ciphertext of chunk-size content bytes + 16-byte tag, ...; the last chunk holds 1..chunk-size bytes
 *          (0 only for empty content, which is one empty last chunk)
 * </pre>
 *
 * Each object is sealed under its own key, HMAC-SHA256(data key, "powdb-backup object key" | salt), so nonces
 * never repeat under one key however many objects share a data key (a WAL timeline runs for months). The
 * nonce of chunk i is 7 zero bytes | u32 i (big-endian) | 1 on the last chunk, else 0: a truncated object
 * (its last chunk missing) or reordered chunks fail. Every chunk's AAD is u32 key length | the object's key in
 * the repository | the header, so an object copied or swapped to another key, or given another header, fails.
 */
final class ChunkedAead {
    static final byte[] MAGIC = "PDBENC01".getBytes(StandardCharsets.US_ASCII);
    static final int VERSION = 1;
    static final int AES_256_GCM = 1;
    static final int SALT_BYTES = 16;
    static final int TAG_BYTES = 16;
    /** Content bytes per chunk: memory stays one chunk per open object, overhead 16 bytes per chunk (0.006%). */
    static final int DEFAULT_CHUNK_SIZE = 256 << 10;
    static final int MAX_CHUNK_SIZE = 16 << 20;
    static final int MAX_NAME_BYTES = 1024;

    private ChunkedAead() {
    }

    static byte[] header(String keyName, int chunkSize, byte[] salt) {
        byte[] name = keyName.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(MAGIC.length + 4 + name.length + 4 + SALT_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.put(MAGIC).put((byte) VERSION).put((byte) AES_256_GCM).putShort((short) name.length).put(name)
                .putInt(chunkSize).put(salt);
        return b.array();
    }

    static byte[] aad(String objectKey, byte[] header) {
        byte[] key = objectKey.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(4 + key.length + header.length).putInt(key.length).put(key).put(header).array();
    }

    static SecretKeySpec objectKey(byte[] dataKey, byte[] salt) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(dataKey, "HmacSHA256"));
            mac.update("powdb-backup object key".getBytes(StandardCharsets.US_ASCII));
            return new SecretKeySpec(mac.doFinal(salt), "AES");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HMAC-SHA256 is not available in this JVM", e);
        }
    }

    static GCMParameterSpec nonce(long chunk, boolean last) {
        if (chunk > 0xFFFF_FFFFL) {
            throw new IllegalStateException("object too large for its chunk counter");
        }
        byte[] n = new byte[12];
        n[7] = (byte) (chunk >>> 24);
        n[8] = (byte) (chunk >>> 16);
        n[9] = (byte) (chunk >>> 8);
        n[10] = (byte) chunk;
        n[11] = (byte) (last ? 1 : 0);
        return new GCMParameterSpec(TAG_BYTES * 8, n);
    }

    static Cipher newCipher() {
        try {
            return Cipher.getInstance("AES/GCM/NoPadding");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM is not available in this JVM", e);
        }
    }

    /** The stored size of {@code contentSize} bytes sealed with a header of {@code headerBytes}. */
    static long storedSize(long contentSize, int headerBytes, int chunkSize) {
        long chunks = Math.max(1, (contentSize + chunkSize - 1) / chunkSize);
        return headerBytes + contentSize + chunks * TAG_BYTES;
    }
}
