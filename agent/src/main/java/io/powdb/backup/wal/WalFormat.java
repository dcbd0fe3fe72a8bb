package io.powdb.backup.wal;

import java.nio.charset.StandardCharsets;

/**
 * Constants of PowDB's {@code wal.log} (shared/powdb-format.md). All integers are little-endian.
 *
 * <p>File: an optional 8-byte header (0.5+: "PWAL", u16 version 1, u16 flags), then records back to back.
 * Record: u32 total length (header included) | u32 CRC32 over tx_id, type, LSN and payload (not the length)
 * | u64 tx_id | u8 type | u64 LSN | payload.
 */
public final class WalFormat {
    public static final byte[] MAGIC = "PWAL".getBytes(StandardCharsets.US_ASCII);
    public static final int FILE_HEADER_SIZE = 8;
    /** The only header version the notes describe; a different one may change the record layout. */
    public static final int SUPPORTED_HEADER_VERSION = 1;

    public static final int RECORD_HEADER_SIZE = 25;
    /** Where the CRC-covered part of a record starts (after the length and the CRC). */
    static final int CRC_COVERED_FROM = 8;
    /**
     * The largest record the agent accepts. PowDB's row payloads are bounded by a 4 KiB page; a larger length
     * is a bogus one (corruption, or garbage past a torn tail), and refusing it keeps a reader from chasing
     * gigabytes that are not a record.
     */
    public static final int MAX_RECORD_LENGTH = 64 * 1024 * 1024;

    public static final int INSERT = 1;
    public static final int UPDATE = 2;
    public static final int DELETE = 3;
    public static final int COMMIT = 4;
    public static final int ROLLBACK = 5;

    private WalFormat() {
    }

    /** A short name for logs: 1..5 and DDL 6..9 of 0.4.x, 10 begin and 11/12 overflow of later versions. */
    public static String typeName(int type) {
        switch (type) {
            case INSERT: return "insert";
            case UPDATE: return "update";
            case DELETE: return "delete";
            case COMMIT: return "commit";
            case ROLLBACK: return "rollback";
            case 10: return "begin";
            case 11: case 12: return "overflow(" + type + ")";
            default: return type >= 6 && type <= 9 ? "ddl(" + type + ")" : "type(" + type + ")";
        }
    }
}
