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
        "Default: the latest backup. --to-lsn and --to-time pick the newest backup of the newest history at or "
                + "before that point."})
final class RestoreCommand extends CommandBase {
    @Option(names = "--target", required = true, paramLabel = "DIR", description = "Where to restore; must be empty or absent.")
    Path target;

    @ArgGroup(exclusive = true)
    Point point;

    static final class Point {
        @Option(names = "--to-lsn", paramLabel = "N", description = "The newest backup at or below LSN N.")
        String lsn;

        @Option(names = "--to-time", paramLabel = "ISO-8601", description = "The newest backup taken at or before this "
                + "time, e.g. 2026-11-21T10:15:00Z.")
        String time;

        @Option(names = "--backup", paramLabel = "ID", description = "This backup (see 'powdb-backup list').")
        String backup;
    }

    record Output(String id, String type, long sourceLsn, String created, String history, List<String> chain,
            String target, long files, long bytesWritten) {
    }

    @Override
    public Integer call() throws Exception {
        RestorePoint restorePoint = restorePoint();
        try (Repository repository = openRepository()) {
            RestoreResult result = new RestoreService(repository).restore(restorePoint, target,
                    new RestoreOptions(tempDir(), progress()));
            if (json) {
                printJson(new Output(result.manifest().id(), result.manifest().type(), result.manifest().sourceLsn(),
                        result.manifest().created(), result.manifest().history(), result.chain(),
                        result.target().toString(), result.files(), result.bytesWritten()));
            } else {
                say("Restored backup " + result.manifest().id() + " (LSN " + Long.toUnsignedString(result.manifest().sourceLsn())
                        + ", " + result.chain().size() + " backups in its chain) to " + result.target());
                say("  " + result.files() + " files, " + Units.bytes(result.bytesWritten()));
            }
            return 0;
        }
    }

    private RestorePoint restorePoint() {
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
