package io.powdb.backup.store;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The behaviour every {@link BlobStore} must have. One subclass per backend supplies a store; every test
 * works under a fresh random prefix, so the suite can also run against a shared real bucket.
 */
public abstract class BlobStoreContractTest {

    protected BlobStore store;
    protected String prefix;

    /** A store to test; called before each test. */
    protected abstract BlobStore createStore() throws Exception;

    /**
     * The size of an object that the store must upload in several parts (multipart, resumable chunks).
     * Backends with a part size override this so the large-object test crosses several part boundaries.
     */
    protected int largeObjectSize() {
        return 3 * 1024 * 1024 + 12345;
    }

    @BeforeEach
    void setUpStore() throws Exception {
        store = createStore();
        prefix = "contract-" + UUID.randomUUID() + "/";
    }

    @AfterEach
    void tearDownStore() throws Exception {
        if (store != null) {
            for (BlobInfo info : store.listAll(prefix)) {
                store.delete(info.key());
            }
            store.close();
        }
    }

    protected static byte[] randomBytes(int size, long seed) {
        byte[] data = new byte[size];
        new Random(seed).nextBytes(data);
        return data;
    }

    protected byte[] read(String key) throws IOException {
        try (InputStream in = store.open(key)) {
            return in.readAllBytes();
        }
    }

    @Test
    void roundTripsEmptyObject() throws IOException {
        String key = prefix + "empty";
        BlobInfo info = store.putBytes(key, new byte[0], WriteMode.CREATE_NEW);
        assertEquals(0, info.size());
        assertArrayEquals(new byte[0], read(key));
        assertEquals(0, store.stat(key).orElseThrow().size());
    }

    @Test
    void roundTripsSmallObject() throws IOException {
        String key = prefix + "dir/small.bin";
        byte[] data = "hello, blob".getBytes(StandardCharsets.UTF_8);
        BlobInfo info = store.putBytes(key, data, WriteMode.CREATE_NEW);
        assertEquals(key, info.key());
        assertEquals(data.length, info.size());
        assertArrayEquals(data, read(key));
    }

    @Test
    void roundTripsLargeObjectWrittenInOddSizedChunks() throws IOException {
        String key = prefix + "large.bin";
        byte[] data = randomBytes(largeObjectSize(), 42);
        try (BlobWriter writer = store.newWriter(key, WriteMode.CREATE_NEW)) {
            OutputStream out = writer.stream();
            int pos = 0;
            Random chunks = new Random(7);
            while (pos < data.length) {
                int n = Math.min(data.length - pos, 1 + chunks.nextInt(300_000));
                out.write(data, pos, n);
                pos += n;
            }
            assertEquals(data.length, writer.commit().size());
        }
        assertArrayEquals(data, read(key));
        assertEquals(data.length, store.stat(key).orElseThrow().size());
    }

    @Test
    void rangedReadsReturnExactlyTheRange() throws IOException {
        String key = prefix + "ranged.bin";
        byte[] data = randomBytes(100_000, 3);
        store.putBytes(key, data, WriteMode.CREATE_NEW);
        assertRange(key, data, 0, 10);
        assertRange(key, data, 4096, 4096);
        assertRange(key, data, 99_990, 10);
        // A range running past the end gives the bytes up to the end.
        try (InputStream in = store.openRange(key, 99_990, 1000)) {
            assertEquals(10, in.readAllBytes().length);
        }
        // Starting exactly at the end is an empty read, past the end is an error.
        try (InputStream in = store.openRange(key, 100_000, 10)) {
            assertEquals(0, in.readAllBytes().length);
        }
        assertThrows(IOException.class, () -> {
            try (InputStream in = store.openRange(key, 100_001, 10)) {
                in.readAllBytes();
            }
        });
    }

    private void assertRange(String key, byte[] data, int offset, int length) throws IOException {
        byte[] expected = java.util.Arrays.copyOfRange(data, offset, offset + length);
        try (InputStream in = store.openRange(key, offset, length)) {
            assertArrayEquals(expected, in.readAllBytes(), "range " + offset + "+" + length);
        }
    }

    @Test
    void createNewRefusesAnExistingKeyAndKeepsTheOriginal() throws IOException {
        String key = prefix + "once";
        store.putBytes(key, "first".getBytes(StandardCharsets.UTF_8), WriteMode.CREATE_NEW);
        BlobAlreadyExistsException e = assertThrows(BlobAlreadyExistsException.class,
                () -> store.putBytes(key, "second".getBytes(StandardCharsets.UTF_8), WriteMode.CREATE_NEW));
        assertEquals(key, e.key());
        assertArrayEquals("first".getBytes(StandardCharsets.UTF_8), read(key));
    }

    @Test
    void createNewAllowsExactlyOneOfManyConcurrentWriters() throws Exception {
        String key = prefix + "race";
        int writers = 8;
        ExecutorService pool = Executors.newFixedThreadPool(writers);
        AtomicInteger won = new AtomicInteger();
        AtomicInteger refused = new AtomicInteger();
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (int i = 0; i < writers; i++) {
                byte[] body = ("writer " + i).getBytes(StandardCharsets.UTF_8);
                futures.add(pool.submit(() -> {
                    try {
                        store.putBytes(key, body, WriteMode.CREATE_NEW);
                        won.incrementAndGet();
                    } catch (BlobAlreadyExistsException e) {
                        refused.incrementAndGet();
                    }
                    return null;
                }));
            }
            for (Future<?> f : futures) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
        if (store.supportsConditionalCreate()) {
            assertEquals(1, won.get(), "exactly one writer wins a write-once key");
            assertEquals(writers - 1, refused.get());
        }
        assertTrue(new String(read(key), StandardCharsets.UTF_8).startsWith("writer "));
    }

    @Test
    void overwriteReplacesTheObject() throws IOException {
        String key = prefix + "lease";
        store.putBytes(key, "one".getBytes(StandardCharsets.UTF_8), WriteMode.OVERWRITE);
        store.putBytes(key, "two!".getBytes(StandardCharsets.UTF_8), WriteMode.OVERWRITE);
        assertArrayEquals("two!".getBytes(StandardCharsets.UTF_8), read(key));
        assertEquals(4, store.stat(key).orElseThrow().size());
    }

    @Test
    void writerClosedWithoutCommitLeavesNothing() throws IOException {
        String key = prefix + "aborted";
        try (BlobWriter writer = store.newWriter(key, WriteMode.CREATE_NEW)) {
            writer.stream().write(randomBytes(largeObjectSize(), 5));
        }
        assertTrue(store.stat(key).isEmpty());
        assertTrue(store.listAll(prefix).isEmpty());
        // The key is still free for a later writer.
        store.putBytes(key, new byte[] {1}, WriteMode.CREATE_NEW);
        assertArrayEquals(new byte[] {1}, read(key));
    }

    @Test
    void writerThatFailsMidStreamLeavesNothing() throws IOException {
        String key = prefix + "failed";
        InputStream failing = new InputStream() {
            int left = 100_000;

            @Override
            public int read() throws IOException {
                byte[] one = new byte[1];
                return read(one, 0, 1) < 0 ? -1 : one[0];
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                if (left <= 0) {
                    throw new IOException("source went away");
                }
                int n = Math.min(len, left);
                java.util.Arrays.fill(b, off, off + n, (byte) 7);
                left -= n;
                return n;
            }
        };
        assertThrows(IOException.class, () -> store.put(key, failing, WriteMode.CREATE_NEW));
        assertTrue(store.stat(key).isEmpty());
    }

    @Test
    void listsInKeyOrderAcrossPages() throws IOException {
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < 37; i++) {
            String key = prefix + "list/" + String.format("%05d", i * 7 % 37) + (i % 3 == 0 ? "/nested" : "");
            store.putBytes(key, new byte[] {(byte) i}, WriteMode.CREATE_NEW);
            expected.add(key);
        }
        // A key that shares the text prefix but not the "directory": must be listed under "list" only.
        store.putBytes(prefix + "list-sibling", new byte[0], WriteMode.CREATE_NEW);
        expected.sort(String::compareTo);

        List<String> paged = new ArrayList<>();
        String after = null;
        int pages = 0;
        while (true) {
            List<BlobInfo> page = store.list(prefix + "list/", after, 10);
            pages++;
            page.forEach(info -> paged.add(info.key()));
            if (page.size() < 10) {
                break;
            }
            after = page.get(page.size() - 1).key();
        }
        assertEquals(expected, paged);
        assertEquals(4, pages);
        assertEquals(expected.size() + 1, store.listAll(prefix + "list").size());
        assertEquals(expected, store.listAll(prefix + "list/").stream().map(BlobInfo::key).toList());
    }

    @Test
    void listingAnEmptyPrefixIsEmpty() throws IOException {
        assertTrue(store.list(prefix + "nothing-here/", null, 100).isEmpty());
    }

    @Test
    void listingReportsSizes() throws IOException {
        store.putBytes(prefix + "sized/a", new byte[10], WriteMode.CREATE_NEW);
        store.putBytes(prefix + "sized/b", new byte[0], WriteMode.CREATE_NEW);
        List<BlobInfo> infos = store.listAll(prefix + "sized/");
        assertEquals(List.of(10L, 0L), infos.stream().map(BlobInfo::size).toList());
    }

    @Test
    void deleteRemovesAndIsIdempotent() throws IOException {
        String key = prefix + "gone/soon";
        store.putBytes(key, new byte[] {1, 2, 3}, WriteMode.CREATE_NEW);
        store.delete(key);
        assertTrue(store.stat(key).isEmpty());
        assertThrows(BlobNotFoundException.class, () -> store.open(key));
        store.delete(key);
        assertTrue(store.listAll(prefix + "gone/").isEmpty());
        // A deleted key can be written again.
        store.putBytes(key, new byte[] {4}, WriteMode.CREATE_NEW);
        assertArrayEquals(new byte[] {4}, read(key));
    }

    @Test
    void missingKeysGiveNotFound() throws IOException {
        String key = prefix + "missing";
        BlobNotFoundException e = assertThrows(BlobNotFoundException.class, () -> {
            try (InputStream in = store.open(key)) {
                in.readAllBytes();
            }
        });
        assertEquals(key, e.key());
        assertTrue(e.getMessage().contains(key), e.getMessage());
        assertThrows(BlobNotFoundException.class, () -> {
            try (InputStream in = store.openRange(key, 0, 10)) {
                in.readAllBytes();
            }
        });
        assertTrue(store.stat(key).isEmpty());
    }

    @Test
    void concurrentUploadsOfDifferentKeysAllLand() throws Exception {
        int count = 8;
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                int n = i;
                futures.add(pool.submit(() -> {
                    store.putBytes(prefix + "concurrent/" + n, randomBytes(200_000 + n, n), WriteMode.CREATE_NEW);
                    return null;
                }));
            }
            for (Future<?> f : futures) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
        for (int i = 0; i < count; i++) {
            assertArrayEquals(randomBytes(200_000 + i, i), read(prefix + "concurrent/" + i));
        }
    }

    @Test
    void rejectsKeysThatCouldEscapeOrAreAmbiguous() {
        for (String bad : new String[] {"", "/abs", prefix + "../x", prefix + "./x", prefix + "a//b", prefix + "a\\b",
                prefix + "nul\0", prefix + "trailing/"}) {
            assertThrows(IllegalArgumentException.class, () -> store.putBytes(bad, new byte[0], WriteMode.CREATE_NEW),
                    "key " + bad.replace("\0", "\\0"));
        }
        assertFalse(store.location().isEmpty());
    }
}
