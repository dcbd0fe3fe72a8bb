package io.powdb.backup.store;

import java.io.ByteArrayInputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A flat namespace of immutable objects ("blobs") addressed by '/'-separated keys: the only thing the
 * backup agent needs from a storage system. One implementation per store (local filesystem, S3, GCS);
 * every implementation must pass {@code BlobStoreContractTest}.
 *
 * <p>Rules every implementation keeps:
 * <ul>
 *   <li>An object appears whole or not at all: bytes written through a {@link BlobWriter} become visible
 *       only when {@link BlobWriter#commit()} returns; a writer closed without commit leaves nothing.</li>
 *   <li>{@link WriteMode#CREATE_NEW} never replaces an existing object. Where the store can do that
 *       atomically, {@link #supportsConditionalCreate()} is true.</li>
 *   <li>Listings are in ascending lexicographic key order and are paged, so no caller ever needs to hold a
 *       whole bucket's listing.</li>
 *   <li>Error messages name the key and the store but never a credential.</li>
 * </ul>
 */
public interface BlobStore extends Closeable {

    /** Where this store points, for messages: {@code file:/backups}, {@code s3://bucket}. Holds no secret. */
    String location();

    /**
     * Starts writing an object. Nothing is visible under {@code key} until {@link BlobWriter#commit()}.
     *
     * @throws IllegalArgumentException if the key is not a valid key (see {@link BlobKeys#validate})
     */
    BlobWriter newWriter(String key, WriteMode mode) throws IOException;

    /**
     * Opens an object for reading from its first byte.
     *
     * @throws BlobNotFoundException if there is no such object
     */
    default InputStream open(String key) throws IOException {
        return openRange(key, 0, Long.MAX_VALUE);
    }

    /**
     * Opens bytes {@code [offset, offset + length)} of an object; fewer when the object ends earlier.
     * {@code offset == size} gives an empty stream.
     *
     * @throws BlobNotFoundException if there is no such object
     * @throws IOException if {@code offset} is past the end of the object
     */
    InputStream openRange(String key, long offset, long length) throws IOException;

    /** Size and time of an object, or empty when it does not exist. */
    Optional<BlobInfo> stat(String key) throws IOException;

    /**
     * One page of the objects whose keys start with {@code prefix}, in ascending key order, starting
     * after {@code startAfter} (exclusive; null for the beginning), at most {@code limit} entries.
     * A page shorter than {@code limit} is the last one.
     */
    List<BlobInfo> list(String prefix, String startAfter, int limit) throws IOException;

    /** Deletes an object. Deleting a missing object is not an error (deletes are retried). */
    void delete(String key) throws IOException;

    /** True when {@link WriteMode#CREATE_NEW} is enforced atomically by the store itself. */
    boolean supportsConditionalCreate();

    /** Writes a whole object from a stream. */
    default BlobInfo put(String key, InputStream data, WriteMode mode) throws IOException {
        try (BlobWriter writer = newWriter(key, mode)) {
            data.transferTo(writer.stream());
            return writer.commit();
        }
    }

    /** Writes a whole object from memory; for small objects such as manifests. */
    default BlobInfo putBytes(String key, byte[] data, WriteMode mode) throws IOException {
        return put(key, new ByteArrayInputStream(data), mode);
    }

    /** Reads a whole object into memory; for small objects only (callers bound the size). */
    default byte[] readAllBytes(String key, int maxBytes) throws IOException {
        try (InputStream in = open(key)) {
            byte[] bytes = in.readNBytes(maxBytes + 1);
            if (bytes.length > maxBytes) {
                throw new IOException(key + " in " + location() + " is larger than the " + maxBytes
                        + " bytes expected of it");
            }
            return bytes;
        }
    }

    /** Every object under a prefix, in key order, fetched page by page. */
    default List<BlobInfo> listAll(String prefix) throws IOException {
        List<BlobInfo> all = new ArrayList<>();
        String after = null;
        while (true) {
            List<BlobInfo> page = list(prefix, after, 1000);
            all.addAll(page);
            if (page.size() < 1000) {
                return all;
            }
            after = page.get(page.size() - 1).key();
        }
    }
}
