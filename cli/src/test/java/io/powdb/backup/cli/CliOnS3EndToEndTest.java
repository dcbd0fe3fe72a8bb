package io.powdb.backup.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.powdb.backup.store.s3.S3ProxyServer;
import io.powdb.backup.testing.PowDbFixture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.S3Object;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The CLI on {@code s3://} repositories, against S3Proxy (a real S3 REST server) on 127.0.0.1. Options
 * reach the store through POWDB_BACKUP_S3_* variables, credentials through the AWS SDK's default chain
 * (here its {@code aws.accessKeyId} / {@code aws.secretAccessKey} system properties), as in production.
 * The part size is S3's smallest (5 MiB), so the big heap image goes up as a multipart upload.
 */
class CliOnS3EndToEndTest extends CliOnObjectStoreTestBase {
    static final String WRONG_SECRET = "wrong-secret-must-never-be-printed-7f3a";
    /** 21.9 MiB, stored zstd-compressed in about 12.4 MiB: three 5 MiB parts. */
    private static final int BIG_TABLE_PAGES = 5600;

    static S3ProxyServer server;
    @RegisterExtension
    final SystemProperties properties = new SystemProperties();

    @BeforeAll
    static void startServer() throws Exception {
        server = new S3ProxyServer();
    }

    @AfterAll
    static void stopServer() throws IOException {
        if (server != null) {
            server.close();
        }
    }

    @BeforeEach
    void credentialsFromTheDefaultChain() {
        properties.set("aws.accessKeyId", S3ProxyServer.ACCESS_KEY);
        properties.set("aws.secretAccessKey", S3ProxyServer.SECRET_KEY);
    }

    @Override
    CliRunner cli() {
        return new CliRunner()
                .env("POWDB_BACKUP_S3_ENDPOINT", server.endpoint().toString())
                .env("POWDB_BACKUP_S3_REGION", "us-east-1")
                .env("POWDB_BACKUP_S3_PATH_STYLE", "true")
                .env("POWDB_BACKUP_S3_PART_SIZE_MIB", "5")
                .env("POWDB_BACKUP_TEMP_DIR", tmp.resolve("scratch").toString());
    }

    @Override
    String repoUrl(String prefix) {
        return "s3://" + S3ProxyServer.BUCKET + "/" + prefix;
    }

    @Override
    List<String> keys(String prefix) {
        return server.admin().listObjectsV2Paginator(r -> r.bucket(S3ProxyServer.BUCKET).prefix(prefix)).contents()
                .stream().map(S3Object::key).sorted().toList();
    }

    @Override
    byte[] readObject(String key) {
        return server.admin().getObjectAsBytes(r -> r.bucket(S3ProxyServer.BUCKET).key(key)).asByteArray();
    }

    @Override
    void overwriteObject(String key, byte[] content) {
        server.admin().putObject(r -> r.bucket(S3ProxyServer.BUCKET).key(key), RequestBody.fromBytes(content));
    }

    @Override
    void deleteObject(String key) {
        server.admin().deleteObject(r -> r.bucket(S3ProxyServer.BUCKET).key(key));
    }

    @Override
    int bigTablePages() {
        return BIG_TABLE_PAGES;
    }

    /** The full backup's image of the big heap is one object, put together from three parts. */
    @Override
    void afterRoundTrip(String prefix, JsonNode fullManifest) throws IOException {
        JsonNode events = null;
        for (JsonNode file : fullManifest.get("files")) {
            if (file.get("name").asText().equals("events.heap")) {
                events = file;
            }
        }
        assertTrue(events != null, fullManifest.toString());
        assertEquals(1, events.get("sources").size(), events.toString());
        String key = prefix + "/" + events.get("sources").get(0).get("key").asText();
        HeadObjectResponse head = server.admin().headObject(r -> r.bucket(S3ProxyServer.BUCKET).key(key));
        JsonNode image = events.get("sources").get(0);
        assertEquals((long) BIG_TABLE_PAGES * 4096, image.get("content_size").asLong(), image.toString());
        assertEquals(image.get("size").asLong(), head.contentLength());
        long parts = (head.contentLength() + (5 << 20) - 1) / (5 << 20);
        assertTrue(parts >= 3, "a stored image of " + head.contentLength() + " bytes is not 3 parts of 5 MiB or more");
        // S3 (and S3Proxy) give a multipart object the ETag "<md5 of the part md5s>-<number of parts>".
        assertTrue(head.eTag().matches("\"?[0-9a-f]{32}-" + parts + "\"?"), "not a " + parts + "-part upload: ETag "
                + head.eTag());
    }

    @Test
    void wrongCredentialsAreExitOneWithAccessDeniedAndNoSecret() throws IOException {
        PowDbFixture db = smallDatabase();
        String repo = repoUrl("credentials/db");
        json(cli().run("backup", "--data-dir", db.dir().toString(), "--repo", repo, "--json"));

        properties.set("aws.secretAccessKey", WRONG_SECRET);
        assertAccessDenied(cli().run("list", "--repo", repo));
        assertAccessDenied(cli().run("verify", "--repo", repo));
        assertAccessDenied(cli().run("backup", "--data-dir", db.dir().toString(), "--repo", repo));
        Path target = tmp.resolve("restored");
        assertAccessDenied(cli().run("restore", "--repo", repo, "--target", target.toString()));
        assertFalse(Files.exists(target));

        properties.set("aws.accessKeyId", "AKIANOSUCHKEY0000000");
        assertAccessDenied(cli().run("list", "--repo", repo));

        // Still one backup: nothing was written with the wrong credentials.
        properties.set("aws.accessKeyId", S3ProxyServer.ACCESS_KEY);
        properties.set("aws.secretAccessKey", S3ProxyServer.SECRET_KEY);
        assertEquals(1, json(cli().run("list", "--repo", repo, "--json")).size());
    }

    private static void assertAccessDenied(CliRunner.Result result) {
        assertOneLineError(result, 1, "access denied");
        String all = result.out() + result.err();
        assertFalse(all.contains(WRONG_SECRET), "the secret was printed: " + result);
        assertFalse(all.contains(S3ProxyServer.SECRET_KEY), "the secret was printed: " + result);
    }
}
