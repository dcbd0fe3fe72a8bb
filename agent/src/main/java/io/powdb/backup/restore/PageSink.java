package io.powdb.backup.restore;

import java.io.IOException;

/** Where assembled heap pages go: a file being restored, or nowhere when only verifying. */
interface PageSink extends AutoCloseable {
    PageSink DISCARD = new PageSink() {
        @Override
        public void write(long index, byte[] page) {
        }

        @Override
        public void finish() {
        }

        @Override
        public void close() {
        }
    };

    void write(long index, byte[] page) throws IOException;

    /** Flushes and makes the written pages durable. */
    void finish() throws IOException;

    @Override
    void close() throws IOException;
}
