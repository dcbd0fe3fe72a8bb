package io.powdb.backup.cli;

import io.powdb.backup.repo.BackupId;
import io.powdb.backup.repo.Repository;
import io.powdb.backup.retention.PrunePlan;
import io.powdb.backup.lease.LeaseGuard;
import io.powdb.backup.retention.PruneService;
import io.powdb.backup.retention.RetentionPolicy;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Locale;

@Command(name = "prune", description = {
        "Deletes the backups a retention policy no longer keeps, with their data objects, the leftovers of",
        "interrupted backups, and shipped WAL older than the oldest kept backup. Kept: the newest full backups",
        "(--keep-full) with their incrementals, plus everything needed to restore any point within --keep-within,",
        "plus the newest backup; every kept backup keeps the backups it builds on. Use --dry-run to see what",
        "would go."})
final class PruneCommand extends CommandBase {
    static final int DEFAULT_KEEP_FULL = 7;
    static final String DEFAULT_KEEP_WITHIN = "7d";
    static final String DEFAULT_GRACE = "24h";

    @Option(names = "--keep-full", paramLabel = "N",
            description = "Keep the N newest full backups with every incremental built on them; 0 turns this rule off. "
                    + "Default: $POWDB_BACKUP_KEEP_FULL, else " + DEFAULT_KEEP_FULL + ".")
    Integer keepFull;

    @Option(names = "--keep-within", paramLabel = "DURATION",
            description = "Keep every point of this last stretch of time restorable (e.g. 7d, 36h); 0 turns this rule "
                    + "off. Default: $POWDB_BACKUP_KEEP_WITHIN, else " + DEFAULT_KEEP_WITHIN + ".")
    String keepWithin;

    @Option(names = "--grace", paramLabel = "DURATION",
            description = "Leftovers of interrupted backups and orphaned WAL are deleted only once older than this, so "
                    + "that a backup or shipment in progress is never touched. Default: $POWDB_BACKUP_PRUNE_GRACE, "
                    + "else " + DEFAULT_GRACE + ".")
    String grace;

    @Option(names = "--dry-run", description = "Say what would be deleted, and delete nothing.")
    boolean dryRun;

    /** The JSON printed by {@code prune --json}. */
    record Output(String repository, boolean dryRun, String evaluatedAt, Policy policy, List<Kept> kept,
            List<String> deletedBackups, Counts planned, Counts deleted, String walKeptFrom, boolean complete,
            String error, List<String> warnings) {
    }

    record Policy(int keepFull, String keepWithin, String grace) {
    }

    record Kept(String id, String type, String chain, String created, List<String> rules) {
    }

    record Counts(long backups, long manifests, long dataObjects, long walSegments, long heartbeats, long keyObjects,
            long objects, long bytes) {
    }

    @Override
    public Integer call() throws Exception {
        RetentionPolicy policy = policy();
        try (Repository repository = openRepository()) {
            repository.requireExists();
            // Deleting needs the lease, so that no agent writes meanwhile; a dry run only reads.
            try (LeaseGuard lease = dryRun ? null : LeaseGuard.acquire(repository, "prune", leaseTtl())) {
                PrunePlan plan = PruneService.plan(repository, policy, Clock.systemUTC());
                // Executed even when the plan is empty: it also removes the temp files of killed writes.
                PruneService.Result result = dryRun ? null : new PruneService(repository).execute(plan);
                if (json) {
                    printJson(output(plan, result, dryRun));
                } else {
                    plan.warnings().forEach(this::warn);
                    printHuman(plan, result);
                }
                if (result != null && !result.complete()) {
                    context.err().println("powdb-backup: error: " + result.failure().replace('\n', ' '));
                    return Main.EXIT_FAILURE;
                }
                return 0;
            }
        }
    }

    private RetentionPolicy policy() {
        int full;
        if (keepFull != null) {
            full = keepFull;
        } else {
            String fromEnv = env("POWDB_BACKUP_KEEP_FULL");
            try {
                full = fromEnv == null ? DEFAULT_KEEP_FULL : Integer.parseInt(fromEnv.trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("$POWDB_BACKUP_KEEP_FULL must be a number of full backups (0 for no "
                        + "count rule), not '" + fromEnv + "'");
            }
        }
        if (full < 0) {
            throw new IllegalArgumentException((keepFull != null ? "--keep-full" : "$POWDB_BACKUP_KEEP_FULL")
                    + " must be 0 (no count rule) or more, not " + full);
        }
        Duration within = optionalDuration(keepWithin, "--keep-within", "POWDB_BACKUP_KEEP_WITHIN", DEFAULT_KEEP_WITHIN);
        String graceText = grace != null ? grace : orDefault(env("POWDB_BACKUP_PRUNE_GRACE"), DEFAULT_GRACE);
        Duration graceDuration = Durations.parse(graceText, grace != null ? "--grace" : "$POWDB_BACKUP_PRUNE_GRACE");
        return new RetentionPolicy(full, within, graceDuration);
    }

    /** A duration, or zero for "0", "off" or "none" (the rule turned off). */
    private Duration optionalDuration(String option, String name, String envName, String fallback) {
        String text = option != null ? option : orDefault(env(envName), fallback);
        String source = option != null ? name : "$" + envName;
        String t = text.trim().toLowerCase(Locale.ROOT);
        if (t.equals("0") || t.equals("off") || t.equals("none")) {
            return Duration.ZERO;
        }
        return Durations.parse(text, source);
    }

    private String env(String name) {
        String value = context.env().get(name);
        return value == null || value.isBlank() ? null : value;
    }

    private static String orDefault(String value, String fallback) {
        return value != null ? value : fallback;
    }

    private static Output output(PrunePlan plan, PruneService.Result result, boolean dryRun) {
        RetentionPolicy p = plan.policy();
        List<Kept> kept = plan.kept().stream().map(k -> new Kept(k.id().toString(), k.type(), k.chain().toString(),
                k.created().toString(), k.rules().stream().map(PrunePlan.Rule::label).toList())).toList();
        Counts planned = new Counts(plan.deletedBackups().size(), plan.manifests().size(), plan.dataObjects().size(),
                plan.walSegments().size(), plan.heartbeats().size(), plan.keyObjects().size(), plan.objectCount(),
                plan.totalBytes());
        Counts deleted = result == null ? null : new Counts(result.manifestsDeleted(), result.manifestsDeleted(),
                result.dataObjectsDeleted(), result.walSegmentsDeleted(), result.heartbeatsDeleted(),
                result.keyObjectsDeleted(), result.objectsDeleted(), result.bytesDeleted());
        boolean complete = result == null || result.complete();
        return new Output(plan.repository(), dryRun, plan.evaluatedAt().toString(),
                new Policy(p.keepFull(), p.keepWithin().toString(), p.grace().toString()), kept,
                plan.deletedBackups().stream().map(BackupId::toString).toList(), planned, deleted,
                plan.walKeptFrom() == null ? null : plan.walKeptFrom().toString(), complete,
                result == null ? null : result.failure(), plan.warnings());
    }

    private void printHuman(PrunePlan plan, PruneService.Result result) {
        say("Policy: " + plan.policy().describe());
        say("Keeping " + plan.kept().size() + (plan.kept().size() == 1 ? " backup:" : " backups:"));
        for (PrunePlan.KeptBackup k : plan.kept()) {
            context.out().printf(Locale.ROOT, "  %-46s  %-11s  %-24s  %s%n", k.id(), k.type(), k.created(),
                    String.join(", ", k.rules().stream().map(PrunePlan.Rule::label).toList()));
        }
        if (plan.walKeptFrom() != null) {
            say("Shipped WAL is kept from " + plan.walKeptFrom() + " on (where the oldest kept backup may need it).");
        }
        if (plan.isEmpty()) {
            say("Nothing to delete in " + plan.repository());
            return;
        }
        String what = plan.deletedBackups().size() + (plan.deletedBackups().size() == 1 ? " backup" : " backups") + " ("
                + plan.manifests().size() + " manifests), " + plan.dataObjects().size() + " data objects, "
                + plan.walSegments().size() + " WAL segments, " + plan.heartbeats().size() + " heartbeats"
                + (plan.keyObjects().isEmpty() ? "" : ", " + plan.keyObjects().size() + " data keys") + ": "
                + Units.bytes(plan.totalBytes());
        if (result == null) {
            say("Would delete " + what);
            for (BackupId id : plan.deletedBackups()) {
                say("  " + id);
            }
            say("Dry run: nothing was deleted.");
            return;
        }
        say((result.complete() ? "Deleted " : "Deleted only part of ") + what);
        for (BackupId id : plan.deletedBackups()) {
            say("  " + id);
        }
        if (!result.complete()) {
            say("Done before the failure: " + result.manifestsDeleted() + " manifests, " + result.dataObjectsDeleted()
                    + " data objects, " + result.walSegmentsDeleted() + " WAL segments, " + result.heartbeatsDeleted()
                    + " heartbeats, " + result.keyObjectsDeleted() + " data keys (" + Units.bytes(result.bytesDeleted())
                    + ").");
        }
    }
}
