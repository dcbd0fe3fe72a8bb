package io.powdb.backup.integrity;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * The BLAKE3 compression function and the chunk and subtree hashing built on it (hash mode only: no keyed
 * hash, no key derivation, 32-byte output), plus the small shared thread pool that hashes independent
 * subtrees in parallel. {@link Blake3} holds the streaming state and decides what to hash when.
 *
 * <p>Written from the BLAKE3 specification. Bulk input (complete subtrees of 16 to 128 chunks) goes
 * through {@link Blake3Lanes}, which hashes many chunks side by side in vectorizable loops; the scalar code
 * here hashes the rest: single chunks and small subtrees, parents, the last chunk. Its compression keeps the
 * 16 state words and 16 message words in locals, reads message words straight from the input with a
 * little-endian {@link VarHandle}, has its 7 rounds unrolled with the message permutation applied ahead of
 * time (round r reads word {@code SCHEDULE[r][i]} where the reference permutes the block), and adds the
 * message word before the just-computed state word ({@code a = a + m + b}), which keeps the addition off
 * the critical path. The hot loop neither allocates nor touches an array but the input.
 *
 * <p>The unrolled rounds (here and in {@link Blake3Lanes}) are written out mechanically: each G call is
 * {@code a = a + mx + b; d = rotr(d ^ a, 16); c += d; b = rotr(b ^ c, 12); a = a + my + b;
 * d = rotr(d ^ a, 8); c += d; b = rotr(b ^ c, 7)} on columns (0,4,8,12) (1,5,9,13) (2,6,10,14)
 * (3,7,11,15), then diagonals (0,5,10,15) (1,6,11,12) (2,7,8,13) (3,4,9,14), message words in schedule order.
 * There are two copies here on purpose: {@link #chunkCv}, the hot loop, reads its message words straight
 * from the input and keeps the chaining value in locals across the 16 blocks, which a shared method taking
 * arrays would give up; {@link #compress} serves the rest. The generator that wrote them is kept with the
 * tests ({@code Blake3Rounds}, whose {@code main} prints them), and {@code Blake3RoundsTest} fails when the
 * source differs from its output: change the generator, never one copy by hand.
 */
final class Blake3Engine {
    static final int BLOCK_LEN = 64;
    static final int CHUNK_LEN = 1024;
    static final int CHUNK_START = 1;
    static final int CHUNK_END = 1 << 1;
    static final int PARENT = 1 << 2;
    static final int ROOT = 1 << 3;

    private static final int IV0 = 0x6A09E667;
    private static final int IV1 = 0xBB67AE85;
    private static final int IV2 = 0x3C6EF372;
    private static final int IV3 = 0xA54FF53A;
    private static final int IV4 = 0x510E527F;
    private static final int IV5 = 0x9B05688C;
    private static final int IV6 = 0x1F83D9AB;
    private static final int IV7 = 0x5BE0CD19;
    static final int[] IV = {IV0, IV1, IV2, IV3, IV4, IV5, IV6, IV7};

    /**
     * The message word each round reads at each position: round 1 reads words in order, each later round
     * the previous round's order permuted by {2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8}. The
     * unrolled rounds below were written from this table ({@code Blake3Rounds}); {@code Blake3Test} checks
     * the table itself.
     */
    static final int[][] SCHEDULE = {
        {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
        {2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8},
        {3, 4, 10, 12, 13, 2, 7, 14, 6, 5, 9, 0, 11, 15, 8, 1},
        {10, 7, 12, 9, 14, 3, 13, 15, 4, 0, 11, 2, 5, 8, 1, 6},
        {12, 13, 9, 11, 15, 10, 14, 8, 7, 2, 5, 3, 0, 1, 6, 4},
        {9, 14, 11, 5, 8, 12, 15, 1, 13, 3, 0, 10, 2, 6, 4, 7},
        {11, 15, 5, 0, 1, 9, 8, 6, 14, 10, 2, 12, 3, 4, 7, 13},
    };

    /** Chunks hashed by one parallel work unit at most: a power of two, 128 KiB of input. */
    static final int UNIT_CHUNKS = Blake3Lanes.N;
    /** Words of scratch a subtree of up to {@link #UNIT_CHUNKS} chunks needs: one CV per level. */
    private static final int STACK_WORDS = 8 * (Integer.numberOfTrailingZeros(UNIT_CHUNKS) + 1);

    /**
     * Whether bulk subtrees (16 chunks or more) go through {@link Blake3Lanes}: {@code powdb.hash.lanes},
     * true by default. false is a way out should a JVM ever compile the lanes wrongly (the scalar code is
     * about a third as fast); tests switch it to check both.
     */
    static volatile boolean useLanes = !"false".equalsIgnoreCase(System.getProperty("powdb.hash.lanes", "").trim());

    private static final VarHandle INT_LE = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);

    /** Threads that hash one input (the caller and pool threads together): {@code powdb.hash.threads}. */
    static final int THREADS = threads();
    private static final ThreadPoolExecutor HELPERS = THREADS > 1 ? helpers(THREADS - 1) : null;
    /** The working memory of each pool thread. */
    private static final ThreadLocal<Workspace> HELPER_WORK = ThreadLocal.withInitial(Workspace::new);

    private Blake3Engine() {
    }

    /**
     * The chaining value of one whole 1024-byte chunk at {@code in[off..off+1024)} with chunk counter
     * {@code counter}, not the root: 8 words into {@code out[outOff..]}.
     */
    static void chunkCv(byte[] in, int off, long counter, int[] out, int outOff) {
        if (off < 0 || off > in.length - CHUNK_LEN) {
            throw new IndexOutOfBoundsException("chunk at " + off + " of " + in.length);
        }
        int h0 = IV0;
        int h1 = IV1;
        int h2 = IV2;
        int h3 = IV3;
        int h4 = IV4;
        int h5 = IV5;
        int h6 = IV6;
        int h7 = IV7;
        int lo = (int) counter;
        int hi = (int) (counter >>> 32);
        int flags = CHUNK_START;
        for (int p = off, end = off + CHUNK_LEN; p < end; p += BLOCK_LEN) {
            if (p == end - BLOCK_LEN) {
                flags |= CHUNK_END;
            }
            int m0 = (int) INT_LE.get(in, p);
            int m1 = (int) INT_LE.get(in, p + 4);
            int m2 = (int) INT_LE.get(in, p + 8);
            int m3 = (int) INT_LE.get(in, p + 12);
            int m4 = (int) INT_LE.get(in, p + 16);
            int m5 = (int) INT_LE.get(in, p + 20);
            int m6 = (int) INT_LE.get(in, p + 24);
            int m7 = (int) INT_LE.get(in, p + 28);
            int m8 = (int) INT_LE.get(in, p + 32);
            int m9 = (int) INT_LE.get(in, p + 36);
            int m10 = (int) INT_LE.get(in, p + 40);
            int m11 = (int) INT_LE.get(in, p + 44);
            int m12 = (int) INT_LE.get(in, p + 48);
            int m13 = (int) INT_LE.get(in, p + 52);
            int m14 = (int) INT_LE.get(in, p + 56);
            int m15 = (int) INT_LE.get(in, p + 60);
            int v0 = h0;
            int v1 = h1;
            int v2 = h2;
            int v3 = h3;
            int v4 = h4;
            int v5 = h5;
            int v6 = h6;
            int v7 = h7;
            int v8 = IV0;
            int v9 = IV1;
            int v10 = IV2;
            int v11 = IV3;
            int v12 = lo;
            int v13 = hi;
            int v14 = BLOCK_LEN;
            int v15 = flags;
            // round 1
            v0 = v0 + m0 + v4; v12 = Integer.rotateRight(v12 ^ v0, 16);
            v8 += v12; v4 = Integer.rotateRight(v4 ^ v8, 12);
            v0 = v0 + m1 + v4; v12 = Integer.rotateRight(v12 ^ v0, 8);
            v8 += v12; v4 = Integer.rotateRight(v4 ^ v8, 7);
            v1 = v1 + m2 + v5; v13 = Integer.rotateRight(v13 ^ v1, 16);
            v9 += v13; v5 = Integer.rotateRight(v5 ^ v9, 12);
            v1 = v1 + m3 + v5; v13 = Integer.rotateRight(v13 ^ v1, 8);
            v9 += v13; v5 = Integer.rotateRight(v5 ^ v9, 7);
            v2 = v2 + m4 + v6; v14 = Integer.rotateRight(v14 ^ v2, 16);
            v10 += v14; v6 = Integer.rotateRight(v6 ^ v10, 12);
            v2 = v2 + m5 + v6; v14 = Integer.rotateRight(v14 ^ v2, 8);
            v10 += v14; v6 = Integer.rotateRight(v6 ^ v10, 7);
            v3 = v3 + m6 + v7; v15 = Integer.rotateRight(v15 ^ v3, 16);
            v11 += v15; v7 = Integer.rotateRight(v7 ^ v11, 12);
            v3 = v3 + m7 + v7; v15 = Integer.rotateRight(v15 ^ v3, 8);
            v11 += v15; v7 = Integer.rotateRight(v7 ^ v11, 7);
            v0 = v0 + m8 + v5; v15 = Integer.rotateRight(v15 ^ v0, 16);
            v10 += v15; v5 = Integer.rotateRight(v5 ^ v10, 12);
            v0 = v0 + m9 + v5; v15 = Integer.rotateRight(v15 ^ v0, 8);
            v10 += v15; v5 = Integer.rotateRight(v5 ^ v10, 7);
            v1 = v1 + m10 + v6; v12 = Integer.rotateRight(v12 ^ v1, 16);
            v11 += v12; v6 = Integer.rotateRight(v6 ^ v11, 12);
            v1 = v1 + m11 + v6; v12 = Integer.rotateRight(v12 ^ v1, 8);
            v11 += v12; v6 = Integer.rotateRight(v6 ^ v11, 7);
            v2 = v2 + m12 + v7; v13 = Integer.rotateRight(v13 ^ v2, 16);
            v8 += v13; v7 = Integer.rotateRight(v7 ^ v8, 12);
            v2 = v2 + m13 + v7; v13 = Integer.rotateRight(v13 ^ v2, 8);
            v8 += v13; v7 = Integer.rotateRight(v7 ^ v8, 7);
            v3 = v3 + m14 + v4; v14 = Integer.rotateRight(v14 ^ v3, 16);
            v9 += v14; v4 = Integer.rotateRight(v4 ^ v9, 12);
            v3 = v3 + m15 + v4; v14 = Integer.rotateRight(v14 ^ v3, 8);
            v9 += v14; v4 = Integer.rotateRight(v4 ^ v9, 7);
            // round 2
            v0 = v0 + m2 + v4; v12 = Integer.rotateRight(v12 ^ v0, 16);
            v8 += v12; v4 = Integer.rotateRight(v4 ^ v8, 12);
            v0 = v0 + m6 + v4; v12 = Integer.rotateRight(v12 ^ v0, 8);
            v8 += v12; v4 = Integer.rotateRight(v4 ^ v8, 7);
            v1 = v1 + m3 + v5; v13 = Integer.rotateRight(v13 ^ v1, 16);
            v9 += v13; v5 = Integer.rotateRight(v5 ^ v9, 12);
            v1 = v1 + m10 + v5; v13 = Integer.rotateRight(v13 ^ v1, 8);
            v9 += v13; v5 = Integer.rotateRight(v5 ^ v9, 7);
            v2 = v2 + m7 + v6; v14 = Integer.rotateRight(v14 ^ v2, 16);
            v10 += v14; v6 = Integer.rotateRight(v6 ^ v10, 12);
            v2 = v2 + m0 + v6; v14 = Integer.rotateRight(v14 ^ v2, 8);
            v10 += v14; v6 = Integer.rotateRight(v6 ^ v10, 7);
            v3 = v3 + m4 + v7; v15 = Integer.rotateRight(v15 ^ v3, 16);
            v11 += v15; v7 = Integer.rotateRight(v7 ^ v11, 12);
            v3 = v3 + m13 + v7; v15 = Integer.rotateRight(v15 ^ v3, 8);
            v11 += v15; v7 = Integer.rotateRight(v7 ^ v11, 7);
            v0 = v0 + m1 + v5; v15 = Integer.rotateRight(v15 ^ v0, 16);
            v10 += v15; v5 = Integer.rotateRight(v5 ^ v10, 12);
            v0 = v0 + m11 + v5; v15 = Integer.rotateRight(v15 ^ v0, 8);
            v10 += v15; v5 = Integer.rotateRight(v5 ^ v10, 7);
            v1 = v1 + m12 + v6; v12 = Integer.rotateRight(v12 ^ v1, 16);
            v11 += v12; v6 = Integer.rotateRight(v6 ^ v11, 12);
            v1 = v1 + m5 + v6; v12 = Integer.rotateRight(v12 ^ v1, 8);
            v11 += v12; v6 = Integer.rotateRight(v6 ^ v11, 7);
            v2 = v2 + m9 + v7; v13 = Integer.rotateRight(v13 ^ v2, 16);
            v8 += v13; v7 = Integer.rotateRight(v7 ^ v8, 12);
            v2 = v2 + m14 + v7; v13 = Integer.rotateRight(v13 ^ v2, 8);
            v8 += v13; v7 = Integer.rotateRight(v7 ^ v8, 7);
            v3 = v3 + m15 + v4; v14 = Integer.rotateRight(v14 ^ v3, 16);
            v9 += v14; v4 = Integer.rotateRight(v4 ^ v9, 12);
            v3 = v3 + m8 + v4; v14 = Integer.rotateRight(v14 ^ v3, 8);
            v9 += v14; v4 = Integer.rotateRight(v4 ^ v9, 7);
            // round 3
            v0 = v0 + m3 + v4; v12 = Integer.rotateRight(v12 ^ v0, 16);
            v8 += v12; v4 = Integer.rotateRight(v4 ^ v8, 12);
            v0 = v0 + m4 + v4; v12 = Integer.rotateRight(v12 ^ v0, 8);
            v8 += v12; v4 = Integer.rotateRight(v4 ^ v8, 7);
            v1 = v1 + m10 + v5; v13 = Integer.rotateRight(v13 ^ v1, 16);
            v9 += v13; v5 = Integer.rotateRight(v5 ^ v9, 12);
            v1 = v1 + m12 + v5; v13 = Integer.rotateRight(v13 ^ v1, 8);
            v9 += v13; v5 = Integer.rotateRight(v5 ^ v9, 7);
            v2 = v2 + m13 + v6; v14 = Integer.rotateRight(v14 ^ v2, 16);
            v10 += v14; v6 = Integer.rotateRight(v6 ^ v10, 12);
            v2 = v2 + m2 + v6; v14 = Integer.rotateRight(v14 ^ v2, 8);
            v10 += v14; v6 = Integer.rotateRight(v6 ^ v10, 7);
            v3 = v3 + m7 + v7; v15 = Integer.rotateRight(v15 ^ v3, 16);
            v11 += v15; v7 = Integer.rotateRight(v7 ^ v11, 12);
            v3 = v3 + m14 + v7; v15 = Integer.rotateRight(v15 ^ v3, 8);
            v11 += v15; v7 = Integer.rotateRight(v7 ^ v11, 7);
            v0 = v0 + m6 + v5; v15 = Integer.rotateRight(v15 ^ v0, 16);
            v10 += v15; v5 = Integer.rotateRight(v5 ^ v10, 12);
            v0 = v0 + m5 + v5; v15 = Integer.rotateRight(v15 ^ v0, 8);
            v10 += v15; v5 = Integer.rotateRight(v5 ^ v10, 7);
            v1 = v1 + m9 + v6; v12 = Integer.rotateRight(v12 ^ v1, 16);
            v11 += v12; v6 = Integer.rotateRight(v6 ^ v11, 12);
            v1 = v1 + m0 + v6; v12 = Integer.rotateRight(v12 ^ v1, 8);
            v11 += v12; v6 = Integer.rotateRight(v6 ^ v11, 7);
            v2 = v2 + m11 + v7; v13 = Integer.rotateRight(v13 ^ v2, 16);
            v8 += v13; v7 = Integer.rotateRight(v7 ^ v8, 12);
            v2 = v2 + m15 + v7; v13 = Integer.rotateRight(v13 ^ v2, 8);
            v8 += v13; v7 = Integer.rotateRight(v7 ^ v8, 7);
            v3 = v3 + m8 + v4; v14 = Integer.rotateRight(v14 ^ v3, 16);
            v9 += v14; v4 = Integer.rotateRight(v4 ^ v9, 12);
            v3 = v3 + m1 + v4; v14 = Integer.rotateRight(v14 ^ v3, 8);
            v9 += v14; v4 = Integer.rotateRight(v4 ^ v9, 7);
            // round 4
            v0 = v0 + m10 + v4; v12 = Integer.rotateRight(v12 ^ v0, 16);
            v8 += v12; v4 = Integer.rotateRight(v4 ^ v8, 12);
            v0 = v0 + m7 + v4; v12 = Integer.rotateRight(v12 ^ v0, 8);
            v8 += v12; v4 = Integer.rotateRight(v4 ^ v8, 7);
            v1 = v1 + m12 + v5; v13 = Integer.rotateRight(v13 ^ v1, 16);
            v9 += v13; v5 = Integer.rotateRight(v5 ^ v9, 12);
            v1 = v1 + m9 + v5; v13 = Integer.rotateRight(v13 ^ v1, 8);
            v9 += v13; v5 = Integer.rotateRight(v5 ^ v9, 7);
            v2 = v2 + m14 + v6; v14 = Integer.rotateRight(v14 ^ v2, 16);
            v10 += v14; v6 = Integer.rotateRight(v6 ^ v10, 12);
            v2 = v2 + m3 + v6; v14 = Integer.rotateRight(v14 ^ v2, 8);
            v10 += v14; v6 = Integer.rotateRight(v6 ^ v10, 7);
            v3 = v3 + m13 + v7; v15 = Integer.rotateRight(v15 ^ v3, 16);
            v11 += v15; v7 = Integer.rotateRight(v7 ^ v11, 12);
            v3 = v3 + m15 + v7; v15 = Integer.rotateRight(v15 ^ v3, 8);
            v11 += v15; v7 = Integer.rotateRight(v7 ^ v11, 7);
            v0 = v0 + m4 + v5; v15 = Integer.rotateRight(v15 ^ v0, 16);
            v10 += v15; v5 = Integer.rotateRight(v5 ^ v10, 12);
            v0 = v0 + m0 + v5; v15 = Integer.rotateRight(v15 ^ v0, 8);
            v10 += v15; v5 = Integer.rotateRight(v5 ^ v10, 7);
            v1 = v1 + m11 + v6; v12 = Integer.rotateRight(v12 ^ v1, 16);
            v11 += v12; v6 = Integer.rotateRight(v6 ^ v11, 12);
            v1 = v1 + m2 + v6; v12 = Integer.rotateRight(v12 ^ v1, 8);
            v11 += v12; v6 = Integer.rotateRight(v6 ^ v11, 7);
            v2 = v2 + m5 + v7; v13 = Integer.rotateRight(v13 ^ v2, 16);
            v8 += v13; v7 = Integer.rotateRight(v7 ^ v8, 12);
            v2 = v2 + m8 + v7; v13 = Integer.rotateRight(v13 ^ v2, 8);
            v8 += v13; v7 = Integer.rotateRight(v7 ^ v8, 7);
            v3 = v3 + m1 + v4; v14 = Integer.rotateRight(v14 ^ v3, 16);
            v9 += v14; v4 = Integer.rotateRight(v4 ^ v9, 12);
            v3 = v3 + m6 + v4; v14 = Integer.rotateRight(v14 ^ v3, 8);
            v9 += v14; v4 = Integer.rotateRight(v4 ^ v9, 7);
            // round 5
            v0 = v0 + m12 + v4; v12 = Integer.rotateRight(v12 ^ v0, 16);
            v8 += v12; v4 = Integer.rotateRight(v4 ^ v8, 12);
            v0 = v0 + m13 + v4; v12 = Integer.rotateRight(v12 ^ v0, 8);
            v8 += v12; v4 = Integer.rotateRight(v4 ^ v8, 7);
            v1 = v1 + m9 + v5; v13 = Integer.rotateRight(v13 ^ v1, 16);
            v9 += v13; v5 = Integer.rotateRight(v5 ^ v9, 12);
            v1 = v1 + m11 + v5; v13 = Integer.rotateRight(v13 ^ v1, 8);
            v9 += v13; v5 = Integer.rotateRight(v5 ^ v9, 7);
            v2 = v2 + m15 + v6; v14 = Integer.rotateRight(v14 ^ v2, 16);
            v10 += v14; v6 = Integer.rotateRight(v6 ^ v10, 12);
            v2 = v2 + m10 + v6; v14 = Integer.rotateRight(v14 ^ v2, 8);
            v10 += v14; v6 = Integer.rotateRight(v6 ^ v10, 7);
            v3 = v3 + m14 + v7; v15 = Integer.rotateRight(v15 ^ v3, 16);
            v11 += v15; v7 = Integer.rotateRight(v7 ^ v11, 12);
            v3 = v3 + m8 + v7; v15 = Integer.rotateRight(v15 ^ v3, 8);
            v11 += v15; v7 = Integer.rotateRight(v7 ^ v11, 7);
            v0 = v0 + m7 + v5; v15 = Integer.rotateRight(v15 ^ v0, 16);
            v10 += v15; v5 = Integer.rotateRight(v5 ^ v10, 12);
            v0 = v0 + m2 + v5; v15 = Integer.rotateRight(v15 ^ v0, 8);
            v10 += v15; v5 = Integer.rotateRight(v5 ^ v10, 7);
            v1 = v1 + m5 + v6; v12 = Integer.rotateRight(v12 ^ v1, 16);
            v11 += v12; v6 = Integer.rotateRight(v6 ^ v11, 12);
            v1 = v1 + m3 + v6; v12 = Integer.rotateRight(v12 ^ v1, 8);
            v11 += v12; v6 = Integer.rotateRight(v6 ^ v11, 7);
            v2 = v2 + m0 + v7; v13 = Integer.rotateRight(v13 ^ v2, 16);
            v8 += v13; v7 = Integer.rotateRight(v7 ^ v8, 12);
            v2 = v2 + m1 + v7; v13 = Integer.rotateRight(v13 ^ v2, 8);
            v8 += v13; v7 = Integer.rotateRight(v7 ^ v8, 7);
            v3 = v3 + m6 + v4; v14 = Integer.rotateRight(v14 ^ v3, 16);
            v9 += v14; v4 = Integer.rotateRight(v4 ^ v9, 12);
            v3 = v3 + m4 + v4; v14 = Integer.rotateRight(v14 ^ v3, 8);
            v9 += v14; v4 = Integer.rotateRight(v4 ^ v9, 7);
            // round 6
            v0 = v0 + m9 + v4; v12 = Integer.rotateRight(v12 ^ v0, 16);
            v8 += v12; v4 = Integer.rotateRight(v4 ^ v8, 12);
            v0 = v0 + m14 + v4; v12 = Integer.rotateRight(v12 ^ v0, 8);
            v8 += v12; v4 = Integer.rotateRight(v4 ^ v8, 7);
            v1 = v1 + m11 + v5; v13 = Integer.rotateRight(v13 ^ v1, 16);
            v9 += v13; v5 = Integer.rotateRight(v5 ^ v9, 12);
            v1 = v1 + m5 + v5; v13 = Integer.rotateRight(v13 ^ v1, 8);
            v9 += v13; v5 = Integer.rotateRight(v5 ^ v9, 7);
            v2 = v2 + m8 + v6; v14 = Integer.rotateRight(v14 ^ v2, 16);
            v10 += v14; v6 = Integer.rotateRight(v6 ^ v10, 12);
            v2 = v2 + m12 + v6; v14 = Integer.rotateRight(v14 ^ v2, 8);
            v10 += v14; v6 = Integer.rotateRight(v6 ^ v10, 7);
            v3 = v3 + m15 + v7; v15 = Integer.rotateRight(v15 ^ v3, 16);
            v11 += v15; v7 = Integer.rotateRight(v7 ^ v11, 12);
            v3 = v3 + m1 + v7; v15 = Integer.rotateRight(v15 ^ v3, 8);
            v11 += v15; v7 = Integer.rotateRight(v7 ^ v11, 7);
            v0 = v0 + m13 + v5; v15 = Integer.rotateRight(v15 ^ v0, 16);
            v10 += v15; v5 = Integer.rotateRight(v5 ^ v10, 12);
            v0 = v0 + m3 + v5; v15 = Integer.rotateRight(v15 ^ v0, 8);
            v10 += v15; v5 = Integer.rotateRight(v5 ^ v10, 7);
            v1 = v1 + m0 + v6; v12 = Integer.rotateRight(v12 ^ v1, 16);
            v11 += v12; v6 = Integer.rotateRight(v6 ^ v11, 12);
            v1 = v1 + m10 + v6; v12 = Integer.rotateRight(v12 ^ v1, 8);
            v11 += v12; v6 = Integer.rotateRight(v6 ^ v11, 7);
            v2 = v2 + m2 + v7; v13 = Integer.rotateRight(v13 ^ v2, 16);
            v8 += v13; v7 = Integer.rotateRight(v7 ^ v8, 12);
            v2 = v2 + m6 + v7; v13 = Integer.rotateRight(v13 ^ v2, 8);
            v8 += v13; v7 = Integer.rotateRight(v7 ^ v8, 7);
            v3 = v3 + m4 + v4; v14 = Integer.rotateRight(v14 ^ v3, 16);
            v9 += v14; v4 = Integer.rotateRight(v4 ^ v9, 12);
            v3 = v3 + m7 + v4; v14 = Integer.rotateRight(v14 ^ v3, 8);
            v9 += v14; v4 = Integer.rotateRight(v4 ^ v9, 7);
            // round 7
            v0 = v0 + m11 + v4; v12 = Integer.rotateRight(v12 ^ v0, 16);
            v8 += v12; v4 = Integer.rotateRight(v4 ^ v8, 12);
            v0 = v0 + m15 + v4; v12 = Integer.rotateRight(v12 ^ v0, 8);
            v8 += v12; v4 = Integer.rotateRight(v4 ^ v8, 7);
            v1 = v1 + m5 + v5; v13 = Integer.rotateRight(v13 ^ v1, 16);
            v9 += v13; v5 = Integer.rotateRight(v5 ^ v9, 12);
            v1 = v1 + m0 + v5; v13 = Integer.rotateRight(v13 ^ v1, 8);
            v9 += v13; v5 = Integer.rotateRight(v5 ^ v9, 7);
            v2 = v2 + m1 + v6; v14 = Integer.rotateRight(v14 ^ v2, 16);
            v10 += v14; v6 = Integer.rotateRight(v6 ^ v10, 12);
            v2 = v2 + m9 + v6; v14 = Integer.rotateRight(v14 ^ v2, 8);
            v10 += v14; v6 = Integer.rotateRight(v6 ^ v10, 7);
            v3 = v3 + m8 + v7; v15 = Integer.rotateRight(v15 ^ v3, 16);
            v11 += v15; v7 = Integer.rotateRight(v7 ^ v11, 12);
            v3 = v3 + m6 + v7; v15 = Integer.rotateRight(v15 ^ v3, 8);
            v11 += v15; v7 = Integer.rotateRight(v7 ^ v11, 7);
            v0 = v0 + m14 + v5; v15 = Integer.rotateRight(v15 ^ v0, 16);
            v10 += v15; v5 = Integer.rotateRight(v5 ^ v10, 12);
            v0 = v0 + m10 + v5; v15 = Integer.rotateRight(v15 ^ v0, 8);
            v10 += v15; v5 = Integer.rotateRight(v5 ^ v10, 7);
            v1 = v1 + m2 + v6; v12 = Integer.rotateRight(v12 ^ v1, 16);
            v11 += v12; v6 = Integer.rotateRight(v6 ^ v11, 12);
            v1 = v1 + m12 + v6; v12 = Integer.rotateRight(v12 ^ v1, 8);
            v11 += v12; v6 = Integer.rotateRight(v6 ^ v11, 7);
            v2 = v2 + m3 + v7; v13 = Integer.rotateRight(v13 ^ v2, 16);
            v8 += v13; v7 = Integer.rotateRight(v7 ^ v8, 12);
            v2 = v2 + m4 + v7; v13 = Integer.rotateRight(v13 ^ v2, 8);
            v8 += v13; v7 = Integer.rotateRight(v7 ^ v8, 7);
            v3 = v3 + m7 + v4; v14 = Integer.rotateRight(v14 ^ v3, 16);
            v9 += v14; v4 = Integer.rotateRight(v4 ^ v9, 12);
            v3 = v3 + m13 + v4; v14 = Integer.rotateRight(v14 ^ v3, 8);
            v9 += v14; v4 = Integer.rotateRight(v4 ^ v9, 7);
            h0 = v0 ^ v8;
            h1 = v1 ^ v9;
            h2 = v2 ^ v10;
            h3 = v3 ^ v11;
            h4 = v4 ^ v12;
            h5 = v5 ^ v13;
            h6 = v6 ^ v14;
            h7 = v7 ^ v15;
            flags = 0;
        }
        out[outOff] = h0;
        out[outOff + 1] = h1;
        out[outOff + 2] = h2;
        out[outOff + 3] = h3;
        out[outOff + 4] = h4;
        out[outOff + 5] = h5;
        out[outOff + 6] = h6;
        out[outOff + 7] = h7;
    }

    /**
     * One compression of the block {@code m[mOff..mOff+16)} into the chaining value {@code cv[cvOff..+8)},
     * the first 8 output words (the new chaining value, or the first 32 bytes of a root's output) into
     * {@code out[outOff..+8)}. The output may overlap either input.
     */
    static void compress(int[] cv, int cvOff, int[] m, int mOff, long counter, int blockLen, int flags,
                         int[] out, int outOff) {
        int m0 = m[mOff];
        int m1 = m[mOff + 1];
        int m2 = m[mOff + 2];
        int m3 = m[mOff + 3];
        int m4 = m[mOff + 4];
        int m5 = m[mOff + 5];
        int m6 = m[mOff + 6];
        int m7 = m[mOff + 7];
        int m8 = m[mOff + 8];
        int m9 = m[mOff + 9];
        int m10 = m[mOff + 10];
        int m11 = m[mOff + 11];
        int m12 = m[mOff + 12];
        int m13 = m[mOff + 13];
        int m14 = m[mOff + 14];
        int m15 = m[mOff + 15];
        int v0 = cv[cvOff];
        int v1 = cv[cvOff + 1];
        int v2 = cv[cvOff + 2];
        int v3 = cv[cvOff + 3];
        int v4 = cv[cvOff + 4];
        int v5 = cv[cvOff + 5];
        int v6 = cv[cvOff + 6];
        int v7 = cv[cvOff + 7];
        int v8 = IV0;
        int v9 = IV1;
        int v10 = IV2;
        int v11 = IV3;
        int v12 = (int) counter;
        int v13 = (int) (counter >>> 32);
        int v14 = blockLen;
        int v15 = flags;
        // round 1
        v0 = v0 + m0 + v4; v12 = Integer.rotateRight(v12 ^ v0, 16);
        v8 += v12; v4 = Integer.rotateRight(v4 ^ v8, 12);
        v0 = v0 + m1 + v4; v12 = Integer.rotateRight(v12 ^ v0, 8);
        v8 += v12; v4 = Integer.rotateRight(v4 ^ v8, 7);
        v1 = v1 + m2 + v5; v13 = Integer.rotateRight(v13 ^ v1, 16);
        v9 += v13; v5 = Integer.rotateRight(v5 ^ v9, 12);
        v1 = v1 + m3 + v5; v13 = Integer.rotateRight(v13 ^ v1, 8);
        v9 += v13; v5 = Integer.rotateRight(v5 ^ v9, 7);
        v2 = v2 + m4 + v6; v14 = Integer.rotateRight(v14 ^ v2, 16);
        v10 += v14; v6 = Integer.rotateRight(v6 ^ v10, 12);
        v2 = v2 + m5 + v6; v14 = Integer.rotateRight(v14 ^ v2, 8);
        v10 += v14; v6 = Integer.rotateRight(v6 ^ v10, 7);
        v3 = v3 + m6 + v7; v15 = Integer.rotateRight(v15 ^ v3, 16);
        v11 += v15; v7 = Integer.rotateRight(v7 ^ v11, 12);
        v3 = v3 + m7 + v7; v15 = Integer.rotateRight(v15 ^ v3, 8);
        v11 += v15; v7 = Integer.rotateRight(v7 ^ v11, 7);
        v0 = v0 + m8 + v5; v15 = Integer.rotateRight(v15 ^ v0, 16);
        v10 += v15; v5 = Integer.rotateRight(v5 ^ v10, 12);
        v0 = v0 + m9 + v5; v15 = Integer.rotateRight(v15 ^ v0, 8);
        v10 += v15; v5 = Integer.rotateRight(v5 ^ v10, 7);
        v1 = v1 + m10 + v6; v12 = Integer.rotateRight(v12 ^ v1, 16);
        v11 += v12; v6 = Integer.rotateRight(v6 ^ v11, 12);
        v1 = v1 + m11 + v6; v12 = Integer.rotateRight(v12 ^ v1, 8);
        v11 += v12; v6 = Integer.rotateRight(v6 ^ v11, 7);
        v2 = v2 + m12 + v7; v13 = Integer.rotateRight(v13 ^ v2, 16);
        v8 += v13; v7 = Integer.rotateRight(v7 ^ v8, 12);
        v2 = v2 + m13 + v7; v13 = Integer.rotateRight(v13 ^ v2, 8);
        v8 += v13; v7 = Integer.rotateRight(v7 ^ v8, 7);
        v3 = v3 + m14 + v4; v14 = Integer.rotateRight(v14 ^ v3, 16);
        v9 += v14; v4 = Integer.rotateRight(v4 ^ v9, 12);
        v3 = v3 + m15 + v4; v14 = Integer.rotateRight(v14 ^ v3, 8);
        v9 += v14; v4 = Integer.rotateRight(v4 ^ v9, 7);
        // round 2
        v0 = v0 + m2 + v4; v12 = Integer.rotateRight(v12 ^ v0, 16);
        v8 += v12; v4 = Integer.rotateRight(v4 ^ v8, 12);
        v0 = v0 + m6 + v4; v12 = Integer.rotateRight(v12 ^ v0, 8);
        v8 += v12; v4 = Integer.rotateRight(v4 ^ v8, 7);
        v1 = v1 + m3 + v5; v13 = Integer.rotateRight(v13 ^ v1, 16);
        v9 += v13; v5 = Integer.rotateRight(v5 ^ v9, 12);
        v1 = v1 + m10 + v5; v13 = Integer.rotateRight(v13 ^ v1, 8);
        v9 += v13; v5 = Integer.rotateRight(v5 ^ v9, 7);
        v2 = v2 + m7 + v6; v14 = Integer.rotateRight(v14 ^ v2, 16);
        v10 += v14; v6 = Integer.rotateRight(v6 ^ v10, 12);
        v2 = v2 + m0 + v6; v14 = Integer.rotateRight(v14 ^ v2, 8);
        v10 += v14; v6 = Integer.rotateRight(v6 ^ v10, 7);
        v3 = v3 + m4 + v7; v15 = Integer.rotateRight(v15 ^ v3, 16);
        v11 += v15; v7 = Integer.rotateRight(v7 ^ v11, 12);
        v3 = v3 + m13 + v7; v15 = Integer.rotateRight(v15 ^ v3, 8);
        v11 += v15; v7 = Integer.rotateRight(v7 ^ v11, 7);
        v0 = v0 + m1 + v5; v15 = Integer.rotateRight(v15 ^ v0, 16);
        v10 += v15; v5 = Integer.rotateRight(v5 ^ v10, 12);
        v0 = v0 + m11 + v5; v15 = Integer.rotateRight(v15 ^ v0, 8);
        v10 += v15; v5 = Integer.rotateRight(v5 ^ v10, 7);
        v1 = v1 + m12 + v6; v12 = Integer.rotateRight(v12 ^ v1, 16);
        v11 += v12; v6 = Integer.rotateRight(v6 ^ v11, 12);
        v1 = v1 + m5 + v6; v12 = Integer.rotateRight(v12 ^ v1, 8);
        v11 += v12; v6 = Integer.rotateRight(v6 ^ v11, 7);
        v2 = v2 + m9 + v7; v13 = Integer.rotateRight(v13 ^ v2, 16);
        v8 += v13; v7 = Integer.rotateRight(v7 ^ v8, 12);
        v2 = v2 + m14 + v7; v13 = Integer.rotateRight(v13 ^ v2, 8);
        v8 += v13; v7 = Integer.rotateRight(v7 ^ v8, 7);
        v3 = v3 + m15 + v4; v14 = Integer.rotateRight(v14 ^ v3, 16);
        v9 += v14; v4 = Integer.rotateRight(v4 ^ v9, 12);
        v3 = v3 + m8 + v4; v14 = Integer.rotateRight(v14 ^ v3, 8);
        v9 += v14; v4 = Integer.rotateRight(v4 ^ v9, 7);
        // round 3
        v0 = v0 + m3 + v4; v12 = Integer.rotateRight(v12 ^ v0, 16);
        v8 += v12; v4 = Integer.rotateRight(v4 ^ v8, 12);
        v0 = v0 + m4 + v4; v12 = Integer.rotateRight(v12 ^ v0, 8);
        v8 += v12; v4 = Integer.rotateRight(v4 ^ v8, 7);
        v1 = v1 + m10 + v5; v13 = Integer.rotateRight(v13 ^ v1, 16);
        v9 += v13; v5 = Integer.rotateRight(v5 ^ v9, 12);
        v1 = v1 + m12 + v5; v13 = Integer.rotateRight(v13 ^ v1, 8);
        v9 += v13; v5 = Integer.rotateRight(v5 ^ v9, 7);
        v2 = v2 + m13 + v6; v14 = Integer.rotateRight(v14 ^ v2, 16);
        v10 += v14; v6 = Integer.rotateRight(v6 ^ v10, 12);
        v2 = v2 + m2 + v6; v14 = Integer.rotateRight(v14 ^ v2, 8);
        v10 += v14; v6 = Integer.rotateRight(v6 ^ v10, 7);
        v3 = v3 + m7 + v7; v15 = Integer.rotateRight(v15 ^ v3, 16);
        v11 += v15; v7 = Integer.rotateRight(v7 ^ v11, 12);
        v3 = v3 + m14 + v7; v15 = Integer.rotateRight(v15 ^ v3, 8);
        v11 += v15; v7 = Integer.rotateRight(v7 ^ v11, 7);
        v0 = v0 + m6 + v5; v15 = Integer.rotateRight(v15 ^ v0, 16);
        v10 += v15; v5 = Integer.rotateRight(v5 ^ v10, 12);
        v0 = v0 + m5 + v5; v15 = Integer.rotateRight(v15 ^ v0, 8);
        v10 += v15; v5 = Integer.rotateRight(v5 ^ v10, 7);
        v1 = v1 + m9 + v6; v12 = Integer.rotateRight(v12 ^ v1, 16);
        v11 += v12; v6 = Integer.rotateRight(v6 ^ v11, 12);
        v1 = v1 + m0 + v6; v12 = Integer.rotateRight(v12 ^ v1, 8);
        v11 += v12; v6 = Integer.rotateRight(v6 ^ v11, 7);
        v2 = v2 + m11 + v7; v13 = Integer.rotateRight(v13 ^ v2, 16);
        v8 += v13; v7 = Integer.rotateRight(v7 ^ v8, 12);
        v2 = v2 + m15 + v7; v13 = Integer.rotateRight(v13 ^ v2, 8);
        v8 += v13; v7 = Integer.rotateRight(v7 ^ v8, 7);
        v3 = v3 + m8 + v4; v14 = Integer.rotateRight(v14 ^ v3, 16);
        v9 += v14; v4 = Integer.rotateRight(v4 ^ v9, 12);
        v3 = v3 + m1 + v4; v14 = Integer.rotateRight(v14 ^ v3, 8);
        v9 += v14; v4 = Integer.rotateRight(v4 ^ v9, 7);
        // round 4
        v0 = v0 + m10 + v4; v12 = Integer.rotateRight(v12 ^ v0, 16);
        v8 += v12; v4 = Integer.rotateRight(v4 ^ v8, 12);
        v0 = v0 + m7 + v4; v12 = Integer.rotateRight(v12 ^ v0, 8);
        v8 += v12; v4 = Integer.rotateRight(v4 ^ v8, 7);
        v1 = v1 + m12 + v5; v13 = Integer.rotateRight(v13 ^ v1, 16);
        v9 += v13; v5 = Integer.rotateRight(v5 ^ v9, 12);
        v1 = v1 + m9 + v5; v13 = Integer.rotateRight(v13 ^ v1, 8);
        v9 += v13; v5 = Integer.rotateRight(v5 ^ v9, 7);
        v2 = v2 + m14 + v6; v14 = Integer.rotateRight(v14 ^ v2, 16);
        v10 += v14; v6 = Integer.rotateRight(v6 ^ v10, 12);
        v2 = v2 + m3 + v6; v14 = Integer.rotateRight(v14 ^ v2, 8);
        v10 += v14; v6 = Integer.rotateRight(v6 ^ v10, 7);
        v3 = v3 + m13 + v7; v15 = Integer.rotateRight(v15 ^ v3, 16);
        v11 += v15; v7 = Integer.rotateRight(v7 ^ v11, 12);
        v3 = v3 + m15 + v7; v15 = Integer.rotateRight(v15 ^ v3, 8);
        v11 += v15; v7 = Integer.rotateRight(v7 ^ v11, 7);
        v0 = v0 + m4 + v5; v15 = Integer.rotateRight(v15 ^ v0, 16);
        v10 += v15; v5 = Integer.rotateRight(v5 ^ v10, 12);
        v0 = v0 + m0 + v5; v15 = Integer.rotateRight(v15 ^ v0, 8);
        v10 += v15; v5 = Integer.rotateRight(v5 ^ v10, 7);
        v1 = v1 + m11 + v6; v12 = Integer.rotateRight(v12 ^ v1, 16);
        v11 += v12; v6 = Integer.rotateRight(v6 ^ v11, 12);
        v1 = v1 + m2 + v6; v12 = Integer.rotateRight(v12 ^ v1, 8);
        v11 += v12; v6 = Integer.rotateRight(v6 ^ v11, 7);
        v2 = v2 + m5 + v7; v13 = Integer.rotateRight(v13 ^ v2, 16);
        v8 += v13; v7 = Integer.rotateRight(v7 ^ v8, 12);
        v2 = v2 + m8 + v7; v13 = Integer.rotateRight(v13 ^ v2, 8);
        v8 += v13; v7 = Integer.rotateRight(v7 ^ v8, 7);
        v3 = v3 + m1 + v4; v14 = Integer.rotateRight(v14 ^ v3, 16);
        v9 += v14; v4 = Integer.rotateRight(v4 ^ v9, 12);
        v3 = v3 + m6 + v4; v14 = Integer.rotateRight(v14 ^ v3, 8);
        v9 += v14; v4 = Integer.rotateRight(v4 ^ v9, 7);
        // round 5
        v0 = v0 + m12 + v4; v12 = Integer.rotateRight(v12 ^ v0, 16);
        v8 += v12; v4 = Integer.rotateRight(v4 ^ v8, 12);
        v0 = v0 + m13 + v4; v12 = Integer.rotateRight(v12 ^ v0, 8);
        v8 += v12; v4 = Integer.rotateRight(v4 ^ v8, 7);
        v1 = v1 + m9 + v5; v13 = Integer.rotateRight(v13 ^ v1, 16);
        v9 += v13; v5 = Integer.rotateRight(v5 ^ v9, 12);
        v1 = v1 + m11 + v5; v13 = Integer.rotateRight(v13 ^ v1, 8);
        v9 += v13; v5 = Integer.rotateRight(v5 ^ v9, 7);
        v2 = v2 + m15 + v6; v14 = Integer.rotateRight(v14 ^ v2, 16);
        v10 += v14; v6 = Integer.rotateRight(v6 ^ v10, 12);
        v2 = v2 + m10 + v6; v14 = Integer.rotateRight(v14 ^ v2, 8);
        v10 += v14; v6 = Integer.rotateRight(v6 ^ v10, 7);
        v3 = v3 + m14 + v7; v15 = Integer.rotateRight(v15 ^ v3, 16);
        v11 += v15; v7 = Integer.rotateRight(v7 ^ v11, 12);
        v3 = v3 + m8 + v7; v15 = Integer.rotateRight(v15 ^ v3, 8);
        v11 += v15; v7 = Integer.rotateRight(v7 ^ v11, 7);
        v0 = v0 + m7 + v5; v15 = Integer.rotateRight(v15 ^ v0, 16);
        v10 += v15; v5 = Integer.rotateRight(v5 ^ v10, 12);
        v0 = v0 + m2 + v5; v15 = Integer.rotateRight(v15 ^ v0, 8);
        v10 += v15; v5 = Integer.rotateRight(v5 ^ v10, 7);
        v1 = v1 + m5 + v6; v12 = Integer.rotateRight(v12 ^ v1, 16);
        v11 += v12; v6 = Integer.rotateRight(v6 ^ v11, 12);
        v1 = v1 + m3 + v6; v12 = Integer.rotateRight(v12 ^ v1, 8);
        v11 += v12; v6 = Integer.rotateRight(v6 ^ v11, 7);
        v2 = v2 + m0 + v7; v13 = Integer.rotateRight(v13 ^ v2, 16);
        v8 += v13; v7 = Integer.rotateRight(v7 ^ v8, 12);
        v2 = v2 + m1 + v7; v13 = Integer.rotateRight(v13 ^ v2, 8);
        v8 += v13; v7 = Integer.rotateRight(v7 ^ v8, 7);
        v3 = v3 + m6 + v4; v14 = Integer.rotateRight(v14 ^ v3, 16);
        v9 += v14; v4 = Integer.rotateRight(v4 ^ v9, 12);
        v3 = v3 + m4 + v4; v14 = Integer.rotateRight(v14 ^ v3, 8);
        v9 += v14; v4 = Integer.rotateRight(v4 ^ v9, 7);
        // round 6
        v0 = v0 + m9 + v4; v12 = Integer.rotateRight(v12 ^ v0, 16);
        v8 += v12; v4 = Integer.rotateRight(v4 ^ v8, 12);
        v0 = v0 + m14 + v4; v12 = Integer.rotateRight(v12 ^ v0, 8);
        v8 += v12; v4 = Integer.rotateRight(v4 ^ v8, 7);
        v1 = v1 + m11 + v5; v13 = Integer.rotateRight(v13 ^ v1, 16);
        v9 += v13; v5 = Integer.rotateRight(v5 ^ v9, 12);
        v1 = v1 + m5 + v5; v13 = Integer.rotateRight(v13 ^ v1, 8);
        v9 += v13; v5 = Integer.rotateRight(v5 ^ v9, 7);
        v2 = v2 + m8 + v6; v14 = Integer.rotateRight(v14 ^ v2, 16);
        v10 += v14; v6 = Integer.rotateRight(v6 ^ v10, 12);
        v2 = v2 + m12 + v6; v14 = Integer.rotateRight(v14 ^ v2, 8);
        v10 += v14; v6 = Integer.rotateRight(v6 ^ v10, 7);
        v3 = v3 + m15 + v7; v15 = Integer.rotateRight(v15 ^ v3, 16);
        v11 += v15; v7 = Integer.rotateRight(v7 ^ v11, 12);
        v3 = v3 + m1 + v7; v15 = Integer.rotateRight(v15 ^ v3, 8);
        v11 += v15; v7 = Integer.rotateRight(v7 ^ v11, 7);
        v0 = v0 + m13 + v5; v15 = Integer.rotateRight(v15 ^ v0, 16);
        v10 += v15; v5 = Integer.rotateRight(v5 ^ v10, 12);
        v0 = v0 + m3 + v5; v15 = Integer.rotateRight(v15 ^ v0, 8);
        v10 += v15; v5 = Integer.rotateRight(v5 ^ v10, 7);
        v1 = v1 + m0 + v6; v12 = Integer.rotateRight(v12 ^ v1, 16);
        v11 += v12; v6 = Integer.rotateRight(v6 ^ v11, 12);
        v1 = v1 + m10 + v6; v12 = Integer.rotateRight(v12 ^ v1, 8);
        v11 += v12; v6 = Integer.rotateRight(v6 ^ v11, 7);
        v2 = v2 + m2 + v7; v13 = Integer.rotateRight(v13 ^ v2, 16);
        v8 += v13; v7 = Integer.rotateRight(v7 ^ v8, 12);
        v2 = v2 + m6 + v7; v13 = Integer.rotateRight(v13 ^ v2, 8);
        v8 += v13; v7 = Integer.rotateRight(v7 ^ v8, 7);
        v3 = v3 + m4 + v4; v14 = Integer.rotateRight(v14 ^ v3, 16);
        v9 += v14; v4 = Integer.rotateRight(v4 ^ v9, 12);
        v3 = v3 + m7 + v4; v14 = Integer.rotateRight(v14 ^ v3, 8);
        v9 += v14; v4 = Integer.rotateRight(v4 ^ v9, 7);
        // round 7
        v0 = v0 + m11 + v4; v12 = Integer.rotateRight(v12 ^ v0, 16);
        v8 += v12; v4 = Integer.rotateRight(v4 ^ v8, 12);
        v0 = v0 + m15 + v4; v12 = Integer.rotateRight(v12 ^ v0, 8);
        v8 += v12; v4 = Integer.rotateRight(v4 ^ v8, 7);
        v1 = v1 + m5 + v5; v13 = Integer.rotateRight(v13 ^ v1, 16);
        v9 += v13; v5 = Integer.rotateRight(v5 ^ v9, 12);
        v1 = v1 + m0 + v5; v13 = Integer.rotateRight(v13 ^ v1, 8);
        v9 += v13; v5 = Integer.rotateRight(v5 ^ v9, 7);
        v2 = v2 + m1 + v6; v14 = Integer.rotateRight(v14 ^ v2, 16);
        v10 += v14; v6 = Integer.rotateRight(v6 ^ v10, 12);
        v2 = v2 + m9 + v6; v14 = Integer.rotateRight(v14 ^ v2, 8);
        v10 += v14; v6 = Integer.rotateRight(v6 ^ v10, 7);
        v3 = v3 + m8 + v7; v15 = Integer.rotateRight(v15 ^ v3, 16);
        v11 += v15; v7 = Integer.rotateRight(v7 ^ v11, 12);
        v3 = v3 + m6 + v7; v15 = Integer.rotateRight(v15 ^ v3, 8);
        v11 += v15; v7 = Integer.rotateRight(v7 ^ v11, 7);
        v0 = v0 + m14 + v5; v15 = Integer.rotateRight(v15 ^ v0, 16);
        v10 += v15; v5 = Integer.rotateRight(v5 ^ v10, 12);
        v0 = v0 + m10 + v5; v15 = Integer.rotateRight(v15 ^ v0, 8);
        v10 += v15; v5 = Integer.rotateRight(v5 ^ v10, 7);
        v1 = v1 + m2 + v6; v12 = Integer.rotateRight(v12 ^ v1, 16);
        v11 += v12; v6 = Integer.rotateRight(v6 ^ v11, 12);
        v1 = v1 + m12 + v6; v12 = Integer.rotateRight(v12 ^ v1, 8);
        v11 += v12; v6 = Integer.rotateRight(v6 ^ v11, 7);
        v2 = v2 + m3 + v7; v13 = Integer.rotateRight(v13 ^ v2, 16);
        v8 += v13; v7 = Integer.rotateRight(v7 ^ v8, 12);
        v2 = v2 + m4 + v7; v13 = Integer.rotateRight(v13 ^ v2, 8);
        v8 += v13; v7 = Integer.rotateRight(v7 ^ v8, 7);
        v3 = v3 + m7 + v4; v14 = Integer.rotateRight(v14 ^ v3, 16);
        v9 += v14; v4 = Integer.rotateRight(v4 ^ v9, 12);
        v3 = v3 + m13 + v4; v14 = Integer.rotateRight(v14 ^ v3, 8);
        v9 += v14; v4 = Integer.rotateRight(v4 ^ v9, 7);
        out[outOff] = v0 ^ v8;
        out[outOff + 1] = v1 ^ v9;
        out[outOff + 2] = v2 ^ v10;
        out[outOff + 3] = v3 ^ v11;
        out[outOff + 4] = v4 ^ v12;
        out[outOff + 5] = v5 ^ v13;
        out[outOff + 6] = v6 ^ v14;
        out[outOff + 7] = v7 ^ v15;
    }

    /**
     * Replaces the two chaining values at {@code stack[off..off+16)} (left child, then right child) by
     * their parent's chaining value at {@code stack[off..off+8)}; with {@code ROOT} in {@code flags}, by the
     * first 32 bytes of the root output instead.
     */
    static void parent(int[] stack, int off, int flags) {
        compress(IV, 0, stack, off, 0, BLOCK_LEN, PARENT | flags, stack, off);
    }

    /**
     * The chaining value of the complete subtree of {@code chunks} (a power of two, at most
     * {@link #UNIT_CHUNKS}) whole chunks at {@code in[off..)}, the first one numbered {@code counter} (a
     * multiple of {@code chunks}), not the root: 8 words into {@code out[outOff..]}.
     */
    static void subtreeCv(byte[] in, int off, long counter, int chunks, int[] out, int outOff, Workspace work) {
        if (chunks >= Blake3Lanes.MIN_LANES && useLanes) {
            work.lanes().subtreeCv(in, off, counter, chunks, out, outOff);
        } else {
            scalarSubtreeCv(in, off, counter, chunks, out, outOff, work);
        }
    }

    /** {@link #subtreeCv} by the scalar code: chunk by chunk, merging parents as subtrees complete. */
    private static void scalarSubtreeCv(byte[] in, int off, long counter, int chunks, int[] out, int outOff,
                                        Workspace work) {
        if (chunks == 1) {
            chunkCv(in, off, counter, out, outOff);
            return;
        }
        int[] stack = work.stack();
        int top = 0; // words in use in stack
        for (int i = 0; i < chunks; i++) {
            chunkCv(in, off + i * CHUNK_LEN, counter + i, stack, top);
            top += 8;
            // A subtree is complete, and merged, when as many chunks as its size are done.
            for (int done = i + 1; (done & 1) == 0; done >>>= 1) {
                top -= 8;
                parent(stack, top - 8, 0);
            }
        }
        System.arraycopy(stack, 0, out, outOff, 8);
    }

    /** The working memory of one thread's hashing, allocated as first needed. */
    static final class Workspace {
        private int[] stack;
        private Blake3Lanes lanes;

        int[] stack() {
            if (stack == null) {
                stack = new int[STACK_WORDS];
            }
            return stack;
        }

        Blake3Lanes lanes() {
            if (lanes == null) {
                lanes = new Blake3Lanes();
            }
            return lanes;
        }
    }

    /**
     * The output of the last chunk of an input, {@code len} (0 to 1024) bytes at {@code in[off..)} numbered
     * {@code counter}: its chaining value, or with {@code root} (the chunk is the whole input) the first 32
     * bytes of the hash, as 8 words into {@code out[0..8)}. Runs once per hash: plain code, no tricks.
     */
    static void lastChunk(byte[] in, int off, int len, long counter, boolean root, int[] out) {
        int[] cv = new int[8];
        System.arraycopy(IV, 0, cv, 0, 8);
        int[] m = new int[16];
        int done = 0;
        int flags = CHUNK_START;
        while (len - done > BLOCK_LEN) {
            words(in, off + done, BLOCK_LEN, m);
            compress(cv, 0, m, 0, counter, BLOCK_LEN, flags, cv, 0);
            flags = 0;
            done += BLOCK_LEN;
        }
        words(in, off + done, len - done, m);
        compress(cv, 0, m, 0, counter, len - done, flags | CHUNK_END | (root ? ROOT : 0), out, 0);
    }

    /** The 16 little-endian words of the {@code length} (0 to 64) bytes at {@code in[off..)}, zero-padded. */
    private static void words(byte[] in, int off, int length, int[] m) {
        Arrays.fill(m, 0);
        for (int i = 0; i < length; i++) {
            m[i >>> 2] |= (in[off + i] & 0xff) << ((i & 3) << 3);
        }
    }

    /** Whether {@link #hashUnits} has pool threads to share work with. */
    static boolean parallel() {
        return HELPERS != null;
    }

    /**
     * Hashes {@code count} independent complete subtrees, unit {@code i} being {@code chunks[i]} chunks at
     * {@code in[offsets[i]..)} numbered from {@code counters[i]}, their chaining values into
     * {@code cvs[8i..8i+8)}. The calling thread works too, so nothing waits on a busy pool: units no pool
     * thread has taken yet are hashed by the caller.
     */
    static void hashUnits(byte[] in, int[] offsets, long[] counters, int[] chunks, int count, int[] cvs,
                          Workspace callerWork) {
        Units job = new Units(in, offsets, counters, chunks, count, cvs, callerWork);
        submit(job, Math.min(THREADS - 1, count - 1));
        job.join();
    }

    /**
     * Starts hashing units as {@link #hashUnits} does, on pool threads only, and returns at once: the caller
     * goes on (reads more input) meanwhile, then calls {@link Units#join}, which hashes whatever units no
     * pool thread has taken and waits for the rest. {@code in} must stay unchanged until then.
     */
    static Units startUnits(byte[] in, int[] offsets, long[] counters, int[] chunks, int count, int[] cvs,
                            Workspace callerWork) {
        Units job = new Units(in, offsets, counters, chunks, count, cvs, callerWork);
        submit(job, Math.min(THREADS - 1, count));
        return job;
    }

    private static void submit(Units job, int runners) {
        if (HELPERS != null) {
            for (int i = 0; i < runners; i++) {
                HELPERS.execute(job);
            }
        }
    }

    /** One batch of subtrees, hashed by whichever threads claim its units. */
    static final class Units implements Runnable {
        private final byte[] in;
        private final int[] offsets;
        private final long[] counters;
        private final int[] chunks;
        private final int count;
        private final int[] cvs;
        private final Workspace callerWork;
        /** The thread in {@link #join}, to wake when the last unit is done. */
        private volatile Thread waiter;
        private final AtomicInteger next = new AtomicInteger();
        private final AtomicInteger done = new AtomicInteger();
        /** The first thing thrown by a unit, thrown by {@link #join}. */
        private volatile Throwable failure;

        Units(byte[] in, int[] offsets, long[] counters, int[] chunks, int count, int[] cvs, Workspace callerWork) {
            this.in = in;
            this.offsets = offsets;
            this.counters = counters;
            this.chunks = chunks;
            this.count = count;
            this.cvs = cvs;
            this.callerWork = callerWork;
        }

        /** Hashes the units no other thread has taken, waits for the others, and throws what any threw. */
        void join() {
            waiter = Thread.currentThread();
            work(callerWork);
            for (int spins = 0; done.get() < count; spins++) {
                if (spins < 1 << 10) {
                    Thread.onSpinWait();
                } else {
                    // Timed: a hasher handed from one thread to another must not miss its wake-up for good.
                    LockSupport.parkNanos(this, 1_000_000);
                }
            }
            if (failure != null) {
                // Only a bug or a lack of memory gets here; the hash cannot be finished either way.
                if (failure instanceof Error) {
                    throw (Error) failure;
                }
                throw new IllegalStateException("BLAKE3 hashing failed", failure);
            }
        }

        /** On a pool thread. */
        @Override
        public void run() {
            work(null);
        }

        /** Hashes units until none is left to take, with {@code work}, or a pool thread's own if null. */
        private void work(Workspace work) {
            for (int i = next.getAndIncrement(); i < count; i = next.getAndIncrement()) {
                try {
                    if (work == null) {
                        work = HELPER_WORK.get();
                    }
                    subtreeCv(in, offsets[i], counters[i], chunks[i], cvs, 8 * i, work);
                } catch (Throwable e) {
                    if (failure == null) {
                        failure = e;
                    }
                } finally {
                    // Counted even when it failed: the caller must not wait forever.
                    if (done.incrementAndGet() == count) {
                        Thread joining = waiter;
                        if (joining != null) {
                            LockSupport.unpark(joining);
                        }
                    }
                }
            }
        }
    }

    private static int threads() {
        int processors = Runtime.getRuntime().availableProcessors();
        String configured = System.getProperty("powdb.hash.threads");
        if (configured == null || configured.isBlank()) {
            return processors;
        }
        try {
            return Math.max(1, Integer.parseInt(configured.trim()));
        } catch (NumberFormatException e) {
            return processors;
        }
    }

    private static ThreadPoolExecutor helpers(int count) {
        AtomicInteger number = new AtomicInteger();
        ThreadPoolExecutor pool = new ThreadPoolExecutor(count, count, 30, TimeUnit.SECONDS,
                new LinkedBlockingQueue<>(), task -> {
                    Thread thread = new Thread(task, "powdb-blake3-" + number.incrementAndGet());
                    thread.setDaemon(true);
                    return thread;
                });
        pool.allowCoreThreadTimeOut(true);
        return pool;
    }
}
