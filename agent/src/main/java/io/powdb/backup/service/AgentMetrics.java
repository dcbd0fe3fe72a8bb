package io.powdb.backup.service;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.powdb.backup.Version;
import io.prometheus.metrics.core.metrics.Info;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The agent's metrics, in the vocabulary of the agent rather than of a metrics library: callers report what
 * happened ({@link #backupSucceeded}, {@link #walLag}, ...) and {@link #scrape()} renders it in the Prometheus
 * text format (version 0.0.4) for {@link HealthServer}'s {@code /metrics}. No Micrometer type appears in this
 * class's public API, so the library can be replaced without touching callers.
 *
 * <p>Every series is registered when the object is created, for every {@link #KINDS kind} and every
 * {@link #CAUSES cause}, so the set of series is fixed (bounded cardinality) and counters start at 0 (so that
 * {@code increase()} sees the first failure). Gauges whose value is not known yet (a last success that has not
 * happened, a WAL lag not yet measured, ...) read {@code NaN} until first set: an alert such as
 * {@code time() - powdb_backup_last_success_timestamp_seconds > 26*3600} does not fire on NaN, so pair it with
 * one on {@code powdb_backup_last_success_timestamp_seconds != powdb_backup_last_success_timestamp_seconds}
 * (NaN) or on the process start time if "never succeeded" must alert.
 *
 * <p>Each instance owns its own registry (never Micrometer's global one). All methods are thread-safe; a method
 * that updates several series (e.g. {@link #backupSucceeded}) is not atomic as a group, which a scrape may
 * observe half-way but never tears a single value.
 */
public final class AgentMetrics {
    /** The backup kinds accepted by {@link #backupSucceeded} and {@link #backupFailed}. */
    public static final List<String> KINDS = List.of("full", "incremental", "wal", "prune");

    /**
     * The failure causes {@link #backupFailed} records. Any other cause is recorded as {@code "other"}: a
     * cause is a label value, and free text (an exception message, a file name) there would create one series
     * per distinct value.
     */
    public static final List<String> CAUSES = List.of("store", "source", "integrity", "lease", "other");

    private static final String PREFIX = "powdb_backup_";

    private final Clock clock;
    private final PrometheusMeterRegistry registry;

    private final Map<String, PerKind> kinds = new LinkedHashMap<>();
    private final DoubleCell walLagLsns;
    private final DoubleCell walLagSeconds;
    private final DoubleCell repositoryBytes;
    private final DoubleCell oldestRestorable;
    private final DoubleCell latestRestorable;
    private final DoubleCell leaseHeld;

    public AgentMetrics() {
        this(Clock.systemUTC());
    }

    /** @param clock the time a success is stamped with ({@code last_success_timestamp_seconds}) */
    public AgentMetrics(Clock clock) {
        this.clock = Objects.requireNonNull(clock, "clock");
        this.registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        for (String kind : KINDS) {
            kinds.put(kind, new PerKind(registry, kind));
        }
        walLagLsns = gauge("wal_lag_lsn", "How far the shipped WAL is behind the database's, in LSNs.", Double.NaN);
        walLagSeconds = gauge("wal_lag_seconds",
                "How far the shipped WAL is behind the database's, in seconds of commits.", Double.NaN);
        repositoryBytes = gauge("repository_bytes", "Bytes the backup repository holds.", Double.NaN);
        oldestRestorable = gauge("oldest_restorable_timestamp_seconds",
                "The earliest point in time the repository can restore to, in Unix seconds.", Double.NaN);
        latestRestorable = gauge("latest_restorable_timestamp_seconds",
                "The latest point in time the repository can restore to, in Unix seconds.", Double.NaN);
        leaseHeld = gauge("lease_held", "1 while this agent holds the repository's writer lease, else 0.", 0);
        // An info metric, which Prometheus's client library renders as powdb_backup_info{version} 1. (A
        // Micrometer gauge cannot be named so: the "_info" suffix is reserved and stripped from its name.)
        Info.builder()
                .name(PREFIX + "info")
                .help("Always 1; the labels describe this agent.")
                .labelNames("version")
                .register(registry.getPrometheusRegistry())
                .setLabelValues(Version.current());
    }

    /**
     * A backup of {@code kind} (full, incremental, wal, prune) completed: stamps its last success with now,
     * records how long it took, adds what it uploaded, and resets its consecutive failures to 0.
     */
    public void backupSucceeded(String kind, Duration took, long bytesUploaded, long objectsUploaded) {
        PerKind k = kind(kind);
        Objects.requireNonNull(took, "took");
        if (took.isNegative()) {
            throw new IllegalArgumentException("negative duration: " + took);
        }
        requireNonNegative(bytesUploaded, "bytesUploaded");
        requireNonNegative(objectsUploaded, "objectsUploaded");
        k.uploaded(bytesUploaded, objectsUploaded);
        k.lastDuration.set(took.toNanos() / 1e9);
        k.succeeded(now());
    }

    /**
     * A backup of {@code kind} failed: counts it under {@code cause} (one of {@link #CAUSES}; anything else
     * counts as "other") and increments its consecutive failures.
     */
    public void backupFailed(String kind, String cause) {
        PerKind k = kind(kind);
        k.failed(cause == null ? "other" : cause);
    }

    /**
     * The WAL shipper uploaded {@code segments} segments ({@code bytes} in all): counts them under kind "wal"
     * and marks WAL shipping as succeeding (last success = now, consecutive failures = 0). It is the WAL
     * shipper's equivalent of {@code backupSucceeded("wal", ...)} without a duration; report a shipment through
     * one of the two, not both, or its bytes count twice. A poll that found nothing to ship may report
     * {@code walShipped(0, 0)}: shipping is healthy.
     */
    public void walShipped(long bytes, int segments) {
        requireNonNegative(bytes, "bytes");
        requireNonNegative(segments, "segments");
        PerKind k = kinds.get("wal");
        k.uploaded(bytes, segments);
        k.succeeded(now());
    }

    /**
     * How far shipping is behind the database, in LSNs and in time. A negative lag (the database's position
     * read before the shipper's moved past it) is recorded as 0.
     */
    public void walLag(long lsns, Duration behind) {
        Objects.requireNonNull(behind, "behind");
        walLagLsns.set(Math.max(0, lsns));
        walLagSeconds.set(behind.isNegative() ? 0 : behind.toNanos() / 1e9);
    }

    public void repositorySize(long bytes) {
        requireNonNegative(bytes, "bytes");
        repositoryBytes.set(bytes);
    }

    public void oldestRestorablePoint(Instant point) {
        oldestRestorable.set(epochSeconds(point));
    }

    public void latestRestorablePoint(Instant point) {
        latestRestorable.set(epochSeconds(point));
    }

    public void leaseHeld(boolean held) {
        leaseHeld.set(held ? 1 : 0);
    }

    /** Every series, in the Prometheus text exposition format 0.0.4. */
    public String scrape() {
        return registry.scrape();
    }

    private PerKind kind(String kind) {
        PerKind k = kinds.get(Objects.requireNonNull(kind, "kind"));
        if (k == null) {
            throw new IllegalArgumentException("unknown backup kind " + kind + "; expected one of " + KINDS);
        }
        return k;
    }

    private DoubleCell gauge(String name, String help, double initial) {
        DoubleCell cell = new DoubleCell(initial);
        Gauge.builder(PREFIX + name, cell, DoubleCell::get).description(help).register(registry);
        return cell;
    }

    private double now() {
        return epochSeconds(clock.instant());
    }

    private static double epochSeconds(Instant instant) {
        Objects.requireNonNull(instant, "instant");
        return instant.getEpochSecond() + instant.getNano() / 1e9;
    }

    private static void requireNonNegative(long value, String name) {
        if (value < 0) {
            throw new IllegalArgumentException(name + " is negative: " + value);
        }
    }

    /** The series of one backup kind. */
    private static final class PerKind {
        private final Counter uploadedBytes;
        private final Counter uploadedObjects;
        private final Map<String, Counter> failures = new LinkedHashMap<>();
        private final DoubleCell lastSuccess = new DoubleCell(Double.NaN);
        private final DoubleCell lastDuration = new DoubleCell(Double.NaN);
        private final AtomicLong consecutiveFailures = new AtomicLong();

        PerKind(MeterRegistry registry, String kind) {
            uploadedBytes = Counter.builder(PREFIX + "uploaded_bytes")
                    .description("Bytes uploaded to the repository.")
                    .tag("kind", kind)
                    .register(registry);
            uploadedObjects = Counter.builder(PREFIX + "uploaded_objects")
                    .description("Objects uploaded to the repository.")
                    .tag("kind", kind)
                    .register(registry);
            for (String cause : CAUSES) {
                failures.put(cause, Counter.builder(PREFIX + "failures")
                        .description("Backups that failed, by cause.")
                        .tag("kind", kind)
                        .tag("cause", cause)
                        .register(registry));
            }
            Gauge.builder(PREFIX + "consecutive_failures", consecutiveFailures, AtomicLong::get)
                    .description("Failures since the last success (0 after a success).")
                    .tag("kind", kind)
                    .register(registry);
            Gauge.builder(PREFIX + "last_success_timestamp_seconds", lastSuccess, DoubleCell::get)
                    .description("When the last successful backup finished, in Unix seconds (NaN: none yet).")
                    .tag("kind", kind)
                    .register(registry);
            Gauge.builder(PREFIX + "last_duration_seconds", lastDuration, DoubleCell::get)
                    .description("How long the last successful backup took (NaN: none yet).")
                    .tag("kind", kind)
                    .register(registry);
        }

        void uploaded(long bytes, long objects) {
            uploadedBytes.increment(bytes);
            uploadedObjects.increment(objects);
        }

        void succeeded(double now) {
            lastSuccess.set(now);
            consecutiveFailures.set(0);
        }

        void failed(String cause) {
            Counter counter = failures.get(cause);
            (counter != null ? counter : failures.get("other")).increment();
            consecutiveFailures.incrementAndGet();
        }
    }

    /** A double that can be read and written from any thread; strongly held by this class for its gauge. */
    private static final class DoubleCell {
        private final AtomicLong bits;

        DoubleCell(double initial) {
            bits = new AtomicLong(Double.doubleToRawLongBits(initial));
        }

        double get() {
            return Double.longBitsToDouble(bits.get());
        }

        void set(double value) {
            bits.set(Double.doubleToRawLongBits(value));
        }
    }
}
