package io.powdb.backup.cli.crash;

import io.powdb.backup.repo.Repository;
import io.powdb.backup.store.BlobInfo;
import io.powdb.backup.store.local.LocalBlobStore;
import io.powdb.backup.store.s3.S3BlobStore;
import io.powdb.backup.store.s3.S3ProxyServer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Where one run's repository lives: a local directory, or a prefix of the in-process S3Proxy that the child JVM
 * reaches on 127.0.0.1. Gives the child's {@code --repo} and environment, and the test's own view of the same
 * repository (through the production store classes) for listing and restoring.
 */
final class CrashStore implements AutoCloseable {
    /** Short enough that a killed writer's lease lapses within seconds; the lower bound the CLI accepts. */
    static final String LEASE_TTL = "4s";

    private final String url;
    private final Map<String, String> env;
    private final Repository repository;
    private final Path localRoot;

    private CrashStore(String url, Map<String, String> env, Repository repository, Path localRoot) {
        this.url = url;
        this.env = env;
        this.repository = repository;
        this.localRoot = localRoot;
    }

    static CrashStore local(Path root) throws IOException {
        Files.createDirectories(root);
        return new CrashStore(root.toString(), new HashMap<>(Map.of("POWDB_BACKUP_LEASE_TTL", LEASE_TTL)),
                new Repository(new LocalBlobStore(root), ""), root);
    }

    static CrashStore s3(S3ProxyServer server, String prefix) {
        Map<String, String> env = new HashMap<>(Map.of(
                "POWDB_BACKUP_LEASE_TTL", LEASE_TTL,
                "POWDB_BACKUP_S3_ENDPOINT", server.endpoint().toString(),
                "POWDB_BACKUP_S3_REGION", "us-east-1",
                // The smallest part size, so that big objects go up in several parts and a kill can cut one.
                "POWDB_BACKUP_S3_PART_SIZE_MIB", "5",
                "AWS_ACCESS_KEY_ID", S3ProxyServer.ACCESS_KEY,
                "AWS_SECRET_ACCESS_KEY", S3ProxyServer.SECRET_KEY));
        Repository repository = new Repository(new S3BlobStore(server.config().build()), prefix + "/");
        return new CrashStore("s3://" + S3ProxyServer.BUCKET + "/" + prefix, env, repository, null);
    }

    String url() {
        return url;
    }

    /** The environment of a child process using this store. */
    Map<String, String> env() {
        return env;
    }

    /** The same repository, seen from the test. */
    Repository repository() {
        return repository;
    }

    /** How often to list the store to watch a run's progress (see {@link KillMoment#apply}). */
    long progressPollMillis() {
        return localRoot == null ? 15 : 1;
    }

    String kind() {
        return localRoot == null ? "s3" : "local";
    }

    /** Every key of the repository, relative to its prefix. */
    List<String> keys() throws IOException {
        String root = repository.key("");
        List<String> keys = new ArrayList<>();
        for (BlobInfo info : repository.store().listAll(root)) {
            keys.add(info.key().substring(root.length()));
        }
        return keys;
    }

    /** How many keys start with one of the prefixes: the progress of a writer, as the store shows it. */
    int count(String... prefixes) throws IOException {
        int n = 0;
        for (String key : keys()) {
            for (String p : prefixes) {
                if (key.startsWith(p)) {
                    n++;
                    break;
                }
            }
        }
        return n;
    }

    /** Files a killed writer left on a local store that no listing shows (its temp area); none on S3. */
    List<Path> hiddenLeftovers() throws IOException {
        if (localRoot == null) {
            return List.of();
        }
        Path temp = localRoot.resolve(".tmp");
        if (!Files.isDirectory(temp)) {
            return List.of();
        }
        try (Stream<Path> files = Files.list(temp)) {
            return files.toList();
        }
    }

    @Override
    public void close() throws IOException {
        repository.close();
    }
}
