package io.powdb.backup.wal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * What the start of wal.log says about its format. 0.4.x files have no header; 0.5+ files start with
 * "PWAL", u16 version, u16 flags. A 0.4 file cannot start with "PWAL": read as a record length that would
 * be about 1.3 GB, past {@link WalFormat#MAX_RECORD_LENGTH}.
 */
public record WalFileHeader(Kind kind, int version, int flags) {

    public enum Kind {
        /** 0.4.x: records start at offset 0. */
        ABSENT,
        /** 0.5+: the 8-byte "PWAL" header; records start at offset 8. */
        PRESENT,
        /**
         * Too few bytes to tell: the file is empty, or holds 1..7 bytes that could be the start of the
         * header (a checkpoint caught while rewriting it) or of a 0.4 record. No records either way.
         */
        UNDETERMINED
    }

    public static final WalFileHeader ABSENT = new WalFileHeader(Kind.ABSENT, 0, 0);
    public static final WalFileHeader UNDETERMINED = new WalFileHeader(Kind.UNDETERMINED, 0, 0);

    /** Where the first record starts. */
    public int length() {
        return kind == Kind.PRESENT ? WalFormat.FILE_HEADER_SIZE : 0;
    }

    public boolean present() {
        return kind == Kind.PRESENT;
    }

    /**
     * Classifies the first {@code n} bytes of a file (at most 8 are looked at).
     *
     * @throws WalFormatException for a "PWAL" header with a version other than 1: its records may be laid
     *         out differently, and reading them as version 1 would silently find "no records".
     */
    public static WalFileHeader detect(byte[] start, int n) throws WalFormatException {
        int magicBytes = Math.min(n, WalFormat.MAGIC.length);
        if (!Arrays.equals(start, 0, magicBytes, WalFormat.MAGIC, 0, magicBytes)) {
            return ABSENT;
        }
        if (n < WalFormat.FILE_HEADER_SIZE) {
            return UNDETERMINED;
        }
        ByteBuffer b = ByteBuffer.wrap(start, 0, WalFormat.FILE_HEADER_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        int version = Short.toUnsignedInt(b.getShort(4));
        int flags = Short.toUnsignedInt(b.getShort(6));
        if (version != WalFormat.SUPPORTED_HEADER_VERSION) {
            throw new WalFormatException("wal.log header version " + version + " is not supported (this agent reads "
                    + "version " + WalFormat.SUPPORTED_HEADER_VERSION + "); refusing to guess its record layout");
        }
        return new WalFileHeader(Kind.PRESENT, version, flags);
    }
}
