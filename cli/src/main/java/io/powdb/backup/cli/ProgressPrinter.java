package io.powdb.backup.cli;

import io.powdb.backup.progress.ProgressListener;

import java.io.PrintStream;

/** Prints a progress line on stderr now and then, so long work is seen to move; quiet for short work. */
final class ProgressPrinter implements ProgressListener {
    private static final long INTERVAL_NANOS = 2_000_000_000L;

    private final PrintStream err;
    private final long started = System.nanoTime();
    private long lastPrinted = started;

    ProgressPrinter(PrintStream err) {
        this.err = err;
    }

    @Override
    public void progress(String phase, long done, long total) {
        long now = System.nanoTime();
        if (now - lastPrinted < INTERVAL_NANOS) {
            return;
        }
        lastPrinted = now;
        double seconds = (now - started) / 1e9;
        String rate = Units.bytes((long) (done / Math.max(seconds, 1e-3))) + "/s";
        if (total > 0) {
            err.printf("%s: %s of %s (%d%%), %s%n", phase, Units.bytes(done), Units.bytes(total), done * 100 / total, rate);
        } else {
            err.printf("%s: %s, %s%n", phase, Units.bytes(done), rate);
        }
    }
}
