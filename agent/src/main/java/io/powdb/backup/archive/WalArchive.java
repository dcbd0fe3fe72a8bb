package io.powdb.backup.archive;

import io.powdb.backup.repo.Repository;
import io.powdb.backup.store.BlobInfo;
import io.powdb.backup.store.BlobNotFoundException;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/** The shipped WAL of a repository, from one listing of {@code wal/}: timelines, their generations and segments. */
public final class WalArchive {
    private final List<Timeline> timelines;

    private WalArchive(List<Timeline> timelines) {
        this.timelines = timelines;
    }

    /** A timeline's generations in order, each with its segments in offset order. */
    public record Timeline(String id, List<Generation> generations, Optional<Heartbeat> heartbeat) {
        /** The last segment shipped, or empty when the timeline has none. */
        public Optional<WalSegment> last() {
            return generations.isEmpty() ? Optional.empty()
                    : Optional.of(generations.get(generations.size() - 1).segments().get(
                            generations.get(generations.size() - 1).segments().size() - 1));
        }

        public Optional<WalSegment> first() {
            return generations.isEmpty() ? Optional.empty() : Optional.of(generations.get(0).segments().get(0));
        }
    }

    /** One generation of wal.log as shipped in a timeline; {@code number} counts within the timeline. */
    public record Generation(int number, List<WalSegment> segments) {
        /** The LSN of its last data record (the largest page LSN it can leave), 0 when it has none. */
        long lastDataLsn() {
            long max = 0;
            for (WalSegment s : segments) {
                if (Long.compareUnsigned(s.lastDataLsn(), max) > 0) {
                    max = s.lastDataLsn();
                }
            }
            return max;
        }
    }

    public static WalArchive load(Repository repository) throws IOException {
        Map<String, Map<Integer, List<WalSegment>>> found = new TreeMap<>();
        Map<String, Boolean> beats = new TreeMap<>();
        for (BlobInfo info : repository.store().listAll(repository.key(WalSegment.PREFIX))) {
            String key = info.key().substring(repository.key("").length());
            Optional<WalSegment> segment = WalSegment.parse(key);
            if (segment.isPresent()) {
                WalSegment s = segment.get();
                found.computeIfAbsent(s.timeline(), t -> new TreeMap<>())
                        .computeIfAbsent(s.generation(), g -> new ArrayList<>()).add(s);
            } else if (key.endsWith("/" + Heartbeat.NAME)) {
                String timeline = key.substring(WalSegment.PREFIX.length(), key.length() - Heartbeat.NAME.length() - 1);
                if (WalSegment.isTimeline(timeline)) {
                    beats.put(timeline, true);
                }
            }
        }
        List<Timeline> timelines = new ArrayList<>();
        for (Map.Entry<String, Map<Integer, List<WalSegment>>> t : found.entrySet()) {
            List<Generation> generations = new ArrayList<>();
            for (Map.Entry<Integer, List<WalSegment>> g : t.getValue().entrySet()) {
                List<WalSegment> segments = new ArrayList<>(g.getValue());
                segments.sort(Comparator.comparingLong(WalSegment::startOffset));
                generations.add(new Generation(g.getKey(), List.copyOf(segments)));
            }
            Optional<Heartbeat> beat = Optional.empty();
            if (beats.containsKey(t.getKey())) {
                try {
                    beat = Heartbeat.decode(repository.store().readAllBytes(repository.key(Heartbeat.key(t.getKey())),
                            1 << 16), t.getKey());
                } catch (BlobNotFoundException e) {
                    beat = Optional.empty();
                }
            }
            timelines.add(new Timeline(t.getKey(), List.copyOf(generations), beat));
        }
        return new WalArchive(List.copyOf(timelines));
    }

    /** Every timeline, oldest first (ids start with the time the shipper started them). */
    public List<Timeline> timelines() {
        return timelines;
    }

    public boolean isEmpty() {
        return timelines.isEmpty();
    }
}
