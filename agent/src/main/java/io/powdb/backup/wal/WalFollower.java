package io.powdb.backup.wal;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * Tails the wal.log of a running PowDB by polling. Each {@link #poll()} re-opens the file, proves what it
 * read before is still there, and returns the new COMPLETE records (a torn or half-written tail is left for
 * a later poll). No threads: the caller polls as often as it likes. Not thread-safe.
 *
 * <h2>Generations</h2>
 * PowDB truncates wal.log at every checkpoint (to 0 bytes in 0.4.x, to the 8-byte header in 0.5+) and on
 * restart, while LSNs go on. The file between two truncations is a <em>generation</em>; offsets mean
 * something only within one, so every emitted record carries its generation number.
 *
 * <h2>How each change is told apart</h2>
 * Per generation the follower keeps its file identity (inode), its header bytes, its first record, its last
 * COMMIT record, and the end of its unstable tail (records after that commit), each with its 25-byte record
 * header, whose CRC covers the payload. Each poll re-reads those few bytes (cheap positional reads):
 * <ul>
 * <li><b>growth</b>: all of them unchanged, the file as long or longer: records are parsed from just after
 *     the last one emitted. Each must be complete, pass its CRC, and have an LSN above the previous one;
 *     parsing stops before the first that does not ({@link WalPoll#tail()}). After reading, the first
 *     record and the record reading resumed after are checked once more: if the file was truncated and
 *     rewritten during the read, the records just read are discarded
 *     ({@link WalStop#CHANGED_WHILE_READING}) rather than attributed to the wrong generation.</li>
 * <li><b>rollback</b>: header, first record and last commit unchanged, but the end of the tail is gone (cut
 *     off, or replaced by other bytes). The follower finds where the tail still holds (the start of one of
 *     its transactions, where a rollback cuts) and drops the records after it ({@link WalRollback}). Never
 *     past a commit it emitted: a file shorter than that commit is not a rollback.</li>
 * <li><b>new generation</b>: the file lost its first record (truncated), got shorter than the last emitted
 *     commit, changed bytes at a checked place, or is another file. The follower reports
 *     {@link GenerationEnd} and reads the file again from its start.</li>
 * </ul>
 * Bytes between the checked places are not re-read each poll: PowDB only appends to a generation or cuts
 * its end, and any rewrite it does (checkpoint, restart) changes the first record.
 *
 * <h2>Gaps</h2>
 * Between two polls, records may be appended and removed unseen (append, checkpoint, append). The follower
 * never claims continuity it cannot prove: when a generation's first record appears it reports
 * {@link GenerationStart} with a {@link Continuity}, PROVEN only when that first LSN is exactly the last
 * COMMIT LSN it emitted + 1. A follower that started on an empty WAL has no such commit, so the first
 * record it sees is reported {@link Continuity#UNKNOWN_PREDECESSOR}. The caller decides what a gap means
 * (retry a capture, or a hole in point-in-time coverage).
 *
 * <p>A rollback of the FIRST transaction of a generation cuts the file back to empty or to the header, just
 * as a checkpoint does; the file alone cannot tell them apart. The follower treats it as a generation change
 * whose records are abandoned, and LSN continuity settles it: if the next record is last commit + 1 (a PowDB
 * that reuses the rolled-back LSNs), continuity is proven; otherwise a gap is reported, a false alarm when
 * only uncommitted records were lost, but never a missed commit.
 *
 * <h2>Memory</h2>
 * One read buffer, the records of one poll (at most {@code maxRecords}), and per generation a few record
 * headers plus two per transaction in the unstable tail (normally one: the open transaction), whatever the
 * size of the file or of a transaction.
 */
public final class WalFollower {
    public static final int DEFAULT_MAX_RECORDS_PER_POLL = 100_000;

    /** Runs between checking the generation and reading new records: lets tests change the file in that window. */
    interface ReadHook {
        void run() throws IOException;
    }

    private final Path wal;
    private final int bufferSize;
    private FollowedGeneration current; // null before the first poll
    private long generations;
    private OptionalLong stableLsn = OptionalLong.empty();
    private OptionalLong lastSeenLsn = OptionalLong.empty();
    ReadHook beforeReading;

    public WalFollower(Path wal) {
        this(wal, WalReader.DEFAULT_BUFFER_SIZE);
    }

    /** A follower reading with a buffer of {@code bufferSize} bytes (at least 25). */
    public WalFollower(Path wal, int bufferSize) {
        if (bufferSize < WalFormat.RECORD_HEADER_SIZE) {
            throw new IllegalArgumentException("buffer of " + bufferSize + " bytes cannot hold a record header");
        }
        this.wal = wal;
        this.bufferSize = bufferSize;
    }

    /**
     * Looks at the file once and returns what changed since the last poll, with at most
     * {@link #DEFAULT_MAX_RECORDS_PER_POLL} new records. A missing file counts as empty.
     */
    public WalPoll poll() throws IOException {
        return poll(DEFAULT_MAX_RECORDS_PER_POLL);
    }

    /**
     * As {@link #poll()}, emitting at most {@code maxRecords} new records, so that catching up on a large WAL
     * holds a bounded number of records in memory. When the limit is reached the tail is
     * {@link WalStop#RECORD_LIMIT}: poll again at once for the rest.
     */
    public WalPoll poll(int maxRecords) throws IOException {
        if (maxRecords < 1) {
            throw new IllegalArgumentException("maxRecords must be at least 1: " + maxRecords);
        }
        FileChannel channel = openIfPresent();
        try {
            long size = channel == null ? 0 : channel.size();
            Object key = channel == null ? null : fileKey();
            boolean firstPoll = current == null;
            GenerationEnd ended = null;
            WalRollback rollback = null;
            if (firstPoll) {
                current = new FollowedGeneration(++generations, key);
            } else {
                FollowedGeneration.Verdict verdict = current.check(channel, size, key);
                if (verdict.ended() != null) {
                    ended = new GenerationEnd(current.number, verdict.ended(), lastSeenLsn, stableLsn,
                            current.unstableCount(), current.stableOffset());
                    current = new FollowedGeneration(++generations, key);
                } else if (verdict.cut() != null) {
                    UnstableTail.Cut cut = verdict.cut();
                    long retained = current.last().lsn();
                    rollback = new WalRollback(current.number, cut.newEnd(), cut.dropped(), cut.lastDroppedLsn(),
                            retained);
                    lastSeenLsn = OptionalLong.of(retained);
                }
            }
            return readNewRecords(channel, size, firstPoll, ended, rollback, maxRecords);
        } finally {
            if (channel != null) {
                channel.close();
            }
        }
    }

    /** The generation being read (1 from the first poll on; 0 before it). */
    public long generation() {
        return generations;
    }

    /** The LSN of the last COMMIT record emitted: everything emitted up to it is stable. */
    public OptionalLong stableLsn() {
        return stableLsn;
    }

    /** The LSN of the last record emitted and not since rolled back. */
    public OptionalLong lastSeenLsn() {
        return lastSeenLsn;
    }

    /** The offset just after the last COMMIT emitted from the current generation (the stable prefix). */
    public long stableOffset() {
        return current == null ? 0 : current.stableOffset();
    }

    /** The offset just after the last record emitted from the current generation: where reading resumes. */
    public long readOffset() {
        return current == null ? 0 : current.readOffset();
    }

    private WalPoll readNewRecords(FileChannel channel, long size, boolean firstPoll, GenerationEnd ended,
            WalRollback rollback, int maxRecords) throws IOException {
        List<WalRecord> read = new ArrayList<>();
        WalStop stop = null;
        if (channel == null || size == 0) {
            stop = WalStop.END;
        } else if (current.header() == null && !current.detectHeader(channel, size)) {
            stop = WalStop.INCOMPLETE; // a few bytes that may become the 0.5 header
        } else {
            if (beforeReading != null) {
                beforeReading.run();
            }
            WalReader reader = WalReader.over(channel, current.header(), current.readOffset(), size, bufferSize);
            WalRecord previous = current.last();
            while (stop == null) {
                if (read.size() == maxRecords) {
                    stop = WalStop.RECORD_LIMIT;
                    break;
                }
                WalRecord record = reader.next();
                if (record == null) {
                    stop = reader.stop();
                } else if (previous != null && Long.compareUnsigned(record.lsn(), previous.lsn()) <= 0) {
                    stop = WalStop.LSN_NOT_INCREASING;
                } else {
                    read.add(record);
                    previous = record;
                }
            }
            if (!read.isEmpty() && !current.stillHolds(channel, read.get(0))) {
                read.clear();
                stop = WalStop.CHANGED_WHILE_READING;
            }
        }
        List<FollowedRecord> records = new ArrayList<>(read.size());
        GenerationStart started = null;
        for (WalRecord record : read) {
            if (!current.hasRecords()) {
                started = new GenerationStart(current.number, record.lsn(), continuityOf(record, firstPoll),
                        stableLsn);
            }
            current.retain(record);
            records.add(new FollowedRecord(current.number, record));
            lastSeenLsn = OptionalLong.of(record.lsn());
            if (record.isCommit()) {
                stableLsn = OptionalLong.of(record.lsn());
            }
        }
        long pending = Math.max(0, size - current.readOffset());
        return new WalPoll(current.number, Optional.ofNullable(ended), Optional.ofNullable(rollback),
                Optional.ofNullable(started), records, stop, pending);
    }

    /** How the first record of the current generation relates to what was emitted before. */
    private Continuity continuityOf(WalRecord first, boolean firstPoll) {
        if (firstPoll) {
            return Continuity.FOLLOWER_START;
        }
        if (stableLsn.isEmpty()) {
            return Continuity.UNKNOWN_PREDECESSOR;
        }
        long stable = stableLsn.getAsLong();
        if (first.lsn() == stable + 1) {
            return Continuity.PROVEN;
        }
        return Long.compareUnsigned(first.lsn(), stable) <= 0 ? Continuity.LSN_WENT_BACK : Continuity.LSN_GAP;
    }

    private FileChannel openIfPresent() throws IOException {
        try {
            return FileChannel.open(wal, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            return null;
        }
    }

    /** The file's identity (inode on POSIX), or null where the platform has none. */
    private Object fileKey() throws IOException {
        try {
            return Files.readAttributes(wal, BasicFileAttributes.class).fileKey();
        } catch (NoSuchFileException e) {
            return null; // removed since it was opened; the content checks still apply
        }
    }
}
