package io.powdb.backup.cli;

import io.powdb.backup.lease.LeaseGuard;
import io.powdb.backup.backup.BackupOptions;
import io.powdb.backup.backup.BackupResult;
import io.powdb.backup.backup.BackupService;
import io.powdb.backup.backup.Compression;
import io.powdb.backup.repo.Manifest;
import io.powdb.backup.repo.ObjectRef;
import io.powdb.backup.repo.Repository;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;

@Command(name = "backup", description = {
        "Backs up a PowDB data directory: incremental when the repository has a backup to build on, else full.",
        "A running server's directory is copied crash-consistently (heap pages plus the WAL PowDB replays on open);",
        "a stopped one (empty wal.log) gives a quiescent copy."})
final class BackupCommand extends CommandBase {
    @Option(names = "--data-dir", paramLabel = "DIR",
            description = "The PowDB data directory. Default: $POWDB_DATA, else ./powdb_data.")
    Path dataDir;

    @Option(names = "--full", description = "Take a full backup, starting a new chain.")
    boolean full;

    @Option(names = "--require-quiescent", description = "Refuse a directory whose wal.log holds records (a running "
            + "server) instead of copying it crash-consistently.")
    boolean requireQuiescent;

    @Option(names = "--compression", paramLabel = "zstd|none",
            description = "How heap images, page packs and whole files are stored: zstd-compressed (readable with "
                    + "'zstd -d') or as they are. Default: $POWDB_BACKUP_COMPRESSION, else " + Compression.DEFAULT + ".")
    String compression;

    @Option(names = "--compression-level", paramLabel = "N",
            description = "The zstd level, " + Compression.MIN_LEVEL + " (fastest) to " + Compression.MAX_LEVEL
                    + ". Default: the level of $POWDB_BACKUP_COMPRESSION, else " + Compression.DEFAULT_LEVEL + ".")
    Integer compressionLevel;

    /** The JSON printed by {@code backup --json}: the backup, plus what the operator should know. */
    record Output(BackupSummary backup, String id, String type, String consistency, long sourceLsn, Long baseLsn,
            String created,
            long bytesUploaded, long bytesUploadedUncompressed, long bytesScanned, long pagesScanned,
            long pagesChanged, long durationMillis, String repository, List<String> warnings, List<String> skipped) {
    }

    @Option(names = "--parallelism", paramLabel = "N|auto", description = PARALLELISM_HELP)
    String parallelism;

    /** --compression and --compression-level over $POWDB_BACKUP_COMPRESSION over the default. */
    Compression compression() {
        Compression chosen;
        if (compression != null) {
            String name = compression.trim().toLowerCase(java.util.Locale.ROOT);
            if (name.equals("none")) {
                chosen = Compression.NONE;
            } else if (name.equals(ObjectRef.ZSTD)) {
                Compression fromEnv = fromEnvironment();
                chosen = fromEnv.enabled() ? fromEnv : Compression.defaults();
            } else {
                throw new IllegalArgumentException("--compression '" + compression + "': use zstd or none");
            }
        } else {
            chosen = fromEnvironment();
        }
        if (compressionLevel != null) {
            if (!chosen.enabled()) {
                throw new IllegalArgumentException("--compression-level needs zstd compression, but "
                        + (compression != null ? "--compression is none" : "$POWDB_BACKUP_COMPRESSION is none"));
            }
            if (compressionLevel < Compression.MIN_LEVEL || compressionLevel > Compression.MAX_LEVEL) {
                throw new IllegalArgumentException("--compression-level " + compressionLevel
                        + " is out of range: use " + Compression.MIN_LEVEL + " (fastest) to " + Compression.MAX_LEVEL);
            }
            chosen = chosen.withLevel(compressionLevel);
        }
        return chosen;
    }

    private Compression fromEnvironment() {
        String fromEnv = context.env().get("POWDB_BACKUP_COMPRESSION");
        if (fromEnv == null || fromEnv.isBlank()) {
            return Compression.defaults();
        }
        try {
            return Compression.parse(fromEnv);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("$POWDB_BACKUP_COMPRESSION: " + e.getMessage());
        }
    }

    @Override
    public Integer call() throws Exception {
        Path dir = dataDir != null ? dataDir : Path.of(context.env().getOrDefault("POWDB_DATA", "./powdb_data"));
        Compression how = compression();
        try (Repository repository = openRepository()) {
            BackupOptions options = BackupOptions.defaults().withForceFull(full).withRequireQuiescent(requireQuiescent)
                    .withTempDir(tempDir()).withProgress(progress()).withCompression(how)
                    .withParallelism(parallelism(parallelism));
            BackupResult result;
            try (LeaseGuard lease = LeaseGuard.acquire(repository, "backup", leaseTtl())) {
                result = new BackupService(repository).backup(dir, options);
                if (lease.lost() != null) {
                    warn("the repository lease was lost during the backup (" + lease.lost() + "): another agent may "
                            + "have written meanwhile");
                }
            }
            Manifest m = result.manifest();
            if (json) {
                BackupSummary summary = BackupSummary.of(m);
                printJson(new Output(summary, m.id(), m.type(), m.consistency(), m.sourceLsn(), result.baseLsn(), m.created(),
                        m.stats().bytesUploaded(), result.contentBytesUploaded(), m.stats().bytesScanned(), m.stats().pagesScanned(),
                        m.stats().pagesChanged(), m.stats().durationMillis(), repository.location(), result.warnings(),
                        result.skipped()));
            } else {
                result.warnings().forEach(this::warn);
                if (!result.skipped().isEmpty()) {
                    warn("not PowDB files, left out of the backup: " + String.join(", ", result.skipped()));
                }
                say((m.isFull() ? "Full" : "Incremental") + " " + m.consistency() + " backup " + m.id() + " at LSN "
                        + Long.toUnsignedString(m.sourceLsn())
                        + (result.baseLsn() == null ? "" : " (on " + m.parent() + ")"));
                say("  " + m.files().size() + " files, " + Units.bytes(m.stats().bytesScanned()) + " read, "
                        + m.stats().pagesChanged() + " of " + m.stats().pagesScanned() + " heap pages stored, "
                        + Units.bytes(m.stats().bytesUploaded()) + " in " + m.stats().objectsUploaded() + " objects uploaded, "
                        + Units.millis(m.stats().durationMillis()));
                say("  repository " + repository.location());
            }
            return 0;
        }
    }
}
