package io.powdb.backup.cli;

import com.google.cloud.NoCredentials;
import com.google.cloud.storage.Blob;
import com.google.cloud.storage.BlobId;
import com.google.cloud.storage.BlobInfo;
import com.google.cloud.storage.Storage;
import com.google.cloud.storage.StorageOptions;
import io.powdb.backup.store.gcs.GcsTestServer;
import io.powdb.backup.testing.PowDbFixture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.StreamSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The CLI on {@code gs://} repositories, against the GCS JSON-API test server on 127.0.0.1, driven by the
 * real google-cloud-storage client inside the store. Options reach the store through POWDB_BACKUP_GCS_*
 * variables. The upload chunk size is 1 MiB, so the big heap image goes up as a resumable upload in
 * several chunks.
 */
class CliOnGcsEndToEndTest extends CliOnObjectStoreTestBase {
    private static final String BUCKET = "powdb-gcs-test";

    static GcsTestServer server;
    static Storage admin;

    @BeforeAll
    static void startServer() throws IOException {
        server = new GcsTestServer();
        server.createBucket(BUCKET);
        admin = StorageOptions.newBuilder().setHost(server.endpoint()).setProjectId("test")
                .setCredentials(NoCredentials.getInstance()).build().getService();
    }

    @AfterAll
    static void stopServer() throws Exception {
        if (admin != null) {
            admin.close();
        }
        if (server != null) {
            server.close();
        }
    }

    @Override
    CliRunner cli() {
        return new CliRunner()
                .env("POWDB_BACKUP_GCS_ENDPOINT", server.endpoint())
                .env("POWDB_BACKUP_GCS_ANONYMOUS", "true")
                .env("POWDB_BACKUP_GCS_PROJECT", "test")
                .env("POWDB_BACKUP_GCS_CHUNK_SIZE_MIB", "1")
                .env("POWDB_BACKUP_TEMP_DIR", tmp.resolve("scratch").toString());
    }

    @Override
    String repoUrl(String prefix) {
        return "gs://" + BUCKET + "/" + prefix;
    }

    @Override
    List<String> keys(String prefix) {
        return StreamSupport.stream(admin.list(BUCKET, Storage.BlobListOption.prefix(prefix)).iterateAll().spliterator(), false)
                .map(Blob::getName).sorted().toList();
    }

    @Override
    byte[] readObject(String key) {
        return admin.readAllBytes(BlobId.of(BUCKET, key));
    }

    @Override
    void overwriteObject(String key, byte[] content) {
        admin.create(BlobInfo.newBuilder(BUCKET, key).build(), content);
    }

    @Override
    void deleteObject(String key) {
        assertTrue(admin.delete(BlobId.of(BUCKET, key)), key);
    }

    @Override
    int bigTablePages() {
        return 1400; // 5.5 MiB, stored zstd-compressed in about 3.1 MiB: four 1 MiB chunks
    }

    @Test
    void refusedCredentialsAreExitOneWithAccessDenied() throws IOException {
        PowDbFixture db = smallDatabase();
        String repo = repoUrl("credentials/db");
        json(cli().run("backup", "--data-dir", db.dir().toString(), "--repo", repo, "--json"));

        server.requireToken("a-token-the-cli-does-not-have");
        Path target = tmp.resolve("restored");
        try {
            assertOneLineError(cli().run("list", "--repo", repo), 1, "access denied");
            assertOneLineError(cli().run("backup", "--data-dir", db.dir().toString(), "--repo", repo), 1, "access denied");
            assertOneLineError(cli().run("restore", "--repo", repo, "--target", target.toString()), 1, "access denied");
        } finally {
            server.requireToken(null);
        }
        assertFalse(Files.exists(target));
        assertEquals(1, json(cli().run("list", "--repo", repo, "--json")).size());
    }
}
