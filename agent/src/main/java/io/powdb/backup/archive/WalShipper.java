package io.powdb.backup.archive;

import io.powdb.backup.format.PowDbFiles;
import io.powdb.backup.integrity.HashingInputStream;
import io.powdb.backup.repo.Repository;
import io.powdb.backup.store.BlobAlreadyExistsException;
import io.powdb.backup.store.WriteMode;
import io.powdb.backup.wal.FollowedRecord;
import io.powdb.backup.wal.GenerationStart;
import io.powdb.backup.wal.WalChangedException;
import io.powdb.backup.wal.WalCopier;
import io.powdb.backup.wal.WalFollower;
import io.powdb.backup.wal.WalFormat;
import io.powdb.backup.wal.WalPoll;
import io.powdb.backup.wal.WalRange;
import io.powdb.backup.wal.WalRecord;

import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.OptionalLong;

/**
 * Ships the WAL of a running PowDB into a repository as it grows: each call to {@link #shipOnce()} follows
 * wal.log ({@link WalFollower}) and uploads the new records up to the last COMMIT as one segment (or several,
 * of at most {@code maxSegmentBytes}), write-once, keyed by timeline, generation and LSN range
 * ({@link WalSegment}). Records after the last commit wait: a rollback may still cut them away.
 *
 * <h2>Timelines</h2>
 * A timeline is a run of segments with no committed record missing between them: within one generation of
 * wal.log the segments are back to back, and a new generation (checkpoint, restart) stays in the timeline only
 * when its first LSN is exactly the last shipped commit's + 1 ({@link io.powdb.backup.wal.Continuity#PROVEN}).
 * Anything else starts a new timeline: the shipper starting, LSNs that jumped (records written and
 * checkpointed away between two polls) or went back (a 0.4.x restart reuses LSNs), records that vanished
 * before they could be copied, committed records lost because an upload kept failing until a checkpoint
 * removed them. So a point in time is a timeline and an LSN, and a restore never bridges a gap it cannot see.
 *
 * <h2>Failures</h2>
 * A failed upload keeps the committed records pending and is retried by the next call (the records are
 * copied again from wal.log). Not thread-safe: one thread calls {@link #shipOnce()} repeatedly.
 */
public final class WalShipper {
    public static final long DEFAULT_MAX_SEGMENT_BYTES = 64L << 20;

    private final Repository repository;
    private final Path wal;
    private final Path tempDir;
    private final Clock clock;
    private final long maxSegmentBytes;

    private WalFollower follower;
    private String timeline;
    private int generation;
    private byte[] chain = WalSegment.CHAIN_START;
    private boolean newTimelineNext = true;
    private boolean newGenerationNext;

    // Records emitted by the follower and not shipped yet, all of the follower's current generation.
    private WalRecord pendingFirst;
    private long pendingCount;
    private long pendingDataLsn;
    private WalRecord lastCommit; // the last commit among them, or null
    private long countThroughCommit;
    private WalRecord firstAfterCommit;
    private long dataLsnAfterCommit;

    // What the shipper can vouch for: every commit up to lastShippedLsn is shipped, and nothing was committed
    // after it until coveredUntil (the last poll that saw the generation intact).
    private OptionalLong lastShippedLsn = OptionalLong.empty();
    private Instant coveredUntil;
    private boolean awaitingGeneration;

    public WalShipper(Repository repository, Path dataDir, Path tempDir, Clock clock, long maxSegmentBytes) {
        this.repository = repository;
        this.wal = dataDir.resolve(PowDbFiles.WAL);
        this.tempDir = tempDir;
        this.clock = clock;
        this.maxSegmentBytes = maxSegmentBytes;
        this.follower = new WalFollower(wal);
    }

    public WalShipper(Repository repository, Path dataDir, Path tempDir) {
        this(repository, dataDir, tempDir, Clock.systemUTC(), DEFAULT_MAX_SEGMENT_BYTES);
    }

    /** What one {@link #shipOnce()} did. {@code breaks} says why a timeline ended, one line each. */
    public record Report(int segments, long bytes, long records, String timeline, OptionalLong lastShippedLsn,
            Instant coveredUntil, List<String> breaks) {
    }

    /**
     * Ships what was committed since the last call. Store failures are thrown after the records are kept for
     * the next call; a break of the timeline is not a failure and is reported.
     */
    public Report shipOnce() throws IOException {
        Counters counters = new Counters();
        if (lastCommit != null) {
            ship(counters); // an earlier upload failed: its records go first
        }
        WalPoll poll;
        do {
            Instant polledAt = clock.instant();
            poll = follower.poll();
            apply(poll, counters);
            if (lastCommit != null) {
                ship(counters);
            }
            if (!awaitingGeneration && !newTimelineNext && lastCommit == null && lastShippedLsn.isPresent()) {
                coveredUntil = polledAt;
            }
        } while (poll.pollAgainNow());
        if (counters.failure != null) {
            throw counters.failure instanceof IOException io ? io
                    : new IOException("shipping the WAL failed: " + counters.failure.getMessage(), counters.failure);
        }
        return new Report(counters.segments, counters.bytes, counters.records, timeline, lastShippedLsn, coveredUntil,
                List.copyOf(counters.breaks));
    }

    /** The timeline being written (null before the first segment), for heartbeats and status. */
    public String timeline() {
        return timeline;
    }

    /**
     * Records, in {@code wal/TIMELINE/heartbeat.json}, how far this timeline is known to be complete: every
     * commit up to its last shipped LSN, and nothing committed after it until {@code covered_until}. A restore
     * to a time after the last segment relies on it. Does nothing before the first segment.
     */
    public void writeHeartbeat() throws IOException {
        if (timeline == null || coveredUntil == null || lastShippedLsn.isEmpty()) {
            return;
        }
        Heartbeat beat = new Heartbeat(timeline, lastShippedLsn.getAsLong(), coveredUntil.toString());
        repository.store().putBytes(repository.key(Heartbeat.key(timeline)), beat.encode(), WriteMode.OVERWRITE);
    }

    private void apply(WalPoll poll, Counters counters) {
        if (poll.generationEnd().isPresent()) {
            if (lastCommit != null) {
                timelineBreak(counters, "wal.log was truncated before committed records up to LSN "
                        + Long.toUnsignedString(lastCommit.lsn()) + " could be uploaded");
            }
            clearPending();
            awaitingGeneration = true;
        }
        poll.rollback().ifPresent(rollback -> {
            pendingCount -= rollback.droppedRecords();
            if (pendingCount <= countThroughCommit) {
                pendingCount = countThroughCommit;
                firstAfterCommit = null;
                dataLsnAfterCommit = 0;
            }
            if (pendingCount == 0) {
                clearPending();
            }
        });
        if (poll.generationStart().isPresent()) {
            GenerationStart start = poll.generationStart().get();
            awaitingGeneration = false;
            if (start.continuity().proven() && !newTimelineNext) {
                newGenerationNext = true;
            } else {
                if (timeline != null && !newTimelineNext) {
                    timelineBreak(counters, "wal.log generation starting at LSN " + Long.toUnsignedString(start.firstLsn())
                            + " does not follow on from the last shipped commit (" + start.continuity() + ")");
                }
                newTimelineNext = true;
            }
        }
        for (FollowedRecord followed : poll.records()) {
            add(followed.record());
            if (lastCommit != null && lastCommit.end() - pendingFirst.offset() >= maxSegmentBytes) {
                ship(counters); // on a failure the records stay pending, and the rest of the poll joins them
            }
        }
    }

    private void add(WalRecord record) {
        if (pendingFirst == null) {
            pendingFirst = record;
        }
        pendingCount++;
        boolean data = record.type() == WalFormat.INSERT || record.type() == WalFormat.UPDATE
                || record.type() == WalFormat.DELETE;
        if (record.isCommit()) {
            if (dataLsnAfterCommit != 0) {
                pendingDataLsn = dataLsnAfterCommit;
            }
            lastCommit = record;
            countThroughCommit = pendingCount;
            firstAfterCommit = null;
            dataLsnAfterCommit = 0;
        } else {
            if (lastCommit != null && firstAfterCommit == null) {
                firstAfterCommit = record;
            }
            if (data) {
                if (lastCommit == null) {
                    pendingDataLsn = record.lsn();
                } else {
                    dataLsnAfterCommit = record.lsn();
                }
            }
        }
    }

    private void clearPending() {
        pendingFirst = null;
        pendingCount = 0;
        pendingDataLsn = 0;
        lastCommit = null;
        countThroughCommit = 0;
        firstAfterCommit = null;
        dataLsnAfterCommit = 0;
    }

    /** Uploads the pending records up to the last commit; on a store failure they stay pending. */
    private void ship(Counters counters) {
        if (counters.failure != null) {
            return;
        }
        WalRange range = new WalRange(follower.generation(), pendingFirst.offset(), lastCommit.end(), countThroughCommit,
                pendingFirst.lsn(), pendingFirst.crc(), lastCommit.lsn(), lastCommit.crc());
        Path copy = null;
        try {
            Files.createDirectories(tempDir);
            copy = Files.createTempFile(tempDir, "powdb-backup-wal-", ".seg");
            try (FileChannel out = FileChannel.open(copy, StandardOpenOption.WRITE)) {
                WalCopier.copy(wal, range, out);
            } catch (WalChangedException e) {
                // Gone before it could be copied (a checkpoint): the follower believes it emitted records that
                // are not shipped, so follow afresh, in a new timeline.
                timelineBreak(counters, "records LSN " + Long.toUnsignedString(range.firstLsn()) + ".."
                        + Long.toUnsignedString(range.lastLsn()) + " left wal.log before they could be copied");
                follower = new WalFollower(wal);
                clearPending();
                newTimelineNext = true;
                awaitingGeneration = false;
                return;
            }
            byte[] digest;
            try (HashingInputStream in = new HashingInputStream(Files.newInputStream(copy))) {
                in.drain();
                digest = HexFormat.of().parseHex(in.hex());
            }
            String segmentTimeline = timeline;
            int segmentGeneration = generation;
            byte[] previousChain = chain;
            if (newTimelineNext) {
                segmentTimeline = WalSegment.newTimeline(clock.instant());
                segmentGeneration = 1;
                previousChain = WalSegment.CHAIN_START;
            } else if (newGenerationNext) {
                segmentGeneration = generation + 1;
                previousChain = WalSegment.CHAIN_START;
            }
            byte[] nextChain = WalSegment.nextChain(previousChain, digest);
            WalSegment segment = new WalSegment(segmentTimeline, segmentGeneration, range.startOffset(),
                    range.endOffset(), range.firstLsn(), range.lastLsn(), pendingDataLsn, clock.instant(),
                    HexFormat.of().formatHex(nextChain));
            try (InputStream in = Files.newInputStream(copy)) {
                repository.store().put(repository.key(segment.key()), in, WriteMode.CREATE_NEW);
            } catch (BlobAlreadyExistsException e) {
                throw new IOException("WAL segment " + segment.key() + " already exists: is another agent shipping "
                        + "into this repository?", e);
            }
            timeline = segmentTimeline;
            generation = segmentGeneration;
            chain = nextChain;
            newTimelineNext = false;
            newGenerationNext = false;
            lastShippedLsn = OptionalLong.of(range.lastLsn());
            counters.segments++;
            counters.bytes += range.length();
            counters.records += range.recordCount();
            // The records after the commit stay pending.
            pendingFirst = firstAfterCommit;
            pendingCount -= countThroughCommit;
            pendingDataLsn = dataLsnAfterCommit;
            lastCommit = null;
            countThroughCommit = 0;
            firstAfterCommit = null;
            dataLsnAfterCommit = 0;
        } catch (IOException | RuntimeException e) {
            counters.failure = e;
        } finally {
            if (copy != null) {
                try {
                    Files.deleteIfExists(copy);
                } catch (IOException ignored) {
                    // a leftover temp file; the next run's temp files do not collide with it
                }
            }
        }
    }

    private void timelineBreak(Counters counters, String why) {
        if (timeline != null) {
            counters.breaks.add("timeline " + timeline + " ends at LSN "
                    + lastShippedLsn.stream().mapToObj(Long::toUnsignedString).findFirst().orElse("-") + ": " + why);
        } else {
            counters.breaks.add(why);
        }
        newTimelineNext = true;
    }

    private static final class Counters {
        int segments;
        long bytes;
        long records;
        final List<String> breaks = new ArrayList<>();
        Exception failure;
    }
}
