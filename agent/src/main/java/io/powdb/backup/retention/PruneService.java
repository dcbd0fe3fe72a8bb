package io.powdb.backup.retention;

import io.powdb.backup.archive.Heartbeat;
import io.powdb.backup.archive.WalSegment;
import io.powdb.backup.crypto.KeyObject;
import io.powdb.backup.repo.BackupId;
import io.powdb.backup.repo.FileEntry;
import io.powdb.backup.repo.IntegrityException;
import io.powdb.backup.repo.Json;
import io.powdb.backup.repo.Manifest;
import io.powdb.backup.repo.ObjectRef;
import io.powdb.backup.repo.Repository;
import io.powdb.backup.repo.RepositoryException;
import io.powdb.backup.repo.WalAnchor;
import io.powdb.backup.retention.PrunePlan.Deletion;
import io.powdb.backup.retention.PrunePlan.KeptBackup;
import io.powdb.backup.retention.PrunePlan.Rule;
import io.powdb.backup.store.BlobInfo;
import io.powdb.backup.store.BlobNotFoundException;
import io.powdb.backup.store.local.LocalBlobStore;

import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Deletes what a {@link RetentionPolicy} no longer keeps: backups (manifest first, then the data objects no kept
 * backup names), leftovers of interrupted backups, and shipped WAL older than anything a kept backup can be
 * continued with.
 *
 * <h2>Planning</h2>
 * {@link #plan} lists {@code manifests/}, {@code data/} and {@code wal/} once each, in that order (a backup that
 * finishes meanwhile has data objects listed but no manifest: a young leftover, which the grace period keeps), and
 * reads every manifest once. A manifest that cannot be read stops the plan: prune cannot tell which objects that
 * backup needs, so it deletes nothing. The rules:
 *
 * <ul>
 * <li>The kept backups are the union of the count rule, the time rule and the newest backup, closed under
 *     ancestry (every kept incremental keeps its parent, recursively, and its chain's full backup).</li>
 * <li>A data object named by any kept manifest is never deleted, wherever it lives (incrementals name objects of
 *     earlier backups of their chain). Objects in the session of a kept backup are never deleted.</li>
 * <li>The other objects of a deleted backup's session are deleted. Objects of a session with no manifest at all
 *     (an interrupted backup, or one in progress) are deleted only once the session (its time is in its name) is
 *     older than the grace period.</li>
 * <li>Shipped WAL is deleted by whole (timeline, generation), and only as a prefix of its timeline: a generation
 *     goes only if every segment of it, and of every earlier generation of the timeline, was shipped before the
 *     oldest kept backup was taken (less {@link #CLOCK_SKEW_MARGIN}) and before the grace period. A generation
 *     that a kept backup may join (its WAL anchor, the LSN after its last commit, or for a backup of a
 *     checkpointed moment the generation before the one it joins, whose end the join is checked against) stays,
 *     with everything after it; so does the last generation of a timeline whose heartbeat says it was still
 *     being shipped then. A timeline that loses every segment loses its heartbeat; a heartbeat with no segments
 *     goes once older than the grace period. No WAL is deleted when no backup is kept.</li>
 * <li>Keys prune does not recognise under {@code data/}, {@code wal/} and {@code manifests/} are never deleted,
 *     and nothing outside them is ever looked at.</li>
 * </ul>
 *
 * <h2>Executing</h2>
 * {@link #execute} deletes manifests first, newest first (an incremental before the backup it builds on), so that
 * every manifest left at any moment describes a backup whose chain and objects all exist; then data objects, then
 * WAL segments oldest first, then heartbeats. Deleting is idempotent: a prune interrupted at any point leaves a
 * consistent repository, and the next prune plans what is left (objects of backups whose manifests are gone are
 * then leftovers, deleted once older than the grace period). Last, on a local store, the temp files of writes that
 * were killed before they were published, once older than the grace period.
 */
public final class PruneService {
    /** Shipped WAL within this much before the oldest kept backup is kept, in case the two clocks disagree. */
    public static final Duration CLOCK_SKEW_MARGIN = Duration.ofMinutes(5);

    private static final String MANIFESTS = "manifests/";
    private static final String DATA = "data/";
    private static final int MAX_HEARTBEAT_BYTES = 1 << 16;
    private static final String SESSION = "\\d{8}T\\d{9}Z-[0-9a-f]{6}";
    private static final Pattern DATA_KEY = Pattern.compile("data/(" + SESSION + ")/(?:files|heaps|maps)/.+");
    private static final Pattern HEARTBEAT_KEY = Pattern.compile("wal/(" + SESSION + ")/heartbeat\\.json");
    private static final Pattern KEY_OBJECT = Pattern.compile("keys/(backup|wal)-(" + SESSION + ")\\.key");
    private static final String NO_LSN = "0".repeat(20);

    /** Newest first: by creation time, then id (the order {@code BackupCatalog.latest()} uses). */
    static final Comparator<BackupId> NEWEST_FIRST = Comparator.comparing(BackupId::created)
            .thenComparing(BackupId::toString).reversed();

    private final Repository repository;

    /** A service for {@link #execute(Repository, PrunePlan)}. */
    public PruneService() {
        this(null);
    }

    /** A service bound to one repository, for {@link #execute(PrunePlan)}. */
    public PruneService(Repository repository) {
        this.repository = repository;
    }

    /**
     * What {@link #execute} deleted. A store error stops the prune: {@code failure} says what failed, and the
     * counts say what was done before it. The repository is consistent either way, and a later prune finishes.
     *
     * @param planned the number of objects the plan named
     * @param failure null when every deletion of the plan was done
     */
    public record Result(int manifestsDeleted, int dataObjectsDeleted, int walSegmentsDeleted, int heartbeatsDeleted,
            int keyObjectsDeleted, long bytesDeleted, int planned, String failure) {

        public boolean complete() {
            return failure == null;
        }

        public int objectsDeleted() {
            return manifestsDeleted + dataObjectsDeleted + walSegmentsDeleted + heartbeatsDeleted + keyObjectsDeleted;
        }
    }

    /**
     * What pruning {@code repository} with {@code policy} would delete now ({@code clock}'s instant): deletes
     * nothing.
     *
     * @throws RepositoryException when a manifest cannot be read (nothing can be planned safely)
     */
    public static PrunePlan plan(Repository repository, RetentionPolicy policy, Clock clock) throws IOException {
        return new Planner(repository, policy, clock.instant()).plan();
    }

    /**
     * Carries out a plan of this repository, in the order that keeps the repository consistent at every moment.
     * A store error stops it; the result says what was done, and the next prune finishes the job.
     */
    public Result execute(PrunePlan plan) {
        if (repository == null) {
            throw new IllegalStateException("this PruneService has no repository: use execute(repository, plan)");
        }
        return execute(repository, plan);
    }

    /**
     * Carries out a plan of {@code repository}, in the order that keeps the repository consistent at every moment.
     * A store error stops it; the result says what was done, and the next prune finishes the job.
     *
     * @throws IllegalArgumentException when the plan was made for another repository
     */
    public Result execute(Repository repository, PrunePlan plan) {
        if (!plan.repository().equals(repository.location())) {
            throw new IllegalArgumentException("this prune plan was made for " + plan.repository() + ", not for "
                    + repository.location());
        }
        int[] counts = new int[5];
        long bytes = 0;
        // Data keys go last: until everything encrypted with one is gone, it must stay.
        List<List<Deletion>> phases = List.of(plan.manifests(), plan.dataObjects(), plan.walSegments(), plan.heartbeats(),
                plan.keyObjects());
        for (int phase = 0; phase < phases.size(); phase++) {
            for (Deletion d : phases.get(phase)) {
                try {
                    repository.delete(d.key());
                } catch (IOException | RuntimeException e) {
                    int done = counts[0] + counts[1] + counts[2] + counts[3] + counts[4];
                    String failure = "deleting " + d.key() + " from " + repository.location() + " failed ("
                            + (e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage()) + "); stopped after "
                            + done + " of " + plan.objectCount() + " objects. Every remaining backup is intact; run "
                            + "prune again to finish.";
                    return new Result(counts[0], counts[1], counts[2], counts[3], counts[4], bytes, plan.objectCount(),
                            failure);
                }
                counts[phase]++;
                bytes += d.size();
            }
        }
        try {
            removeAbandonedTempFiles(repository, plan.policy().grace());
        } catch (IOException | RuntimeException e) {
            return new Result(counts[0], counts[1], counts[2], counts[3], counts[4], bytes, plan.objectCount(), "removing the "
                    + "temp files of interrupted writes from " + repository.location() + " failed ("
                    + (e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage()) + "). Every remaining "
                    + "backup is intact; run prune again to finish.");
        }
        return new Result(counts[0], counts[1], counts[2], counts[3], counts[4], bytes, plan.objectCount(), null);
    }

    /**
     * A write killed before it was published (kill -9, power loss) leaves its temp file in a local store's
     * {@code .tmp/}, which no listing shows and nothing else ever removes; they go once older than the grace
     * period, like other leftovers, so that a write in progress is never touched. (An object store keeps such
     * bytes as an incomplete multipart upload instead: a bucket lifecycle rule removes those.)
     */
    private static void removeAbandonedTempFiles(Repository repository, Duration grace) throws IOException {
        if (repository.store() instanceof LocalBlobStore local) {
            local.removeStaleTempFiles(grace.toMillis());
        }
    }

    /** A data object as listed: key relative to the repository, size, and its session's name and time. */
    private record DataObject(String key, long size, String session, Instant sessionTime) {
    }

    /** A WAL segment as listed. */
    private record Segment(WalSegment segment, String key, long size) {
    }

    /** One prune's planning state. */
    private static final class Planner {
        private final Repository repository;
        private final RetentionPolicy policy;
        private final Instant now;
        private final String root;
        private final List<String> warnings = new ArrayList<>();
        private int unrecognised;

        private final Map<BackupId, BlobInfo> manifestObjects = new TreeMap<>();
        private final List<DataObject> dataObjects = new ArrayList<>();
        /** timeline → generation number → segments in offset order. */
        private final Map<String, TreeMap<Integer, List<Segment>>> timelines = new TreeMap<>();
        private final Map<String, BlobInfo> heartbeats = new TreeMap<>();
        /** Data key objects by kind ("backup" or "wal") and session or timeline. */
        private final Map<String, BlobInfo> keyObjects = new TreeMap<>();
        private final Map<BackupId, Manifest> manifests = new HashMap<>();

        Planner(Repository repository, RetentionPolicy policy, Instant now) {
            this.repository = repository;
            this.policy = policy;
            this.now = now;
            this.root = repository.key("");
        }

        PrunePlan plan() throws IOException {
            listManifests();
            listData();
            listWal();
            listKeys();
            readManifests();

            Map<BackupId, EnumSet<Rule>> kept = keptBackups();
            List<BackupId> deleted = new ArrayList<>();
            for (BackupId id : manifestObjects.keySet()) {
                if (!kept.containsKey(id)) {
                    deleted.add(id);
                }
            }
            deleted.sort(NEWEST_FIRST);
            List<Deletion> manifestDeletions = new ArrayList<>();
            for (BackupId id : deleted) {
                manifestDeletions.add(new Deletion(Repository.manifestKey(id), manifestObjects.get(id).size()));
            }
            List<Deletion> dataDeletions = dataDeletions(kept.keySet(), deleted);
            List<Deletion> segmentDeletions = new ArrayList<>();
            List<Deletion> heartbeatDeletions = new ArrayList<>();
            Instant walKeptFrom = walDeletions(kept.keySet(), segmentDeletions, heartbeatDeletions);
            List<Deletion> keyDeletions = keyDeletions(kept.keySet(), manifestDeletions, dataDeletions, segmentDeletions);

            if (unrecognised > 0) {
                warnings.add(unrecognised + " objects under manifests/, data/ or wal/ are not named the way powdb-backup"
                        + " names its objects; prune leaves them alone");
            }
            List<KeptBackup> keptList = new ArrayList<>();
            List<BackupId> keptIds = new ArrayList<>(kept.keySet());
            keptIds.sort(NEWEST_FIRST);
            for (BackupId id : keptIds) {
                Manifest m = manifests.get(id);
                keptList.add(new KeptBackup(id, m.type(), BackupId.parse(m.chain()), id.created(), List.copyOf(kept.get(id))));
            }
            return new PrunePlan(repository.location(), now, policy, keptList, deleted, manifestDeletions, dataDeletions,
                    segmentDeletions, heartbeatDeletions, keyDeletions, walKeptFrom, warnings);
        }

        private void listKeys() throws IOException {
            for (BlobInfo info : repository.store().listAll(repository.key(KeyObject.PREFIX))) {
                Matcher m = KEY_OBJECT.matcher(relative(info));
                if (m.matches() && backupId(NO_LSN + "-" + m.group(2)).isPresent()) {
                    keyObjects.put(m.group(1) + "-" + m.group(2), info);
                } else {
                    unrecognised++;
                }
            }
        }

        /**
         * The data keys nothing left needs. A backup's key stays while any manifest of its session stays, any
         * kept backup names an object of its session, or any object of its session stays; a session neither
         * deleted nor older than the grace period (a backup in progress) keeps it too. A timeline's key stays
         * while any of its segments stays, or while it is younger than the grace period (a shipper starting).
         */
        private List<Deletion> keyDeletions(Set<BackupId> kept, List<Deletion> manifestDeletions,
                List<Deletion> dataDeletions, List<Deletion> segmentDeletions) {
            Set<String> goingKeys = new HashSet<>();
            manifestDeletions.forEach(d -> goingKeys.add(d.key()));
            dataDeletions.forEach(d -> goingKeys.add(d.key()));
            segmentDeletions.forEach(d -> goingKeys.add(d.key()));
            Set<String> needed = new HashSet<>();
            for (BackupId id : manifestObjects.keySet()) {
                if (!goingKeys.contains(Repository.manifestKey(id))) {
                    needed.add("backup-" + id.session());
                }
            }
            for (BackupId id : kept) {
                needed.add("backup-" + id.session());
                for (FileEntry file : manifests.get(id).files()) {
                    for (ObjectRef ref : file.objects()) {
                        Matcher m = DATA_KEY.matcher(ref.key());
                        if (m.matches()) {
                            needed.add("backup-" + m.group(1));
                        }
                    }
                }
            }
            for (DataObject object : dataObjects) {
                if (!goingKeys.contains(object.key())) {
                    needed.add("backup-" + object.session());
                }
            }
            for (Map.Entry<String, TreeMap<Integer, List<Segment>>> timeline : timelines.entrySet()) {
                for (List<Segment> generation : timeline.getValue().values()) {
                    for (Segment s : generation) {
                        if (!goingKeys.contains(s.key())) {
                            needed.add("wal-" + timeline.getKey());
                        }
                    }
                }
            }
            Instant graceCutoff = now.minus(policy.grace());
            List<Deletion> deletions = new ArrayList<>();
            for (Map.Entry<String, BlobInfo> k : keyObjects.entrySet()) {
                String name = k.getKey();
                Instant created = BackupId.parse(NO_LSN + "-" + name.substring(name.indexOf('-') + 1)).created();
                if (!needed.contains(name) && created.isBefore(graceCutoff)) {
                    deletions.add(new Deletion(relative(k.getValue()), k.getValue().size()));
                }
            }
            return deletions;
        }

        private String relative(BlobInfo info) {
            return info.key().substring(root.length());
        }

        private void listManifests() throws IOException {
            for (BlobInfo info : repository.store().listAll(repository.key(MANIFESTS))) {
                String rel = relative(info);
                String name = rel.substring(MANIFESTS.length());
                Optional<BackupId> id = name.endsWith(".json") ? backupId(name.substring(0, name.length() - 5))
                        : Optional.empty();
                if (id.isPresent() && Repository.manifestKey(id.get()).equals(rel)) {
                    manifestObjects.put(id.get(), info);
                } else {
                    unrecognised++;
                }
            }
        }

        private void listData() throws IOException {
            for (BlobInfo info : repository.store().listAll(repository.key(DATA))) {
                String rel = relative(info);
                Matcher m = DATA_KEY.matcher(rel);
                Optional<BackupId> session = m.matches() ? backupId(NO_LSN + "-" + m.group(1)) : Optional.empty();
                if (session.isEmpty()) {
                    unrecognised++;
                    continue;
                }
                dataObjects.add(new DataObject(rel, info.size(), m.group(1), session.get().created()));
            }
        }

        private void listWal() throws IOException {
            for (BlobInfo info : repository.store().listAll(repository.key(WalSegment.PREFIX))) {
                String rel = relative(info);
                Optional<WalSegment> segment = WalSegment.parse(rel);
                if (segment.isPresent() && segment.get().key().equals(rel)) {
                    WalSegment s = segment.get();
                    timelines.computeIfAbsent(s.timeline(), t -> new TreeMap<>())
                            .computeIfAbsent(s.generation(), g -> new ArrayList<>()).add(new Segment(s, rel, info.size()));
                    continue;
                }
                Matcher m = HEARTBEAT_KEY.matcher(rel);
                if (m.matches() && backupId(NO_LSN + "-" + m.group(1)).isPresent()) {
                    heartbeats.put(m.group(1), info);
                } else {
                    unrecognised++;
                }
            }
            for (TreeMap<Integer, List<Segment>> generations : timelines.values()) {
                for (List<Segment> segments : generations.values()) {
                    segments.sort(Comparator.comparingLong(s -> s.segment().startOffset()));
                }
            }
        }

        /** A backup id exactly as we write it (a session is an id with LSN 0), or empty. */
        private static Optional<BackupId> backupId(String text) {
            if (!BackupId.isValid(text)) {
                return Optional.empty();
            }
            try {
                BackupId id = BackupId.parse(text);
                return id.toString().equals(text) ? Optional.of(id) : Optional.empty();
            } catch (RuntimeException e) {
                return Optional.empty(); // e.g. month 13: not a time we wrote
            }
        }

        private void readManifests() throws IOException {
            for (BackupId id : manifestObjects.keySet()) {
                try {
                    manifests.put(id, repository.readManifest(id));
                } catch (IntegrityException e) {
                    throw new IntegrityException(refusal(id, e), e);
                } catch (RepositoryException e) {
                    throw new RepositoryException(refusal(id, e), e);
                } catch (IOException | RuntimeException e) {
                    throw new RepositoryException("cannot plan a prune: reading the manifest of backup " + id + " from "
                            + repository.location() + " failed (" + e.getMessage() + "); nothing was deleted", e);
                }
            }
        }

        private static String refusal(BackupId id, Exception e) {
            return "cannot plan a prune: " + e.getMessage() + ". Prune deletes nothing while the manifest of a backup ("
                    + id + ") cannot be read, because it cannot tell which objects that backup needs. Run "
                    + "'powdb-backup verify'; a manifest beyond repair can be moved out of manifests/ by hand.";
        }

        /** The kept backups and why: the rules, the newest backup, then every ancestor of a kept backup. */
        private Map<BackupId, EnumSet<Rule>> keptBackups() {
            Map<BackupId, EnumSet<Rule>> kept = new LinkedHashMap<>();
            List<BackupId> byNewest = new ArrayList<>(manifests.keySet());
            byNewest.sort(NEWEST_FIRST);
            if (byNewest.isEmpty()) {
                return kept;
            }
            keep(kept, byNewest.get(0), Rule.NEWEST);
            if (policy.hasCountRule()) {
                Set<String> chains = new HashSet<>();
                for (BackupId id : byNewest) {
                    if (chains.size() < policy.keepFull() && manifests.get(id).isFull()) {
                        chains.add(id.toString());
                    }
                }
                for (BackupId id : byNewest) {
                    if (chains.contains(manifests.get(id).chain())) {
                        keep(kept, id, Rule.KEEP_FULL);
                    }
                }
            }
            if (policy.hasTimeRule()) {
                Instant boundary = now.minus(policy.keepWithin());
                for (BackupId id : byNewest) {
                    keep(kept, id, Rule.KEEP_WITHIN);
                    if (!id.created().isAfter(boundary)) {
                        break; // the newest backup at or before the window's start: restores to its first points
                    }
                }
            }
            Deque<BackupId> work = new ArrayDeque<>(kept.keySet());
            while (!work.isEmpty()) {
                BackupId id = work.pop();
                Manifest m = manifests.get(id);
                List<String> needed = new ArrayList<>();
                if (!m.isFull()) {
                    needed.add(m.parent());
                }
                needed.add(m.chain());
                for (String text : needed) {
                    BackupId ancestor = BackupId.parse(text);
                    if (ancestor.equals(id)) {
                        continue;
                    }
                    if (!manifests.containsKey(ancestor)) {
                        warnings.add("backup " + id + " builds on " + ancestor + ", which is missing from the repository:"
                                + " it cannot be restored (a broken chain; 'powdb-backup verify' reports it)");
                        continue;
                    }
                    if (!kept.containsKey(ancestor)) {
                        keep(kept, ancestor, Rule.ANCESTOR);
                        work.push(ancestor);
                    }
                }
            }
            return kept;
        }

        private static void keep(Map<BackupId, EnumSet<Rule>> kept, BackupId id, Rule rule) {
            kept.computeIfAbsent(id, k -> EnumSet.noneOf(Rule.class)).add(rule);
        }

        private List<Deletion> dataDeletions(Set<BackupId> kept, List<BackupId> deleted) {
            Set<String> referenced = new HashSet<>();
            Set<String> keptSessions = new HashSet<>();
            for (BackupId id : kept) {
                keptSessions.add(id.session());
                for (FileEntry file : manifests.get(id).files()) {
                    for (ObjectRef ref : file.objects()) {
                        referenced.add(ref.key());
                    }
                }
            }
            Set<String> deletedSessions = new HashSet<>();
            for (BackupId id : deleted) {
                deletedSessions.add(id.session());
            }
            Instant graceCutoff = now.minus(policy.grace());
            List<Deletion> deletions = new ArrayList<>();
            for (DataObject object : dataObjects) {
                if (referenced.contains(object.key()) || keptSessions.contains(object.session())) {
                    continue;
                }
                if (deletedSessions.contains(object.session()) || object.sessionTime().isBefore(graceCutoff)) {
                    deletions.add(new Deletion(object.key(), object.size()));
                }
            }
            return deletions;
        }

        /** Fills the WAL deletions; returns the time from which shipped WAL is kept, or null when none is deleted. */
        private Instant walDeletions(Set<BackupId> kept, List<Deletion> segmentDeletions, List<Deletion> heartbeatDeletions)
                throws IOException {
            if (kept.isEmpty()) {
                return null; // nothing to restore WAL onto is kept: cannot happen, the newest backup always is
            }
            Instant oldestKept = kept.stream().map(BackupId::created).min(Comparator.naturalOrder()).orElseThrow();
            Instant skewCutoff = oldestKept.minus(CLOCK_SKEW_MARGIN);
            Instant graceCutoff = now.minus(policy.grace());
            Instant cutoff = skewCutoff.isBefore(graceCutoff) ? skewCutoff : graceCutoff;
            for (Map.Entry<String, TreeMap<Integer, List<Segment>>> timeline : timelines.entrySet()) {
                List<List<Segment>> generations = new ArrayList<>(timeline.getValue().values());
                int keepFrom = generations.size();
                for (int i = 0; i < generations.size(); i++) {
                    if (!generations.get(i).stream().allMatch(s -> s.segment().shippedAt().isBefore(cutoff))) {
                        keepFrom = i;
                        break;
                    }
                }
                for (BackupId id : kept) {
                    keepFrom = Math.min(keepFrom, joinedFrom(manifests.get(id), generations));
                }
                if (keepFrom == generations.size() && isLive(timeline.getKey(), generations, cutoff)) {
                    keepFrom = generations.size() - 1;
                }
                for (int i = 0; i < keepFrom; i++) {
                    for (Segment s : generations.get(i)) {
                        segmentDeletions.add(new Deletion(s.key(), s.size()));
                    }
                }
                BlobInfo beat = heartbeats.get(timeline.getKey());
                if (keepFrom == generations.size() && beat != null) {
                    heartbeatDeletions.add(new Deletion(relative(beat), beat.size()));
                }
            }
            for (Map.Entry<String, BlobInfo> beat : heartbeats.entrySet()) {
                if (timelines.containsKey(beat.getKey())) {
                    continue;
                }
                // A heartbeat without segments (an earlier prune was interrupted before it): orphaned WAL.
                Instant written = beat.getValue().lastModified() != null ? beat.getValue().lastModified()
                        : BackupId.parse(NO_LSN + "-" + beat.getKey()).created();
                if (written.isBefore(graceCutoff)) {
                    heartbeatDeletions.add(new Deletion(relative(beat.getValue()), beat.getValue().size()));
                }
            }
            return cutoff;
        }

        /**
         * The index of the first generation a backup may need to be continued by shipped WAL (see
         * {@code PointInTimePlanner}): the generation its WAL anchor is in, the one starting right after its last
         * commit, or, for a backup with no committed WAL (a checkpointed moment), the generation before the first
         * one shipped after it, since that join is checked against the earlier generation's end. Looser than the
         * planner's conditions, so it never keeps less. {@code generations.size()} when none.
         */
        private static int joinedFrom(Manifest backup, List<List<Segment>> generations) {
            WalAnchor anchor = backup.walAnchor();
            Long walEnd = backup.walEndLsn();
            Instant taken = backup.createdAt();
            for (int i = 0; i < generations.size(); i++) {
                WalSegment first = generations.get(i).get(0).segment();
                if (anchor != null && first.startOffset() == anchor.fileOffset() && first.firstLsn() == anchor.firstLsn()) {
                    return i;
                }
                if (walEnd != null && first.firstLsn() == walEnd + 1) {
                    return i;
                }
                if (walEnd == null && taken.isBefore(first.shippedAt())) {
                    return Math.max(0, i - 1);
                }
            }
            return generations.size();
        }

        /**
         * Whether the timeline's heartbeat says its last generation was still being shipped (unchanged, but not
         * ended) at {@code cutoff} or later: more segments of it may follow, so it is not a generation that ended.
         */
        private boolean isLive(String timeline, List<List<Segment>> generations, Instant cutoff) throws IOException {
            BlobInfo info = heartbeats.get(timeline);
            if (info == null || generations.isEmpty()) {
                return false;
            }
            List<Segment> last = generations.get(generations.size() - 1);
            Heartbeat beat;
            try {
                beat = Json.MAPPER.readValue(repository.store().readAllBytes(info.key(), MAX_HEARTBEAT_BYTES),
                        Heartbeat.class);
            } catch (BlobNotFoundException e) {
                return false;
            } catch (com.fasterxml.jackson.core.JacksonException e) {
                return false; // unreadable: it only ever extends coverage, as restore treats it
            }
            try {
                return timeline.equals(beat.timeline()) && beat.shippedLsn() == last.get(last.size() - 1).segment().lastLsn()
                        && !Instant.parse(beat.coveredUntil()).isBefore(cutoff);
            } catch (RuntimeException e) {
                return false;
            }
        }
    }
}
