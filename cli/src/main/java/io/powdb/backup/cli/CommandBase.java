package io.powdb.backup.cli;

import io.powdb.backup.concurrent.Workers;
import io.powdb.backup.crypto.MasterKey;
import io.powdb.backup.lease.RepositoryLease;
import io.powdb.backup.repo.Json;
import io.powdb.backup.repo.Repository;
import io.powdb.backup.progress.ProgressListener;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;

/** What every command shares: the repository option, --json, and how to print. */
abstract class CommandBase implements Callable<Integer> {
    static final String DEFAULT_REPO = "./powdb-backups";
    /** The agent's lower bound for $POWDB_BACKUP_LEASE_TTL, kept for the commands that read it too. */
    static final Duration MIN_LEASE_TTL = Duration.ofSeconds(4);

    Main.Context context;

    @Option(names = "--repo", paramLabel = "URL",
            description = "Repository: a path, file:/path, s3://bucket/prefix or gs://bucket/prefix. "
                    + "Default: $POWDB_BACKUP_REPO, else ${DEFAULT-VALUE}.")
    String repo;

    @Option(names = "--json", description = "Print machine-readable JSON on stdout.")
    boolean json;

    @Option(names = "--temp-dir", paramLabel = "DIR", description = "Scratch space for page maps (12 bytes per heap page). "
            + "Default: $POWDB_BACKUP_TEMP_DIR, else the system temp directory.")
    Path tempDir;

    @Option(names = "--encryption-key-file", paramLabel = "FILE", description = "Encryption key written by "
            + "'powdb-backup keygen': backups are encrypted with it, an encrypted repository needs it. "
            + "Default: $POWDB_BACKUP_ENCRYPTION_KEY_FILE, else none (no encryption).")
    Path encryptionKeyFile;

    /** The key file given by option or environment, or null. */
    Path encryptionKeyFile() {
        if (encryptionKeyFile != null) {
            return encryptionKeyFile;
        }
        String fromEnv = context.env().get("POWDB_BACKUP_ENCRYPTION_KEY_FILE");
        return fromEnv != null && !fromEnv.isBlank() ? Path.of(fromEnv.trim()) : null;
    }

    /** Loads the key file given, if any, warning on stderr about a file others can read. */
    MasterKey masterKey() throws IOException {
        return loadKey(encryptionKeyFile());
    }

    MasterKey loadKey(Path file) throws IOException {
        if (file == null) {
            return null;
        }
        MasterKey.Loaded loaded = MasterKey.load(file);
        loaded.warnings().forEach(this::warn);
        return loaded.key();
    }

    String repoUrl() {
        if (repo != null) {
            return repo;
        }
        String fromEnv = context.env().get("POWDB_BACKUP_REPO");
        return fromEnv != null && !fromEnv.isBlank() ? fromEnv : DEFAULT_REPO;
    }

    Repository openRepository() throws IOException {
        return RepositoryUrls.open(repoUrl(), context.env(), masterKey());
    }

    Path tempDir() {
        if (tempDir != null) {
            return tempDir;
        }
        String fromEnv = context.env().get("POWDB_BACKUP_TEMP_DIR");
        return Path.of(fromEnv != null && !fromEnv.isBlank() ? fromEnv : System.getProperty("java.io.tmpdir"));
    }

    /** --parallelism over $POWDB_BACKUP_PARALLELISM over auto (the cores available, at most 4). */
    int parallelism(String option) {
        if (option != null) {
            return Workers.parseParallelism(option, "--parallelism");
        }
        String fromEnv = context.env().get("POWDB_BACKUP_PARALLELISM");
        return fromEnv != null && !fromEnv.isBlank() ? Workers.parseParallelism(fromEnv, "$POWDB_BACKUP_PARALLELISM")
                : Workers.defaultParallelism();
    }

    static final String PARALLELISM_HELP = "How many files to work on at once: auto (the cores available, at most "
            + "4) or 1 to 64. Default: $POWDB_BACKUP_PARALLELISM, else auto.";

    /**
     * How long the repository lease taken by a writing command ({@code backup}, {@code ship}, {@code prune}) lasts
     * without renewal: $POWDB_BACKUP_LEASE_TTL, as for the agent, else 60 s. A command killed without releasing
     * it (kill -9) blocks the next writer until then.
     */
    Duration leaseTtl() {
        String fromEnv = context.env().get("POWDB_BACKUP_LEASE_TTL");
        if (fromEnv == null || fromEnv.isBlank()) {
            return RepositoryLease.DEFAULT_TTL;
        }
        Duration ttl = Durations.parse(fromEnv, "$POWDB_BACKUP_LEASE_TTL");
        if (ttl.compareTo(MIN_LEASE_TTL) < 0) {
            throw new IllegalArgumentException("$POWDB_BACKUP_LEASE_TTL must be at least 4s (the lease is renewed every "
                    + "third of it), not " + fromEnv.trim());
        }
        return ttl;
    }

    void printJson(Object value) throws IOException {
        context.out().println(Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(value));
    }

    /** Progress on stderr for people (never with --json): at most every two seconds, after the first two. */
    ProgressListener progress() {
        if (json) {
            return ProgressListener.NONE;
        }
        return new ProgressPrinter(context.err());
    }

    void say(String line) {
        context.out().println(line);
    }

    void warn(String line) {
        context.err().println("powdb-backup: warning: " + line);
    }
}
