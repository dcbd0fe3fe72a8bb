package io.powdb.backup.integrity;

import java.util.HexFormat;
import java.util.Objects;

/**
 * BLAKE3, the integrity check of every stored object: a streaming hasher of 32-byte BLAKE3 hashes (hash
 * mode). Not thread-safe; any number of hashers may be used at once from different threads.
 *
 * <p>BLAKE3 is a binary tree over 1 KiB chunks. Bytes given to {@link #update} are gathered in a buffer of
 * up to {@value #BUFFER_BYTES} bytes (larger updates are hashed in place instead); a chunk is hashed only
 * once more input is known to follow it, because the last chunk of the input, or the last parent, is
 * compressed differently (as the root). When the buffer is full and more input comes, every chunk in it is
 * hashed: split into complete subtrees of a power of two chunks, each starting at a multiple of its size,
 * hashed on the calling thread and the threads of a small shared pool ({@code powdb.hash.threads}, the
 * number of processors by default; 1 hashes on the calling thread only). Their chaining values are pushed,
 * in order, on the stack of chaining values, merging two siblings into their parent whenever the number of
 * chunks hashed shows a subtree complete: the same tree as hashing chunk by chunk, as the specification's.
 * Small inputs are hashed on the calling thread.
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
    /** Chunks hashed so far, all merged into {@link #stack}: the number of the first chunk in {@link #buffer}. */
    private long chunks;
    /** Input not hashed yet; holds at least one byte once anything was given, the input's last chunk. */
    private byte[] buffer = NO_BYTES;
    private int buffered;
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
                hashChunks(buffer, 0, BUFFER_BYTES);
                buffered = 0;
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
            int batch = Math.min(MAX_UNITS, remaining);
            int[] offsets = new int[batch];
            long[] counters = new long[batch];
            int[] sizes = new int[batch];
            int[] cvs = new int[8 * batch];
            while (remaining > 0) {
                int units = 0;
                for (; units < batch && remaining > 0; units++) {
                    int size = unitChunks(counter, remaining);
                    offsets[units] = offset;
                    counters[units] = counter;
                    sizes[units] = size;
                    counter += size;
                    offset += size * Blake3Engine.CHUNK_LEN;
                    remaining -= size;
                }
                Blake3Engine.hashUnits(data, offsets, counters, sizes, units, cvs, work);
                for (int i = 0; i < units; i++) {
                    push(cvs, 8 * i, counters[i]);
                }
            }
        }
        chunks = counter;
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
