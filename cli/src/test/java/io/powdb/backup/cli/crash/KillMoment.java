package io.powdb.backup.cli.crash;

import java.io.IOException;
import java.time.Duration;
import java.util.Random;

/**
 * When to kill a run: at a time drawn uniformly over the measured length of an unkilled run (from the process
 * start, so JVM start-up is one of the moments), or on observed progress: once the store or the disk shows the
 * n-th unit of it (an object uploaded, a share of the restored bytes), n drawn uniformly up to what the unkilled
 * run reached. The progress probe is polled every millisecond or two, so the kill lands just after that unit,
 * inside the next one.
 */
record KillMoment(long atMillis, long atProgress, String description) {

    /** What a run has done so far, as seen from outside. */
    interface Progress {
        long now() throws IOException;
    }

    static KillMoment choose(Random random, long measuredMillis, long measuredProgress, String unit) {
        if (measuredProgress > 0 && random.nextBoolean()) {
            long n = 1 + (long) (random.nextDouble() * measuredProgress);
            return new KillMoment(-1, n, "after " + unit + " " + n + " of " + measuredProgress);
        }
        long at = (long) (random.nextDouble() * measuredMillis);
        return new KillMoment(at, -1, "at " + at + " ms of " + measuredMillis);
    }

    /**
     * Kills {@code process} at this moment, or lets it finish if it ends first.
     *
     * @param progress the run's progress, counted from where it started
     */
    JarProcess.Result apply(JarProcess process, Progress progress) throws IOException, InterruptedException {
        return apply(process, progress, 1);
    }

    /**
     * @param pollMillis how often to look at the progress: a listing of S3Proxy, which runs in this JVM, costs the
     *                   CPU the child needs, so it is looked at less often than a local directory
     */
    JarProcess.Result apply(JarProcess process, Progress progress, long pollMillis)
            throws IOException, InterruptedException {
        while (process.isAlive()) {
            boolean due = atMillis >= 0 ? process.elapsedMillis() >= atMillis : progress.now() >= atProgress;
            if (due) {
                return process.kill();
            }
            Thread.sleep(atMillis >= 0 ? 1 : pollMillis);
        }
        return process.await(Duration.ofSeconds(30));
    }
}
