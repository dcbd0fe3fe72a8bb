package io.powdb.backup.store;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ParallelRangedInputStreamTest {
    private final ExecutorService pool = Executors.newCachedThreadPool();
    private final byte[] object = new byte[1_000_003];

    ParallelRangedInputStreamTest() {
        new Random(9).nextBytes(object);
    }

    @AfterEach
    void stop() {
        pool.shutdownNow();
    }

    /** Serves ranges of {@link #object} after a random delay, so chunks complete out of order. */
    private ParallelRangedInputStream.RangeOpener slowOpener(AtomicInteger inFlight, AtomicInteger maxInFlight) {
        Random delays = new Random(4);
        return (offset, length) -> {
            int now = inFlight.incrementAndGet();
            maxInFlight.accumulateAndGet(now, Math::max);
            try {
                Thread.sleep(delays.nextInt(5));
            } catch (InterruptedException e) {
                throw new IOException(e);
            } finally {
                inFlight.decrementAndGet();
            }
            return new ByteArrayInputStream(object, (int) offset, (int) length);
        };
    }

    @Test
    void deliversTheRangeInOrderWithSeveralChunksInFlight() throws IOException {
        AtomicInteger inFlight = new AtomicInteger();
        AtomicInteger max = new AtomicInteger();
        for (long[] range : new long[][] {{0, object.length}, {1, 65_536}, {4095, 300_001}, {999_000, 3}}) {
            try (InputStream in = new ParallelRangedInputStream(slowOpener(inFlight, max), "test", range[0], range[1],
                    65_536, 4, pool)) {
                byte[] expected = Arrays.copyOfRange(object, (int) range[0], (int) (range[0] + range[1]));
                assertArrayEquals(expected, in.readAllBytes(), range[0] + "+" + range[1]);
            }
        }
        assertTrue(max.get() > 1, "chunks were fetched in parallel");
        assertTrue(max.get() <= 4, "never more than the parallelism in flight");
    }

    @Test
    void aFailingOrShortChunkFailsTheStream() throws IOException {
        ParallelRangedInputStream.RangeOpener failing = (offset, length) -> {
            if (offset >= 200_000) {
                throw new IOException("store said no at " + offset);
            }
            return new ByteArrayInputStream(object, (int) offset, (int) length);
        };
        try (InputStream in = new ParallelRangedInputStream(failing, "obj", 0, object.length, 100_000, 3, pool)) {
            IOException e = assertThrows(IOException.class, in::readAllBytes);
            assertTrue(e.getMessage().contains("store said no"), e.getMessage());
        }
        ParallelRangedInputStream.RangeOpener shortChunk = (offset, length) ->
                new ByteArrayInputStream(object, (int) offset, (int) length - 1);
        try (InputStream in = new ParallelRangedInputStream(shortChunk, "obj", 0, 300_000, 100_000, 2, pool)) {
            IOException e = assertThrows(IOException.class, in::readAllBytes);
            assertTrue(e.getMessage().contains("obj") && e.getMessage().contains("ended after"), e.getMessage());
        }
    }

    @Test
    void anEmptyRangeIsEmpty() throws IOException {
        try (InputStream in = new ParallelRangedInputStream((o, l) -> InputStream.nullInputStream(), "e", 10, 0, 4096, 2, pool)) {
            assertEquals(-1, in.read());
        }
    }
}
