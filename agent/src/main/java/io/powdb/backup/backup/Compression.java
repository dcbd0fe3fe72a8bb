package io.powdb.backup.backup;

import io.powdb.backup.repo.ObjectRef;

import java.util.Locale;

/**
 * How a backup compresses the objects it stores: heap images, page packs and whole files (page maps and their
 * deltas are LSNs and CRCs, which do not compress, and are always stored as they are). {@link #NONE} stores
 * every object as is; {@link #zstd(int)} as a zstd frame, which {@code zstd -d} decompresses.
 *
 * <p>Written as {@code none}, {@code zstd} (level {@value #DEFAULT_LEVEL}) or {@code zstd:LEVEL}: the form of
 * {@code $POWDB_BACKUP_COMPRESSION}.
 *
 * @param algorithm {@link ObjectRef#ZSTD}, or null for none
 * @param level the zstd level, {@value #MIN_LEVEL} (fastest) to {@value #MAX_LEVEL}; 0 for none
 */
public record Compression(String algorithm, int level) {
    public static final Compression NONE = new Compression(null, 0);
    /** Fast: heaps compress about as well at 1 as at 3, at a fraction of the CPU. */
    public static final int DEFAULT_LEVEL = 1;
    public static final int MIN_LEVEL = 1;
    /**
     * The highest level that needs neither zstd's {@code --ultra} nor more than its default memory to
     * decompress, so that {@code zstd -d} reads every object without options.
     */
    public static final int MAX_LEVEL = 19;
    /** The default of the agent setting and of {@code backup --compression}. */
    public static final String DEFAULT = "zstd:" + DEFAULT_LEVEL;

    public Compression {
        if (algorithm == null ? level != 0 : !ObjectRef.ZSTD.equals(algorithm) || level < MIN_LEVEL || level > MAX_LEVEL) {
            throw new IllegalArgumentException("compression " + algorithm + " level " + level + ": expected none, or "
                    + "zstd with a level from " + MIN_LEVEL + " to " + MAX_LEVEL);
        }
    }

    public static Compression zstd(int level) {
        if (level < MIN_LEVEL || level > MAX_LEVEL) {
            throw new IllegalArgumentException("zstd compression level " + level + " is out of range: use "
                    + MIN_LEVEL + " (fastest) to " + MAX_LEVEL);
        }
        return new Compression(ObjectRef.ZSTD, level);
    }

    /** The default: zstd at level {@value #DEFAULT_LEVEL}. */
    public static Compression defaults() {
        return zstd(DEFAULT_LEVEL);
    }

    /**
     * Parses {@code none}, {@code zstd} or {@code zstd:LEVEL} (case does not matter).
     *
     * @throws IllegalArgumentException naming what was given and what is accepted
     */
    public static Compression parse(String spec) {
        String s = spec == null ? "" : spec.trim().toLowerCase(Locale.ROOT);
        if (s.equals("none") || s.equals("off")) {
            return NONE;
        }
        if (s.equals(ObjectRef.ZSTD)) {
            return defaults();
        }
        if (s.startsWith(ObjectRef.ZSTD + ":")) {
            try {
                return zstd(Integer.parseInt(s.substring(ObjectRef.ZSTD.length() + 1)));
            } catch (NumberFormatException e) {
                // falls through to the message below
            }
        }
        throw new IllegalArgumentException("compression '" + spec + "': use none, zstd or zstd:LEVEL (LEVEL "
                + MIN_LEVEL + " to " + MAX_LEVEL + ", default " + DEFAULT_LEVEL + ")");
    }

    public boolean enabled() {
        return algorithm != null;
    }

    /** The same compression at another level (zstd only). */
    public Compression withLevel(int newLevel) {
        if (!enabled()) {
            throw new IllegalArgumentException("a compression level needs zstd compression, not none");
        }
        return zstd(newLevel);
    }

    /** The form {@link #parse} reads: {@code none} or {@code zstd:LEVEL}. */
    @Override
    public String toString() {
        return enabled() ? algorithm + ":" + level : "none";
    }
}
