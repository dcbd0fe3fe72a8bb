package io.powdb.backup.integrity;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * Hashes up to {@link #N} chunks side by side, one chunk per lane, the way SIMD implementations of BLAKE3
 * do, written so that the JIT compiler vectorizes it: word {@code w} of lane {@code l} is
 * {@code s[w * N + l]}, and each round is one loop over the lanes doing what the scalar compression does
 * to one state. HotSpot's C2 turns such loops into AVX2 or AVX-512 code (16 lanes per instruction with
 * AVX-512); without vector instructions the same loops run one lane at a time and are merely slower. The
 * parents of the chunks are compressed the same way, half as many lanes per level, down to
 * {@link #MIN_LANES}; the few parents above that are compressed one by one.
 *
 * <p>One instance per thread: it is the working memory (about 20 KiB), reused for every subtree.
 */
final class Blake3Lanes {
    /** Lanes at most: chunks per call. */
    static final int N = 128;
    /** Fewer lanes than this are not worth the loops: hashed one by one instead. */
    static final int MIN_LANES = 16;

    private static final VarHandle LONG_LE =
            MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    /** The state, word-major: word w of lane l at {@code w * N + l}. */
    private final int[] s = new int[16 * N];
    /**
     * The message block: word w of lane l at {@code m[w][l]}. One array per word, not rows of one array like
     * {@link #s}: each round then takes its words in its own order by being handed the arrays in that order,
     * so one round method serves all 7 rounds (C2 needs constant offsets to vectorize, and compiling one
     * vectorized method instead of 7 shortens the time until hashing runs at full speed about fivefold).
     */
    private final int[][] m = new int[16][N];
    /** The chaining values, word-major. */
    private final int[] h = new int[8 * N];
    private final int[] counterLow = new int[N];
    private final int[] counterHigh = new int[N];
    /** Chaining values one after another, for the top parents. */
    private final int[] top = new int[8 * MIN_LANES];
    /** See {@link #touch}. */
    private int touched;

    /**
     * The chaining value of the complete subtree of {@code chunks} chunks ({@link #MIN_LANES} to {@link #N},
     * a power of two) at {@code in[off..)}, the first numbered {@code counter}, not the root: 8 words into
     * {@code out[outOff..]}.
     */
    void subtreeCv(byte[] in, int off, long counter, int chunks, int[] out, int outOff) {
        if (chunks < MIN_LANES || chunks > N || Integer.bitCount(chunks) != 1) {
            throw new IllegalArgumentException("chunks " + chunks);
        }
        if (off < 0 || off > in.length - chunks * Blake3Engine.CHUNK_LEN) {
            throw new IndexOutOfBoundsException("subtree at " + off + " of " + in.length);
        }
        touch(in, off, chunks * Blake3Engine.CHUNK_LEN);
        chunks(in, off, counter, chunks);
        int lanes = chunks;
        while (lanes > MIN_LANES) {
            parents(lanes);
            lanes >>>= 1;
        }
        // The last levels, one parent at a time.
        for (int l = 0; l < lanes; l++) {
            for (int w = 0; w < 8; w++) {
                top[8 * l + w] = h[w * N + l];
            }
        }
        for (; lanes > 1; lanes >>>= 1) {
            for (int l = 0; l < lanes; l += 2) {
                Blake3Engine.parent(top, 8 * l, 0);
                System.arraycopy(top, 8 * l, top, 4 * l, 8);
            }
        }
        System.arraycopy(top, 0, out, outOff, 8);
    }

    /**
     * Reads one byte of every cache line of the subtree, front to back. The lanes read 64 bytes from each of
     * up to 128 places 1 KiB apart, which the hardware prefetchers do not follow: input not in cache (a large
     * update hashed in place) hashed at 60% of the speed of cached input; read in order first, it comes into
     * cache at memory speed. Costs about 1% when the input is already cached.
     */
    private void touch(byte[] in, int off, int length) {
        int sum = 0;
        for (int p = off, end = off + length; p < end; p += 64) {
            sum += in[p];
        }
        touched += sum; // used, so that the reads are not optimized away
    }

    /** The chaining values of {@code lanes} whole chunks into {@link #h}. */
    private void chunks(byte[] in, int off, long counter, int lanes) {
        for (int l = 0; l < lanes; l++) {
            long c = counter + l;
            counterLow[l] = (int) c;
            counterHigh[l] = (int) (c >>> 32);
        }
        for (int w = 0; w < 8; w++) {
            Arrays.fill(h, w * N, w * N + lanes, Blake3Engine.IV[w]);
        }
        for (int block = 0; block < 16; block++) {
            int flags = (block == 0 ? Blake3Engine.CHUNK_START : 0) | (block == 15 ? Blake3Engine.CHUNK_END : 0);
            // Message words to word-major order: lane l's block is 64 bytes at off + 1024 l + 64 block.
            for (int l = 0, p = off + block * Blake3Engine.BLOCK_LEN; l < lanes; l++, p += Blake3Engine.CHUNK_LEN) {
                for (int k = 0; k < 8; k++) {
                    long pair = (long) LONG_LE.get(in, p + 8 * k);
                    m[2 * k][l] = (int) pair;
                    m[2 * k + 1][l] = (int) (pair >>> 32);
                }
            }
            for (int w = 0; w < 8; w++) {
                System.arraycopy(h, w * N, s, w * N, lanes);
            }
            System.arraycopy(counterLow, 0, s, 12 * N, lanes);
            System.arraycopy(counterHigh, 0, s, 13 * N, lanes);
            compress(lanes, Blake3Engine.BLOCK_LEN, flags);
        }
    }

    /** Replaces the {@code lanes} chaining values in {@link #h} by the {@code lanes / 2} of their parents. */
    private void parents(int lanes) {
        int half = lanes >>> 1;
        for (int w = 0; w < 8; w++) {
            int[] left = m[w];
            int[] right = m[w + 8];
            for (int l = 0; l < half; l++) {
                left[l] = h[w * N + 2 * l];
                right[l] = h[w * N + 2 * l + 1];
            }
        }
        for (int w = 0; w < 8; w++) {
            Arrays.fill(s, w * N, w * N + half, Blake3Engine.IV[w]);
        }
        Arrays.fill(s, 12 * N, 12 * N + half, 0);
        Arrays.fill(s, 13 * N, 13 * N + half, 0);
        compress(half, Blake3Engine.BLOCK_LEN, Blake3Engine.PARENT);
    }

    /**
     * Compresses {@link #m} into the state of {@code lanes} lanes whose chaining values and counters
     * {@link #s} holds; the new chaining values into {@link #h}.
     */
    private void compress(int lanes, int blockLen, int flags) {
        for (int w = 0; w < 4; w++) {
            Arrays.fill(s, (8 + w) * N, (8 + w) * N + lanes, Blake3Engine.IV[w]);
        }
        Arrays.fill(s, 14 * N, 14 * N + lanes, blockLen);
        Arrays.fill(s, 15 * N, 15 * N + lanes, flags);
        for (int[] o : Blake3Engine.SCHEDULE) {
            round(s, lanes, m[o[0]], m[o[1]], m[o[2]], m[o[3]], m[o[4]], m[o[5]], m[o[6]], m[o[7]],
                    m[o[8]], m[o[9]], m[o[10]], m[o[11]], m[o[12]], m[o[13]], m[o[14]], m[o[15]]);
        }
        for (int w = 0; w < 8; w++) {
            int row = w * N;
            int high = (w + 8) * N;
            for (int l = 0, end = Math.min(lanes, N); l < end; l++) {
                h[row + l] = s[row + l] ^ s[high + l];
            }
        }
    }

    // Within the loop every lane is independent: the loop is the scalar round applied to lane l, which the
    // JIT vectorizes across lanes. It runs to Math.min(lanes, N), not to lanes: only a bound known to be at
    // most N shows C2 that the rows of s do not overlap, and without that it does not vectorize (about 4
    // times slower).

    /**
     * One round on lanes {@code [0, lanes)}, message word {@code k} of the round (in the order the G
     * calls take them) being {@code mk[l]} for lane l.
     */
    private static void round(int[] s, int lanes, int[] m0, int[] m1, int[] m2, int[] m3, int[] m4, int[] m5,
                              int[] m6, int[] m7, int[] m8, int[] m9, int[] m10, int[] m11,
                              int[] m12, int[] m13, int[] m14, int[] m15) {
        for (int l = 0, end = Math.min(lanes, N); l < end; l++) { // min: tells the JIT that rows do not overlap
            int v0 = s[l];
            int v1 = s[N + l];
            int v2 = s[2 * N + l];
            int v3 = s[3 * N + l];
            int v4 = s[4 * N + l];
            int v5 = s[5 * N + l];
            int v6 = s[6 * N + l];
            int v7 = s[7 * N + l];
            int v8 = s[8 * N + l];
            int v9 = s[9 * N + l];
            int v10 = s[10 * N + l];
            int v11 = s[11 * N + l];
            int v12 = s[12 * N + l];
            int v13 = s[13 * N + l];
            int v14 = s[14 * N + l];
            int v15 = s[15 * N + l];
            v0 = v0 + m0[l] + v4; v12 = Integer.rotateRight(v12 ^ v0, 16);
            v8 += v12; v4 = Integer.rotateRight(v4 ^ v8, 12);
            v0 = v0 + m1[l] + v4; v12 = Integer.rotateRight(v12 ^ v0, 8);
            v8 += v12; v4 = Integer.rotateRight(v4 ^ v8, 7);
            v1 = v1 + m2[l] + v5; v13 = Integer.rotateRight(v13 ^ v1, 16);
            v9 += v13; v5 = Integer.rotateRight(v5 ^ v9, 12);
            v1 = v1 + m3[l] + v5; v13 = Integer.rotateRight(v13 ^ v1, 8);
            v9 += v13; v5 = Integer.rotateRight(v5 ^ v9, 7);
            v2 = v2 + m4[l] + v6; v14 = Integer.rotateRight(v14 ^ v2, 16);
            v10 += v14; v6 = Integer.rotateRight(v6 ^ v10, 12);
            v2 = v2 + m5[l] + v6; v14 = Integer.rotateRight(v14 ^ v2, 8);
            v10 += v14; v6 = Integer.rotateRight(v6 ^ v10, 7);
            v3 = v3 + m6[l] + v7; v15 = Integer.rotateRight(v15 ^ v3, 16);
            v11 += v15; v7 = Integer.rotateRight(v7 ^ v11, 12);
            v3 = v3 + m7[l] + v7; v15 = Integer.rotateRight(v15 ^ v3, 8);
            v11 += v15; v7 = Integer.rotateRight(v7 ^ v11, 7);
            v0 = v0 + m8[l] + v5; v15 = Integer.rotateRight(v15 ^ v0, 16);
            v10 += v15; v5 = Integer.rotateRight(v5 ^ v10, 12);
            v0 = v0 + m9[l] + v5; v15 = Integer.rotateRight(v15 ^ v0, 8);
            v10 += v15; v5 = Integer.rotateRight(v5 ^ v10, 7);
            v1 = v1 + m10[l] + v6; v12 = Integer.rotateRight(v12 ^ v1, 16);
            v11 += v12; v6 = Integer.rotateRight(v6 ^ v11, 12);
            v1 = v1 + m11[l] + v6; v12 = Integer.rotateRight(v12 ^ v1, 8);
            v11 += v12; v6 = Integer.rotateRight(v6 ^ v11, 7);
            v2 = v2 + m12[l] + v7; v13 = Integer.rotateRight(v13 ^ v2, 16);
            v8 += v13; v7 = Integer.rotateRight(v7 ^ v8, 12);
            v2 = v2 + m13[l] + v7; v13 = Integer.rotateRight(v13 ^ v2, 8);
            v8 += v13; v7 = Integer.rotateRight(v7 ^ v8, 7);
            v3 = v3 + m14[l] + v4; v14 = Integer.rotateRight(v14 ^ v3, 16);
            v9 += v14; v4 = Integer.rotateRight(v4 ^ v9, 12);
            v3 = v3 + m15[l] + v4; v14 = Integer.rotateRight(v14 ^ v3, 8);
            v9 += v14; v4 = Integer.rotateRight(v4 ^ v9, 7);
            s[l] = v0;
            s[N + l] = v1;
            s[2 * N + l] = v2;
            s[3 * N + l] = v3;
            s[4 * N + l] = v4;
            s[5 * N + l] = v5;
            s[6 * N + l] = v6;
            s[7 * N + l] = v7;
            s[8 * N + l] = v8;
            s[9 * N + l] = v9;
            s[10 * N + l] = v10;
            s[11 * N + l] = v11;
            s[12 * N + l] = v12;
            s[13 * N + l] = v13;
            s[14 * N + l] = v14;
            s[15 * N + l] = v15;
        }
    }
}
