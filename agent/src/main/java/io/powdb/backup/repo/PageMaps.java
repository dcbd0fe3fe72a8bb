package io.powdb.backup.repo;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

/**
 * A heap's page map as of a backup: its full map (from the backup or an earlier one of its chain) with the
 * page map deltas of the incrementals since applied oldest first, built in a local file so that a map of any
 * size costs no heap. Every object is checked against its BLAKE3 as it is read.
 */
public final class PageMaps {
    private PageMaps() {
    }

    /**
     * Downloads and merges the map of {@code entry} into {@code file} and opens it.
     *
     * @throws IntegrityException when an object is damaged, or the deltas do not describe every page
     */
    public static PageMap open(Repository repository, FileEntry entry, Path file) throws IOException {
        repository.download(entry.pageMap(), file);
        List<ObjectRef> deltas = entry.pageMapDeltas() == null ? List.of() : entry.pageMapDeltas();
        if (!deltas.isEmpty()) {
            try (FileChannel map = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                for (int i = deltas.size() - 1; i >= 0; i--) {
                    apply(repository, deltas.get(i), map);
                }
                map.force(false);
            }
        }
        PageMap opened = PageMap.open(file, entry.pageMap().key());
        if (opened.pages() != entry.pages()) {
            opened.close();
            throw new IntegrityException("the page map of " + entry.name() + " has " + opened.pages() + " pages, not the "
                    + entry.pages() + " its backup records (damaged map objects)");
        }
        return opened;
    }

    /** Applies one delta: sets the page count, then writes its entries. Pages it adds must all be in it. */
    private static void apply(Repository repository, ObjectRef delta, FileChannel map) throws IOException {
        ByteBuffer count = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        if (map.read(count, 8 + 4) != 8) {
            throw new IntegrityException("page map is truncated");
        }
        long before = count.flip().getLong();
        long[] state = new long[2]; // [0] = new page count, [1] = entries at or beyond the old count
        ByteBuffer entry = ByteBuffer.allocate(PageMap.ENTRY).order(ByteOrder.LITTLE_ENDIAN);
        repository.read(delta, in -> PageMapDelta.read(in, delta.key(), pages -> {
            state[0] = pages;
            map.truncate(PageMap.HEADER + Math.min(before, pages) * PageMap.ENTRY);
            ByteBuffer header = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(pages);
            map.write(header.flip(), 8 + 4);
        }, (index, lsn, fingerprint) -> {
            entry.clear();
            entry.putLong(lsn).putInt(fingerprint).flip();
            map.write(entry, PageMap.HEADER + index * PageMap.ENTRY);
            if (index >= before) {
                state[1]++;
            }
        }));
        if (state[0] > before && state[1] != state[0] - before) {
            throw new IntegrityException("page map delta " + delta.key() + " grows the heap to " + state[0]
                    + " pages but describes only " + state[1] + " of the " + (state[0] - before) + " new ones");
        }
    }
}
