package io.powdb.backup.cli;

import io.powdb.backup.Version;
import io.powdb.backup.format.SourceException;
import io.powdb.backup.repo.IntegrityException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.util.Map;

/**
 * The {@code powdb-backup} command. Exit status: 0 success, 1 failure, 2 bad usage, 3 a backup failed its
 * integrity checks (damaged or missing objects, broken chain). Every failure prints one line on stderr
 * saying what is wrong and what to do.
 */
@Command(name = "powdb-backup",
        mixinStandardHelpOptions = true,
        versionProvider = Main.VersionProvider.class,
        description = "Backs up a PowDB data directory (stopped or running) to a local, S3 or GCS repository, ships its "
                + "WAL, and restores it to any backup or committed LSN.",
        subcommands = {BackupCommand.class, ShipCommand.class, AgentCommand.class, ListCommand.class, StatusCommand.class,
                RestoreCommand.class, VerifyCommand.class, PruneCommand.class, KeygenCommand.class, RekeyCommand.class},
        footer = {"", "Exit status: 0 success, 1 failure, 2 usage error, 3 integrity check failed."})
public final class Main implements Runnable {
    public static final int EXIT_FAILURE = 1;
    public static final int EXIT_USAGE = 2;
    public static final int EXIT_INTEGRITY = 3;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a command is required (backup, ship, agent, list, status, restore, verify, prune, keygen, rekey)");
    }

    public static void main(String[] args) {
        System.exit(run(args, System.getenv(), System.out, System.err));
    }

    /** Runs a command line with the given environment and streams; returns the exit status. */
    public static int run(String[] args, Map<String, String> env, PrintStream out, PrintStream err) {
        CommandLine commandLine = new CommandLine(new Main(), new Factory(new Context(env, out, err)));
        commandLine.setOut(new PrintWriter(out, true));
        commandLine.setErr(new PrintWriter(err, true));
        commandLine.setExecutionExceptionHandler((e, cmd, parsed) -> {
            err.println("powdb-backup: error: " + oneLine(e));
            if (env.containsKey("POWDB_BACKUP_DEBUG")) {
                e.printStackTrace(err);
            }
            if (e instanceof IntegrityException) {
                return EXIT_INTEGRITY;
            }
            return e instanceof IllegalArgumentException ? EXIT_USAGE : EXIT_FAILURE;
        });
        commandLine.setParameterExceptionHandler((e, parsed) -> {
            err.println("powdb-backup: " + e.getMessage());
            err.println("Try 'powdb-backup " + (e.getCommandLine().getCommandName().equals("powdb-backup") ? ""
                    : e.getCommandLine().getCommandName() + " ") + "--help'.");
            return EXIT_USAGE;
        });
        return commandLine.execute(args);
    }

    static String oneLine(Throwable e) {
        String message = e.getMessage();
        if (message == null || message.isBlank()) {
            message = e.getClass().getSimpleName();
        } else if (e instanceof java.nio.file.NoSuchFileException) {
            message = "no such file: " + message;
        } else if (e instanceof java.nio.file.AccessDeniedException) {
            message = "permission denied: " + message;
        } else if (e instanceof SourceException || e instanceof java.io.IOException) {
            // domain messages are already complete sentences
        }
        return message.replace('\n', ' ');
    }

    static final class VersionProvider implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"powdb-backup " + Version.current()};
        }
    }

    /** Hands the environment and output streams to every command, so tests run commands in-process. */
    record Context(Map<String, String> env, PrintStream out, PrintStream err) {
    }

    private record Factory(Context context) implements CommandLine.IFactory {
        @Override
        public <K> K create(Class<K> type) throws Exception {
            if (CommandBase.class.isAssignableFrom(type)) {
                K command = type.getDeclaredConstructor().newInstance();
                ((CommandBase) command).context = context;
                return command;
            }
            return CommandLine.defaultFactory().create(type);
        }
    }
}
