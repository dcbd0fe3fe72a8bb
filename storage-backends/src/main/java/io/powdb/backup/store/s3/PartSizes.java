package io.powdb.backup.store.s3;

/**
 * The size of each multipart part. A streamed object's length is unknown up front, yet S3 allows at
 * most 10,000 parts, so the part size grows with the part number: it doubles every 1,000 parts, up to
 * the largest array Java can buffer. From the default 16 MiB this reaches 5 TiB (S3's object limit)
 * within the 10,000 parts, while objects below ~15 GiB never use parts larger than 16 MiB.
 */
public final class PartSizes {
    public static final int MAX_PARTS = 10_000;
    static final int PARTS_PER_DOUBLING = 1_000;
    /** 2 GiB less 1 MiB: the largest whole-MiB size a byte[] can hold (S3 itself allows 5 GiB). */
    public static final long MAX_PART_SIZE = Integer.MAX_VALUE - (Integer.MAX_VALUE % (1 << 20));

    private PartSizes() {
    }

    /** The size of part {@code partNumber} (1-based) when the first parts are {@code initial} bytes. */
    public static long sizeOf(int partNumber, long initial) {
        if (partNumber < 1 || partNumber > MAX_PARTS) {
            throw new IllegalArgumentException("part number " + partNumber + " is outside 1.." + MAX_PARTS);
        }
        int doublings = (partNumber - 1) / PARTS_PER_DOUBLING;
        long size = initial;
        for (int i = 0; i < doublings && size < MAX_PART_SIZE; i++) {
            size *= 2;
        }
        return Math.min(size, MAX_PART_SIZE);
    }

    /** The largest object that fits in {@link #MAX_PARTS} parts starting at {@code initial} bytes. */
    public static long maxObjectSize(long initial) {
        long total = 0;
        for (int part = 1; part <= MAX_PARTS; part++) {
            total += sizeOf(part, initial);
        }
        return total;
    }
}
