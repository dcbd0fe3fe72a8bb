package io.powdb.backup.integrity;

import java.util.Arrays;
import java.util.HexFormat;
import java.util.Objects;

/**
 * BLAKE3, the integrity check of every stored object: a streaming hasher of 32-byte BLAKE3 hashes (hash
 * mode). Not thread-safe (one thread at a time); any number of hashers may be used at once.
 *
 * <p>BLAKE3 is a binary tree over 1 KiB chunks. Bytes given to {@link #update} are gathered in a buffer of
 * up to {@value #BUFFER_BYTES} bytes (larger updates are hashed in place instead); a chunk is hashed only
 * once more input is known to follow it, because the last chunk of the input, or the last parent, is
 * compressed differently (as the root). When the buffer is full and more input comes, every chunk in it is
 * hashed, split into complete subtrees of a power of two chunks (up to 128), each starting at a multiple of
 * its size. Their chaining values are pushed, in order, on the stack of chaining values, which merges two
 * siblings into their parent whenever the number of chunks before a push shows a subtree complete: the
 * same tree as hashing chunk by chunk, which is the specification's.
 *
 * <p>The subtrees are independent, so a small shared pool hashes them ({@code powdb.hash.threads} threads
 * in all, the number of processors by default; 1 hashes on the calling thread only). A full buffer is
 * handed to the pool and the caller goes on with a second buffer; the next full buffer, or the digest,
 * first helps with and waits for what is left of the previous one. Large updates hashed in place, and
 * what is left at the digest, are shared by the caller and the pool the same way, except that less than
 * {@value #PARALLEL_MIN_BYTES} bytes the caller hashes alone.
 *
 * <p>Memory: the buffer grows with the input up to {@value #BUFFER_BYTES} bytes, a second one of that size
 * comes with the first full buffer, and each thread hashing needs about 20 KiB of working memory.
 */
public final class Blake3 {
    public static final int HASH_BYTES = 32;

    /** The most input held back before it is hashed: the batch hashed in parallel. */
    static final int BUFFER_BYTES = 1 << 20;
    /** Fewer bytes than this are not worth handing to other threads. */
    static final int PARALLEL_MIN_BYTES = 128 << 10;
    /** Work units in one parallel batch at most (bounds the batch's bookkeeping for huge updates). */
    private static final int MAX_UNITS = 512;
    /** Chaining values on the stack at most: one per bit of the chunk count, plus the one being pushed. */
    private static final int MAX_DEPTH = 64;
    private static final byte[] NO_BYTES = new byte[0];

    private final boolean parallel;
    private final int[] stack = new int[8 * MAX_DEPTH];
    private int depth;
    /**
     * Chunks hashed so far, or being hashed ({@link #pending}): the number of the first chunk in
     * {@link #buffer}. Those of them not in {@link #pending} are merged into {@link #stack}.
     */
    private long chunks;
    /** Input not hashed yet; holds at least one byte once anything was given, the input's last chunk. */
    private byte[] buffer = NO_BYTES;
    private int buffered;
    /** A full buffer being hashed by pool threads while the caller goes on, or null. */
    private Batch pending;
    /** The buffer to fill next while {@link #pending}'s is hashed (once the first has been). */
    private byte[] spare;
    private final Blake3Engine.Workspace work = new Blake3Engine.Workspace();
    private int[] cv;

    public Blake3() {
        this(Blake3Engine.parallel());
    }

    private Blake3(boolean parallel) {
        this.parallel = parallel;
    }

    /** A hasher that never uses other threads, whatever {@code powdb.hash.threads} says. */
    public static Blake3 sequential() {
        return new Blake3(false);
    }

    public Blake3 update(byte[] data, int offset, int length) {
        Objects.checkFromIndexSize(offset, length, data.length);
        while (length > 0) {
            if (buffered == BUFFER_BYTES) {
                // More input follows, so none of the buffered chunks is the last one.
                hashBuffer();
            }
            if (buffered == 0 && length > BUFFER_BYTES) {
                // Hash whole chunks in place, holding back the last (possibly full) chunk.
                int whole = (length - 1) / Blake3Engine.CHUNK_LEN * Blake3Engine.CHUNK_LEN;
                hashChunks(data, offset, whole);
                offset += whole;
                length -= whole;
            }
            int take = Math.min(length, BUFFER_BYTES - buffered);
            if (buffered + take > buffer.length) {
                grow(buffered + take);
            }
            System.arraycopy(data, offset, buffer, buffered, take);
            buffered += take;
            offset += take;
            length -= take;
        }
        return this;
    }

    public Blake3 update(byte[] data) {
        return update(data, 0, data.length);
    }

    /**
     * The 32-byte hash of everything given so far. More input may be given afterwards: the hash then covers
     * that too.
     */
    public byte[] digest() {
        finishPending();
        if (buffered > Blake3Engine.CHUNK_LEN) {
            // All but the last chunk can be hashed now; keep the last one at the start of the buffer.
            int whole = (buffered - 1) / Blake3Engine.CHUNK_LEN * Blake3Engine.CHUNK_LEN;
            hashChunks(buffer, 0, whole);
            System.arraycopy(buffer, whole, buffer, 0, buffered - whole);
            buffered -= whole;
        }
        // The last chunk follows every entry on the stack: complete subtrees merge now (pushes merge lazily).
        merge(chunks);
        int[] node = new int[16];
        Blake3Engine.lastChunk(buffer, 0, buffered, chunks, depth == 0, node);
        // Fold the stack from the top: each entry is the left sibling of everything to its right.
        for (int level = depth - 1; level >= 0; level--) {
            System.arraycopy(node, 0, node, 8, 8);
            System.arraycopy(stack, 8 * level, node, 0, 8);
            Blake3Engine.parent(node, 0, level == 0 ? Blake3Engine.ROOT : 0);
        }
        byte[] out = new byte[HASH_BYTES];
        for (int i = 0; i < 8; i++) {
            int word = node[i];
            out[4 * i] = (byte) word;
            out[4 * i + 1] = (byte) (word >>> 8);
            out[4 * i + 2] = (byte) (word >>> 16);
            out[4 * i + 3] = (byte) (word >>> 24);
        }
        return out;
    }

    /** The 32-byte hash as 64 lowercase hex digits. */
    public String hex() {
        return HexFormat.of().formatHex(digest());
    }

    public static String hex(byte[] data) {
        return new Blake3().update(data).hex();
    }

    /** True for 64 lowercase hex digits, the only form hashes take in manifests. */
    public static boolean isHex(String value) {
        if (value == null || value.length() != 2 * HASH_BYTES) {
            return false;
        }
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (!(c >= '0' && c <= '9' || c >= 'a' && c <= 'f')) {
                return false;
            }
        }
        return true;
    }

    private void grow(int needed) {
        int capacity = Math.max(Blake3Engine.CHUNK_LEN, buffer.length);
        while (capacity < needed) {
            capacity <<= 1;
        }
        byte[] bigger = new byte[Math.min(capacity, BUFFER_BYTES)];
        // A loop, not System.arraycopy, as a precaution: C2 on JDK 17 (seen on 17.0.15) miscompiled
        // little-endian VarHandle reads of an array that a System.arraycopy filled right after allocating
        // it, when both were in one compiled method (an early Blake3Engine.lastChunk did that; the reads
        // returned the bytes of the block before). With the loop the buffer is never such an array, should
        // inlining ever bring this allocation and the hashing together. It runs a few times per hasher.
        for (int i = 0; i < buffered; i++) {
            bigger[i] = buffer[i];
        }
        buffer = bigger;
    }

    /**
     * Hashes {@code length} bytes of whole chunks at {@code data[offset..)}, the chunks numbered from
     * {@link #chunks}. More input must follow them.
     */
    private void hashChunks(byte[] data, int offset, int length) {
        finishPending(); // its chaining values go on the stack first
        long counter = chunks;
        int remaining = length / Blake3Engine.CHUNK_LEN;
        if (!parallel || length < PARALLEL_MIN_BYTES) {
            if (cv == null) {
                cv = new int[8];
            }
            while (remaining > 0) {
                int size = unitChunks(counter, remaining);
                Blake3Engine.subtreeCv(data, offset, counter, size, cv, 0, work);
                push(cv, 0, counter);
                counter += size;
                offset += size * Blake3Engine.CHUNK_LEN;
                remaining -= size;
            }
        } else {
            UnitPlan plan = new UnitPlan(Math.min(MAX_UNITS, remaining));
            int[] cvs = new int[8 * plan.offsets.length];
            while (remaining > 0) {
                int planned = plan.plan(offset, counter, remaining);
                Blake3Engine.hashUnits(data, plan.offsets, plan.counters, plan.sizes, plan.count, cvs, work);
                for (int i = 0; i < plan.count; i++) {
                    push(cvs, 8 * i, plan.counters[i]);
                }
                counter += planned;
                offset += planned * Blake3Engine.CHUNK_LEN;
                remaining -= planned;
            }
        }
        chunks = counter;
    }

    /**
     * Hashes the full buffer. With the pool, pool threads hash it while the caller fills the other buffer
     * (reads more input, say); the next full buffer or the digest first joins in and waits for the rest.
     * Hashing and whatever the caller does between updates then overlap.
     */
    private void hashBuffer() {
        if (!parallel) {
            hashChunks(buffer, 0, BUFFER_BYTES);
            buffered = 0;
            return;
        }
        finishPending();
        int bufferChunks = BUFFER_BYTES / Blake3Engine.CHUNK_LEN;
        UnitPlan plan = new UnitPlan(bufferChunks);
        plan.plan(0, chunks, bufferChunks); // plans them all: no more units than chunks
        int[] cvs = new int[8 * plan.count];
        pending = new Batch(Blake3Engine.startUnits(buffer, plan.offsets, plan.counters, plan.sizes, plan.count, cvs,
                work), buffer, plan.counters, plan.count, cvs);
        chunks += bufferChunks;
        if (spare == null) {
            spare = new byte[BUFFER_BYTES];
            // Written before anything is copied in: see grow().
            Arrays.fill(spare, (byte) 0);
        }
        buffer = spare;
        spare = null;
        buffered = 0;
    }

    /** Waits for {@link #pending} (hashing what the pool has not started) and pushes its chaining values. */
    private void finishPending() {
        Batch batch = pending;
        if (batch == null) {
            return;
        }
        pending = null;
        batch.units.join();
        for (int i = 0; i < batch.count; i++) {
            push(batch.cvs, 8 * i, batch.counters[i]);
        }
        spare = batch.buffer;
    }

    /** A buffer being hashed in the background. */
    private static final class Batch {
        final Blake3Engine.Units units;
        final byte[] buffer;
        final long[] counters;
        final int count;
        final int[] cvs;

        Batch(Blake3Engine.Units units, byte[] buffer, long[] counters, int count, int[] cvs) {
            this.units = units;
            this.buffer = buffer;
            this.counters = counters;
            this.count = count;
            this.cvs = cvs;
        }
    }

    /**
     * Whole chunks split into work units, complete subtrees of {@link #unitChunks} chunks each: where each
     * starts in the input, the number of its first chunk and its size in chunks, as {@link Blake3Engine}'s
     * batch methods take them.
     */
    private static final class UnitPlan {
        final int[] offsets;
        final long[] counters;
        final int[] sizes;
        /** Units planned by the last {@link #plan}. */
        int count;

        UnitPlan(int capacity) {
            offsets = new int[capacity];
            counters = new long[capacity];
            sizes = new int[capacity];
        }

        /**
         * Plans as many units as fit of the {@code remaining} chunks at input offset {@code offset}, the first
         * numbered {@code counter}; returns the chunks planned.
         */
        int plan(int offset, long counter, int remaining) {
            int planned = 0;
            count = 0;
            while (count < offsets.length && planned < remaining) {
                int size = unitChunks(counter + planned, remaining - planned);
                offsets[count] = offset + planned * Blake3Engine.CHUNK_LEN;
                counters[count] = counter + planned;
                sizes[count] = size;
                planned += size;
                count++;
            }
            return planned;
        }
    }

    /**
     * The size of the next complete subtree to hash from chunk {@code counter} on with {@code remaining}
     * chunks to go: a power of two that divides {@code counter}, at most {@link Blake3Engine#UNIT_CHUNKS}.
     */
    private static int unitChunks(long counter, int remaining) {
        int size = Integer.highestOneBit(Math.min(remaining, Blake3Engine.UNIT_CHUNKS));
        while ((counter & (size - 1)) != 0) {
            size >>>= 1;
        }
        return size;
    }

    /**
     * Pushes the chaining value of a complete subtree that starts after {@code chunksBefore} chunks. First
     * merges what the stack holds into one entry per bit of {@code chunksBefore}: those subtrees are
     * complete and, with more input following, not the root. The new entry itself is merged only on a later
     * push, or by {@link #digest}.
     */
    private void push(int[] value, int valueOffset, long chunksBefore) {
        merge(chunksBefore);
        System.arraycopy(value, valueOffset, stack, 8 * depth, 8);
        depth++;
    }

    /**
     * Merges the top of the stack until it holds one entry per bit of {@code chunksBefore}, the chunks it
     * covers: sibling subtrees merge into their parent once more input is known to follow them.
     */
    private void merge(long chunksBefore) {
        int keep = Long.bitCount(chunksBefore);
        while (depth > keep) {
            Blake3Engine.parent(stack, 8 * (depth - 2), 0);
            depth--;
        }
    }
}
