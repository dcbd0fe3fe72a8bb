package io.powdb.backup.store;

import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.Optional;

/**
 * A store that passes every call to another: tests extend it and override the one call they change (fail
 * deletes, hide modification times, notice a write), so each wrapper says only what it does differently.
 */
public abstract class ForwardingBlobStore implements BlobStore {
    protected final BlobStore delegate;

    protected ForwardingBlobStore(BlobStore delegate) {
        this.delegate = delegate;
    }

    @Override
    public String location() {
        return delegate.location();
    }

    @Override
    public BlobWriter newWriter(String key, WriteMode mode) throws IOException {
        return delegate.newWriter(key, mode);
    }

    @Override
    public InputStream open(String key) throws IOException {
        return delegate.open(key);
    }

    @Override
    public InputStream openRange(String key, long offset, long length) throws IOException {
        return delegate.openRange(key, offset, length);
    }

    @Override
    public Optional<BlobInfo> stat(String key) throws IOException {
        return delegate.stat(key);
    }

    @Override
    public List<BlobInfo> list(String prefix, String startAfter, int limit) throws IOException {
        return delegate.list(prefix, startAfter, limit);
    }

    @Override
    public void delete(String key) throws IOException {
        delegate.delete(key);
    }

    @Override
    public boolean supportsConditionalCreate() {
        return delegate.supportsConditionalCreate();
    }

    @Override
    public void close() throws IOException {
        delegate.close();
    }
}
