package io.powdb.backup.cli;

import io.powdb.backup.repo.BackupId;
import io.powdb.backup.repo.Repository;
import io.powdb.backup.verify.VerifyReport;
import io.powdb.backup.verify.VerifyService;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.List;
import java.util.Optional;

@Command(name = "verify", description = {
        "Downloads and checks backups without writing a database: manifests, chains, every object's BLAKE3, and",
        "that every heap page can be assembled and matches its page map. Exit status 3 when anything is damaged."})
final class VerifyCommand extends CommandBase {
    @Option(names = "--backup", paramLabel = "ID", description = "Check this backup and its chain; default: every backup.")
    String backup;

    record Output(boolean ok, List<String> backupsChecked, long objectsChecked, long bytesChecked, List<String> failures) {
    }

    @Override
    public Integer call() throws Exception {
        Optional<BackupId> only = backup == null ? Optional.empty() : Optional.of(BackupId.parse(backup));
        try (Repository repository = openRepository()) {
            VerifyReport report = new VerifyService(repository).verify(only, tempDir(), progress());
            if (json) {
                printJson(new Output(report.ok(), report.backupsChecked(), report.objectsChecked(), report.bytesChecked(),
                        report.failures()));
            } else {
                say("Checked " + report.backupsChecked().size() + " backups, " + report.objectsChecked() + " objects, "
                        + Units.bytes(report.bytesChecked()) + " in " + repository.location());
                if (report.ok()) {
                    say("  all OK");
                } else {
                    for (String failure : report.failures()) {
                        say("  DAMAGED: " + failure);
                    }
                }
            }
            if (!report.ok()) {
                context.err().println("powdb-backup: error: " + report.failures().size() + " problems found; "
                        + "restore an undamaged backup (see the list above) and take a new full backup");
                return Main.EXIT_INTEGRITY;
            }
            return 0;
        }
    }
}
