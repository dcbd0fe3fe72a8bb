package io.powdb.backup.cli;

import io.powdb.backup.archive.WalArchive;
import io.powdb.backup.archive.WalSegment;
import io.powdb.backup.repo.BackupCatalog;
import io.powdb.backup.repo.BackupId;
import io.powdb.backup.repo.Repository;
import io.powdb.backup.repo.RepositoryException;
import picocli.CommandLine.Command;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

@Command(name = "list", description = "Lists the backups in the order they were taken, with their chain and history.")
final class ListCommand extends CommandBase {
    @Override
    public Integer call() throws Exception {
        try (Repository repository = openRepository()) {
            repository.requireExists();
            BackupCatalog catalog = BackupCatalog.load(repository);
            List<BackupSummary> rows = new ArrayList<>();
            for (BackupId id : catalog.idsByTime()) {
                try {
                    BackupSummary row = BackupSummary.of(catalog.manifest(id));
                    rows.add(repository.encrypting()
                            ? row.withMasterKeyIds(repository.keys().masterKeyIds(Repository.dataKeyName(id))) : row);
                } catch (io.powdb.backup.crypto.EncryptionKeyException e) {
                    throw e; // the wrong key (or none): not damage
                } catch (RepositoryException e) {
                    rows.add(BackupSummary.damaged(id, e.getMessage()));
                }
            }
            if (json) {
                printJson(rows);
                return 0;
            }
            if (rows.isEmpty()) {
                say("No backups in " + repository.location());
                return 0;
            }
            String format = "%-46s  %-11s  %20s  %-24s  %-8s  %-8s  %10s%n";
            context.out().printf(Locale.ROOT, format, "ID", "TYPE", "LSN", "CREATED", "CHAIN", "HISTORY", "UPLOADED");
            for (BackupSummary row : rows) {
                if (row.error() != null) {
                    context.out().printf(Locale.ROOT, "%-46s  DAMAGED: %s%n", row.id(), row.error());
                    continue;
                }
                context.out().printf(Locale.ROOT, format, row.id(), row.type(), Long.toUnsignedString(row.sourceLsn()),
                        row.created(), shortChain(row.chain()), row.history(), Units.bytes(row.bytesUploaded()));
            }
            printWal(WalArchive.load(repository));
            long damaged = rows.stream().filter(r -> r.error() != null).count();
            if (damaged > 0) {
                warn(damaged + " backups have damaged or unreadable manifests; run 'powdb-backup verify'");
            }
            return 0;
        }
    }

    /** The shipped WAL, a line per timeline: what 'restore --to-lsn/--to-time' can reach after the backups. */
    private void printWal(WalArchive archive) {
        if (archive.isEmpty()) {
            return;
        }
        context.out().println();
        String format = "%-27s  %11s  %8s  %-43s  %-24s%n";
        context.out().printf(Locale.ROOT, format, "WAL TIMELINE", "GENERATIONS", "SEGMENTS", "LSN", "LAST SHIPPED");
        for (WalArchive.Timeline t : archive.timelines()) {
            WalSegment first = t.first().orElseThrow();
            WalSegment last = t.last().orElseThrow();
            long segments = t.generations().stream().mapToLong(g -> g.segments().size()).sum();
            String shipped = last.shippedAt().toString();
            if (t.heartbeat().isPresent() && t.heartbeat().get().shippedLsn() == last.lastLsn()) {
                shipped = t.heartbeat().get().coveredUntil() + " (idle)";
            }
            context.out().printf(Locale.ROOT, format, t.id(), t.generations().size(), segments,
                    Long.toUnsignedString(first.firstLsn()) + ".." + Long.toUnsignedString(last.lastLsn()), shipped);
        }
    }

    /** A chain is named by its full backup; its nonce is enough to tell chains apart on screen. */
    private static String shortChain(String chain) {
        return chain.substring(chain.lastIndexOf('-') + 1);
    }
}
