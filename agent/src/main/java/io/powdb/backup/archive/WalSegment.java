package io.powdb.backup.archive;

import io.powdb.backup.integrity.Blake3;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.HexFormat;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One shipped piece of WAL: the committed records {@code [startOffset, endOffset)} of one generation of
 * wal.log, back to back, ending on a COMMIT. Everything needed to plan a restore is in its key, so a restore
 * is planned from one listing of {@code wal/} and downloads only the segments it applies:
 *
 * <pre>
 * wal/TIMELINE/GENERATION/START-END_FIRSTLSN_LASTLSN_LASTDATALSN_SHIPPEDMILLIS_CHAIN.seg
 * wal/20261121T101500123Z-3fa9c1/00000001/0000000000000008-00000000000004d1_00000000000000000101_..._5c0f...e1.seg
 * </pre>
 *
 * Offsets are 16 hex digits and LSNs 20 decimal digits, zero-padded, so that key order is offset order
 * within a generation. {@code lastDataLsn} is the LSN of the last insert, update or delete record (0 when
 * there is none): the largest page LSN these records can leave behind. {@code chain} is
 * BLAKE3(previous segment's chain || BLAKE3(this segment's bytes)), starting from 32 zero bytes at each
 * generation: it checks the segment's content and ties it to every earlier segment of its generation.
 */
public record WalSegment(String timeline, int generation, long startOffset, long endOffset, long firstLsn,
        long lastLsn, long lastDataLsn, Instant shippedAt, String chain) {

    public static final String PREFIX = "wal/";
    static final String SUFFIX = ".seg";
    private static final Pattern TIMELINE = Pattern.compile("\\d{8}T\\d{9}Z-[0-9a-f]{6}");
    private static final Pattern NAME = Pattern.compile("(" + TIMELINE.pattern() + ")/(\\d{8})/([0-9a-f]{16})-"
            + "([0-9a-f]{16})_(\\d{20})_(\\d{20})_(\\d{20})_(\\d{13})_([0-9a-f]{64})\\.seg");
    static final byte[] CHAIN_START = new byte[Blake3.HASH_BYTES];
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmssSSS'Z'")
            .withZone(ZoneOffset.UTC);

    public WalSegment {
        if (!TIMELINE.matcher(timeline).matches() || generation < 1 || generation > 99_999_999 || startOffset < 0
                || endOffset <= startOffset || Long.compareUnsigned(firstLsn, lastLsn) > 0 || !Blake3.isHex(chain)) {
            throw new IllegalArgumentException("not a WAL segment: " + timeline + " generation " + generation + " ["
                    + startOffset + ", " + endOffset + ") LSN " + Long.toUnsignedString(firstLsn) + ".."
                    + Long.toUnsignedString(lastLsn));
        }
        shippedAt = Instant.ofEpochMilli(shippedAt.toEpochMilli());
    }

    /** A new timeline id: the time the shipper started and a random part. */
    static String newTimeline(Instant now) {
        byte[] nonce = new byte[3];
        new java.security.SecureRandom().nextBytes(nonce);
        return TIME.format(now) + "-" + HexFormat.of().formatHex(nonce);
    }

    static boolean isTimeline(String text) {
        return TIMELINE.matcher(text).matches();
    }

    /** The time a timeline id was created. */
    static Instant timelineStart(String timeline) {
        return Instant.from(TIME.parse(timeline.substring(0, timeline.indexOf('-'))));
    }

    /** The repository-relative key. */
    public String key() {
        return PREFIX + timeline + "/" + String.format("%08d", generation) + "/" + hex16(startOffset) + "-"
                + hex16(endOffset) + "_" + lsn20(firstLsn) + "_" + lsn20(lastLsn) + "_" + lsn20(lastDataLsn) + "_"
                + String.format("%013d", shippedAt.toEpochMilli()) + "_" + chain + SUFFIX;
    }

    public long length() {
        return endOffset - startOffset;
    }

    /** Parses a repository-relative key; empty for anything that is not a segment key. */
    public static Optional<WalSegment> parse(String key) {
        if (!key.startsWith(PREFIX)) {
            return Optional.empty();
        }
        Matcher m = NAME.matcher(key.substring(PREFIX.length()));
        if (!m.matches()) {
            return Optional.empty();
        }
        try {
            return Optional.of(new WalSegment(m.group(1), Integer.parseInt(m.group(2)), Long.parseLong(m.group(3), 16),
                    Long.parseLong(m.group(4), 16), Long.parseUnsignedLong(m.group(5)),
                    Long.parseUnsignedLong(m.group(6)), Long.parseUnsignedLong(m.group(7)),
                    Instant.ofEpochMilli(Long.parseLong(m.group(8))), m.group(9)));
        } catch (IllegalArgumentException e) {
            return Optional.empty(); // numbers out of range: not one of ours
        }
    }

    /** The chain value after a segment whose content hashes to {@code contentBlake3}. */
    static byte[] nextChain(byte[] previousChain, byte[] contentBlake3) {
        byte[] both = new byte[previousChain.length + contentBlake3.length];
        System.arraycopy(previousChain, 0, both, 0, previousChain.length);
        System.arraycopy(contentBlake3, 0, both, previousChain.length, contentBlake3.length);
        return HexFormat.of().parseHex(Blake3.hex(both));
    }

    byte[] chainBytes() {
        return HexFormat.of().parseHex(chain);
    }

    private static String hex16(long value) {
        String hex = Long.toHexString(value);
        return "0".repeat(16 - hex.length()) + hex;
    }

    static String lsn20(long lsn) {
        String digits = Long.toUnsignedString(lsn);
        return "0".repeat(20 - digits.length()) + digits;
    }

    @Override
    public String toString() {
        return "WAL segment " + timeline + "/" + generation + " LSN " + Long.toUnsignedString(firstLsn) + ".."
                + Long.toUnsignedString(lastLsn) + " (offsets " + startOffset + ".." + endOffset + ")";
    }
}
