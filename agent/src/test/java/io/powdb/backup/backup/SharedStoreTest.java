package io.powdb.backup.backup;

import io.powdb.backup.repo.BackupCatalog;
import io.powdb.backup.repo.Repository;
import io.powdb.backup.repo.RestorePoint;
import io.powdb.backup.restore.RestoreOptions;
import io.powdb.backup.restore.RestoreService;
import io.powdb.backup.store.BlobInfo;
import io.powdb.backup.store.local.LocalBlobStore;
import io.powdb.backup.testing.PowDbFixture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Several databases share one store: a repository is a key prefix, and repositories never see each other. */
class SharedStoreTest {
    @TempDir
    Path tmp;

    @Test
    void twoDatabasesUnderTwoPrefixesOfOneStoreStaySeparate() throws IOException {
        LocalBlobStore store = new LocalBlobStore(tmp.resolve("bucket"));
        Repository first = new Repository(store, "prod/db1/");
        Repository second = new Repository(store, "prod/db10/");
        PowDbFixture a = PowDbFixture.create(tmp.resolve("a"), PowDbFixture.Version.V0_4, 1);
        PowDbFixture b = PowDbFixture.create(tmp.resolve("b"), PowDbFixture.Version.V0_5, 2);
        a.createTable("alpha", 5);
        b.createTable("beta", 7);
        a.checkpoint();
        b.checkpoint();
        BackupOptions options = BackupOptions.defaults().withTempDir(tmp.resolve("t"));
        new BackupService(first).backup(a.dir(), options);
        new BackupService(second).backup(b.dir(), options);
        a.updatePages("alpha", 2);
        a.checkpoint();
        new BackupService(first).backup(a.dir(), options);

        assertEquals(2, BackupCatalog.load(first).ids().size());
        assertEquals(1, BackupCatalog.load(second).ids().size(), "db1's backups are not db10's, despite the shared text prefix");
        for (BlobInfo info : store.listAll("")) {
            assertTrue(info.key().startsWith("prod/db1/") || info.key().startsWith("prod/db10/"), info.key());
        }
        Path ra = tmp.resolve("ra");
        Path rb = tmp.resolve("rb");
        new RestoreService(first).restore(new RestorePoint.Latest(), ra, RestoreOptions.defaults());
        new RestoreService(second).restore(new RestorePoint.Latest(), rb, RestoreOptions.defaults());
        PowDbFixture.assertSameDatabase(a.dir(), ra, true);
        PowDbFixture.assertSameDatabase(b.dir(), rb, true);
    }
}
