package io.powdb.backup.archive;

import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;

/**
 * The rhythm of a long-running WAL shipper, shared by the {@code ship} command and the agent: each
 * {@link #step} polls (copies new records into the spool); an upload follows when one is due, when the spool
 * is full or when the caller is stopping, and after it a heartbeat when one is due or when stopping. A failure
 * goes to the {@link Listener} and puts the next upload off by a backoff that starts at the upload interval
 * and doubles up to a limit; the records wait in the spool meanwhile. The caller owns the loop around it:
 * when to stop, how long to sleep between steps (the poll interval), what else to check.
 */
public final class ShippingLoop {
    private final Clock clock;
    private final Duration uploadEvery;
    private final Duration heartbeatEvery;
    private final Duration maxBackoff;
    private final Listener listener;
    private Instant nextUpload;
    private Instant nextBeat;
    private Duration backoff;

    /** What the caller makes of each step: its own logging and metrics. */
    public interface Listener {
        /** After an upload, also one that shipped nothing; {@code at} is when it was started. */
        void uploaded(WalShipper.Report report, Instant at);

        /** After every step that did not fail (with or without an upload). */
        default void polled(WalShipper shipper) {
        }

        /** A step failed; the next upload waits {@code retryIn}. */
        void failed(Exception e, Duration retryIn);
    }

    /** Where the shipper of a step comes from: the caller may open it lazily (a failure counts as the step's). */
    @FunctionalInterface
    public interface ShipperSource {
        WalShipper get() throws IOException;
    }

    /** The first step uploads, and writes a heartbeat. */
    public ShippingLoop(Clock clock, Duration uploadEvery, Duration heartbeatEvery, Duration maxBackoff,
            Listener listener) {
        this.clock = clock;
        this.uploadEvery = uploadEvery;
        this.heartbeatEvery = heartbeatEvery;
        this.maxBackoff = maxBackoff;
        this.listener = listener;
        this.nextUpload = clock.instant();
        this.nextBeat = nextUpload;
        this.backoff = uploadEvery;
    }

    /** One poll, and the upload and heartbeat when due; {@code stopping}: the last step, which uploads. */
    public void step(ShipperSource source, boolean stopping) {
        try {
            WalShipper shipper = source.get();
            boolean full = shipper.poll();
            Instant now = clock.instant();
            if (full || stopping || !now.isBefore(nextUpload)) {
                nextUpload = now.plus(uploadEvery);
                listener.uploaded(shipper.upload(), now);
                if (stopping || !now.isBefore(nextBeat)) {
                    shipper.writeHeartbeat();
                    nextBeat = now.plus(heartbeatEvery);
                }
                backoff = uploadEvery;
            }
            listener.polled(shipper);
        } catch (IOException | RuntimeException e) {
            listener.failed(e, backoff);
            nextUpload = clock.instant().plus(backoff);
            Duration doubled = backoff.multipliedBy(2);
            backoff = doubled.compareTo(maxBackoff) > 0 ? maxBackoff : doubled;
        }
    }
}
