package io.powdb.backup.backup;

import io.powdb.backup.repo.WalAnchor;
import io.powdb.backup.wal.FollowedRecord;
import io.powdb.backup.wal.WalChangedException;
import io.powdb.backup.wal.WalCopier;
import io.powdb.backup.wal.WalFollower;
import io.powdb.backup.wal.WalPoll;
import io.powdb.backup.wal.WalRange;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * Follows wal.log for the length of a live capture and copies every committed record into a spool file as
 * soon as it appears, because a checkpoint may truncate it away at any moment. The spool ends on a commit:
 * records rolled back or abandoned by a new generation are cut off again.
 *
 * <p>The capture is usable only if the copy of the WAL is continuous from the WAL's first record at the start
 * of the capture to its end: any generation change whose continuity the follower cannot prove, any record
 * that changed before it could be copied, and any record seen when the WAL was empty at the start (the LSN
 * counter is then unknown, see docs/LIVE-CAPTURE.md) make it {@link #broken()}, and the caller captures again.
 *
 * <p>Heaps are captured by several threads at once, each polling between its reads: the methods are synchronized.
 */
final class WalCapture implements AutoCloseable {
    private final Path wal;
    private final WalFollower follower;
    private final FileChannel spool;
    private boolean emptyAtStart;
    private boolean sawRecords;
    private String broken;
    /** Where in the spool the current generation's first copied record starts, and its offset in wal.log. */
    private long generationSpoolBase = -1;
    private long generationFileBase;
    private long currentGeneration = -1;
    private long stableSpoolLength;
    /** A generation ended and the next has not shown its first record: continuity is not yet judged. */
    private boolean awaitingGeneration;
    private OptionalLong stableLsn = OptionalLong.empty();
    /** The first record of the generation being followed, once seen. */
    private FollowedRecord generationFirst;

    WalCapture(Path wal, Path spoolFile) throws IOException {
        this.wal = wal;
        this.follower = new WalFollower(wal);
        this.spool = FileChannel.open(spoolFile, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
    }

    /** Reads the WAL as it is at the start of the capture. */
    synchronized void start() throws IOException {
        poll();
        emptyAtStart = !sawRecords;
    }

    /** Catches up with what was appended, truncated or rolled back since the last poll. */
    synchronized void poll() throws IOException {
        WalPoll poll;
        do {
            poll = follower.poll();
            apply(poll);
        } while (poll.pollAgainNow() && broken == null);
    }

    private void apply(WalPoll poll) throws IOException {
        if (broken != null) {
            return;
        }
        if (poll.generationEnd().isPresent()) {
            // Uncommitted records of the ended generation are abandoned; committed ones stay.
            spool.truncate(stableSpoolLength);
            generationSpoolBase = -1;
            awaitingGeneration = true;
        }
        if (poll.generationStart().isPresent()) {
            awaitingGeneration = false;
        }
        if (poll.generationEnd().isPresent()) {
            generationFirst = null;
        }
        if (poll.rollback().isPresent() && generationSpoolBase >= 0) {
            long cut = generationSpoolBase + (poll.rollback().get().newEndOffset() - generationFileBase);
            spool.truncate(Math.max(cut, stableSpoolLength));
        }
        if (poll.gapPossible()) {
            broken = "wal.log was checkpointed or restarted during the capture and records may have been missed ("
                    + poll.generationStart().get().continuity() + ")";
            return;
        }
        if (poll.records().isEmpty()) {
            return;
        }
        if (emptyAtStart && !sawRecords) {
            broken = "writes began during the capture while wal.log was empty at its start";
            return;
        }
        sawRecords = true;
        FollowedRecord first = poll.records().get(0);
        if (generationFirst == null || generationFirst.generation() != first.generation()) {
            generationFirst = first;
        }
        if (generationSpoolBase < 0 || first.generation() != currentGeneration) {
            currentGeneration = first.generation();
            generationSpoolBase = spool.size();
            generationFileBase = first.offset();
        }
        long at = generationSpoolBase + (first.offset() - generationFileBase);
        spool.truncate(at);
        spool.position(at);
        try {
            WalCopier.copy(wal, WalRange.of(poll.records()), spool);
        } catch (WalChangedException e) {
            broken = "wal.log changed before its records could be copied: " + e.getMessage();
            return;
        }
        for (FollowedRecord record : poll.records()) {
            if (record.isCommit()) {
                stableSpoolLength = generationSpoolBase + (record.end() - generationFileBase);
                stableLsn = OptionalLong.of(record.lsn());
            }
        }
    }

    /**
     * Why the copy of the WAL cannot be trusted, or empty when it can. Asked at the end of a capture, a WAL
     * truncated since the last record seen counts too: until the next generation's first record shows whether
     * its LSN follows on, records written and checkpointed away in between cannot be ruled out, and the
     * pages read may hold their changes.
     */
    synchronized Optional<String> broken() {
        if (broken == null && awaitingGeneration) {
            return Optional.of("wal.log was truncated (a checkpoint or restart) at the end of the capture, so "
                    + "whether records were missed cannot be told yet");
        }
        return Optional.ofNullable(broken);
    }

    synchronized boolean emptyAtStart() {
        return emptyAtStart;
    }

    /** True when any record was seen during the capture. */
    synchronized boolean sawRecords() {
        return sawRecords;
    }

    /** The LSN of the last committed record copied, if any. */
    synchronized OptionalLong stableLsn() {
        return stableLsn;
    }

    /**
     * Where the copy stands in the server's WAL, once {@link #finish()} cut it: the current generation's first
     * record and how much of that generation the copy holds (see {@link WalAnchor}). Empty when no record was
     * seen, or when the copy of the generation does not start at its first record.
     *
     * @param headerLength bytes the restored wal.log holds before the spool (the 0.5 file header)
     */
    synchronized Optional<WalAnchor> anchor(int headerLength) throws IOException {
        if (generationFirst == null || generationSpoolBase < 0 || generationFileBase != generationFirst.offset()) {
            return Optional.empty();
        }
        long stable = spool.size();
        long held = Math.max(0, stable - generationSpoolBase);
        long walOffset = headerLength + Math.min(generationSpoolBase, stable);
        return Optional.of(new WalAnchor(walOffset, generationFileBase, generationFileBase + held,
                generationFirst.lsn(), Integer.toUnsignedLong(generationFirst.record().crc())));
    }

    /** Cuts the spool after its last commit and makes it durable; returns its length. */
    synchronized long finish() throws IOException {
        spool.truncate(stableSpoolLength);
        spool.force(true);
        return stableSpoolLength;
    }

    @Override
    public synchronized void close() throws IOException {
        spool.close();
    }
}
