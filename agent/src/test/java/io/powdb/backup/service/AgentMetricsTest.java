package io.powdb.backup.service;

import io.powdb.backup.Version;
import org.junit.jupiter.api.Test;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AgentMetricsTest {
    private static final Instant NOW = Instant.parse("2026-11-21T10:00:00.250Z");
    private static final double NOW_SECONDS = 1_795_255_200.25;

    private final AgentMetrics metrics = new AgentMetrics(Clock.fixed(NOW, ZoneOffset.UTC));

    @Test
    void everySeriesIsThereFromTheStartWithItsExactNameAndLabels() {
        Scrape s = scrape();
        for (String kind : List.of("full", "incremental", "wal", "prune")) {
            assertEquals(0.0, s.value("powdb_backup_uploaded_bytes_total", "kind", kind));
            assertEquals(0.0, s.value("powdb_backup_uploaded_objects_total", "kind", kind));
            assertEquals(0.0, s.value("powdb_backup_consecutive_failures", "kind", kind));
            assertTrue(Double.isNaN(s.value("powdb_backup_last_success_timestamp_seconds", "kind", kind)));
            assertTrue(Double.isNaN(s.value("powdb_backup_last_duration_seconds", "kind", kind)));
            for (String cause : List.of("store", "source", "integrity", "lease", "other")) {
                assertEquals(0.0, s.value("powdb_backup_failures_total", "kind", kind, "cause", cause));
            }
        }
        for (String gauge : List.of("powdb_backup_wal_lag_lsn", "powdb_backup_wal_lag_seconds",
                "powdb_backup_repository_bytes", "powdb_backup_oldest_restorable_timestamp_seconds",
                "powdb_backup_latest_restorable_timestamp_seconds")) {
            assertTrue(Double.isNaN(s.value(gauge)), gauge);
        }
        assertEquals(0.0, s.value("powdb_backup_lease_held"));
        assertEquals(1.0, s.value("powdb_backup_info", "version", Version.current()));

        assertEquals("counter", s.type("powdb_backup_uploaded_bytes_total"));
        assertEquals("counter", s.type("powdb_backup_uploaded_objects_total"));
        assertEquals("counter", s.type("powdb_backup_failures_total"));
        assertEquals("gauge", s.type("powdb_backup_consecutive_failures"));
        assertEquals("gauge", s.type("powdb_backup_last_success_timestamp_seconds"));
        // 4 kinds x (2 counters + 5 causes + 3 gauges) + 6 global gauges + info: the whole, bounded set.
        assertEquals(4 * 10 + 6 + 1, s.samples.size(), () -> String.join("\n", s.samples.keySet()));
    }

    @Test
    void successAddsUploadsAndStampsTimeAndDuration() {
        metrics.backupSucceeded("full", Duration.ofMillis(1500), 1000, 3);
        metrics.backupSucceeded("full", Duration.ofMillis(2250), 24, 1);

        Scrape s = scrape();
        assertEquals(1024.0, s.value("powdb_backup_uploaded_bytes_total", "kind", "full"));
        assertEquals(4.0, s.value("powdb_backup_uploaded_objects_total", "kind", "full"));
        assertEquals(2.25, s.value("powdb_backup_last_duration_seconds", "kind", "full"));
        assertEquals(NOW_SECONDS, s.value("powdb_backup_last_success_timestamp_seconds", "kind", "full"), 1e-3);
        assertEquals(0.0, s.value("powdb_backup_uploaded_bytes_total", "kind", "incremental"));
        assertTrue(Double.isNaN(s.value("powdb_backup_last_success_timestamp_seconds", "kind", "incremental")));
    }

    @Test
    void failureCountsByCauseAndConsecutivelyUntilASuccess() {
        metrics.backupFailed("incremental", "store");
        metrics.backupFailed("incremental", "store");
        metrics.backupFailed("incremental", "integrity");

        Scrape s = scrape();
        assertEquals(2.0, s.value("powdb_backup_failures_total", "kind", "incremental", "cause", "store"));
        assertEquals(1.0, s.value("powdb_backup_failures_total", "kind", "incremental", "cause", "integrity"));
        assertEquals(0.0, s.value("powdb_backup_failures_total", "kind", "full", "cause", "store"));
        assertEquals(3.0, s.value("powdb_backup_consecutive_failures", "kind", "incremental"));
        assertEquals(0.0, s.value("powdb_backup_consecutive_failures", "kind", "full"));

        metrics.backupSucceeded("incremental", Duration.ofSeconds(1), 10, 1);
        s = scrape();
        assertEquals(0.0, s.value("powdb_backup_consecutive_failures", "kind", "incremental"));
        assertEquals(2.0, s.value("powdb_backup_failures_total", "kind", "incremental", "cause", "store"),
                "a success leaves the failure count alone");

        metrics.backupFailed("incremental", "lease");
        assertEquals(1.0, scrape().value("powdb_backup_consecutive_failures", "kind", "incremental"));
    }

    @Test
    void aCauseOutsideTheFixedSetCountsAsOther() {
        metrics.backupFailed("prune", "java.io.IOException: disk /dev/sda1 full");
        metrics.backupFailed("prune", null);

        Scrape s = scrape();
        assertEquals(2.0, s.value("powdb_backup_failures_total", "kind", "prune", "cause", "other"));
        assertEquals(4 * 10 + 6 + 1, s.samples.size(), "no new series");
    }

    @Test
    void anUnknownKindOrANegativeAmountIsRejected() {
        assertThrows(IllegalArgumentException.class, () -> metrics.backupFailed("differential", "store"));
        assertThrows(IllegalArgumentException.class,
                () -> metrics.backupSucceeded("Full", Duration.ZERO, 0, 0));
        assertThrows(IllegalArgumentException.class,
                () -> metrics.backupSucceeded("full", Duration.ofSeconds(-1), 0, 0));
        assertThrows(IllegalArgumentException.class,
                () -> metrics.backupSucceeded("full", Duration.ZERO, -1, 0));
        assertThrows(IllegalArgumentException.class, () -> metrics.walShipped(10, -1));
        assertThrows(IllegalArgumentException.class, () -> metrics.repositorySize(-1));
    }

    @Test
    void walShippingCountsUnderWalAndMarksItSucceeding() {
        metrics.backupFailed("wal", "source");
        metrics.walShipped(16 * 1024 * 1024, 1);
        metrics.walShipped(32 * 1024 * 1024, 2);

        Scrape s = scrape();
        assertEquals(48.0 * 1024 * 1024, s.value("powdb_backup_uploaded_bytes_total", "kind", "wal"));
        assertEquals(3.0, s.value("powdb_backup_uploaded_objects_total", "kind", "wal"));
        assertEquals(0.0, s.value("powdb_backup_consecutive_failures", "kind", "wal"));
        assertEquals(NOW_SECONDS, s.value("powdb_backup_last_success_timestamp_seconds", "kind", "wal"), 1e-3);
        assertEquals(1.0, s.value("powdb_backup_failures_total", "kind", "wal", "cause", "source"));
    }

    @Test
    void gaugesTakeTheLatestValue() {
        metrics.walLag(12_345, Duration.ofMillis(2500));
        metrics.repositorySize(5L << 30);
        metrics.oldestRestorablePoint(Instant.parse("2026-11-01T00:00:00Z"));
        metrics.latestRestorablePoint(NOW);
        metrics.leaseHeld(true);

        Scrape s = scrape();
        assertEquals(12_345.0, s.value("powdb_backup_wal_lag_lsn"));
        assertEquals(2.5, s.value("powdb_backup_wal_lag_seconds"));
        assertEquals(5.0 * (1L << 30), s.value("powdb_backup_repository_bytes"));
        assertEquals(1_793_491_200.0, s.value("powdb_backup_oldest_restorable_timestamp_seconds"));
        assertEquals(NOW_SECONDS, s.value("powdb_backup_latest_restorable_timestamp_seconds"), 1e-3);
        assertEquals(1.0, s.value("powdb_backup_lease_held"));

        metrics.walLag(0, Duration.ZERO);
        metrics.leaseHeld(false);
        metrics.walLag(-5, Duration.ofSeconds(-1)); // a racy measurement reads as caught up
        s = scrape();
        assertEquals(0.0, s.value("powdb_backup_wal_lag_lsn"));
        assertEquals(0.0, s.value("powdb_backup_wal_lag_seconds"));
        assertEquals(0.0, s.value("powdb_backup_lease_held"));
    }

    @Test
    void gaugesKeepTheirValuesAcrossGarbageCollections() throws InterruptedException {
        metrics.repositorySize(42);
        metrics.leaseHeld(true);
        metrics.backupFailed("full", "store");
        for (int i = 0; i < 5; i++) {
            System.gc();
            Thread.sleep(20);
        }
        Scrape s = scrape();
        assertEquals(42.0, s.value("powdb_backup_repository_bytes"));
        assertEquals(1.0, s.value("powdb_backup_lease_held"));
        assertEquals(1.0, s.value("powdb_backup_consecutive_failures", "kind", "full"));
        assertEquals(1.0, s.value("powdb_backup_info", "version", Version.current()));
    }

    @Test
    void concurrentReportsAreAllCounted() throws Exception {
        int threads = 8;
        int perThread = 2_000;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        CountDownLatch start = new CountDownLatch(1);
        List<Future<?>> futures = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            futures.add(pool.submit(() -> {
                start.await();
                for (int i = 0; i < perThread; i++) {
                    metrics.backupSucceeded("incremental", Duration.ofMillis(1), 3, 1);
                    metrics.backupFailed("prune", "lease");
                    metrics.walShipped(1, 1);
                    if (i % 100 == 0) {
                        metrics.scrape();
                    }
                }
                return null;
            }));
        }
        start.countDown();
        for (Future<?> f : futures) {
            f.get(30, TimeUnit.SECONDS);
        }
        pool.shutdown();

        Scrape s = scrape();
        double n = threads * perThread;
        assertEquals(3 * n, s.value("powdb_backup_uploaded_bytes_total", "kind", "incremental"));
        assertEquals(n, s.value("powdb_backup_uploaded_objects_total", "kind", "incremental"));
        assertEquals(n, s.value("powdb_backup_failures_total", "kind", "prune", "cause", "lease"));
        assertEquals(n, s.value("powdb_backup_consecutive_failures", "kind", "prune"));
        assertEquals(n, s.value("powdb_backup_uploaded_bytes_total", "kind", "wal"));
    }

    private Scrape scrape() {
        return Scrape.parse(metrics.scrape());
    }

    /** The samples and types of a Prometheus text exposition, keyed by name and sorted labels. */
    record Scrape(Map<String, Double> samples, Map<String, String> types) {
        static Scrape parse(String text) {
            Map<String, Double> samples = new TreeMap<>();
            Map<String, String> types = new TreeMap<>();
            for (String line : text.split("\n")) {
                if (line.startsWith("# TYPE ")) {
                    String[] parts = line.split(" ");
                    types.put(parts[2], parts[3]);
                } else if (!line.isBlank() && !line.startsWith("#")) {
                    int space = line.lastIndexOf(' ');
                    String series = line.substring(0, space);
                    samples.put(key(series), Double.valueOf(line.substring(space + 1)));
                }
            }
            return new Scrape(samples, types);
        }

        /** {@code name{b="2",a="1"}} as {@code name{a="1",b="2"}}. */
        private static String key(String series) {
            int brace = series.indexOf('{');
            if (brace < 0) {
                return series;
            }
            Map<String, String> labels = new TreeMap<>();
            for (String pair : series.substring(brace + 1, series.length() - 1).split(",")) {
                int eq = pair.indexOf('=');
                labels.put(pair.substring(0, eq), pair.substring(eq + 2, pair.length() - 1));
            }
            return key(series.substring(0, brace), labels);
        }

        private static String key(String name, Map<String, String> labels) {
            if (labels.isEmpty()) {
                return name;
            }
            StringBuilder sb = new StringBuilder(name).append('{');
            labels.forEach((k, v) -> sb.append(k).append("=\"").append(v).append("\","));
            sb.setLength(sb.length() - 1);
            return sb.append('}').toString();
        }

        double value(String name, String... labelPairs) {
            Map<String, String> labels = new TreeMap<>();
            for (int i = 0; i < labelPairs.length; i += 2) {
                labels.put(labelPairs[i], labelPairs[i + 1]);
            }
            String key = key(name, labels);
            Double value = samples.get(key);
            if (value == null) {
                throw new AssertionError("no series " + key + " in\n" + String.join("\n", samples.keySet()));
            }
            return value;
        }

        String type(String name) {
            String family = name.endsWith("_total") ? name.substring(0, name.length() - "_total".length()) : name;
            String type = types.containsKey(name) ? types.get(name) : types.get(family);
            if (type == null) {
                throw new AssertionError("no TYPE for " + name + " in " + types);
            }
            return type;
        }
    }
}
