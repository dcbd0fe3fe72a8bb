package io.powdb.backup.archive;

import io.powdb.backup.format.PowDbFiles;
import io.powdb.backup.repo.BackupCatalog;
import io.powdb.backup.repo.FileEntry;
import io.powdb.backup.repo.Manifest;
import io.powdb.backup.repo.RepositoryException;
import io.powdb.backup.repo.RestorePoint;
import io.powdb.backup.repo.WalAnchor;

import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Finds how to restore to an LSN or a time: the newest backup at or before it (in the newest history) and
 * the shipped WAL that continues that backup up to the point. A backup is continued by a timeline when:
 *
 * <ul>
 * <li>the backup copied WAL records (crash-consistent, {@link WalAnchor}): a generation of the timeline
 *     starts with the same first record at the same offset, and its segments hold everything up to where the
 *     backup's copy ends (restore then proves the bytes are the same); or</li>
 * <li>a generation of the timeline starts with the LSN right after the backup's last committed WAL record:
 *     LSNs count records, so nothing lies between (the rule the follower proves continuity by); or</li>
 * <li>the backup's WAL was empty (a checkpointed moment): it falls between two generations of the timeline,
 *     after the earlier one's last segment was shipped and its last data record reached the pages
 *     (the backup's LSN is at or above it), and before the next one began (below its first LSN, taken before
 *     its first segment was shipped).</li>
 * </ul>
 *
 * From there the segments must follow back to back up to the point; the first hole ends the walk, and a point
 * beyond it is refused with the missing range named. Nothing here reads more than the listing.
 */
public final class PointInTimePlanner {
    private final BackupCatalog catalog;
    private final WalArchive archive;

    public PointInTimePlanner(BackupCatalog catalog, WalArchive archive) {
        this.catalog = catalog;
        this.archive = archive;
    }

    /** Where a timeline continues a backup: a generation and the file offset appending starts at. */
    private record Join(WalArchive.Timeline timeline, int generationNumber, long offset, List<WalSegment> checked) {
    }

    /** How far a walk from a join got. */
    private record Walk(Join join, List<WalSegment> applied, boolean reached, long reachLsn, String missing) {
    }

    /**
     * @param timeline restrict the WAL to this timeline, or null for any (the newest that reaches wins)
     */
    public WalPlan plan(RestorePoint point, String timeline) throws IOException {
        if (point instanceof RestorePoint.Latest || point instanceof RestorePoint.ById) {
            return WalPlan.baseOnly(catalog.resolve(point));
        }
        List<Manifest> candidates = catalog.candidates(point);
        Manifest newest = candidates.get(0);
        if (exactly(newest, point)) {
            return WalPlan.baseOnly(newest);
        }
        Walk best = null;
        Manifest bestBase = null;
        for (Manifest base : candidates) {
            for (Join join : joins(base, timeline)) {
                Walk walk = walk(join, point);
                if (walk.reached) {
                    if (walk.applied.isEmpty()) {
                        return WalPlan.baseOnly(base);
                    }
                    return new WalPlan(base, join.timeline.id(), join.checked, walk.applied, join.generationNumber, join.offset,
                            stopLsn(walk, point));
                }
                if (best == null) {
                    best = walk;
                    bestBase = base;
                }
            }
        }
        throw new RepositoryException(refusal(point, newest, bestBase, best, timeline));
    }

    /** The plan for a point, in words, for diagnostics. */
    public String describe(RestorePoint point) {
        try {
            WalPlan plan = plan(point, null);
            return "base " + plan.base().id() + " anchor " + plan.base().walAnchor() + " wal_end " + plan.base().walEndLsn()
                    + " timeline " + plan.timeline() + " from " + plan.fromOffset() + " checked " + plan.checked()
                    + " applied " + plan.applied();
        } catch (IOException e) {
            return e.getMessage();
        }
    }

    private static boolean exactly(Manifest base, RestorePoint point) {
        if (point instanceof RestorePoint.AtOrBeforeLsn lsn) {
            return base.sourceLsn() == lsn.lsn();
        }
        return base.createdAt().equals(((RestorePoint.AtOrBeforeTime) point).time());
    }

    private static long stopLsn(Walk walk, RestorePoint point) {
        if (point instanceof RestorePoint.AtOrBeforeLsn lsn) {
            return lsn.lsn();
        }
        return walk.applied.get(walk.applied.size() - 1).lastLsn();
    }

    private List<Join> joins(Manifest base, String only) {
        List<Join> joins = new ArrayList<>();
        List<WalArchive.Timeline> timelines = new ArrayList<>(archive.timelines());
        java.util.Collections.reverse(timelines); // newest first
        for (WalArchive.Timeline t : timelines) {
            if (only != null && !only.equals(t.id())) {
                continue;
            }
            WalAnchor anchor = base.walAnchor();
            for (int i = 0; i < t.generations().size(); i++) {
                WalArchive.Generation g = t.generations().get(i);
                WalSegment first = g.segments().get(0);
                if (base.walEndLsn() != null && first.firstLsn() == base.walEndLsn() + 1
                        && base.createdAt().isBefore(first.shippedAt())) {
                    // The generation's first record is the one right after the backup's last commit.
                    joins.add(new Join(t, g.number(), first.startOffset(), List.of()));
                } else if (anchor != null) {
                    if (first.startOffset() == anchor.fileOffset() && first.firstLsn() == anchor.firstLsn()) {
                        prefix(g, anchor.endOffset()).ifPresent(checked -> joins.add(new Join(t, g.number(),
                                anchor.endOffset(), checked)));
                    }
                } else if (i > 0 && walIsEmpty(base)) {
                    WalArchive.Generation before = t.generations().get(i - 1);
                    WalSegment beforeLast = before.segments().get(before.segments().size() - 1);
                    long lastData = before.lastDataLsn();
                    Instant taken = base.createdAt();
                    if (lastData != 0 && Long.compareUnsigned(base.sourceLsn(), lastData) >= 0
                            && Long.compareUnsigned(base.sourceLsn(), first.firstLsn()) < 0
                            && taken.isAfter(beforeLast.shippedAt()) && taken.isBefore(first.shippedAt())) {
                        joins.add(new Join(t, g.number(), first.startOffset(), List.of()));
                    }
                }
            }
        }
        return joins;
    }

    /** The segments wholly before {@code end}, if the generation holds [start, end] back to back; else empty. */
    private static Optional<List<WalSegment>> prefix(WalArchive.Generation g, long end) {
        List<WalSegment> checked = new ArrayList<>();
        long at = g.segments().get(0).startOffset();
        for (WalSegment s : g.segments()) {
            if (s.startOffset() != at) {
                return Optional.empty();
            }
            if (s.endOffset() > end) {
                return Optional.of(checked); // s holds the end: it is applied, its head compared
            }
            checked.add(s);
            at = s.endOffset();
            if (at == end) {
                return Optional.of(checked);
            }
        }
        return at == end ? Optional.of(checked) : Optional.empty();
    }

    private static boolean walIsEmpty(Manifest base) {
        if (base.walEndLsn() != null) {
            return false;
        }
        for (FileEntry f : base.files()) {
            if (f.name().equals(PowDbFiles.WAL)) {
                return f.size() <= io.powdb.backup.wal.WalFormat.FILE_HEADER_SIZE;
            }
        }
        return true;
    }

    private Walk walk(Join join, RestorePoint point) {
        List<WalSegment> applied = new ArrayList<>();
        List<WalArchive.Generation> generations = join.timeline.generations();
        int index = indexOf(generations, join.generationNumber);
        long reach = 0;
        boolean reachKnown = false;
        WalSegment previous = join.checked.isEmpty() ? null : join.checked.get(join.checked.size() - 1);
        for (int gi = index; gi < generations.size(); gi++) {
            WalArchive.Generation g = generations.get(gi);
            long expectOffset = gi == index ? join.offset : g.segments().get(0).startOffset();
            if (gi > index) {
                WalSegment first = g.segments().get(0);
                if (previous != null && first.firstLsn() != previous.lastLsn() + 1) {
                    return new Walk(join, applied, false, reach, missing(previous, first));
                }
            }
            for (WalSegment s : g.segments()) {
                if (s.endOffset() <= expectOffset && gi == index) {
                    continue; // before the join: the base holds it
                }
                if (gi == index && applied.isEmpty() && s.startOffset() <= expectOffset) {
                    // the segment holding the join point, or starting at it
                } else if (previous != null && s.generation() == previous.generation() && s.startOffset() != previous.endOffset()) {
                    return new Walk(join, applied, false, reach, missing(previous, s));
                }
                if (beyond(s, point)) {
                    return new Walk(join, applied, true, reach, null);
                }
                applied.add(s);
                previous = s;
                reach = s.lastLsn();
                reachKnown = true;
                if (point instanceof RestorePoint.AtOrBeforeLsn lsn && Long.compareUnsigned(s.lastLsn(), lsn.lsn()) >= 0) {
                    return new Walk(join, applied, true, reach, null);
                }
            }
        }
        // The end of what was shipped: a time target within the heartbeat's coverage is reached.
        if (point instanceof RestorePoint.AtOrBeforeTime time && join.timeline.heartbeat().isPresent()) {
            Heartbeat beat = join.timeline.heartbeat().get();
            Optional<WalSegment> last = join.timeline.last();
            if (last.isPresent() && beat.shippedLsn() == last.get().lastLsn() && !beat.coveredAt().isBefore(time.time())
                    && (previous == null || previous.equals(last.get()))) {
                return new Walk(join, applied, true, reach, null);
            }
        }
        String end = reachKnown ? "LSN " + Long.toUnsignedString(reach) : "the backup";
        return new Walk(join, applied, false, reach, "nothing is shipped after " + end + " in timeline "
                + join.timeline.id() + (previous != null ? " (last segment shipped " + previous.shippedAt() + ")" : ""));
    }

    private static int indexOf(List<WalArchive.Generation> generations, int number) {
        for (int i = 0; i < generations.size(); i++) {
            if (generations.get(i).number() == number) {
                return i;
            }
        }
        throw new IllegalStateException("no generation " + number);
    }

    /** True when a segment lies wholly past the point: the walk has everything up to the point. */
    private static boolean beyond(WalSegment s, RestorePoint point) {
        if (point instanceof RestorePoint.AtOrBeforeLsn lsn) {
            return Long.compareUnsigned(s.firstLsn(), lsn.lsn()) > 0;
        }
        return s.shippedAt().isAfter(((RestorePoint.AtOrBeforeTime) point).time());
    }

    private static String missing(WalSegment previous, WalSegment next) {
        return "WAL is missing between LSN " + Long.toUnsignedString(previous.lastLsn()) + " and LSN "
                + Long.toUnsignedString(next.firstLsn()) + " in timeline " + previous.timeline() + " (records LSN "
                + Long.toUnsignedString(previous.lastLsn() + 1) + ".." + Long.toUnsignedString(next.firstLsn() - 1)
                + " were never shipped or their segment is gone)";
    }

    private static String refusal(RestorePoint point, Manifest newest, Manifest bestBase, Walk best, String timeline) {
        StringBuilder why = new StringBuilder("cannot restore to ").append(point).append(": ");
        String basePoint = "LSN " + Long.toUnsignedString(newest.sourceLsn()) + " (backup " + newest.id() + ", taken "
                + newest.created() + ")";
        if (best == null) {
            why.append("the newest backup before it is at ").append(basePoint).append(", and no shipped WAL")
                    .append(timeline != null ? " of timeline " + timeline : "")
                    .append(" continues it or an earlier backup, so LSN ")
                    .append(Long.toUnsignedString(newest.sourceLsn() + 1)).append(" onward is missing");
        } else {
            why.append("the shipped WAL continuing backup ").append(bestBase.id()).append(" stops short: ")
                    .append(best.missing);
            if (best.reachLsn != 0) {
                why.append(". The latest point it reaches is LSN ").append(Long.toUnsignedString(best.reachLsn));
            }
        }
        why.append(". Restore to a point that is covered (--to-lsn ")
                .append(Long.toUnsignedString(best != null && best.reachLsn != 0 ? best.reachLsn : newest.sourceLsn()))
                .append(", or --backup ").append(newest.id())
                .append("); 'powdb-backup list' shows the backups and the shipped WAL.");
        return why.toString();
    }
}
