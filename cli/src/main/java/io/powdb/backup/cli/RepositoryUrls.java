package io.powdb.backup.cli;

import io.powdb.backup.crypto.MasterKey;
import io.powdb.backup.repo.Repository;
import io.powdb.backup.store.BlobStores;

import java.io.IOException;
import java.util.Map;

/** Turns a repository URL (path, file:, s3://, gs://) into a repository, with store options from the environment. */
final class RepositoryUrls {
    private RepositoryUrls() {
    }

    static Repository open(String url, Map<String, String> env) throws IOException {
        return open(url, env, null);
    }

    /** @param masterKey the encryption key, or null for none */
    static Repository open(String url, Map<String, String> env, MasterKey masterKey) throws IOException {
        BlobStores.OpenedStore opened = BlobStores.open(BlobStores.parse(url), env);
        return new Repository(opened.store(), opened.keyPrefix(), masterKey);
    }
}
