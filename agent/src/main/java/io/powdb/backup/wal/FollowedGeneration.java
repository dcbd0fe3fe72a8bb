package io.powdb.backup.wal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.Arrays;

/**
 * What a {@link WalFollower} knows of the current generation of wal.log (the file between two truncations):
 * its format, its first record, its last commit and its unstable tail, each kept with its header so the
 * follower can re-read a few bytes each poll and prove they are still there.
 */
final class FollowedGeneration {
    /** The verdict of {@link #check}: the generation ended (and why), or still stands, maybe rolled back. */
    record Verdict(GenerationEnd.Reason ended, UnstableTail.Cut cut) {
        static final Verdict UNCHANGED = new Verdict(null, null);
    }

    final long number;
    private Object fileKey;
    private WalFileHeader header; // null until the file holds enough bytes to tell
    private byte[] headerBytes;
    private WalRecord first;
    private WalRecord lastCommit;
    private final UnstableTail tail = new UnstableTail();

    FollowedGeneration(long number, Object fileKey) {
        this.number = number;
        this.fileKey = fileKey;
    }

    boolean hasRecords() {
        return first != null;
    }

    WalFileHeader header() {
        return header;
    }

    /** The last record retained from this generation, or null. */
    WalRecord last() {
        return tail.isEmpty() ? lastCommit : tail.last();
    }

    /** Where reading resumes: just after the last retained record. */
    long readOffset() {
        WalRecord last = last();
        return last != null ? last.end() : header == null ? 0 : header.length();
    }

    /** The offset just after this generation's last commit: the stable prefix of the file. */
    long stableOffset() {
        return lastCommit != null ? lastCommit.end() : header == null ? 0 : header.length();
    }

    /** Records retained after the last commit: the ones a rollback may still remove. */
    long unstableCount() {
        return tail.count();
    }

    /** Reads the file header; false while the file is too short to tell its format. */
    boolean detectHeader(FileChannel channel, long size) throws IOException {
        WalFileHeader h = WalReader.readFileHeader(channel, size);
        if (h.kind() == WalFileHeader.Kind.UNDETERMINED) {
            return false;
        }
        header = h;
        headerBytes = h.present() ? read(channel, 0, WalFormat.FILE_HEADER_SIZE) : null;
        return true;
    }

    void retain(WalRecord record) {
        WalRecord previous = last();
        if (first == null) {
            first = record;
        }
        if (record.isCommit()) {
            lastCommit = record;
            tail.clear();
        } else {
            tail.add(record, previous);
        }
    }

    /**
     * Re-reads the few places that prove the file still holds this generation as the follower read it: the
     * file header, the first record, the last commit, and the end of the unstable tail. A tail that is no
     * longer there (whole and unchanged) was rolled back, and is dropped here.
     */
    Verdict check(FileChannel channel, long size, Object key) throws IOException {
        if (!hasRecords()) {
            // Nothing was emitted from this generation, so nothing can be lost: follow whatever file is there
            // now, re-detecting its format (a checkpoint may be rewriting the header right now).
            fileKey = key;
            header = null;
            headerBytes = null;
            return Verdict.UNCHANGED;
        }
        if (fileKey != null && key != null && !fileKey.equals(key)) {
            return new Verdict(GenerationEnd.Reason.FILE_REPLACED, null);
        }
        if (size < first.end()) {
            return new Verdict(GenerationEnd.Reason.TRUNCATED, null);
        }
        if (header.present() && !Arrays.equals(read(channel, 0, WalFormat.FILE_HEADER_SIZE), headerBytes)) {
            return new Verdict(GenerationEnd.Reason.CONTENT_CHANGED, null);
        }
        if (!intact(channel, size, first)) {
            return new Verdict(GenerationEnd.Reason.CONTENT_CHANGED, null);
        }
        if (lastCommit != null && lastCommit != first) {
            if (size < lastCommit.end()) {
                // A rollback never removes a committed record: this is not one.
                return new Verdict(GenerationEnd.Reason.CUT_BELOW_COMMIT, null);
            }
            if (!intact(channel, size, lastCommit)) {
                return new Verdict(GenerationEnd.Reason.CONTENT_CHANGED, null);
            }
        }
        UnstableTail.Cut cut = tail.cutToIntact(stableOffset(), r -> intact(channel, size, r));
        return cut == null ? Verdict.UNCHANGED : new Verdict(null, cut);
    }

    /**
     * After records were read past {@link #readOffset()}, proves the file was not truncated and rewritten
     * meanwhile: this generation's first record (or, for a generation without one yet, the first record just
     * read) and its last retained record are still there. Without this, a checkpoint and appends between the
     * {@link #check} and the read could place a later generation's record exactly where reading resumed.
     */
    boolean stillHolds(FileChannel channel, WalRecord firstRead) throws IOException {
        long size = channel.size();
        WalRecord last = last();
        return intact(channel, size, first != null ? first : firstRead)
                && (last == null || intact(channel, size, last));
    }

    /** True when {@code record} is still whole in the file, with the same header (whose CRC covers the payload). */
    private static boolean intact(FileChannel channel, long size, WalRecord record) throws IOException {
        if (record.end() > size) {
            return false;
        }
        byte[] header = read(channel, record.offset(), WalFormat.RECORD_HEADER_SIZE);
        return header != null && WalRecord.lengthField(header) == Integer.toUnsignedLong(record.length())
                && WalRecord.fromHeader(record.offset(), header).equals(record);
    }

    /** {@code len} bytes at {@code pos}, or null when the file ends first. */
    private static byte[] read(FileChannel channel, long pos, int len) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(len);
        while (buf.hasRemaining()) {
            if (channel.read(buf, pos + buf.position()) < 0) {
                return null;
            }
        }
        return buf.array();
    }
}
