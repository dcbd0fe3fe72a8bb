package io.powdb.backup.archive;

import io.powdb.backup.testing.BackupTestSupport;
import io.powdb.backup.testing.MutableClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The shipping rhythm the 'ship' command and the agent share, on a real shipper, fixture and repository. */
class ShippingLoopTest extends BackupTestSupport {
    private static final Instant START = Instant.parse("2026-11-21T10:00:00Z");
    private static final Duration UPLOAD = Duration.ofSeconds(5);
    private static final Duration BEAT = Duration.ofSeconds(60);

    private final MutableClock clock = new MutableClock(START);
    private final List<String> events = new ArrayList<>();
    private WalShipper shipper;
    private int polled;

    private final ShippingLoop.Listener listener = new ShippingLoop.Listener() {
        @Override
        public void uploaded(WalShipper.Report report, Instant at) {
            events.add("uploaded " + report.segments() + " at +" + Duration.between(START, at).toSeconds() + "s");
        }

        @Override
        public void polled(WalShipper s) {
            polled++;
        }

        @Override
        public void failed(Exception e, Duration retryIn) {
            events.add("failed (" + e.getMessage() + "), retry in " + retryIn.toSeconds() + "s");
        }
    };

    @BeforeEach
    void startWriting() throws IOException {
        db.createTable("a", 16);
        db.checkpoint();
    }

    @AfterEach
    void closeShipper() throws IOException {
        if (shipper != null) {
            shipper.close();
        }
    }

    private WalShipper shipper(long maxSegmentBytes) {
        shipper = new WalShipper(repository, db.dir(), tmp.resolve("ship"), clock, maxSegmentBytes);
        return shipper;
    }

    private java.util.Optional<Heartbeat> heartbeat() throws IOException {
        return WalArchive.load(repository).timelines().get(0).heartbeat();
    }

    @Test
    void uploadsWhenDueOrStoppingAndWritesAHeartbeatWhenDueOrStopping() throws IOException {
        WalShipper s = shipper(WalShipper.DEFAULT_MAX_SEGMENT_BYTES);
        ShippingLoop loop = new ShippingLoop(clock, UPLOAD, BEAT, Duration.ofMinutes(1), listener);
        db.updateRandomPages("a", 2);
        loop.step(() -> s, false);
        assertEquals(List.of("uploaded 1 at +0s"), events, "the first step uploads");

        db.updateRandomPages("a", 2);
        clock.advance(UPLOAD.minusMillis(1));
        loop.step(() -> s, false);
        assertEquals(1, events.size(), "no upload before the interval is over");
        clock.advance(Duration.ofMillis(1));
        loop.step(() -> s, false);
        clock.set(START.plusSeconds(10));
        loop.step(() -> s, false);
        assertEquals(List.of("uploaded 1 at +0s", "uploaded 1 at +5s", "uploaded 0 at +10s"), events);
        // The first step's heartbeat said nothing (no poll had yet found the WAL shipped), and the next is due
        // a heartbeat interval later.
        assertEquals(java.util.Optional.empty(), heartbeat());

        clock.set(START.plus(BEAT));
        loop.step(() -> s, false);
        assertEquals(new Heartbeat(s.timeline(), db.lastLsn(), START.plus(BEAT).toString()), heartbeat().orElseThrow());

        db.updateRandomPages("a", 2);
        clock.advance(Duration.ofSeconds(1));
        loop.step(() -> s, true);
        assertEquals("uploaded 1 at +61s", events.get(events.size() - 1), "stopping uploads at once");
        assertEquals(db.lastLsn(), heartbeat().orElseThrow().shippedLsn(), "and writes a heartbeat");
        assertEquals(6, polled);
    }

    @Test
    void aFullSpoolIsUploadedBeforeTheIntervalIsOver() throws IOException {
        WalShipper s = shipper(1);
        ShippingLoop loop = new ShippingLoop(clock, UPLOAD, BEAT, Duration.ofMinutes(1), listener);
        loop.step(() -> s, false);
        db.updateRandomPages("a", 1);
        clock.advance(Duration.ofSeconds(1));
        loop.step(() -> s, false);
        assertEquals(List.of("uploaded 0 at +0s", "uploaded 1 at +1s"), events);
    }

    @Test
    void failuresBackOffDoublingUpToTheLimitAndASuccessResetsIt() throws IOException {
        WalShipper s = shipper(WalShipper.DEFAULT_MAX_SEGMENT_BYTES);
        ShippingLoop loop = new ShippingLoop(clock, UPLOAD, BEAT, Duration.ofSeconds(30), listener);
        boolean[] down = {true};
        ShippingLoop.ShipperSource source = () -> {
            if (down[0]) {
                throw new IOException("store down");
            }
            return s;
        };
        for (int i = 0; i < 5; i++) {
            loop.step(source, false);
        }
        assertEquals(List.of("failed (store down), retry in 5s", "failed (store down), retry in 10s",
                "failed (store down), retry in 20s", "failed (store down), retry in 30s",
                "failed (store down), retry in 30s"), events);
        assertEquals(0, polled);

        events.clear();
        down[0] = false;
        db.updateRandomPages("a", 1);
        clock.advance(Duration.ofSeconds(29));
        loop.step(source, false);
        assertEquals(List.of(), events, "the upload waits for the backoff");
        clock.advance(Duration.ofSeconds(1));
        loop.step(source, false);
        assertEquals(List.of("uploaded 1 at +30s"), events);

        down[0] = true;
        loop.step(source, false);
        assertEquals("failed (store down), retry in 5s", events.get(1), "an upload resets the backoff");
    }
}
