package io.powdb.backup.crypto;

import io.powdb.backup.repo.IntegrityException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The chunked AEAD format on its own: round trips at every chunk edge, and every kind of tampering refused. */
class ChunkedAeadTest {
    private static final int CHUNK = 64;
    private static final String OBJECT = "data/20261121T101500123Z-3fa9c1/files/catalog.bin";
    private final DataKey key = new DataKey("backup-20261121T101500123Z-3fa9c1", random(32, 1));

    private static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    private byte[] seal(byte[] content, String objectKey, int writeSize) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        SealingOutputStream s = new SealingOutputStream(out, key, objectKey, CHUNK);
        for (int off = 0; off < content.length; off += writeSize) {
            s.write(content, off, Math.min(writeSize, content.length - off));
        }
        s.finish();
        return out.toByteArray();
    }

    private byte[] open(byte[] stored, String objectKey) throws IOException {
        try (InputStream in = new OpeningInputStream(new ByteArrayInputStream(stored), objectKey, key.name(),
                name -> key)) {
            return in.readAllBytes();
        }
    }

    private int headerBytes() {
        return ChunkedAead.header(key.name(), CHUNK, new byte[ChunkedAead.SALT_BYTES]).length;
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 17})
    void roundTripsAtEveryChunkEdgeWithTheSizeItPredicts(int size) throws IOException {
        byte[] content = random(size, size);
        for (int writeSize : new int[] {1, 7, CHUNK, 1000}) {
            byte[] stored = seal(content, OBJECT, writeSize);
            assertEquals(ChunkedAead.storedSize(size, headerBytes(), CHUNK), stored.length);
            assertArrayEquals(content, open(stored, OBJECT));
        }
    }

    @Test
    void theSameContentEncryptsDifferentlyEachTime() throws IOException {
        byte[] content = random(100, 5);
        assertTrue(!Arrays.equals(seal(content, OBJECT, 100), seal(content, OBJECT, 100)));
    }

    @Test
    void everyFlippedBitIsDetected() throws IOException {
        byte[] stored = seal(random(2 * CHUNK + 5, 9), OBJECT, 50);
        for (int i = 0; i < stored.length; i++) {
            byte[] damaged = stored.clone();
            damaged[i] ^= 0x10;
            assertThrows(IntegrityException.class, () -> open(damaged, OBJECT), "flip at byte " + i);
        }
    }

    @Test
    void truncationAtAChunkBoundaryIsDetected() throws IOException {
        byte[] stored = seal(random(3 * CHUNK, 2), OBJECT, CHUNK);
        int sealedChunk = CHUNK + ChunkedAead.TAG_BYTES;
        for (int chunks = 0; chunks < 3; chunks++) {
            byte[] cut = Arrays.copyOf(stored, headerBytes() + chunks * sealedChunk);
            IntegrityException e = assertThrows(IntegrityException.class, () -> open(cut, OBJECT));
            assertTrue(e.getMessage().contains(OBJECT), e.getMessage());
        }
        // an extra chunk appended (a copy of the last one) is refused too
        byte[] longer = Arrays.copyOf(stored, stored.length + sealedChunk);
        System.arraycopy(stored, stored.length - sealedChunk, longer, stored.length, sealedChunk);
        assertThrows(IntegrityException.class, () -> open(longer, OBJECT));
    }

    @Test
    void reorderedChunksAreDetected() throws IOException {
        byte[] stored = seal(random(3 * CHUNK, 3), OBJECT, CHUNK);
        int h = headerBytes();
        int sealedChunk = CHUNK + ChunkedAead.TAG_BYTES;
        byte[] swapped = stored.clone();
        System.arraycopy(stored, h, swapped, h + sealedChunk, sealedChunk);
        System.arraycopy(stored, h + sealedChunk, swapped, h, sealedChunk);
        assertThrows(IntegrityException.class, () -> open(swapped, OBJECT));
    }

    @Test
    void anObjectCopiedToAnotherNameOrReadWithAnotherKeyIsRefused() throws IOException {
        byte[] stored = seal(random(100, 4), OBJECT, 100);
        IntegrityException moved = assertThrows(IntegrityException.class,
                () -> open(stored, OBJECT.replace("catalog.bin", "views.bin")));
        assertTrue(moved.getMessage().contains("fails authentication"), moved.getMessage());
        DataKey other = new DataKey(key.name(), random(32, 2));
        assertThrows(IntegrityException.class, () -> new OpeningInputStream(new ByteArrayInputStream(stored), OBJECT,
                key.name(), name -> other).readAllBytes());
        IntegrityException otherName = assertThrows(IntegrityException.class, () -> new OpeningInputStream(
                new ByteArrayInputStream(stored), OBJECT, "backup-other", name -> key));
        assertTrue(otherName.getMessage().contains("swapped or copied"), otherName.getMessage());
    }

    @Test
    void plaintextWhereCiphertextIsExpectedIsRefused() {
        byte[] plain = "{\"format\":\"powdb-backup/manifest\"}".getBytes();
        IntegrityException e = assertThrows(IntegrityException.class, () -> open(plain, OBJECT));
        assertTrue(e.getMessage().contains("not encrypted"), e.getMessage());
    }
}
