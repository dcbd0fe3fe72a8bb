package io.powdb.backup.archive;

import io.powdb.backup.scratch.ScratchFiles;
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
import io.powdb.backup.wal.WalPoll;
import io.powdb.backup.wal.WalRange;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HexFormat;
import java.util.List;
import java.util.OptionalLong;

/**
 * Ships the WAL of a running PowDB into a repository as it grows, in two steps of different rhythm:
 *
 * <ul>
 * <li>{@link #poll()}, often (every few hundred milliseconds): follows wal.log ({@link WalFollower}) and copies
 *     every new complete record into a local spool file at once, because a checkpoint may truncate it away at
 *     any moment. Cheap: a few positional reads when nothing changed.</li>
 * <li>{@link #upload()}, less often (every few seconds, to keep the number of objects and requests low):
 *     uploads the spooled records up to the last COMMIT as a segment, write-once, keyed by timeline,
 *     generation and LSN range ({@link WalSegment}). Records after the last commit wait: a rollback may still
 *     cut them away.</li>
 * </ul>
 *
 * <h2>Timelines</h2>
 * A timeline is a run of segments with no committed record missing between them: within one generation of
 * wal.log the segments are back to back, and a new generation (checkpoint, restart) stays in the timeline only
 * when its first LSN is exactly the last committed LSN seen + 1 ({@link io.powdb.backup.wal.Continuity#PROVEN}).
 * Anything else starts a new timeline: the shipper starting, LSNs that jumped (records appended and
 * checkpointed away between two polls), LSNs that went back (a 0.4.x restart reuses LSNs), records that left
 * wal.log between a poll and the copy. So a point in time is a timeline and an LSN, and a restore never bridges
 * a gap it cannot see.
 *
 * <h2>Failures</h2>
 * A failed upload leaves the records in the spool and is retried by the next {@link #upload()}; a generation
 * that ends meanwhile is sealed in its own spool file and uploaded first. Not thread-safe: one thread calls
 * {@link #poll()} and {@link #upload()}.
 */
public final class WalShipper implements AutoCloseable {
    public static final long DEFAULT_MAX_SEGMENT_BYTES = 64L << 20;

    private final Repository repository;
    private final Path wal;
    private final Path tempDir;
    private final Clock clock;
    private final long maxSegmentBytes;

    private WalFollower follower;
    private boolean newTimelineNext = true;
    private boolean newGenerationNext;
    private String timeline; // of the generation being spooled (or, before it starts, of the last one)
    private int generation;
    private Spool current; // the generation being followed, once it has a record
    private final Deque<Spool> sealed = new ArrayDeque<>(); // ended generations with committed records to upload

    private String uploadedTimeline;
    private int uploadedGeneration;
    private byte[] chain = WalSegment.CHAIN_START;
    private OptionalLong lastShippedLsn = OptionalLong.empty();
    private Instant coveredUntil;
    private boolean awaitingGeneration;
    private Instant waitingSince; // when the oldest committed record not yet uploaded was copied
    private final List<String> breaks = new ArrayList<>();

    public WalShipper(Repository repository, Path dataDir, Path tempDir, Clock clock, long maxSegmentBytes) {
        this.repository = repository;
        this.wal = dataDir.resolve(PowDbFiles.WAL);
        this.tempDir = tempDir;
        this.clock = clock;
        this.maxSegmentBytes = maxSegmentBytes;
        this.follower = new WalFollower(wal);
        // The spools of a shipper that was killed (an agent OOM-killed in a loop) would pile up otherwise.
        ScratchFiles.removeAbandoned(tempDir);
    }

    public WalShipper(Repository repository, Path dataDir, Path tempDir) {
        this(repository, dataDir, tempDir, Clock.systemUTC(), DEFAULT_MAX_SEGMENT_BYTES);
    }

    /** What an {@link #upload()} did, and the timeline breaks seen since the last one, a line each. */
    public record Report(int segments, long bytes, long records, String timeline, OptionalLong lastShippedLsn,
            Instant coveredUntil, List<String> breaks) {
    }

    /** Polls and uploads everything committed: for scripts ('ship --once') and tests. */
    public Report shipOnce() throws IOException {
        poll();
        return upload();
    }

    /**
     * Copies what was appended to wal.log since the last poll into the spool, and notes truncations and
     * rollbacks. Returns true when committed records are waiting for {@link #upload()} beyond
     * {@code maxSegmentBytes}, so that the caller uploads early.
     */
    public boolean poll() throws IOException {
        WalPoll poll;
        do {
            Instant polledAt = clock.instant();
            poll = follower.poll();
            apply(poll);
            if (!awaitingGeneration && !newTimelineNext && !hasCommittedWaiting() && lastShippedLsn.isPresent()) {
                coveredUntil = polledAt;
            }
            if (hasCommittedWaiting() && waitingSince == null) {
                waitingSince = polledAt;
            }
        } while (poll.pollAgainNow());
        return current != null && current.committedBytes() >= maxSegmentBytes;
    }

    /**
     * Uploads the committed records spooled so far, sealed generations first. A store failure is thrown after
     * the records are kept for the next call.
     */
    public Report upload() throws IOException {
        int segments = 0;
        long bytes = 0;
        long records = 0;
        while (!sealed.isEmpty()) {
            Spool spool = sealed.peekFirst();
            ship(spool);
            segments++;
            bytes += spool.shippedBytes;
            records += spool.shippedRecords;
            sealed.removeFirst().close();
        }
        if (current != null && current.lastCommit != null) {
            ship(current);
            segments++;
            bytes += current.shippedBytes;
            records += current.shippedRecords;
        }
        waitingSince = null;
        List<String> seen = List.copyOf(breaks);
        breaks.clear();
        return new Report(segments, bytes, records, uploadedTimeline, lastShippedLsn, coveredUntil, seen);
    }

    /**
     * How far uploads are behind wal.log: committed LSNs seen but not uploaded, and for how long the oldest of
     * them has waited (zero when nothing waits).
     */
    public record Lag(long lsns, java.time.Duration behind) {
    }

    public Lag lag() {
        long seen = follower.stableLsn().orElse(0);
        long shipped = lastShippedLsn.orElse(0);
        long lsns = hasCommittedWaiting() && Long.compareUnsigned(seen, shipped) > 0 ? seen - shipped : 0;
        java.time.Duration behind = waitingSince == null ? java.time.Duration.ZERO
                : java.time.Duration.between(waitingSince, clock.instant());
        return new Lag(lsns, behind.isNegative() ? java.time.Duration.ZERO : behind);
    }

    /** The last LSN uploaded, if any. */
    public OptionalLong lastShippedLsn() {
        return lastShippedLsn;
    }

    /** The timeline last uploaded to (null before the first segment), for heartbeats and status. */
    public String timeline() {
        return uploadedTimeline;
    }

    /**
     * Records, in {@code wal/TIMELINE/heartbeat.json}, how far this timeline is known to be complete: every
     * commit up to its last shipped LSN, and nothing committed after it until {@code covered_until}. A restore
     * to a time after the last segment relies on it. Does nothing before the first segment.
     */
    public void writeHeartbeat() throws IOException {
        if (uploadedTimeline == null || coveredUntil == null || lastShippedLsn.isEmpty() || newTimelineNext
                || !uploadedTimeline.equals(timeline)) {
            return;
        }
        Heartbeat beat = new Heartbeat(uploadedTimeline, lastShippedLsn.getAsLong(), coveredUntil.toString());
        repository.store().putBytes(repository.key(Heartbeat.key(uploadedTimeline)), beat.encode(), WriteMode.OVERWRITE);
    }

    @Override
    public void close() throws IOException {
        for (Spool s : sealed) {
            s.close();
        }
        sealed.clear();
        if (current != null) {
            current.close();
            current = null;
        }
    }

    private boolean hasCommittedWaiting() {
        return !sealed.isEmpty() || (current != null && current.lastCommit != null);
    }

    private void apply(WalPoll poll) throws IOException {
        if (poll.generationEnd().isPresent()) {
            endGeneration();
            awaitingGeneration = true;
        }
        if (poll.rollback().isPresent() && current != null) {
            current.rollBack(poll.rollback().get().newEndOffset(), poll.rollback().get().droppedRecords());
        }
        if (poll.generationStart().isPresent()) {
            GenerationStart start = poll.generationStart().get();
            awaitingGeneration = false;
            if (start.continuity().proven() && !newTimelineNext) {
                newGenerationNext = true;
            } else {
                if (timeline != null && !newTimelineNext) {
                    timelineBreak("wal.log generation starting at LSN " + Long.toUnsignedString(start.firstLsn())
                            + " does not follow on from the last commit seen (" + start.continuity() + ")");
                }
                newTimelineNext = true;
            }
        }
        if (poll.records().isEmpty()) {
            return;
        }
        if (current == null) {
            if (newTimelineNext) {
                timeline = WalSegment.newTimeline(clock.instant());
                generation = 1;
            } else if (newGenerationNext) {
                generation++;
            }
            newTimelineNext = false;
            newGenerationNext = false;
            current = Spool.create(tempDir, timeline, generation, poll.records().get(0).record());
        }
        WalRange range = WalRange.of(poll.records());
        try {
            current.write(range, out -> WalCopier.copy(wal, range, out));
        } catch (WalChangedException e) {
            // Gone before it could be copied (a checkpoint): what was spooled before stays good; the follower
            // believes it emitted records that are not spooled, so follow afresh, in a new timeline.
            timelineBreak("records LSN " + Long.toUnsignedString(range.firstLsn()) + ".."
                    + Long.toUnsignedString(range.lastLsn()) + " left wal.log before they could be copied");
            endGeneration();
            follower = new WalFollower(wal);
            newTimelineNext = true;
            awaitingGeneration = false;
            return;
        }
        for (FollowedRecord r : poll.records()) {
            current.add(r.record());
        }
    }

    /** The followed generation is over: its committed records go to the sealed queue, the rest is abandoned. */
    private void endGeneration() throws IOException {
        if (current == null) {
            return;
        }
        if (current.lastCommit != null) {
            current.seal();
            sealed.addLast(current);
        } else {
            current.close();
        }
        current = null;
    }

    /** Uploads a spool's records up to its last commit as one segment, then drops them from the spool. */
    private void ship(Spool spool) throws IOException {
        Spool.Cut cut = spool.committed();
        byte[] digest;
        try (HashingInputStream in = new HashingInputStream(spool.read(cut.length()))) {
            in.drain();
            digest = HexFormat.of().parseHex(in.hex());
        }
        boolean continues = spool.timeline.equals(uploadedTimeline) && spool.generation == uploadedGeneration;
        byte[] next = WalSegment.nextChain(continues ? chain : WalSegment.CHAIN_START, digest);
        WalSegment segment = new WalSegment(spool.timeline, spool.generation, cut.startOffset(), cut.endOffset(),
                cut.firstLsn(), cut.lastLsn(), cut.lastDataLsn(), clock.instant(), HexFormat.of().formatHex(next));
        try (InputStream in = spool.read(cut.length())) {
            repository.putSegment(segment.key(), in);
        } catch (BlobAlreadyExistsException e) {
            throw new IOException("WAL segment " + segment.key() + " already exists: is another agent shipping into "
                    + "this repository?", e);
        }
        uploadedTimeline = spool.timeline;
        uploadedGeneration = spool.generation;
        chain = next;
        lastShippedLsn = OptionalLong.of(cut.lastLsn());
        spool.shipped(cut);
    }

    private void timelineBreak(String why) {
        String last = lastShippedLsn.isPresent() ? Long.toUnsignedString(lastShippedLsn.getAsLong()) : "-";
        breaks.add(timeline != null ? "timeline " + timeline + " (last shipped LSN " + last + "): " + why : why);
        newTimelineNext = true;
    }
}
