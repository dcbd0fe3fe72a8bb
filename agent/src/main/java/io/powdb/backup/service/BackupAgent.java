package io.powdb.backup.service;

import io.powdb.backup.archive.WalArchive;
import io.powdb.backup.archive.WalSegment;
import io.powdb.backup.archive.ShippingLoop;
import io.powdb.backup.archive.WalShipper;
import io.powdb.backup.backup.BackupOptions;
import io.powdb.backup.backup.BackupResult;
import io.powdb.backup.backup.BackupService;
import io.powdb.backup.format.SourceException;
import io.powdb.backup.lease.AcquireResult;
import io.powdb.backup.lease.LeaseLostException;
import io.powdb.backup.lease.RepositoryLease;
import io.powdb.backup.repo.BackupCatalog;
import io.powdb.backup.repo.BackupId;
import io.powdb.backup.repo.IntegrityException;
import io.powdb.backup.repo.Manifest;
import io.powdb.backup.repo.Repository;
import io.powdb.backup.retention.PrunePlan;
import io.powdb.backup.retention.PruneService;
import io.powdb.backup.retention.RetentionPolicy;
import io.powdb.backup.store.BlobInfo;

import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The long-running sidecar: holds the repository lease, ships the WAL continuously, takes full and
 * incremental backups on their schedules (and an incremental at once after the WAL shipper reports a break,
 * so point-in-time restore resumes), prunes by the retention policy, and reports through metrics and logs.
 *
 * <p>Three threads, each with one job: the lease keeper (acquire, renew every quarter of the TTL, notice a
 * loss), the WAL shipper (poll often, upload every few seconds), and the job runner (backups and prune, one
 * at a time). Nothing but the lease keeper writes before the lease is held, and a lost lease stops the
 * others at their next step. Failures are logged, counted and retried with backoff; they never end the
 * process. {@link #stop()} (SIGTERM) lets the WAL shipper upload once more and a running backup finish
 * within the shutdown grace; a backup still running then is interrupted, and since its manifest is written
 * last, it leaves no visible backup (its uploaded objects are removed, or pruned later as leftovers).
 */
public final class BackupAgent {
    private static final Duration MIN_BACKOFF = Duration.ofSeconds(5);
    private static final Duration MAX_BACKOFF = Duration.ofMinutes(15);

    private final AgentConfig config;
    private final Repository repository;
    private final AgentMetrics metrics;
    private final JsonLog log;
    private final Clock clock;
    private final RepositoryLease lease;
    private final AtomicBoolean leaseHeld = new AtomicBoolean();
    private final AtomicBoolean stopping = new AtomicBoolean();
    private final AtomicBoolean backupRequested = new AtomicBoolean();
    private final AtomicReference<String> notReady = new AtomicReference<>("starting");
    private final AtomicReference<String> waitingFor = new AtomicReference<>();
    private final CountDownLatch stopSignal = new CountDownLatch(1);
    private Thread leaseThread;
    private Thread walThread;
    /** Used by the WAL thread only. */
    private WalShipper walShipper;
    private Thread jobThread;

    public BackupAgent(AgentConfig config, Repository repository, AgentMetrics metrics, JsonLog log, Clock clock) {
        this.config = config;
        this.repository = repository;
        this.metrics = metrics;
        this.log = log;
        this.clock = clock;
        this.lease = new RepositoryLease(repository, RepositoryLease.defaultHolderId(), config.leaseTtl(), clock);
    }

    /** Whether the agent can do its work: settings valid (it was built) and the store answering. */
    public HealthServer.Readiness readiness() {
        String reason = notReady.get();
        if (reason != null) {
            return new HealthServer.Readiness(false, reason);
        }
        String waiting = waitingFor.get();
        return new HealthServer.Readiness(true, waiting != null ? "standby: " + waiting : "ok");
    }

    public boolean holdsLease() {
        return leaseHeld.get();
    }

    public void start() {
        Map<String, Object> settings = new LinkedHashMap<>(config.describe());
        settings.put("holder", lease.holderId());
        log.info("agent.start", "powdb-backup agent starting", settings);
        leaseThread = daemon("powdb-backup-lease", this::keepLease);
        walThread = daemon("powdb-backup-wal", this::shipWal);
        jobThread = daemon("powdb-backup-jobs", this::runJobs);
    }

    private static Thread daemon(String name, Runnable body) {
        Thread t = new Thread(body, name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    /**
     * Stops: the WAL shipper uploads once more, a backup in progress may finish until the shutdown grace
     * (then it is interrupted), the lease is released. Returns when all of that is done or the grace is over.
     */
    public void stop() {
        if (!stopping.compareAndSet(false, true)) {
            return;
        }
        log.info("agent.stopping", "stopping: finishing the work in flight", Map.of("grace",
                Durations.format(config.shutdownGrace())));
        stopSignal.countDown();
        wake();
        Instant deadline = clock.instant().plus(config.shutdownGrace()).minusSeconds(2);
        join(walThread, deadline);
        join(jobThread, deadline);
        if (jobThread != null && jobThread.isAlive()) {
            log.warn("agent.abandon", "the backup in progress did not finish within the shutdown grace; it is "
                    + "abandoned (no manifest was written, so no backup is visible; prune removes its objects)", Map.of());
            jobThread.interrupt();
            join(jobThread, clock.instant().plusSeconds(1));
        }
        join(leaseThread, clock.instant().plusSeconds(1));
        if (leaseHeld.getAndSet(false)) {
            try {
                lease.release();
            } catch (IOException | RuntimeException e) {
                log.warn("lease.release_failed", "could not release the lease; it lapses after its TTL",
                        Map.of("error", e.getMessage()));
            }
        }
        metrics.leaseHeld(false);
        log.info("agent.stopped", "stopped", Map.of());
    }

    private void join(Thread t, Instant deadline) {
        if (t == null) {
            return;
        }
        long millis = Duration.between(clock.instant(), deadline).toMillis();
        try {
            t.join(Math.max(1, millis));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Sleeps up to {@code d}; returns early when the agent is stopping. */
    private boolean pause(Duration d) {
        try {
            return !stopSignal.await(Math.max(1, d.toMillis()), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    // ------------------------------------------------------------------ lease

    private void keepLease() {
        Duration every = lease.renewInterval();
        while (!stopping.get()) {
            try {
                if (leaseHeld.get()) {
                    lease.renew();
                } else {
                    repository.initialize();
                    AcquireResult result = lease.tryAcquire();
                    if (result.acquired()) {
                        leaseHeld.set(true);
                        waitingFor.set(null);
                        metrics.leaseHeld(true);
                        log.info("lease.acquired", "holding the repository lease", Map.of("repository",
                                repository.location()));
                    } else if (!result.message().equals(waitingFor.get())) {
                        waitingFor.set(result.message());
                        log.warn("lease.waiting", result.message(), Map.of());
                    }
                }
                notReady.set(null);
            } catch (LeaseLostException e) {
                leaseHeld.set(false);
                metrics.leaseHeld(false);
                metrics.backupFailed("wal", "lease");
                log.error("lease.lost", e.getMessage() + "; writing stops until the lease is held again", Map.of());
            } catch (IOException | RuntimeException e) {
                notReady.set("the repository at " + repository.location() + " is not reachable: " + e.getMessage());
                log.error("lease.error", "could not reach the repository to hold the lease", Map.of("error",
                        String.valueOf(e.getMessage())));
            }
            pause(every);
        }
    }

    // ------------------------------------------------------------------ WAL

    private void shipWal() {
        ShippingLoop loop = new ShippingLoop(clock, config.walUpload(), config.walHeartbeat(), Duration.ofMinutes(1),
                new ShippingLoop.Listener() {
                    @Override
                    public void uploaded(WalShipper.Report report, Instant at) {
                        if (report.segments() > 0) {
                            metrics.walShipped(report.bytes(), report.segments());
                            metrics.latestRestorablePoint(at);
                        }
                        for (String b : report.breaks()) {
                            log.warn("wal.break", b + "; taking a backup so that point-in-time restore resumes",
                                    Map.of());
                            backupRequested.set(true);
                            wake();
                        }
                    }

                    @Override
                    public void polled(WalShipper s) {
                        WalShipper.Lag lag = s.lag();
                        metrics.walLag(lag.lsns(), lag.behind());
                    }

                    @Override
                    public void failed(Exception e, Duration retryIn) {
                        metrics.backupFailed("wal", cause(e));
                        log.error("wal.failed", "shipping the WAL failed; records stay in the local spool, retrying in "
                                + Durations.format(retryIn), Map.of("error", String.valueOf(e.getMessage())));
                    }
                });
        try {
            while (true) {
                boolean last = stopping.get();
                if (!leaseHeld.get()) {
                    if (walShipper != null) {
                        closeQuietly(walShipper); // a new holder ships its own timeline; ours resumes as a new one
                        walShipper = null;
                    }
                    if (last) {
                        return;
                    }
                    pause(config.walPoll());
                    continue;
                }
                loop.step(this::walShipper, last);
                if (last) {
                    return;
                }
                pause(config.walPoll());
            }
        } finally {
            if (walShipper != null) {
                closeQuietly(walShipper);
                walShipper = null;
            }
        }
    }

    /** The WAL thread's shipper, opened when first needed after the lease was taken. */
    private WalShipper walShipper() throws IOException {
        if (walShipper == null) {
            walShipper = new WalShipper(repository, config.dataDir(), config.tempDir(), clock,
                    WalShipper.DEFAULT_MAX_SEGMENT_BYTES);
        }
        return walShipper;
    }

    /** Wakes the job runner (a backup was requested, or the agent is stopping). */
    private void wake() {
        synchronized (backupRequested) {
            backupRequested.notifyAll();
        }
    }

    private static void closeQuietly(WalShipper shipper) {
        try {
            shipper.close();
        } catch (IOException ignored) {
            // spool files in the temp directory; the next run uses new ones
        }
    }

    // ------------------------------------------------------------------ jobs

    private void runJobs() {
        Instant lastFull = null;
        Instant lastAny = null;
        Instant lastPrune = clock.instant(); // the first prune one interval after start: no surprise at start-up
        boolean catalogRead = false;
        Instant retryAt = null;
        Duration backoff = MIN_BACKOFF;
        while (!stopping.get()) {
            if (!leaseHeld.get()) {
                catalogRead = false;
                sleepForJobs(Duration.ofSeconds(1));
                continue;
            }
            Instant now = clock.instant();
            try {
                if (!catalogRead) {
                    Instant[] times = lastBackupTimes();
                    lastFull = times[0];
                    lastAny = times[1];
                    catalogRead = true;
                    refreshRepositoryMetrics();
                }
                if (retryAt != null && now.isBefore(retryAt)) {
                    sleepForJobs(Duration.between(now, retryAt));
                    continue;
                }
                Instant fullDue = lastFull == null ? now : config.fullSchedule().next(now, lastFull);
                Instant incDue = config.incrementalSchedule().next(now, lastAny);
                Instant pruneDue = config.pruneSchedule().next(now, lastPrune);
                String kind = null;
                if (!fullDue.isAfter(now)) {
                    kind = "full";
                } else if (!incDue.isAfter(now) || backupRequested.getAndSet(false)) {
                    kind = "incremental";
                } else if (!pruneDue.isAfter(now)) {
                    kind = "prune";
                }
                if (kind == null) {
                    Instant next = min(min(fullDue, incDue), pruneDue);
                    sleepForJobs(Duration.between(now, next));
                    continue;
                }
                if (kind.equals("prune")) {
                    prune();
                    lastPrune = clock.instant();
                } else {
                    backup(kind.equals("full"));
                    lastAny = clock.instant();
                    if (kind.equals("full")) {
                        lastFull = lastAny;
                    }
                }
                refreshRepositoryMetrics();
                retryAt = null;
                backoff = MIN_BACKOFF;
            } catch (IOException | RuntimeException e) {
                if (Thread.currentThread().isInterrupted() || stopping.get()) {
                    return;
                }
                String cause = cause(e);
                log.error("job.failed", e.getMessage() + " (retrying in " + Durations.format(backoff) + ")",
                        Map.of("cause", cause));
                retryAt = clock.instant().plus(backoff);
                backoff = min(backoff.multipliedBy(2), MAX_BACKOFF);
            }
        }
    }

    private void sleepForJobs(Duration d) {
        Duration capped = min(d, Duration.ofSeconds(1)); // re-checks the lease, requests and the stop flag
        synchronized (backupRequested) {
            if (backupRequested.get() || stopping.get()) {
                return;
            }
            try {
                backupRequested.wait(Math.max(1, capped.toMillis()));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** The times of the latest full backup and of the latest backup of any type, from the repository. */
    private Instant[] lastBackupTimes() throws IOException {
        BackupCatalog catalog = BackupCatalog.load(repository);
        Instant full = null;
        Instant any = null;
        for (BackupId id : catalog.idsByTime()) {
            any = id.created();
            Manifest m = catalog.manifest(id);
            if (m.isFull()) {
                full = id.created();
            }
        }
        return new Instant[] {full, any};
    }

    private void backup(boolean full) throws IOException {
        String kind = full ? "full" : "incremental";
        long started = System.nanoTime();
        try {
            BackupOptions options = BackupOptions.defaults().withForceFull(full).withTempDir(config.tempDir())
                    .withCompression(config.compression()).withParallelism(config.parallelism());
            BackupResult result = new BackupService(repository).backup(config.dataDir(), options);
            Manifest m = result.manifest();
            kind = m.isFull() ? "full" : "incremental";
            Duration took = Duration.ofNanos(System.nanoTime() - started);
            metrics.backupSucceeded(kind, took, m.stats().bytesUploaded(), m.stats().objectsUploaded());
            Map<String, Object> fields = new LinkedHashMap<>();
            fields.put("id", m.id());
            fields.put("type", m.type());
            fields.put("consistency", m.consistency());
            fields.put("lsn", Long.toUnsignedString(m.sourceLsn()));
            fields.put("bytes_uploaded", m.stats().bytesUploaded());
            fields.put("duration_ms", took.toMillis());
            log.info("backup.done", m.type() + " " + m.consistency() + " backup " + m.id(), fields);
            for (String w : result.warnings()) {
                log.warn("backup.warning", w, Map.of("id", m.id()));
            }
        } catch (IOException | RuntimeException e) {
            metrics.backupFailed(kind, cause(e));
            throw e;
        }
    }

    private void prune() throws IOException {
        long started = System.nanoTime();
        try {
            RetentionPolicy policy = new RetentionPolicy(config.keepFull(), config.keepWithin(), config.pruneGrace());
            PrunePlan plan = PruneService.plan(repository, policy, clock);
            PruneService.Result result = new PruneService(repository).execute(plan);
            if (!result.complete()) {
                throw new IOException("prune stopped after deleting " + result.objectsDeleted() + " of "
                        + plan.objectCount() + " objects: " + result.failure() + " (the next prune finishes the job)");
            }
            metrics.backupSucceeded("prune", Duration.ofNanos(System.nanoTime() - started), 0, 0);
            log.info("prune.done", "pruned " + result.objectsDeleted() + " objects (" + result.bytesDeleted() + " bytes); "
                    + "kept " + plan.keptIds().size() + " backups", Map.of());
        } catch (IOException | RuntimeException e) {
            metrics.backupFailed("prune", cause(e));
            throw e;
        }
    }

    /** Repository size and the restorable window, from a listing (an hourly cost, not per request). */
    private void refreshRepositoryMetrics() throws IOException {
        long bytes = 0;
        for (BlobInfo info : repository.store().listAll(repository.key(""))) {
            bytes += info.size();
        }
        metrics.repositorySize(bytes);
        BackupCatalog catalog = BackupCatalog.load(repository);
        Optional<BackupId> oldest = catalog.idsByTime().stream().findFirst();
        oldest.ifPresent(id -> metrics.oldestRestorablePoint(id.created()));
        Instant latest = catalog.latest().map(BackupId::created).orElse(null);
        for (WalArchive.Timeline t : WalArchive.load(repository).timelines()) {
            Optional<WalSegment> last = t.last();
            if (last.isPresent() && (latest == null || last.get().shippedAt().isAfter(latest))) {
                latest = last.get().shippedAt();
            }
        }
        if (latest != null) {
            metrics.latestRestorablePoint(latest);
        }
    }

    /** A low-cardinality label for a failure. */
    static String cause(Throwable e) {
        if (e instanceof LeaseLostException) {
            return "lease";
        }
        if (e instanceof IntegrityException) {
            return "integrity";
        }
        if (e instanceof SourceException || e instanceof java.nio.file.NoSuchFileException) {
            return "source";
        }
        if (e instanceof IOException) {
            return "store";
        }
        return "other";
    }

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) <= 0 ? a : b;
    }

    private static Instant min(Instant a, Instant b) {
        return a.isBefore(b) ? a : b;
    }
}
