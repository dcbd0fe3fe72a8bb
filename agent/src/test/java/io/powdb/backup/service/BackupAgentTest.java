package io.powdb.backup.service;

import io.powdb.backup.archive.WalArchive;
import io.powdb.backup.repo.BackupCatalog;
import io.powdb.backup.repo.BackupId;
import io.powdb.backup.repo.Manifest;
import io.powdb.backup.repo.RestorePoint;
import io.powdb.backup.restore.RestoreResult;
import io.powdb.backup.testing.BackupTestSupport;
import io.powdb.backup.testing.PowDbFixture;
import io.powdb.backup.testing.WalRecord;
import io.powdb.backup.testing.WalWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The agent in-process against a local repository while a writer changes the database: backups on their
 * schedules, WAL shipped, metrics moving, a second agent waiting for the lease and taking over after a stop,
 * and a restore to the last commit of the run.
 */
class BackupAgentTest extends BackupTestSupport {
    private AgentConfig config(Map<String, String> extra) {
        Map<String, String> env = new HashMap<>();
        env.put("POWDB_DATA", db.dir().toString());
        env.put("POWDB_BACKUP_REPO", tmp.resolve("repo").toString());
        env.put("POWDB_BACKUP_TEMP_DIR", tmp.resolve("agent-tmp").toString());
        env.put("POWDB_BACKUP_FULL_SCHEDULE", "1h");
        env.put("POWDB_BACKUP_INCREMENTAL_SCHEDULE", "700ms");
        env.put("POWDB_BACKUP_WAL_POLL", "20ms");
        env.put("POWDB_BACKUP_WAL_UPLOAD", "100ms");
        env.put("POWDB_BACKUP_WAL_HEARTBEAT", "200ms");
        env.put("POWDB_BACKUP_LEASE_TTL", "4s");
        env.put("POWDB_BACKUP_SHUTDOWN_GRACE", "10s");
        env.putAll(extra);
        return AgentConfig.from(env);
    }

    private static void await(String what, Duration timeout, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(20);
        }
    }

    private int backups() {
        try {
            return BackupCatalog.load(repository).ids().size();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    @Test
    @Timeout(60)
    void anAgentWhoseStoreKeepsFailingStaysUpAndSaysSo() throws Exception {
        db.createTable("a", 8);
        db.checkpoint();
        AtomicBoolean broken = new AtomicBoolean(true);
        io.powdb.backup.repo.Repository failing = new io.powdb.backup.repo.Repository(
                new io.powdb.backup.store.ForwardingBlobStore(new io.powdb.backup.store.local.LocalBlobStore(tmp.resolve("repo"))) {
                    private void check() throws java.io.IOException {
                        if (broken.get()) {
                            throw new java.io.IOException("503 Slow Down (injected)");
                        }
                    }

                    @Override
                    public java.util.List<io.powdb.backup.store.BlobInfo> list(String prefix, String startAfter, int limit)
                            throws java.io.IOException {
                        check();
                        return super.list(prefix, startAfter, limit);
                    }

                    @Override
                    public java.io.InputStream openRange(String key, long offset, long length) throws java.io.IOException {
                        check();
                        return super.openRange(key, offset, length);
                    }

                    @Override
                    public io.powdb.backup.store.BlobWriter newWriter(String key, io.powdb.backup.store.WriteMode mode)
                            throws java.io.IOException {
                        check();
                        return super.newWriter(key, mode);
                    }
                }, "");
        AgentMetrics metrics = new AgentMetrics();
        ByteArrayOutputStream logs = new ByteArrayOutputStream();
        BackupAgent agent = new BackupAgent(config(Map.of("POWDB_BACKUP_LEASE_TTL", "4s")), failing, metrics,
                new JsonLog(new PrintStream(logs, true, StandardCharsets.UTF_8), JsonLog.Format.TEXT), Clock.systemUTC());
        agent.start();
        try {
            await("readiness to say the store is unreachable", Duration.ofSeconds(10),
                    () -> !agent.readiness().ready() && agent.readiness().reason().contains("503 Slow Down"));
            Thread.sleep(1500);
            assertFalse(agent.holdsLease());
            assertTrue(logs.toString(StandardCharsets.UTF_8).contains("lease.error"), logs.toString());
            // The store comes back: the agent recovers on its own and backs up.
            broken.set(false);
            await("the agent to recover and back up", Duration.ofSeconds(20), () -> backups() >= 1);
            assertTrue(agent.readiness().ready(), agent.readiness().reason());
        } finally {
            agent.stop();
        }
    }

    @Test
    @Timeout(90)
    void runsBackupsAndShipsWalWhileAWriterRunsThenHandsTheLeaseOver() throws Exception {
        db.createTable("a", 32);
        db.checkpoint();
        Path initial = snapshot("initial");
        db.deferPageWrites(true);
        List<WalRecord> archive = new ArrayList<>();
        AtomicBoolean stop = new AtomicBoolean();
        Thread writer = new Thread(() -> {
            java.util.Random r = new java.util.Random(5);
            try {
                while (!stop.get()) {
                    db.updateRandomPages("a", 1 + r.nextInt(2));
                    db.flushSomeDirtyPages(r.nextInt(3));
                    if (r.nextInt(200) == 0) {
                        synchronized (db) {
                            archive.addAll(db.walRecords());
                            db.checkpoint();
                        }
                    }
                    Thread.sleep(3);
                }
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        ByteArrayOutputStream logs1 = new ByteArrayOutputStream();
        ByteArrayOutputStream logs2 = new ByteArrayOutputStream();
        AgentMetrics metrics = new AgentMetrics();
        BackupAgent first = new BackupAgent(config(Map.of()), repository, metrics,
                new JsonLog(new PrintStream(logs1, true, StandardCharsets.UTF_8), JsonLog.Format.JSON), Clock.systemUTC());
        BackupAgent second = new BackupAgent(config(Map.of("POWDB_BACKUP_TEMP_DIR", tmp.resolve("agent2-tmp").toString())),
                repository, new AgentMetrics(),
                new JsonLog(new PrintStream(logs2, true, StandardCharsets.UTF_8), JsonLog.Format.TEXT), Clock.systemUTC());
        writer.start();
        try {
            first.start();
            await("the first agent to hold the lease", Duration.ofSeconds(10), first::holdsLease);
            second.start();
            await("a full and two incremental backups", Duration.ofSeconds(40), () -> backups() >= 3);
            await("shipped WAL", Duration.ofSeconds(10), () -> {
                try {
                    return !WalArchive.load(repository).isEmpty();
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            });
            assertFalse(second.holdsLease(), "the second agent must wait");
            assertTrue(second.readiness().ready() && second.readiness().reason().contains("locked by agent"),
                    second.readiness().reason());
            String scrape = metrics.scrape();
            assertTrue(scrape.contains("powdb_backup_lease_held 1.0"), scrape);
            assertTrue(scrape.matches("(?s).*powdb_backup_uploaded_bytes_total\\{kind=\"wal\"} [1-9].*"), scrape);
            assertTrue(scrape.matches("(?s).*powdb_backup_last_success_timestamp_seconds\\{kind=\"incremental\"} 1\\.7.*"),
                    scrape);

            first.stop(); // releases the lease: the second takes over at its next attempt
            await("the second agent to take over", Duration.ofSeconds(10), second::holdsLease);
            int before = backups();
            await("a backup by the second agent", Duration.ofSeconds(30), () -> backups() > before);
        } finally {
            stop.set(true);
            writer.join();
        }
        db.updateRandomPages("a", 1); // the last commit, shipped by the second agent
        long last = db.lastLsn();
        await("the last commit shipped", Duration.ofSeconds(10), () -> {
            try {
                return WalArchive.load(repository).timelines().stream()
                        .anyMatch(t -> t.last().orElseThrow().lastLsn() == last);
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        });
        second.stop();
        archive.addAll(db.walRecords());

        Path target = newTarget();
        RestoreResult restored = restore(new RestorePoint.AtOrBeforeLsn(last), target);
        assertEquals(last, restored.reachedLsn());
        PowDbFixture.assertSameDatabase(stateAtCommit(initial, archive, last, "last"), recovered(target, "last"), true);
        Manifest full = BackupCatalog.load(repository).manifest(BackupCatalog.load(repository).idsByTime().get(0));
        assertTrue(full.isFull());
        String log1 = logs1.toString(StandardCharsets.UTF_8);
        assertTrue(log1.contains("\"event\":\"lease.acquired\"") && log1.contains("\"event\":\"backup.done\"")
                && log1.contains("\"event\":\"agent.stopped\""), log1);
        for (String line : log1.split("\n")) {
            io.powdb.backup.repo.Json.MAPPER.readTree(line); // one JSON object per line
        }
        assertTrue(logs2.toString(StandardCharsets.UTF_8).contains("lease.waiting"), logs2.toString());
        assertEquals(0, archive.stream().filter(r -> r.type() == WalWriter.COMMIT && r.lsn() > last).count());
        assertTrue(BackupCatalog.load(repository).ids().stream().map(BackupId::lsn).anyMatch(l -> l > 0));
    }
}
