package io.powdb.backup.cli;

import io.powdb.backup.repo.BackupId;
import io.powdb.backup.repo.Repository;
import io.powdb.backup.repo.RestorePoint;
import io.powdb.backup.restore.RestoreOptions;
import io.powdb.backup.restore.RestoreResult;
import io.powdb.backup.restore.RestoreService;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.List;

@Command(name = "restore", description = {
        "Restores a backup into an empty or new directory, checking every object before it is put in place.",
        "Default: the latest backup. --to-lsn and --to-time restore the newest backup of the newest history at or",
        "before that point, plus the WAL shipped after it ('powdb-backup ship') up to the last commit at or before",
        "the point; a point the backups and the shipped WAL do not reach is refused, naming what is missing."})
final class RestoreCommand extends CommandBase {
    @Option(names = "--target", required = true, paramLabel = "DIR", description = "Where to restore; must be empty or absent.")
    Path target;

    @ArgGroup(exclusive = true)
    Point point;

    static final class Point {
        @Option(names = "--to-lsn", paramLabel = "N", description = "The state at LSN N: the last transaction "
                + "committed at or below it.")
        String lsn;

        @Option(names = "--to-time", paramLabel = "ISO-8601", description = "The state at this time, e.g. "
                + "2026-11-21T10:15:00Z: the last WAL shipped at or before it (precise to the shipping interval), or "
                + "the backup taken then.")
        String time;

        @Option(names = "--backup", paramLabel = "ID", description = "This backup (see 'powdb-backup list').")
        String backup;
    }

    @Option(names = "--timeline", paramLabel = "ID", description = "With --to-lsn/--to-time: use only the WAL of "
            + "this timeline (see 'powdb-backup list'), e.g. to pick a life of the database before a restart that "
            + "reused LSNs.")
    String timeline;

    @Option(names = "--parallelism", paramLabel = "N|auto", description = PARALLELISM_HELP)
    String parallelism;

    record Output(String id, String type, long sourceLsn, String created, String history, List<String> chain,
            String target, long files, long bytesWritten, long restoredLsn, String walTimeline, long walRecords) {
    }

    @Override
    public Integer call() throws Exception {
        RestorePoint restorePoint = restorePoint();
        try (Repository repository = openRepository()) {
            RestoreResult result = new RestoreService(repository).restore(restorePoint, target,
                    new RestoreOptions(tempDir(), progress(), timeline, parallelism(parallelism)));
            if (json) {
                printJson(new Output(result.manifest().id(), result.manifest().type(), result.manifest().sourceLsn(),
                        result.manifest().created(), result.manifest().history(), result.chain(),
                        result.target().toString(), result.files(), result.bytesWritten(), result.reachedLsn(),
                        result.walTimeline(), result.walRecords()));
            } else {
                say("Restored backup " + result.manifest().id() + " (LSN " + Long.toUnsignedString(result.manifest().sourceLsn())
                        + ", " + result.chain().size() + " backups in its chain) to " + result.target());
                say("  " + result.files() + " files, " + Units.bytes(result.bytesWritten()));
                if (result.walTimeline() != null) {
                    say("  plus " + result.walRecords() + " shipped WAL records (timeline " + result.walTimeline()
                            + "): PowDB's recovery on open brings it to LSN " + Long.toUnsignedString(result.reachedLsn()));
                }
            }
            return 0;
        }
    }

    private RestorePoint restorePoint() {
        if (timeline != null && (point == null || point.backup != null)) {
            throw new IllegalArgumentException("--timeline goes with --to-lsn or --to-time");
        }
        if (point == null) {
            return new RestorePoint.Latest();
        }
        if (point.backup != null) {
            return new RestorePoint.ById(BackupId.parse(point.backup));
        }
        if (point.lsn != null) {
            try {
                return new RestorePoint.AtOrBeforeLsn(Long.parseUnsignedLong(point.lsn.trim()));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--to-lsn takes an unsigned decimal LSN, not '" + point.lsn + "'");
            }
        }
        return new RestorePoint.AtOrBeforeTime(parseTime(point.time));
    }

    static Instant parseTime(String text) {
        try {
            return Instant.parse(text);
        } catch (DateTimeParseException e) {
            try {
                return OffsetDateTime.parse(text).toInstant();
            } catch (DateTimeParseException e2) {
                throw new IllegalArgumentException("--to-time takes an ISO-8601 time with a zone, such as "
                        + "2026-11-21T10:15:00Z or 2026-11-21T11:15:00+01:00, not '" + text + "'");
            }
        }
    }
}
