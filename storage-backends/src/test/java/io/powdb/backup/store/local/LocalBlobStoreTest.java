package io.powdb.backup.store.local;

import io.powdb.backup.store.BlobStore;
import io.powdb.backup.store.BlobStoreContractTest;
import io.powdb.backup.store.BlobWriter;
import io.powdb.backup.store.WriteMode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LocalBlobStoreTest extends BlobStoreContractTest {
    @TempDir
    Path dir;

    @Override
    protected BlobStore createStore() throws IOException {
        return new LocalBlobStore(dir.resolve("store"));
    }

    @Test
    void uncommittedBytesLiveOnlyInTheTempAreaAndAreNeverListed() throws IOException {
        LocalBlobStore local = (LocalBlobStore) store;
        BlobWriter writer = local.newWriter(prefix + "pending", WriteMode.CREATE_NEW);
        writer.stream().write(new byte[5000]);
        writer.stream().flush();
        // Simulates a crash: the writer is neither committed nor closed.
        assertTrue(local.listAll("").isEmpty());
        assertFalse(Files.exists(local.root().resolve(prefix + "pending")));
        try (Stream<Path> temp = Files.list(local.root().resolve(LocalBlobStore.TEMP_DIR))) {
            Path leftover = temp.findFirst().orElseThrow();
            Files.setLastModifiedTime(leftover, FileTime.fromMillis(System.currentTimeMillis() - 3_600_000));
        }
        assertEquals(1, local.removeStaleTempFiles(60_000));
        writer.close();
    }

    @Test
    void deletingTheLastObjectOfADirectoryRemovesTheEmptyDirectories() throws IOException {
        LocalBlobStore local = (LocalBlobStore) store;
        local.putBytes(prefix + "a/b/c", new byte[1], WriteMode.CREATE_NEW);
        local.delete(prefix + "a/b/c");
        assertFalse(Files.exists(local.root().resolve(prefix + "a")));
    }

    @Test
    void refusesTheTempAreaAsAKey() {
        assertThrows(IllegalArgumentException.class,
                () -> store.putBytes(LocalBlobStore.TEMP_DIR + "/x", new byte[0], WriteMode.CREATE_NEW));
    }

    @Test
    void refusesARootThatIsAFile() throws IOException {
        Path file = Files.writeString(dir.resolve("plain-file"), "x");
        IOException e = assertThrows(IOException.class, () -> new LocalBlobStore(file));
        assertTrue(e.getMessage().contains("not a directory"), e.getMessage());
    }
}
