package io.powdb.backup.repo;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import io.powdb.backup.integrity.Blake3;

/**
 * A stored object a manifest depends on: its key (relative to the repository), size and BLAKE3, and the
 * format of its bytes. A manifest may name objects of earlier backups of its chain (an unchanged file is
 * not uploaded again), so every manifest alone names everything its restore needs.
 *
 * <p>{@code size} and {@code blake3} are always those of the bytes as stored, so an object is checked (and
 * {@code b3sum} of a downloaded copy matches) before anything is decompressed. With {@code compression}
 * {@value #ZSTD} the stored bytes are a zstd frame holding {@code content_size} bytes of {@code format};
 * without it (null: omitted from the JSON, as in manifests written before compression) they are the
 * content itself and {@code content_size} is absent.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ObjectRef(String key, long size, String blake3, String format, String compression, Long contentSize,
        String encryption) {
    /** A whole file's bytes, or a heap's pages back to back. */
    public static final String RAW = "raw";
    /** Changed heap pages: see {@link PagePack}. */
    public static final String PAGES = "pages";
    /** LSN and fingerprint of every page of a heap: see {@link PageMap}. */
    public static final String PAGE_MAP = "page-map";
    /** The page map entries an incremental changed: see {@link PageMapDelta}. */
    public static final String PAGE_MAP_DELTA = "page-map-delta";
    /** Compression: the stored bytes are one zstd frame (RFC 8878). */
    public static final String ZSTD = "zstd";

    /** Encryption: the stored bytes are powdb-backup's chunked AES-256-GCM format (docs/REPOSITORY-FORMAT.md). */
    public static final String AES_256_GCM = "aes-256-gcm";

    /** An object stored as is. */
    public ObjectRef(String key, long size, String blake3, String format) {
        this(key, size, blake3, format, null, null, null);
    }

    /** An object stored compressed (or as is, when {@code compression} is null), not encrypted. */
    public ObjectRef(String key, long size, String blake3, String format, String compression, Long contentSize) {
        this(key, size, blake3, format, compression, contentSize, null);
    }

    /** Whether the stored bytes must be decrypted (before any decompression). */
    @JsonIgnore
    public boolean encrypted() {
        return encryption != null;
    }

    /** Whether the stored bytes differ from the content (compressed, encrypted or both). */
    @JsonIgnore
    public boolean transformed() {
        return compressed() || encrypted();
    }

    /** Whether the stored bytes must be decompressed to give the content. */
    @JsonIgnore
    public boolean compressed() {
        return compression != null;
    }

    /** The length of the content: {@code content_size} when compressed, else the stored size. */
    @JsonIgnore
    public long contentLength() {
        return contentSize != null ? contentSize : size;
    }

    public void validate(String context) throws IntegrityException {
        if (key == null || key.isEmpty() || size < 0 || !Blake3.isHex(blake3)
                || !(RAW.equals(format) || PAGES.equals(format) || PAGE_MAP.equals(format)
                || PAGE_MAP_DELTA.equals(format))) {
            throw new IntegrityException("malformed object reference in " + context + ": " + FileEntry.printable(toString()));
        }
        if (compression != null && !ZSTD.equals(compression)) {
            throw new IntegrityException("object " + FileEntry.printable(key) + " in " + context + " has compression '"
                    + FileEntry.printable(compression)
                    + "', which this version does not know (only " + ZSTD + ")");
        }
        if (encryption != null && !AES_256_GCM.equals(encryption)) {
            throw new IntegrityException("object " + key + " in " + context + " has encryption '" + encryption
                    + "', which this version does not know (only " + AES_256_GCM + ")");
        }
        if (transformed() != (contentSize != null) || (contentSize != null && contentSize < 0)) {
            throw new IntegrityException("malformed object reference in " + context + ": content_size must be given "
                    + "exactly for a compressed or encrypted object, and not negative: " + FileEntry.printable(toString()));
        }
        try {
            io.powdb.backup.store.BlobKeys.validate(key);
        } catch (IllegalArgumentException e) {
            throw new IntegrityException("unsafe object key in " + context + ": " + FileEntry.printable(e.getMessage()));
        }
    }
}
