package io.powdb.backup.format;

/** How the agent treats a file of a PowDB data directory. */
public enum FileKind {
    /** {@code *.heap}: 4 KiB pages with LSNs; backed up page by page. */
    HEAP,
    /** Every other durable file (catalog, indexes, ...): backed up whole, compared by content hash. */
    WHOLE,
    /** {@code wal.log}: the write-ahead log. */
    WAL;

    public String jsonName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    public static FileKind ofJsonName(String name) {
        for (FileKind kind : values()) {
            if (kind.jsonName().equals(name)) {
                return kind;
            }
        }
        throw new IllegalArgumentException("unknown file kind '" + name + "'");
    }
}
