package io.powdb.backup.cli.crash;

import java.security.SecureRandom;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.stream.LongStream;

/**
 * The seeds of the kill runs. {@code -Dpowdb.crash.runs=N} runs N per scenario (default 2, the default build;
 * the long profile is 50), from a random base printed at the start; {@code -Dpowdb.crash.seed=S} re-runs one seed
 * (every run prints its seed and the moment it killed). A seed decides everything random in a run: the store
 * (even: local, odd: S3Proxy), the kill moment, the workload. The default build runs even seeds only (the local
 * store: S3Proxy in the test's JVM makes a run several times slower); 10 runs or more, or
 * {@code -Dpowdb.crash.s3=true}, alternate the two stores. The long profile:
 * <pre>
 * ./mvnw -o -pl cli verify -Dit.test='KillDuring*IT' -Dtest=none -Dsurefire.failIfNoSpecifiedTests=false -Dpowdb.crash.runs=50
 * </pre> Timing still varies between machines, so a re-run
 * kills at the same moment of the clock or of progress, not necessarily at the same instruction.
 */
final class CrashRuns {
    private CrashRuns() {
    }

    static LongStream seeds(String scenario) {
        Long only = Long.getLong("powdb.crash.seed");
        if (only != null) {
            return LongStream.of(only);
        }
        int runs = Integer.getInteger("powdb.crash.runs", 2);
        boolean withS3 = Boolean.parseBoolean(System.getProperty("powdb.crash.s3", String.valueOf(runs >= 10)));
        long base = Long.getLong("powdb.crash.base", 1 + new SecureRandom().nextInt(999_999)) * 1000;
        int step = withS3 ? 1 : 2; // even seeds only: the local store
        System.out.println("[crash] " + scenario + ": " + runs + " runs, seeds " + base + ".." + (base + (runs - 1) * step)
                + (withS3 ? ", local store and S3Proxy alternating" : ", local store") + " (re-run one with "
                + "-Dpowdb.crash.seed=SEED)");
        return LongStream.range(0, runs).map(i -> base + i * step);
    }

    /**
     * The random choices of a run. Not {@code new Random(seed)}: its first draws are nearly the same for neighbouring
     * seeds (the first {@code nextBoolean()} of 50 consecutive seeds was the same every time), so the seed is mixed
     * first.
     */
    static Random random(long seed) {
        return new Random(new SplittableRandom(seed).nextLong());
    }

    static boolean onS3(long seed) {
        return (seed & 1) == 1;
    }

    static void log(String scenario, long seed, String what) {
        System.out.println("[crash] " + scenario + " seed " + seed + ": " + what);
    }
}
