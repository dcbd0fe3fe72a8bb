package io.powdb.backup.cli;

import io.powdb.backup.repo.Repository;
import io.powdb.backup.store.local.LocalBlobStore;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.util.Map;

/** Turns a repository URL into a repository: a path or file: URL is a local store, the whole directory. */
final class RepositoryUrls {
    private RepositoryUrls() {
    }

    static Repository open(String url, Map<String, String> env) throws IOException {
        if (url.isBlank()) {
            throw new IllegalArgumentException("empty repository URL");
        }
        if (url.startsWith("file:")) {
            return new Repository(new LocalBlobStore(Path.of(URI.create(url))), "");
        }
        int scheme = url.indexOf("://");
        if (scheme > 0) {
            throw new IllegalArgumentException("unsupported repository URL scheme in '" + url
                    + "': use a path, file:/path, s3://bucket/prefix or gs://bucket/prefix");
        }
        return new Repository(new LocalBlobStore(Path.of(url)), "");
    }
}
