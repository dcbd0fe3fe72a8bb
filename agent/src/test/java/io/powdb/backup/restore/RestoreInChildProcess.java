package io.powdb.backup.restore;

import io.powdb.backup.repo.Repository;
import io.powdb.backup.repo.RestorePoint;
import io.powdb.backup.store.local.LocalBlobStore;

import java.nio.file.Path;

/** Restores the latest backup of a local repository: run in a child JVM, with the umask a test gives it. */
public final class RestoreInChildProcess {
    private RestoreInChildProcess() {
    }

    /** @param args repository directory, target, temp directory */
    public static void main(String[] args) throws Exception {
        try (Repository repository = new Repository(new LocalBlobStore(Path.of(args[0])), "")) {
            new RestoreService(repository).restore(new RestorePoint.Latest(), Path.of(args[1]),
                    new RestoreOptions(Path.of(args[2]), (phase, done, total) -> { }));
        }
    }
}
