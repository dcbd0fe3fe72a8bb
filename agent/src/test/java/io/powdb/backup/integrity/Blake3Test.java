package io.powdb.backup.integrity;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class Blake3Test {
    private static final int MAX_LENGTH = 10 << 20;
    /** Random bytes; inputs are prefixes of it. */
    private static byte[] data;

    @BeforeAll
    static void randomData() {
        data = new byte[MAX_LENGTH + 1];
        new Random(20240611L).nextBytes(data);
    }

    @Test
    void messageScheduleIsThePermutationAppliedRoundByRound() {
        int[] permutation = {2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8};
        int[] words = new int[16];
        for (int i = 0; i < 16; i++) {
            words[i] = i;
        }
        for (int round = 0; round < 7; round++) {
            assertArrayEquals(words, Blake3Engine.SCHEDULE[round], "round " + (round + 1));
            int[] next = new int[16];
            for (int i = 0; i < 16; i++) {
                next[i] = words[permutation[i]];
            }
            words = next;
        }
    }

    @Test
    void officialTestVectors() throws IOException {
        int checked = 0;
        for (String[] vector : vectors()) {
            int length = Integer.parseInt(vector[0]);
            String expected = vector[1];
            byte[] input = new byte[length];
            for (int i = 0; i < length; i++) {
                input[i] = (byte) (i % 251);
            }
            assertEquals(expected, Blake3.hex(input), "length " + length);
            assertEquals(expected, Blake3.sequential().update(input).hex(), "sequential, length " + length);
            Blake3 bytewise = new Blake3();
            for (int i = 0; i < length; i++) {
                bytewise.update(input, i, 1);
            }
            assertEquals(expected, bytewise.hex(), "byte by byte, length " + length);
            assertEquals(expected, inPieces(new Blake3(), input, length, new Random(length)).hex(),
                    "random pieces, length " + length);
            checked++;
        }
        assertEquals(35, checked, "every vector of test_vectors.json");
    }

    @Test
    void sameAsCommonsCodecOnRandomInputsFedInRandomPieces() {
        TreeSet<Integer> lengths = new TreeSet<>();
        for (int k = 0; 1024L << k <= MAX_LENGTH; k++) {
            int boundary = 1024 << k;
            for (int delta = -1; delta <= 1; delta++) {
                lengths.add(boundary + delta);
            }
        }
        for (int mib = 1; mib <= 10; mib++) { // the hasher's buffer is 1 MiB: around each multiple of it
            lengths.add((mib << 20) - 1);
            lengths.add(mib << 20);
            lengths.add((mib << 20) + 1);
        }
        lengths.add(0);
        lengths.add(Blake3.PARALLEL_MIN_BYTES + 1024);
        Random random = new Random(7);
        for (int i = 0; i < 30; i++) {
            lengths.add(random.nextInt(MAX_LENGTH + 1));
        }
        for (int i = 0; i < 10; i++) {
            lengths.add(random.nextInt(64 << 10));
        }
        for (int length : lengths) {
            String expected = commonsCodec(data, length);
            assertEquals(expected, new Blake3().update(data, 0, length).hex(), "one update, length " + length);
            assertEquals(expected, inPieces(new Blake3(), data, length, new Random(length)).hex(),
                    "random pieces, length " + length);
            assertEquals(expected, inPieces(Blake3.sequential(), data, length, new Random(~length)).hex(),
                    "sequential, random pieces, length " + length);
            assertEquals(expected, inFixedPieces(new Blake3(), data, length, 64 << 10).hex(),
                    "64 KiB pieces, length " + length);
        }
    }

    /** The scalar bulk path (powdb.hash.lanes=false) on its own. */
    @Test
    void sameAsCommonsCodecWithoutLanes() {
        boolean lanes = Blake3Engine.useLanes;
        Blake3Engine.useLanes = false;
        try {
            Random random = new Random(17);
            for (int i = 0; i < 12; i++) {
                int length = i == 0 ? 4 << 20 : random.nextInt(3 << 20);
                String expected = commonsCodec(data, length);
                assertEquals(expected, inPieces(new Blake3(), data, length, new Random(i)).hex(), "length " + length);
                assertEquals(expected, Blake3.sequential().update(data, 0, length).hex(), "length " + length);
            }
        } finally {
            Blake3Engine.useLanes = lanes;
        }
    }

    /**
     * The lane-parallel subtree hashing against chunk-by-chunk scalar hashing, long enough for the JIT to
     * compile (and vectorize) both, with chunk counters above 2^32 too (no test vector reaches them).
     */
    @Test
    void lanesAgreeWithScalarHashingOnceCompiled() {
        Random random = new Random(5);
        Blake3Lanes lanes = new Blake3Lanes();
        int[] expected = new int[8];
        int[] actual = new int[8];
        int[] tree = new int[8 * Blake3Lanes.N];
        for (int round = 0; round < 3000; round++) {
            int chunks = Blake3Lanes.MIN_LANES << random.nextInt(
                    Integer.numberOfTrailingZeros(Blake3Lanes.N / Blake3Lanes.MIN_LANES) + 1);
            int offset = random.nextInt(data.length - chunks * Blake3Engine.CHUNK_LEN + 1);
            long counter = random.nextBoolean() ? random.nextLong() >>> 12 : random.nextInt(1 << 20);
            counter = counter / chunks * chunks;
            for (int i = 0; i < chunks; i++) {
                Blake3Engine.chunkCv(data, offset + i * Blake3Engine.CHUNK_LEN, counter + i, tree, 8 * i);
            }
            for (int level = chunks; level > 1; level >>>= 1) {
                for (int i = 0; i < level; i += 2) {
                    Blake3Engine.parent(tree, 8 * i, 0);
                    System.arraycopy(tree, 8 * i, tree, 4 * i, 8);
                }
            }
            System.arraycopy(tree, 0, expected, 0, 8);
            lanes.subtreeCv(data, offset, counter, chunks, actual, 0);
            assertArrayEquals(expected, actual, "chunks " + chunks + " at counter " + counter);
        }
    }

    /**
     * The last chunk's compression, long enough for the JIT to compile it: as the root of a one-chunk input
     * against commons-codec, and, when whole, as a chaining value against the full-chunk code. (A first
     * version read the zero-padded last block through a VarHandle after a System.arraycopy into a new array,
     * which C2 on JDK 17.0.15 miscompiled into reading the previous block: this is the test that caught it.)
     */
    @Test
    void lastChunkAgreesOnceCompiled() {
        Random random = new Random(11);
        int[] out = new int[8];
        int[] whole = new int[8];
        // Runs of one length each (the miscompilation needed a steady loop count), then random lengths.
        int[] lengths = {905, Blake3Engine.CHUNK_LEN, 1000, 7 * 64 + 3, 130, -1};
        for (int run : lengths) {
            for (int round = 0; round < 6000; round++) {
                int length = run >= 0 ? run : random.nextInt(Blake3Engine.CHUNK_LEN + 1);
                int offset = random.nextInt(data.length - Blake3Engine.CHUNK_LEN);
                if (length == Blake3Engine.CHUNK_LEN) {
                    long counter = random.nextLong() >>> 1;
                    Blake3Engine.lastChunk(data, offset, length, counter, false, out);
                    Blake3Engine.chunkCv(data, offset, counter, whole, 0);
                    assertArrayEquals(whole, out, "whole chunk at counter " + counter + ", round " + round);
                } else {
                    Blake3Engine.lastChunk(data, offset, length, 0, true, out);
                    byte[] expected = org.apache.commons.codec.digest.Blake3.initHash().update(data, offset, length)
                            .doFinalize(32);
                    for (int i = 0; i < 8; i++) {
                        int word = (expected[4 * i] & 0xff) | (expected[4 * i + 1] & 0xff) << 8
                                | (expected[4 * i + 2] & 0xff) << 16 | (expected[4 * i + 3] & 0xff) << 24;
                        assertEquals(word, out[i], "length " + length + ", word " + i + ", round " + round);
                    }
                }
            }
        }
    }

    /**
     * A small update, then a large one that grows the buffer, fills it and hashes it in the same call, over
     * and over, so that the JIT compiles that path (see {@code Blake3.grow}).
     */
    @Test
    void growingTheBufferAndHashingItInOneUpdateOnceCompiled() {
        Random random = new Random(13);
        for (int round = 0; round < 400; round++) {
            int first = 1 + random.nextInt(round % 2 == 0 ? 4096 : 600_000);
            int length = first + Blake3.BUFFER_BYTES - first / 2 + random.nextInt(Blake3.BUFFER_BYTES);
            Blake3 hasher = round % 3 == 0 ? Blake3.sequential() : new Blake3();
            hasher.update(data, 0, first).update(data, first, length - first);
            String expected = round % 10 == 0 ? commonsCodec(data, length)
                    : Blake3.sequential().update(data, 0, length).hex();
            assertEquals(expected, hasher.hex(), "round " + round + ", " + first + " then " + (length - first));
        }
    }

    /**
     * One update larger than a parallel batch (512 units of 128 chunks, 64 MiB): hashed in place in several
     * batches, the last one short; and the same after a first full buffer, still pending when the large
     * update comes.
     */
    @Test
    void oneUpdateLongerThanAParallelBatch() {
        byte[] big = new byte[(70 << 20) + 123];
        new Random(29).nextBytes(big);
        String expected = HexFormat.of().formatHex(
                org.apache.commons.codec.digest.Blake3.initHash().update(big).doFinalize(32));
        assertEquals(expected, new Blake3().update(big).hex(), "one update");
        assertEquals(expected, Blake3.sequential().update(big).hex(), "sequential, one update");
        int first = Blake3.BUFFER_BYTES;
        assertEquals(expected, new Blake3().update(big, 0, first).update(big, first, big.length - first).hex(),
                "a full buffer, then the rest in one update");
    }

    @Test
    void digestCanBeTakenMidStreamAndIsRepeatable() {
        int length = (3 << 20) + 12345;
        Blake3 hasher = new Blake3();
        hasher.update(data, 0, 1_500_000);
        assertEquals(commonsCodec(data, 1_500_000), hasher.hex());
        assertEquals(commonsCodec(data, 1_500_000), hasher.hex());
        hasher.update(data, 1_500_000, length - 1_500_000);
        assertEquals(commonsCodec(data, length), hasher.hex());
        assertEquals(HexFormat.of().formatHex(hasher.digest()), hasher.hex());
    }

    @Test
    void sameAsB3sum(@TempDir Path dir) throws Exception {
        assumeTrue(onPath("b3sum"), "b3sum is not installed");
        for (int length : new int[] {0, 1, 1024, 1025, 65536, (1 << 20) + 1}) {
            Path file = dir.resolve("small-" + length);
            Files.write(file, java.util.Arrays.copyOf(data, length));
            assertEquals(b3sum(file), Blake3.hex(Files.readAllBytes(file)), "length " + length);
        }

        // 300 MiB in 1 MiB reads, as a backup streams a file.
        Path big = dir.resolve("big");
        long size = 300L << 20;
        try (OutputStream out = Files.newOutputStream(big)) {
            Random random = new Random(300);
            byte[] block = new byte[1 << 20];
            for (long written = 0; written < size; written += block.length) {
                random.nextBytes(block);
                out.write(block);
            }
        }
        String expected = b3sum(big);
        try (HashingInputStream in = new HashingInputStream(Files.newInputStream(big))) {
            byte[] buffer = new byte[1 << 20];
            while (in.read(buffer, 0, buffer.length) >= 0) {
                // hashed as read
            }
            assertEquals(size, in.count());
            assertEquals(expected, in.hex());
        }
        Blake3 sequential = Blake3.sequential();
        try (InputStream in = Files.newInputStream(big)) {
            byte[] buffer = new byte[(1 << 20) + 1000]; // unaligned reads
            for (int n; (n = in.read(buffer)) >= 0; ) {
                sequential.update(buffer, 0, n);
            }
        }
        assertEquals(expected, sequential.hex());
    }

    @Test
    void manyHashersOnManyThreadsAtOnce() throws Exception {
        int tasks = 48;
        Random random = new Random(99);
        int[] lengths = new int[tasks];
        String[] expected = new String[tasks];
        for (int i = 0; i < tasks; i++) {
            lengths[i] = random.nextInt(i % 3 == 0 ? MAX_LENGTH : 300_000);
            expected[i] = Blake3.sequential().update(data, 0, lengths[i]).hex();
        }
        ExecutorService threads = Executors.newFixedThreadPool(6);
        try {
            List<Future<String>> results = new ArrayList<>();
            for (int i = 0; i < tasks; i++) {
                int task = i;
                results.add(threads.submit(() -> {
                    Supplier<Blake3> hasher = task % 4 == 3 ? Blake3::sequential : Blake3::new;
                    return inPieces(hasher.get(), data, lengths[task], new Random(task)).hex();
                }));
            }
            for (int i = 0; i < tasks; i++) {
                assertEquals(expected[i], results.get(i).get(2, TimeUnit.MINUTES), "task " + i);
            }
        } finally {
            threads.shutdownNow();
        }
        assertEquals(commonsCodec(data, lengths[0]), expected[0]);
    }

    /** One hasher updated from one thread then another (a full buffer may still be hashing in between). */
    @Test
    void aHasherMayMoveBetweenThreads() throws Exception {
        int length = (9 << 20) + 4321;
        ExecutorService first = Executors.newSingleThreadExecutor();
        ExecutorService second = Executors.newSingleThreadExecutor();
        try {
            Blake3 hasher = new Blake3();
            int piece = 300_000;
            for (int offset = 0, i = 0; offset < length; offset += piece, i++) {
                int from = offset;
                int size = Math.min(piece, length - offset);
                Callable<Blake3> update = () -> hasher.update(data, from, size);
                (i % 2 == 0 ? first : second).submit(update).get(1, TimeUnit.MINUTES);
            }
            Callable<String> hex = hasher::hex;
            assertEquals(commonsCodec(data, length), second.submit(hex).get(1, TimeUnit.MINUTES));
        } finally {
            first.shutdownNow();
            second.shutdownNow();
        }
    }

    @Test
    void hashingStreamsHashWhatPassesThrough() throws IOException {
        int length = (2 << 20) + 77;
        String expected = commonsCodec(data, length);
        ByteArrayOutputStream sink = new ByteArrayOutputStream();
        try (HashingOutputStream out = new HashingOutputStream(sink)) {
            out.write(data, 0, 1000);
            out.write(data[1000]);
            out.write(data, 1001, length - 1001);
            assertEquals(length, out.count());
            assertEquals(expected, out.hex());
        }
        try (HashingInputStream in = new HashingInputStream(new ByteArrayInputStream(data, 0, length))) {
            assertEquals(data[0] & 0xff, in.read());
            in.drain();
            assertEquals(length, in.count());
            assertEquals(expected, in.hex());
        }
    }

    @Test
    void isHexAcceptsOnlySixtyFourLowercaseHexDigits() {
        assertTrue(Blake3.isHex(Blake3.hex(new byte[0])));
        assertTrue(Blake3.isHex("0123456789abcdef".repeat(4)));
        assertFalse(Blake3.isHex(null));
        assertFalse(Blake3.isHex("0123456789ABCDEF".repeat(4)));
        assertFalse(Blake3.isHex("0123456789abcdef".repeat(4) + "0"));
        assertFalse(Blake3.isHex("0123456789abcdeg".repeat(4)));
        assertFalse(Blake3.isHex(""));
    }

    /** Feeds {@code input[0..length)} in pieces of random sizes, from single bytes to several MiB. */
    private static Blake3 inPieces(Blake3 hasher, byte[] input, int length, Random random) {
        for (int offset = 0; offset < length; ) {
            int piece = switch (random.nextInt(4)) {
                case 0 -> 1 + random.nextInt(100);
                case 1 -> 1 + random.nextInt(5000);
                case 2 -> 1 + random.nextInt(300_000);
                default -> 1 + random.nextInt(4 << 20);
            };
            piece = Math.min(piece, length - offset);
            hasher.update(input, offset, piece);
            offset += piece;
        }
        return hasher;
    }

    private static Blake3 inFixedPieces(Blake3 hasher, byte[] input, int length, int piece) {
        for (int offset = 0; offset < length; offset += piece) {
            hasher.update(input, offset, Math.min(piece, length - offset));
        }
        return hasher;
    }

    private static String commonsCodec(byte[] input, int length) {
        byte[] out = org.apache.commons.codec.digest.Blake3.initHash().update(input, 0, length).doFinalize(32);
        return HexFormat.of().formatHex(out);
    }

    private static List<String[]> vectors() throws IOException {
        List<String[]> vectors = new ArrayList<>();
        try (InputStream in = Blake3Test.class.getResourceAsStream("blake3-test-vectors.txt");
             BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.US_ASCII))) {
            for (String line; (line = reader.readLine()) != null; ) {
                if (!line.isBlank() && !line.startsWith("#")) {
                    vectors.add(line.trim().split("\\s+"));
                }
            }
        }
        return vectors;
    }

    private static boolean onPath(String command) {
        String path = System.getenv("PATH");
        if (path == null) {
            return false;
        }
        for (String dir : path.split(java.io.File.pathSeparator)) {
            if (Files.isExecutable(Path.of(dir, command))) {
                return true;
            }
        }
        return false;
    }

    private static String b3sum(Path file) throws IOException, InterruptedException {
        Process process = new ProcessBuilder("b3sum", "--no-names", file.toString()).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).trim();
        assertEquals(0, process.waitFor(), output);
        return output;
    }
}
