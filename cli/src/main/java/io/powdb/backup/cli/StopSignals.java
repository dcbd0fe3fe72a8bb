package io.powdb.backup.cli;

import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * SIGTERM and SIGINT as a request to stop, for the commands that run until stopped. They are handled rather
 * than left to the JVM's shutdown, because a JVM that exits on a signal reports 143 (or 130) whatever the
 * command returns, and a graceful stop must exit 0.
 */
final class StopSignals {
    private StopSignals() {
    }

    /** A latch counted down by the first SIGTERM or SIGINT. */
    static CountDownLatch install() {
        CountDownLatch requested = new CountDownLatch(1);
        for (String signal : List.of("TERM", "INT")) {
            sun.misc.Signal.handle(new sun.misc.Signal(signal), s -> requested.countDown());
        }
        return requested;
    }
}
