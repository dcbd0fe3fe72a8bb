package io.powdb.backup.cli;

import io.powdb.backup.lease.LeaseGuard;
import io.powdb.backup.archive.ShippingLoop;
import io.powdb.backup.archive.WalShipper;
import io.powdb.backup.repo.Repository;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

@Command(name = "ship", description = {
        "Ships the WAL of a running PowDB into the repository as it grows (committed records only, every few",
        "seconds), so that 'restore --to-lsn' and '--to-time' reach any committed point after a backup.",
        "Runs until stopped (SIGTERM or SIGINT ship once more, then exit), or once with --once."})
final class ShipCommand extends CommandBase {
    private static final Duration MAX_BACKOFF = Duration.ofMinutes(1);

    @Option(names = "--data-dir", paramLabel = "DIR",
            description = "The PowDB data directory. Default: $POWDB_DATA, else ./powdb_data.")
    Path dataDir;

    @Option(names = "--poll", paramLabel = "DURATION", defaultValue = "250ms",
            description = "How often to copy new WAL records out of wal.log into a local spool, before a checkpoint "
                    + "can remove them. Default: ${DEFAULT-VALUE}.")
    String pollEvery;

    @Option(names = "--interval", paramLabel = "DURATION", defaultValue = "5s",
            description = "How often to upload the spooled committed records as a segment (also sooner when 64 MiB "
                    + "are waiting). Default: ${DEFAULT-VALUE}.")
    String interval;

    @Option(names = "--heartbeat", paramLabel = "DURATION", defaultValue = "60s",
            description = "How often to record that nothing new was committed (lets --to-time reach past the last "
                    + "segment). Default: ${DEFAULT-VALUE}.")
    String heartbeat;

    @Option(names = "--once", description = "Ship what is committed now, then exit (non-zero on failure).")
    boolean once;

    record Output(int segments, long bytes, long records, String timeline, Long lastShippedLsn, String coveredUntil,
            List<String> breaks) {
    }

    @Override
    public Integer call() throws Exception {
        Path dir = dataDir != null ? dataDir : Path.of(context.env().getOrDefault("POWDB_DATA", "./powdb_data"));
        Duration every = Durations.parse(interval, "--interval");
        Duration pollInterval = Durations.parse(pollEvery, "--poll");
        Duration beatEvery = Durations.parse(heartbeat, "--heartbeat");
        if (!Files.isRegularFile(dir.resolve("catalog.bin"))) {
            throw new IllegalArgumentException(dir + " is not a PowDB data directory (no catalog.bin): check --data-dir "
                    + "or $POWDB_DATA");
        }
        try (Repository repository = openRepository()) {
            repository.initialize();
            try (LeaseGuard lease = LeaseGuard.acquire(repository, "ship", leaseTtl());
                 WalShipper shipper = new WalShipper(repository, dir, tempDir(), Clock.systemUTC(),
                    WalShipper.DEFAULT_MAX_SEGMENT_BYTES)) {
                if (once) {
                    WalShipper.Report report = shipper.shipOnce();
                    shipper.writeHeartbeat();
                    print(report);
                    return 0;
                }
                return runUntilStopped(dir, shipper, pollInterval, every, beatEvery);
            }
        }
    }

    private int runUntilStopped(Path dir, WalShipper shipper, Duration pollInterval, Duration every,
            Duration beatEvery) throws InterruptedException {
        CountDownLatch stop = StopSignals.install();
        if (!json) {
            say("Shipping the WAL of " + dir + ": copied every " + pollInterval.toMillis() + " ms, uploaded every "
                    + every.toMillis() + " ms; stop with SIGTERM or Ctrl-C");
        }
        ShippingLoop loop = new ShippingLoop(Clock.systemUTC(), every, beatEvery, MAX_BACKOFF,
                new ShippingLoop.Listener() {
                    @Override
                    public void uploaded(WalShipper.Report report, Instant at) {
                        if (report.segments() > 0 || !report.breaks().isEmpty()) {
                            print(report);
                        }
                    }

                    @Override
                    public void failed(Exception e, Duration retryIn) {
                        warn("shipping the WAL failed, retrying in " + retryIn.toSeconds() + " s (records stay in the "
                                + "local spool): " + Main.oneLine(e));
                    }
                });
        while (true) {
            boolean stopping = stop.getCount() == 0;
            loop.step(() -> shipper, stopping);
            if (stopping) {
                return 0; // polled and uploaded once more after the stop request
            }
            stop.await(pollInterval.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    private void print(WalShipper.Report report) {
        report.breaks().forEach(b -> warn("WAL timeline break: " + b + "; take a backup so that restore can reach "
                + "the points after it"));
        if (json) {
            try {
                context.out().println(io.powdb.backup.repo.Json.MAPPER.writeValueAsString(new Output(report.segments(),
                        report.bytes(), report.records(), report.timeline(),
                        report.lastShippedLsn().isPresent() ? report.lastShippedLsn().getAsLong() : null,
                        report.coveredUntil() == null ? null : report.coveredUntil().toString(), report.breaks())));
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        } else if (report.segments() > 0) {
            say("Shipped " + report.records() + " WAL records (" + Units.bytes(report.bytes()) + ") in "
                    + report.segments() + " segments, up to LSN "
                    + Long.toUnsignedString(report.lastShippedLsn().getAsLong()) + " (timeline " + report.timeline() + ")");
        }
    }
}
