package io.powdb.backup.cli;

import io.powdb.backup.archive.WalArchive;
import io.powdb.backup.archive.WalSegment;
import io.powdb.backup.lease.LeaseStatus;
import io.powdb.backup.lease.RepositoryLease;
import io.powdb.backup.repo.BackupCatalog;
import io.powdb.backup.repo.BackupId;
import io.powdb.backup.repo.Manifest;
import io.powdb.backup.repo.Repository;
import io.powdb.backup.repo.RepositoryException;
import picocli.CommandLine.Command;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

@Command(name = "status", description = {
        "Shows the state of a repository: the latest full and incremental backups, the shipped WAL (timelines,",
        "newest LSN, last shipment), the window that can be restored, and which agent holds the lease."})
final class StatusCommand extends CommandBase {
    record BackupLine(String id, String type, String consistency, long sourceLsn, String created, String history) {
        static BackupLine of(Manifest m) {
            return new BackupLine(m.id(), m.type(), m.consistency(), m.sourceLsn(), m.created(), m.history());
        }
    }

    record TimelineLine(String id, int generations, long segments, long firstLsn, long lastLsn, String lastShipped,
            String coveredUntil) {
    }

    record Window(String oldest, Long oldestLsn, String newest, Long newestLsn) {
    }

    record LeaseLine(boolean held, String holder, String renewedAt, String expiresAt, boolean expired, String problem) {
    }

    /** Which master key the repository's newest data keys are wrapped with (an id, never key material). */
    record EncryptionLine(String algorithm, String masterKeyId) {
    }

    record Output(String repository, int backups, EncryptionLine encryption, BackupLine latestFull, BackupLine latest,
            List<TimelineLine> wal, Window restorable, LeaseLine lease) {
    }

    @Override
    public Integer call() throws Exception {
        try (Repository repository = openRepository()) {
            repository.requireExists();
            BackupCatalog catalog = BackupCatalog.load(repository);
            List<BackupId> byTime = catalog.idsByTime();
            BackupLine latest = null;
            BackupLine latestFull = null;
            for (int i = byTime.size() - 1; i >= 0 && (latest == null || latestFull == null); i--) {
                try {
                    Manifest m = catalog.manifest(byTime.get(i));
                    latest = latest == null ? BackupLine.of(m) : latest;
                    if (m.isFull() && latestFull == null) {
                        latestFull = BackupLine.of(m);
                    }
                } catch (io.powdb.backup.crypto.EncryptionKeyException e) {
                    throw e; // the wrong key: not damage
                } catch (RepositoryException e) {
                    warn("backup " + byTime.get(i) + " has a damaged manifest: " + e.getMessage());
                }
            }
            List<TimelineLine> wal = new ArrayList<>();
            Instant newest = latest == null ? null : Instant.parse(latest.created());
            Long newestLsn = latest == null ? null : latest.sourceLsn();
            for (WalArchive.Timeline t : WalArchive.load(repository).timelines()) {
                WalSegment first = t.first().orElseThrow();
                WalSegment last = t.last().orElseThrow();
                String covered = t.heartbeat().filter(h -> h.shippedLsn() == last.lastLsn())
                        .map(h -> h.coveredUntil()).orElse(null);
                wal.add(new TimelineLine(t.id(), t.generations().size(),
                        t.generations().stream().mapToLong(g -> g.segments().size()).sum(), first.firstLsn(),
                        last.lastLsn(), last.shippedAt().toString(), covered));
                if (newest == null || last.shippedAt().isAfter(newest)) {
                    newest = last.shippedAt();
                    newestLsn = last.lastLsn();
                }
            }
            Window window = byTime.isEmpty() ? null : new Window(byTime.get(0).created().toString(), byTime.get(0).lsn(),
                    newest == null ? null : newest.toString(), newestLsn);
            LeaseStatus lease = RepositoryLease.current(repository);
            LeaseLine leaseLine = lease.exists() ? new LeaseLine(lease.live(), lease.holder(),
                    String.valueOf(lease.renewedAt()), String.valueOf(lease.expiresAt()), lease.expired(), lease.problem())
                    : null;
            EncryptionLine encryption = repository.marker().filter(m -> m.encrypted())
                    .map(m -> new EncryptionLine(m.encryption().algorithm(), m.encryption().masterKeyId())).orElse(null);
            Output out = new Output(repository.location(), byTime.size(), encryption, latestFull, latest, wal, window,
                    leaseLine);
            if (json) {
                printJson(out);
                return 0;
            }
            say("Repository " + out.repository() + ": " + out.backups() + " backups");
            say("  encryption:         " + (encryption == null ? "none"
                    : encryption.algorithm() + ", master key " + encryption.masterKeyId()));
            say("  latest full:        " + describe(latestFull));
            say("  latest backup:      " + describe(latest));
            if (wal.isEmpty()) {
                say("  shipped WAL:        none (run 'powdb-backup ship' or the agent for point-in-time restore)");
            }
            for (TimelineLine t : wal) {
                say("  WAL timeline " + t.id() + ": LSN " + Long.toUnsignedString(t.firstLsn()) + ".."
                        + Long.toUnsignedString(t.lastLsn()) + ", " + t.segments() + " segments, last shipped "
                        + t.lastShipped() + (t.coveredUntil() != null ? ", nothing newer as of " + t.coveredUntil() : ""));
            }
            if (window != null) {
                say("  restorable:         from " + window.oldest() + " (LSN " + Long.toUnsignedString(window.oldestLsn())
                        + ") to " + window.newest() + " (LSN " + Long.toUnsignedString(window.newestLsn()) + ")");
            }
            say("  lease:              " + (leaseLine == null ? "free"
                    : (leaseLine.held() ? "held by " : "last held by ") + leaseLine.holder() + ", renewed "
                    + leaseLine.renewedAt() + ", expires " + leaseLine.expiresAt()
                    + (leaseLine.problem() != null ? " (" + leaseLine.problem() + ")" : "")));
            return 0;
        }
    }

    private static String describe(BackupLine b) {
        return b == null ? "none" : b.id() + " (" + b.type() + ", " + b.consistency() + ", LSN "
                + Long.toUnsignedString(b.sourceLsn()) + ", " + b.created() + ")";
    }

}
