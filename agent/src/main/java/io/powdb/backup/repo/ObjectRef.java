package io.powdb.backup.repo;

import io.powdb.backup.integrity.Blake3;

/**
 * A stored object a manifest depends on: its key (relative to the repository), size and BLAKE3, and the
 * format of its bytes. A manifest may name objects of earlier backups of its chain (an unchanged file is
 * not uploaded again), so every manifest alone names everything its restore needs.
 */
public record ObjectRef(String key, long size, String blake3, String format) {
    /** A whole file's bytes, or a heap's pages back to back. */
    public static final String RAW = "raw";
    /** Changed heap pages: see {@link PagePack}. */
    public static final String PAGES = "pages";
    /** LSN and fingerprint of every page of a heap: see {@link PageMap}. */
    public static final String PAGE_MAP = "page-map";
    /** The page map entries an incremental changed: see {@link PageMapDelta}. */
    public static final String PAGE_MAP_DELTA = "page-map-delta";

    public void validate(String context) throws IntegrityException {
        if (key == null || key.isEmpty() || size < 0 || !Blake3.isHex(blake3)
                || !(RAW.equals(format) || PAGES.equals(format) || PAGE_MAP.equals(format)
                || PAGE_MAP_DELTA.equals(format))) {
            throw new IntegrityException("malformed object reference in " + context + ": " + this);
        }
        try {
            io.powdb.backup.store.BlobKeys.validate(key);
        } catch (IllegalArgumentException e) {
            throw new IntegrityException("unsafe object key in " + context + ": " + e.getMessage());
        }
    }
}
