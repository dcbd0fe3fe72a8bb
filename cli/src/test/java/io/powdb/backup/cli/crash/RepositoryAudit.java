package io.powdb.backup.cli.crash;

import io.powdb.backup.repo.BackupCatalog;
import io.powdb.backup.repo.BackupId;
import io.powdb.backup.repo.FileEntry;
import io.powdb.backup.repo.Manifest;
import io.powdb.backup.repo.ObjectRef;
import io.powdb.backup.repo.Repository;
import io.powdb.backup.verify.VerifyReport;
import io.powdb.backup.verify.VerifyService;
import io.powdb.backup.progress.ProgressListener;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What a repository must look like after a kill and a prune: nothing but what its manifests name. */
final class RepositoryAudit {
    private RepositoryAudit() {
    }

    /**
     * Asserts the repository holds only the objects some manifest names, the manifests, the repository marker and
     * shipped WAL (segments and heartbeats); no lease (every writer since released it) and, on a local store, no
     * temp file of a killed write.
     */
    static void assertOnlyReferenced(CrashStore store) throws IOException {
        Repository repo = store.repository();
        Set<String> allowed = new HashSet<>();
        allowed.add("powdb-backup.json");
        BackupCatalog catalog = BackupCatalog.load(repo);
        for (BackupId id : catalog.ids()) {
            allowed.add(Repository.manifestKey(id));
            Manifest m = catalog.manifest(id);
            for (FileEntry f : m.files()) {
                for (ObjectRef ref : f.objects()) {
                    allowed.add(ref.key());
                }
            }
        }
        List<String> stray = new ArrayList<>();
        for (String key : store.keys()) {
            if (!allowed.contains(key) && !key.startsWith("wal/")) {
                stray.add(key);
            }
        }
        assertEquals(List.of(), stray, "objects no manifest names, left after prune");
        assertEquals(List.of(), store.hiddenLeftovers(), "temp files of killed writes, left after prune");
    }

    /** Asserts that everything in the repository checks out, as {@code powdb-backup verify} does it. */
    static void assertVerifies(CrashStore store, Path tempDir) throws IOException {
        VerifyReport report = new VerifyService(store.repository()).verify(Optional.empty(), tempDir, ProgressListener.NONE);
        assertTrue(report.ok(), "verify: " + report.failures());
    }
}
