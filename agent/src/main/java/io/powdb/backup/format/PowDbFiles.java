package io.powdb.backup.format;

import java.util.Optional;
import java.util.Set;

/**
 * Names in a PowDB data directory and what they are. Unknown regular files are backed up whole: a newer
 * PowDB may add durable files, and losing one would be worse than copying one we did not need.
 */
public final class PowDbFiles {
    public static final String CATALOG = "catalog.bin";
    public static final String WAL = "wal.log";
    public static final String CATALOG_LSN = "catalog.lsn";

    /** Entries that are never backed up nor restored: a temp file, the writer lock, reader pids, sync state. */
    private static final Set<String> TRANSIENT_NAMES = Set.of("LOCK", "readers", ".powdb-sync");

    private PowDbFiles() {
    }

    public static boolean isTransient(String name) {
        return TRANSIENT_NAMES.contains(name) || name.endsWith(".tmp");
    }

    /** The kind of a durable file, or empty for a transient one. */
    public static Optional<FileKind> kindOf(String name) {
        if (isTransient(name)) {
            return Optional.empty();
        }
        if (name.equals(WAL)) {
            return Optional.of(FileKind.WAL);
        }
        if (name.endsWith(".heap")) {
            return Optional.of(FileKind.HEAP);
        }
        return Optional.of(FileKind.WHOLE);
    }

    /**
     * True for a name that can safely be created inside a restore target: one path segment, no separator,
     * not "." or "..", no control character. Names come from manifests, which are untrusted input.
     */
    public static boolean isSafeFileName(String name) {
        if (name == null || name.isEmpty() || name.length() > 255 || name.equals(".") || name.equals("..")) {
            return false;
        }
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (c == '/' || c == '\\' || c < 0x20 || c == 0x7f) {
                return false;
            }
        }
        return true;
    }
}
