package io.powdb.backup.repo;

import java.security.SecureRandom;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.HexFormat;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A backup's id: {@code <LSN, 20 digits>-<UTC time to the millisecond>-<6 random hex digits>}, e.g.
 * {@code 00000000000000004711-20261121T101500123Z-3fa9c1}. The zero-padded unsigned LSN first makes lexical
 * key order LSN order; the time and the random part keep ids unique when two histories reach the same
 * LSN. Ids are parsed back from keys, so finding backups needs only a listing of manifest keys.
 */
public record BackupId(long lsn, Instant created, String nonce) implements Comparable<BackupId> {
    private static final Pattern FORMAT = Pattern.compile("(\\d{20})-(\\d{8}T\\d{9}Z)-([0-9a-f]{6})");
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmssSSS'Z'")
            .withZone(ZoneOffset.UTC);
    private static final SecureRandom RANDOM = new SecureRandom();

    public BackupId {
        created = created.truncatedTo(ChronoUnit.MILLIS);
        if (!nonce.matches("[0-9a-f]{6}")) {
            throw new IllegalArgumentException("bad backup id nonce " + nonce);
        }
    }

    public static BackupId create(long lsn, Instant created) {
        byte[] bytes = new byte[3];
        RANDOM.nextBytes(bytes);
        return new BackupId(lsn, created, HexFormat.of().formatHex(bytes));
    }

    /** True for a well-formed id whose time is a real one (a key named for 30 February is not ours). */
    public static boolean isValid(String text) {
        if (text == null || !FORMAT.matcher(text).matches()) {
            return false;
        }
        try {
            return parse(text).toString().equals(text);
        } catch (RuntimeException e) {
            return false;
        }
    }

    public static BackupId parse(String text) {
        Matcher m = text == null ? null : FORMAT.matcher(text);
        if (m == null || !m.matches()) {
            throw new IllegalArgumentException("'" + text + "' is not a backup id (expected LSN-TIME-NONCE, e.g. "
                    + "00000000000000004711-20261121T101500123Z-3fa9c1; see 'powdb-backup list')");
        }
        long lsn = Long.parseUnsignedLong(m.group(1));
        Instant created = Instant.from(TIME.parse(m.group(2)));
        return new BackupId(lsn, created, m.group(3));
    }

    /** The part of the id without the LSN, which names the backup's data objects (known before its LSN). */
    public String session() {
        return TIME.format(created) + "-" + nonce;
    }

    @Override
    public String toString() {
        String digits = Long.toUnsignedString(lsn);
        return "0".repeat(20 - digits.length()) + digits + "-" + session();
    }

    /** LSN order (unsigned), then time, then nonce: the order of the keys. */
    @Override
    public int compareTo(BackupId other) {
        return toString().compareTo(other.toString());
    }
}
