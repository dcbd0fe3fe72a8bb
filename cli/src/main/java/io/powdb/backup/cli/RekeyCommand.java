package io.powdb.backup.cli;

import io.powdb.backup.crypto.EncryptionKeyException;
import io.powdb.backup.crypto.MasterKey;
import io.powdb.backup.crypto.Rekey;
import io.powdb.backup.lease.LeaseGuard;
import io.powdb.backup.repo.Repository;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;

@Command(name = "rekey", description = {
        "Rotates the encryption key: rewraps every backup's and WAL timeline's data key (small objects under",
        "keys/) with the new key. Data, manifests and WAL are not rewritten. The current key is given as usual",
        "(--encryption-key-file or $POWDB_BACKUP_ENCRYPTION_KEY_FILE). Restores keep working with either key",
        "while it runs; an interrupted rekey is finished by running it again. Takes the repository lease: stop",
        "the agent, rekey, then restart the agent with the new key."})
final class RekeyCommand extends CommandBase {
    @Option(names = "--new-key-file", paramLabel = "FILE", required = true,
            description = "The new key (from 'powdb-backup keygen').")
    Path newKeyFile;

    record Output(String repository, String oldKeyId, String newKeyId, int keyObjects, int rewrapped, int oldWrappingsDropped) {
    }

    @Override
    public Integer call() throws Exception {
        MasterKey current = masterKey();
        if (current == null) {
            throw new EncryptionKeyException("rekey needs the current key: give --encryption-key-file FILE or "
                    + "$POWDB_BACKUP_ENCRYPTION_KEY_FILE");
        }
        MasterKey next = loadKey(newKeyFile);
        try (Repository repository = RepositoryUrls.open(repoUrl(), context.env(), current)) {
            repository.requireExists();
            // The lease is taken through a view of the repository with the key its marker names (an earlier,
            // interrupted run may already have switched it), so that initialize() accepts it.
            boolean switched = repository.marker().orElseThrow().encrypted()
                    && repository.marker().orElseThrow().encryption().masterKeyId().equals(next.id());
            Repository leaseView = switched ? new Repository(repository.store(), repositoryPrefix(repository), next)
                    : repository;
            Rekey.Result result;
            try (LeaseGuard lease = LeaseGuard.acquire(leaseView, "rekey", leaseTtl())) {
                result = new Rekey(repository, current, next).run();
                if (lease.lost() != null) {
                    throw new EncryptionKeyException("the repository lease was lost while rekeying (" + lease.lost()
                            + "): run rekey again");
                }
            }
            if (json) {
                printJson(new Output(repository.location(), result.oldKeyId(), result.newKeyId(), result.keyObjects(),
                        result.rewrapped(), result.dropped()));
            } else {
                say("Rekeyed " + repository.location() + ": " + result.keyObjects() + " data keys now wrapped by master key "
                        + result.newKeyId() + " only (" + result.rewrapped() + " rewrapped in this run, old key "
                        + result.oldKeyId() + " removed from " + result.dropped() + ").");
                say("Use the new key from now on (agent, backup, ship, restore); the old one no longer opens these backups.");
            }
            return 0;
        }
    }

    private static String repositoryPrefix(Repository repository) {
        return repository.key("");
    }
}
