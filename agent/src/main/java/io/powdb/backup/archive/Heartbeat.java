package io.powdb.backup.archive;

import io.powdb.backup.repo.Json;

import java.io.IOException;
import java.time.Instant;
import java.util.Optional;

/**
 * A shipper's statement about its timeline, overwritten as it goes: every commit up to {@code shippedLsn} is
 * in the timeline's segments, and nothing was committed after it until {@code coveredUntil} (the shipper
 * polled the unchanged generation then). Lets a restore to a time after the last segment proceed: without it,
 * commits after the last segment cannot be ruled out.
 */
public record Heartbeat(String timeline, long shippedLsn, String coveredUntil) {
    static final String NAME = "heartbeat.json";

    static String key(String timeline) {
        return WalSegment.PREFIX + timeline + "/" + NAME;
    }

    byte[] encode() throws IOException {
        return Json.MAPPER.writeValueAsBytes(this);
    }

    /** The heartbeat, or empty when it is unreadable: it only ever extends coverage, so ignoring it is safe. */
    static Optional<Heartbeat> decode(byte[] bytes, String timeline) {
        try {
            Heartbeat beat = Json.MAPPER.readValue(bytes, Heartbeat.class);
            beat.coveredAt();
            return beat.timeline.equals(timeline) ? Optional.of(beat) : Optional.empty();
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    Instant coveredAt() {
        return Instant.parse(coveredUntil);
    }
}
