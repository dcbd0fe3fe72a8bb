package io.powdb.backup.repo;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import io.powdb.backup.format.FileKind;
import io.powdb.backup.format.PowDbFiles;
import io.powdb.backup.integrity.Blake3;

import java.util.ArrayList;
import java.util.List;

/**
 * One file of the database as of a backup.
 *
 * <ul>
 *   <li>whole files and the WAL: {@code size} and {@code blake3} of the content (what decides whether the next
 *       backup stores it again) and the {@code object} holding it: the content itself (same size and hash), or
 *       compressed (its {@code content_size} is the file's size, its hash that of the stored bytes);</li>
 *   <li>heaps: the page count, the largest page LSN, the {@code page_map} (LSN and fingerprint of every
 *       page, for the next incremental and for checking a restore) and the {@code sources}: the objects
 *       that together hold every page, newest first, where the newest copy of a page wins.</li>
 * </ul>
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record FileEntry(
        String name,
        String kind,
        long size,
        String blake3,
        ObjectRef object,
        Long pages,
        Long maxLsn,
        ObjectRef pageMap,
        List<ObjectRef> pageMapDeltas,
        List<ObjectRef> sources,
        Long changedPages) {

    /** A whole file stored as is: its content's hash is the object's. */
    public static FileEntry whole(String name, FileKind kind, long size, ObjectRef object) {
        return whole(name, kind, size, object.blake3(), object);
    }

    /** @param blake3 the BLAKE3 of the file's content (which differs from the object's when it is compressed) */
    public static FileEntry whole(String name, FileKind kind, long size, String blake3, ObjectRef object) {
        return new FileEntry(name, kind.jsonName(), size, blake3, object, null, null, null, null, null, null);
    }

    /**
     * @param pageMap       the full page map this heap's map builds on (this backup's, or an earlier one's of its chain)
     * @param pageMapDeltas the deltas applied over it, newest first; empty when {@code pageMap} is the map itself
     */
    public static FileEntry heap(String name, long pages, long maxLsn, ObjectRef pageMap, List<ObjectRef> pageMapDeltas,
            List<ObjectRef> sources, long changedPages) {
        return new FileEntry(name, FileKind.HEAP.jsonName(), pages * io.powdb.backup.format.HeapPage.SIZE, null, null,
                pages, maxLsn, pageMap, pageMapDeltas.isEmpty() ? null : List.copyOf(pageMapDeltas), List.copyOf(sources),
                changedPages);
    }

    /** The deltas over {@link #pageMap()}, newest first (empty for a manifest of format 1, or a full map). */
    @JsonIgnore
    public List<ObjectRef> mapDeltas() {
        return pageMapDeltas == null ? List.of() : pageMapDeltas;
    }

    /** Every stored object this file needs: its content, or its page map and page sources. */
    @JsonIgnore
    public List<ObjectRef> objects() {
        List<ObjectRef> refs = new ArrayList<>();
        if (object != null) {
            refs.add(object);
        }
        if (pageMap != null) {
            refs.add(pageMap);
        }
        if (pageMapDeltas != null) {
            refs.addAll(pageMapDeltas);
        }
        if (sources != null) {
            refs.addAll(sources);
        }
        return refs;
    }

    @JsonIgnore
    public FileKind fileKind() {
        return FileKind.ofJsonName(kind);
    }

    @JsonIgnore
    public boolean isHeap() {
        return FileKind.HEAP.jsonName().equals(kind);
    }

    /** A name from a manifest as it can be printed: control characters (a NUL, an escape sequence) shown as '?'. */
    static String printable(String text) {
        return text == null ? "null" : text.replaceAll("\\p{Cntrl}", "?");
    }

    /** Checks what a restore relies on, so that a tampered or damaged manifest is refused up front. */
    public void validate(String manifestId) throws IntegrityException {
        String context = "backup " + manifestId + ", file " + printable(name);
        if (!PowDbFiles.isSafeFileName(name)) {
            throw new IntegrityException("backup " + manifestId + " names an unsafe file '" + printable(name)
                    + "' (empty, absolute, '..', a separator or a control character): refusing to restore it");
        }
        FileKind fileKind;
        try {
            fileKind = fileKind();
        } catch (IllegalArgumentException e) {
            throw new IntegrityException(context + ": " + e.getMessage());
        }
        if (PowDbFiles.kindOf(name).orElse(null) != fileKind) {
            throw new IntegrityException(context + ": kind " + kind + " does not match the file name");
        }
        if (size < 0) {
            throw new IntegrityException(context + ": negative size");
        }
        if (isHeap()) {
            if (pages == null || pages < 0 || pages > PagePack.MAX_PAGES || size != pages * io.powdb.backup.format.HeapPage.SIZE
                    || maxLsn == null || pageMap == null || sources == null || changedPages == null
                    || (pages > 0 && sources.isEmpty())) {
                throw new IntegrityException(context + ": incomplete heap entry");
            }
            pageMap.validate(context);
            if (!ObjectRef.PAGE_MAP.equals(pageMap.format())) {
                throw new IntegrityException(context + ": page map has format " + pageMap.format());
            }
            if (pageMapDeltas != null) {
                for (ObjectRef delta : pageMapDeltas) {
                    delta.validate(context);
                    if (!ObjectRef.PAGE_MAP_DELTA.equals(delta.format())) {
                        throw new IntegrityException(context + ": a page map delta has format " + delta.format());
                    }
                }
            }
            for (ObjectRef source : sources) {
                source.validate(context);
                if (ObjectRef.PAGE_MAP.equals(source.format()) || ObjectRef.PAGE_MAP_DELTA.equals(source.format())) {
                    throw new IntegrityException(context + ": a page map cannot be a page source");
                }
            }
        } else {
            if (object == null || !Blake3.isHex(blake3) || pages != null || sources != null || pageMap != null
                    || pageMapDeltas != null) {
                throw new IntegrityException(context + ": incomplete file entry");
            }
            object.validate(context);
            boolean matches = object.transformed() ? object.contentSize() == size
                    : object.size() == size && object.blake3().equals(blake3);
            if (!ObjectRef.RAW.equals(object.format()) || !matches) {
                throw new IntegrityException(context + ": object does not match the file's size and hash");
            }
        }
    }
}
