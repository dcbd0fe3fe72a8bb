package io.powdb.backup.cli;

import io.powdb.backup.crypto.MasterKey;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Map;

@Command(name = "keygen", description = {
        "Writes a new random encryption key (256 bits) to a file, owner-only (0600); never overwrites a file.",
        "Give it to backup, ship, agent, restore and the rest with --encryption-key-file or",
        "$POWDB_BACKUP_ENCRYPTION_KEY_FILE. Keep a copy somewhere other than the backups: without the key,",
        "encrypted backups cannot be restored by anyone."})
final class KeygenCommand extends CommandBase {
    @Option(names = "--output", paramLabel = "FILE", required = true, description = "Where to write the key.")
    Path output;

    @Override
    public Integer call() throws Exception {
        MasterKey key = MasterKey.generateFile(output);
        if (json) {
            printJson(Map.of("key_file", output.toString(), "key_id", key.id()));
        } else {
            say("Wrote encryption key " + key.id() + " to " + output + " (mode 0600).");
            say("Keep a copy of it apart from the backups: without it they cannot be restored.");
        }
        return 0;
    }
}
